/**
 * pyOCNI's JSON dialect normalised into GFD.226 before schema validation. Pure functions on parsed
 * JSON: they never mutate their input and leave shapes they do not recognise alone, so that schema
 * validation reports them. What is rewritten:
 *
 * - Type ids and schemes with whitespace (`"http: //schemas.ogf.org/occi/infrastructure#compute"`):
 *   all whitespace removed (a type id never contains any).
 * - Nested entity attributes (`{"occi":{"compute":{"cores":2}}}` → `{"occi.compute.cores":2}`).
 *   Rule: flat GFD.226 names always contain a dot, so a top-level key WITH a dot is a flat name and its
 *   value is kept as is (object values such as `"com.example.x": {"mykey":"myvalue"}` survive). A
 *   top-level key WITHOUT a dot whose value is a non-empty plain object is pyOCNI nesting: it is
 *   flattened recursively, joining keys with '.', descending into every non-empty plain object
 *   (arrays, scalars and empty objects are leaves). Other dot-less keys (action parameters such as
 *   `method`) are kept. A name produced twice with different values is a ParseError.
 * - Nested attribute descriptions of categories: a plain object is a description (not a namespace
 *   level) when it is empty, holds no plain object, has one of mutable/required (boolean) or
 *   type/description (string), or has description keys only (see isDescription). Unknown
 *   description keys (pyOCNI `minimum`/`maximum`) are dropped. A `pattern` string (ERE) becomes the JSON schema `{"type":"string","pattern":…}` (just
 *   `{"pattern":…}` for non-string types); `"type":"integer"` becomes `"number"` with pattern
 *   `{"type":"integer"}`.
 * - `related` → `parent` (kind; at most one) or `depends` (mixin).
 * - Entity `actions` arrays are dropped (pyOCNI `{title, href, category}` objects, or echoed ids).
 * - Link `source`/`target` given as a plain string → `{location: …}`.
 * - Action invocation `{"actions":[{term, scheme}]}` → `{"action": scheme+term}`.
 * - Category references given as `{term, scheme, …}` objects → type id strings.
 */
import { ParseError } from '../errors';
import type { CategoryClass } from '../model/types';
import { isPlainObject, pointer, showValue, type JsonObject } from './json-body';

const DESCRIPTION_KEYS = ['mutable', 'required', 'type', 'pattern', 'default', 'description'] as const;

/** Removes all whitespace from a type id or scheme; non-strings are returned unchanged. */
export function normaliseTypeId(value: unknown): unknown {
  return typeof value === 'string' ? value.replace(/\s+/g, '') : value;
}

function normaliseTypeIds(value: unknown): unknown {
  return Array.isArray(value) ? value.map(normaliseTypeId) : value;
}

function has(o: JsonObject, key: string): boolean {
  return Object.hasOwn(o, key);
}

/** A copy of `o` with own-property semantics; `__proto__` keys are refused so no later assignment can touch a prototype. */
function copy(o: JsonObject, path: string): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) define(out, k, v, path);
  return out;
}

