/**
 * The category manager: the shipped categories, admin-defined ones and tenants' user mixins, kept in
 * CouchDB and cached in a CategoryIndex that follows the `_changes` feed, so several occitan processes
 * sharing one CouchDB see each other's changes. Writes made here update the cache at once.
 */
import { createHash } from 'node:crypto';
import type { DocumentScope } from 'nano';
import { BadRequest, Conflict, Forbidden, NotFound } from '../errors';
import type { Category, CategoryCollection, CategoryDefinition, Mixin, TypeId } from '../model/types';
import { categoryId } from '../model/types';
import { followChanges } from '../store/changes';
import { translateCouchError } from '../store/couch';
import { CategoryGraphError, RESERVED_ATTRIBUTE_PREFIX, RESERVED_SCHEME_BASE, checkCategoryAttributes, isReservedAttribute, isReservedScheme, validateCategoryGraph } from './builtin';
import { CategoryIndex } from './category-index';
import { categoryFromDefinition, idOf } from './definitions';

/**
 * A user mixin's location: URI path characters only (locations travel as written in headers; no ',', which
 * separates text/occi header values), no '.' or '..' segment, and not under the query interface.
 */
const USER_MIXIN_LOCATION = /^\/(?:(?!\.\.?\/)[A-Za-z0-9._~!$&'()*+;=:@-]+\/)+$/;
function checkUserMixinLocation(id: TypeId, location: string): void {
  if (!USER_MIXIN_LOCATION.test(location) || location.startsWith('/-/') || location.startsWith('/.well-known/')) {
    const shown = JSON.stringify(location).replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
    throw new BadRequest(`mixin ${id}: location ${shown} must be '/'-separated segments of letters, digits and . _ ~ - ! $ & ' ( ) * + ; = : @ ending in '/', with no '.' or '..' segment, outside /-/ and /.well-known/`);
  }
}

/**
 * GFD.221 reserves the scheme base and the `occi.` attribute namespace to the OCCI specifications. Tenants
 * are not the specifications: their tags use schemes and attribute names of their own. (Admins may, as
 * the provider implementing spec categories; the graph rules still keep their attribute types consistent.)
 */
function checkUserReserved(c: Mixin): void {
  const id = categoryId(c);
  if (isReservedScheme(c.scheme)) {
    throw new BadRequest(`mixin ${id}: scheme ${c.scheme} is under ${RESERVED_SCHEME_BASE}, which is reserved to the OCCI specifications; use a scheme of your own, e.g. http://example.com/tags#`);
  }
  const name = Object.keys(c.attributes).find(isReservedAttribute);
  if (name !== undefined) {
    throw new BadRequest(`mixin ${id}: attribute name ${name} is in the ${RESERVED_ATTRIBUTE_PREFIX} namespace, which is reserved to the OCCI specifications; use a prefix of your own, e.g. com.example.`);
  }
}

interface CategoryDoc {
  _id: string;
  _rev?: string;
  type: 'category';
  category: Category;
  /** Hash of the shipped definition, so a new release updates builtin categories an admin left alone. */
  builtinHash?: string;
  /** An admin deleted a shipped category: keep it deleted across restarts. */
  removed?: boolean;
}

const GLOBAL = '*';

function docId(id: TypeId, tenant?: string): string {
  return `category:${tenant ?? GLOBAL}:${id}`;
}

function hashOf(c: Category): string {
  return createHash('sha256').update(JSON.stringify(c)).digest('hex');
}

function isStatus(e: unknown, code: number): boolean {
  return typeof e === 'object' && e !== null && (e as { statusCode?: number }).statusCode === code;
}

/** Counts the entities (of any tenant) that use a kind or mixin. */
export type UsageCounter = (id: TypeId) => Promise<number>;

export class CategoryManager {
  readonly index = new CategoryIndex();
  private follower?: { stop(): Promise<void> };

  constructor(
    private readonly db: DocumentScope<unknown>,
    private readonly builtin: readonly Category[],
  ) {}

  /** Seeds the shipped categories, loads everything, and starts following changes. */
  async start(): Promise<void> {
    const docs = await this.loadDocs();
    const byId = new Map(docs.map((d) => [d._id, d]));
    const writes: CategoryDoc[] = [];
    for (const c of this.builtin) {
      const id = docId(categoryId(c));
      const existing = byId.get(id);
      const hash = hashOf(c);
      if (!existing) writes.push({ _id: id, type: 'category', category: c, builtinHash: hash });
      else if (existing.category.origin === 'builtin' && !existing.removed && existing.builtinHash !== hash) {
        writes.push({ ...existing, category: c, builtinHash: hash });
      }
    }
    if (writes.length) {
      // A concurrent start of another process may write the same documents: conflicts are fine.
      await this.db.bulk({ docs: writes }).catch((e: unknown) => {
        throw translateCouchError(e, 'categories');
      });
    }
    // Follow from after the seeding writes (replaying them would only churn the cache); whatever is
    // written between here and the load below is replayed, which is harmless.
    const info = await this.db.info().catch((e: unknown) => {
      throw translateCouchError(e, 'category database');
    });
    for (const d of await this.loadDocs()) this.apply(d);
    // Entity writes dominate the feed: take ids only, fetch just the category documents, and let
    // changes gather briefly between polls (this process's own writes update the cache at once).
    this.follower = followChanges(this.db, {
      since: String(info.update_seq),
      includeDocs: false,
      settleMs: 200,
      onChange: async (change) => {
        if (!change.id.startsWith('category:')) return;
        const [, scope, ...rest] = change.id.split(':');
        // The feed may be behind this process's own writes (a mixin deleted and created again): read
        // the document as it is now, and drop the answer if this process wrote it meanwhile.
        const before = this.localWrites.get(change.id) ?? 0;
        let doc: CategoryDoc | undefined;
        try {
          doc = (await this.db.get(change.id)) as unknown as CategoryDoc;
        } catch (e) {
          // Translated, so an outage is a ServiceUnavailable, which the feed retries instead of skipping.
          if (!isStatus(e, 404)) throw translateCouchError(e, `category document ${change.id}`);
        }
        if ((this.localWrites.get(change.id) ?? 0) !== before) return;
        if (doc) this.apply(doc);
        else this.index.remove(rest.join(':'), scope === GLOBAL ? undefined : scope);
      },
    });
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
  }

  private async loadDocs(): Promise<CategoryDoc[]> {
    try {
      const res = await this.db.list({ startkey: 'category:', endkey: 'category:\ufff0', include_docs: true });
      return res.rows.flatMap((r) => (r.doc ? [r.doc as unknown as CategoryDoc] : []));
    } catch (e) {
      throw translateCouchError(e, 'categories');
    }
  }

  /** Counts this process's writes per document, so a stale read from the changes feed never undoes them. */
  private readonly localWrites = new Map<string, number>();

  private touch(id: string): void {
    this.localWrites.set(id, (this.localWrites.get(id) ?? 0) + 1);
  }

  private apply(d: CategoryDoc): void {
    const id = categoryId(d.category);
    if (d.removed) this.index.remove(id, d.category.origin === 'user' ? d.category.tenant : undefined);
    else this.index.put(d.category);
  }

  list(tenant?: string): CategoryCollection {
    return this.index.list(tenant);
  }

  // --- user mixins (any tenant member) -------------------------------------------------------------

  /** Creates user mixins (tags) for a tenant. All or none: every definition is checked first. */
  async addUserMixins(tenant: string, defs: readonly CategoryDefinition[]): Promise<Mixin[]> {
    if (defs.length === 0) throw new BadRequest('no mixin given: send at least one Category with class "mixin", a scheme, a term and a location');
    const mixins: Mixin[] = [];
    const seenLocations = new Set<string>();
    for (const def of defs) {
      if (def.class && def.class !== 'mixin') throw new BadRequest(`only mixins can be added to /-/ by users; ${idOf(def)} is a ${def.class}`);
      const c = categoryFromDefinition({ ...def, class: 'mixin' }, 'user', tenant) as Mixin;
      const id = categoryId(c);
      checkUserMixinLocation(id, c.location);
      if (mixins.some((m) => categoryId(m) === id)) throw new BadRequest(`the request defines ${id} twice`);
      if (this.index.byId(id, tenant)) throw new Conflict(`category ${id} already exists`);
      // After the collision check: naming an existing category (a spec one included) is a 409 "already exists".
      checkUserReserved(c);
      const clash = this.index.byLocation(c.location, tenant);
      if (clash || seenLocations.has(c.location)) throw new Conflict(`location ${c.location} is already bound to ${clash ? categoryId(clash) : 'another mixin in this request'}`);
      seenLocations.add(c.location);
      for (const d of c.depends) if (!this.index.mixin(d, tenant)) throw new BadRequest(`mixin ${id} depends on ${d}, which is not a known mixin`);
      for (const a of c.applies) if (!this.index.kind(a)) throw new BadRequest(`mixin ${id} applies to ${a}, which is not a known kind`);
      if (c.actions.length) throw new BadRequest(`user mixin ${id} cannot define actions`);
      mixins.push(c);
    }
    // Defaults fit their types, and attributes agree with what the tenant already sees (400 naming them).
    const visible = this.index.all().filter((c) => c.origin !== 'user' || c.tenant === tenant);
    checkCategoryAttributes(mixins, visible);
    const docs: CategoryDoc[] = mixins.map((m) => ({ _id: docId(categoryId(m), tenant), type: 'category', category: m }));
    await this.writeAll(docs);
    for (const d of docs) {
      this.touch(d._id);
      this.apply(d);
    }
    return mixins;
  }

  /**
   * Deletes user mixins; provider-defined (builtin or admin) ones are 403. `disassociate` removes the
   * mixin from the tenant's entities first, as the spec requires.
   */
  async removeUserMixins(tenant: string, ids: readonly TypeId[], disassociate: (id: TypeId) => Promise<void>): Promise<void> {
    if (ids.length === 0) throw new BadRequest('no mixin given: name the mixin to delete with its scheme and term');
    const docs: CategoryDoc[] = [];
    for (const id of ids) {
      const c = this.index.byId(id, tenant);
      if (!c) throw new NotFound(`no category ${id}`);
      if (c.origin !== 'user') throw new Forbidden(`${id} is a provider-defined ${c.class}; only user mixins can be deleted here`);
      docs.push(await this.getDoc(docId(id, tenant)));
    }
    for (const id of ids) {
      // A tenant's other user mixins may depend on this one: deleting it would leave their rel dangling.
      const dependant = this.index.list(tenant).mixins.find((m) => m.depends.includes(id) && !ids.includes(categoryId(m)));
      if (dependant) throw new Conflict(`${categoryId(dependant)} depends on ${id}; delete or change it first`);
    }
    for (const id of ids) await disassociate(id);
    for (const d of docs) {
      try {
        await this.db.destroy(d._id, d._rev ?? '');
      } catch (e) {
        if (!isStatus(e, 404)) throw translateCouchError(e, `category ${categoryId(d.category)}`);
      }
      this.touch(d._id);
      this.index.remove(categoryId(d.category), tenant);
    }
  }

  // --- admin category management (pyOCNI §4.1) ----------------------------------------------------

  /** Creates kinds, mixins and actions. 409 when an id or location exists or the result is inconsistent. */
  async adminCreate(defs: readonly CategoryDefinition[]): Promise<Category[]> {
    const created = defs.map((d) => categoryFromDefinition(d, 'admin'));
    created.forEach((c, i) => {
      if (created.findIndex((o) => categoryId(o) === categoryId(c)) !== i) throw new BadRequest(`the request defines ${categoryId(c)} twice`);
    });
    for (const c of created) {
      if (this.index.globalById(categoryId(c)) || this.userMixinAnywhere(categoryId(c))) throw new Conflict(`category ${categoryId(c)} already exists`);
    }
    this.checkGraph(created, []);
    const docs: CategoryDoc[] = [];
    for (const c of created) {
      const _id = docId(categoryId(c));
      // A category an admin deleted stays as a `removed` document: creating it again takes that revision
      // (without it CouchDB answers a conflict and the create would be refused forever).
      const old = (await this.db.get(_id).catch(() => undefined)) as CategoryDoc | undefined;
      docs.push({ _id, ...(old?.removed && old._rev ? { _rev: old._rev } : {}), type: 'category', category: c });
    }
    await this.writeAll(docs);
    for (const d of docs) {
      this.touch(d._id);
      this.apply(d);
    }
    return created;
  }

  /** Replaces existing global categories. Refuses a change that would strand existing entities. */
  async adminUpdate(defs: readonly CategoryDefinition[], usage: UsageCounter): Promise<Category[]> {
    const updated: Category[] = [];
    for (const def of defs) {
      const id = idOf(def);
      const old = this.index.globalById(id);
      if (!old) throw new NotFound(`no category ${id} to update (create it with POST /-/)`);
      const next = categoryFromDefinition({ ...def, class: def.class ?? old.class }, 'admin');
      if (next.class !== old.class) throw new Conflict(`${id} is a ${old.class}; it cannot become a ${next.class}`);
      if (old.class !== 'action' && next.class !== 'action' && old.location !== next.location && (await usage(id)) > 0) {
        throw new Conflict(`${id} has entities at ${old.location ?? '(none)'}; its location cannot change while they exist`);
      }
      if (old.class === 'kind' && next.class === 'kind' && old.parent !== next.parent && (await usage(id)) > 0) {
        throw new Conflict(`${id} has entities; its parent cannot change while they exist`);
      }
      updated.push(next);
    }
    this.checkGraph(updated, []);
    const docs: CategoryDoc[] = [];
    for (const c of updated) docs.push({ ...(await this.getDoc(docId(categoryId(c)))), category: c, removed: false });
    await this.writeAll(docs);
    for (const d of docs) {
      this.touch(d._id);
      this.apply(d);
    }
    return updated;
  }

  /**
   * Deletes global categories. 409 while entities use them or other categories refer to them; 403 for a
   * category occitan ships under the OGF scheme base (OCCI 1.1: deleting a provider-defined mixin is
   * Forbidden), even after an admin updated it. Admin-defined and occitan's own extension categories go.
   */
  async adminDelete(ids: readonly TypeId[], usage: UsageCounter): Promise<void> {
    for (const id of ids) {
      const c = this.index.globalById(id);
      if (!c) throw new NotFound(`no category ${id}`);
      if (this.isShippedSpecCategory(id)) throw new Forbidden(`${id} is a provider-defined ${c.class} the OCCI specification requires; it cannot be deleted`);
      const n = c.class === 'action' ? 0 : await usage(id);
      if (n > 0) throw new Conflict(`${id} is used by ${n} entit${n === 1 ? 'y' : 'ies'}; delete or change them first`);
    }
    this.checkGraph([], ids);
    const docs: CategoryDoc[] = [];
    for (const id of ids) {
      const d = await this.getDoc(docId(id));
      docs.push({ ...d, removed: true });
    }
    await this.writeAll(docs);
    for (const d of docs) {
      this.touch(d._id);
      this.apply(d);
    }
  }

  /** Shipped (builtin) and under the OGF scheme base: by id, so an admin's update does not make it deletable. */
  private isShippedSpecCategory(id: TypeId): boolean {
    return this.builtin.some((b) => categoryId(b) === id && isReservedScheme(b.scheme));
  }

  private userMixinAnywhere(id: TypeId): boolean {
    return this.index.all().some((c) => c.origin === 'user' && categoryId(c) === id);
  }

  /**
   * Validates the whole global graph as it would be after the change: 409 naming the problem, but 400 for
   * a definition wrong in itself (an attribute's name, pattern, default or type), as for user mixins.
   */
  private checkGraph(changed: readonly Category[], removed: readonly TypeId[]): void {
    const byId = new Map<TypeId, Category>();
    for (const c of this.index.all()) if (c.origin !== 'user') byId.set(categoryId(c), c);
    for (const id of removed) byId.delete(id);
    for (const c of changed) byId.set(categoryId(c), c);
    try {
      validateCategoryGraph([...byId.values()]);
    } catch (e) {
      if (e instanceof CategoryGraphError && e.rule.startsWith('attribute-')) throw e;
      throw new Conflict(`the change would leave the categories inconsistent: ${(e as Error).message}`);
    }
  }

  private async getDoc(id: string): Promise<CategoryDoc> {
    try {
      return (await this.db.get(id)) as unknown as CategoryDoc;
    } catch (e) {
      throw translateCouchError(e, `category ${id}`);
    }
  }

  /** Writes documents; a conflict on any (another writer won) is reported as 409 after undoing the rest. */
  private async writeAll(docs: CategoryDoc[]): Promise<void> {
    let res;
    try {
      res = await this.db.bulk({ docs });
    } catch (e) {
      throw translateCouchError(e, 'categories');
    }
    const failed = res.filter((r) => r.error);
    if (failed.length === 0) {
      res.forEach((r, i) => (docs[i]!._rev = r.rev));
      return;
    }
    // Compensate: remove the documents this request created, so a create is all or none. (Updates
    // that raced are rare admin operations; the winner's version stands and the client is told.)
    const undo = res.flatMap((r, i) => (r.error || !r.rev || docs[i]!._rev ? [] : [{ ...docs[i]!, _rev: r.rev, _deleted: true }]));
    if (undo.length) await this.db.bulk({ docs: undo }).catch(() => undefined);
    throw new Conflict(`category ${failed[0]!.id} was changed concurrently; retry`);
  }
}
