/**
 * The model → application/occi+json (GFD.226) as compact JSON text. Every body validates against
 * schemas/occi-schema.json (tests check it). Choices:
 * - Attribute descriptions always carry `mutable`, `required` and `type` (JSON defaults differ from
 *   the text rendering's); `origin`/`tenant` of categories are never rendered.
 * - Entities: `attributes` holds every attribute including occi.core.* (as rOCCI-core does), and the
 *   top-level `id`, `title`, `summary`, `source`, `target` come from those occi.core.* attributes.
 *   `id` falls back to the location when occi.core.id is missing; a link's source location falls back
 *   to the resource it is rendered in. No `location` member (GFD.226's schema forbids it).
 * - Empty arrays are omitted (`actions`, `depends`, `applies`, `mixins`, `links`, and the `kinds`/
 *   `mixins`/`actions` of GET /-/): GFD.226 makes them 0..1, and rOCCI-core's validator (rOCCI 5
 *   clients) has `minItems: 1` on every array. `attributes` stays, even `{}` (rOCCI-core requires it).
 * - Entity collections: `{"resources":[…]}` for resources, `{"links":[…]}` for links (GFD.226's
 *   resource_collection / link_collection, both additionalProperties false); a mixed collection
 *   (a mixin's, `/`) carries only its non-empty keys; an empty one `{"resources":[]}` unless the caller
 *   says it is a link kind's (`{"links":[]}`) — the one member the specific definition requires.
 * - Listings of locations: pyOCNI's `{"X-OCCI-Location":[…]}`; 201 bodies: pyOCNI's `{"Location":[…]}`;
 *   errors: rOCCI-server's `{"status":…,"error":…}`; plain success: `{}`.
 */
import {
  CORE_ATTR,
  type Action,
  type AttributeDef,
  type AttributeDefs,
  type Attributes,
  type CategoryCollection,
  type EntityView,
  type Kind,
  type Mixin,
} from '../model/types';
import type { Rendered, StreamParts } from './rendering';
import type { JsonObject } from './json-body';

export const OCCI_JSON_MEDIA_TYPE = 'application/occi+json';
const CONTENT_TYPE = `${OCCI_JSON_MEDIA_TYPE}; charset=utf-8`;

function rendered(body: string): Rendered {
  return { headers: [['Content-Type', CONTENT_TYPE]], body };
}

// ---------------------------------------------------------------------------------------------- categories

export function attributeDescription(d: AttributeDef): JsonObject {
  const o: JsonObject = { mutable: d.mutable, required: d.required, type: d.type };
  if (d.pattern !== undefined) o.pattern = d.pattern;
  if (d.default !== undefined) o.default = d.default;
  if (d.description !== undefined) o.description = d.description;
  return o;
}

/** Sets `o[key]` to a copy of `items` unless it is empty (see the header: empty arrays are omitted). */
function putArray(o: JsonObject, key: string, items: readonly string[]): void {
  if (items.length > 0) o[key] = [...items];
}

function attributeDescriptions(defs: AttributeDefs): JsonObject {
  return Object.fromEntries(Object.entries(defs).map(([name, d]) => [name, attributeDescription(d)]));
}

export function kindObject(k: Kind): JsonObject {
  const o: JsonObject = { term: k.term, scheme: k.scheme };
  if (k.title !== undefined) o.title = k.title;
  if (k.parent !== undefined) o.parent = k.parent;
  o.attributes = attributeDescriptions(k.attributes);
  putArray(o, 'actions', k.actions);
  if (k.location !== undefined) o.location = k.location;
  return o;
}

export function mixinObject(m: Mixin): JsonObject {
  const o: JsonObject = { term: m.term, scheme: m.scheme };
  if (m.title !== undefined) o.title = m.title;
  putArray(o, 'depends', m.depends);
  putArray(o, 'applies', m.applies);
  o.attributes = attributeDescriptions(m.attributes);
  putArray(o, 'actions', m.actions);
  o.location = m.location;
  return o;
}

export function actionObject(a: Action): JsonObject {
  const o: JsonObject = { term: a.term, scheme: a.scheme };
  if (a.title !== undefined) o.title = a.title;
  o.attributes = attributeDescriptions(a.attributes);
  return o;
}

export function renderCategories(c: CategoryCollection): Rendered {
  const o: JsonObject = {};
  if (c.kinds.length > 0) o.kinds = c.kinds.map(kindObject);
  if (c.mixins.length > 0) o.mixins = c.mixins.map(mixinObject);
  if (c.actions.length > 0) o.actions = c.actions.map(actionObject);
  return rendered(JSON.stringify(o));
}

// ------------------------------------------------------------------------------------------------ entities

