/**
 * OCCI JSON compliance (occi-spec.md §5, edge cases 5, 15, 18, 19), through the real server: every
 * application/occi+json body validates against the GFD.226 appendix schema (a verbatim copy in
 * fixtures/, only its broken `#definitions/…` references fixed) under the definition a client picks:
 * GET /-/ as `model`, an entity as `resource` / `link`, a kind's collection as `resource_collection` or
 * `link_collection` by the kind. And what rOCCI-core's stricter validator (rOCCI 5 clients) adds: no
 * empty array anywhere (`minItems: 1`) and a `location` on every Kind but core#entity.
 */
import Ajv04 from 'ajv-draft-04';
import type { ValidateFunction } from 'ajv';
import type { EntityView } from '../../../src/model/types';
import { createEntityStream, occiJson } from '../../../src/rendering/occi-json';
import { renderEntities } from '../../../src/rendering/occi-json-render';
import { checkRendered } from '../../../src/rendering/occi-json-schema';
import { INFRA, startHarness, type Harness } from '../../support/harness';
import gfd226 from './fixtures/gfd226-OCCI-schema.json';
import { computeView, nicView } from './occi-json-fixtures';

const J = 'application/occi+json';
const CORE = 'http://schemas.ogf.org/occi/core#';

// The appendix writes some references `#definitions/x`, which no validator resolves (occi-spec.md §5.9).
const schema: unknown = JSON.parse(JSON.stringify(gfd226).replaceAll('"#definitions/', '"#/definitions/'));
const ajv = new Ajv04({ allErrors: true, strict: false });
ajv.addSchema(schema as object);

type Definition = 'model' | 'resource' | 'link' | 'resource_collection' | 'link_collection';

function validator(d: Definition): ValidateFunction {
  const v = ajv.getSchema(`OCCI-schema.json#/definitions/${d}`);
  if (!v) throw new Error(`no definition ${d} in the GFD.226 schema`);
  return v;
}

/** The ajv errors of `body` against a GFD.226 definition, as text ([] when valid). */
function gfd226Errors(d: Definition, body: unknown): string[] {
  const v = validator(d);
  return v(body) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

/** JSON paths of the empty arrays in `value` (rOCCI-core's schema has `minItems: 1` on every array). */
function emptyArrays(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [path || '/'];
    return value.flatMap((v, i) => emptyArrays(v, `${path}/${i}`));
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => emptyArrays(v, `${path}/${k}`));
  }
  return [];
}

