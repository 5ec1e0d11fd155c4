/**
 * The model → application/occi+json (GFD.226) as compact JSON text. Every body validates against
 * schemas/occi-schema.json (tests check it). Choices:
 * - Attribute descriptions always carry `mutable`, `required` and `type` (JSON defaults differ from
 *   the text rendering's); `origin`/`tenant` of categories are never rendered.
 * - Entities: `attributes` holds every attribute including occi.core.* (as rOCCI-core does), and the
 *   top-level `id`, `title`, `summary`, `source`, `target` come from those occi.core.* attributes.
 *   `id` falls back to the location when occi.core.id is missing; a link's source location falls back
 *   to the resource it is rendered in. No `location` member (GFD.226's schema forbids it).
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

function attributeDescriptions(defs: AttributeDefs): JsonObject {
  return Object.fromEntries(Object.entries(defs).map(([name, d]) => [name, attributeDescription(d)]));
}

export function kindObject(k: Kind): JsonObject {
  const o: JsonObject = { term: k.term, scheme: k.scheme };
  if (k.title !== undefined) o.title = k.title;
  if (k.parent !== undefined) o.parent = k.parent;
  o.attributes = attributeDescriptions(k.attributes);
  o.actions = [...k.actions];
  if (k.location !== undefined) o.location = k.location;
  return o;
}

export function mixinObject(m: Mixin): JsonObject {
  const o: JsonObject = { term: m.term, scheme: m.scheme };
  if (m.title !== undefined) o.title = m.title;
  o.depends = [...m.depends];
  o.applies = [...m.applies];
  o.attributes = attributeDescriptions(m.attributes);
  o.actions = [...m.actions];
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
  return rendered(
    JSON.stringify({
      kinds: c.kinds.map(kindObject),
      mixins: c.mixins.map(mixinObject),
      actions: c.actions.map(actionObject),
    }),
  );
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
  const o: JsonObject = {
    kind: v.kind,
    mixins: [...v.mixins],
    attributes: { ...a },
    actions: v.actions.map((l) => l.action),
    id: stringAttr(a, CORE_ATTR.id) ?? v.location,
  };
  const title = stringAttr(a, CORE_ATTR.title);
  if (title !== undefined) o.title = title;
  return o;
}

export function resourceObject(v: EntityView): JsonObject {
  const o = commonMembers(v);
  const summary = stringAttr(v.attributes, CORE_ATTR.summary);
  if (summary !== undefined) o.summary = summary;
  o.links = (v.links ?? []).map((l) => linkObject(l, v.location));
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

/** `{"resources":[…]}`, plus `"links":[…]` when any view is a link (one with occi.core.source). */
export function renderEntities(views: readonly EntityView[]): Rendered {
  const resources = views.filter((v) => !isLinkView(v)).map((v) => resourceObject(v));
  const links = views.filter(isLinkView).map((v) => linkObject(v));
  return rendered(JSON.stringify(links.length > 0 ? { resources, links } : { resources }));
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

/**
 * Stateless, so one object serves concurrent requests. Same bytes as renderEntities when the views
 * are all resources or all links (a kind collection always is). A mixed sequence needs
 * createEntityStream(): a stateless item cannot know whether the `resources` array is still open.
 */
export const entityStream: StreamParts<EntityView> = {
  open: () => '{"resources":[',
  item: (v, index) => {
    if (isLinkView(v)) return (index > 0 ? ',' : '],"links":[') + JSON.stringify(linkObject(v));
    return (index > 0 ? ',' : '') + JSON.stringify(resourceObject(v));
  },
  close: () => ']}',
};

/**
 * One stream per request, exact for any mix: resources are written as they come, links are held
 * until `close` (their order kept), which is what renderEntities' split into two arrays needs.
 */
export function createEntityStream(): StreamParts<EntityView> {
  let resources = 0;
  const links: string[] = [];
  return {
    open: () => {
      resources = 0;
      links.length = 0;
      return '{"resources":[';
    },
    item: (v) => {
      if (isLinkView(v)) {
        links.push(JSON.stringify(linkObject(v)));
        return '';
      }
      return (resources++ > 0 ? ',' : '') + JSON.stringify(resourceObject(v));
    },
    close: () => (links.length > 0 ? `],"links":[${links.join(',')}]}` : ']}'),
  };
}

