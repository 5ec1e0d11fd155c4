/**
 * application/occi+json request bodies → the model's request shapes. Each parser: JSON text → pyOCNI
 * dialect normalised (json-dialect.ts) → request schema (schemas/occi-request.json) → conversion.
 * Nothing the service checks (kind present, known attributes, required ones) is checked here, since
 * filters use the same parsers; errors are ParseErrors naming the JSON path and the value.
 */
import { ParseError } from '../errors';
import {
  CORE_ATTR,
  type ActionRequest,
  type AttributeDef,
  type AttributeDefs,
  type AttributeType,
  type AttributeValue,
  type Attributes,
  type CategoryClass,
  type CategoryDefinition,
  type CategoryRef,
  type EntityRef,
  type EntityRequest,
  type JsonValue,
  type LinkRequest,
  type TypeId,
} from '../model/types';
import type { RequestInput } from './rendering';
import { isPlainObject, jsonTypeOf, parseJsonBody, pointer, showValue, type JsonObject } from './json-body';
import {
  CATEGORY_COLLECTIONS,
  jsonEqual,
  normaliseActionInvocation,
  normaliseCategory,
  normaliseCategoryCollection,
  normaliseCategoryRefs,
  normaliseEntity,
  normaliseEntityCollection,
  normaliseLocations,
  normaliseTypeId,
} from './json-dialect';
import { checkRequest } from './occi-json-schema';

// Shapes of the request schema definitions, as they are once `checkRequest` has passed.
interface KindedUri {
  location: string;
  kind?: string;
}
interface EntityBody {
  kind?: string;
  mixins?: string[];
  attributes?: Attributes;
  id?: string;
  title?: string;
  location?: string;
}
interface LinkBody extends EntityBody {
  source?: KindedUri;
  target?: KindedUri;
  rel?: string;
}
interface ResourceBody extends EntityBody {
  summary?: string;
  links?: LinkBody[];
}
interface EntityCollectionBody {
  resources?: ResourceBody[];
  links?: LinkBody[];
}
interface DescriptionBody {
  mutable?: boolean;
  required?: boolean;
  type?: AttributeType;
  pattern?: { [key: string]: JsonValue };
  default?: AttributeValue;
  description?: string;
}
interface CategoryBody {
  term?: string;
  scheme?: string;
  title?: string;
  attributes?: Record<string, DescriptionBody>;
  actions?: string[];
  parent?: string;
  depends?: string[];
  applies?: string[];
  location?: string;
}
type CategoryCollectionBody = Partial<Record<'kinds' | 'mixins' | 'actions', CategoryBody[]>>;
type CategoryIdsBody = Partial<Record<'kinds' | 'mixins' | 'actions', string[]>>;
interface ActionBody {
  action?: string;
  attributes?: Attributes;
}

/** The body as a JSON object (empty body = `{}`). */
function objectBody(input: RequestInput): JsonObject {
  const value = parseJsonBody(input.body);
  if (!isPlainObject(value)) {
    throw new ParseError(`/: the request body must be a JSON object (got ${jsonTypeOf(value)})`);
  }
  return value;
}

const has = (o: JsonObject, key: string): boolean => Object.hasOwn(o, key);

// ---------------------------------------------------------------------------------------------- entities

/** A `{resources, links}` collection: `resources` present, or `links` with no other member. */
function isEntityCollection(body: JsonObject): boolean {
  const keys = Object.keys(body);
  return has(body, 'resources') || (has(body, 'links') && keys.every((k) => k === 'links' || k === 'resources'));
}

function isLinkBody(body: JsonObject): boolean {
  return has(body, 'source') || has(body, 'target');
}

export function parseEntities(input: RequestInput): EntityRequest[] {
  const body = objectBody(input);
  if (isEntityCollection(body)) {
    const c = checkRequest<EntityCollectionBody>('entity_collection', normaliseEntityCollection(body));
    return [
      ...(c.resources ?? []).map((r, i) => resourceRequest(r, pointer('/resources', i))),
      ...(c.links ?? []).map((l, i) => linkEntityRequest(l, pointer('/links', i))),
    ];
  }
  const entity = normaliseEntity(body, '');
  if (isLinkBody(body)) return [linkEntityRequest(checkRequest<LinkBody>('link', entity), '')];
  return [resourceRequest(checkRequest<ResourceBody>('resource', entity), '')];
}

function categoryRefs(e: EntityBody): CategoryRef[] {
  const refs: CategoryRef[] = [];
  if (e.kind !== undefined) refs.push({ id: e.kind, class: 'kind' });
  for (const m of e.mixins ?? []) refs.push({ id: m, class: 'mixin' });
  return refs;
}

/** `attributes` plus the top-level core members under their occi.core.* names; both given and different → error. */
function withCore(e: EntityBody, path: string, core: Array<[string, string, string | undefined]>): Attributes {
  const attributes: Attributes = { ...(e.attributes ?? {}) };
  for (const [member, name, value] of core) {
    if (value === undefined) continue;
    if (Object.hasOwn(attributes, name) && !jsonEqual(attributes[name], value)) {
      throw new ParseError(
        `${path}/${member} (${showValue(value)}) and ${pointer(`${path}/attributes`, name)} (${showValue(attributes[name])}) disagree`,
      );
    }
    attributes[name] = value;
  }
  return attributes;
}