describe('renderer: collection shapes and omitted empty arrays', () => {
  const linkOnly: EntityView = { ...nicView };
  const bare: EntityView = { ...computeView, mixins: [], actions: [], links: [] };

  test('a collection has only its non-empty keys; an empty one the key it is told (resources by default)', () => {
    expect(Object.keys(JSON.parse(occiJson.renderEntities([computeView]).body))).toEqual(['resources']);
    expect(Object.keys(JSON.parse(occiJson.renderEntities([linkOnly]).body))).toEqual(['links']);
    expect(Object.keys(JSON.parse(occiJson.renderEntities([computeView, linkOnly]).body))).toEqual(['resources', 'links']);
    expect(Object.keys(JSON.parse(occiJson.renderEntities([linkOnly, computeView]).body))).toEqual(['links', 'resources']);
    expect(JSON.parse(occiJson.renderEntities([]).body)).toEqual({ resources: [] });
    expect(JSON.parse(renderEntities([], 'links').body)).toEqual({ links: [] });
    expect(gfd226Errors('resource_collection', JSON.parse(occiJson.renderEntities([]).body))).toEqual([]);
    expect(gfd226Errors('link_collection', JSON.parse(renderEntities([], 'links').body))).toEqual([]);
    // The old shape of a link collection, which a validator choosing by kind rejects.
    expect(gfd226Errors('link_collection', { resources: [], links: [] })).not.toEqual([]);
  });

  test('a stream of a link kind gives the same bytes as renderEntities, empty or not', () => {
    for (const views of [[], [linkOnly], [linkOnly, linkOnly]]) {
      const s = createEntityStream('links');
      const body = s.open() + views.map((v, i) => s.item(v, i)).join('') + s.close();
      expect(body).toBe(renderEntities(views, 'links').body);
      expect(gfd226Errors('link_collection', JSON.parse(body))).toEqual([]);
      expect(checkRendered('link_collection', JSON.parse(body))).toBeUndefined();
      expect(checkRendered('entity_collection', JSON.parse(body))).toBeUndefined();
    }
  });

  test('an entity with no mixins, actions or links renders none of those members', () => {
    const body = JSON.parse(occiJson.renderEntity(bare).body);
    expect(body).not.toHaveProperty('mixins');
    expect(body).not.toHaveProperty('actions');
    expect(body).not.toHaveProperty('links');
    expect(body.attributes).toEqual(bare.attributes);
    expect(gfd226Errors('resource', body)).toEqual([]);
  });

  test('the parser stays lenient: empty arrays and either collection shape are accepted', () => {
    const parse = (body: unknown) => occiJson.parseEntities({ headers: {}, body: JSON.stringify(body) });
    expect(parse({ links: [] })).toEqual([]);
    expect(parse({ resources: [], links: [] })).toEqual([]);
    const link = { kind: INFRA + 'networkinterface', id: 'l', source: { location: '/compute/c' }, target: { location: '/network/n' } };
    expect(parse({ links: [link] })).toHaveLength(1);
    expect(parse({ resources: [], links: [link] })).toHaveLength(1);
    const [r] = parse({ kind: INFRA + 'compute', id: 'c', mixins: [], actions: [], links: [] });
    expect(r?.categories).toEqual([{ id: INFRA + 'compute', class: 'kind' }]);
    const [m] = occiJson.parseCategories({ headers: {}, body: JSON.stringify({ mixins: [{ term: 't', scheme: 'http://e.com/s#', location: '/t/', depends: [], applies: [], actions: [] }] }) });
    expect(m?.term).toBe('t');
  });

  test('an empty category collection is {} (a valid model)', () => {
    const body = JSON.parse(occiJson.renderCategories({ kinds: [], mixins: [], actions: [] }).body);
    expect(body).toEqual({});
    expect(gfd226Errors('model', body)).toEqual([]);
  });
});

