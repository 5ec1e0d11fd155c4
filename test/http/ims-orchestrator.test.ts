/**
 * The IMS service orchestrator (seed 001): an admin-defined kind with no backend behind it, driven by
 * the README's curl sequence verbatim in text/occi (headers only, Category without `class`, the
 * X-Auth-Token / X-Tenant-Name headers of Keystone). Per DESIGN.md such a kind is served by `dummy`:
 * its entities are records and its actions are recorded and answer 200. The record is read straight
 * from CouchDB (the dummy's KeyedState document), not through occitan's answers. The harness runs
 * with authentication off (every caller is the loopback admin), so the token is not checked and
 * X-Tenant-Name selects the tenant the entity belongs to.
 */
import { startHarness, type Harness } from '../support/harness';

const J = 'application/occi+json';
const MCN = 'http://schemas.mobile-cloud-networking.eu/occi/service#';
const PROVIDER_MIXIN = 'https://occitan.dev/occi/occitan#provider';
/** The address of the README's curl calls; occitan is told it is served there. */
const BASE = 'http://127.0.0.1:8051';
const KID = 'gAAAAABk-keystone-token';
const TENANT = 'ims-demo';
const KEYSTONE = { 'X-Auth-Token': KID, 'X-Tenant-Name': TENANT };

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ baseUrl: BASE });
});
afterAll(async () => h.close());

/** The dummy provider's record of an entity: CouchDB documents `entity:<tenant>:<path>` and `state:dummy:<uid>`. */
async function dummyRecord(path: string): Promise<{ kind: string; history: Array<{ action: string; params: object }> } | undefined> {
  const entity = (await h.occitan.db.get(`entity:${TENANT}:${path}`)) as unknown as { uid: string };
  try {
    const state = (await h.occitan.db.get(`state:dummy:${entity.uid}`)) as unknown as { value: { kind: string; history: Array<{ action: string; params: object }> } };
    return state.value;
  } catch {
    return undefined;
  }
}

test('an admin defines the orchestrator kind and its deploy action (POST /-/, JSON)', async () => {
  const res = await h.http.post('/-/').set('Content-Type', J).set('Accept', J).send(JSON.stringify({
    kinds: [{
      term: 'orchestrator', scheme: MCN, title: 'Service orchestrator',
      parent: 'http://schemas.ogf.org/occi/core#resource', location: '/orchestrator/',
      attributes: { 'mcn.endpoint.maas': { type: 'string', mutable: true, required: false, description: 'MaaS endpoint' } },
      actions: [MCN + 'deploy'],
    }],
    actions: [{ term: 'deploy', scheme: MCN, title: 'Deploy the service instance' }],
  }));
  expect(res.status).toBe(200);
  expect(res.body).toEqual({
    kinds: [{
      term: 'orchestrator', scheme: MCN, title: 'Service orchestrator', parent: 'http://schemas.ogf.org/occi/core#resource',
      attributes: { 'mcn.endpoint.maas': { mutable: true, required: false, type: 'string', description: 'MaaS endpoint' } },
      actions: [MCN + 'deploy'], location: `${BASE}/orchestrator/`,
    }],
    // No `mixins`: an empty array is omitted (rOCCI-core's minItems: 1).
    actions: [{ term: 'deploy', scheme: MCN, title: 'Deploy the service instance', attributes: {} }],
  });
  // Discoverable by every client from now on, in text too.
  const qi = await h.http.get('/-/').set('Accept', 'text/occi').set('Category', `orchestrator; scheme="${MCN}"; class="kind"`);
  expect(qi.status).toBe(200);
  expect(qi.headers.category).toBe(
    `orchestrator; scheme="${MCN}"; class="kind"; title="Service orchestrator"; rel="http://schemas.ogf.org/occi/core#resource"; ` +
      `location="${BASE}/orchestrator/"; attributes="mcn.endpoint.maas"; actions="${MCN}deploy"`,
  );
});

