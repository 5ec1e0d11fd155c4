/**
 * Entity documents in CouchDB. A document's id is derived from (tenant, location), so a GET by path is
 * one document read; views in couchdb/occitan.json serve kind and mixin collections, link ends, leases.
 * `_rev` is the entity's ETag. No OCCI rules here: the service decides, this file stores.
 */
import type { DocumentScope } from 'nano';
import { Conflict, PreconditionFailed } from '../errors';
import type { Attributes, TypeId } from '../model/types';
import { translateCouchError } from './couch';

export type EntityStatus = 'creating' | 'ready' | 'deleting';

export interface EntityDoc {
  _id: string;
  _rev?: string;
  type: 'entity';
  /** occitan's internal id (uuid): platform names derive from it, never from the client's path. */
  uid: string;
  tenant: string;
  location: string;
  kind: TypeId;
  /** The kind and its ancestors, for parent-kind collections. */
  kinds: TypeId[];
  mixins: TypeId[];
  /** The mixins and what they depend on, for mixin collections (an os_tpl lists every image template's entities). */
  mixinClosure: TypeId[];
  attributes: Attributes;
  /** Links only: the source location (always local) and the target location or URI. */
  source?: string;
  target?: string;
  provider: string;
  ref?: unknown;
  /** `creating`/`deleting` mark work in flight, so start-up recovery can finish or undo it. */
  status: EntityStatus;
  /** Lease end (ms since epoch), when a lease mixin is applied. */
  leaseExpires?: number;
  created: string;
  updated: string;
}

const DDOC = 'occitan';
/**
 * No location is longer (checkEntityPath allows 1024 characters). A longer path names nothing and is never
 * put in a store URL, whose request line it could overflow (the store's 431 was a 500; found by the fuzz suite).
 */
const LONGEST_LOCATION = 1024;

function isStatus(e: unknown, code: number): boolean {
  return typeof e === 'object' && e !== null && (e as { statusCode?: number }).statusCode === code;
}

export interface Page {
  skip: number;
  limit: number;
}

/**
 * Identical view reads, coalesced without losing exactness: a caller never joins a query already running
 * (it may have started before the caller's own write was acknowledged), only the next one, which starts
 * once the running one ended, so after the caller arrived. A view answers queries one at a time and brings
 * its index up to date first (PouchDB's per-view queue), so under load identical listings queued behind
 * each other for 5-20 s (the soak's p99, and store requests past their 20 s bound); now at most one runs
 * and one waits per distinct query.
 */
class NextQuery {
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly pending = new Map<string, Promise<unknown>>();

  run<T>(key: string, query: () => Promise<T>): Promise<T> {
    const joined = this.pending.get(key);
    if (joined) return joined as Promise<T>;
    const before = this.running.get(key);
    const start = async (): Promise<T> => {
      // Always yields first, so `pending` is set below before this deletes it.
      await (before ?? Promise.resolve()).catch(() => undefined);
      this.pending.delete(key);
      const current = query();
      this.running.set(key, current);
      try {
        return await current;
      } finally {
        if (this.running.get(key) === current) this.running.delete(key);
      }
    };
    const next = start();
    this.pending.set(key, next);
    return next;
  }
}

export class EntityStore {
  private readonly views = new NextQuery();

  constructor(readonly db: DocumentScope<unknown>) {}

  static docId(tenant: string, location: string): string {
    return `entity:${tenant}:${location}`;
  }

  async get(tenant: string, location: string): Promise<EntityDoc | undefined> {
    if (location.length > LONGEST_LOCATION) return undefined;
    try {
      return (await this.db.get(EntityStore.docId(tenant, location))) as unknown as EntityDoc;
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw translateCouchError(e, `entity ${location}`);
    }
  }

