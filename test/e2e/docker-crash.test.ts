/**
 * Issue 5's crash acceptance with real occitan OS processes (bash scripts/services.sh start docker): one
 * `occitan serve` on a standalone store (`occitan store --port 0`, so a restarted process sees the same data)
 * with the docker provider on occitan's private dockerd, under an instance name of this run (nothing else's
 * containers are touched).
 * 1. 20 compute creates at once; SIGKILL once containers of the instance exist and some creates are
 *    acknowledged, before all are. A restart (short recoveryGrace, dockerReapGrace, dockerReconcilePeriod)
 *    settles, within a bounded poll: every labelled container of the instance belongs to a stored entity or is
 *    gone; no document is left `creating`/`deleting`; every entity's state is its container's (an entity whose
 *    container is gone is `error` with a message, never `active`); every acknowledged create is kept; the
 *    node's reserved memory is exactly what the kept computes hold.
 * 2. Regression (start-up reconciliation refreshes what it adopts): containers stopped, paused or removed while
 *    occitan was down show their real state after the next restart (events sent while occitan was down are
 *    never seen, so only the start-up pass can tell).
 * Containers are observed with the docker CLI; entity documents are read from the test's own store (for the
 * internal ids in the containers' labels).
 */
import { compiledCli } from '../support/compiled-cli';
import { field, occiCall as call } from '../support/occi-call';
import { OccitanChildren, freePort, killOccitan, serveEnv, SERVE_READY, type OccitanProcess as Proc } from '../support/occitan-process';
import { entityDocs } from '../support/store-docs';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SOCKET, docker, dockerLines, inspectIds, requireDaemon, type Inspected } from '../backends/docker-observer';

jest.setTimeout(240_000);

const ROOT = path.resolve(__dirname, '..', '..');
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const TPL = 'https://example.org/occi/os_tpl#';
const INSTANCE = `crash-${randomUUID().slice(0, 8)}`;
const DB = 'e2e-docker-crash';
const CREATES = 20;
const MEMORY_GIB = 0.0625;
const BOUND_MS = 90_000;

interface Doc { uid: string; location: string; kind: string; status: string; tenant: string; attributes: Record<string, unknown> }

let children: OccitanChildren | undefined;
let work: string;
let backendsFile: string;
let storeUrl: string;

/**
 * `occitan serve` on the test's store. Every process reaps unowned containers after 2 s and looks for them
 * every second; only a restarted one gets a short recoveryGrace (the first must not undo its own creates
 * in flight, which may take longer than that on a loaded machine).
 */
async function serve(name: string, timers: Record<string, string> = {}): Promise<Proc> {
  const port = await freePort();
  const proc = await children!.start(name, ['serve'], {
    ...serveEnv({ port, storeUrl, database: DB, dataDir: path.join(work, 'data'), backendsFile }),
    OCCITAN_TIMERS_LEASE_SWEEP: '500',
    OCCITAN_TIMERS_DOCKER_STOP_TIMEOUT: '1000',
    OCCITAN_TIMERS_DOCKER_REAP_GRACE: '2000',
    OCCITAN_TIMERS_DOCKER_RECONCILE_PERIOD: '1000',
    ...timers,
  }, SERVE_READY);
  expect(proc.announced).toBe(`http://127.0.0.1:${port}`);
  return proc;
}

const pathOf = (headers: Headers): string => new URL(headers.get('location')!).pathname;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Entity documents in the test's own store (their internal ids are the containers' entity labels). */
const docs = (): Promise<Doc[]> => entityDocs<Doc>(storeUrl, DB);
const computeDocs = async (): Promise<Doc[]> => (await docs()).filter((d) => d.kind === INFRA + 'compute');

const ourContainers = (): Promise<string[]> => dockerLines(['ps', '-aq', '--no-trunc', '--filter', `label=dev.occitan.instance=${INSTANCE}`]);
const ourInspected = async (): Promise<Inspected[]> => inspectIds(await ourContainers());

/** What GFD.224 state a container in this state means (src/backends/docker/state.ts, the cases these tests make). */
function expectedState(c: Inspected): string {
  if (c.State.Status === 'running') return 'active';
  if (c.State.Status === 'paused') return 'suspended';
  if (c.State.Status === 'created' || (c.State.Status === 'exited' && !c.State.OOMKilled)) return 'inactive';
  return 'error';
}