export function isLinkView(v: EntityView): boolean {
  return Object.hasOwn(v.attributes, CORE_ATTR.source);
}

function stringAttr(a: Attributes, name: string): string | undefined {
  const v = Object.hasOwn(a, name) ? a[name] : undefined;
  return typeof v === 'string' ? v : undefined;
}

function commonMembers(v: EntityView): JsonObject {
  const a = v.attributes;
  const o: JsonObject = { kind: v.kind };
  putArray(o, 'mixins', v.mixins);
  o.attributes = { ...a };
  putArray(o, 'actions', v.actions.map((l) => l.action));
  o.id = stringAttr(a, CORE_ATTR.id) ?? v.location;
  const title = stringAttr(a, CORE_ATTR.title);
  if (title !== undefined) o.title = title;
  return o;
}

export function resourceObject(v: EntityView): JsonObject {
  const o = commonMembers(v);
  const summary = stringAttr(v.attributes, CORE_ATTR.summary);
  if (summary !== undefined) o.summary = summary;
  const links = v.links ?? [];
  if (links.length > 0) o.links = links.map((l) => linkObject(l, v.location));
  return o;
}

function kindedUri(location: string, kind: string | undefined): JsonObject {
  return kind === undefined ? { location } : { location, kind };
}

/** `sourceFallback`: the location of the resource a link is rendered in, used when occi.core.source is missing. */
export function linkObject(v: EntityView, sourceFallback = ''): JsonObject {
  const a = v.attributes;
  const o = commonMembers(v);
  o.source = kindedUri(stringAttr(a, CORE_ATTR.source) ?? sourceFallback, stringAttr(a, CORE_ATTR.sourceKind));
  o.target = kindedUri(stringAttr(a, CORE_ATTR.target) ?? '', stringAttr(a, CORE_ATTR.targetKind));
  return o;
}

export function entityObject(v: EntityView): JsonObject {
  return isLinkView(v) ? linkObject(v) : resourceObject(v);
}

export function renderEntity(v: EntityView): Rendered {
  return rendered(JSON.stringify(entityObject(v)));
}

/**
 * `{"resources":[…]}`, `{"links":[…]}`, or both keys for a mixed sequence (see the header). `empty`:
 * the key an empty collection renders, `links` for a link kind's collection.
 */
export function renderEntities(views: readonly EntityView[], empty: EntityCollectionKey = 'resources'): Rendered {
  // Through the stream, so a listing sent whole and one streamed are the same bytes.
  const s = createEntityStream(empty);
  return rendered(s.open() + views.map((v, i) => s.item(v, i)).join('') + s.close());
}

// ------------------------------------------------------------------------------------ simple answers

export function renderLocations(locations: readonly string[]): Rendered {
  return rendered(JSON.stringify({ 'X-OCCI-Location': [...locations] }));
}

export function renderCreated(locations: readonly string[]): Rendered {
  return rendered(JSON.stringify({ Location: [...locations] }));
}

export function renderOk(): Rendered {
  return rendered('{}');
}

export function renderError(status: number, message: string): Rendered {
  return rendered(JSON.stringify({ status, error: message }));
}

// ------------------------------------------------------------------------------------------- streams

/** Same bytes as renderLocations. */
export const locationStream: StreamParts<string> = {
  open: () => '{"X-OCCI-Location":[',
  item: (location, index) => (index > 0 ? ',' : '') + JSON.stringify(location),
  close: () => ']}',
};

export type EntityCollectionKey = 'resources' | 'links';

/**
 * One stream per request. The first entity decides which array is written as items come (a kind
 * collection only ever has one); entities of the other sort (only in a mixed listing) are held until
 * `close`, their order kept. `empty` is the key rendered when no entity came. Reusable after `open`.
 */
export function createEntityStream(empty: EntityCollectionKey = 'resources'): StreamParts<EntityView> {
  let first: EntityCollectionKey | undefined;
  const others: string[] = [];
  return {
    open: () => {
      first = undefined;
      others.length = 0;
      return '{';
    },
    item: (v) => {
      const key: EntityCollectionKey = isLinkView(v) ? 'links' : 'resources';
      const json = JSON.stringify(key === 'links' ? linkObject(v) : resourceObject(v));
      if (first === undefined) {
        first = key;
        return `"${key}":[${json}`;
      }
      if (key === first) return `,${json}`;
      others.push(json);
      return '';
    },
    close: () => {
      if (first === undefined) return `"${empty}":[]}`;
      const otherKey: EntityCollectionKey = first === 'links' ? 'resources' : 'links';
      return others.length > 0 ? `],"${otherKey}":[${others.join(',')}]}` : ']}';
    },
  };
}
