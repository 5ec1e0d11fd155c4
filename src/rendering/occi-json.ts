/**
 * application/occi+json (OCCI 1.2 JSON rendering, GFD.226), parsing pyOCNI's JSON dialect too.
 * Parsers: occi-json-parse.ts (normalisation in json-dialect.ts, schemas in schemas/*.json compiled by
 * occi-json-schema.ts at module load). Renderers: occi-json-render.ts. All bodies compact JSON.
 */
import type { Parser, Renderer } from './rendering';
import { parseAction, parseCategories, parseCategoryRefs, parseEntities, parseLocations } from './occi-json-parse';
import {
  OCCI_JSON_MEDIA_TYPE,
  createEntityStream,
  locationStream,
  renderCategories,
  renderCreated,
  renderEntities,
  renderEntity,
  renderError,
  renderLocations,
  renderOk,
} from './occi-json-render';

export { OCCI_JSON_MEDIA_TYPE, createEntityStream, type EntityCollectionKey } from './occi-json-render';
export { parseProviderUpdate, type ProviderUpdate } from './occi-json-parse';
export { MAX_JSON_DEPTH } from './json-body';

export const occiJson: Parser & Renderer = {
  mediaType: OCCI_JSON_MEDIA_TYPE,
  parseEntities,
  parseCategories,
  parseCategoryRefs,
  parseAction,
  parseLocations,
  renderCategories,
  renderEntity,
  renderLocations,
  renderEntities,
  renderOk,
  renderCreated,
  renderError,
  locationStream,
  /** A new stream on each read: which array is open is per-response state (createEntityStream). */
  get entityStream() {
    return createEntityStream();
  },
};
