/**
 * Content negotiation: the renderer from `Accept` (text/plain when absent or `*\/*`, 406 when nothing
 * fits), the parser from `Content-Type` (415 when unknown), and the client's OCCI version (501 if higher).
 */
import type { Context } from 'koa';
import { BadRequest, NotAcceptable, NotImplemented, UnsupportedMediaType } from '../errors';
import { occiJson } from '../rendering/occi-json';
import type { Parser, Renderer } from '../rendering/rendering';
import { textOcci } from '../rendering/text-occi';
import { textPlain } from '../rendering/text-plain';
import { uriList } from '../rendering/uri-list';

export const OCCI_VERSION = '1.2';

/** Offered media types, in order of preference for `*\/*` (text/plain first, as GFD.185 requires). */
const OFFERED: ReadonlyArray<[string, Renderer]> = [
  ['text/plain', textPlain],
  ['text/occi', textOcci],
  ['application/occi+json', occiJson],
  ['application/json', occiJson],
  ['text/occi+plain', textPlain],
  ['text/uri-list', uriList],
];
export const ACCEPTED_TYPES = OFFERED.map(([t]) => t).join(', ');

export function chooseRenderer(ctx: Context): Renderer {
  const accept = ctx.get('Accept');
  if (!accept.trim()) return textPlain;
  const best = ctx.accepts(OFFERED.map(([t]) => t));
  if (best === false) throw new NotAcceptable(`cannot render ${JSON.stringify(accept)}; this server offers ${ACCEPTED_TYPES}`);
  return OFFERED.find(([t]) => t === best)![1];
}

/**
 * text/uri-list renders listings only (GFD.185 §3.6.6): a request whose answer is an entity or categories
 * is refused with 400 BEFORE it acts, so a client never gets an error for a change that was made.
 */
export function requireListing(renderer: Renderer, what: string): void {
  if (renderer === uriList) throw new BadRequest(`text/uri-list can only render a listing of locations, not ${what}; ask for text/plain, text/occi or application/occi+json`);
}

/** The renderer for an error body: the negotiated one when usable, else text/plain. */
export function errorRenderer(ctx: Context): Renderer {
  try {
    const r = chooseRenderer(ctx);
    return r === uriList ? textPlain : r;
  } catch {
    return textPlain;
  }
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
