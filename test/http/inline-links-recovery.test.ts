/**
 * Found by the libvirt crash test (test/e2e/libvirt-crash.test.ts): a compute created with inline links was
 * stored `ready` before its links were made, so a SIGKILL in between left, after start-up recovery, a VM
 * without its disks for a request that was never acknowledged. Now the resource stays `creating` until its
 * last inline link is made; recovery (Maintenance, past `timers.recoveryGrace`) undoes the whole request,
 * links and resource, through their backends, and keeps an acknowledged create with all its links.
 *
 * The crash point is held open with a wrapped dummy backend whose networkinterface create does not answer
 * until the test lets it fail: the compute and its storagelink are realised, the interface is in flight.
 */
import type { BackendEntity, Realised } from '../../src/backends/backend';
import { BadGateway } from '../../src/errors';
import { Maintenance } from '../../src/service/maintenance';
import type { EntityDoc } from '../../src/store/entity-store';
import { INFRA, dummyPlatformHas, quietLog, startHarness, type Harness } from '../support/harness';

const J = 'application/occi+json';
const GRACE_MS = 60_000;

let h: Harness;

beforeAll(async () => {
  // The harness's own sweeper only makes its first, immediate pass: the test drives recovery itself.
  h = await startHarness({ timers: { leaseSweep: 3_600_000, recoveryGrace: GRACE_MS } });
  for (const [path, body] of [
    ['/storage/disk-a', { kind: INFRA + 'storage', attributes: { 'occi.storage.size': 1 } }],
    ['/storage/disk-b', { kind: INFRA + 'storage', attributes: { 'occi.storage.size': 1 } }],
    ['/network/net-a', { kind: INFRA + 'network' }],
  ] as const) {
    const res = await h.http.put(path).set('Content-Type', J).send(JSON.stringify(body));
    expect([path, res.status]).toEqual([path, 201]);
  }
});
afterAll(async () => h?.close());
afterEach(() => jest.restoreAllMocks());

const vmBody = (disk: string): string =>
  JSON.stringify({
    kind: INFRA + 'compute',
    attributes: { 'occi.compute.hostname': 'inline' },
    links: [
      { kind: INFRA + 'storagelink', target: { location: disk, kind: INFRA + 'storage' } },
      { kind: INFRA + 'networkinterface', target: { location: '/network/net-a', kind: INFRA + 'network' } },
    ],
  });

/** The compute's document and its outgoing links' documents, as the store holds them. */
async function stored(vm: string): Promise<{ vm?: EntityDoc; links: EntityDoc[] }> {
  const store = h.occitan.service.entities;
  return { vm: await store.get('default', vm), links: await store.linksOf('default', 'source', vm) };
}

/** Recovery as a restarted process runs it: every document is older than the grace by then. */
function recoveryAfterRestart(): Maintenance {
  return new Maintenance(h.occitan.service, quietLog, { periodMs: 3_600_000, graceMs: GRACE_MS, now: () => Date.now() + 2 * GRACE_MS });
}

