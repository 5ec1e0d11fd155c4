/**
 * pyOCNI HowTo §4.2–4.4 (seed 004) as acceptance tests, in application/occi+json. The §10 JSON files are
 * used verbatim (the `http: //` spaces included) except where a placeholder (`{location1}/vm1`) must
 * become a real location. The server runs with baseUrl http://localhost:8090, the seed's own address,
 * so locations read exactly as in the HowTo. Statuses and bodies follow DESIGN.md where it chose:
 * 201 bodies are the entity (several: `{"resources":[…]}`), listings are full entity collections,
 * DELETE and collection actions answer 200 with `{}`.
 */
import { startHarness, type Harness } from '../support/harness';
import { CUSTOM_RESOURCE, GET_RESOURCES, PARTIAL_UPDATE, POST_RESOURCES, TRIGGER_ACTION } from '../support/pyocni-files';

const J = 'application/occi+json';
const BASE = 'http://localhost:8090';
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const COMPUTE = INFRA + 'compute';
const ACT = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
const PROVIDER_MIXIN = 'https://occitan.dev/occi/occitan#provider';
const ONE = 'http://schemas.opennebula.org/occi/infrastructure#my_mixin';
const OTHER = 'http://schemas.other.org/occi#my_mixin';
const MEDIUM = 'http://example.com/template/resource#medium';

// --- §10 files, verbatim -------------------------------------------------------------------------
/** full_update_resource.json is the same document as post_custom_resource.json. */
const FULL_UPDATE = CUSTOM_RESOURCE;
/** associate_mixin.json / update_mixins.json / dissociate_mixins.json with real locations. */
const locations = (...locs: string[]): string => JSON.stringify({ 'X-OCCI-Location': locs });

// --- helpers -------------------------------------------------------------------------------------
type Json = Record<string, any>;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ baseUrl: BASE });
  // pyOCNI's mixins are user mixins (tags): any caller may create them at /-/.
  const tags = await h.http.post('/-/').set('Content-Type', J).set('Accept', J).send(JSON.stringify({
    mixins: [
      { term: 'my_mixin', scheme: 'http://schemas.opennebula.org/occi/infrastructure#', location: '/mixins/opennebula/my_mixin/' },
      { term: 'my_mixin', scheme: 'http://schemas.other.org/occi#', location: '/mixins/other/my_mixin/' },
    ],
  }));
  expect(tags.status).toBe(200);
  expect(tags.body.mixins.map((m: Json) => m.location).sort()).toEqual([`${BASE}/mixins/opennebula/my_mixin/`, `${BASE}/mixins/other/my_mixin/`]);
  // GFD.226's `medium` resource template: a provider mixin, so an admin defines it (?scope=provider).
  const tpl = await h.http.post('/-/?scope=provider').set('Content-Type', J).set('Accept', J).send(JSON.stringify({
    mixins: [{
      term: 'medium', scheme: 'http://example.com/template/resource#', title: 'MediumVM',
      depends: [INFRA + 'resource_tpl'], applies: [COMPUTE],
      attributes: { 'occi.compute.speed': { type: 'number', default: 2.8, mutable: true } },
      location: '/template/resource/medium/',
    }],
  }));
  expect(tpl.status).toBe(200);
  expect(tpl.body.mixins).toEqual([expect.objectContaining({ term: 'medium', depends: [INFRA + 'resource_tpl'], location: `${BASE}/template/resource/medium/` })]);
});
afterAll(async () => h.close());

const sorted = (a: string[]): string[] => [...a].sort();
const ids = (c: Json): string[] => sorted((c.resources as Json[]).map((r) => r.id as string));
const get = (path: string) => h.http.get(path).set('Accept', J);
const sendJson = (req: ReturnType<Harness['http']['post']>, body: string) => req.set('Content-Type', J).set('Accept', J).send(body);

/** A compute as GFD.226 renders it: the given attributes plus the state and provider occitan adds. */
function expectCompute(body: Json, want: { id: string; mixins: string[]; attributes: Json; state?: string }): void {
  const state = want.state ?? 'active';
  expect({ ...body, mixins: sorted(body.mixins) }).toEqual({
    kind: COMPUTE,
    mixins: sorted([...want.mixins, PROVIDER_MIXIN]),
    attributes: { 'occi.core.id': want.id, ...want.attributes, 'occi.compute.state': state, 'occitan.provider': 'dummy' },
    actions: expect.any(Array),
    id: want.id,
    ...(want.attributes['occi.core.title'] !== undefined ? { title: want.attributes['occi.core.title'] } : {}),
    ...(want.attributes['occi.core.summary'] !== undefined ? { summary: want.attributes['occi.core.summary'] } : {}),
    // No `links`: an empty array is omitted (rOCCI-core's minItems: 1).
  });
  // Only applicable actions are rendered (GFD.185 §3.4.2): an active compute can stop, not start.
  expect(body.actions).toContain(ACT + (state === 'active' ? 'stop' : 'start'));
  expect(body.actions).not.toContain(ACT + (state === 'active' ? 'start' : 'stop'));
}

