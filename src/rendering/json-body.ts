/**
 * Reading a JSON request body: nesting bounded before anything recurses, syntax errors reported
 * with their character position, and small helpers for JSON pointers and values shown in messages.
 * Pure functions; they throw ParseError (400).
 */
import { ParseError } from '../errors';

/** Deepest nesting of objects/arrays a request body may have (the deepest legitimate body is ~6). */
export const MAX_JSON_DEPTH = 32;

export type JsonObject = { [key: string]: unknown };

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Appends one reference token to a JSON pointer (RFC 6901 escaping), as ajv's `instancePath` does. */
export function pointer(base: string, token: string | number): string {
  return `${base}/${String(token).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** How a path is shown in a message: the root is `/`. */
export function showPath(path: string): string {
  return path === '' ? '/' : path;
}

/** A value as shown in an error message: JSON, cut to 60 characters. */
export function showValue(value: unknown): string {
  let text: string;
  if (value === undefined) text = 'nothing';
  else if (Array.isArray(value)) text = value.length > 3 ? `an array of ${value.length} items` : JSON.stringify(value);
  else text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The JSON type name of a value, for "expected X, got Y" messages. */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * Parses a request body. Empty (or whitespace-only) text is `{}`; a leading BOM is ignored.
 * Nesting deeper than MAX_JSON_DEPTH is refused by a linear scan before JSON.parse runs.
 */
export function parseJsonBody(text: string): unknown {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (source.trim() === '') return {};
  checkDepth(source);
  try {
    return JSON.parse(source) as unknown;
  } catch {
    const { position, reason } = locateJsonError(source);
    throw new ParseError(`invalid JSON at position ${position}: ${reason}`);
  }
}

/** Counts brackets outside strings; throws at the first one that goes past MAX_JSON_DEPTH. */
function checkDepth(text: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth > MAX_JSON_DEPTH) {
        throw new ParseError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels at position ${i}`);
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
}

class SyntaxStop {
  constructor(
    readonly position: number,
    readonly reason: string,
  ) {}
}

/**
 * Finds where and why JSON.parse failed (Node's messages do not always carry a position).
 * Runs only on bodies JSON.parse rejected and whose nesting checkDepth bounded, so its recursion is shallow.
 */
export function locateJsonError(text: string): { position: number; reason: string } {
  let i = 0;
  const found = (at: number): string => (at >= text.length ? 'end of input' : JSON.stringify(text[at]));
  const stop = (reason: string, at: number = i): never => {
    throw new SyntaxStop(at, reason);
  };
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  };
  const string = (): void => {
    const start = i;
    i++;
    while (i < text.length) {
      const c = text.charAt(i);
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        const next = text.charAt(i + 1);
        if (next !== '' && '"\\/bfnrt'.includes(next)) i += 2;
        else if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else stop('invalid escape sequence in string');
        continue;
      }
      if (c < ' ') stop('control character in string (escape it)');
      i++;
    }
    stop('unterminated string', start);
  };
  const number = (): void => {
    const re = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) stop('invalid number');
    i = re.lastIndex;
  };
  const value = (): void => {
    ws();
    const c = text.charAt(i);
    if (c === '{') {
      i++;
      ws();
      if (text.charAt(i) === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text.charAt(i) !== '"') stop(`expected a member name in double quotes, found ${found(i)}`);
        string();
        ws();
        if (text.charAt(i) !== ':') stop(`expected ':' after a member name, found ${found(i)}`);
        i++;
        value();
        ws();
        if (text.charAt(i) === ',') {
          i++;
          continue;
        }
        if (text.charAt(i) === '}') {
          i++;
          return;
        }
        stop(`expected ',' or '}' in an object, found ${found(i)}`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text.charAt(i) === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text.charAt(i) === ',') {
          i++;
          continue;
        }
        if (text.charAt(i) === ']') {
          i++;
          return;
        }
        stop(`expected ',' or ']' in an array, found ${found(i)}`);
      }
    }
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return;
      }
    }
    stop(`unexpected ${found(i)}`);
  };
  try {
    value();
    ws();
    if (i < text.length) stop(`unexpected ${found(i)} after the end of the JSON value`);
    return { position: text.length, reason: 'not valid JSON' };
  } catch (e) {
    if (e instanceof SyntaxStop) return { position: e.position, reason: e.reason };
    throw e;
  }
}
