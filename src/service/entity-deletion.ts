/**
 * Deleting entities: a single DELETE, one member of a collection DELETE (collections.ts), the `destroy`
 * that recovery and lease ends use too, and undoing a create that failed after its document was stored.
 *
 * Failure rule: a delete marks the document `deleting` before it asks the backend, so a crash in between
 * is finished by start-up recovery. A refusal by the backend (4xx: a docker node that still holds
 * reservations) leaves the entity as it was; an outage (5xx) leaves it marked, for the recovery pass to
 * finish. Once the platform side is gone, the document is removed whatever revision it has by then.
 */
import type { Realised } from '../backends/backend';
import { OcciError, PreconditionFailed } from '../errors';
import type { EntityDoc } from '../store/entity-store';
import { backendEntity, checkRevision, requireManager, type ServiceParts, type WriteOptions } from './entity-parts';

/** How often a removal is retried against concurrent server-side changes before giving up. */
const REMOVE_ATTEMPTS = 5;

export class EntityDeletion {
  constructor(private readonly service: ServiceParts) {}

  /** DELETE an entity: a resource's links (outgoing and incoming) go first. */
  async delete(tenant: string, location: string, opts: WriteOptions = {}): Promise<void> {
    return this.service.queues.serially(tenant, location, async () => {
      const doc = await this.service.get(tenant, location);
      checkRevision(doc, opts);
      await this.destroy(doc);
    });
  }

  /**
   * One member of a collection DELETE: in the entity's queue like a single DELETE, re-read there (gone
   * already is success: false), then destroyed. Never races a write to the same entity in this process.
   */
  async deleteMember(tenant: string, location: string): Promise<boolean> {
    return this.service.queues.serially(tenant, location, async () => {
      const fresh = await this.service.entities.get(tenant, location);
      if (!fresh) return false;
      await this.destroy(fresh);
      return true;
    });
  }

  /** What `destroy` would refuse before touching anything (a kind only global admins manage): checked first by collection DELETEs. */
  checkDeletable(doc: EntityDoc): void {
    requireManager(this.service.categories.index, doc.kind, 'delete');
  }

  /** Removes an entity from its platform and the store; idempotent. */
  async destroy(doc: EntityDoc): Promise<void> {
    const { entities } = this.service;
    requireManager(this.service.categories.index, doc.kind, 'delete');
    if (doc.source === undefined) {
      const links = [...(await entities.linksOf(doc.tenant, 'source', doc.location)), ...(await entities.linksOf(doc.tenant, 'target', doc.location))];
      for (const l of links) await this.destroy(l);
    }
    // Mark first, so a crash between the backend call and the removal is finished at start-up.
    let marked = doc;
    if (doc.status !== 'deleting') {
      const m = await entities.modify(doc.tenant, doc.location, (d) => ({ ...d, status: 'deleting' }));
      if (!m) return;
      marked = m;
    }
    try {
      await this.service.backends.get(doc.provider).delete(await backendEntity(this.service.entities, marked));
    } catch (e) {
      // A refusal (a docker node that still holds reservations: 409) leaves the entity as it was; only an
      // outage (5xx) leaves it marked, for the recovery pass to finish.
      if (e instanceof OcciError && e.status < 500) {
        await entities.modify(doc.tenant, doc.location, (d) => (d.status === 'deleting' ? { ...d, status: 'ready' } : undefined)).catch(() => undefined);
      }
      throw e;
    }
    // The platform side is gone: remove the document whatever revision a concurrent server-side change
    // (an action's report, a link re-realised) gave it meanwhile; a stale revision was a 412 after the
    // entity was already deleted from its platform.
    for (let attempt = 1; ; attempt++) {
      const fresh = await entities.get(doc.tenant, doc.location);
      if (!fresh || fresh.uid !== doc.uid) return;
      try {
        await entities.remove(fresh);
        return;
      } catch (e) {
        if (!(e instanceof PreconditionFailed) || attempt >= REMOVE_ATTEMPTS) throw e;
      }
    }
  }

  /**
   * Undoes one entity's create that failed after its document was inserted (OcciService.realise), best
   * effort, never throwing: the caller rethrows the create's own error. `realised` is what the backend
   * made, when its create succeeded (the store write after it failed): that is deleted first, handed the
   * ref and attributes the backend returned, so it finds its platform object. Then the document, as long
   * as it is still this create's: a concurrent write may have moved its revision (a client's POST to the
   * new location), but one claimed meanwhile (`deleting`: recovery, a DELETE) is left to its claimant.
   * When the backend delete fails, the document is removed all the same (as before this undo existed):
   * the platform object is then an orphan, removed by its backend's reaper after its grace (docker's
   * watcher, libvirt's start-up reconciliation).
   */
  async undoCreate(stored: EntityDoc, realised: Realised | undefined): Promise<void> {
    const { entities } = this.service;
    if (realised) {
      const made: EntityDoc = {
        ...stored,
        attributes: { ...stored.attributes, ...realised.attributes },
        ...(realised.ref !== undefined ? { ref: realised.ref } : {}),
      };
      try {
        await this.service.backends.get(stored.provider).delete(await backendEntity(this.service.entities, made));
      } catch {
        // Left to the reaper (see above); the document goes regardless.
      }
    }
    let doc = stored;
    for (let attempt = 1; ; attempt++) {
      try {
        await entities.remove(doc);
        return;
      } catch (e) {
        if (!(e instanceof PreconditionFailed) || attempt >= REMOVE_ATTEMPTS) return;
      }
      const fresh = await entities.get(stored.tenant, stored.location).catch(() => undefined);
      if (!fresh || fresh.uid !== stored.uid || fresh.status !== 'creating') return;
      doc = fresh;
    }
  }
}