test('a crash after the compute is realised but before its inline links: recovery removes compute and links, on the platform too', async () => {
  const dummy = h.occitan.service.backends.get('dummy');
  const realCreate = dummy.create.bind(dummy);
  let reached!: () => void;
  const atCrashPoint = new Promise<void>((r) => (reached = r));
  let fail!: (e: Error) => void;
  const held = new Promise<Realised>((_, reject) => (fail = reject));
  jest.spyOn(dummy, 'create').mockImplementation(async (entity: BackendEntity) => {
    if (entity.kind !== INFRA + 'networkinterface') return realCreate(entity);
    reached();
    return held;
  });

  const vm = '/compute/vm-crash';
  const answer = h.http.put(vm).set('Content-Type', J).send(vmBody('/storage/disk-a')).then((r) => r.status, () => 0);
  await atCrashPoint;

  // The process "dies" here. Its request made the compute and the storagelink; nothing is `ready` yet.
  const midway = await stored(vm);
  expect(midway.vm?.status).toBe('creating');
  expect(midway.links.map((l) => [l.kind, l.status]).sort()).toEqual([
    [INFRA + 'networkinterface', 'creating'],
    [INFRA + 'storagelink', 'creating'],
  ]);
  const storagelink = midway.links.find((l) => l.kind === INFRA + 'storagelink')!;
  const iface = midway.links.find((l) => l.kind === INFRA + 'networkinterface')!;
  expect(await dummyPlatformHas(h, midway.vm!.uid)).toBe(true);
  expect(await dummyPlatformHas(h, storagelink.uid)).toBe(true);
  const text = await h.http.get(vm).set('Accept', 'text/plain');
  expect(text.text).toContain('occi.compute.state.message="being created: not realised yet"');

  // Within the grace, a sweep leaves work in flight alone; also a compute whose own document is old while
  // its links are still being made (a long request of a live process).
  const old = new Date(Date.now() - 10 * GRACE_MS).toISOString();
  await h.occitan.db.insert({ ...midway.vm!, updated: old } as never);
  await h.occitan.maintenance.sweep();
  const during = await stored(vm);
  expect(during.vm?.status).toBe('creating');
  expect(during.links).toHaveLength(2);

  // A restarted process's recovery, past the grace: the whole unacknowledged request is undone.
  await recoveryAfterRestart().sweep();
  const after = await stored(vm);
  expect(after.vm).toBeUndefined();
  expect(after.links).toEqual([]);
  for (const uid of [midway.vm!.uid, storagelink.uid, iface.uid]) expect([uid, await dummyPlatformHas(h, uid)]).toEqual([uid, false]);
  expect((await h.http.get(vm)).status).toBe(404);
  expect(await h.occitan.service.entities.unfinished()).toEqual([]);

  // The dead request's backend call finally fails: nothing comes back, and it was never acknowledged.
  fail(new BadGateway('the process was killed'));
  expect(await answer).not.toBe(201);
  expect(await stored(vm)).toEqual({ vm: undefined, links: [] });
  // The link targets were acknowledged on their own and stay.
  for (const target of ['/storage/disk-a', '/network/net-a']) expect([target, (await h.http.get(target)).status]).toEqual([target, 200]);
});

test('an acknowledged create with inline links is ready as a whole and kept by recovery', async () => {
  const vm = '/compute/vm-kept';
  const res = await h.http.put(vm).set('Content-Type', J).set('Accept', J).send(vmBody('/storage/disk-b'));
  expect(res.status).toBe(201);
  expect(res.body.attributes['occi.compute.state']).toBe('active');
  expect((res.body.links as unknown[]).length).toBe(2);

  const made = await stored(vm);
  expect(made.vm?.status).toBe('ready');
  expect(made.links.map((l) => l.status)).toEqual(['ready', 'ready']);

  await recoveryAfterRestart().sweep();
  const kept = await stored(vm);
  expect(kept.vm?.status).toBe('ready');
  expect(kept.links.map((l) => l.uid).sort()).toEqual(made.links.map((l) => l.uid).sort());
  for (const uid of [made.vm!.uid, ...made.links.map((l) => l.uid)]) expect([uid, await dummyPlatformHas(h, uid)]).toEqual([uid, true]);
  const got = await h.http.get(vm).set('Accept', J);
  expect(got.status).toBe(200);
  expect((got.body.links as Array<{ kind: string }>).map((l) => l.kind).sort()).toEqual([INFRA + 'networkinterface', INFRA + 'storagelink']);
});

test('a failed inline link still undoes the compute and the links made before it', async () => {
  const dummy = h.occitan.service.backends.get('dummy');
  const realCreate = dummy.create.bind(dummy);
  const made: string[] = [];
  jest.spyOn(dummy, 'create').mockImplementation(async (entity: BackendEntity) => {
    if (entity.kind === INFRA + 'networkinterface') throw new BadGateway('no interface today');
    made.push(entity.id);
    return realCreate(entity);
  });
  const vm = '/compute/vm-failed';
  const res = await h.http.put(vm).set('Content-Type', J).set('Accept', J).send(vmBody('/storage/disk-a'));
  expect(res.status).toBe(502);
  expect(made).toHaveLength(2);
  expect(await stored(vm)).toEqual({ vm: undefined, links: [] });
  for (const uid of made) expect([uid, await dummyPlatformHas(h, uid)]).toEqual([uid, false]);
});
