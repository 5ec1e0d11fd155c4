/**
 * OCCI model types shared by every layer. No I/O here.
 * Type ids are always full `scheme#term` strings (the scheme ends with '#').
 */

export type TypeId = string;
export type CategoryClass = 'kind' | 'mixin' | 'action';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type AttributeValue = string | number | boolean | JsonValue[] | { [key: string]: JsonValue };
export type Attributes = Record<string, AttributeValue>;

/** The five attribute types of the JSON rendering (GFD.226 §attribute description). */
export type AttributeType = 'string' | 'number' | 'boolean' | 'array' | 'object';

/**
 * An attribute definition (GFD.221 §Attribute). `pattern` is a JSON Schema that refines `type`
 * (`{"type":"integer"}`, `{"enum":[...]}`, `{"minimum":0}`, `{"pattern":"ERE"}`), so one validator
 * serves every rendering; the text rendering cannot express it and drops it.
 */
export interface AttributeDef {
  type: AttributeType;
  mutable: boolean;
  required: boolean;
  default?: AttributeValue;
  pattern?: { [key: string]: JsonValue };
  description?: string;
  /**
   * A list of objects each naming a `tenant` (categories/*.yaml `perTenant`): renderings show a caller who
   * is not a global admin only the items of its own tenant (a docker node's containers).
   */
  perTenant?: boolean;
}
export type AttributeDefs = Record<string, AttributeDef>;

/** Who defined a category: shipped with occitan, defined by an admin at run time, or a tenant's own tag. */
export type CategoryOrigin = 'builtin' | 'admin' | 'user';

interface CategoryBase {
  scheme: string;
  term: string;
  title?: string;
  attributes: AttributeDefs;
  origin: CategoryOrigin;
  /** Only for user mixins: the tenant that owns it. */
  tenant?: string;
}

export interface Kind extends CategoryBase {
  class: 'kind';
  parent?: TypeId;
  actions: TypeId[];
  /** A path ending in '/', relative to the server root; absent only for core#entity. */
  location?: string;
  /** Only global admins create, change, delete or act on entities of this kind (categories/*.yaml `adminOnly`). */
  adminOnly?: boolean;
  /**
   * Every authenticated caller reads this kind's entities, whatever its tenant (categories/*.yaml
   * `sharedRead`, the docker node pool): they are stored in the shared tenant, and only global admins write them.
   */
  sharedRead?: boolean;
}

export interface Mixin extends CategoryBase {
  class: 'mixin';
  depends: TypeId[];
  applies: TypeId[];
  actions: TypeId[];
  location: string;
}

export interface Action extends CategoryBase {
  class: 'action';
}

export type Category = Kind | Mixin | Action;

/** A reference to a category as a request names it: the class may be missing in lenient text requests. */
export interface CategoryRef {
  id: TypeId;
  class?: CategoryClass;
}

/**
 * A category definition as a request carries it (POST/PUT/DELETE `/-/`, or a `/-/` filter):
 * every field optional, so the same shape serves filters (pyOCNI sends only `attributes`).
 */
export interface CategoryDefinition {
  class?: CategoryClass;
  scheme?: string;
  term?: string;
  title?: string;
  /** Kind: parent (1.1 `rel`/pyOCNI `related`). */
  parent?: TypeId;
  /** Mixin: depends (text `rel`, pyOCNI `related`). */
  depends?: TypeId[];
  applies?: TypeId[];
  actions?: TypeId[];
  location?: string;
  attributes?: AttributeDefs;
}

/** An entity named by its location, or by its occi.core.id (JSON entity collections, GFD.223 §3.7). */
export type EntityRef = string | { readonly id: string };

/**
 * What a request says about one entity (create, update, replace, or a collection filter).
 * Core attributes travel inside `attributes` under their text names: occi.core.id, occi.core.title,
 * occi.core.summary, occi.core.source, occi.core.target, occi.core.target.kind.
 */
export interface EntityRequest {
  categories: CategoryRef[];
  attributes: Attributes;
  /** Inline links of a resource (text `Link` headers, JSON `links`). */
  links: LinkRequest[];
}

/** An inline link as a request carries it: its target is `occi.core.target` in attributes. */
export interface LinkRequest {
  categories: CategoryRef[];
  attributes: Attributes;
  /** The link's own location if the client named it (text `self=`). */
  location?: string;
}

/** An action invocation: `POST …?action=term`. The action id is absent when the body named none. */
export interface ActionRequest {
  action?: TypeId;
  attributes: Attributes;
}

/** An action link as rendered on an entity: `<href>; rel="action type id"`. */
export interface ActionLink {
  href: string;
  action: TypeId;
}

/**
 * A fully resolved entity as renderers receive it. Locations are already in the form the client
 * should see (absolute URLs when a base URL is known). `attributes` holds every attribute including
 * occi.core.*; `links` (resources only) are the outgoing links, each an EntityView of a link.
 */
export interface EntityView {
  location: string;
  kind: TypeId;
  mixins: TypeId[];
  attributes: Attributes;
  actions: ActionLink[];
  links?: EntityView[];
}

/** A category listing as renderers receive it; kind and mixin locations already in client form. */
export interface CategoryCollection {
  kinds: Kind[];
  mixins: Mixin[];
  actions: Action[];
}

export function typeId(scheme: string, term: string): TypeId {
  return scheme + term;
}

/** Splits `scheme#term` after the last '#'. */
export function splitTypeId(id: TypeId): { scheme: string; term: string } {
  const hash = id.lastIndexOf('#');
  if (hash < 0) return { scheme: '', term: id };
  return { scheme: id.slice(0, hash + 1), term: id.slice(hash + 1) };
}

export function categoryId(c: { scheme: string; term: string }): TypeId {
  return c.scheme + c.term;
}

export const CORE = 'http://schemas.ogf.org/occi/core#';
export const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
export const ENTITY_KIND = CORE + 'entity';
export const RESOURCE_KIND = CORE + 'resource';
export const LINK_KIND = CORE + 'link';

/** Attribute names of the core model, in the text rendering's naming. */
export const CORE_ATTR = {
  id: 'occi.core.id',
  title: 'occi.core.title',
  summary: 'occi.core.summary',
  source: 'occi.core.source',
  sourceKind: 'occi.core.source.kind',
  target: 'occi.core.target',
  targetKind: 'occi.core.target.kind',
} as const;
