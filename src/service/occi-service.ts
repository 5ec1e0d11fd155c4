/**
 * The OCCI verbs, written once for every kind and media type: create, get, update, replace, delete and
 * actions on single entities. Building new documents from requests is in entity-documents.ts; updating
 * (POST, PUT, mixin changes) in entity-updates.ts; deleting in entity-deletion.ts; actions in
 * entity-actions.ts (each with its own failure rule); collections, filters and mixin membership are in
 * collections.ts.
 *
 * Failure rule: a backend failure never leaves a half-made entity looking healthy. A create inserts the
 * document as `creating`, asks the backend (which leaves nothing behind when it fails), and on a failure
 * after that (storing what the backend made) deletes it through the backend; either way the document is
 * removed again. Links of a resource are made after it, and a failed link undoes them all.
 * A request that makes several entities (a resource with inline links) keeps them all `creating` until the
 * last is made, then marks its links `ready` and its resource last: a crash in between leaves the resource
 * `creating`, and start-up recovery undoes the whole unacknowledged request (links, then the resource).
 */
import type { Backend, BackendEntity, Realised } from '../backends/backend';
import type { BackendRegistry } from '../backends/registry';
import type { CategoryManager } from '../category-manager/manager';
import { BadRequest, Conflict, NotFound, PreconditionFailed } from '../errors';
import type { ActionRequest, Attributes, EntityRequest, Kind, LinkRequest, Mixin, TypeId } from '../model/types';
import { CORE_ATTR, INFRA, splitTypeId } from '../model/types';
import type { EntityDoc, EntityStore } from '../store/entity-store';
import { EntityActions } from './entity-actions';
import { EntityDeletion } from './entity-deletion';
import { EntityDocuments, SHARED_TENANT } from './entity-documents';
import { EntityQueues, backendEntity, requireManager, type WriteOptions } from './entity-parts';
import { EntityUpdates, type UpdateParts } from './entity-updates';
import { PROVIDER_ATTR } from './validate';

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
  private readonly updates: EntityUpdates;

  constructor(deps: ServiceDeps) {
    this.categories = deps.categories;
    this.entities = deps.entities;
    this.backends = deps.backends;
    this.now = deps.now ?? Date.now;
    this.documents = new EntityDocuments(this.categories, this.backends, this.now, (kind, verb) => requireManager(this.index, kind, verb), deps.leaseHourMs);
    const parts: UpdateParts = {
      categories: this.categories,
      entities: this.entities,
      backends: this.backends,
      queues: this.queues,
      get: (tenant, location) => this.get(tenant, location),
      rerealiseLinks: (resource) => this.rerealiseLinks(resource),
      checkLinkEnds: (doc) => this.checkLinkEnds(doc),
      applyLease: (doc) => this.documents.applyLease(doc),
      createLinks: (tenant, resource, links) => this.create(this.prepareLinks(tenant, resource, links).map((l) => ({ resource: l, links: [] }))),
    };
    this.actions = new EntityActions(parts);
    this.deletion = new EntityDeletion(parts);
    this.updates = new EntityUpdates(parts);
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
      const entity = await this.backendEntity(stored);
      // The ends were checked before the insert; a concurrent DELETE may have taken one since (found by chaos:
      // a backend handed a link without its source failed with a TypeError, 500).
      if (stored.source !== undefined && (!entity.source || (stored.target?.startsWith('/') && !entity.target))) {
        throw new Conflict(`${entity.source ? stored.target : stored.source} was deleted while ${doc.location} was being created`);
      }
      realised = await backend.create(entity);
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

  // --- updating (entity-updates.ts) ---------------------------------------------------------------

  update(tenant: string, location: string, req: EntityRequest, opts: WriteOptions = {}): Promise<EntityDoc> {
    return this.updates.update(tenant, location, req, opts);
  }

  replace(tenant: string, location: string, req: EntityRequest, opts: WriteOptions = {}): Promise<EntityDoc> {
    return this.updates.replace(tenant, location, req, opts);
  }

  withMixins(doc: EntityDoc, mixins: readonly Mixin[], mode: 'add' | 'replace' | 'remove'): EntityDoc {
    return this.updates.withMixins(doc, mixins, mode);
  }

  applyChange(doc: EntityDoc, next: EntityDoc, given: Attributes, full: boolean): Promise<EntityDoc> {
    return this.updates.applyChange(doc, next, given, full);
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
