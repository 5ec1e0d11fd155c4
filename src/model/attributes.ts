/**
 * Attribute typing: coercion of what a rendering parsed into the definition's type, and validation
 * against the definition's `pattern` (a JSON Schema). Pure; compiled patterns are cached per definition.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import { ValidationError } from '../errors';
import type { AttributeDef, AttributeValue, JsonValue } from './types';

const ajv = new Ajv({ allErrors: false, strict: false });
const compiled = new WeakMap<object, ValidateFunction>();

function patternValidator(def: AttributeDef): ValidateFunction | undefined {
  if (!def.pattern || Object.keys(def.pattern).length === 0) return undefined;
  let v = compiled.get(def.pattern);
  if (!v) {
    // `$schema` inside a pattern (the spec recommends it) names draft-04; the keywords we use are the same.
    const { $schema: _ignored, ...rest } = def.pattern;
    v = ajv.compile(rest);
    compiled.set(def.pattern, v);
  }
  return v;
}

function show(value: unknown): string {
  const s = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}

function parseJsonString(value: string): JsonValue | undefined {
  try {
    return JSON.parse(value) as JsonValue;
  } catch {
    return undefined;
  }
}

/**
 * Coerces `value` to the definition's type (text renderings quote numbers sometimes; JSON clients send
 * numbers as strings; text has no syntax for arrays and objects, so they arrive as JSON strings), then
 * checks the pattern. Throws ValidationError naming the attribute, the value and what was expected.
 */
export function coerceAttribute(name: string, value: AttributeValue, def: AttributeDef): AttributeValue {
  let out: AttributeValue | undefined;
  switch (def.type) {
    case 'string':
      if (typeof value === 'string') out = value;
      else if (typeof value === 'number' || typeof value === 'boolean') out = String(value);
      break;
    case 'number':
      if (typeof value === 'number' && Number.isFinite(value)) out = value;
      else if (typeof value === 'string' && /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) out = Number(value);
      break;
    case 'boolean':
      if (typeof value === 'boolean') out = value;
      else if (value === 'true' || value === 'false') out = value === 'true';
      break;
    case 'array': {
      const v = typeof value === 'string' ? parseJsonString(value) : value;
      if (Array.isArray(v)) out = v;
      break;
    }
    case 'object': {
      const v = typeof value === 'string' ? parseJsonString(value) : value;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) out = v;
      break;
    }
  }
  if (out === undefined) {
    throw new ValidationError(`attribute ${name}: ${show(value)} is not of type ${def.type}`);
  }
  const validate = patternValidator(def);
  if (validate && !validate(out)) {
    const err = validate.errors?.[0];
    let why = err?.message ?? 'does not match its pattern';
    if (err?.keyword === 'enum') why = `must be one of ${(err.params.allowedValues as unknown[]).map((x) => show(x)).join(', ')}`;
    throw new ValidationError(`attribute ${name}: ${show(out)} ${why}`);
  }
  return out;
}

/** Checks a default value against its own definition (used when categories are defined). */
export function checkDefault(name: string, def: AttributeDef): void {
  if (def.default === undefined) return;
  const coerced = coerceAttribute(name, def.default, def);
  if (typeof coerced !== typeof def.default && !(def.type === 'array' || def.type === 'object')) {
    throw new ValidationError(`attribute ${name}: default ${show(def.default)} is not of type ${def.type}`);
  }
}

/** Deep equality of attribute values (immutable attributes sent back unchanged are accepted). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
