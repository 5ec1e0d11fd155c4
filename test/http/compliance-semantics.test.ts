/**
 * Entity semantics an OCCI compliance audit checked (occi-spec.md §3.6–3.8, edge cases 22–24):
 * - create: server-managed immutable attributes (`*.state`, the networkinterface `interface`) a client copies
 *   from a rendering are ignored, so GFD.185 §3.4.5's inline-link example works word for word; on update a
 *   different value is still 403; an inline link's `self=` is its location unless taken (409), malformed or
 *   in another kind's collection (400);
 * - PUT of the JSON a GET returned (links included) is accepted, existing links staying intact; a new link
 *   in a PUT is 400, and so is any Link header in a text PUT (1.1);
 * - POST (partial update) of that JSON skips the links the resource has and creates only new ones;
 * - an action the entity's state does not allow is 400 (not 409), nothing changed;
 * - entity locations sent to a kind's location (association is for mixin locations only) and an empty
 *   create are 400, nothing made.
 */
import type { Response } from 'supertest';
import { startHarness, type Harness } from '../support/harness';

const J = 'application/occi+json';
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const ACT = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
const HOST = /http:\/\/127\.0\.0\.1:\d+/g;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  for (const id of ['n3', 'n4', 'n5']) {
    expect((await h.http.post('/network/').set('Content-Type', J).send(JSON.stringify({ kind: INFRA + 'network', id }))).status).toBe(201);
  }
});
afterAll(async () => h.close());

const body = (res: Response): Record<string, any> => JSON.parse(res.text.replace(HOST, ''));
const getJson = (path: string): Promise<Response> => h.http.get(path).set('Accept', J);
const create = (id: string, extra: Record<string, unknown> = {}) =>
  h.http.post('/compute/').set('Content-Type', J).set('Accept', J).send(JSON.stringify({ kind: INFRA + 'compute', id, ...extra }));
const inlineLink = (id: string, network: string) => ({
  kind: INFRA + 'networkinterface', id, source: { location: `/compute/${id.split('-')[0]}` }, target: { location: network, kind: INFRA + 'network' },
});
/** The GFD.185 §3.4.5 inline link, word for word but for the target network. */
const SPEC_LINK = (network: string, self = '/link/networkinterface/456') =>
  `Link: <${network}>; rel="http://schemas.ogf.org/occi/infrastructure#network"; self="${self}"; ` +
  'category="http://schemas.ogf.org/occi/infrastructure#networkinterface"; occi.networkinterface.interface="eth0"; ' +
  'occi.networkinterface.mac="00:11:22:33:44:55"; occi.networkinterface.state="active";';
const SPEC_CATEGORY = 'Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind";';