const PYOCNI_ATTRS = { 'occi.core.title': 'Compute resource', 'occi.core.summary': 'This is a compute resource' };

describe('§4.3 multiple resource management', () => {
  const first = '996ad860-2a9a-504f-8861-aeafd0b2ae29';
  const three = ['r1', 'r2', 'r3'].map((id) => `${BASE}/compute/${id}`);

  test('3. POST post_resources.json creates the resource: 201, Location, the entity', async () => {
    const res = await sendJson(h.http.post('/compute/'), POST_RESOURCES);
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`${BASE}/compute/${first}`);
    expectCompute(res.body, {
      id: first, mixins: [ONE, OTHER],
      attributes: { ...PYOCNI_ATTRS, 'occi.compute.speed': 2, 'occi.compute.memory': 4, 'occi.compute.cores': 2 },
    });
    const again = await get(`/compute/${first}`);
    expect(again.status).toBe(200);
    expect(again.headers.etag).toBe(res.headers.etag);
  });

  test('3. several resources in one POST: 201, Location = the first, a collection of all', async () => {
    const body = JSON.stringify({ resources: [
      { kind: 'http: //schemas.ogf.org/occi/infrastructure#compute', id: 'r1', mixins: ['http: //schemas.other.org/occi#my_mixin'], attributes: { occi: { compute: { speed: 2, memory: 4, cores: 2 } } } },
      { kind: COMPUTE, id: 'r2', attributes: { occi: { compute: { speed: 2, memory: 4, cores: 4 } } } },
      { kind: COMPUTE, id: 'r3', attributes: { 'occi.compute.memory': 8, 'occi.compute.cores': 2 } },
    ] });
    const res = await sendJson(h.http.post('/compute/'), body);
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(three[0]);
    expect(ids(res.body)).toEqual(['r1', 'r2', 'r3']);
    expectCompute(res.body.resources.find((r: Json) => r.id === 'r2'), { id: 'r2', mixins: [], attributes: { 'occi.compute.speed': 2, 'occi.compute.memory': 4, 'occi.compute.cores': 4 } });
    for (const loc of three) expect((await get(new URL(loc).pathname)).status).toBe(200);
  });

  test('3. all or none: a batch with one bad resource creates nothing', async () => {
    const before = await h.seq();
    const res = await sendJson(h.http.post('/compute/'), JSON.stringify({ resources: [
      { kind: COMPUTE, id: 'ok1' },
      { kind: COMPUTE, id: 'bad1', attributes: { 'occi.compute.cores': 'many' } },
    ] }));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ status: 400, error: expect.stringContaining('occi.compute.cores') });
    expect(await h.seq()).toBe(before);
    expect((await get('/compute/ok1')).status).toBe(404);
    // The second id exists: the first, already made, is undone (GFD.185 §3.6.4: no partial execution).
    const dup = await sendJson(h.http.post('/compute/'), JSON.stringify({ resources: [{ kind: COMPUTE, id: 'ok2' }, { kind: COMPUTE, id: 'r1' }] }));
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({ status: 409, error: expect.stringContaining('r1') });
    expect((await get('/compute/ok2')).status).toBe(404);
  });

  test('1. GET the kind collection: every compute, rendered in full', async () => {
    const res = await get('/compute/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/occi+json');
    expect(ids(res.body)).toEqual([first, 'r1', 'r2', 'r3']);
    expect(res.headers['x-occi-total']).toBe('4');
  });

  test('2. GET with get_resources.json as a filter: only exact matches', async () => {
    const res = await sendJson(h.http.get('/compute/'), GET_RESOURCES);
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([first, 'r1']);
    // A mixin's collection filters by membership (GFD.223 §Filtering).
    const tagged = await get('/mixins/other/my_mixin/');
    expect(ids(tagged.body)).toEqual([first, 'r1']);
  });

  test('4. trigger_action.json on a kind collection', async () => {
    const stop = await sendJson(h.http.post('/compute/?action=stop'), JSON.stringify({ action: ACT + 'stop', attributes: { method: 'graceful' } }));
    expect(stop.status).toBe(200);
    expect(stop.body).toEqual({});
    const states = async (): Promise<string[]> => ((await get('/compute/')).body.resources as Json[]).map((r) => r.attributes['occi.compute.state']);
    expect(await states()).toEqual(['inactive', 'inactive', 'inactive', 'inactive']);

    // Verbatim, the file passes network-interface attributes to `start`, which has no parameters: 400, nothing done.
    const before = await h.seq();
    const bad = await sendJson(h.http.post('/compute/?action=start'), TRIGGER_ACTION);
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ status: 400, error: expect.stringContaining('occi.infrastructure.networkinterface.interface') });
    expect(await h.seq()).toBe(before);
    expect(await states()).toEqual(['inactive', 'inactive', 'inactive', 'inactive']);

    // The same pyOCNI {"actions":[{term, scheme}]} form without them starts every member.
    const start = await sendJson(h.http.post('/compute/?action=start'), JSON.stringify({ actions: JSON.parse(TRIGGER_ACTION).actions }));
    expect(start.status).toBe(200);
    expect(start.body).toEqual({});
    expect(await states()).toEqual(['active', 'active', 'active', 'active']);
  });

  test('4. an action not defined by a mixin cannot run on its collection (400)', async () => {
    const res = await sendJson(h.http.post('/mixins/other/my_mixin/?action=start'), JSON.stringify({ action: ACT + 'start' }));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ status: 400, error: expect.stringContaining('start') });
  });

  test('5–6. associate, fully update and dissociate a mixin with {"X-OCCI-Location": [...]}', async () => {
    const one = '/mixins/opennebula/my_mixin/';
    const assoc = await sendJson(h.http.post(one), locations(three[0]!, three[1]!));
    expect(assoc.status).toBe(200);
    expect(ids(assoc.body)).toEqual([first, 'r1', 'r2']); // post_resources.json already tagged the first
    expect((await get('/compute/r2')).body.mixins).toContain(ONE);

    const replace = await sendJson(h.http.put(one), locations(three[1]!, three[2]!));
    expect(replace.status).toBe(200);
    expect(ids(replace.body)).toEqual(['r2', 'r3']);
    expect((await get(`/compute/${first}`)).body.mixins).not.toContain(ONE);
    expect((await get('/compute/r1')).body.mixins).not.toContain(ONE);

    const dissoc = await sendJson(h.http.delete(one), locations(three[2]!));
    expect(dissoc.status).toBe(200);
    expect(dissoc.body).toEqual({});
    expect(ids((await get(one)).body)).toEqual(['r2']);
    expect(sorted((await get('/compute/r3')).body.mixins)).toEqual([PROVIDER_MIXIN]);
  });

  test('5. association naming an unknown entity changes nothing (404)', async () => {
    const before = await h.seq();
    const res = await sendJson(h.http.post('/mixins/other/my_mixin/'), locations(three[2]!, `${BASE}/compute/nope`));
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ status: 404, error: expect.stringContaining('/compute/nope') });
    expect(await h.seq()).toBe(before);
  });
});