interface Finding { location: string; problem: string }

/**
 * Everything the crash acceptance asks, as a list of what is still wrong (empty when settled): unfinished
 * documents, containers no stored entity owns, computes whose OCCI state is not their container's, and a
 * node reservation that differs from what the kept computes hold.
 */
async function findings(base: string): Promise<Finding[]> {
  const out: Finding[] = [];
  const all = await computeDocs();
  for (const d of all.filter((x) => x.status !== 'ready')) out.push({ location: d.location, problem: `document left ${d.status}` });
  const containers = await ourInspected();
  const byEntity = new Map<string, Inspected[]>();
  for (const c of containers) {
    const e = c.Config.Labels?.['dev.occitan.entity'] ?? '';
    byEntity.set(e, [...(byEntity.get(e) ?? []), c]);
  }
  const uids = new Set(all.map((d) => d.uid));
  for (const [e, cs] of byEntity) if (!uids.has(e)) out.push({ location: `entity ${e}`, problem: `${cs.length} container(s) no stored entity owns` });
  for (const d of all.filter((x) => x.status === 'ready')) {
    const got = await call(base, 'GET', d.location);
    if (got.status !== 200) {
      out.push({ location: d.location, problem: `GET answered ${got.status}` });
      continue;
    }
    const state = field(got.json, 'attributes', 'occi.compute.state') as string;
    const message = field(got.json, 'attributes', 'occi.compute.state.message') as string | undefined;
    const cs = byEntity.get(d.uid) ?? [];
    if (cs.length > 1) out.push({ location: d.location, problem: `${cs.length} containers` });
    if (cs.length === 0) {
      if (state !== 'error' || !message) out.push({ location: d.location, problem: `no container, yet state ${state} (${message ?? 'no message'})` });
    } else if (state !== expectedState(cs[0]!)) {
      out.push({ location: d.location, problem: `state ${state}, its container is ${cs[0]!.State.Status}` });
    }
  }
  const node = await call(base, 'GET', '/nodes/local');
  const kept = all.filter((d) => d.status === 'ready').length;
  const reserved = field(node.json, 'attributes', 'occitan.docker.node.memory.reserved');
  if (reserved !== kept * MEMORY_GIB) out.push({ location: '/nodes/local', problem: `reserved ${String(reserved)} GiB, the ${kept} computes hold ${kept * MEMORY_GIB}` });
  return out;
}

/** Polls `findings` until none is left (bounded); resolves to the last list (with the server's log if any is). */
async function settle(proc: Proc): Promise<Finding[]> {
  const until = Date.now() + BOUND_MS;
  for (;;) {
    const found = await findings(proc.announced);
    if (found.length === 0) return found;
    if (Date.now() > until) return [...found, { location: proc.name, problem: proc.output() }];
    await sleep(500);
  }
}

beforeAll(async () => {
  await requireDaemon();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-e2e-docker-crash-'));
  children = new OccitanChildren(compiledCli().cli, work, 90_000);

  backendsFile = path.join(work, 'backends.json');
  const kinds = ['compute', 'storage', 'storagelink', 'network', 'networkinterface'];
  fs.writeFileSync(backendsFile, JSON.stringify({
    providers: {
      dummy: { backend: 'dummy' },
      docker: { backend: 'docker', options: { nodes: [{ id: 'local', socketPath: SOCKET }], instance: INSTANCE } },
    },
    // dummy first: only the template (occitan.provider docker) puts a compute on Docker.
    kinds: Object.fromEntries(kinds.map((k) => [INFRA + k, { providers: k === 'compute' ? ['dummy', 'docker'] : ['dummy'] }])),
  }));
  storeUrl = (await children.store('store', path.join(work, 'store'))).announced;
}, 240_000);

afterAll(async () => {
  await children?.stopAll(10_000);
  const ids = await ourContainers().catch(() => []);
  if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined);
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 60_000);

let base: string;

