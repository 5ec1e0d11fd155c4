/**
 * Collections: listing a kind's or mixin's entities (filtered, paged, streamed in batches), everything
 * below an unbound path, mixin membership (associate, replace, disassociate), and verbs on a whole
 * collection (delete, action).
 */
import { BadRequest, NotFound, PayloadTooLarge } from '../errors';
import { sameValue } from '../model/attributes';
import type { ActionRequest, Attributes, EntityRef, EntityRequest, Kind, Mixin, TypeId } from '../model/types';
import { categoryId, splitTypeId } from '../model/types';
import type { EntityDoc } from '../store/entity-store';
import { requireSettled } from './entity-parts';
import type { OcciService } from './occi-service';
import { toPath } from './occi-service';
import { PROVIDER_MIXIN } from './validate';

/** What to keep: every category named (kind chain or mixin closure) and every attribute equal. */
export interface EntityFilter {
  categories: TypeId[];
  attributes: Attributes;
}

export interface PageRequest {
  page: number;
  number: number;
}

export function filterFromRequests(reqs: readonly EntityRequest[]): EntityFilter {
  const f: EntityFilter = { categories: [], attributes: {} };
  for (const r of reqs) {
    for (const c of r.categories) f.categories.push(c.id);
    Object.assign(f.attributes, r.attributes);
  }
  return f;
}

export function isEmptyFilter(f: EntityFilter): boolean {
  return f.categories.length === 0 && Object.keys(f.attributes).length === 0;
}

function loosely(a: unknown, b: unknown): boolean {
  if (sameValue(a, b)) return true;
  // Text filters carry every value as typed text; compare scalars by their text.
  return (typeof a !== 'object' || a === null) && (typeof b !== 'object' || b === null) && String(a) === String(b);
}

export function matches(doc: EntityDoc, f: EntityFilter): boolean {
  for (const c of f.categories) if (!doc.kinds.includes(c) && !doc.mixinClosure.includes(c)) return false;
  for (const [name, value] of Object.entries(f.attributes)) if (!loosely(Object.hasOwn(doc.attributes, name) ? doc.attributes[name] : undefined, value)) return false;
  return true;
}

export interface Listing {
  total: number;
  docs: AsyncIterable<EntityDoc> | EntityDoc[];
  /** The tenant the entities belong to, when not the caller's (a shared kind's collection). */
  tenant?: string;
}

export class Collections {
  constructor(
    private readonly service: OcciService,
    private readonly limits: { pageSizeMax: number },
  ) {}

  checkPage(page: PageRequest | undefined): void {
    if (!page) return;
    if (!Number.isInteger(page.page) || page.page < 1) throw new BadRequest(`page must be a whole number from 1; got ${page.page}`);
    if (!Number.isInteger(page.number) || page.number < 1) throw new BadRequest(`number must be a whole number from 1; got ${page.number}`);
    if (page.number > this.limits.pageSizeMax) throw new PayloadTooLarge(`number ${page.number} is above the largest page, ${this.limits.pageSizeMax}`);
  }

  /**
   * A kind's or mixin's collection. Unfiltered pages come straight from the view; filtered listings are
   * streamed through in batches, counting matches (never holding the whole collection).
   */
  async list(tenant: string, category: Kind | Mixin, filter: EntityFilter, page?: PageRequest): Promise<Listing> {
    this.checkPage(page);
    const view = category.class === 'kind' ? 'by_kind' : 'by_mixin';
    const id = categoryId(category);
    const store = this.service.entities;
    if (isEmptyFilter(filter)) {
      if (page) {
        const res = await store.collection(view, tenant, id, { skip: (page.page - 1) * page.number, limit: page.number });
        return { total: res.total, docs: await store.getMany(res.ids) };
      }
      const res = await store.collection(view, tenant, id, { skip: 0, limit: 0 });
      return { total: res.total, docs: store.iterate(view, tenant, id) };
    }
    const kept: EntityDoc[] = [];
    let total = 0;
    const from = page ? (page.page - 1) * page.number : 0;
    const to = page ? from + page.number : Infinity;
    for await (const doc of store.iterate(view, tenant, id)) {
      if (!matches(doc, filter)) continue;
      if (total >= from && total < to) kept.push(doc);
      total++;
    }
    return { total, docs: kept };
  }

  /** Everything below an unbound path (e.g. `/` or `/vms/foo/`), optionally filtered. */
  async below(tenant: string, prefix: string, filter: EntityFilter, page?: PageRequest): Promise<Listing> {
    this.checkPage(page);
    const kept: EntityDoc[] = [];
    let total = 0;
    const from = page ? (page.page - 1) * page.number : 0;
    const to = page ? from + page.number : Infinity;
    for await (const doc of this.service.entities.below(tenant, prefix)) {
      if (!matches(doc, filter)) continue;
      if (total >= from && total < to) kept.push(doc);
      total++;
    }
    return { total, docs: kept };
  }

  /**
   * DELETE on a kind collection (or an unbound path): every entity of this tenant there. What the caller
   * may not delete is refused (403) before any entity is touched; each member is then deleted in its own
   * entity queue, as a single DELETE would be. Failure rule: a backend failure on one member stops the
   * request there, with the members before it deleted (each delete is whole; the collection DELETE is not
   * one transaction).
   */
  async deleteAll(tenant: string, docs: AsyncIterable<EntityDoc> | EntityDoc[]): Promise<number> {
    const all: EntityDoc[] = [];
    for await (const d of docs) all.push(d);
    for (const d of all) this.service.checkDeletable(d);
    // Links first: deleting a resource deletes its links, which may be in this list too.
    all.sort((a, b) => Number(b.source !== undefined) - Number(a.source !== undefined));
    let n = 0;
    for (const d of all) if (await this.service.deleteMember(tenant, d.location)) n++;
    return n;
  }