  async getMany(ids: readonly string[]): Promise<EntityDoc[]> {
    if (ids.length === 0) return [];
    try {
      const res = await this.db.fetch({ keys: [...ids] });
      const out: EntityDoc[] = [];
      for (const row of res.rows) if ('doc' in row && row.doc) out.push(row.doc as unknown as EntityDoc);
      return out;
    } catch (e) {
      throw translateCouchError(e, 'entities');
    }
  }

  /** Inserts a new document; Conflict when the location is taken. Returns the document with its `_rev`. */
  async insert(doc: EntityDoc): Promise<EntityDoc> {
    try {
      const res = await this.db.insert(doc as never);
      return { ...doc, _rev: res.rev };
    } catch (e) {
      if (isStatus(e, 409)) throw new Conflict(`${doc.location} already exists`);
      throw translateCouchError(e, `entity ${doc.location}`);
    }
  }

  /** Writes a new revision; PreconditionFailed when `doc._rev` is no longer current. */
  async update(doc: EntityDoc): Promise<EntityDoc> {
    const next = { ...doc, updated: new Date().toISOString() };
    try {
      const res = await this.db.insert(next as never);
      return { ...next, _rev: res.rev };
    } catch (e) {
      if (isStatus(e, 409)) throw new PreconditionFailed(`${doc.location} was changed by someone else (revision ${doc._rev} is not current)`);
      throw translateCouchError(e, `entity ${doc.location}`);
    }
  }

  /** Removes a revision; gone already is success; PreconditionFailed on a stale revision. */
  async remove(doc: EntityDoc): Promise<void> {
    try {
      await this.db.destroy(doc._id, doc._rev ?? '');
    } catch (e) {
      if (isStatus(e, 404)) return;
      if (isStatus(e, 409)) throw new PreconditionFailed(`${doc.location} was changed by someone else`);
      throw translateCouchError(e, `entity ${doc.location}`);
    }
  }

