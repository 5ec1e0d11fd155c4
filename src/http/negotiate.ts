/**
 * Content negotiation: the renderer from `Accept` (text/plain when absent or `*\/*`, 406 when nothing
 * fits; matched on type/subtype, parameters other than q ignored), the media type the answer is named
 * (the one asked for, aliases included), the parser from `Content-Type` (415 when unknown), and the
 * client's OCCI version (501 if higher).
 */
import type { Context } from 'koa';
import { BadRequest, NotAcceptable, NotImplemented, UnsupportedMediaType } from '../errors';
import { occiJson } from '../rendering/occi-json';
import type { Parser, Renderer } from '../rendering/rendering';
import { textOcci } from '../rendering/text-occi';
import { textPlain } from '../rendering/text-plain';
import { uriList } from '../rendering/uri-list';

export const OCCI_VERSION = '1.2';

/**
 * Offered media types, in order of preference for `*\/*` (text/plain first, as GFD.185 requires). An alias
 * (application/json, text/occi+plain) is rendered by its family's renderer and answered under the name asked for.
 */
const OFFERED: ReadonlyArray<[string, Renderer]> = [
  ['text/plain', textPlain],
  ['text/occi', textOcci],
  ['application/occi+json', occiJson],
  ['application/json', occiJson],
  ['text/occi+plain', textPlain],
  ['text/uri-list', uriList],
];
export const ACCEPTED_TYPES = OFFERED.map(([t]) => t).join(', ');

/** A media type the client accepts and the renderer that produces it. */
export interface Choice {
  mediaType: string;
  renderer: Renderer;
}

interface Range {
  type: string;
  q: number;
  index: number;
}

/** Splits on `sep` outside double quotes (a quoted parameter value may hold `,` or `;`). */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted && c === '\\') {
      cur += c + (text[++i] ?? '');
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * The media ranges of an Accept header with their q. Parameters other than q (charset, version) do not
 * narrow a range (RFC 7231 §5.3.2 leaves their meaning to the type; none of the offered types defines any).
 * Ranges that do not parse, and q values that are not numbers, are left out, as before.
 */
function parseAccept(accept: string): Range[] {
  const out: Range[] = [];
  splitOutsideQuotes(accept, ',').forEach((part, index) => {
    const [range = '', ...params] = splitOutsideQuotes(part, ';');
    const type = range.trim().toLowerCase();
    if (!/^[^\s/]+\/[^\s/]+$/.test(type)) return;
    let q = 1;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'q') continue;
      q = Number.parseFloat(p.slice(eq + 1).trim());
      break;
    }
    if (Number.isNaN(q)) return;
    out.push({ type, q: Math.min(q, 1), index });
  });
  return out;
}

/** How closely `range` names `type`: 2 exactly, 1 `text/*`, 0 `*\/*`, -1 not at all. */
function specificity(range: string, type: string): number {
  if (range === type) return 2;
  if (range === '*/*') return 0;
  return range.endsWith('/*') && type.startsWith(range.slice(0, -1)) ? 1 : -1;
}

/**
 * Every offered type the client accepts, best first: by q, then how specifically the client named it,
 * then the client's order, then ours. Empty Accept: text/plain. 406 when nothing fits.
 */
export function acceptableChoices(accept: string): Choice[] {
  if (!accept.trim()) return [{ mediaType: 'text/plain', renderer: textPlain }];
  const ranges = parseAccept(accept);
  const scored: Array<Choice & { q: number; s: number; index: number; order: number }> = [];
  OFFERED.forEach(([mediaType, renderer], order) => {
    // The most specific range naming a type decides its q (RFC 7231 §5.3.2).
    let best: Range | undefined;
    let bestS = -1;
    for (const r of ranges) {
      const s = specificity(r.type, mediaType);
      if (s > bestS || (s === bestS && s >= 0 && best && r.q > best.q)) [best, bestS] = [r, s];
    }
    if (best && best.q > 0) scored.push({ mediaType, renderer, q: best.q, s: bestS, index: best.index, order });
  });
  if (!scored.length) throw new NotAcceptable(`cannot render ${JSON.stringify(accept)}; this server offers ${ACCEPTED_TYPES}`);
  scored.sort((a, b) => b.q - a.q || b.s - a.s || a.index - b.index || a.order - b.order);
  return scored.map(({ mediaType, renderer }) => ({ mediaType, renderer }));
}

