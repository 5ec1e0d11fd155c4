/**
 * The grammar shared by the text renderings (GFD.229 / GFD.185 §3.5): quote-aware list splitting,
 * `key=value` parameters, RFC 7230 quoted-strings, typed attribute values, and safe output quoting.
 * Every syntax error is a ParseError whose message names the header and the offending value.
 */
import { ParseError } from '../errors';
import { splitTypeId, type AttributeValue, type TypeId } from '../model/types';

/** The four OCCI text headers under their canonical (output) names. */
export type OcciHeader = 'Category' | 'Link' | 'X-OCCI-Attribute' | 'X-OCCI-Location';

/**
 * Request header names accepted for each canonical header, lower-case, in reading order.
 * rOCCI emits `X-OCCI-Category`/`X-OCCI-Link` (spec §6.8). `Location` is deliberately absent: in a
 * request it is not an OCCI header, and Node keeps only the first of repeated `Location` headers.
 */
export const HEADER_VARIANTS: Readonly<Record<OcciHeader, readonly string[]>> = {
  Category: ['category', 'x-occi-category'],
  Link: ['link', 'x-occi-link'],
  'X-OCCI-Attribute': ['x-occi-attribute'],
  'X-OCCI-Location': ['x-occi-location'],
};

export const OCCI_HEADERS: readonly OcciHeader[] = ['Category', 'Link', 'X-OCCI-Attribute', 'X-OCCI-Location'];

/** The canonical name of an OCCI text header (case-insensitive), or undefined for any other name. */
export function canonicalHeader(name: string): OcciHeader | undefined {
  const lower = name.trim().toLowerCase();
  return OCCI_HEADERS.find((h) => HEADER_VARIANTS[h].includes(lower));
}

/** 1.2 term and attribute-name charset (1.1's lower-case-only rule is a subset). */
export const TERM_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const ATTRIBUTE_NAME_RE = TERM_RE;
/** RFC 7230 tchar: what a parameter key may be made of. */
const TCHAR_RE = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$/;

/** A value as it appears in an error message: quoted, and cut short so a huge header cannot flood logs. */
export function describe(value: string): string {
  const cut = value.length > 200 ? value.slice(0, 200) + '…' : value;
  return JSON.stringify(cut);
}

export function fail(header: string, problem: string, value: string): never {
  throw new ParseError(`${header}: ${problem} in ${describe(value)}`);
}

/** Reads the quoted-string starting at `start` (which must be '"'); unescapes RFC 7230 quoted-pairs. */
export function readQuoted(text: string, start: number, header: string, whole = text): { value: string; end: number } {
  let out = '';
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      if (i + 1 >= text.length) break;
      out += text[++i];
    } else if (c === '"') {
      return { value: out, end: i + 1 };
    } else {
      out += c;
    }
  }
  return fail(header, 'unterminated quoted-string', whole);
}

/**
 * Splits on `sep` outside quoted-strings (honouring `\"`) and, when `angle` is set, outside `<…>`
 * (a Link target or location may contain ',' or ';'). Elements are trimmed; empty ones are dropped,
 * as RFC 7230 §7 asks of list recipients.
 */
export function splitOutside(value: string, sep: ',' | ';', header: string, angle = false): string[] {
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
    } else if (inAngle) {
      if (c === '>') inAngle = false;
    } else if (c === '"') {
      inQuote = true;
    } else if (c === '<' && angle) {
      inAngle = true;
    } else if (c === sep) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (inQuote) fail(header, 'unterminated quoted-string', value);
  if (inAngle) fail(header, "unterminated '<'", value);
  out.push(value.slice(start).trim());
  return out.filter((e) => e !== '');
}

/** One header value (Node joins repeated headers with ", ") split into its list elements. */
export function splitList(value: string, header: string, angle = false): string[] {
  return splitOutside(value, ',', header, angle);
}

export interface Param {
  key: string;
  value: string;
  quoted: boolean;
}

/**
 * Parses `; key=value; key="value" …`. Lenient where the spec's own examples are sloppy (§6.10–11):
 * a missing ';' between parameters, trailing ';', and the 1.1 `"class=kind"` form. A bare value runs
 * to the next whitespace or ';' (an unquoted Link `category=` holds ':' and '/', which are no tchars).
 */
