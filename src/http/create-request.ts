/**
 * Reading what a POST to a kind's location or a PUT to an entity asks for, where the media type matters
 * beyond the parsed request: entity locations sent to a kind's location, and Link headers in a text PUT.
 */
import type { Context } from 'koa';
import { BadRequest } from '../errors';
import type { EntityRequest, Kind } from '../model/types';
import { categoryId } from '../model/types';
import { uriList } from '../rendering/uri-list';
import type { RequestContext } from './request';

const typeOf = (ctx: Context): string => ctx.get('Content-Type').split(';')[0]!.trim().toLowerCase();

/**
 * OCCI 1.1 (GFD.185 §3.4.4): a text PUT carrying a Link header is a bad request. A JSON body may carry the
 * links its GET rendered: the service ignores those that exist (they stay intact) and refuses new ones.
 */
export function checkPutLinks(ctx: Context, req: EntityRequest): void {
  const type = typeOf(ctx);
  if (req.links.length && type !== 'application/occi+json' && type !== 'application/json') {
    throw new BadRequest('a full update (PUT) leaves links intact; send links to the link kind\'s location or with POST');
  }
}

/**
 * The entities a POST to a kind's location creates. Entity locations alone (X-OCCI-Location, a
 * text/uri-list body, a JSON location list) ask for mixin association, which only a mixin's location
 * offers (GFD.223 §3.7): 400 naming that, as is a request describing nothing. A request with attributes
 * or links but no Category still creates an entity of the collection's kind.
 */
export function entitiesToCreate(ctx: Context, r: RequestContext, kind: Kind): EntityRequest[] {
  const association = (locations: readonly string[], sent = 'entity locations'): BadRequest => {
    const named = locations.length ? ` (${locations[0]}${locations.length > 1 ? ', …' : ''})` : '';
    return new BadRequest(
      `${kind.location} is the collection of ${categoryId(kind)}: a POST there creates one (send its Category and attributes); ` +
        `${sent}${named} associate a mixin, with a POST to that mixin's location`,
    );
  };
  if (typeOf(ctx) === 'text/uri-list') throw association(uriList.parseLocations(r.input), 'the entity locations of a text/uri-list body');
  const locationsIn = (): string[] => {
    try {
      return r.parser.parseLocations(r.input).map((e) => (typeof e === 'string' ? e : e.id));
    } catch {
      return [];
    }
  };
  let reqs: EntityRequest[];
  try {
    reqs = r.parser.parseEntities(r.input);
  } catch (e) {
    // A JSON location list is no entity: say what it is, not which member the entity schema refused.
    const locations = locationsIn();
    if (locations.length) throw association(locations);
    throw e;
  }
  if (reqs.length === 0) throw new BadRequest(`nothing to create: describe at least one ${kind.term}`);
  if (reqs.some((q) => q.categories.length === 0)) {
    const locations = locationsIn();
    if (locations.length) throw association(locations);
  }
  if (reqs.some((q) => q.categories.length === 0 && Object.keys(q.attributes).length === 0 && q.links.length === 0)) {
    throw new BadRequest(`nothing to create: the request describes no entity of ${categoryId(kind)} (send its Category, attributes or links)`);
  }
  return reqs;
}
