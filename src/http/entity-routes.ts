/**
 * Every path that is not the query interface: entities (`/compute/web1`), kind and mixin collections
 * (`/compute/`, `/my_stuff/`) and unbound paths (`/`, `/vms/foo/`), per the operation matrix of
 * GFD.223 (occi-spec.md §3.4).
 */
import type { Context } from 'koa';
import { BadRequest, MethodNotAllowed, NotFound, PayloadTooLarge, PreconditionFailed } from '../errors';
import { LINK_KIND, type EntityRequest, type EntityView, type Kind, type Mixin } from '../model/types';
import { createEntityStream, type EntityCollectionKey } from '../rendering/occi-json';
import { textOcci } from '../rendering/text-occi';
import type { Collections, EntityFilter, Listing, PageRequest } from '../service/collections';
import { filterFromRequests } from '../service/collections';
import { entityView, type Viewer } from '../service/entity-views';
import type { OcciService } from '../service/occi-service';
import type { EntityDoc } from '../store/entity-store';
import { ENTITY_ALLOW, KIND_ALLOW, MIXIN_ALLOW, UNBOUND_ALLOW, actionParam } from './allow';
import { callerOf } from './caller';
import { checkPutLinks, entitiesToCreate } from './create-request';
import { nonListingRenderer } from './negotiate';
import type { RequestContext } from './request';
import { send, stream } from './respond';

/** text/occi listings travel in headers; past this many bytes the client is told to page or use a body rendering. */
const HEADER_LISTING_MAX = 48 * 1024;

export interface RouteDeps {
  service: OcciService;
  collections: Collections;
}

function etag(doc: EntityDoc): string {
  return `"${doc._rev}"`;
}

function ifMatch(ctx: Context): string | undefined {
  return ctx.get('If-Match') || undefined;
}

async function viewOf(deps: RouteDeps, r: RequestContext, doc: EntityDoc, viewer: Viewer): Promise<EntityView> {
  return entityView(deps.service.index, doc, r.locate, await deps.service.linksOf(doc), (d, a) => deps.service.canPerform(d, a), viewer);
}

/** Who a rendering is for (per-tenant attributes show a non-admin only its tenant's items). */
function viewerOf(ctx: Context): Viewer {
  const c = callerOf(ctx);
  return { tenant: c.tenant, admin: c.admin };
}

function pageOf(ctx: Context): PageRequest | undefined {
  const { page, number } = ctx.query;
  if (page === undefined && number === undefined) return undefined;
  const p = Number(typeof page === 'string' ? page : '1');
  const n = Number(typeof number === 'string' ? number : 'NaN');
  if (typeof number !== 'string') throw new BadRequest('paging needs both page and number (e.g. ?page=1&number=100)');
  // Name the value as sent: Number('abc') would only say NaN.
  for (const [name, v] of [['page', page], ['number', number]] as const) {
    if (v !== undefined && (typeof v !== 'string' || !/^\d+$/.test(v.trim()))) throw new BadRequest(`${name} must be a whole number from 1; got ${JSON.stringify(v)}`);
  }
  return { page: p, number: n };
}

/** Filters from headers (Category, X-OCCI-Attribute), a body (GET with a body, pyOCNI), and query parameters. */
function filterOf(ctx: Context, r: RequestContext): EntityFilter {
  const fromHeaders = textOcci.parseEntities({ headers: ctx.headers, body: '' });
  const fromBody = r.body.trim() !== '' ? r.parser.parseEntities(r.input) : [];
  const f = filterFromRequests([...fromHeaders, ...fromBody]);
  const { category, attribute, value } = ctx.query;
  if (typeof category === 'string' && category !== '') f.categories.push(category.replace(/\s+/g, ''));
  if (typeof attribute === 'string' && attribute !== '') {
    if (typeof value !== 'string') throw new BadRequest(`filter on attribute ${attribute} needs a value (?attribute=NAME&value=V)`);
    // Defined, not assigned: `?attribute=__proto__` must filter on that name, not be dropped.
    Object.defineProperty(f.attributes, attribute, { value, enumerable: true, writable: true, configurable: true });
  }
  return f;
}

