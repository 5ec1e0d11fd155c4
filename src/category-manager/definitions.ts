/**
 * Turning category definitions from requests into categories, and matching `/-/` filters. Pure.
 */
import { BadRequest } from '../errors';
import type { Category, CategoryCollection, CategoryDefinition, CategoryOrigin, TypeId } from '../model/types';
import { RESOURCE_KIND, categoryId } from '../model/types';

const TERM = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function need(def: CategoryDefinition, what: string): never {
  throw new BadRequest(`category ${def.scheme ?? ''}${def.term ?? ''}: ${what}`);
}

/** Normalises a location to a path that starts and ends with '/'. */
export function normaliseLocation(location: string): string {
  let path = location.trim();
  const m = /^https?:\/\/[^/]+(\/.*)?$/.exec(path);
  if (m) path = m[1] ?? '/';
  if (!path.startsWith('/')) path = '/' + path;
  if (!path.endsWith('/')) path += '/';
  return path;
}

/** A full category from a definition: required fields checked, defaults filled. */
export function categoryFromDefinition(def: CategoryDefinition, origin: CategoryOrigin, tenant?: string): Category {
  if (!def.term) need(def, 'term is required');
  if (!def.scheme) need(def, 'scheme is required');
  if (!TERM.test(def.term)) need(def, `term ${JSON.stringify(def.term)} must match [A-Za-z0-9][A-Za-z0-9._-]*`);
  if (!def.scheme.endsWith('#')) need(def, `scheme ${JSON.stringify(def.scheme)} must end with '#'`);
  const base = {
    scheme: def.scheme,
    term: def.term,
    ...(def.title !== undefined ? { title: def.title } : {}),
    attributes: def.attributes ?? {},
    origin,
    ...(tenant !== undefined ? { tenant } : {}),
  };
  switch (def.class) {
    case 'kind':
      return {
        ...base,
        class: 'kind',
        parent: def.parent ?? RESOURCE_KIND,
        actions: def.actions ?? [],
        ...(def.location ? { location: normaliseLocation(def.location) } : {}),
      };
    case 'mixin':
      if (!def.location) need(def, 'a mixin needs a location');
      return {
        ...base,
        class: 'mixin',
        depends: def.depends ?? [],
        applies: def.applies ?? [],
        actions: def.actions ?? [],
        location: normaliseLocation(def.location),
      };
    case 'action':
      return { ...base, class: 'action' };
    default:
      return need(def, 'class (kind, mixin or action) is required');
  }
}

/** Whether category `c` matches every field a filter definition gives. */
export function matchesFilter(c: Category, f: CategoryDefinition): boolean {
  if (f.class && f.class !== c.class) return false;
  if (f.term && f.term !== c.term) return false;
  if (f.scheme && f.scheme !== c.scheme) return false;
  if (f.title && f.title !== c.title) return false;
  if (f.location && (c.class === 'action' || normaliseLocation(f.location) !== c.location)) return false;
  if (f.attributes) for (const name of Object.keys(f.attributes)) if (!(name in c.attributes)) return false;
  if (f.actions && (c.class === 'action' || !f.actions.every((a) => c.actions.includes(a)))) return false;
  return true;
}

/** The categories of `all` matching any of the filters (an empty filter list matches everything). */
export function filterCategories(all: CategoryCollection, filters: readonly CategoryDefinition[]): CategoryCollection {
  if (filters.length === 0) return all;
  const keep = (c: Category): boolean => filters.some((f) => matchesFilter(c, f));
  return { kinds: all.kinds.filter(keep), mixins: all.mixins.filter(keep), actions: all.actions.filter(keep) };
}

/** `?category=` matches a full type id, or a term alone (MartServer's convention). */
export function filterByQuery(all: CategoryCollection, value: string): CategoryCollection {
  const keep = (c: Category): boolean => categoryId(c) === value || c.term === value;
  return { kinds: all.kinds.filter(keep), mixins: all.mixins.filter(keep), actions: all.actions.filter(keep) };
}

export function idOf(def: CategoryDefinition): TypeId {
  if (!def.term || !def.scheme) throw new BadRequest('a category is identified by its scheme and term; one of them is missing');
  return def.scheme + def.term;
}