describe('§4.2 path management', () => {
  const put = (path: string, cores: number) =>
    sendJson(h.http.put(path), JSON.stringify({ kind: COMPUTE, attributes: { 'occi.compute.cores': cores } }));

  beforeAll(async () => {
    for (const [p, c] of [['/users/foo/vm3', 1], ['/users/foo/fooVM', 1], ['/users/foo/user/vm1', 1], ['/users/bar/vm1', 1]] as const) {
      expect((await put(p, c)).status).toBe(201);
    }
  });

  test('1. GET a path: everything below it', async () => {
    const res = await h.http.get('/users/foo/').set('Accept', 'text/uri-list');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/uri-list');
    expect(res.text.split('\r\n').filter(Boolean).sort()).toEqual([`${BASE}/users/foo/fooVM`, `${BASE}/users/foo/user/vm1`, `${BASE}/users/foo/vm3`]);
    const json = await get('/users/foo/');
    expect(json.status).toBe(200);
    expect((json.body.resources as Json[]).map((r) => r.attributes['occi.compute.cores'])).toEqual([1, 1, 1]);
    const root = await get('/');
    expect(root.status).toBe(200);
    expect(root.headers['x-occi-total']).toBe(String((await get('/compute/')).body.resources.length));
  });

  test('2. GET /{primary}/{secondary}/: the resources below that path only', async () => {
    const res = await h.http.get('/users/foo/user/').set('Accept', 'text/uri-list');
    expect(res.status).toBe(200);
    expect(res.text).toBe(`${BASE}/users/foo/user/vm1\r\n`);
  });

  test('3. DELETE /{primary}/{secondary}/ deletes everything below it and nothing else', async () => {
    const res = await h.http.delete('/users/foo/').set('Accept', J);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    for (const p of ['/users/foo/vm3', '/users/foo/fooVM', '/users/foo/user/vm1']) expect((await get(p)).status).toBe(404);
    expect((await get('/users/bar/vm1')).status).toBe(200);
    const gone = await get('/users/foo/');
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ status: 404, error: expect.stringContaining('/users/foo/') });
  });
});