/**
 * Renders a listing: locations in text renderings (streamed where the body carries them), full entities in
 * JSON. `emptyAs`: the JSON key of an empty listing, `links` for a link kind's (GFD.226 link_collection).
 */
async function sendListing(ctx: Context, deps: RouteDeps, r: RequestContext, listing: Listing, page?: PageRequest, emptyAs: EntityCollectionKey = 'resources'): Promise<void> {
  const extra: Record<string, string> = { 'X-OCCI-Total': String(listing.total) };
  if (page) {
    const url = (p: number): string => {
      const params = new URLSearchParams(ctx.querystring);
      params.set('page', String(p));
      return `${r.locate(ctx.path)}?${params.toString()}`;
    };
    if (page.page * page.number < listing.total) extra['X-OCCI-Next'] = url(page.page + 1);
    if (page.page > 1) extra['X-OCCI-Prev'] = url(page.page - 1);
  }
  const json = r.renderer.mediaType === 'application/occi+json';
  if (json) {
    const views = withLinks(deps, r, listing.tenant ?? callerOf(ctx).tenant, listing.docs, viewerOf(ctx));
    // One stream per request: it keeps links apart from resources in a mixed listing.
    return stream(ctx, 200, r.renderer, createEntityStream(emptyAs), views, extra);
  }
  if (r.renderer.locationStream) {
    return stream(ctx, 200, r.renderer, r.renderer.locationStream, locations(listing.docs, r), extra);
  }
  const all: string[] = [];
  let size = 0;
  for await (const l of locations(listing.docs, r)) {
    size += l.length + 2;
    if (size > HEADER_LISTING_MAX) throw new PayloadTooLarge(`this listing is too long for ${r.renderer.mediaType} headers; page it (?page=1&number=100) or ask for text/plain or application/occi+json`);
    all.push(l);
  }
  send(ctx, 200, r.renderer, r.renderer.renderLocations(all), extra);
}

async function* locations(docs: Listing['docs'], r: RequestContext): AsyncGenerator<string> {
  for await (const d of docs) yield r.locate(d.location);
}

/** Entity views for a listing, fetching links in batches (one view query per 200 entities). */
async function* withLinks(deps: RouteDeps, r: RequestContext, tenant: string, docs: Listing['docs'], viewer: Viewer): AsyncGenerator<EntityView> {
  let batch: EntityDoc[] = [];
  const flush = async function* (): AsyncGenerator<EntityView> {
    const links = await deps.service.entities.linksOfMany(tenant, batch.filter((d) => d.source === undefined).map((d) => d.location));
    for (const d of batch) yield entityView(deps.service.index, d, r.locate, links.get(d.location) ?? [], (x, a) => deps.service.canPerform(x, a), viewer);
    batch = [];
  };
  for await (const d of docs) {
    batch.push(d);
    if (batch.length >= 200) yield* flush();
  }
  if (batch.length) yield* flush();
}

/**
 * The request path, %-decoded. 400 for what can never name anything and could only confuse: a malformed
 * escape, an encoded '/' (it would alias another path), a control character, a '.' or '..' segment.
 */
export function decodePath(raw: string): string {
  if (/%2f/i.test(raw)) throw new BadRequest(`the path ${JSON.stringify(raw)} holds an encoded '/' (%2F), which would name another path; send '/' as it is`);
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    throw new BadRequest(`the path ${JSON.stringify(raw)} holds a malformed %-escape`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(path)) throw new BadRequest(`the path ${JSON.stringify(raw)} holds a control character`);
  if (/\/\.\.?(\/|$)/.test(path)) throw new BadRequest(`the path ${JSON.stringify(raw)} holds a '.' or '..' segment`);
  return path;
}

