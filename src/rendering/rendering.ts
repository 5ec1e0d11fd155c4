/**
 * The contract every media type implements: a parser and a renderer for the same shapes.
 * Parsers and renderers do no I/O; they throw ParseError (400) naming the header, field or value.
 */
import type {
  ActionRequest,
  CategoryCollection,
  CategoryDefinition,
  CategoryRef,
  EntityRef,
  EntityRequest,
  EntityView,
} from '../model/types';

/** What a parser reads: request headers (lower-case names, as Node gives them) and the raw body text. */
export interface RequestInput {
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: string;
}

/** Headers and body of a response; the body is text (collections may be rendered in chunks by `renderStream`). */
export interface Rendered {
  headers: Array<[string, string]>;
  body: string;
}

export interface Parser {
  /** One or more entities (POST to a kind collection may carry several). Filters use this too. */
  parseEntities(input: RequestInput): EntityRequest[];
  /** Category definitions: POST/PUT/DELETE `/-/` bodies and `/-/` filters. */
  parseCategories(input: RequestInput): CategoryDefinition[];
  /** Category references only (a text `Category:` filter, or a mixin named for association). */
  parseCategoryRefs(input: RequestInput): CategoryRef[];
  /** An action invocation body. */
  parseAction(input: RequestInput): ActionRequest;
  /**
   * Entities named by mixin association/disassociation bodies: locations as given (absolute or relative),
   * or `{id}` for an entity of an entity collection that carries its occi.core.id but no location.
   */
  parseLocations(input: RequestInput): EntityRef[];
}

export interface Renderer {
  readonly mediaType: string;
  renderCategories(categories: CategoryCollection): Rendered;
  renderEntity(entity: EntityView): Rendered;
  /** A listing of locations (kind/mixin collections in text renderings, paths below an unbound path). */
  renderLocations(locations: readonly string[]): Rendered;
  /** A full entity collection (JSON renders `{"resources":[…]}` and/or `{"links":[…]}`; text renders locations). */
  renderEntities(entities: readonly EntityView[]): Rendered;
  /** A success with nothing else to say (text/occi: body `OK`). */
  renderOk(): Rendered;
  /** 201: the created locations (first one also goes in `Location`, added by the HTTP layer). */
  renderCreated(locations: readonly string[]): Rendered;
  renderError(status: number, message: string): Rendered;
  /**
   * Body pieces for streaming a long listing without holding it in memory: `open`, one `item` per
   * element, `close`. Undefined for renderings that carry everything in headers (text/occi).
   */
  readonly locationStream?: StreamParts<string>;
  readonly entityStream?: StreamParts<EntityView>;
}

export interface StreamParts<T> {
  open(): string;
  item(element: T, index: number): string;
  close(): string;
}