function resourceRequest(r: ResourceBody, path: string): EntityRequest {
  const attributes = withCore(r, path, [
    ['id', CORE_ATTR.id, r.id],
    ['title', CORE_ATTR.title, r.title],
    ['summary', CORE_ATTR.summary, r.summary],
  ]);
  const links = (r.links ?? []).map((l, i) => linkRequest(l, pointer(`${path}/links`, i)));
  return { categories: categoryRefs(r), attributes, links };
}

function linkRequest(l: LinkBody, path: string): LinkRequest {
  const targetKind: [string, string, string | undefined] =
    l.target?.kind !== undefined ? ['target/kind', CORE_ATTR.targetKind, l.target.kind] : ['rel', CORE_ATTR.targetKind, l.rel];
  const attributes = withCore(l, path, [
    ['id', CORE_ATTR.id, l.id],
    ['title', CORE_ATTR.title, l.title],
    ['source/location', CORE_ATTR.source, l.source?.location],
    ['source/kind', CORE_ATTR.sourceKind, l.source?.kind],
    ['target/location', CORE_ATTR.target, l.target?.location],
    targetKind,
  ]);
  const request: LinkRequest = { categories: categoryRefs(l), attributes };
  if (l.location !== undefined) request.location = l.location;
  return request;
}

function linkEntityRequest(l: LinkBody, path: string): EntityRequest {
  const { categories, attributes } = linkRequest(l, path);
  return { categories, attributes, links: [] };
}

// -------------------------------------------------------------------------------------------- categories

/**
 * A `{kinds, mixins, actions}` body. A single kind or mixin may carry `actions` too, so a body with
 * `term` or `scheme` at the top is a single category, never a collection.
 */
function isCategoryCollection(body: JsonObject): boolean {
  return !has(body, 'term') && !has(body, 'scheme') && CATEGORY_COLLECTIONS.some(([key]) => has(body, key));
}

export function parseCategories(input: RequestInput): CategoryDefinition[] {
  const body = objectBody(input);
  if (isCategoryCollection(body)) {
    const c = checkRequest<CategoryCollectionBody>('category_collection', normaliseCategoryCollection(body));
    return CATEGORY_COLLECTIONS.flatMap(([key, cls]) =>
      (c[key] ?? []).map((d, i) => categoryDefinition(d, cls, pointer(`/${key}`, i))),
    );
  }
  if (Object.keys(body).length === 0) return [];
  if (has(body, 'providers')) {
    throw new ParseError('/providers: a provider update (pyOCNI update_provider) is not a category definition');
  }
  const cls = singleCategoryClass(body);
  return [categoryDefinition(checkRequest<CategoryBody>(cls, normaliseCategory(body, cls, '')), cls, '')];
}

/** A bare category object is a mixin (the POST `/-/` form), or a kind when it names a parent. */
function singleCategoryClass(body: JsonObject): 'kind' | 'mixin' {
  if (has(body, 'parent')) return 'kind';
  if (['location', 'depends', 'applies', 'related'].some((k) => has(body, k))) return 'mixin';
  throw new ParseError(
    '/: a single category object must be a mixin (term, scheme, location, depends, applies) or a kind with a parent; ' +
      'otherwise wrap it: {"kinds":[…]}, {"mixins":[…]} or {"actions":[…]}',
  );
}

function categoryDefinition(c: CategoryBody, cls: CategoryClass, path: string): CategoryDefinition {
  const d: CategoryDefinition = { class: cls };
  if (c.scheme !== undefined) d.scheme = c.scheme;
  if (c.term !== undefined) d.term = c.term;
  if (c.title !== undefined) d.title = c.title;
  if (c.parent !== undefined) d.parent = c.parent;
  if (c.depends !== undefined) d.depends = c.depends;
  if (c.applies !== undefined) d.applies = c.applies;
  if (c.actions !== undefined) d.actions = c.actions;
  if (c.location !== undefined) d.location = c.location;
  if (c.attributes !== undefined) d.attributes = attributeDefs(c.attributes, pointer(path, 'attributes'));
  return d;
}

function attributeDefs(descriptions: Record<string, DescriptionBody>, path: string): AttributeDefs {
  const defs: AttributeDefs = {};
  for (const [name, description] of Object.entries(descriptions)) {
    defs[name] = attributeDef(description, pointer(path, name));
  }
  return defs;
}

/** JSON defaults: mutable false, required false, type string (GFD.226). */
function attributeDef(d: DescriptionBody, path: string): AttributeDef {
  const def: AttributeDef = { type: d.type ?? 'string', mutable: d.mutable ?? false, required: d.required ?? false };
  if (d.pattern !== undefined) def.pattern = d.pattern;
  if (d.default !== undefined) {
    const integer = d.pattern?.type === 'integer';
    if (!matchesType(d.default, def.type, integer)) {
      const expected = integer ? 'an integer' : `of type ${def.type}`;
      throw new ParseError(`${path}/default: must be ${expected} like the attribute (got ${showValue(d.default)})`);
    }
    def.default = d.default;
  }
  if (d.description !== undefined) def.description = d.description;
  return def;
}

