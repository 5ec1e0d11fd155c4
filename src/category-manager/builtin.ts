/**
 * The shipped categories (`categories/*.yaml`) and the consistency rules every category set obeys.
 *
 * `loadBuiltinCategories` is the only function here that touches the file system; parsing
 * (`parseCategoryYaml`, `categoriesFromDocument`) and `validateCategoryGraph` are pure, so the latter
 * also checks admin-defined categories. The attribute-definition rules it applies are in
 * attribute-rules.ts, its error (CategoryGraphError) in graph-error.ts.
 */
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { load } from 'js-yaml';
import type { Action, AttributeDef, AttributeDefs, Category, Kind, Mixin, TypeId } from '../model/types';
import { ENTITY_KIND, categoryId } from '../model/types';
import { checkAttributeAgreement, checkAttributes } from './attribute-rules';
import type { AttributeDefFile, CategoryFile } from './category-file-schema';
import { validateCategoryFile } from './category-file-schema';
import { CategoryGraphError } from './graph-error';

// Their users (manager.ts, tests) import these from here.
export {
  RESERVED_ATTRIBUTE_PREFIX,
  RESERVED_SCHEME_BASE,
  checkAttributeAgreement,
  checkCategoryAttributes,
  isReservedAttribute,
  isReservedScheme,
} from './attribute-rules';
export { CategoryGraphError, type GraphRule } from './graph-error';

// --- parsing (pure) ---------------------------------------------------------------------------------

function toAttributeDefs(attrs: Record<string, AttributeDefFile> | undefined): AttributeDefs {
  const out: AttributeDefs = {};
  // structuredClone: YAML aliases (the shared IP regexes) must not leave categories sharing objects.
  for (const [name, a] of Object.entries(attrs ?? {})) {
    const def: AttributeDef = { type: a.type, mutable: a.mutable, required: a.required };
    if (a.default !== undefined) def.default = structuredClone(a.default);
    if (a.pattern !== undefined) def.pattern = structuredClone(a.pattern);
    if (a.description !== undefined) def.description = a.description;
    if (a.perTenant) def.perTenant = true;
    out[name] = def;
  }
  return out;
}

/** Turns a structurally valid category file into categories of origin 'builtin' (kinds, mixins, actions). */
export function categoriesFromFile(doc: CategoryFile): Category[] {
  const kinds = (doc.kinds ?? []).map((k): Kind => ({
    class: 'kind',
    scheme: k.scheme,
    term: k.term,
    ...(k.title !== undefined ? { title: k.title } : {}),
    ...(k.parent !== undefined ? { parent: k.parent } : {}),
    ...(k.location !== undefined ? { location: k.location } : {}),
    ...(k.adminOnly ? { adminOnly: true } : {}),
    ...(k.sharedRead ? { sharedRead: true } : {}),
    attributes: toAttributeDefs(k.attributes),
    actions: [...(k.actions ?? [])],
    origin: 'builtin',
  }));
  const mixins = (doc.mixins ?? []).map((m): Mixin => ({
    class: 'mixin',
    scheme: m.scheme,
    term: m.term,
    ...(m.title !== undefined ? { title: m.title } : {}),
    location: m.location,
    depends: [...(m.depends ?? [])],
    applies: [...(m.applies ?? [])],
    attributes: toAttributeDefs(m.attributes),
    actions: [...(m.actions ?? [])],
    origin: 'builtin',
  }));
  const actions = (doc.actions ?? []).map((a): Action => ({
    class: 'action',
    scheme: a.scheme,
    term: a.term,
    ...(a.title !== undefined ? { title: a.title } : {}),
    attributes: toAttributeDefs(a.attributes),
    origin: 'builtin',
  }));
  return [...kinds, ...mixins, ...actions];
}