describe('create: server-managed immutable attributes are ignored', () => {
  test('GFD.185 §3.4.5 inline link, sent word for word: 201, the link at its self= location, values the server manages its own', async () => {
    const res = await h.http.post('/compute/').set('Content-Type', 'text/plain').set('Accept', J).send(`${SPEC_CATEGORY}\n${SPEC_LINK('/network/n3')}\n`);
    expect([res.status, res.text]).toEqual([201, expect.any(String)]);
    const vm = new URL(res.headers.location as string).pathname;
    const link = body(await getJson('/link/networkinterface/456'));
    expect(link).toMatchObject({ kind: INFRA + 'networkinterface', source: { location: vm }, target: { location: '/network/n3' } });
    // The MAC is the client's (mutable); interface and state are what the provider made, not the request's.
    expect(link.attributes['occi.networkinterface.mac']).toBe('00:11:22:33:44:55');
    expect(link.attributes['occi.networkinterface.state']).toBe('active');
    expect(body(await getJson(vm)).links.map((l: { target: { location: string } }) => l.target.location)).toEqual(['/network/n3']);
  });

  test('state alone on an inline link, and on the resource: ignored too', async () => {
    const link = 'Link: </network/n3>; rel="http://schemas.ogf.org/occi/infrastructure#network"; category="http://schemas.ogf.org/occi/infrastructure#networkinterface"; occi.networkinterface.state="error"';
    const res = await h.http.post('/compute/').set('Content-Type', 'text/plain').set('Accept', J)
      .send(`${SPEC_CATEGORY}\nX-OCCI-Attribute: occi.compute.state="error"\nX-OCCI-Attribute: occi.compute.state.message="made up"\n${link}\n`);
    expect(res.status).toBe(201);
    const vm = body(res);
    expect(vm.attributes['occi.compute.state']).toBe('active');
    expect(vm.attributes['occi.compute.state.message']).toBeUndefined();
    expect(vm.links[0].attributes['occi.networkinterface.state']).toBe('active');
  });

  test('a self= path another entity holds: 409 naming it, nothing left', async () => {
    const count = async (): Promise<string> => (await h.http.get('/compute/').set('Accept', 'text/uri-list')).headers['x-occi-total'] as string;
    const before = await count();
    const res = await h.http.post('/compute/').set('Content-Type', 'text/plain').send(`${SPEC_CATEGORY}\n${SPEC_LINK('/network/n3')}\n`);
    expect(res.status).toBe(409);
    expect(res.text).toContain('/link/networkinterface/456');
    expect(await count()).toBe(before);
  });

  test('a self= path that cannot be a location: 400 naming it, nothing made', async () => {
    const before = await h.seq();
    const res = await h.http.post('/compute/').set('Content-Type', 'text/plain').send(`${SPEC_CATEGORY}\n${SPEC_LINK('/network/n3', '/link/ni/')}\n`);
    expect(res.status).toBe(400);
    expect(res.text).toContain('/link/ni/');
    expect(await h.seq()).toBe(before);
  });

  test('a self= path in another kind\'s collection: 400 naming both, nothing made', async () => {
    const before = await h.seq();
    const res = await h.http.post('/compute/').set('Content-Type', 'text/plain').send(`${SPEC_CATEGORY}\n${SPEC_LINK('/network/n3', '/storage/nic9')}\n`);
    expect(res.status).toBe(400);
    expect(res.text).toContain(`/storage/nic9 cannot hold an entity of ${INFRA}networkinterface: /storage/ is the collection of ${INFRA}storage`);
    expect(await h.seq()).toBe(before);
  });

  test('update: the current value is accepted, another is 403, nothing changed', async () => {
    expect((await create('upd')).status).toBe(201);
    const same = await h.http.post('/compute/upd').set('Content-Type', 'text/occi').set('X-OCCI-Attribute', 'occi.compute.state="active"');
    expect(same.status).toBe(200);
    const before = await h.seq();
    const other = await h.http.post('/compute/upd').set('Content-Type', 'text/occi').set('X-OCCI-Attribute', 'occi.compute.state="error"');
    expect(other.status).toBe(403);
    expect(other.text).toContain('occi.compute.state is immutable');
    expect(await h.seq()).toBe(before);
  });
});

describe('links in a full (PUT) or partial (POST) update', () => {
  beforeAll(async () => {
    expect((await create('rt', { links: [inlineLink('rt-eth0', '/network/n4')] })).status).toBe(201);
  });

  test('PUT of exactly what GET returned, links included: 200, the same entity, links intact', async () => {
    const got = await getJson('/compute/rt');
    expect(body(got).links).toHaveLength(1);
    const res = await h.http.put('/compute/rt').set('Content-Type', J).set('Accept', J).send(got.text);
    expect(res.status).toBe(200);
    expect(body(res)).toEqual(body(got));
    expect((await getJson('/compute/rt')).headers.etag).toBe(got.headers.etag);
  });

  test('PUT naming a link the resource does not have: 400, nothing changed', async () => {
    const got = body(await getJson('/compute/rt'));
    const before = await h.seq();
    const res = await h.http.put('/compute/rt').set('Content-Type', J).set('Accept', J).send(JSON.stringify({ ...got, links: [...got.links, inlineLink('rt-eth1', '/network/n5')] }));
    expect(res.status).toBe(400);
    expect(res.body.error).toContain('a full update (PUT) leaves links intact');
    expect(await h.seq()).toBe(before);
  });

  test('a text PUT with a Link header, even an existing link\'s: 400 (OCCI 1.1)', async () => {
    const self = body(await getJson('/compute/rt')).links[0].location ?? '/networkinterface/rt-eth0';
    const res = await h.http.put('/compute/rt').set('Content-Type', 'text/occi').set('Category', `compute; scheme="${INFRA}"; class="kind"`)
      .set('Link', `</network/n4>; rel="${INFRA}network"; self="${self}"; category="${INFRA}networkinterface"`);
    expect(res.status).toBe(400);
    expect(res.text).toContain('a full update (PUT) leaves links intact');
  });

  test('POST of what GET returned: 200, existing links skipped, nothing changed', async () => {
    const got = await getJson('/compute/rt');
    const before = await h.seq();
    const res = await h.http.post('/compute/rt').set('Content-Type', J).set('Accept', J).send(got.text);
    expect(res.status).toBe(200);
    expect(body(res)).toEqual(body(got));
    expect(await h.seq()).toBe(before);
  });

  test('POST of what GET returned plus a new link: only the new one is made', async () => {
    const got = body(await getJson('/compute/rt'));
    const res = await h.http.post('/compute/rt').set('Content-Type', J).set('Accept', J)
      .send(JSON.stringify({ ...got, links: [...got.links, inlineLink('rt-eth1', '/network/n5')] }));
    expect(res.status).toBe(200);
    expect(body(res).links.map((l: { id: string }) => l.id).sort()).toEqual(['rt-eth0', 'rt-eth1']);
    // A text POST naming the existing link by its self= location: skipped as well.
    const text = await h.http.post('/compute/rt').set('Content-Type', 'text/occi')
      .set('Link', `</network/n4>; rel="${INFRA}network"; self="/networkinterface/rt-eth0"; category="${INFRA}networkinterface"`);
    expect(text.status).toBe(200);
    expect(body(await getJson('/compute/rt')).links).toHaveLength(2);
  });
});

