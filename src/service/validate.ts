/**
 * Checking an entity request against the model: which kind and mixins it names, whether they exist
 * and apply, and the typed attributes (unknown refused by name, immutable rules, required, defaults).
 * Pure apart from reading the in-memory category index.
 */
import { BadRequest, Forbidden, NotFound } from '../errors';
import type { CategoryIndex } from '../category-manager/category-index';
import { coerceAttribute, sameValue } from '../model/attributes';
import type { AttributeDefs, Attributes, CategoryRef, Kind, Mixin, TypeId } from '../model/types';
import { CORE_ATTR, INFRA, categoryId } from '../model/types';

export const OCCITAN = 'https://occitan.dev/occi/occitan#';
export const PROVIDER_MIXIN = OCCITAN + 'provider';
export const PROVIDER_ATTR = 'occitan.provider';
export const LEASE_MIXIN = OCCITAN + 'lease';
export const OS_TPL = INFRA + 'os_tpl';
export const RESOURCE_TPL = INFRA + 'resource_tpl';

/** Attributes only the server sets, whatever their definition says. */
const SERVER_SET = new Set<string>([PROVIDER_ATTR, 'occitan.lease.expires']);

/** A `scheme#term` id: an absolute URI scheme ending in '#', then a non-empty term. */
const CATEGORY_ID = /^[A-Za-z][A-Za-z0-9+.-]*:[^#\s]*#[^#\s]+$/;

export interface ResolvedCategories {
  kind?: Kind;
  mixins: Mixin[];
}

/**
 * Sorts the request's categories into one kind and its mixins. A category that does not exist is 404 naming
 * it (OCCI 1.1 HTTP return codes: unknown kind or mixin); one of the wrong class stays a 400.
 */
export function resolveCategories(index: CategoryIndex, tenant: string, refs: readonly CategoryRef[]): ResolvedCategories {
  let kind: Kind | undefined;
  const mixins: Mixin[] = [];
  for (const ref of refs) {
    const c = index.byId(ref.id, tenant);
    if (!c) {
      // An id that cannot name a category (JSON "mixins": ["x"]) is bad syntax, not a missing category.
      if (!CATEGORY_ID.test(ref.id)) throw new BadRequest(`${JSON.stringify(ref.id)} is not a category id: give scheme and term, e.g. http://example.com/tags#term`);
      throw new NotFound(`unknown category ${ref.id}: no kind or mixin of that id exists`);
    }
    if (ref.class && ref.class !== c.class) throw new BadRequest(`category ${ref.id} is a ${c.class}, not a ${ref.class}`);
    if (c.class === 'kind') {
      if (kind && categoryId(kind) !== ref.id) throw new BadRequest(`an entity has exactly one kind; the request names ${categoryId(kind)} and ${ref.id}`);
      kind = c;
    } else if (c.class === 'mixin') {
      if (!mixins.includes(c)) mixins.push(c);
    } else {
      throw new BadRequest(`category ${ref.id} is an action; an entity names a kind and mixins`);
    }
  }
  return { kind, mixins };
}

/** Whether a mixin is a template of the given family (depends on os_tpl or resource_tpl, transitively). */
export function templateFamily(index: CategoryIndex, m: Mixin, tenant: string): TypeId | undefined {
  for (const dep of index.mixinClosure([categoryId(m)], tenant)) {
    const id = categoryId(dep);
    if ((id === OS_TPL || id === RESOURCE_TPL) && id !== categoryId(m)) return id;
  }
  return undefined;
}

/**
 * The values templates newly among `after` (added alone, or replacing another of their family) give: each
 * mutable attribute a template gives a default to (GFD.224: a resource template overrides the resource's
 * own size attributes), except those the request sets (`given`). A template kept or removed changes nothing.
 */
export function templateDefaults(index: CategoryIndex, tenant: string, before: readonly TypeId[], after: readonly TypeId[], given: Attributes, defs: AttributeDefs): Attributes {
  const out: Attributes = {};
  for (const id of after) {
    if (before.includes(id)) continue;
    const m = index.mixin(id, tenant);
    if (!m || !templateFamily(index, m, tenant)) continue;
    for (const [name, own] of Object.entries(m.attributes)) {
      if (own.default === undefined || given[name] !== undefined || SERVER_SET.has(name) || !defs[name]?.mutable) continue;
      out[name] = own.default;
    }
  }
  return out;
}

/**
 * Checks every mixin applies to the kind (403 naming both otherwise: OCCI 1.1 answers Forbidden for a mixin
 * not applicable to the entity's kind), and that no template family appears twice.
 */
export function checkMixins(index: CategoryIndex, tenant: string, kind: Kind, mixins: readonly Mixin[]): void {
  const families = new Map<TypeId, TypeId>();
  for (const m of mixins) {
    if (!index.applies(m, categoryId(kind))) {
      throw new Forbidden(`mixin ${categoryId(m)} does not apply to ${categoryId(kind)} (it applies to ${m.applies.join(', ')})`);
    }
    const fam = templateFamily(index, m, tenant);
    if (fam) {
      const other = families.get(fam);
      if (other) throw new BadRequest(`${other} and ${categoryId(m)} are both ${fam.split('#')[1]} templates; choose one`);
      families.set(fam, categoryId(m));
    }
  }
}

export interface AttributeCheck {
  defs: AttributeDefs;
  /** Current values (update/replace); absent on create. */
  current?: Attributes;
  /** Create: immutable attributes the client may still choose (occi.core.id on POST). */
  clientChosen?: ReadonlySet<string>;
}

/**
 * Validates and coerces the attributes a client sent. Unknown names are 400 (and a value of the wrong type).
 * Immutable attributes (occi-spec.md edge case 23):
 * - create: a server-managed one (immutable and not required: `*.state`, `*.state.message`, the
 *   networkinterface `interface`, occitan.provider) is ignored, as clients copy renderings that carry it
 *   (GFD.185 §3.4.5's inline link sends `state="active"`); an immutable required one is the client's to give.
 * - update: ignored when equal to the current value (clients PUT back what they GET), else 403 naming it.
 */
export function checkAttributes(given: Attributes, check: AttributeCheck): Attributes {
  const out: Attributes = {};
  for (const [name, raw] of Object.entries(given)) {
    // Own names only: `constructor` or `toString` are not attributes of every kind.
    const def = Object.hasOwn(check.defs, name) ? check.defs[name] : undefined;
    if (!def) throw new BadRequest(`unknown attribute ${name}`);
    const value = coerceAttribute(name, raw, def);
    const settable = def.mutable && !SERVER_SET.has(name);
    if (!settable && !check.clientChosen?.has(name)) {
      if (check.current === undefined) {
        if (!def.required || SERVER_SET.has(name)) continue;
      } else {
        const reference = check.current[name];
        if (reference !== undefined && sameValue(reference, value)) continue;
        throw new Forbidden(`attribute ${name} is immutable; it cannot be set to ${JSON.stringify(value)}`);
      }
    }
    out[name] = value;
  }
  return out;
}

/** Applies defaults for attributes not given, then checks required ones are present. */
export function completeAttributes(attrs: Attributes, defs: AttributeDefs): Attributes {
  const out: Attributes = {};
  for (const [name, def] of Object.entries(defs)) {
    if (attrs[name] !== undefined) out[name] = attrs[name]!;
    else if (def.default !== undefined) out[name] = def.default;
  }
  for (const [name, value] of Object.entries(attrs)) if (!(name in out)) out[name] = value;
  const missing = Object.entries(defs)
    .filter(([name, def]) => def.required && out[name] === undefined && !SERVER_SET.has(name) && name !== CORE_ATTR.id)
    .map(([name]) => name);
  if (missing.length) throw new BadRequest(`missing required attribute${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  return out;
}

/** A path segment from a client-chosen id: no slashes, no dot segments, printable. */
export function segmentFromId(id: string): string {
  const seg = id.startsWith('urn:uuid:') ? id.slice('urn:uuid:'.length) : id;
  if (!/^[A-Za-z0-9][A-Za-z0-9._~:@-]{0,199}$/.test(seg)) {
    throw new BadRequest(`occi.core.id ${JSON.stringify(id)} cannot name a path: use letters, digits and . _ ~ : @ - (at most 200)`);
  }
  return seg;
}

/** Checks a client-chosen entity path (PUT): absolute, no trailing '/', no empty or dot segments. */
export function checkEntityPath(path: string): void {
  if (!path.startsWith('/') || path.endsWith('/') || path === '/' || path.includes('//') || /\/\.\.?(\/|$)/.test(path) || path.includes('?') || path.length > 1024) {
    throw new BadRequest(`${JSON.stringify(path)} cannot be an entity location: it must be a path like /compute/web1, not ending in '/'`);
  }
  if (path.startsWith('/-/') || path === '/-' || path.startsWith('/.well-known/')) throw new BadRequest(`${path} is reserved for the query interface`);
  // Locations travel as written in Location, X-OCCI-Location and Link headers: only URI path characters
  // (RFC 3986 pchar, not %-encoded), so no control, space, quote, angle bracket or non-ASCII character,
  // and no ',' (it separates the values of a text/occi header).
  if (!/^[A-Za-z0-9._~!$&'()*+;=:@/-]+$/.test(path)) {
    const shown = JSON.stringify(path).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    throw new BadRequest(`${shown} cannot be an entity location: use letters, digits, '/' and . _ ~ - ! $ & ' ( ) * + ; = : @ only`);
  }
}
