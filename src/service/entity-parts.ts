/**
 * What OcciService shares with the modules that carry out its verbs (entity-actions.ts,
 * entity-deletion.ts, entity-updates.ts): the per-entity write queue, the checks every write makes, what a backend is handed,
 * and the parts of the service they use (`ServiceParts`).
 */
import type { BackendEntity } from '../backends/backend';
import type { BackendRegistry } from '../backends/registry';
import type { CategoryIndex } from '../category-manager/category-index';
import { Conflict, Forbidden, PreconditionFailed } from '../errors';
import type { TypeId } from '../model/types';
import { EntityStore as Store, type EntityDoc, type EntityStore } from '../store/entity-store';
import { acting } from './acting';

export interface WriteOptions {
  /** `If-Match`: the revision the client last saw. */
  ifMatch?: string;
}

/** Refuses a write whose `If-Match` is not the document's current revision (412). */
export function checkRevision(doc: EntityDoc, opts: WriteOptions): void {
  if (opts.ifMatch !== undefined && opts.ifMatch !== '*' && opts.ifMatch.replace(/^W\//, '').replace(/"/g, '') !== doc._rev) {
    throw new PreconditionFailed(`${doc.location} is at revision ${doc._rev}, not ${opts.ifMatch}`);
  }
}

/**
 * Refuses a client's change to an entity whose create or delete has not been answered yet (409): until then
 * the create may still fail and undo itself (or recovery undo it), and a change accepted meanwhile would be
 * acknowledged on an entity that then disappears.
 */
export function requireSettled(doc: EntityDoc, verb: string): void {
  if (doc.status === 'creating') throw new Conflict(`${doc.location} is still being created: ${verb} it once its create has been answered`);
  if (doc.status === 'deleting') throw new Conflict(`${doc.location} is being deleted`);
}

/** A kind marked `adminOnly` or `sharedRead` (docker#node) is managed by global admins only; the system's own work passes. */
export function requireManager(index: CategoryIndex, kind: TypeId, verb: string): void {
  const k = index.kind(kind);
  if (!k?.adminOnly && !k?.sharedRead) return;
  const who = acting();
  if (who && !who.admin) throw new Forbidden(`only a global admin may ${verb} an entity of ${kind}`);
}

/** The entity as its backend is handed it; a link with its ends' ids and refs. */
export function toBackendEntity(doc: EntityDoc, ends?: { source?: EntityDoc; target?: EntityDoc }): BackendEntity {
  return {
    id: doc.uid,
    tenant: doc.tenant,
    location: doc.location,
    kind: doc.kind,
    mixins: doc.mixins,
    attributes: doc.attributes,
    ...(ends?.source ? { source: { id: ends.source.uid, kind: ends.source.kind, ref: ends.source.ref } } : {}),
    ...(ends?.target ? { target: { id: ends.target.uid, kind: ends.target.kind, ref: ends.target.ref } } : {}),
    ...(doc.ref !== undefined ? { ref: doc.ref } : {}),
  };
}

/** `toBackendEntity`, a link's ends read from the store. */
export async function backendEntity(entities: EntityStore, doc: EntityDoc): Promise<BackendEntity> {
  if (doc.source === undefined) return toBackendEntity(doc);
  const source = await entities.get(doc.tenant, doc.source);
  const target = doc.target?.startsWith('/') ? await entities.get(doc.tenant, doc.target) : undefined;
  return toBackendEntity(doc, { source, target });
}

/** Per-entity queues: writes to one entity run one after another in this process. */
export class EntityQueues {
  private readonly queues = new Map<string, Promise<void>>();

  /**
   * Runs `work` after every earlier write to the same entity in this process has finished. A write reads
   * the document, checks `If-Match`, calls the backend and then stores the new revision; without this,
   * writers holding the same ETag all reach the backend before CouchDB's compare-and-set picks one, so a
   * request answered 412 would still have changed the platform (and the provider's own compare-and-set
   * gives up under the contention: 503). Across processes, CouchDB's `_rev` check still keeps the document
   * consistent.
   */
  serially<T>(tenant: string, location: string, work: () => Promise<T>): Promise<T> {
    const key = Store.docId(tenant, location);
    const run = (this.queues.get(key) ?? Promise.resolve()).then(work);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }
}

/** The parts of OcciService its verb modules use; its own helpers stay private to it. */
export interface ServiceParts {
  readonly categories: { readonly index: CategoryIndex };
  readonly entities: EntityStore;
  readonly backends: BackendRegistry;
  readonly queues: EntityQueues;
  /** The entity a caller of `tenant` reaches at `location`, or 404. */
  get(tenant: string, location: string): Promise<EntityDoc>;
  /** After a resource's runtime changed: its settled links are realised again. */
  rerealiseLinks(resource: EntityDoc): Promise<void>;
}