function matchesType(value: AttributeValue, type: AttributeType, integer: boolean): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && (!integer || Number.isInteger(value));
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isPlainObject(value);
  }
}

export function parseCategoryRefs(input: RequestInput): CategoryRef[] {
  const body = objectBody(input);
  if (isCategoryCollection(body)) {
    const c = checkRequest<CategoryIdsBody>('category_identifiers', normaliseCategoryRefs(body));
    return CATEGORY_COLLECTIONS.flatMap(([key, cls]) => (c[key] ?? []).map((id) => ({ id, class: cls })));
  }
  if (Object.keys(body).length === 0) return [];
  if (typeof body.term === 'string' && typeof body.scheme === 'string') {
    const id = `${String(normaliseTypeId(body.scheme))}${body.term.trim()}`;
    return ['location', 'depends', 'applies'].some((k) => has(body, k)) ? [{ id, class: 'mixin' }] : [{ id }];
  }
  throw new ParseError(
    '/: expected category references {"kinds":[…],"mixins":[…],"actions":[…]} (type ids or {term, scheme} objects)',
  );
}

/** A kind's providers as pyOCNI's `update_provider` body names them. */
export interface ProviderUpdate {
  kind: TypeId;
  local: string[];
  remote: string[];
}

/** pyOCNI's `{"providers":[{"OCCI_ID": kind id, "Provider": {"local":[…], "remote":[…]}}]}` (PUT `/-/`). */
export function parseProviderUpdate(input: RequestInput): ProviderUpdate[] {
  const body = checkRequest<{ providers: Array<{ OCCI_ID: string; Provider: { local?: string[]; remote?: string[] } }> }>(
    'provider_update',
    objectBody(input),
  );
  return body.providers.map((p) => ({
    kind: String(normaliseTypeId(p.OCCI_ID)),
    local: [...(p.Provider.local ?? [])],
    remote: [...(p.Provider.remote ?? [])],
  }));
}

// ------------------------------------------------------------------------------------ actions, locations

export function parseAction(input: RequestInput): ActionRequest {
  const a = checkRequest<ActionBody>('action_invocation', normaliseActionInvocation(objectBody(input)));
  const request: ActionRequest = { attributes: { ...(a.attributes ?? {}) } };
  if (a.action !== undefined) request.action = a.action;
  return request;
}

const LOCATION_LISTS = ['X-OCCI-Location', 'locations'] as const;

/**
 * Accepted: a JSON array of strings, `{"X-OCCI-Location":[…]}` (pyOCNI), `{"locations":[…]}`, or an
 * entity collection (the spec's form) whose entities each carry a `location` or an `id` (occi.core.id).
 */
export function parseLocations(input: RequestInput): EntityRef[] {
  const value = parseJsonBody(input.body);
  if (Array.isArray(value)) return checkLocations(normaliseLocations(value), '');
  if (!isPlainObject(value)) {
    throw new ParseError(`/: the request body must be a JSON object or an array of locations (got ${jsonTypeOf(value)})`);
  }
  const keys = Object.keys(value);
  if (keys.length === 0) return [];
  for (const key of LOCATION_LISTS) {
    if (!has(value, key)) continue;
    const other = keys.find((k) => k !== key);
    if (other !== undefined) throw new ParseError(`/: unknown member ${JSON.stringify(other)} next to ${JSON.stringify(key)}`);
    return checkLocations(normaliseLocations(value[key]), pointer('', key));
  }
  if (isEntityCollection(value)) {
    const c = checkRequest<EntityCollectionBody>('entity_collection', normaliseEntityCollection(value));
    const fromList = (list: EntityBody[] | undefined, key: string): EntityRef[] =>
      (list ?? []).map((e, i): EntityRef => {
        const location = e.location?.trim();
        if (location !== undefined && location !== '') return location;
        const given = e.id ?? e.attributes?.['occi.core.id'];
        const id = typeof given === 'string' ? given.trim() : '';
        if (id === '') throw new ParseError(`${pointer(`/${key}`, i)}: name the entity with its "location" or its "id"`);
        return { id };
      });
    return [...fromList(c.resources, 'resources'), ...fromList(c.links, 'links')];
  }
  throw new ParseError(
    '/: expected locations: ["/compute/1", …], {"X-OCCI-Location":[…]}, {"locations":[…]} or {"resources":[{"kind":…,"id":…}]}',
  );
}

function checkLocations(list: unknown, path: string): string[] {
  if (!Array.isArray(list)) throw new ParseError(`${path || '/'}: must be an array of locations (got ${jsonTypeOf(list)})`);
  list.forEach((l: unknown, i) => {
    if (typeof l !== 'string') {
      throw new ParseError(`${pointer(path, i)}: must be string (got ${jsonTypeOf(l)} ${showValue(l)})`);
    }
    if (l === '') throw new ParseError(`${pointer(path, i)}: empty location`);
  });
  return checkRequest<string[]>('locations', list);
}