  /**
   * Server-side change with retry on conflict: re-reads and re-applies `mutate` until it lands, so a
   * backend's report never overwrites a client's update. `mutate` returns undefined to give up.
   */
  async modify(tenant: string, location: string, mutate: (doc: EntityDoc) => EntityDoc | undefined): Promise<EntityDoc | undefined> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.get(tenant, location);
      if (!current) return undefined;
      const next = mutate(current);
      if (!next) return current;
      try {
        return await this.update(next);
      } catch (e) {
        if (!(e instanceof PreconditionFailed)) throw e;
      }
    }
    throw new Conflict(`${location} is being changed too often to apply a server update`);
  }

  async byUid(uid: string): Promise<EntityDoc | undefined> {
    const ids = await this.viewIds('by_uid', { key: uid });
    return (await this.getMany(ids))[0];
  }

  async byOcciId(tenant: string, id: string): Promise<EntityDoc | undefined> {
    const ids = await this.viewIds('by_occi_id', { key: [tenant, id] });
    return (await this.getMany(ids))[0];
  }

  /** Locations of a kind's (or a mixin's) collection, one page, with the total. */
  async collection(view: 'by_kind' | 'by_mixin', tenant: string, category: TypeId, page: Page): Promise<{ total: number; ids: string[] }> {
    const range = { startkey: [tenant, category], endkey: [tenant, category, {}] };
    try {
      const key = JSON.stringify([view, tenant, category]);
      const [count, rows] = await Promise.all([
        this.views.run(`count ${key}`, () => this.db.view(DDOC, view, { ...range, reduce: true })),
        this.views.run(`page ${key} ${page.skip} ${page.limit}`, () => this.db.view(DDOC, view, { ...range, reduce: false, skip: page.skip, limit: page.limit })),
      ]);
      const total = (count.rows[0]?.value as number | undefined) ?? 0;
      return { total, ids: rows.rows.map((r) => r.id) };
    } catch (e) {
      throw translateCouchError(e, `collection ${category}`);
    }
  }

  /** Every document of a kind/mixin collection, in location order, fetched in batches (never all at once). */
  async *iterate(view: 'by_kind' | 'by_mixin', tenant: string, category: TypeId, batch = 500): AsyncGenerator<EntityDoc> {
    let startkey: unknown[] = [tenant, category];
    let skip = 0;
    for (;;) {
      let res;
      try {
        res = await this.db.view(DDOC, view, { startkey, endkey: [tenant, category, {}], reduce: false, include_docs: true, limit: batch, skip });
      } catch (e) {
        throw translateCouchError(e, `collection ${category}`);
      }
      for (const row of res.rows) if (row.doc) yield row.doc as unknown as EntityDoc;
      if (res.rows.length < batch) return;
      startkey = res.rows[res.rows.length - 1]!.key as unknown as unknown[];
      skip = 1;
    }
  }

  /** Every document whose location starts with `prefix` (an unbound path ending in '/'), in batches. */
  async *below(tenant: string, prefix: string, batch = 500): AsyncGenerator<EntityDoc> {
    if (prefix.length > LONGEST_LOCATION) return;
    const end = EntityStore.docId(tenant, prefix) + '\ufff0';
    let startkey = EntityStore.docId(tenant, prefix);
    let skip = 0;
    for (;;) {
      let res;
      try {
        res = await this.db.list({ startkey, endkey: end, include_docs: true, limit: batch, skip });
      } catch (e) {
        throw translateCouchError(e, `path ${prefix}`);
      }
      for (const row of res.rows) if (row.doc) yield row.doc as unknown as EntityDoc;
      if (res.rows.length < batch) return;
      startkey = res.rows[res.rows.length - 1]!.id;
      skip = 1;
    }
  }

  /** Links whose source (or target) is the given location. */
  async linksOf(tenant: string, end: 'source' | 'target', location: string): Promise<EntityDoc[]> {
    const ids = await this.viewIds('by_link_end', { key: [tenant, end, location] });
    return this.getMany(ids);
  }

  /** Outgoing links of many resources in one view query (collection renderings). */
  async linksOfMany(tenant: string, locations: readonly string[]): Promise<Map<string, EntityDoc[]>> {
    const out = new Map<string, EntityDoc[]>();
    if (locations.length === 0) return out;
    let ids: string[];
    try {
      const res = await this.db.view(DDOC, 'by_link_end', { keys: locations.map((l) => [tenant, 'source', l]) });
      ids = res.rows.map((r) => r.id);
    } catch (e) {
      throw translateCouchError(e, 'links');
    }
    for (const d of await this.getMany(ids)) {
      const list = out.get(d.source!) ?? [];
      list.push(d);
      out.set(d.source!, list);
    }
    return out;
  }

  /** How many entities, of any tenant, use a kind or mixin. */
  async usage(category: TypeId): Promise<number> {
    try {
      const res = await this.db.view(DDOC, 'usage', { key: category, reduce: true });
      return (res.rows[0]?.value as number | undefined) ?? 0;
    } catch (e) {
      throw translateCouchError(e, 'category usage');
    }
  }

  async *byProvider(provider: string): AsyncGenerator<EntityDoc> {
    const ids = await this.viewIds('by_provider', { startkey: [provider], endkey: [provider, {}] });
    for (let i = 0; i < ids.length; i += 200) for (const d of await this.getMany(ids.slice(i, i + 200))) yield d;
  }

  async leasesDue(now: number, limit = 100): Promise<EntityDoc[]> {
    const ids = await this.viewIds('by_lease', { endkey: now, limit });
    return this.getMany(ids);
  }

  /** Documents left `creating` or `deleting` (work a crash interrupted). */
  async unfinished(): Promise<EntityDoc[]> {
    const ids = await this.viewIds('by_status', {});
    return this.getMany(ids);
  }

  private async viewIds(view: string, params: Record<string, unknown>): Promise<string[]> {
    try {
      const res = await this.db.view(DDOC, view, { ...params, ...(view === 'by_kind' || view === 'by_mixin' ? { reduce: false } : {}) });
      return res.rows.map((r) => r.id);
    } catch (e) {
      throw translateCouchError(e, view);
    }
  }
}
