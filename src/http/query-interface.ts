/**
 * The query interface at `/-/` (and its mirror `/.well-known/org/ogf/occi/-/`): category discovery with
 * filters, user mixins, and admin category management and the provider table (pyOCNI §4.1).
 */
import type { Context } from 'koa';
import { filterByQuery, filterCategories, idOf } from '../category-manager/definitions';
import { BadRequest, Forbidden, MethodNotAllowed, NotFound } from '../errors';
import type { Category, CategoryCollection, CategoryDefinition, Kind, Mixin } from '../model/types';
import type { Rendered } from '../rendering/rendering';
import { parseProviderUpdate } from '../rendering/occi-json';
import { textOcci } from '../rendering/text-occi';
import type { Collections } from '../service/collections';
import type { OcciService } from '../service/occi-service';
import { QUERY_INTERFACE_ALLOW, actionParam } from './allow';
import { callerOf, isAdmin, requireAdmin } from './caller';
import { nonListingRenderer } from './negotiate';
import type { RequestContext } from './request';
import { send } from './respond';


function collectionOf(categories: readonly Category[]): CategoryCollection {
  return {
    kinds: categories.filter((c): c is Kind => c.class === 'kind'),
    mixins: categories.filter((c): c is Mixin => c.class === 'mixin'),
    actions: categories.filter((c) => c.class === 'action') as CategoryCollection['actions'],
  };
}

/** Kind and mixin locations shown as absolute URLs, like every other location. */
export function locateCategories(c: CategoryCollection, locate: (p: string) => string): CategoryCollection {
  return {
    kinds: c.kinds.map((k) => (k.location ? { ...k, location: locate(k.location) } : k)),
    mixins: c.mixins.map((m) => ({ ...m, location: locate(m.location) })),
    actions: c.actions,
  };
}

/** A JSON body whose top level has `providers` is pyOCNI's provider-table update, not a category update. */
function isProviderUpdate(r: RequestContext): boolean {
  if (!/json/i.test(String(r.input.headers['content-type'] ?? ''))) return false;
  try {
    const parsed: unknown = JSON.parse(r.body);
    return typeof parsed === 'object' && parsed !== null && 'providers' in parsed;
  } catch {
    return false;
  }
}

/** Rendered unfiltered listings per category registry, keyed by its version, tenant, media type and base URL. */
const renderedListings = new WeakMap<object, Map<string, Rendered>>();

export async function queryInterface(ctx: Context, r: RequestContext, service: OcciService, collections: Collections): Promise<void> {
  const caller = callerOf(ctx);
  const tenant = caller.tenant;
  const manager = service.categories;
  // GFD.223's operation matrix: an action on the query interface is "Not Defined"; it must not read as a
  // category change (POST /-/?action=start made a mixin).
  const action = actionParam(ctx);
  if (action !== undefined && ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    throw new BadRequest(`the query interface ${ctx.path} has no actions: trigger one with POST on an entity or a collection (?action=term); ${ctx.method} ${ctx.path} takes no ?action`);
  }
  switch (ctx.method) {
    case 'GET':
    case 'HEAD': {
      const renderer = await nonListingRenderer(ctx, r.choices, 'categories');
      let listing = manager.list(tenant);
      const q = ctx.query.category;
      const narrowed = typeof q === 'string' && q !== '';
      if (narrowed) listing = filterByQuery(listing, q.replace(/\s+/g, ''));
      let filters: CategoryDefinition[] = [];
      if (r.body.trim() !== '') filters = r.parser.parseCategories(r.input);
      else filters = textOcci.parseCategoryRefs(r.input).map((ref) => ({ ...idParts(ref.id), ...(ref.class ? { class: ref.class } : {}) }));
      if (filters.length === 0 && !narrowed) {
        // The whole listing changes only with the categories: render it once per version, media type and base.
        const key = `${manager.index.version}\u0000${tenant}\u0000${renderer.mediaType}\u0000${r.locate('/')}`;
        let cache = renderedListings.get(manager.index);
        if (!cache) renderedListings.set(manager.index, (cache = new Map()));
        let rendered = cache.get(key);
        if (!rendered) {
          rendered = renderer.renderCategories(locateCategories(listing, r.locate));
          if (cache.size >= 64) cache.clear();
          cache.set(key, rendered);
        }
        send(ctx, 200, renderer, { headers: [...rendered.headers], body: rendered.body });
        return;
      }
      listing = filterCategories(listing, filters);
      send(ctx, 200, renderer, renderer.renderCategories(locateCategories(listing, r.locate)));
      return;
    }
    case 'POST': {
      const renderer = await nonListingRenderer(ctx, r.choices, 'categories');
      const defs = r.parser.parseCategories(r.input);
      const provider = defs.some((d) => d.class === 'kind' || d.class === 'action') || ctx.query.scope === 'provider';
      let created: Category[];
      if (provider) {
        requireAdmin(caller, 'defining kinds, actions and provider mixins');
        created = await manager.adminCreate(defs);
      } else {
        created = await manager.addUserMixins(tenant, defs);
      }
      send(ctx, 200, renderer, renderer.renderCategories(locateCategories(collectionOf(created), r.locate)));
      return;
    }
    case 'PUT': {
      requireAdmin(caller, 'updating categories and the provider table');
      const renderer = await nonListingRenderer(ctx, r.choices, 'categories');
      if (isProviderUpdate(r)) {
        const table = await service.backends.updateProviders(parseProviderUpdate(r.input));
        ctx.status = 200;
        ctx.type = 'application/json; charset=utf-8';
        ctx.body = JSON.stringify(table);
        return;
      }
      const defs = r.parser.parseCategories(r.input);
      if (defs.length === 0) throw new BadRequest('no category given to update');
      const updated = await manager.adminUpdate(defs, (id) => service.entities.usage(id));
      send(ctx, 200, renderer, renderer.renderCategories(locateCategories(collectionOf(updated), r.locate)));
      return;
    }
    case 'DELETE': {
      const defs = r.parser.parseCategories(r.input);
      if (defs.length === 0) throw new BadRequest('name the category to delete (Category header, or {"mixins":[{"scheme":…,"term":…}]})');
      const ids = defs.map(idOf);
      const own = ids.filter((id) => manager.index.byId(id, tenant)?.origin === 'user');
      const global = ids.filter((id) => !own.includes(id));
      if (global.length) {
        if (!isAdmin(caller)) {
          const first = manager.index.globalById(global[0]!);
          if (first) throw new Forbidden(`${global[0]} is a provider-defined ${first.class}; only user mixins can be deleted here`);
          throw new NotFound(`no category ${global[0]}`);
        }
        await manager.adminDelete(global, (id) => service.entities.usage(id));
      }
      if (own.length) {
        await manager.removeUserMixins(tenant, own, async (id) => {
          const m = manager.index.mixin(id, tenant);
          if (m) await collections.disassociate(tenant, m, []);
        });
      }
      send(ctx, 200, r.renderer, r.renderer.renderOk());
      return;
    }
    default:
      throw new MethodNotAllowed(ctx.method, ctx.path, QUERY_INTERFACE_ALLOW);
  }
}

function idParts(id: string): { scheme: string; term: string } {
  const hash = id.lastIndexOf('#');
  return { scheme: id.slice(0, hash + 1), term: id.slice(hash + 1) };
}