/** What a (decoded) path names for this caller. */
export type Target =
  | { is: 'collection'; category: Kind | Mixin }
  | { is: 'unbound'; prefix: string }
  | { is: 'entity'; path: string };

/**
 * A category's location names its collection with or without the trailing '/' (`/compute` is `/compute/`,
 * as curl users type it; OCCI clients build the '/' form). An entity is never created at a path that is a
 * location without its '/' (entity-documents.ts); one made there before its category was defined stays
 * reachable, as the entity, and the collection keeps its '/' form.
 */
export async function resolveTarget(ctx: Context, deps: RouteDeps, path: string): Promise<Target> {
  const tenant = callerOf(ctx).tenant;
  if (path.endsWith('/')) {
    const category = deps.service.index.byLocation(path, tenant);
    return category ? { is: 'collection', category } : { is: 'unbound', prefix: path };
  }
  const category = deps.service.index.byLocation(path + '/', tenant);
  if (category && !(await deps.service.find(tenant, path))) return { is: 'collection', category };
  return { is: 'entity', path };
}

/** The methods a target accepts (405 and OPTIONS). */
export function allowOf(t: Target): readonly string[] {
  if (t.is === 'entity') return ENTITY_ALLOW;
  if (t.is === 'unbound') return UNBOUND_ALLOW;
  return t.category.class === 'kind' ? KIND_ALLOW : MIXIN_ALLOW;
}

export async function entityRoutes(ctx: Context, r: RequestContext, deps: RouteDeps): Promise<void> {
  const path = decodePath(ctx.path);
  const action = actionParam(ctx);
  // An action is triggered with POST only. A PUT or DELETE naming one is refused before anything is read
  // or written: `DELETE /networkinterface/?action=offline` deleted the whole collection (found by the fuzz suite).
  if ((ctx.method === 'PUT' || ctx.method === 'DELETE') && action !== undefined) {
    throw new BadRequest(`actions are triggered with POST ${path}?action=term; ${ctx.method} does not take ?action`);
  }
  const target = await resolveTarget(ctx, deps, path);
  if (target.is === 'collection') {
    const c = target.category;
    // The '/'-less form answers as the collection; its representation's own URL is the location.
    if (!path.endsWith('/') && (ctx.method === 'GET' || ctx.method === 'HEAD')) ctx.set('Content-Location', r.locate(c.location!));
    return c.class === 'kind' ? kindCollection(ctx, r, deps, c, action) : mixinCollection(ctx, r, deps, c, action);
  }
  if (target.is === 'unbound') return unboundPath(ctx, r, deps, target.prefix);
  return entity(ctx, r, deps, path, action);
}

