/**
 * The interface every provider implements (libcloud's driver, nova's virt driver). Backend-specific
 * features are mixins and attributes in `categories/<backend>.yaml`, never extra methods here.
 *
 * A backend imports only `model`, `errors` and its own folder. Everything else it may use arrives in
 * `init(ctx)`. It translates its library's errors into ours at its edge: a missing platform object is
 * NotFound, an unreachable daemon ServiceUnavailable, a refusal by the daemon BadGateway, a request the
 * platform cannot honour BadRequest/Conflict with a message the client can act on.
 */
import type { Attributes, TypeId } from '../model/types';

/** occitan's internal id of an entity: unique across tenants, never derived from a client path alone. */
export type EntityId = string;

/** What a backend is handed about an entity: the stored record, never the client's raw request. */
export interface BackendEntity {
  readonly id: EntityId;
  readonly tenant: string;
  readonly location: string;
  readonly kind: TypeId;
  readonly mixins: readonly TypeId[];
  /** All attributes, occi.core.* included (a link's occi.core.source/target are locations). */
  readonly attributes: Readonly<Attributes>;
  /** For a link: its source and target as stored entities (target absent when external). */
  readonly source?: { id: EntityId; kind: TypeId; ref?: unknown };
  readonly target?: { id: EntityId; kind: TypeId; ref?: unknown };
  /** The private handle this backend returned earlier (absent before the first create). */
  readonly ref?: unknown;
}

/** What the platform says about an entity: runtime attributes to merge, and the private handle. */
export interface Realised {
  attributes: Attributes;
  ref?: unknown;
  /**
   * True when the entity's runtime was replaced (a container restarted into a new network namespace):
   * the service then re-realises the entity's links by calling `create` on each again.
   */
  runtimeChanged?: boolean;
}

export interface Change {
  /** Attributes whose values the client changed (new values). */
  attributes: Attributes;
  mixinsAdded: readonly TypeId[];
  mixinsRemoved: readonly TypeId[];
}

export interface Logger {
  debug(msg: string, extra?: Record<string, unknown>): void;
  info(msg: string, extra?: Record<string, unknown>): void;
  warn(msg: string, extra?: Record<string, unknown>): void;
  error(msg: string, extra?: Record<string, unknown>): void;
}

/** Small conflict-safe documents in CouchDB (reservations, address pools): compare-and-set by revision. */
export interface KeyedState {
  get<T>(key: string): Promise<{ value: T; rev: string } | undefined>;
  /** Writes when `rev` is the current revision (undefined: only if absent); false on a lost race. */
  put<T>(key: string, value: T, rev?: string): Promise<boolean>;
  delete(key: string, rev: string): Promise<boolean>;
}

export interface Clock {
  now(): number;
  /** Milliseconds for a named wait (graceful-stop timeout, grace periods), from configuration. */
  duration(name: string, fallbackMs: number): number;
}

/**
 * An entity a provider's configuration says must exist (the docker provider's nodes of backends.json, the
 * services of its service file). The server creates it through the service, on this provider, once every
 * provider has started; when it is there already, `update` applies these attributes to it, `keep` leaves it.
 */
export interface DeclaredEntity {
  tenant: string;
  kind: TypeId;
  location: string;
  mixins?: readonly TypeId[];
  attributes: Attributes;
  whenPresent: 'update' | 'keep';
}

/**
 * An entity that belongs to one of this provider's own (a docker service's replica): made through the
 * service like a client's create, at `location`, realised by this provider. `attributes` are server-set
 * (they may be immutable ones the client could not give).
 */
export interface SpawnedEntity {
  tenant: string;
  kind: TypeId;
  location: string;
  mixins: readonly TypeId[];
  attributes: Attributes;
}

export interface BackendContext {
  /** The provider's name and its entry in backends.json. */
  readonly provider: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly log: Logger;
  /** A tenant-scoped lookup of an entity (a link's source/target) and its private ref. */
  resolve(tenant: string, id: EntityId): Promise<BackendEntity | undefined>;
  /** This provider's entities, for reconciliation at start-up. */
  owned(): AsyncIterable<BackendEntity>;
  /** A change the platform made on its own (container died, port went down). */
  report(id: EntityId, realised: Realised): Promise<void>;
  readonly state: KeyedState;
  readonly clock: Clock;
  /** Entities to create (or update) once every provider has started; absent where nothing creates them (backend tests). */
  declare?(entities: readonly DeclaredEntity[]): void;
  /**
   * Creates a spawned entity now (stored, then this provider's `create` realises it); answers it as stored.
   * Throws what the create would answer a client (409 when the location is taken). Absent where nothing
   * stores entities (backend tests).
   */
  spawn?(entity: SpawnedEntity): Promise<BackendEntity>;
  /** Deletes an entity through the service (this provider's `delete` runs); gone already is success. */
  dispose?(tenant: string, location: string): Promise<void>;
}

export interface Backend {
  /** Its key in backends.json. */
  readonly name: string;
  /** Kinds it can realise (full type ids). */
  readonly kinds: readonly TypeId[];
  /** Actions it implements; the service answers 501 for any other action of its entities. */
  readonly actions: readonly TypeId[];

  /** Connect, check the daemon, adopt or reap what it owns. Throwing leaves this provider out (or stops start-up when not optional). */
  init(ctx: BackendContext): Promise<void>;
  /** Release connections; never throws. */
  close(): Promise<void>;

  /**
   * Realise a new entity. All or nothing: on failure, remove whatever it made, then throw.
   * Idempotent per entity: when the platform object for this entity already exists it is adopted
   * (that is how a link is re-realised after its source's runtime changed).
   */
  create(entity: BackendEntity): Promise<Realised>;

  /** Live state. Throws NotFound when the platform object is gone. */
  retrieve(entity: BackendEntity): Promise<Realised>;

  /** Apply a change of attributes or mixins. On failure the platform object is left as it was, and it throws. */
  update(entity: BackendEntity, change: Change): Promise<Realised>;

  /** Remove the platform object. Idempotent: already gone is success. */
  delete(entity: BackendEntity): Promise<void>;

  /**
   * Perform an action the backend lists in `actions`. Throws Conflict when the current state forbids it,
   * NotImplemented for a method parameter it cannot honour. On failure the state is left as it was.
   */
  action(entity: BackendEntity, action: TypeId, params: Attributes): Promise<Realised>;
}