test('PUT /orchestrator/default with only the Category header: 201', async () => {
  const res = await h.http.put('/orchestrator/default')
    .set('Content-Type', 'text/occi')
    .set('Category', `orchestrator; scheme="${MCN}"`)
    .set(KEYSTONE);
  expect(res.status).toBe(201);
  expect(res.headers.location).toBe(`${BASE}/orchestrator/default`);
  expect(res.headers['x-occi-location']).toBe(`${BASE}/orchestrator/default`);
  expect(res.text).toContain(`Category: orchestrator; scheme="${MCN}"; class="kind"\n`);
  expect(res.text).toContain(`Link: <${BASE}/orchestrator/default?action=deploy>; rel="${MCN}deploy"\n`);
  expect(res.text).toContain('X-OCCI-Attribute: occitan.provider="dummy"\n');
  expect(res.text).not.toContain('mcn.endpoint.maas');
  expect((await dummyRecord('/orchestrator/default'))?.kind).toBe(MCN + 'orchestrator');
});

test('POST ?action=deploy with the deploy Category: 200, recorded, the entity still there', async () => {
  const res = await h.http.post('/orchestrator/default?action=deploy')
    .set('Content-Type', 'text/occi')
    .set('Category', `deploy; scheme="${MCN}"`)
    .set(KEYSTONE);
  expect(res.status).toBe(200);
  const record = await dummyRecord('/orchestrator/default');
  expect(record?.history.map((e) => [e.action, e.params])).toEqual([[MCN + 'deploy', {}]]);

  const got = await h.http.get('/orchestrator/default').set('Accept', J).set(KEYSTONE);
  expect(got.status).toBe(200);
  expect(got.body).toEqual({
    kind: MCN + 'orchestrator',
    mixins: [PROVIDER_MIXIN],
    attributes: { 'occi.core.id': expect.stringMatching(/^urn:uuid:[0-9a-f-]{36}$/), 'occitan.provider': 'dummy' },
    actions: [MCN + 'deploy'],
    id: got.body.attributes['occi.core.id'],
    // No `links`: an empty array is omitted (rOCCI-core's minItems: 1).
  });
});

test('POST with X-OCCI-Attribute mcn.endpoint.maas: 200, and GET shows it', async () => {
  const res = await h.http.post('/orchestrator/default')
    .set('Content-Type', 'text/occi')
    .set(KEYSTONE)
    .set('X-OCCI-Attribute', 'mcn.endpoint.maas="160.85.4.50"');
  expect(res.status).toBe(200);
  expect(res.text).toContain('X-OCCI-Attribute: mcn.endpoint.maas="160.85.4.50"\n');
  const got = await h.http.get('/orchestrator/default').set('Accept', 'text/occi').set(KEYSTONE);
  expect(got.status).toBe(200);
  expect(got.text).toBe('OK');
  expect(got.headers['x-occi-attribute']).toContain('mcn.endpoint.maas="160.85.4.50"');
  expect(got.headers.etag).toBe(res.headers.etag);
  // The attribute is the kind's: an unknown one is refused by name and changes nothing.
  const before = await h.seq();
  const bad = await h.http.post('/orchestrator/default').set('Content-Type', 'text/occi').set(KEYSTONE)
    .set('X-OCCI-Attribute', 'mcn.endpoint.dns="160.85.4.51"');
  expect(bad.status).toBe(400);
  expect(bad.text).toContain('mcn.endpoint.dns');
  expect(await h.seq()).toBe(before);
});

test('the orchestrator collection lists it', async () => {
  const res = await h.http.get('/orchestrator/').set('Accept', 'text/uri-list').set(KEYSTONE);
  expect(res.status).toBe(200);
  expect(res.text).toBe(`${BASE}/orchestrator/default\r\n`);
});

test('DELETE /orchestrator/default: 200, then GET is 404 and the record is gone', async () => {
  const entity = (await h.occitan.db.get(`entity:${TENANT}:/orchestrator/default`)) as unknown as { uid: string };
  const res = await h.http.delete('/orchestrator/default').set(KEYSTONE);
  expect(res.status).toBe(200);
  const got = await h.http.get('/orchestrator/default').set(KEYSTONE);
  expect(got.status).toBe(404);
  expect(got.text).toContain('/orchestrator/default');
  await expect(h.occitan.db.get(`state:dummy:${entity.uid}`)).rejects.toMatchObject({ statusCode: 404 });
});
