/**
 * A create whose backend call succeeded but whose next store write (what the backend made, and `ready`)
 * failed used to remove only the document: the platform object stayed until its backend's reaper found it
 * as an orphan (docker's watcher, libvirt's start-up reconciliation; the dummy provider has none). Now the
 * failed create deletes what the backend made, then removes the document.
 *
 * The store write fails for real: the dummy provider's create is held once it has made its record, a
 * server-side change to the document (what recovery or a DELETE would write) moves its revision meanwhile,
 * and the create's own write then meets a stale revision.
 *
 * Also here: a client's write to an entity still being created is refused (409) and changes nothing.
 * Before, it was accepted, and acknowledged on an entity whose create could still fail and undo it.
 */
import type { BackendEntity, Realised } from '../../src/backends/backend';
import { INFRA, dummyPlatformHas, startHarness, type Harness } from '../support/harness';

const J = 'application/occi+json';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());
afterEach(() => jest.restoreAllMocks());

test('a store write failing after the backend create leaves no platform object', async () => {
  const location = '/compute/store-write-fails';
  const dummy = h.occitan.service.backends.get('dummy');
  const realCreate = dummy.create.bind(dummy);
  let made!: (uid: string) => void;
  const backendDone = new Promise<string>((r) => (made = r));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  // The real create runs; only its answer waits until the test has moved the document's revision.
  jest.spyOn(dummy, 'create').mockImplementation(async (entity: BackendEntity): Promise<Realised> => {
    const realised = await realCreate(entity);
    if (entity.location !== location) return realised;
    made(entity.id);
    await held;
    return realised;
  });

  const answer = h.http
    .put(location)
    .set('Content-Type', J)
    .send(JSON.stringify({ kind: INFRA + 'compute', attributes: { 'occi.compute.hostname': 'first' } }))
    .then((r) => r.status);
  const uid = await backendDone;
  expect(await dummyPlatformHas(h, uid)).toBe(true);
  const before = await h.occitan.service.entities.get('default', location);
  expect(before?.status).toBe('creating');

  // A client's writes are refused while the create is unanswered, and change nothing.
  const writes = [
    h.http.post(location).set('Content-Type', 'text/occi').set('X-OCCI-Attribute', 'occi.compute.hostname="second"'),
    h.http.put(location).set('Content-Type', J).send(JSON.stringify({ kind: INFRA + 'compute', attributes: { 'occi.compute.hostname': 'third' } })),
    h.http.post(`${location}?action=start`).set('Content-Type', 'text/occi').set('Category', 'start; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"'),
  ];
  const refused = await Promise.all(writes);
  expect(refused[0]!.status).toBe(409);
  expect(refused[0]!.text).toMatch(/still being created/);
  expect(refused[1]!.status).toBe(409);
  expect([refused[2]!.status, refused[2]!.text]).toEqual([409, expect.stringMatching(/still being created/)]);
  expect((await h.occitan.service.entities.get('default', location))?._rev).toBe(before?._rev);

  // The system's own change (as recovery or a DELETE writes) moves the revision under the create.
  const moved = await h.occitan.service.entities.modify('default', location, (d) => ({ ...d, updated: new Date().toISOString() }));
  expect(moved?._rev).not.toBe(before?._rev);

  release();
  // The create's write of what the backend made met the stale revision (the failure provoked here): 409,
  // not 412, since the client sent no If-Match.
  expect(await answer).toBe(409);
  expect(await dummyPlatformHas(h, uid)).toBe(false);
  expect(await h.occitan.service.entities.get('default', location)).toBeUndefined();
  expect((await h.http.get(location).set('Accept', J)).status).toBe(404);
});