async function entity(ctx: Context, r: RequestContext, deps: RouteDeps, path: string, action: string | undefined): Promise<void> {
  const { service } = deps;
  const tenant = callerOf(ctx).tenant;
  switch (ctx.method) {
    case 'GET':
    case 'HEAD': {
      // The lookup first: a missing entity is a 404 whatever the rendering.
      const doc = await service.get(tenant, path);
      r.renderer = await nonListingRenderer(ctx, r.choices, 'an entity');
      return send(ctx, 200, r.renderer, r.renderer.renderEntity(await viewOf(deps, r, doc, viewerOf(ctx))), { ETag: etag(doc) });
    }
    case 'POST': {
      r.renderer = await nonListingRenderer(ctx, r.choices, 'an entity', () => service.get(tenant, path));
      if (typeof action === 'string') {
        const doc = await service.action(tenant, path, action, r.parser.parseAction(r.input), { ifMatch: ifMatch(ctx) });
        return send(ctx, 200, r.renderer, r.renderer.renderEntity(await viewOf(deps, r, doc, viewerOf(ctx))), { ETag: etag(doc) });
      }
      const [req, ...more] = r.parser.parseEntities(r.input);
      if (!req || more.length) throw new BadRequest('a partial update describes exactly one entity');
      const doc = await service.update(tenant, path, req, { ifMatch: ifMatch(ctx) });
      return send(ctx, 200, r.renderer, r.renderer.renderEntity(await viewOf(deps, r, doc, viewerOf(ctx))), { ETag: etag(doc) });
    }
    case 'PUT': {
      r.renderer = await nonListingRenderer(ctx, r.choices, 'an entity');
      const [req, ...more] = r.parser.parseEntities(r.input);
      if (!req || more.length) throw new BadRequest('PUT describes exactly one entity');
      const createOnly = ctx.get('If-None-Match').trim() === '*';
      const existing = await service.find(tenant, path);
      if (existing && createOnly) throw new PreconditionFailed(`${path} exists (If-None-Match: *)`);
      if (existing) {
        checkPutLinks(ctx, req);
        const doc = await service.replace(tenant, path, req, { ifMatch: ifMatch(ctx) });
        return send(ctx, 200, r.renderer, r.renderer.renderEntity(await viewOf(deps, r, doc, viewerOf(ctx))), { ETag: etag(doc) });
      }
      if (ifMatch(ctx) && ifMatch(ctx) !== '*') throw new PreconditionFailed(`${path} does not exist (If-Match)`);
      const resource = service.prepare(tenant, req, { path });
      const [doc] = await service.create([{ resource, links: inlineLinks(service, tenant, resource, req) }], { createOnly: true });
      return created(ctx, deps, r, [doc!]);
    }
    case 'DELETE':
      await service.delete(tenant, path, { ifMatch: ifMatch(ctx) });
      return send(ctx, 200, r.renderer, r.renderer.renderOk());
    default:
      throw new MethodNotAllowed(ctx.method, path, ENTITY_ALLOW);
  }
}

/** A new resource's inline links; a new link with links is a 400 (GFD.185 §3.4.4: a link has no links). */
function inlineLinks(service: OcciService, tenant: string, resource: EntityDoc, req: EntityRequest): EntityDoc[] {
  if (resource.source === undefined) return service.prepareLinks(tenant, resource, req.links);
  if (req.links.length) throw new BadRequest(`${resource.kind} is a link kind, and a link has no links: send no Link header (text) or "links" member (JSON) with it`);
  return [];
}

/** 201: `Location` is the first entity; text renderings also carry X-OCCI-Location for each. */
async function created(ctx: Context, deps: RouteDeps, r: RequestContext, docs: EntityDoc[]): Promise<void> {
  const locs = docs.map((d) => r.locate(d.location));
  const extra: Record<string, string> = { Location: locs[0]! };
  if (docs.length === 1) {
    extra.ETag = etag(docs[0]!);
    const rendered = r.renderer.renderEntity(await viewOf(deps, r, docs[0]!, viewerOf(ctx)));
    if (r.renderer.mediaType !== 'application/occi+json') rendered.headers.push(['X-OCCI-Location', locs[0]!]);
    return send(ctx, 201, r.renderer, rendered, extra);
  }
  if (r.renderer.mediaType === 'application/occi+json') {
    const views: EntityView[] = [];
    for (const d of docs) views.push(await viewOf(deps, r, d, viewerOf(ctx)));
    return send(ctx, 201, r.renderer, r.renderer.renderEntities(views), extra);
  }
  const rendered = r.renderer.renderCreated(locs);
  if (r.renderer.mediaType === 'text/plain') for (const l of locs) rendered.headers.push(['X-OCCI-Location', l]);
  send(ctx, 201, r.renderer, rendered, extra);
}