/** Checks a parsed document against the category file schema; throws an Error naming `source` and the paths. */
export function categoriesFromDocument(doc: unknown, source: string): Category[] {
  if (doc === null || doc === undefined) return [];
  if (!validateCategoryFile(doc)) {
    const problems = (validateCategoryFile.errors ?? []).slice(0, 5).map((e) => {
      const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : '';
      return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${extra}`;
    });
    throw new Error(`${source}: not a valid category file: ${problems.join('; ')}`);
  }
  return categoriesFromFile(doc);
}

/** Parses one category file's YAML text. A file holding only comments contributes nothing. */
export function parseCategoryYaml(text: string, source: string): Category[] {
  if (text.split('\n').every((l) => /^\s*(#.*)?$/.test(l))) return [];
  let doc: unknown;
  try {
    doc = load(text, { filename: source });
  } catch (e) {
    throw new Error(`${source}: invalid YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  return categoriesFromDocument(doc, source);
}

// --- loading (the one I/O function) -----------------------------------------------------------------

/** Reads every `*.yaml` file of `dir` in name order, and checks the whole set with `validateCategoryGraph`. */
export function loadBuiltinCategories(dir: string): Category[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const all = files.flatMap((f) => parseCategoryYaml(readFileSync(join(dir, f), 'utf8'), f));
  validateCategoryGraph(all);
  return all;
}

// --- the category graph (pure; attribute definitions in attribute-rules.ts) -------------------------

/** OCCI 1.2 term (GFD.229 ABNF `term`); attribute names follow the same rule (attribute-rules.ts). */
export const TERM_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** An absolute URI ending in its only '#'. */
const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s#]*#$/;
/** A path of non-empty segments, starting and ending with '/'. */
const LOCATION_RE = /^\/([^/\s?#]+\/)+$/;

/** Paths the HTTP layer owns (query interface). */
const RESERVED_LOCATIONS = ['/-/', '/.well-known/'];

/** Where a category's id and location must be unique: global, or a tenant's own user mixins. */
function scopeOf(c: Category): string | undefined {
  return c.origin === 'user' && c.tenant !== undefined && c.class === 'mixin' ? c.tenant : undefined;
}

function classOf(c: Category | undefined): string {
  return c ? `a ${c.class}` : 'not defined';
}

/**
 * Throws a CategoryGraphError naming the offending category when the set breaks a rule: scheme or term
 * syntax, a duplicated id or location, a bad or missing location, a kind whose parent is missing or
 * whose parent chain does not reach core#entity, a mixin whose depends/applies name a missing category
 * or one of the wrong class (or loop), an undefined action, a bad attribute name or pattern, an attribute
 * default that does not match its type and pattern, or one attribute defined with different types. User mixins (origin 'user') are scoped to their
 * tenant: they may repeat another tenant's id or location, never a global one. Pure.
 */
export function validateCategoryGraph(categories: readonly Category[]): void {
  const global = new Map<TypeId, Category>();
  const tenants = new Map<string, Map<TypeId, Category>>();
  const globalLocations = new Map<string, TypeId>();
  const tenantLocations = new Map<string, Map<string, TypeId>>();

  for (const c of categories) {
    const id = categoryId(c);
    if (!SCHEME_RE.test(c.scheme)) {
      throw new CategoryGraphError('scheme', id, `scheme "${c.scheme}" must be an absolute URI ending in its only '#'`);
    }
    if (!TERM_RE.test(c.term)) {
      throw new CategoryGraphError('term', id, `term "${c.term}" breaks the OCCI 1.2 charset [A-Za-z0-9][A-Za-z0-9._-]*`);
    }
    const scope = scopeOf(c);
    const own = scope === undefined ? global : (tenants.get(scope) ?? new Map<TypeId, Category>());
    if (scope !== undefined) tenants.set(scope, own);
    if (own.has(id)) throw new CategoryGraphError('duplicate-id', id, 'is defined twice');
    own.set(id, c);
  }
  // A user mixin may not take the id of a global category.
  for (const [, own] of tenants) {
    for (const id of own.keys()) if (global.has(id)) throw new CategoryGraphError('duplicate-id', id, 'is defined twice');
  }

  const resolve = (id: TypeId, from: Category): Category | undefined => {
    const scope = scopeOf(from);
    return global.get(id) ?? (scope !== undefined ? tenants.get(scope)?.get(id) : undefined);
  };

  // Locations.
  for (const c of categories) {
    if (c.class === 'action') continue;
    const id = categoryId(c);
    const location = c.location;
    if (c.class === 'kind' && id === ENTITY_KIND) {
      if (location !== undefined) throw new CategoryGraphError('location', id, 'core#entity is abstract and must have no location');
      continue;
    }
    if (location === undefined) throw new CategoryGraphError('location', id, 'has no location');
    if (!LOCATION_RE.test(location)) {
      throw new CategoryGraphError('location', id, `location "${location}" must start and end with '/' and have no empty segment`);
    }
    if (RESERVED_LOCATIONS.some((r) => location.startsWith(r))) {
      throw new CategoryGraphError('location', id, `location "${location}" is reserved for the query interface`);
    }
    const scope = scopeOf(c);
    const seen = scope === undefined ? globalLocations : (tenantLocations.get(scope) ?? new Map<string, TypeId>());
    if (scope !== undefined) tenantLocations.set(scope, seen);
    const other = seen.get(location) ?? (scope !== undefined ? globalLocations.get(location) : undefined);
    if (other !== undefined) throw new CategoryGraphError('duplicate-location', id, `location ${location} is already that of ${other}`);
    seen.set(location, id);
  }
  for (const [, seen] of tenantLocations) {
    for (const [location, id] of seen) {
      const other = globalLocations.get(location);
      if (other !== undefined) throw new CategoryGraphError('duplicate-location', id, `location ${location} is already that of ${other}`);
    }
  }

  for (const c of categories) {
    const id = categoryId(c);
    if (c.class === 'kind') {
      if (id === ENTITY_KIND) {
        if (c.parent !== undefined) throw new CategoryGraphError('parent-chain', id, 'core#entity must have no parent');
      } else if (c.parent !== undefined) {
        const parent = resolve(c.parent, c);
        if (parent?.class !== 'kind') throw new CategoryGraphError('parent-missing', id, `parent ${c.parent} is ${classOf(parent)}, not a kind`);
      }
    }
    if (c.class === 'mixin') {
      for (const d of c.depends) {
        const dep = resolve(d, c);
        if (dep?.class !== 'mixin') throw new CategoryGraphError('depends', id, `depends on ${d}, which is ${classOf(dep)}, not a mixin`);
      }
      for (const a of c.applies) {
        const target = resolve(a, c);
        if (target?.class !== 'kind') throw new CategoryGraphError('applies', id, `applies to ${a}, which is ${classOf(target)}, not a kind`);
      }
    }
    if (c.class !== 'action') {
      for (const a of c.actions) {
        const action = resolve(a, c);
        if (action?.class !== 'action') throw new CategoryGraphError('action', id, `lists action ${a}, which is ${classOf(action)}, not an action`);
      }
    }
    checkAttributes(c);
  }

  // Global categories agree among themselves; a tenant's user mixins with the global ones and each other.
  const globals = categories.filter((c) => scopeOf(c) === undefined);
  checkAttributeAgreement(globals, []);
  for (const [scope] of tenants) checkAttributeAgreement(categories.filter((c) => scopeOf(c) === scope), globals);

  // Parent chains end at core#entity (direct parents were checked above, so each step resolves to a kind).
  for (const c of categories) {
    if (c.class !== 'kind') continue;
    const id = categoryId(c);
    const seen = new Set<TypeId>();
    let cur: Kind = c;
    while (categoryId(cur) !== ENTITY_KIND) {
      seen.add(categoryId(cur));
      if (cur.parent === undefined) {
        throw new CategoryGraphError('parent-chain', id, `parent chain ends at ${categoryId(cur)} without reaching ${ENTITY_KIND}`);
      }
      if (seen.has(cur.parent)) throw new CategoryGraphError('parent-chain', id, `parent chain loops at ${cur.parent}`);
      cur = resolve(cur.parent, cur) as Kind;
    }
  }

  // Mixin depends graphs are acyclic.
  for (const c of categories) {
    if (c.class !== 'mixin') continue;
    const id = categoryId(c);
    const stack: Mixin[] = [c];
    const seen = new Set<TypeId>();
    while (stack.length) {
      const m = stack.pop() as Mixin;
      for (const d of m.depends) {
        if (d === id) throw new CategoryGraphError('depends', id, `depends on itself through ${categoryId(m)}`);
        if (seen.has(d)) continue;
        seen.add(d);
        stack.push(resolve(d, m) as Mixin);
      }
    }
  }
}
