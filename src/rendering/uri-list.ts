/**
 * text/uri-list (RFC 2483): one URI per line, CRLF-terminated, `#` lines are comments. It can only
 * carry listings (GFD.185 §3.6.6, GFD.229 §7): asking it for an entity or the category model is a
 * 400, not a 406.
 *
 * Choices beyond "everything else throws": renderEntities and renderCreated are listings of locations
 * and are rendered as such (the collection GET of the 1.1 compliance test compares them with
 * X-OCCI-Location); renderOk is an empty list and renderError a `#` comment line, because by the time
 * those are rendered the request has been carried out or has failed, and throwing would hide that.
 */
import { BadRequest, ParseError } from '../errors';
import type { EntityView } from '../model/types';
import type { RequestInput, Rendered, Renderer, StreamParts } from './rendering';
import { describe, sanitize } from './header-grammar';

const NOT_A_LISTING =
  'text/uri-list can only render a listing of locations; ask for text/plain, text/occi or application/occi+json';

const locationStream: StreamParts<string> = {
  open: () => '',
  item: (location) => `${sanitize(location)}\r\n`,
  close: () => '',
};

const entityStream: StreamParts<EntityView> = {
  open: () => '',
  item: (entity, index) => locationStream.item(entity.location, index),
  close: () => '',
};

const list = (locations: readonly string[]): Rendered => ({
  headers: [],
  body: locations.map((l, i) => locationStream.item(l, i)).join(''),
});

export const uriList: Renderer & { parseLocations(input: RequestInput): string[] } = {
  mediaType: 'text/uri-list',
  renderCategories: () => {
    throw new BadRequest(NOT_A_LISTING);
  },
  renderEntity: () => {
    throw new BadRequest(NOT_A_LISTING);
  },
  renderLocations: list,
  renderEntities: (entities) => list(entities.map((e) => e.location)),
  renderOk: () => ({ headers: [], body: '' }),
  renderCreated: list,
  renderError: (status, message) => ({ headers: [], body: `# ${status} ${sanitize(message)}\r\n` }),
  locationStream,
  entityStream,
  parseLocations(input) {
    const out: string[] = [];
    for (const raw of input.body.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      if (/[\s"<>]/.test(line)) throw new ParseError(`text/uri-list: bad URI ${describe(line)}`);
      out.push(line);
    }
    return out;
  },
};
