/**
 * The query interface at `/-/` (and its mirror `/.well-known/org/ogf/occi/-/`): category discovery with
 * filters, user mixins, and admin category management and the provider table (pyOCNI §4.1).
 */
import type { Context } from 'koa';
import { filterByQuery, filterCategories, idOf } from '../category-manager/definitions';
import { BadRequest, Forbidden, MethodNotAllowed, NotFound } from '../errors';
import type { Category, CategoryCollection, CategoryDefinition, Kind, Mixin } from '../model/types';
import type { Renderer } from '../rendering/rendering';
import { textOcci } from '../rendering/text-occi';
import type { Collections } from '../service/collections';
import type { OcciService } from '../service/occi-service';
import { callerOf, requireAdmin } from './caller';
import type { RequestContext } from './request';
import { send } from './respond';

const ALLOW = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'];

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

/** The provider-table update body of pyOCNI: `{"providers":[{"Provider":{"local":[…],"remote":[…]},"OCCI_ID":"…"}]}`. */
function providerChanges(body: string): Array<{ kind: string; local: string[]; remote: string[] }> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || !('providers' in parsed)) return undefined;
  const list = (parsed as { providers: unknown }).providers;
  if (!Array.isArray(list)) throw new BadRequest('providers must be an array of {"Provider": {"local": [...]}, "OCCI_ID": "scheme#term"}');
  return list.map((entry, i) => {
    const e = entry as { OCCI_ID?: unknown; Provider?: { local?: unknown; remote?: unknown } };
    const strings = (v: unknown, name: string): string[] => {
      if (v === undefined) return [];
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new BadRequest(`providers/${i}/Provider/${name} must be an array of provider names`);
      return v as string[];
    };
    if (typeof e.OCCI_ID !== 'string') throw new BadRequest(`providers/${i}/OCCI_ID must name a kind (scheme#term)`);
    return { kind: e.OCCI_ID.replace(/\s+/g, ''), local: strings(e.Provider?.local, 'local'), remote: strings(e.Provider?.remote, 'remote') };
  });
}

export async function queryInterface(ctx: Context, r: RequestContext, service: OcciService, collections: Collections): Promise<void> {
  const caller = callerOf(ctx);
  const tenant = caller.tenant;
  const manager = service.categories;
  const renderer: Renderer = r.renderer;
  switch (ctx.method) {
    case 'GET':
    case 'HEAD': {
      let listing = manager.list(tenant);
      const q = ctx.query.category;
      if (typeof q === 'string' && q !== '') listing = filterByQuery(listing, q.replace(/\s+/g, ''));
      let filters: CategoryDefinition[] = [];
      if (r.body.trim() !== '') filters = r.parser.parseCategories(r.input);
      else filters = textOcci.parseCategoryRefs(r.input).map((ref) => ({ ...idParts(ref.id), ...(ref.class ? { class: ref.class } : {}) }));
      listing = filterCategories(listing, filters);
      send(ctx, 200, renderer, renderer.renderCategories(locateCategories(listing, r.locate)));
      return;
    }
    case 'POST': {
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
      const changes = r.body.trim().startsWith('{') ? providerChanges(r.body) : undefined;
      if (changes) {
        const table = await service.backends.updateProviders(changes);
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
        if (!caller.admin) {
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
      send(ctx, 200, renderer, renderer.renderOk());
      return;
    }
    default:
      throw new MethodNotAllowed(ctx.method, ctx.path, ALLOW);
  }
}

function idParts(id: string): { scheme: string; term: string } {
  const hash = id.lastIndexOf('#');
  return { scheme: id.slice(0, hash + 1), term: id.slice(hash + 1) };
}

