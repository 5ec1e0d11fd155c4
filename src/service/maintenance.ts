/**
 * Work the service does on its own: ending leases and finishing what a crash interrupted. Safe with
 * several occitan processes on one CouchDB: an entity is claimed by marking it `deleting` with its
 * revision (compare-and-set), so exactly one process deletes it.
 */
import type { Logger } from '../backends/backend';
import type { EntityDoc } from '../store/entity-store';
import type { OcciService } from './occi-service';

export class Maintenance {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly service: OcciService,
    private readonly log: Logger,
    private readonly opts: { periodMs: number; graceMs: number; now?: () => number },
  ) {}

  /** The failure of the previous pass, so an outage is logged once (and its end), not once per period. */
  private failing?: string;

  start(): void {
    const tick = (): void => {
      this.running = this.sweep()
        .then(() => {
          if (this.failing !== undefined) this.log.info('maintenance: passes succeed again');
          this.failing = undefined;
        })
        .catch((e: unknown) => {
          const message = (e as Error).message;
          if (this.failing === undefined) this.log.warn(`maintenance: ${message} (retried every ${this.opts.periodMs} ms, logged again once it works)`);
          else this.log.debug(`maintenance: ${message}`);
          this.failing = message;
        })
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.opts.periodMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass: leases that ended, then documents left `creating`/`deleting` longer than the grace period. */
  async sweep(): Promise<void> {
    const now = (this.opts.now ?? Date.now)();
    for (const doc of await this.service.entities.leasesDue(now)) {
      // Only a settled entity is claimed for its lease: one `creating` or `deleting` is another request's or
      // process's work in flight (re-claiming it would delete it twice); if that process died, the
      // unfinished-work pass below takes it over after the grace period.
      if (doc.status !== 'ready') continue;
      await this.claimAndDestroy(doc, 'lease ended');
    }
    for (const doc of await this.service.entities.unfinished()) {
      if (now - Date.parse(doc.updated) < this.opts.graceMs) continue;
      if (doc.status === 'creating' && (await this.linksInFlight(doc, now))) continue;
      await this.claimAndDestroy(doc, doc.status === 'creating' ? 'creation interrupted' : 'deletion interrupted');
    }
  }

  /**
   * Whether a resource left `creating` is still having its inline links made: it stays `creating` until
   * the last of them is (OcciService.settle), so its own document ages while a live request works on it.
   * Deleting it then would undo an answer still coming; a crashed request's links age past the grace too.
   */
  private async linksInFlight(resource: EntityDoc, now: number): Promise<boolean> {
    if (resource.source !== undefined) return false;
    const links = await this.service.entities.linksOf(resource.tenant, 'source', resource.location);
    return links.some((l) => l.status === 'creating' && now - Date.parse(l.updated) < this.opts.graceMs);
  }

  private async claimAndDestroy(doc: EntityDoc, why: string): Promise<void> {
    let claimed: EntityDoc;
    try {
      claimed = await this.service.entities.update({ ...doc, status: 'deleting' });
    } catch {
      return; // another process claimed it, or it changed: the next pass looks again
    }
    try {
      await this.service.destroy(claimed);
      this.log.info(`deleted ${doc.tenant}:${doc.location}: ${why}`);
    } catch (e) {
      this.log.warn(`could not delete ${doc.location} (${why}): ${(e as Error).message}`);
    }
  }
}
