/**
 * The OCCI verbs, written once for every kind and media type: create, get, update, replace, delete and
 * actions on single entities. Building new documents from requests is in entity-documents.ts; collections,
 * filters and mixin membership are in collections.ts.
 *
 * Failure rule: a backend failure never leaves a half-made entity looking healthy. A create inserts the
 * document as `creating`, asks the backend (which leaves nothing behind when it fails), and removes the
 * document again on failure; links of a resource are made after it, and a failed link undoes them all.
 * A request that makes several entities (a resource with inline links) keeps them all `creating` until the
 * last is made, then marks its links `ready` and its resource last: a crash in between leaves the resource
 * `creating`, and start-up recovery undoes the whole unacknowledged request (links, then the resource).
 */
import type { Backend, BackendEntity, Change } from '../backends/backend';
import type { BackendRegistry } from '../backends/registry';
import type { CategoryManager } from '../category-manager/manager';
import { BadRequest, Conflict, Forbidden, NotFound, NotImplemented, OcciError, PreconditionFailed } from '../errors';
import type { ActionRequest, Attributes, EntityRequest, Kind, LinkRequest, Mixin, TypeId } from '../model/types';
import { CORE_ATTR, INFRA, categoryId, splitTypeId } from '../model/types';
import { coerceAttribute } from '../model/attributes';
import type { EntityDoc, EntityStore } from '../store/entity-store';
import { acting } from './acting';
import { EntityStore as Store } from '../store/entity-store';
import { EntityDocuments, SHARED_TENANT, isLocalTarget, toPath } from './entity-documents';
import {
  PROVIDER_ATTR,
  PROVIDER_MIXIN,
  checkAttributes,
  checkMixins,
  resolveCategories,
  templateFamily,
} from './validate';

export interface ServiceDeps {
  categories: CategoryManager;
  entities: EntityStore;
  backends: BackendRegistry;
  now?: () => number;
  /** The lease mixin's hour in ms (`timers.leaseHour`, default 3,600,000). */
  leaseHourMs?: number;
}

export interface WriteOptions {
  /** `If-Match`: the revision the client last saw. */
  ifMatch?: string;
}

export { SHARED_TENANT, toPath } from './entity-documents';

export class OcciService {
  readonly categories: CategoryManager;
  readonly entities: EntityStore;
  readonly backends: BackendRegistry;
  private readonly now: () => number;
  /** Per-entity queues: writes to one entity run one after another in this process (see `serially`). */
  private readonly queues = new Map<string, Promise<void>>();
  private readonly documents: EntityDocuments;

  constructor(deps: ServiceDeps) {
    this.categories = deps.categories;
    this.entities = deps.entities;
    this.backends = deps.backends;
    this.now = deps.now ?? Date.now;
    this.documents = new EntityDocuments(this.categories, this.backends, this.now, (kind, verb) => this.requireManager(kind, verb), deps.leaseHourMs);
  }

  get index() {
    return this.categories.index;
  }