describe('actions the state does not allow', () => {
  test('restart of an inactive compute: 400 naming action and state, nothing changed; start works', async () => {
    expect((await create('m1')).status).toBe(201);
    expect((await h.http.post('/compute/m1?action=stop')).status).toBe(200);
    const before = await h.seq();
    const res = await h.http.post('/compute/m1?action=restart').set('Accept', J);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/restart is not applicable to \/compute\/m1 while occi\.compute\.state is inactive/);
    const suspend = await h.http.post('/compute/m1?action=suspend').set('Content-Type', J).send(JSON.stringify({ action: ACT + 'suspend' }));
    expect(suspend.status).toBe(400);
    expect(await h.seq()).toBe(before);
    expect((await h.http.post('/compute/m1?action=start')).status).toBe(200);
  });

  test('on a collection: one member that cannot is 400 before any member is acted on', async () => {
    expect((await create('m2')).status).toBe(201);
    const before = await h.seq();
    expect((await h.http.post('/compute/m1?action=stop')).status).toBe(200);
    const mid = await h.seq();
    expect(mid).not.toBe(before);
    const res = await h.http.post('/compute/?action=restart');
    expect(res.status).toBe(400);
    expect(res.text).toContain('/compute/m1');
    expect(await h.seq()).toBe(mid);
  });
});

describe('a POST to a kind location that creates nothing', () => {
  test.each([
    ['text/occi X-OCCI-Location only', (r: ReturnType<typeof h.http.post>) => r.set('Content-Type', 'text/occi').set('X-OCCI-Location', '/compute/t1'), 'associate a mixin'],
    ['text/plain X-OCCI-Location only', (r: ReturnType<typeof h.http.post>) => r.set('Content-Type', 'text/plain').send('X-OCCI-Location: /compute/t1\n'), 'associate a mixin'],
    ['text/uri-list', (r: ReturnType<typeof h.http.post>) => r.set('Content-Type', 'text/uri-list').send('/compute/t1\n'), 'associate a mixin'],
    ['JSON location list', (r: ReturnType<typeof h.http.post>) => r.set('Content-Type', J).send('{"X-OCCI-Location": ["/compute/t1"]}'), 'associate a mixin'],
    ['JSON locations array', (r: ReturnType<typeof h.http.post>) => r.set('Content-Type', J).send('["/compute/t1"]'), 'associate a mixin'],
    ['an empty text/occi POST', (r: ReturnType<typeof h.http.post>) => r.set('Content-Type', 'text/occi'), 'nothing to create'],
    ['no Content-Type, no body', (r: ReturnType<typeof h.http.post>) => r, 'nothing to create'],
    ['an empty JSON object', (r: ReturnType<typeof h.http.post>) => r.set('Content-Type', J).send('{}'), 'nothing to create'],
  ])('%s: 400, nothing made', async (_label, send, message) => {
    const before = await h.seq();
    const res = await send(h.http.post('/network/').set('Accept', J));
    expect(res.status).toBe(400);
    expect(res.body.error).toContain(message);
    expect(res.body.error).toContain(`${INFRA}network`);
    expect(await h.seq()).toBe(before);
  });

  test('no Category but attributes: still an entity of the collection\'s kind (201)', async () => {
    const res = await h.http.post('/network/').set('Content-Type', 'text/occi').set('Accept', J).set('X-OCCI-Attribute', 'occi.core.title="untyped"');
    expect(res.status).toBe(201);
    expect(body(res)).toMatchObject({ kind: INFRA + 'network', title: 'untyped' });
  });
});