/** The media type each request is answered in, by renderer (the error path may answer in another). */
const answers = new WeakMap<Context, Choice>();

function answerIn(ctx: Context, choice: Choice): Renderer {
  answers.set(ctx, choice);
  return choice.renderer;
}

/** The Content-Type for a response rendered by `renderer`: the name the client asked for, without parameters. */
export function answerType(ctx: Context, renderer: Renderer): string {
  const chosen = answers.get(ctx);
  return chosen && chosen.renderer === renderer ? chosen.mediaType : renderer.mediaType;
}

/** The client's acceptable choices, best first (406 when none); the first one answers unless replaced. */
export function negotiate(ctx: Context): Choice[] {
  const choices = acceptableChoices(ctx.get('Accept'));
  answerIn(ctx, choices[0]!);
  return choices;
}

const NOT_A_LISTING = (what: string): string =>
  `text/uri-list can only render a listing of locations, not ${what}; ask for text/plain, text/occi or application/occi+json`;

/**
 * The renderer for an answer that is not a listing (an entity, categories). text/uri-list cannot render
 * one (GFD.185 §3.6.6): the client's next acceptable type answers instead, and only when uri-list is all it
 * accepts is the request refused with 400, BEFORE it acts, so a client never gets an error for a change
 * that was made. `exists`, when given, runs first on that path so a missing target is a 404 whatever
 * the rendering.
 */
export async function nonListingRenderer(ctx: Context, choices: readonly Choice[], what: string, exists?: () => Promise<unknown>): Promise<Renderer> {
  const first = choices[0]!;
  if (first.renderer !== uriList) return first.renderer;
  const other = choices.find((c) => c.renderer !== uriList);
  if (other) return answerIn(ctx, other);
  if (exists) await exists();
  throw new BadRequest(NOT_A_LISTING(what));
}

/** The renderer for an error body: the client's best one that can carry a message, else text/plain. */
export function errorRenderer(ctx: Context): Renderer {
  let choices: Choice[] = [];
  try {
    choices = acceptableChoices(ctx.get('Accept'));
  } catch {
    // 406 itself, or a header that fits nothing: text/plain below.
  }
  return answerIn(ctx, choices.find((c) => c.renderer !== uriList) ?? { mediaType: 'text/plain', renderer: textPlain });
}

const PARSERS: Record<string, Parser> = {
  'text/plain': textPlain,
  'text/occi+plain': textPlain,
  'text/occi': textOcci,
  'application/occi+json': occiJson,
  'application/json': occiJson,
};

/**
 * The parser for the request. Without a Content-Type an empty body is read from the headers (text/occi:
 * clients such as the IMS orchestrator's curl send only headers). `text/uri-list` bodies only list
 * locations, so they get a parser whose other methods refuse.
 */
export function chooseParser(ctx: Context, body: string): Parser {
  const raw = ctx.get('Content-Type');
  const type = raw.split(';')[0]!.trim().toLowerCase();
  if (!type) {
    if (body.trim() === '') return textOcci;
    throw new UnsupportedMediaType('a request with a body needs a Content-Type: text/plain, text/occi, application/occi+json or text/uri-list');
  }
  if (type === 'text/uri-list') return uriListParser;
  const p = PARSERS[type];
  if (!p) throw new UnsupportedMediaType(`cannot read a ${type} body; send text/plain, text/occi, application/occi+json or text/uri-list`);
  return p;
}

const onlyLocations = (): never => {
  throw new UnsupportedMediaType('a text/uri-list body can only list entity locations (mixin membership)');
};
const uriListParser: Parser = {
  parseEntities: onlyLocations,
  parseCategories: onlyLocations,
  parseCategoryRefs: onlyLocations,
  parseAction: onlyLocations,
  parseLocations: (input) => uriList.parseLocations(input),
};

/** 501 when the client speaks a newer OCCI than 1.2 (`User-Agent: … OCCI/1.3`). */
export function checkVersion(ctx: Context): void {
  const m = /OCCI\/(\d+)\.(\d+)/i.exec(ctx.get('User-Agent'));
  if (!m) return;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major > 1 || (major === 1 && minor > 2)) {
    throw new NotImplemented(`this server speaks OCCI/${OCCI_VERSION}; the client asked for OCCI/${major}.${minor}`);
  }
}