export function parseParams(text: string, header: string, whole = text): Param[] {
  const params: Param[] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  while (i < text.length) {
    while (i < text.length && (/\s/.test(text[i]) || text[i] === ';')) i++;
    if (i >= text.length) break;
    if (text[i] === '"') {
      const q = readQuoted(text, i, header, whole);
      if (!/^\s*[^\s="]+\s*=/.test(q.value)) fail(header, `unexpected quoted-string "${q.value}"`, whole);
      params.push(...parseParams(q.value, header, whole));
      i = q.end;
      continue;
    }
    const keyStart = i;
    while (i < text.length && TCHAR_RE.test(text[i])) i++;
    const key = text.slice(keyStart, i);
    if (key === '') fail(header, `unexpected character '${text[i]}'`, whole);
    skipSpace();
    if (text[i] !== '=') fail(header, `parameter '${key}' has no '='`, whole);
    i++;
    skipSpace();
    if (text[i] === '"') {
      const q = readQuoted(text, i, header, whole);
      params.push({ key, value: q.value, quoted: true });
      i = q.end;
    } else {
      const valueStart = i;
      while (i < text.length && !/[\s;"]/.test(text[i])) i++;
      const value = text.slice(valueStart, i);
      if (value === '') fail(header, `parameter '${key}' has no value`, whole);
      params.push({ key, value, quoted: false });
    }
  }
  return params;
}

/** Parameters by key; a key given twice is ambiguous and rejected. */
export function paramMap(params: readonly Param[], header: string, whole: string): Map<string, Param> {
  const map = new Map<string, Param>();
  for (const p of params) {
    if (map.has(p.key)) fail(header, `parameter '${p.key}' given twice`, whole);
    map.set(p.key, p);
  }
  return map;
}

/**
 * Types a value: quoted → string; bare int/float → number; true/false → boolean; any other bare
 * token → string (spec §6.12: examples send `hostname=foobar`). The category manager coerces further.
 */
export function typedValue(raw: string, quoted: boolean): AttributeValue {
  if (quoted) return raw;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (INT_RE.test(raw) || FLOAT_RE.test(raw)) return Number(raw);
  return raw;
}

/** Parses one `X-OCCI-Attribute` element `name=value` (a trailing ';' is tolerated, spec §6.11). */
export function parseAttribute(element: string, header = 'X-OCCI-Attribute'): [string, AttributeValue] {
  const eq = element.indexOf('=');
  if (eq < 0) fail(header, "attribute has no '='", element);
  const name = element.slice(0, eq).trim();
  if (!ATTRIBUTE_NAME_RE.test(name)) fail(header, `bad attribute name '${name}'`, element);
  const rest = element.slice(eq + 1).trim();
  if (rest.startsWith('"')) {
    const q = readQuoted(rest, 0, header, element);
    if (!/^[\s;]*$/.test(rest.slice(q.end))) fail(header, `text after the closing quote of '${name}'`, element);
    return [name, q.value];
  }
  const bare = rest.replace(/[\s;]+$/, '');
  if (bare === '') fail(header, `attribute '${name}' has no value`, element);
  if (/[\s;"\\]/.test(bare)) fail(header, `bad unquoted value of '${name}' (quote it)`, element);
  return [name, typedValue(bare, false)];
}

/** Validates a `scheme#term` type identifier (rel, actions, Link category). */
export function checkTypeId(id: string, header: string, whole: string): TypeId {
  const { scheme, term } = splitTypeId(id);
  if (scheme === '' || !TERM_RE.test(term) || /[\s"<>]/.test(scheme)) {
    fail(header, `bad type identifier '${id}' (expected scheme#term)`, whole);
  }
  return id;
}

/** A scheme is a URI ending with '#' (GFD.221: type identifier = scheme + term). */
export function checkScheme(scheme: string, header: string, whole: string): string {
  if (scheme === '' || /[\s"<>]/.test(scheme)) fail(header, `bad scheme '${scheme}'`, whole);
  if (!scheme.endsWith('#')) fail(header, `scheme '${scheme}' does not end with '#'`, whole);
  return scheme;
}

/** A URI-reference as a location or link target: non-empty, no whitespace, quotes or angle brackets. */
export function checkUri(uri: string, header: string, whole: string, what = 'location'): string {
  if (uri === '' || /[\s"<>]/.test(uri)) fail(header, `bad ${what} '${uri}'`, whole);
  return uri;
}

// ---- output ---------------------------------------------------------------------------------------

/**
 * Makes text safe for one header line or one body line: CR, LF and other control characters become
 * a space, so a title holding "\r\nX-Evil: 1" cannot inject a header or a line. Lossy by design.
 */
export function sanitize(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\r\n|[\x00-\x08\x0a-\x1f\x7f]/g, ' ');
}

/** An RFC 7230 quoted-string: `\` and `"` escaped, control characters replaced (see sanitize). */
export function quote(text: string): string {
  return '"' + sanitize(text).replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

/**
 * An attribute value as text: strings (and enums) quoted; finite numbers and booleans bare; arrays and
 * objects as a JSON string inside quotes, as rOCCI does (text has no List/Hash syntax, spec §6.20).
 */
export function renderValue(value: AttributeValue): string {
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : quote(String(value));
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return quote(JSON.stringify(value));
}

export function renderAttribute(name: string, value: AttributeValue): string {
  return `${name}=${renderValue(value)}`;
}

/**
 * Header values travel as bytes; Node reads and writes them as latin1 strings. We put UTF-8 on the
 * wire (what curl and most clients send and expect) and, reading, decode UTF-8 when the bytes are
 * valid UTF-8, else keep them as latin1. Characters above U+00FF would otherwise make Node throw.
 */
export function toHeaderBytes(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
}

export function fromHeaderBytes(text: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(text) || /[^\x00-\xff]/.test(text)) return text;
  const decoded = Buffer.from(text, 'latin1').toString('utf8');
  return Buffer.from(decoded, 'utf8').toString('latin1') === text ? decoded : text;
}