async function kindCollection(ctx: Context, r: RequestContext, deps: RouteDeps, kind: Kind, action: string | undefined): Promise<void> {
  const { service, collections } = deps;
  const tenant = callerOf(ctx).tenant;
  switch (ctx.method) {
    case 'GET':
    case 'HEAD': {
      const page = pageOf(ctx);
      // A shared kind (the docker node pool) lists the shared tenant's entities to every caller.
      const from = service.collectionTenant(tenant, kind);
      const emptyAs = service.index.isKindOf(kind.scheme + kind.term, LINK_KIND) ? 'links' : 'resources';
      return sendListing(ctx, deps, r, { ...(await collections.list(from, kind, filterOf(ctx, r), page)), tenant: from }, page, emptyAs);
    }
    case 'POST': {
      if (typeof action === 'string') {
        await collections.action(tenant, kind, action, r.parser.parseAction(r.input));
        return send(ctx, 200, r.renderer, r.renderer.renderOk());
      }
      r.renderer = await nonListingRenderer(ctx, r.choices, 'the created entity');
      const reqs = entitiesToCreate(ctx, r, kind);
      const items = reqs.map((req) => {
        const resource = service.prepare(tenant, req, { collection: kind });
        return { resource, links: inlineLinks(service, tenant, resource, req) };
      });
      const seen = new Set<string>();
      for (const { resource } of items) {
        if (seen.has(resource.location)) throw new BadRequest(`the request creates ${resource.location} twice`);
        seen.add(resource.location);
      }
      const made = await service.create(items);
      const primaries = made.filter((d) => items.some((i) => i.resource.location === d.location));
      return created(ctx, deps, r, primaries);
    }
    case 'DELETE': {
      await collections.deleteAll(tenant, service.entities.iterate('by_kind', tenant, kind.scheme + kind.term));
      return send(ctx, 200, r.renderer, r.renderer.renderOk());
    }
    default:
      throw new MethodNotAllowed(ctx.method, ctx.path, KIND_ALLOW);
  }
}

async function mixinCollection(ctx: Context, r: RequestContext, deps: RouteDeps, mixin: Mixin, action: string | undefined): Promise<void> {
  const { collections } = deps;
  const tenant = callerOf(ctx).tenant;
  const members = async (): Promise<void> => {
    const listing = await collections.list(tenant, mixin, { categories: [], attributes: {} });
    await sendListing(ctx, deps, r, listing);
  };
  switch (ctx.method) {
    case 'GET':
    case 'HEAD': {
      const page = pageOf(ctx);
      return sendListing(ctx, deps, r, await collections.list(tenant, mixin, filterOf(ctx, r), page), page);
    }
    case 'POST':
      if (typeof action === 'string') {
        await collections.action(tenant, mixin, action, r.parser.parseAction(r.input));
        return send(ctx, 200, r.renderer, r.renderer.renderOk());
      }
      await collections.associate(tenant, mixin, r.parser.parseLocations(r.input));
      return members();
    case 'PUT':
      await collections.replaceMembership(tenant, mixin, r.body.trim() === '' && !ctx.get('X-OCCI-Location') ? [] : r.parser.parseLocations(r.input));
      return members();
    case 'DELETE':
      await collections.disassociate(tenant, mixin, r.body.trim() === '' && !ctx.get('X-OCCI-Location') ? [] : r.parser.parseLocations(r.input));
      return send(ctx, 200, r.renderer, r.renderer.renderOk());
    default:
      throw new MethodNotAllowed(ctx.method, ctx.path, MIXIN_ALLOW);
  }
}

async function unboundPath(ctx: Context, r: RequestContext, deps: RouteDeps, prefix: string): Promise<void> {
  const tenant = callerOf(ctx).tenant;
  switch (ctx.method) {
    case 'GET':
    case 'HEAD': {
      const page = pageOf(ctx);
      const listing = await deps.collections.below(tenant, prefix, filterOf(ctx, r), page);
      if (listing.total === 0 && prefix !== '/') throw new NotFound(`nothing at ${prefix}`);
      return sendListing(ctx, deps, r, listing, page);
    }
    case 'DELETE': {
      await deps.collections.deleteAll(tenant, deps.service.entities.below(tenant, prefix));
      return send(ctx, 200, r.renderer, r.renderer.renderOk());
    }
    default:
      throw new MethodNotAllowed(ctx.method, ctx.path, UNBOUND_ALLOW);
  }
}
