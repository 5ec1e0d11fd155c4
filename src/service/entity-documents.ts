/**
 * Building the documents of new entities from requests, before anything is stored: kind and mixins
 * checked, attributes typed and completed, location and id chosen, provider picked, lease set. No I/O.
 */
import { randomUUID } from 'node:crypto';
import type { BackendRegistry } from '../backends/registry';
import type { CategoryIndex } from '../category-manager/category-index';
import { BadRequest } from '../errors';
import type { Attributes, EntityRequest, Kind, LinkRequest, TypeId } from '../model/types';
import { CORE_ATTR, INFRA, LINK_KIND, RESOURCE_KIND, categoryId } from '../model/types';
import { EntityStore as Store, type EntityDoc } from '../store/entity-store';
import {
  LEASE_MIXIN,
  PROVIDER_ATTR,
  PROVIDER_MIXIN,
  checkAttributes,
  checkEntityPath,
  checkMixins,
  completeAttributes,
  resolveCategories,
  segmentFromId,
} from './validate';

/**
 * Where the entities of `sharedRead` kinds (the docker node pool) are stored: the system's own tenant,
 * where the providers' declared entities already live. Every caller reads them; global admins write them.
 */
export const SHARED_TENANT = 'default';

/** Normalises an entity location the client sent (absolute URL or path) to a path. */
export function toPath(location: string): string {
  const m = /^https?:\/\/[^/]+(\/[^?#]*)?/.exec(location.trim());
  const path = m ? (m[1] ?? '/') : location.trim().split(/[?#]/)[0]!;
  return path.startsWith('/') ? path : '/' + path;
}

/** A URL on this server (a relative path, or an absolute URL whose path we serve) is local. */
export function isLocalTarget(target: string): boolean {
  return target.startsWith('/') || /^https?:\/\/(localhost|127\.|\[::1\])/.test(target);
}

export class EntityDocuments {
  /** Documents whose occi.core.id the server generated (no uniqueness lookup needed when stored). */
  readonly generatedIds = new WeakSet<EntityDoc>();

  constructor(
    private readonly categories: { readonly index: CategoryIndex },
    private readonly backends: BackendRegistry,
    private readonly now: () => number,
    /** Refuses a create of an admin-only kind to anyone but a global admin. */
    private readonly requireManager: (kind: TypeId, verb: string) => void,
    /** The length of the lease mixin's hour (`timers.leaseHour`; shortened in tests). */
    private readonly leaseHourMs = 3_600_000,
  ) {}

  private get index(): CategoryIndex {
    return this.categories.index;
  }

  /**
   * Builds the document for a new entity (not yet stored). `collection` is the kind whose location the
   * client POSTed to; `path` a client-chosen location (PUT).
   */
  prepare(callerTenant: string, req: EntityRequest, at: { collection?: Kind; path?: string; source?: EntityDoc }): EntityDoc {
    const { kind: named, mixins } = resolveCategories(this.index, callerTenant, req.categories);
    const kind = named ?? at.collection;
    if (!kind) throw new BadRequest('the request names no kind: send the Category of the kind to create (class "kind")');
    if (at.collection && categoryId(kind) !== categoryId(at.collection)) {
      throw new BadRequest(`${at.collection.location} is the collection of ${categoryId(at.collection)}; the request names ${categoryId(kind)}`);
    }
    if (!kind.location && !at.path) throw new BadRequest(`${categoryId(kind)} cannot be instantiated`);
    this.requireManager(categoryId(kind), 'create');
    this.checkSharedPath(kind, at.path);
    // A shared kind's entities belong to no tenant: they live in the shared one, whoever creates them.
    const tenant = kind.sharedRead ? SHARED_TENANT : callerTenant;
    const isLink = this.index.isKindOf(categoryId(kind), LINK_KIND);
    if (!isLink && !this.index.isKindOf(categoryId(kind), RESOURCE_KIND)) throw new BadRequest(`${categoryId(kind)} is neither a resource nor a link kind`);
    checkMixins(this.index, tenant, kind, mixins);
    const mixinIds = mixins.map(categoryId).filter((m) => m !== PROVIDER_MIXIN);
    const defs = this.index.attributeDefs(categoryId(kind), mixinIds, tenant);
    const given = checkAttributes(req.attributes, { defs, clientChosen: new Set([CORE_ATTR.id]) });

    let location: string;
    let id: string;
    if (at.path) {
      checkEntityPath(at.path);
      // `/compute` is served as the collection `/compute/` (src/http/entity-routes.ts): no entity may hide there.
      const bound = this.index.byLocation(at.path + '/', callerTenant);
      if (bound) throw new BadRequest(`${at.path} cannot be an entity location: it names ${bound.location}, the collection of ${categoryId(bound)}`);
      location = at.path;
      id = typeof given[CORE_ATTR.id] === 'string' ? (given[CORE_ATTR.id] as string) : `urn:uuid:${randomUUID()}`;
    } else {
      const chosen = given[CORE_ATTR.id];
      id = typeof chosen === 'string' && chosen !== '' ? chosen : `urn:uuid:${randomUUID()}`;
      location = kind.location! + segmentFromId(id);
    }
    const generated = id !== given[CORE_ATTR.id];
    given[CORE_ATTR.id] = id;

    let source: string | undefined;
    let target: string | undefined;
    if (isLink) {
      const src = at.source ? at.source.location : given[CORE_ATTR.source];
      const tgt = given[CORE_ATTR.target];
      if (typeof src !== 'string' || src === '') throw new BadRequest(`a link needs ${CORE_ATTR.source}, the location of a local resource`);
      if (typeof tgt !== 'string' || tgt === '') throw new BadRequest(`a link needs ${CORE_ATTR.target}`);
      source = toPath(src);
      target = /^https?:\/\//.test(tgt) || tgt.startsWith('/') ? (isLocalTarget(tgt) ? toPath(tgt) : tgt) : tgt;
      given[CORE_ATTR.source] = source;
      given[CORE_ATTR.target] = target;
    }
    const attributes = completeAttributes(given, defs);
    const chain = this.index.kindChain(categoryId(kind)).map(categoryId);
    const provider = this.chooseProvider(kind, attributes, chain);
    attributes[PROVIDER_ATTR] = provider;
    const allMixins = [...mixinIds, PROVIDER_MIXIN];
    const now = new Date(this.now()).toISOString();
    const doc: EntityDoc = {
      _id: Store.docId(tenant, location),
      type: 'entity',
      uid: randomUUID(),
      tenant,
      location,
      kind: categoryId(kind),
      kinds: chain,
      mixins: allMixins,
      mixinClosure: this.index.mixinClosure(allMixins, tenant).map(categoryId),
      attributes,
      ...(source !== undefined ? { source } : {}),
      ...(target !== undefined ? { target } : {}),
      provider,
      status: 'creating',
      created: now,
      updated: now,
    };
    this.applyLease(doc);
    if (generated) this.generatedIds.add(doc);
    return doc;
  }

  /**
   * Where a client-chosen path may be. A shared kind's entities sit directly in its collection (that is
   * where every tenant looks for them), and nothing else sits there (another tenant's entity at /nodes/x
   * would be shadowed by, or shadow, a node).
   */
  private checkSharedPath(kind: Kind, path: string | undefined): void {
    if (path === undefined) return;
    const collection = path.slice(0, path.lastIndexOf('/') + 1);
    if (kind.sharedRead && collection !== kind.location) throw new BadRequest(`an entity of ${categoryId(kind)} is located in ${kind.location}, not at ${path}`);
    const owner = this.index.byLocation(collection, SHARED_TENANT);
    if (!kind.sharedRead && owner?.class === 'kind' && owner.sharedRead) throw new BadRequest(`${collection} holds only entities of ${categoryId(owner)}`);
    // A kind's location lists its entities (and its sub-kinds'): another kind's entity there would be lost
    // from both collections (a client-chosen PUT path, or an inline link's `self=`).
    if (owner?.class === 'kind' && !this.index.isKindOf(categoryId(kind), categoryId(owner))) {
      throw new BadRequest(`${path} cannot hold an entity of ${categoryId(kind)}: ${collection} is the collection of ${categoryId(owner)}`);
    }
  }

  /** A template (or provider) mixin's default for occitan.provider wins; else the kind's default. */
  private chooseProvider(kind: Kind, attributes: Attributes, chain: readonly TypeId[]): string {
    const named = attributes[PROVIDER_ATTR];
    if (typeof named === 'string' && named !== '') {
      this.backends.get(named);
      return named;
    }
    return this.backends.defaultFor(categoryId(kind), chain.slice(1));
  }

  /**
   * Sets (or clears) the lease end from the lease mixin's length: `occitan.lease.duration` in seconds or
   * `occitan.lease.hours` (Siren's unit; an hour is `timers.leaseHour` ms), exactly one of them; 400
   * otherwise. The end is fixed when the lease starts: later changes of the length do not move it.
   */
  applyLease(doc: EntityDoc): void {
    if (!doc.mixinClosure.includes(LEASE_MIXIN)) {
      delete doc.leaseExpires;
      delete doc.attributes['occitan.lease.expires'];
      return;
    }
    const seconds = doc.attributes['occitan.lease.duration'];
    const hours = doc.attributes['occitan.lease.hours'];
    if ((seconds === undefined) === (hours === undefined)) {
      throw new BadRequest('a lease needs exactly one of occitan.lease.duration (seconds) and occitan.lease.hours');
    }
    if (seconds !== undefined && (typeof seconds !== 'number' || seconds <= 0)) throw new BadRequest('occitan.lease.duration must be a positive number of seconds');
    if (hours !== undefined && (typeof hours !== 'number' || hours <= 0)) throw new BadRequest('occitan.lease.hours must be a positive number of hours');
    const lengthMs = seconds !== undefined ? (seconds as number) * 1000 : (hours as number) * this.leaseHourMs;
    if (doc.leaseExpires === undefined || doc.attributes['occitan.lease.expires'] === undefined) {
      doc.leaseExpires = this.now() + lengthMs;
      doc.attributes['occitan.lease.expires'] = new Date(doc.leaseExpires).toISOString();
    }
  }

  /** Inline links of a resource request, prepared against the (prepared) resource. */
  prepareLinks(tenant: string, resource: EntityDoc, links: readonly LinkRequest[]): EntityDoc[] {
    return links.map((l) => {
      const refs = l.categories.length ? l.categories : [{ id: inferLinkKind(l), class: 'kind' as const }];
      const req: EntityRequest = { categories: refs, attributes: { ...l.attributes, [CORE_ATTR.source]: resource.location }, links: [] };
      const { kind } = resolveCategories(this.index, tenant, refs);
      if (!kind || !this.index.isKindOf(categoryId(kind), LINK_KIND)) throw new BadRequest(`an inline link must name a link kind; got ${refs.map((r) => r.id).join(', ')}`);
      const path = l.location ? toPath(l.location) : undefined;
      return this.prepare(tenant, req, path ? { path, source: resource } : { collection: kind, source: resource });
    });
  }
}

/**
 * The inline links of a request on an existing resource that are not among its `current` links, which a
 * link names by location (text `self=`, JSON `location`) or by id (JSON renders a link without
 * occi.core.id with its location as id). A client sending back what it GOT names only existing ones.
 */
export function newLinks(current: readonly EntityDoc[], links: readonly LinkRequest[]): LinkRequest[] {
  const locations = new Set(current.map((l) => l.location));
  const ids = new Set(current.map((l) => l.attributes[CORE_ATTR.id]).filter((id): id is string => typeof id === 'string'));
  return links.filter((l) => {
    const id = l.attributes[CORE_ATTR.id];
    if (l.location !== undefined && locations.has(toPath(l.location))) return false;
    return !(typeof id === 'string' && (ids.has(id) || locations.has(toPath(id))));
  });
}

/** A link with no category: networkinterface to a network, storagelink to a storage, else core#link. */
function inferLinkKind(l: LinkRequest): TypeId {
  const tk = l.attributes[CORE_ATTR.targetKind];
  if (tk === INFRA + 'network') return INFRA + 'networkinterface';
  if (tk === INFRA + 'storage') return INFRA + 'storagelink';
  const t = l.attributes[CORE_ATTR.target];
  if (typeof t === 'string') {
    const p = toPath(t);
    if (p.startsWith('/network/')) return INFRA + 'networkinterface';
    if (p.startsWith('/storage/')) return INFRA + 'storagelink';
  }
  return LINK_KIND;
}

