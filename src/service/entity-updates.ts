/**
 * Changing existing entities: a partial update (POST), a full replacement (PUT), and the two steps that
 * collection mixin membership (collections.ts) uses as well: a document with its mixins changed
 * (`withMixins`) and that change validated, realised and stored (`applyChange`).
 *
 * Failure rule: everything is checked before the backend is asked (kind, mixins, attributes, link ends;
 * 400 or 409), and only what the backend made of the change is stored, so a backend failure leaves the
 * document as it was. A change that changes nothing never reaches the backend.
 */
import type { Change } from '../backends/backend';
import type { CategoryIndex } from '../category-manager/category-index';
import { BadRequest, Conflict } from '../errors';
import type { AttributeDefs, Attributes, EntityRequest, LinkRequest, Mixin, TypeId } from '../model/types';
import { CORE_ATTR, categoryId } from '../model/types';
import type { EntityDoc } from '../store/entity-store';
import { isLocalTarget, newLinks, toPath } from './entity-documents';
import { backendEntity, checkRevision, requireManager, requireSettled, type ServiceParts, type WriteOptions } from './entity-parts';
import { PROVIDER_ATTR, PROVIDER_MIXIN, checkAttributes, checkMixins, resolveCategories, templateDefaults, templateFamily } from './validate';

/** What updating needs of OcciService beyond ServiceParts: the steps it shares with creating. */
export interface UpdateParts extends ServiceParts {
  /** Checks a link's ends as a create does (400 when they are not usable). */
  checkLinkEnds(doc: EntityDoc): Promise<unknown>;
  /** Sets or clears the lease's end from the lease mixin (EntityDocuments.applyLease). */
  applyLease(doc: EntityDoc): void;
  /** Creates new inline links of an existing resource, each a standalone entity, all or none. */
  createLinks(tenant: string, resource: EntityDoc, links: readonly LinkRequest[]): Promise<unknown>;
}

export class EntityUpdates {
  constructor(private readonly service: UpdateParts) {}

  private get index(): CategoryIndex {
    return this.service.categories.index;
  }

  /**
   * POST to an entity: adds the mixins named (a new template replaces the old one of its family) and
   * changes the attributes given. Inline links in a resource's request are created.
   */
  async update(tenant: string, location: string, req: EntityRequest, opts: WriteOptions = {}): Promise<EntityDoc> {
    return this.service.queues.serially(tenant, location, () => this.updateNow(tenant, location, req, opts));
  }

  private async updateNow(tenant: string, location: string, req: EntityRequest, opts: WriteOptions): Promise<EntityDoc> {
    const doc = await this.service.get(tenant, location);
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
    // New inline links on an existing resource: each link is created as a standalone entity, all or none.
    if (fresh.length) await this.service.createLinks(tenant, updated, fresh);
    return this.service.get(tenant, location);
  }

  /** The request's inline links that are not links the resource already has (see `newLinks`). */
  private async newLinksOf(doc: EntityDoc, links: readonly LinkRequest[]): Promise<LinkRequest[]> {
    return links.length ? newLinks(await this.service.entities.linksOf(doc.tenant, 'source', doc.location), links) : [];
  }

  /** PUT to an existing entity: full replacement of mixins and mutable attributes; links stay. */
  async replace(tenant: string, location: string, req: EntityRequest, opts: WriteOptions = {}): Promise<EntityDoc> {
    return this.service.queues.serially(tenant, location, () => this.replaceNow(tenant, location, req, opts));
  }

  private async replaceNow(tenant: string, location: string, req: EntityRequest, opts: WriteOptions): Promise<EntityDoc> {
    const doc = await this.service.get(tenant, location);
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
    const attributes = mergeAttributes(doc, checked, defs, full);
    // A template added by this change brings its defaults (unless given).
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
      if (candidate.source !== doc.source || candidate.target !== doc.target) await this.service.checkLinkEnds(candidate);
    }
    this.service.applyLease(candidate);
    const change: Change = {
      attributes: Object.fromEntries(Object.entries(attributes).filter(([n, v]) => JSON.stringify(doc.attributes[n]) !== JSON.stringify(v))),
      mixinsAdded: candidate.mixins.filter((m) => !doc.mixins.includes(m)),
      mixinsRemoved: doc.mixins.filter((m) => !candidate.mixins.includes(m)),
    };
    if (Object.keys(change.attributes).length === 0 && change.mixinsAdded.length === 0 && change.mixinsRemoved.length === 0) return doc;
    const backend = this.service.backends.get(doc.provider);
    const realised = await backend.update(await backendEntity(this.service.entities, candidate), change);
    const stored = await this.service.entities.update({
      ...candidate,
      attributes: { ...candidate.attributes, ...realised.attributes },
      ...(realised.ref !== undefined ? { ref: realised.ref } : {}),
    });
    // An update may replace the runtime (Docker swaps in a new container): its links follow.
    if (realised.runtimeChanged) await this.service.rerealiseLinks(stored);
    return stored;
  }
}

/**
 * The defined attributes after a change: each its checked (given) value; else, on a full update, a
 * mutable one's default or nothing (a link's ends excepted); else its current value, else its default.
 */
function mergeAttributes(doc: EntityDoc, checked: Attributes, defs: AttributeDefs, full: boolean): Attributes {
  const attributes: Attributes = {};
  for (const [name, def] of Object.entries(defs)) {
    const current = doc.attributes[name];
    if (checked[name] !== undefined) attributes[name] = checked[name]!;
    else if (full && def.mutable && name !== CORE_ATTR.source && name !== CORE_ATTR.target) {
      if (def.default !== undefined) attributes[name] = def.default;
    } else if (current !== undefined) attributes[name] = current;
    else if (def.default !== undefined) attributes[name] = def.default;
  }
  return attributes;
}