  /**
   * Runs `work` after every earlier write to the same entity in this process has finished. A write reads
   * the document, checks `If-Match`, calls the backend and then stores the new revision; without this,
   * writers holding the same ETag all reach the backend before CouchDB's compare-and-set picks one, so a
   * request answered 412 would still have changed the platform (and the provider's own compare-and-set
   * gives up under the contention: 503). Across processes, CouchDB's `_rev` check still keeps the document
   * consistent.
   */
  private serially<T>(tenant: string, location: string, work: () => Promise<T>): Promise<T> {
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

  /** A kind marked `adminOnly` or `sharedRead` (docker#node) is managed by global admins only; the system's own work passes. */
  private requireManager(kind: TypeId, verb: string): void {
    const k = this.index.kind(kind);
    if (!k?.adminOnly && !k?.sharedRead) return;
    const who = acting();
    if (who && !who.admin) throw new Forbidden(`only a global admin may ${verb} an entity of ${kind}`);
  }

  // --- reading -------------------------------------------------------------------------------------

  async get(tenant: string, location: string): Promise<EntityDoc> {
    const doc = await this.find(tenant, location);
    if (!doc) throw new NotFound(`no entity at ${location}`);
    return doc;
  }

  /**
   * The entity a caller of `tenant` reaches at `location`: its tenant's own, else an entity of a
   * `sharedRead` kind in the shared tenant (only those cross tenants; writes to them still need a global admin).
   */
  async find(tenant: string, location: string): Promise<EntityDoc | undefined> {
    const own = await this.entities.get(tenant, location);
    if (own || tenant === SHARED_TENANT) return own;
    const collection = location.slice(0, location.lastIndexOf('/') + 1);
    const kind = this.index.byLocation(collection);
    if (kind?.class !== 'kind' || !kind.sharedRead) return undefined;
    const shared = await this.entities.get(SHARED_TENANT, location);
    return shared && this.index.kind(shared.kind)?.sharedRead ? shared : undefined;
  }

  /** The tenant whose entities a collection of `kind` lists for a caller of `tenant`. */
  collectionTenant(tenant: string, kind: Kind): string {
    return kind.sharedRead ? SHARED_TENANT : tenant;
  }

  /** Outgoing links of a resource (for its rendering). */
  async linksOf(doc: EntityDoc): Promise<EntityDoc[]> {
    if (doc.source !== undefined) return [];
    return this.entities.linksOf(doc.tenant, 'source', doc.location);
  }

  toBackendEntity(doc: EntityDoc, ends?: { source?: EntityDoc; target?: EntityDoc }): BackendEntity {
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

  private async backendEntity(doc: EntityDoc): Promise<BackendEntity> {
    if (doc.source === undefined) return this.toBackendEntity(doc);
    const source = await this.entities.get(doc.tenant, doc.source);
    const target = doc.target?.startsWith('/') ? await this.entities.get(doc.tenant, doc.target) : undefined;
    return this.toBackendEntity(doc, { source, target });
  }

  // --- creating ------------------------------------------------------------------------------------

  /** The document for a new entity, not yet stored (see EntityDocuments.prepare). */
  prepare(tenant: string, req: EntityRequest, at: { collection?: Kind; path?: string; source?: EntityDoc }): EntityDoc {
    return this.documents.prepare(tenant, req, at);
  }

  /** Inline links of a resource request, prepared against the (prepared) resource. */
  prepareLinks(tenant: string, resource: EntityDoc, links: readonly LinkRequest[]): EntityDoc[] {
    return this.documents.prepareLinks(tenant, resource, links);
  }

  /** Checks a link's ends before anything is made: local source resource, local target where required. */
  private async checkLinkEnds(doc: EntityDoc, pendingSource?: EntityDoc): Promise<{ source: EntityDoc; target?: EntityDoc }> {
    const source = pendingSource ?? (await this.entities.get(doc.tenant, doc.source!));
    if (!source) throw new BadRequest(`link source ${doc.source} is not a resource here`);
    if (source.source !== undefined) throw new BadRequest(`link source ${doc.source} is a link, not a resource`);
    let target: EntityDoc | undefined;
    if (doc.target!.startsWith('/')) {
      target = await this.entities.get(doc.tenant, doc.target!);
      if (!target) throw new BadRequest(`link target ${doc.target} does not exist`);
      if (doc.attributes[CORE_ATTR.targetKind] === undefined) doc.attributes[CORE_ATTR.targetKind] = target.kind;
    } else if (doc.kind === INFRA + 'storagelink' || doc.kind === INFRA + 'networkinterface') {
      throw new BadRequest(`a ${splitTypeId(doc.kind).term} needs a local target; ${doc.target} is not on this server`);
    }
    return { source, target };
  }

  /** The provider that realises a link: its source's, when that provider serves the link's kind. */
  private linkProvider(doc: EntityDoc, source: EntityDoc): string {
    if (this.backends.serves(source.provider, doc.kind)) return source.provider;
    return doc.provider;
  }

  /**
   * Stores and realises new entities (a resource with its inline links, or several resources): all or
   * none. On any failure, everything made so far is undone and the error is rethrown. When the request
   * makes more than one entity, each stays `creating` until all are made (see `settle`).
   */
  async create(docs: ReadonlyArray<{ resource: EntityDoc; links: EntityDoc[] }>, opts: { createOnly?: boolean } = {}): Promise<EntityDoc[]> {
    const made: EntityDoc[] = [];
    // One entity alone is marked `ready` by its own final write; several are settled together below.
    const alone = docs.length === 1 && docs[0]!.links.length === 0;
    try {
      for (const { resource, links } of docs) {
        for (const l of links) {
          const ends = await this.checkLinkEnds(l, resource.source === undefined ? resource : undefined);
          l.provider = this.linkProvider(l, ends.source);
          l.attributes[PROVIDER_ATTR] = l.provider;
        }
        if (resource.source !== undefined) {
          const ends = await this.checkLinkEnds(resource);
          resource.provider = this.linkProvider(resource, ends.source);
          resource.attributes[PROVIDER_ATTR] = resource.provider;
        }
        made.push(await this.realise(resource, { ...opts, ready: alone }));
        for (const l of links) made.push(await this.realise(l, { ready: false }));
      }
      if (alone) return made;
      return await this.settle(made, docs);
    } catch (e) {
      for (const d of made.reverse()) await this.destroy(d).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Marks the entities of one request `ready` once all are made: every inline link first, the resources
   * last. Until its resource is `ready`, a crash leaves the resource `creating`, and recovery deletes it with
   * all its links (ready or not) through their backends: an unacknowledged create leaves nothing behind.
   * An entity that is no longer ours to settle (recovery claimed it, or it was deleted meanwhile) fails the
   * whole request (409), which the caller undoes.
   */
  private async settle(made: readonly EntityDoc[], docs: ReadonlyArray<{ resource: EntityDoc; links: EntityDoc[] }>): Promise<EntityDoc[]> {
    const resources = new Set(docs.map((d) => d.resource.location));
    const order = [...made.filter((d) => !resources.has(d.location)), ...made.filter((d) => resources.has(d.location))];
    const settled = new Map<string, EntityDoc>();
    for (const doc of order) {
      const ready = await this.entities.modify(doc.tenant, doc.location, (d) => (d.uid === doc.uid && d.status === 'creating' ? { ...d, status: 'ready' } : undefined));
      if (!ready || ready.uid !== doc.uid || ready.status !== 'ready') throw new Conflict(`${doc.location} was deleted while it was being created`);
      settled.set(doc.location, ready);
    }
    return made.map((d) => settled.get(d.location)!);
  }

  /**
   * Inserts one document as `creating`, asks its backend, then stores what the backend made (its ref, so
   * recovery can find the platform object) and, with `ready`, marks it ready. Undoes itself on failure.
   */
  private async realise(doc: EntityDoc, opts: { createOnly?: boolean; ready: boolean }): Promise<EntityDoc> {
    // A fresh urn:uuid cannot clash: only a client-chosen id needs the (view-indexing, slow) lookup.
    if (!this.documents.generatedIds.has(doc) && (await this.entities.byOcciId(doc.tenant, doc.attributes[CORE_ATTR.id] as string))) {
      throw new Conflict(`an entity with id ${doc.attributes[CORE_ATTR.id] as string} already exists`);
    }
    let stored: EntityDoc;
    try {
      // `updated` is when the work started (recovery's grace counts from it), not when the request was read.
      stored = await this.entities.insert({ ...doc, updated: new Date().toISOString() });
    } catch (e) {
      if (e instanceof Conflict && opts.createOnly) throw new PreconditionFailed(`${doc.location} exists (If-None-Match: *)`);
      throw e;
    }
    try {
      const backend = this.backends.get(doc.provider);
      const realised = await backend.create(await this.backendEntity(stored));
      stored = await this.entities.update({
        ...stored,
        attributes: { ...stored.attributes, ...realised.attributes },
        ...(realised.ref !== undefined ? { ref: realised.ref } : {}),
        status: opts.ready ? 'ready' : 'creating',
      });
      return stored;
    } catch (e) {
      await this.entities.remove(stored).catch(() => undefined);
      throw e;
    }
  }

  // --- updating ------------------------------------------------------------------------------------

  private checkRevision(doc: EntityDoc, opts: WriteOptions): void {
    if (opts.ifMatch !== undefined && opts.ifMatch !== '*' && opts.ifMatch.replace(/^W\//, '').replace(/"/g, '') !== doc._rev) {
      throw new PreconditionFailed(`${doc.location} is at revision ${doc._rev}, not ${opts.ifMatch}`);
    }
  }

  /**
   * POST to an entity: adds the mixins named (a new template replaces the old one of its family) and
   * changes the attributes given. Inline links in a resource's request are created.
   */
  async update(tenant: string, location: string, req: EntityRequest, opts: WriteOptions = {}): Promise<EntityDoc> {
    return this.serially(tenant, location, () => this.updateNow(tenant, location, req, opts));
  }

  private async updateNow(tenant: string, location: string, req: EntityRequest, opts: WriteOptions): Promise<EntityDoc> {
    const doc = await this.get(tenant, location);
    this.checkRevision(doc, opts);
    const { kind, mixins } = resolveCategories(this.index, tenant, req.categories);
    if (kind && categoryId(kind) !== doc.kind) throw new BadRequest(`the kind of ${location} is ${doc.kind}; it cannot change to ${categoryId(kind)}`);
    const next = this.withMixins(doc, mixins, 'add');
    const updated = await this.applyChange(doc, next, req.attributes, false);
    if (req.links.length && doc.source === undefined) {
      // New inline links on an existing resource: each link is created as a standalone entity, all or none.
      await this.create(this.prepareLinks(tenant, updated, req.links).map((l) => ({ resource: l, links: [] })));
    }
    return this.get(tenant, location);
  }

  /** PUT to an existing entity: full replacement of mixins and mutable attributes; links stay. */
  async replace(tenant: string, location: string, req: EntityRequest, opts: WriteOptions = {}): Promise<EntityDoc> {
    return this.serially(tenant, location, () => this.replaceNow(tenant, location, req, opts));
  }

  private async replaceNow(tenant: string, location: string, req: EntityRequest, opts: WriteOptions): Promise<EntityDoc> {
    const doc = await this.get(tenant, location);
    this.checkRevision(doc, opts);
    if (req.links.length) throw new BadRequest('a full update (PUT) leaves links intact; send links to the link kind\'s location or with POST');
    const { kind, mixins } = resolveCategories(this.index, tenant, req.categories);
    if (kind && categoryId(kind) !== doc.kind) throw new BadRequest(`the kind of ${location} is ${doc.kind}; it cannot change to ${categoryId(kind)}`);
    const next = this.withMixins(doc, mixins, 'replace');
    return this.applyChange(doc, next, req.attributes, true);
  }

  /** The document with its mixins changed; templates of one family replace each other. */
  withMixins(doc: EntityDoc, mixins: readonly Mixin[], mode: 'add' | 'replace' | 'remove'): EntityDoc {
    const kind = this.index.kind(doc.kind);
    if (!kind) throw new Conflict(`the kind ${doc.kind} of ${doc.location} no longer exists`);
    const ids = mixins.map(categoryId).filter((m) => m !== PROVIDER_MIXIN);
    let list: TypeId[];
    if (mode === 'remove') list = doc.mixins.filter((m) => !ids.includes(m));
    else {
      checkMixins(this.index, doc.tenant, kind, mixins);
      const base = mode === 'replace' ? [] : doc.mixins.filter((m) => m !== PROVIDER_MIXIN);
      const families = new Set(mixins.map((m) => templateFamily(this.index, m, doc.tenant)).filter((f): f is TypeId => !!f));
      // A new OS or resource template removes the old one at once (GFD.224 §templates).
      list = base.filter((m) => {
        const mm = this.index.mixin(m, doc.tenant);
        const f = mm ? templateFamily(this.index, mm, doc.tenant) : undefined;
        return !(f && families.has(f)) && !ids.includes(m);
      });
      list.push(...ids);
    }
    if (!list.includes(PROVIDER_MIXIN)) list.push(PROVIDER_MIXIN);
    return { ...doc, mixins: list, mixinClosure: this.index.mixinClosure(list, doc.tenant).map(categoryId) };
  }

  /**
   * Validates `given` against the entity's definitions, asks the backend, stores the new revision.
   * `full`: mutable attributes not given are reset to their defaults (PUT).
   */
  async applyChange(doc: EntityDoc, next: EntityDoc, given: Attributes, full: boolean): Promise<EntityDoc> {
    this.requireManager(doc.kind, 'change');
    const defs = this.index.attributeDefs(next.kind, next.mixins, next.tenant);
    const checked = checkAttributes(given, { defs, current: doc.attributes });
    const attributes: Attributes = {};
    for (const [name, def] of Object.entries(defs)) {
      const current = doc.attributes[name];
      if (checked[name] !== undefined) attributes[name] = checked[name]!;
      else if (full && def.mutable && name !== CORE_ATTR.source && name !== CORE_ATTR.target) {
        if (def.default !== undefined) attributes[name] = def.default;
      } else if (current !== undefined) attributes[name] = current;
      else if (def.default !== undefined) attributes[name] = def.default;
    }
    for (const [name, value] of Object.entries(doc.attributes)) if (!(name in attributes) && !(name in defs)) attributes[name] = value;
    const missing = Object.entries(defs).filter(([n, d]) => d.required && attributes[n] === undefined && n !== PROVIDER_ATTR).map(([n]) => n);
    if (missing.length) throw new BadRequest(`missing required attribute${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    const candidate: EntityDoc = { ...next, attributes };
    if (candidate.source !== undefined) {
      const src = attributes[CORE_ATTR.source];
      const tgt = attributes[CORE_ATTR.target];
      if (typeof src === 'string') candidate.source = toPath(src);
      if (typeof tgt === 'string') candidate.target = isLocalTarget(tgt) ? toPath(tgt) : tgt;
      attributes[CORE_ATTR.source] = candidate.source;
      attributes[CORE_ATTR.target] = candidate.target!;
      if (candidate.source !== doc.source || candidate.target !== doc.target) await this.checkLinkEnds(candidate);
    }
    this.documents.applyLease(candidate);
    const change: Change = {
      attributes: Object.fromEntries(Object.entries(attributes).filter(([n, v]) => JSON.stringify(doc.attributes[n]) !== JSON.stringify(v))),
      mixinsAdded: candidate.mixins.filter((m) => !doc.mixins.includes(m)),
      mixinsRemoved: doc.mixins.filter((m) => !candidate.mixins.includes(m)),
    };
    if (Object.keys(change.attributes).length === 0 && change.mixinsAdded.length === 0 && change.mixinsRemoved.length === 0) return doc;
    const backend = this.backends.get(doc.provider);
    const realised = await backend.update(await this.backendEntity(candidate), change);
    const stored = await this.entities.update({
      ...candidate,
      attributes: { ...candidate.attributes, ...realised.attributes },
      ...(realised.ref !== undefined ? { ref: realised.ref } : {}),
    });
    // An update may replace the runtime (Docker swaps in a new container): its links follow.
    if (realised.runtimeChanged) await this.rerealiseLinks(stored);
    return stored;
  }

  // --- deleting ------------------------------------------------------------------------------------

  /** DELETE an entity: a resource's links (outgoing and incoming) go first. */
  async delete(tenant: string, location: string, opts: WriteOptions = {}): Promise<void> {
    return this.serially(tenant, location, async () => {
      const doc = await this.get(tenant, location);
      this.checkRevision(doc, opts);
      await this.destroy(doc);
    });
  }

  /**
   * One member of a collection DELETE: in the entity's queue like a single DELETE, re-read there (gone
   * already is success: false), then destroyed. Never races a write to the same entity in this process.
   */
  async deleteMember(tenant: string, location: string): Promise<boolean> {
    return this.serially(tenant, location, async () => {
      const fresh = await this.entities.get(tenant, location);
      if (!fresh) return false;
      await this.destroy(fresh);
      return true;
    });
  }

  /** What `destroy` would refuse before touching anything (a kind only global admins manage): checked first by collection DELETEs. */
  checkDeletable(doc: EntityDoc): void {
    this.requireManager(doc.kind, 'delete');
  }

  /** Removes an entity from its platform and the store; idempotent. */
  async destroy(doc: EntityDoc): Promise<void> {
    this.requireManager(doc.kind, 'delete');
    if (doc.source === undefined) {
      const links = [
        ...(await this.entities.linksOf(doc.tenant, 'source', doc.location)),
        ...(await this.entities.linksOf(doc.tenant, 'target', doc.location)),
      ];
      for (const l of links) await this.destroy(l);
    }
    // Mark first, so a crash between the backend call and the removal is finished at start-up.
    let marked = doc;
    if (doc.status !== 'deleting') {
      const m = await this.entities.modify(doc.tenant, doc.location, (d) => ({ ...d, status: 'deleting' }));
      if (!m) return;
      marked = m;
    }
    try {
      await this.backends.get(doc.provider).delete(await this.backendEntity(marked));
    } catch (e) {
      // A refusal (a docker node that still holds reservations: 409) leaves the entity as it was; only an
      // outage (5xx) leaves it marked, for the recovery pass to finish.
      if (e instanceof OcciError && e.status < 500) {
        await this.entities.modify(doc.tenant, doc.location, (d) => (d.status === 'deleting' ? { ...d, status: 'ready' } : undefined)).catch(() => undefined);
      }
      throw e;
    }
    // The platform side is gone: remove the document whatever revision a concurrent server-side change
    // (an action's report, a link re-realised) gave it meanwhile; a stale revision was a 412 after the
    // entity was already deleted from its platform.
    for (let attempt = 1; ; attempt++) {
      const fresh = await this.entities.get(doc.tenant, doc.location);
      if (!fresh || fresh.uid !== doc.uid) return;
      try {
        await this.entities.remove(fresh);
        return;
      } catch (e) {
        if (!(e instanceof PreconditionFailed) || attempt >= 5) throw e;
      }
    }
  }

  // --- actions -------------------------------------------------------------------------------------

  /** The action of `term` defined for this entity (kind chain and mixins), checked against the body. */
  resolveAction(doc: EntityDoc, term: string, req: ActionRequest): TypeId {
    const available = this.index.actions(doc.kind, doc.mixins, doc.tenant);
    const matches = available.filter((a) => splitTypeId(a).term === term);
    if (req.action && !matches.includes(req.action)) {
      if (splitTypeId(req.action).term !== term) throw new BadRequest(`the query names action ${term} but the body names ${req.action}`);
      throw new BadRequest(`action ${req.action} is not defined for ${doc.kind}`);
    }
    if (matches.length === 0) throw new BadRequest(`no action ${JSON.stringify(term)} for ${doc.location} (available: ${available.map((a) => splitTypeId(a).term).join(', ') || 'none'})`);
    if (matches.length > 1 && !req.action) throw new Conflict(`action ${term} is ambiguous (${matches.join(', ')}); name it with its scheme in a Category`);
    return req.action ?? matches[0]!;
  }

  /** Validates action parameters against the action's attribute definitions. */
  checkParams(action: TypeId, params: Attributes): Attributes {
    const def = this.index.action(action);
    const defs = def?.attributes ?? {};
    const out: Attributes = {};
    for (const [name, value] of Object.entries(params)) {
      const d = Object.hasOwn(defs, name) ? defs[name] : undefined;
      if (!d) throw new BadRequest(`action ${action} has no parameter ${name}${Object.keys(defs).length ? ` (parameters: ${Object.keys(defs).join(', ')})` : ''}`);
      out[name] = coerceAttribute(name, value, d);
    }
    for (const [name, d] of Object.entries(defs)) {
      if (out[name] === undefined && d.default !== undefined) out[name] = d.default;
      if (out[name] === undefined && d.required) throw new BadRequest(`action ${action} needs parameter ${name}`);
    }
    return out;
  }

  /** The backend that performs `action` on `doc`, or 501 when its provider cannot. */
  actionBackend(doc: EntityDoc, action: TypeId): Backend {
    const backend = this.backends.get(doc.provider);
    // A backend that does not list the entity's kind only records it (dummy for admin-defined kinds): every action is recorded.
    if (!backend.actions.includes(action) && backend.kinds.includes(doc.kind)) {
      throw new NotImplemented(`provider ${doc.provider} cannot perform ${action}`);
    }
    return backend;
  }

  /** Whether `action` would reach a backend that performs it (for rendering action links). */
  canPerform(doc: EntityDoc, action: TypeId): boolean {
    try {
      this.actionBackend(doc, action);
      return true;
    } catch {
      return false;
    }
  }

  async action(tenant: string, location: string, term: string, req: ActionRequest, opts: WriteOptions = {}): Promise<EntityDoc> {
    return this.serially(tenant, location, async () => {
      const doc = await this.get(tenant, location);
      this.checkRevision(doc, opts);
      const action = this.resolveAction(doc, term, req);
      const params = this.checkParams(action, req.attributes);
      return this.perform(doc, action, params);
    });
  }

  async perform(doc: EntityDoc, action: TypeId, params: Attributes): Promise<EntityDoc> {
    this.requireManager(doc.kind, 'act on');
    const backend = this.actionBackend(doc, action);
    const realised = await backend.action(await this.backendEntity(doc), action, params);
    const updated = await this.entities.modify(doc.tenant, doc.location, (d) => ({
      ...d,
      attributes: { ...d.attributes, ...realised.attributes },
      ...(realised.ref !== undefined ? { ref: realised.ref } : {}),
    }));
    if (!updated) throw new NotFound(`${doc.location} was deleted during the action`);
    if (realised.runtimeChanged) await this.rerealiseLinks(updated);
    return updated;
  }

  /** After a compute's runtime changed, its links are realised again (their backends adopt or rebuild). */
  async rerealiseLinks(resource: EntityDoc): Promise<void> {
    for (const link of await this.entities.linksOf(resource.tenant, 'source', resource.location)) {
      // Only settled links: one being created or deleted belongs to the request working on it (two creates
      // of one interface at once tore down each other's veth; found by the chaos suite).
      if (link.status !== 'ready') continue;
      const realised = await this.backends.get(link.provider).create(await this.backendEntity(link));
      await this.entities.modify(link.tenant, link.location, (d) => ({
        ...d,
        attributes: { ...d.attributes, ...realised.attributes },
        ...(realised.ref !== undefined ? { ref: realised.ref } : {}),
      }));
    }
  }
}