describe('through the server: GFD.226 definitions by kind, and rOCCI-core strictness', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  const getJson = async (path: string): Promise<unknown> => {
    const res = await h.http.get(path).set('Accept', J);
    expect([path, res.status]).toEqual([path, 200]);
    expect(res.headers['content-type']).toMatch(/^application\/occi\+json/);
    return JSON.parse(res.text) as unknown;
  };
  const post = async (collection: string, body: Record<string, unknown>): Promise<void> => {
    const res = await h.http.post(collection).set('Content-Type', J).set('Accept', J).send(JSON.stringify(body));
    expect([collection, res.status, res.text]).toEqual([collection, 201, expect.any(String)]);
  };

  test('an empty mixed collection (/) is {"resources":[]}: valid as resource_collection and as model', async () => {
    const body = await getJson('/');
    expect(body).toEqual({ resources: [] });
    expect(gfd226Errors('resource_collection', body)).toEqual([]);
    expect(gfd226Errors('model', body)).toEqual([]);
  });

  test('an empty kind collection has the key of its kind: {"links":[]} for a link kind', async () => {
    const want: Array<[string, 'resource_collection' | 'link_collection', unknown]> = [
      ['/storagelink/', 'link_collection', { links: [] }],
      ['/networkinterface/', 'link_collection', { links: [] }],
      ['/link/', 'link_collection', { links: [] }],
      ['/compute/', 'resource_collection', { resources: [] }],
      ['/resource/', 'resource_collection', { resources: [] }],
    ];
    for (const [path, definition, body] of want) {
      const got = await getJson(path);
      expect([path, got]).toEqual([path, body]);
      expect([path, gfd226Errors(definition, got)]).toEqual([path, []]);
    }
  });

  test('compute, network, networkinterface, storage, storagelink: each body validates as its definition', async () => {
    await post('/network/', { kind: INFRA + 'network', id: 'n1' });
    await post('/storage/', { kind: INFRA + 'storage', id: 's1', attributes: { 'occi.storage.size': 1 } });
    await post('/compute/', { kind: INFRA + 'compute', id: 'c1' });
    await post('/networkinterface/', {
      kind: INFRA + 'networkinterface', id: 'ni1', source: { location: '/compute/c1' }, target: { location: '/network/n1' },
    });
    await post('/storagelink/', {
      kind: INFRA + 'storagelink', id: 'sl1', source: { location: '/compute/c1' }, target: { location: '/storage/s1' },
    });

    const model = await getJson('/-/');
    expect(gfd226Errors('model', model)).toEqual([]);
    expect(emptyArrays(model)).toEqual([]);

    for (const path of ['/compute/c1', '/network/n1', '/storage/s1']) {
      const body = await getJson(path);
      expect([path, gfd226Errors('resource', body)]).toEqual([path, []]);
      expect([path, emptyArrays(body)]).toEqual([path, []]);
    }
    const c1 = (await getJson('/compute/c1')) as { links?: Array<{ id: string }> };
    expect(c1.links?.map((l) => l.id).sort()).toEqual(['ni1', 'sl1']);
    for (const path of ['/networkinterface/ni1', '/storagelink/sl1']) {
      const body = await getJson(path);
      expect([path, gfd226Errors('link', body)]).toEqual([path, []]);
      expect([path, emptyArrays(body)]).toEqual([path, []]);
    }

    // A kind's collection (a parent kind's lists its children): the definition a client picks by kind.
    const collections: Array<[string, 'resource_collection' | 'link_collection', number]> = [
      ['/compute/', 'resource_collection', 1],
      ['/network/', 'resource_collection', 1],
      ['/storage/', 'resource_collection', 1],
      ['/resource/', 'resource_collection', 3],
      ['/networkinterface/', 'link_collection', 1],
      ['/storagelink/', 'link_collection', 1],
      ['/link/', 'link_collection', 2],
    ];
    for (const [path, definition, count] of collections) {
      const body = (await getJson(path)) as Record<string, unknown[]>;
      expect([path, gfd226Errors(definition, body)]).toEqual([path, []]);
      expect([path, body[definition === 'link_collection' ? 'links' : 'resources']?.length]).toEqual([path, count]);
      expect([path, emptyArrays(body)]).toEqual([path, []]);
    }

    // A mixed collection: both keys, each non-empty; GFD.226's `model` is the definition with both.
    const all = (await getJson('/')) as Record<string, unknown[]>;
    expect(Object.keys(all).sort()).toEqual(['links', 'resources']);
    expect([all.resources?.length, all.links?.length]).toEqual([3, 2]);
    expect(gfd226Errors('model', all)).toEqual([]);
    expect(emptyArrays(all)).toEqual([]);
  });

  test('every Kind but core#entity has a location, and its collection is served', async () => {
    const model = (await getJson('/-/')) as { kinds: Array<{ scheme: string; term: string; location?: string }> };
    const withoutLocation = model.kinds.filter((k) => k.location === undefined).map((k) => k.scheme + k.term);
    expect(withoutLocation).toEqual([CORE + 'entity']);
    for (const k of model.kinds) {
      if (k.location === undefined) continue;
      const res = await h.http.get(new URL(k.location, 'http://x').pathname).set('Accept', J);
      expect([k.location, res.status]).toEqual([k.location, 200]);
    }
  });
});
