/**
 * Leases (categories/occitan.yaml, mixin https://occitan.dev/occi/occitan#lease): the service deletes a
 * leased resource through its backend when `occitan.lease.duration` seconds have passed, once, whichever
 * occitan process sees it first (DESIGN: backend interface, "Leases").
 */
import { INFRA, quietLog, startHarness, storeHas, type Harness } from '../support/harness';

const J = 'application/occi+json';
const LEASE = 'https://occitan.dev/occi/occitan#lease';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Polls `probe` every 50 ms until it returns true; fails after `boundMs`. */
async function eventually(what: string, probe: () => Promise<boolean>, boundMs = 10000): Promise<void> {
  const end = Date.now() + boundMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > end) throw new Error(`not within ${boundMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function createLeased(h: Harness, path: string, duration: number): Promise<{ uid: string; body: Record<string, unknown> }> {
  const res = await h.http
    .put(path)
    .set('Content-Type', J)
    .set('Accept', J)
    .send(JSON.stringify({ kind: `${INFRA}compute`, mixins: [LEASE], attributes: { 'occitan.lease.duration': duration, 'occi.compute.hostname': 'leased' } }));
  expect(res.status).toBe(201);
  const doc = await h.occitan.service.entities.get('default', path);
  expect(doc).toBeDefined();
  return { uid: doc!.uid, body: res.body };
}

describe('a lease ends: the sweeper deletes the entity and its platform object', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ timers: { leaseSweep: 100, recoveryGrace: 60000 } });
  });
  afterAll(async () => h?.close());

  test('a compute with a one-second lease shows its end, then is gone everywhere', async () => {
    const before = Date.now();
    const { uid } = await createLeased(h, '/compute/leased', 1);
    const after = Date.now();
    expect(await storeHas(h, `state:dummy:${uid}`)).toBe(true);

    const got = await h.http.get('/compute/leased').set('Accept', J);
    expect(got.status).toBe(200);
    expect(got.body.mixins).toContain(LEASE);
    expect(got.body.attributes['occitan.lease.duration']).toBe(1);
    const expires = got.body.attributes['occitan.lease.expires'] as string;
    expect(expires).toMatch(ISO);
    // The end is the creation time plus the duration (bounded by the request's own start and end).
    expect(Date.parse(expires)).toBeGreaterThanOrEqual(before + 1000 - 1);
    expect(Date.parse(expires)).toBeLessThanOrEqual(after + 1000 + 1);

    await eventually('GET /compute/leased answers 404', async () => (await h.http.get('/compute/leased')).status === 404);
    const gone = await h.http.get('/compute/leased').set('Accept', J);
    expect(gone.status).toBe(404);
    expect(gone.body.status).toBe(404);
    // Independent observers: the provider's record and the entity document are both gone from CouchDB.
    expect(await storeHas(h, `state:dummy:${uid}`)).toBe(false);
    expect(await storeHas(h, 'entity:default:/compute/leased')).toBe(false);
    const list = await h.http.get('/compute/').set('Accept', 'text/uri-list');
    expect(list.status).toBe(200);
    expect(list.headers['x-occi-total']).toBe('0');
  });

  test('a compute without a lease outlives several sweeps', async () => {
    const res = await h.http.put('/compute/kept').set('Content-Type', J).send(JSON.stringify({ kind: `${INFRA}compute` }));
    expect(res.status).toBe(201);
    const leased = await createLeased(h, '/compute/short', 1);
    await eventually('the leased neighbour is swept', async () => !(await storeHas(h, `state:dummy:${leased.uid}`)));
    const kept = await h.http.get('/compute/kept').set('Accept', J);
    expect(kept.status).toBe(200);
    expect(kept.body.attributes['occitan.lease.expires']).toBeUndefined();
  });

  test('the lease needs a positive whole duration: 400, nothing stored', async () => {
    for (const attributes of [{}, { 'occitan.lease.duration': 0 }, { 'occitan.lease.duration': -5 }]) {
      const seq = await h.seq();
      const res = await h.http
        .put('/compute/bad-lease')
        .set('Content-Type', J)
        .set('Accept', J)
        .send(JSON.stringify({ kind: `${INFRA}compute`, mixins: [LEASE], attributes }));
      expect(res.status).toBe(400);
      expect(res.body.status).toBe(400);
      expect(res.body.error).toContain('occitan.lease.duration');
      expect(await h.seq()).toBe(seq);
    }
  });
});

describe('two service instances racing on one expired lease', () => {
  let a: Harness;
  let b: Harness;

  beforeAll(async () => {
    // Sweepers that never tick on their own (only the first, immediate pass): the test drives sweep().
    a = await startHarness({ timers: { leaseSweep: 3600000, recoveryGrace: 60000 } });
    b = await startHarness({
      timers: { leaseSweep: 3600000, recoveryGrace: 60000 },
      couchdb: { url: a.occitan.couchUrl, database: a.config.couchdb.database },
    });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });
  afterEach(() => jest.restoreAllMocks());

  test('five concurrent sweeps over two instances delete it exactly once, with no error', async () => {
    const { uid, body } = await createLeased(a, '/compute/raced', 1);
    const expires = Date.parse((body.attributes as Record<string, string>)['occitan.lease.expires']!);
    // B serves the same entity (same CouchDB).
    expect((await b.http.get('/compute/raced')).status).toBe(200);
    await eventually('the lease end has passed', async () => Date.now() > expires + 10);

    const errors = jest.spyOn(quietLog, 'error');
    const warnings = jest.spyOn(quietLog, 'warn');
    const infos = jest.spyOn(quietLog, 'info');
    const destroys = [jest.spyOn(a.occitan.service, 'destroy'), jest.spyOn(b.occitan.service, 'destroy')];
    const backendDeletes = [
      jest.spyOn(a.occitan.service.backends.get('dummy'), 'delete'),
      jest.spyOn(b.occitan.service.backends.get('dummy'), 'delete'),
    ];

    const sweeps = [a, b, a, b, a].map((h) => h.occitan.maintenance.sweep());
    const outcomes = await Promise.allSettled(sweeps);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);

    expect(destroys[0]!.mock.calls.length + destroys[1]!.mock.calls.length).toBe(1);
    expect(backendDeletes[0]!.mock.calls.length + backendDeletes[1]!.mock.calls.length).toBe(1);
    expect(errors).not.toHaveBeenCalled();
    expect(warnings).not.toHaveBeenCalled();
    const deletedLines = infos.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('/compute/raced'));
    expect(deletedLines).toEqual(['deleted default:/compute/raced: lease ended']);

    for (const h of [a, b]) expect((await h.http.get('/compute/raced')).status).toBe(404);
    expect(await storeHas(a, `state:dummy:${uid}`)).toBe(false);
    expect(await storeHas(a, 'entity:default:/compute/raced')).toBe(false);

    // Later sweeps find nothing to do.
    await Promise.all([a.occitan.maintenance.sweep(), b.occitan.maintenance.sweep()]);
    expect(destroys[0]!.mock.calls.length + destroys[1]!.mock.calls.length).toBe(1);
    expect(errors).not.toHaveBeenCalled();
  });
  test('an instance that sweeps while the other is mid-deletion leaves it alone', async () => {
    const { uid, body } = await createLeased(a, '/compute/midway', 1);
    const expires = Date.parse((body.attributes as Record<string, string>)['occitan.lease.expires']!);
    await eventually('the lease end has passed', async () => Date.now() > expires + 10);

    const errors = jest.spyOn(quietLog, 'error');
    const warnings = jest.spyOn(quietLog, 'warn');
    const destroyB = jest.spyOn(b.occitan.service, 'destroy');
    const deleteB = jest.spyOn(b.occitan.service.backends.get('dummy'), 'delete');
    const dummyA = a.occitan.service.backends.get('dummy');
    const realDelete = dummyA.delete.bind(dummyA);
    let statusSeenByB: string | undefined;
    // A has claimed the entity and is deleting it on the platform: B sweeps right then.
    const deleteA = jest.spyOn(dummyA, 'delete').mockImplementation(async (entity) => {
      statusSeenByB = (await b.occitan.service.entities.get('default', '/compute/midway'))?.status;
      await b.occitan.maintenance.sweep();
      return realDelete(entity);
    });

    await a.occitan.maintenance.sweep();
    expect(statusSeenByB).toBe('deleting');
    expect(deleteA).toHaveBeenCalledTimes(1);
    expect(destroyB).not.toHaveBeenCalled();
    expect(deleteB).not.toHaveBeenCalled();
    expect(errors).not.toHaveBeenCalled();
    expect(warnings).not.toHaveBeenCalled();
    expect((await b.http.get('/compute/midway')).status).toBe(404);
    expect(await storeHas(a, `state:dummy:${uid}`)).toBe(false);
  });
});
