import { COMPUTE_CATEGORY, startHarness, type Harness } from '../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

test('GET /-/ lists the compute kind in every rendering', async () => {
  const plain = await h.http.get('/-/');
  expect(plain.status).toBe(200);
  expect(plain.headers['content-type']).toMatch(/^text\/plain/);
  expect(plain.text).toContain('Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"');
  const json = await h.http.get('/-/').set('Accept', 'application/occi+json');
  expect(json.body.kinds.map((k: { term: string }) => k.term)).toContain('compute');
  const occi = await h.http.get('/-/').set('Accept', 'text/occi');
  expect(occi.headers.category).toContain('compute;');
  expect(occi.text).toBe('OK');
});

test('create, read, act on and delete a compute in text/occi', async () => {
  const created = await h.http.post('/compute/').set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY)
    .set('X-OCCI-Attribute', 'occi.compute.cores=2, occi.core.title="web"');
  expect(created.status).toBe(201);
  const loc = new URL(created.headers.location).pathname;
  const got = await h.http.get(loc).set('Accept', 'application/occi+json');
  expect(got.status).toBe(200);
  expect(got.body.attributes['occi.compute.cores']).toBe(2);
  const stopped = await h.http.post(`${loc}?action=stop`).set('Accept', 'application/occi+json');
  expect(stopped.status).toBe(200);
  expect(stopped.body.attributes['occi.compute.state']).toBe('inactive');
  expect((await h.http.delete(loc)).status).toBe(200);
  expect((await h.http.get(loc)).status).toBe(404);
});

test('the provider table is readable at /-/providers', async () => {
  const res = await h.http.get('/-/providers');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body.kinds['http://schemas.ogf.org/occi/infrastructure#compute']).toEqual({ providers: ['dummy'], default: 'dummy' });
});
