/**
 * Caught by the chaos run (`create nic → 500`, twice in 10 rounds): a link create whose source is deleted
 * between the check of its ends and the backend call handed the backend a link without its source, and a
 * backend reading the source's ref failed with a TypeError (500). Now the create answers 409 naming the
 * source and leaves nothing behind.
 *
 * The concurrent delete is made deterministic: the link document's insert first deletes the source through
 * the service (as a concurrent DELETE would), then goes on.
 */
import { INFRA, startHarness, type Harness } from '../support/harness';

const J = 'application/occi+json';
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());
afterEach(() => jest.restoreAllMocks());

test('a link whose source is deleted while it is being created is 409 and leaves nothing', async () => {
  expect((await h.http.put('/compute/gone').set('Content-Type', J).send(JSON.stringify({ kind: INFRA + 'compute', attributes: {} }))).status).toBe(201);
  expect((await h.http.put('/network/stays').set('Content-Type', J).send(JSON.stringify({ kind: INFRA + 'network', attributes: {} }))).status).toBe(201);
  const entities = h.occitan.service.entities;
  const realInsert = entities.insert.bind(entities);
  jest.spyOn(entities, 'insert').mockImplementation(async (doc) => {
    if (doc.source === '/compute/gone') await h.occitan.service.delete('default', '/compute/gone');
    return realInsert(doc);
  });

  const res = await h.http.put('/networkinterface/nic1').set('Content-Type', J).set('Accept', J)
    .send(JSON.stringify({ kind: INFRA + 'networkinterface', source: { location: '/compute/gone' }, target: { location: '/network/stays' }, attributes: {} }));
  expect([res.status, res.text]).toEqual([409, expect.stringContaining('/compute/gone')]);
  expect((await h.http.get('/networkinterface/nic1').set('Accept', J)).status).toBe(404);
  expect((await h.http.get('/compute/gone').set('Accept', J)).status).toBe(404);
  expect((await h.http.get('/network/stays').set('Accept', J)).status).toBe(200);
});