describe('§4.4 single resource management', () => {
  const path = '/compute/9930';
  let etag = '';

  test('1. PUT post_custom_resource.json at a custom path: 201 at that path', async () => {
    const res = await sendJson(h.http.put(path), CUSTOM_RESOURCE);
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`${BASE}${path}`);
    expectCompute(res.body, { id: '9930', mixins: [MEDIUM], attributes: { ...PYOCNI_ATTRS, 'occi.compute.speed': 2, 'occi.compute.memory': 4, 'occi.compute.cores': 12 } });
    etag = res.headers.etag;
    expect(etag).toMatch(/^"\S+"$/);
  });

  test('2. GET the resource: the same rendering and ETag', async () => {
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe(etag);
    expectCompute(res.body, { id: '9930', mixins: [MEDIUM], attributes: { ...PYOCNI_ATTRS, 'occi.compute.speed': 2, 'occi.compute.memory': 4, 'occi.compute.cores': 12 } });
  });

  test('the medium template gives its default when the attribute is not sent', async () => {
    const res = await sendJson(h.http.put('/compute/medium-default'), JSON.stringify({ kind: COMPUTE, mixins: [MEDIUM] }));
    expect(res.status).toBe(201);
    expect(res.body.attributes['occi.compute.speed']).toBe(2.8);
  });

  test('3. PUT full_update_resource.json: 200, mixins and mutable attributes replaced', async () => {
    // Give it a tag and a hostname first; the full update does not name them, so both go.
    const tag = await sendJson(h.http.post(path), JSON.stringify({ mixins: [OTHER], attributes: { 'occi.compute.hostname': 'web' } }));
    expect(tag.status).toBe(200);
    expect(tag.body.attributes['occi.compute.hostname']).toBe('web');
    const res = await sendJson(h.http.put(path), FULL_UPDATE);
    expect(res.status).toBe(200);
    expect(res.headers.location).toBeUndefined();
    expectCompute(res.body, { id: '9930', mixins: [MEDIUM], attributes: { ...PYOCNI_ATTRS, 'occi.compute.speed': 2, 'occi.compute.memory': 4, 'occi.compute.cores': 12 } });
    expect((await get(path)).headers.etag).toBe(res.headers.etag);
    etag = res.headers.etag;
  });

  test('4. POST partial_update_resource.json: 200, only speed and cores change', async () => {
    const res = await sendJson(h.http.post(path), PARTIAL_UPDATE);
    expect(res.status).toBe(200);
    expectCompute(res.body, { id: '9930', mixins: [MEDIUM], attributes: { ...PYOCNI_ATTRS, 'occi.compute.speed': 5, 'occi.compute.memory': 4, 'occi.compute.cores': 2 } });
    expect(res.headers.etag).not.toBe(etag);
    expect((await get(path)).headers.etag).toBe(res.headers.etag);
  });

  test('5. trigger an action on the resource: 200 with the entity in its new state', async () => {
    const res = await sendJson(h.http.post(`${path}?action=stop`), JSON.stringify({ actions: [{ term: 'stop', scheme: ACT }], attributes: { method: 'graceful' } }));
    expect(res.status).toBe(200);
    expectCompute(res.body, { id: '9930', mixins: [MEDIUM], state: 'inactive', attributes: { ...PYOCNI_ATTRS, 'occi.compute.speed': 5, 'occi.compute.memory': 4, 'occi.compute.cores': 2 } });
    const unknown = await sendJson(h.http.post(`${path}?action=explode`), JSON.stringify({}));
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({ status: 400, error: expect.stringContaining('explode') });
  });

  test('6. DELETE the resource: 200, then 404', async () => {
    const res = await h.http.delete(path).set('Content-Type', J).set('Accept', J);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const gone = await get(path);
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ status: 404, error: expect.stringContaining(path) });
  });
});