function define(target: JsonObject, key: string, value: unknown, path: string): void {
  if (key === '__proto__') throw new ParseError(`${pointer(path, key)}: the member name __proto__ is not allowed`);
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => has(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** Flattens pyOCNI's nested entity attributes (rule in the module comment). Non-objects are returned unchanged. */
export function flattenEntityAttributes(attributes: unknown, path: string): unknown {
  if (!isPlainObject(attributes)) return attributes;
  const out: JsonObject = {};
  const put = (name: string, value: unknown): void => {
    if (has(out, name) && !jsonEqual(out[name], value)) {
      throw new ParseError(
        `${pointer(path, name)}: attribute given twice (nested and flat) with different values ${showValue(out[name])} and ${showValue(value)}`,
      );
    }
    define(out, name, value, path);
  };
  const walk = (prefix: string, node: JsonObject): void => {
    for (const [key, value] of Object.entries(node)) {
      const name = `${prefix}.${key}`;
      if (isPlainObject(value) && Object.keys(value).length > 0) walk(name, value);
      else put(name, value);
    }
  };
  for (const [key, value] of Object.entries(attributes)) {
    if (!key.includes('.') && isPlainObject(value) && Object.keys(value).length > 0) walk(key, value);
    else put(key, value);
  }
  return out;
}

const isDescriptionKey = (k: string): boolean => (DESCRIPTION_KEYS as readonly string[]).includes(k);

/**
 * Whether a plain object inside a category's `attributes` is one attribute's description (otherwise
 * it is a level of pyOCNI nesting): it is empty, or holds no plain object, or has a description key
 * with a scalar value of the right kind (mutable/required boolean, type/description string), or has
 * description keys only. So `{"type": {…}, "name": {…}}` is a nesting level holding attributes `type`
 * and `name`, while `{"type": {…}}` alone is read as a (bad) description: use the flat form there.
 */
function isDescription(node: JsonObject): boolean {
  const keys = Object.keys(node);
  if (keys.length === 0 || !Object.values(node).some(isPlainObject)) return true;
  const typed =
    typeof node.mutable === 'boolean' ||
    typeof node.required === 'boolean' ||
    typeof node.type === 'string' ||
    typeof node.description === 'string';
  return typed || keys.every(isDescriptionKey);
}

/** Flattens nested attribute descriptions and normalises each description (rules in the module comment). */
export function flattenAttributeDescriptions(attributes: unknown, path: string): unknown {
  if (!isPlainObject(attributes)) return attributes;
  const out: JsonObject = {};
  const walk = (prefix: string, node: JsonObject): void => {
    for (const [key, value] of Object.entries(node)) {
      const name = prefix === '' ? key : `${prefix}.${key}`;
      if (isPlainObject(value) && !isDescription(value)) {
        walk(name, value);
        continue;
      }
      if (has(out, name)) throw new ParseError(`${pointer(path, name)}: attribute described twice`);
      define(out, name, isPlainObject(value) ? normaliseDescription(value, pointer(path, name)) : value, path);
    }
  };
  walk('', attributes);
  return out;
}

/** Keeps only the GFD.226 description keys; converts pyOCNI's ERE `pattern` string and the `integer` type. */
export function normaliseDescription(description: JsonObject, path: string): JsonObject {
  const out: JsonObject = {};
  for (const key of DESCRIPTION_KEYS) if (has(description, key)) out[key] = description[key];
  if (typeof out.pattern === 'string') {
    const ere = out.pattern;
    try {
      new RegExp(ere, 'u');
    } catch (e) {
      throw new ParseError(`${path}/pattern: not a valid regular expression ${showValue(ere)} (${(e as Error).message})`);
    }
    out.pattern = out.type === undefined || out.type === 'string' ? { type: 'string', pattern: ere } : { pattern: ere };
  }
  if (out.type === 'integer') {
    out.type = 'number';
    if (out.pattern === undefined) out.pattern = { type: 'integer' };
    else if (isPlainObject(out.pattern) && out.pattern.type === undefined) out.pattern = { ...out.pattern, type: 'integer' };
  }
  return out;
}

function normaliseEnd(value: unknown): unknown {
  if (typeof value === 'string') return { location: value };
  if (isPlainObject(value) && has(value, 'kind')) return { ...value, kind: normaliseTypeId(value.kind) };
  return value;
}

/** One resource or link (inline links included). */
export function normaliseEntity(entity: unknown, path: string): unknown {
  if (!isPlainObject(entity)) return entity;
  const out = copy(entity, path);
  if (has(out, 'kind')) out.kind = normaliseTypeId(out.kind);
  if (has(out, 'mixins')) out.mixins = normaliseTypeIds(out.mixins);
  if (has(out, 'rel')) out.rel = normaliseTypeId(out.rel);
  if (Array.isArray(out.actions)) delete out.actions;
  if (has(out, 'attributes')) out.attributes = flattenEntityAttributes(out.attributes, pointer(path, 'attributes'));
  if (has(out, 'source')) out.source = normaliseEnd(out.source);
  if (has(out, 'target')) out.target = normaliseEnd(out.target);
  if (Array.isArray(out.links)) {
    const links = out.links;
    out.links = links.map((l, i) => normaliseEntity(l, pointer(pointer(path, 'links'), i)));
  }
  return out;
}

/** An entity body: one entity or a `{resources, links}` collection. */
export function normaliseEntityCollection(body: JsonObject): JsonObject {
  const out = copy(body, '');
  for (const key of ['resources', 'links']) {
    const list = out[key];
    if (Array.isArray(list)) out[key] = list.map((e, i) => normaliseEntity(e, pointer(`/${key}`, i)));
  }
  return out;
}

/** One category definition of a known (or guessed) class. */
export function normaliseCategory(category: unknown, cls: CategoryClass | undefined, path: string): unknown {
  if (!isPlainObject(category)) return category;
  const out = copy(category, path);
  for (const key of ['scheme', 'parent']) if (has(out, key)) out[key] = normaliseTypeId(out[key]);
  for (const key of ['depends', 'applies', 'actions']) if (has(out, key)) out[key] = normaliseTypeIds(out[key]);
  if (has(out, 'related') && (cls === 'kind' || cls === 'mixin')) {
    const related = normaliseTypeIds(typeof out.related === 'string' ? [out.related] : out.related);
    const target = cls === 'kind' ? 'parent' : 'depends';
    if (has(out, target)) {
      throw new ParseError(`${pointer(path, 'related')} and ${pointer(path, target)}: give only one of them`);
    }
    if (!Array.isArray(related)) {
      throw new ParseError(`${pointer(path, 'related')}: must be an array of type ids (got ${showValue(out.related)})`);
    }
    if (cls === 'kind') {
      if (related.length > 1) {
        throw new ParseError(`${pointer(path, 'related')}: a kind has at most one parent (got ${showValue(related)})`);
      }
      if (related.length === 1) out.parent = related[0];
    } else {
      out.depends = related;
    }
    delete out.related;
  }
  if (has(out, 'attributes')) out.attributes = flattenAttributeDescriptions(out.attributes, pointer(path, 'attributes'));
  return out;
}

export const CATEGORY_COLLECTIONS = [
  ['kinds', 'kind'],
  ['mixins', 'mixin'],
  ['actions', 'action'],
] as const;

/** A `{kinds, mixins, actions}` body of category definitions. */
export function normaliseCategoryCollection(body: JsonObject): JsonObject {
  const out = copy(body, '');
  for (const [key, cls] of CATEGORY_COLLECTIONS) {
    const list = out[key];
    if (Array.isArray(list)) out[key] = list.map((c, i) => normaliseCategory(c, cls, pointer(`/${key}`, i)));
  }
  return out;
}

/** A `{kinds, mixins, actions}` body of references: objects with term+scheme become type id strings. */
export function normaliseCategoryRefs(body: JsonObject): JsonObject {
  const out = copy(body, '');
  for (const [key] of CATEGORY_COLLECTIONS) {
    const list = out[key];
    if (!Array.isArray(list)) continue;
    out[key] = list.map((item: unknown, i) => {
      if (!isPlainObject(item)) return normaliseTypeId(item);
      if (typeof item.term !== 'string' || typeof item.scheme !== 'string') {
        throw new ParseError(
          `${pointer(`/${key}`, i)}: a category reference is a type id string or an object with string members term and scheme`,
        );
      }
      return `${String(normaliseTypeId(item.scheme))}${item.term.trim()}`;
    });
  }
  return out;
}

/** An action invocation; pyOCNI's `{"actions":[{term, scheme}]}` becomes `{"action": id}`. */
export function normaliseActionInvocation(body: JsonObject): JsonObject {
  const out = copy(body, '');
  if (has(out, 'actions')) {
    if (has(out, 'action')) throw new ParseError('/action and /actions: give only one of them');
    const list = out.actions;
    if (!Array.isArray(list)) throw new ParseError(`/actions: must be an array (got ${showValue(list)})`);
    if (list.length > 1) throw new ParseError(`/actions: one action at a time (got ${list.length})`);
    if (list.length === 1) {
      const item: unknown = list[0];
      if (typeof item === 'string') out.action = item;
      else if (isPlainObject(item) && typeof item.term === 'string' && typeof item.scheme === 'string') {
        out.action = `${String(normaliseTypeId(item.scheme))}${item.term.trim()}`;
      } else {
        throw new ParseError(`/actions/0: must be an action type id or an object with string members term and scheme`);
      }
    }
    delete out.actions;
  }
  if (has(out, 'action')) out.action = normaliseTypeId(out.action);
  if (has(out, 'attributes')) out.attributes = flattenEntityAttributes(out.attributes, '/attributes');
  return out;
}

/** Trims location strings (pyOCNI's listing example has `" http://…"`). */
export function normaliseLocations(list: unknown): unknown {
  return Array.isArray(list) ? list.map((l: unknown) => (typeof l === 'string' ? l.trim() : l)) : list;
}
