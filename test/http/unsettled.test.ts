/**
 * A document whose request is still creating or deleting it (or was cut by a crash, until recovery)
 * never looks healthy: its state reads inactive (storage: offline) with a message, and no action is
 * offered. Found by the chaos suite: such documents used to render their defaults as if realised.
 */
import { startHarness, type Harness, INFRA } from '../support/harness';

const J = 'application/occi+json';
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

async function createAs(term: string, attributes: Record<string, unknown>): Promise<string> {
  const res = await h.http.post(`/${term}/`).set('Content-Type', J).set('Accept', J)
    .send({ kind: INFRA + term, attributes });
  expect(res.status).toBe(201);
  return new URL(res.headers.location as string, 'http://x').pathname;
}

async function markStatus(location: string, status: 'creating' | 'deleting'): Promise<void> {
  const store = h.occitan.service.entities;
  const tenants = ['default'];
  for (const t of tenants) {
    if (await store.get(t, location)) {
      await store.modify(t, location, (d) => ({ ...d, status }));
      return;
    }
  }
  throw new Error(`no stored document for ${location}`);
}

test.each(['creating', 'deleting'] as const)('a compute still %s is rendered inactive with a message and no actions', async (status) => {
  const location = await createAs('compute', { 'occi.compute.memory': 1 });
  const before = await h.http.get(location).set('Accept', J);
  expect(before.body.attributes['occi.compute.state']).toBe('active');
  expect(before.body.actions.length).toBeGreaterThan(0);
  await markStatus(location, status);
  const res = await h.http.get(location).set('Accept', J);
  expect(res.status).toBe(200);
  expect(res.body.attributes['occi.compute.state']).toBe('inactive');
  expect(res.body.actions ?? []).toEqual([]);
  const text = await h.http.get(location).set('Accept', 'text/plain');
  expect(text.text).toContain('occi.compute.state="inactive"');
  expect(text.text).toContain(`occi.compute.state.message="${status === 'creating' ? 'being created: not realised yet' : 'being deleted'}"`);
  expect(text.text).not.toMatch(/^Link: .*\?action=/m);
});

test('a storage still creating reads offline', async () => {
  const location = await createAs('storage', { 'occi.storage.size': 1 });
  await markStatus(location, 'creating');
  const text = await h.http.get(location).set('Accept', 'text/plain');
  expect(text.text).toContain('occi.storage.state="offline"');
});