  /**
   * The entities named, each once: by location, or by occi.core.id within the tenant (an id alone may be the
   * last segment of a generated location, whose occi.core.id is `urn:uuid:` + it). 404 naming the first unknown.
   */
  private async resolveLocations(tenant: string, refs: readonly EntityRef[]): Promise<EntityDoc[]> {
    if (refs.length === 0) throw new BadRequest('no entity locations given: send X-OCCI-Location values (JSON: {"X-OCCI-Location": [...]})');
    const docs: EntityDoc[] = [];
    const named = new Set<string>();
    for (const ref of refs) {
      let d: EntityDoc | undefined;
      if (typeof ref === 'string') {
        const path = toPath(ref);
        // An entity named twice (perhaps once absolute, once relative) is one member: writing it twice failed
        // half-way with a stale revision, a 412 after the first change was made (found by the fuzz suite).
        if (named.has(path)) continue;
        d = await this.service.entities.get(tenant, path);
        if (!d) throw new NotFound(`no entity at ${path}`);
      } else {
        const store = this.service.entities;
        d = (await store.byOcciId(tenant, ref.id)) ?? (ref.id.startsWith('urn:') ? undefined : await store.byOcciId(tenant, `urn:uuid:${ref.id}`));
        if (!d) throw new NotFound(`no entity with id ${ref.id}`);
        if (named.has(d.location)) continue;
      }
      named.add(d.location);
      requireSettled(d, 'change the mixins of');
      docs.push(d);
    }
    return docs;
  }

  /** POST to a mixin location: associates the mixin with each entity named. All checked before any change. */
  async associate(tenant: string, mixin: Mixin, locations: readonly EntityRef[]): Promise<void> {
    const docs = await this.resolveLocations(tenant, locations);
    const nexts = docs.map((d) => this.service.withMixins(d, [mixin], 'add'));
    for (let i = 0; i < docs.length; i++) {
      if (docs[i]!.mixins.includes(categoryId(mixin))) continue;
      await this.service.applyChange(docs[i]!, nexts[i]!, {}, false);
    }
  }

  /** PUT to a mixin location: exactly the named entities carry the mixin afterwards. */
  async replaceMembership(tenant: string, mixin: Mixin, locations: readonly EntityRef[]): Promise<void> {
    const wanted = locations.length ? await this.resolveLocations(tenant, locations) : [];
    const wantedSet = new Set(wanted.map((d) => d.location));
    const current: EntityDoc[] = [];
    for await (const d of this.service.entities.iterate('by_mixin', tenant, categoryId(mixin))) if (d.mixins.includes(categoryId(mixin))) current.push(d);
    for (const d of wanted) this.service.withMixins(d, [mixin], 'add');
    for (const d of current) if (!wantedSet.has(d.location)) await this.service.applyChange(d, this.service.withMixins(d, [mixin], 'remove'), {}, false);
    for (const d of wanted) if (!d.mixins.includes(categoryId(mixin))) await this.service.applyChange(d, this.service.withMixins(d, [mixin], 'add'), {}, false);
  }

  /** DELETE on a mixin location: disassociates the named entities, or every member when none is named. */
  async disassociate(tenant: string, mixin: Mixin, locations: readonly EntityRef[]): Promise<void> {
    if (categoryId(mixin) === PROVIDER_MIXIN) throw new BadRequest('the provider mixin is managed by occitan');
    const docs = locations.length ? await this.resolveLocations(tenant, locations) : await this.members(tenant, mixin);
    for (const d of docs) {
      if (!d.mixins.includes(categoryId(mixin))) continue;
      await this.service.applyChange(d, this.service.withMixins(d, [mixin], 'remove'), {}, false);
    }
  }

  async members(tenant: string, mixin: Mixin): Promise<EntityDoc[]> {
    const out: EntityDoc[] = [];
    for await (const d of this.service.entities.iterate('by_mixin', tenant, categoryId(mixin))) if (d.mixins.includes(categoryId(mixin))) out.push(d);
    return out;
  }

  /**
   * POST `?action=term` on a collection: valid only if the action is defined by the collection's kind or
   * mixin and so applies to every member; all members are checked before any is acted on.
   */
  async action(tenant: string, category: Kind | Mixin, term: string, req: ActionRequest): Promise<EntityDoc[]> {
    const defined = this.service.index.actions(category.class === 'kind' ? categoryId(category) : '', category.class === 'mixin' ? [categoryId(category)] : [], tenant);
    const own = category.class === 'kind' ? this.service.index.kindChain(categoryId(category)).flatMap((k) => k.actions) : defined;
    const matchesTerm = own.filter((a) => splitTypeId(a).term === term);
    if (matchesTerm.length === 0) throw new BadRequest(`no action ${JSON.stringify(term)} is defined by ${categoryId(category)}`);
    const action = req.action ?? matchesTerm[0]!;
    if (!matchesTerm.includes(action)) throw new BadRequest(`the query names action ${term} but the body names ${action}`);
    const params = this.service.checkParams(action, req.attributes);
    const docs: EntityDoc[] = [];
    const view = category.class === 'kind' ? 'by_kind' : 'by_mixin';
    // Members whose create or delete is still unanswered are not acted on (a single action on them is 409).
    for await (const d of this.service.entities.iterate(view, tenant, categoryId(category))) if (d.status === 'ready') docs.push(d);
    for (const d of docs) {
      this.service.actionBackend(d, action);
      // A member whose stored state does not allow the action refuses the whole request (400) before any is acted on.
      this.service.checkApplicable(d, action);
    }
    const out: EntityDoc[] = [];
    for (const d of docs) out.push(await this.service.perform(d, action, params));
    return out;
  }
}