test(`SIGKILL during ${CREATES} concurrent creates, then a restart: every labelled container is owned or gone, every entity's state is true`, async () => {
  let proc = await serve('a');
  base = proc.announced;
  const tpl = await call(base, 'POST', '/-/', { mixins: [{
    term: 'busybox', scheme: TPL, title: 'busybox image', location: '/templates/os/busybox/',
    depends: [INFRA + 'os_tpl', 'https://occitan.dev/occi/docker#container'], applies: [INFRA + 'compute'],
    attributes: {
      'occitan.docker.image': { type: 'string', mutable: true, required: false, default: 'occitan/busybox:test' },
      'occitan.provider': { type: 'string', mutable: false, required: false, default: 'docker' },
    },
  }] });
  expect(tpl.status).toBe(200);

  const acknowledged = new Set<string>();
  const refused: string[] = [];
  let killed = false;
  const sends = Array.from({ length: CREATES }, (_, i) =>
    call(base, 'POST', '/compute/', { kind: INFRA + 'compute', mixins: [TPL + 'busybox'], attributes: {
      'occi.core.title': `crash ${i}`, 'occi.compute.memory': MEMORY_GIB, 'occitan.docker.command': ['sleep', '3600'],
    } })
      .then((r) => {
        if (killed) return;
        if (r.status === 201) acknowledged.add(pathOf(r.headers));
        else refused.push(`${r.status} ${JSON.stringify(r.json)}`);
      })
      .catch(() => undefined), // the connection dies with the process
  );
  // Containers of the instance exist and some creates are acknowledged: now, unless all are already.
  const end = Date.now() + BOUND_MS;
  let containersAtKill = 0;
  for (;;) {
    containersAtKill = (await ourContainers()).length;
    if ((containersAtKill >= 1 && acknowledged.size >= 3) || acknowledged.size === CREATES || refused.length > 0 || Date.now() > end) break;
    await sleep(20);
  }
  const ackAtKill = acknowledged.size;
  await killOccitan(proc);
  killed = true;
  await Promise.all(sends);
  process.stdout.write(`docker-crash: killed with ${containersAtKill} containers, ${ackAtKill} of ${CREATES} creates acknowledged\n`);
  expect(refused).toEqual([]);
  expect(containersAtKill).toBeGreaterThanOrEqual(1);
  expect(ackAtKill).toBeGreaterThanOrEqual(1);
  expect(ackAtKill).toBeLessThan(CREATES);

  proc = await serve('a2', { OCCITAN_TIMERS_RECOVERY_GRACE: '1500' });
  base = proc.announced;
  expect(await settle(proc)).toEqual([]);

  const kept = (await computeDocs()).map((d) => d.location);
  for (const loc of acknowledged) expect(kept).toContain(loc);
  // Every kept compute has exactly one container, running, and says so.
  const byEntity = new Map((await ourInspected()).map((c) => [c.Config.Labels?.['dev.occitan.entity'], c]));
  for (const d of await computeDocs()) {
    const got = await call(base, 'GET', d.location);
    expect([d.location, byEntity.get(d.uid)?.State.Status, field(got.json, 'attributes', 'occi.compute.state')]).toEqual([d.location, 'running', 'active']);
  }
  expect(byEntity.size).toBe(kept.length);
  process.stdout.write(`docker-crash: ${kept.length} computes kept after the restart\n`);
});

test('containers stopped, paused or removed while occitan was down show their state after a restart (start-up reconciliation refreshes adopted containers)', async () => {
  const kept = await computeDocs();
  expect(kept.length).toBeGreaterThanOrEqual(3);
  await killOccitan(children!.all.find((p) => p.announced === base)!);
  const byEntity = new Map((await ourInspected()).map((c) => [c.Config.Labels?.['dev.occitan.entity'], c]));
  const [stopped, paused, removed] = kept.map((d) => ({ doc: d, container: byEntity.get(d.uid)! }));
  await docker(['stop', '-t', '1', stopped!.container.Id]);
  await docker(['pause', paused!.container.Id]);
  await docker(['rm', '-f', removed!.container.Id]);

  const proc = await serve('a3', { OCCITAN_TIMERS_RECOVERY_GRACE: '1500' });
  base = proc.announced;
  expect(await settle(proc)).toEqual([]);
  const states = async (d: Doc): Promise<unknown> => field((await call(base, 'GET', d.location)).json, 'attributes', 'occi.compute.state');
  expect([await states(stopped!.doc), await states(paused!.doc), await states(removed!.doc)]).toEqual(['inactive', 'suspended', 'error']);
  // The rest still run and say so.
  for (const d of kept.slice(3)) expect([d.location, await states(d)]).toEqual([d.location, 'active']);
});
