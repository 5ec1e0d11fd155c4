/**
 * The OCCI verbs, written once for every kind and media type: create, get, update, replace, delete and
 * actions on single entities. Building new documents from requests is in entity-documents.ts; deleting in
 * entity-deletion.ts; actions in entity-actions.ts (each with its own failure rule); collections, filters
 * and mixin membership are in collections.ts.
 *
 * Failure rule: a backend failure never leaves a half-made entity looking healthy. A create inserts the
 * document as `creating`, asks the backend (which leaves nothing behind when it fails), and on a failure
 * after that (storing what the backend made) deletes it through the backend; either way the document is
 * removed again. Links of a resource are made after it, and a failed link undoes them all.
 * A request that makes several entities (a resource with inline links) keeps them all `creating` until the
 * last is made, then marks its links `ready` and its resource last: a crash in between leaves the resource
 * `creating`, and start-up recovery undoes the whole unacknowledged request (links, then the resource).
 */
import type { Backend, BackendEntity, Change, Realised } from '../backends/backend';
import type { BackendRegistry } from '../backends/registry';
import type { CategoryManager } from '../category-manager/manager';
import { BadRequest, Conflict, NotFound, PreconditionFailed } from '../errors';
import type { ActionRequest, Attributes, EntityRequest, Kind, LinkRequest, Mixin, TypeId } from '../model/types';
import { CORE_ATTR, INFRA, categoryId, splitTypeId } from '../model/types';
import type { EntityDoc, EntityStore } from '../store/entity-store';
import { EntityActions } from './entity-actions';
import { EntityDeletion } from './entity-deletion';
import { EntityDocuments, SHARED_TENANT, isLocalTarget, newLinks, toPath } from './entity-documents';
import { EntityQueues, backendEntity, checkRevision, requireManager, requireSettled, type ServiceParts, type WriteOptions } from './entity-parts';
import {
  PROVIDER_ATTR,
  PROVIDER_MIXIN,
  checkAttributes,
  checkMixins,
  resolveCategories,
  templateDefaults,
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

export { SHARED_TENANT, toPath } from './entity-documents';
export type { WriteOptions } from './entity-parts';

export class OcciService {
  readonly categories: CategoryManager;
  readonly entities: EntityStore;
  readonly backends: BackendRegistry;
  private readonly now: () => number;
  /** Writes to one entity run one after another in this process (see EntityQueues). */
  private readonly queues = new EntityQueues();
  private readonly documents: EntityDocuments;
  private readonly actions: EntityActions;
  private readonly deletion: EntityDeletion;

  constructor(deps: ServiceDeps) {
    this.categories = deps.categories;
    this.entities = deps.entities;
    this.backends = deps.backends;
    this.now = deps.now ?? Date.now;
    this.documents = new EntityDocuments(this.categories, this.backends, this.now, (kind, verb) => requireManager(this.index, kind, verb), deps.leaseHourMs);
    const parts: ServiceParts = {
      categories: this.categories,
      entities: this.entities,
      backends: this.backends,
      queues: this.queues,
      get: (tenant, location) => this.get(tenant, location),
      rerealiseLinks: (resource) => this.rerealiseLinks(resource),
    };
    this.actions = new EntityActions(parts);
    this.deletion = new EntityDeletion(parts);
  }

  get index() {
    return this.categories.index;
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

  private backendEntity(doc: EntityDoc): Promise<BackendEntity> {
    return backendEntity(this.entities, doc);
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
   * recovery can find the platform object) and, with `ready`, marks it ready. Undoes itself on failure,
   * what the backend made included when the store write after it fails (EntityDeletion.undoCreate).
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
    let realised: Realised | undefined;
    try {
      const backend = this.backends.get(doc.provider);
      realised = await backend.create(await this.backendEntity(stored));
      stored = await this.entities.update({
        ...stored,
        attributes: { ...stored.attributes, ...realised.attributes },
        ...(realised.ref !== undefined ? { ref: realised.ref } : {}),
        status: opts.ready ? 'ready' : 'creating',
      });
      return stored;
    } catch (e) {
      await this.deletion.undoCreate(stored, realised);
      // Only the system changes a `creating` document (a DELETE, recovery): the client asked for no revision.
      if (e instanceof PreconditionFailed) throw new Conflict(`${doc.location} was changed or deleted while it was being created`);
      throw e;
    }
  }

  // --- updating ------------------------------------------------------------------------------------

  /**
   * POST to an entity: adds the mixins named (a new template replaces the old one of its family) and
   * changes the attributes given. Inline links in a resource's request are created.
   */
  async update(tenant: string, location: string, req: EntityRequest, opts: WriteOptions = {}): Promise<EntityDoc> {
    return this.queues.serially(tenant, location, () => this.updateNow(tenant, location, req, opts));
  }

  private async updateNow(tenant: string, location: string, req: EntityRequest, opts: WriteOptions): Promise<EntityDoc> {
    const doc = await this.get(tenant, location);
    checkRevision(doc, opts);
    // GFD.185 §3.4.4: Link headers MUST NOT be in a partial update of a link; a link has no links of its own.
    if (doc.source !== undefined && req.links.length) {
      throw new BadRequest(`${location} is a link, and a link has no links: a partial update of it carries no Link header (text) or "links" member (JSON)`);
    }
    const { kind, mixins } = resolveCategories(this.index, tenant, req.categories);
    if (kind && categoryId(kind) !== doc.kind) throw new BadRequest(`the kind of ${location} is ${doc.kind}; it cannot change to ${categoryId(kind)}`);
    const next = this.withMixins(doc, mixins, 'add');
    // Links the resource already has (a client POSTs back what it GOT) are kept as they are, not made again.
    const fresh = doc.source === undefined ? await this.newLinksOf(doc, req.links) : [];
    const updated = await this.applyChange(doc, next, req.attributes, false);
    if (fresh.length) {
      // New inline links on an existing resource: each link is created as a standalone entity, all or none.
      await this.create(this.prepareLinks(tenant, updated, fresh).map((l) => ({ resource: l, links: [] })));
    }
    return this.get(tenant, location);
  }

  /** The request's inline links that are not links the resource already has (see `newLinks`). */
  private async newLinksOf(doc: EntityDoc, links: readonly LinkRequest[]): Promise<LinkRequest[]> {
    return links.length ? newLinks(await this.entities.linksOf(doc.tenant, 'source', doc.location), links) : [];
  }

  /** PUT to an existing entity: full replacement of mixins and mutable attributes; links stay. */
  async replace(tenant: string, location: string, req: EntityRequest, opts: WriteOptions = {}): Promise<EntityDoc> {
    return this.queues.serially(tenant, location, () => this.replaceNow(tenant, location, req, opts));
  }

  private async replaceNow(tenant: string, location: string, req: EntityRequest, opts: WriteOptions): Promise<EntityDoc> {
    const doc = await this.get(tenant, location);
    checkRevision(doc, opts);
    // Existing links stay intact (GFD.185 §3.4.4): the ones a client PUTs back from a GET are ignored; a new one is refused.
    if ((await this.newLinksOf(doc, req.links)).length) {
      throw new BadRequest('a full update (PUT) leaves links intact; send links to the link kind\'s location or with POST');
    }
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
    requireManager(this.index, doc.kind, 'change');
    requireSettled(doc, 'change');
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
    Object.assign(attributes, templateDefaults(this.index, next.tenant, doc.mixins, next.mixins, checked, defs));
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

  // --- deleting (entity-deletion.ts) and actions (entity-actions.ts) ----------------------------------

  delete(tenant: string, location: string, opts: WriteOptions = {}): Promise<void> {
    return this.deletion.delete(tenant, location, opts);
  }

  deleteMember(tenant: string, location: string): Promise<boolean> {
    return this.deletion.deleteMember(tenant, location);
  }

  checkDeletable(doc: EntityDoc): void {
    this.deletion.checkDeletable(doc);
  }

  destroy(doc: EntityDoc): Promise<void> {
    return this.deletion.destroy(doc);
  }

  action(tenant: string, location: string, term: string, req: ActionRequest, opts: WriteOptions = {}): Promise<EntityDoc> {
    return this.actions.action(tenant, location, term, req, opts);
  }

  perform(doc: EntityDoc, action: TypeId, params: Attributes): Promise<EntityDoc> {
    return this.actions.perform(doc, action, params);
  }

  checkParams(action: TypeId, params: Attributes): Attributes {
    return this.actions.checkParams(action, params);
  }

  actionBackend(doc: EntityDoc, action: TypeId): Backend {
    return this.actions.actionBackend(doc, action);
  }

  checkApplicable(doc: EntityDoc, action: TypeId): void {
    this.actions.checkApplicable(doc, action);
  }

  canPerform(doc: EntityDoc, action: TypeId): boolean {
    return this.actions.canPerform(doc, action);
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
