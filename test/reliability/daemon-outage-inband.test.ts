/**
 * Issue 8, deliverable 3, in band: the host's libvirtd and ovsdb-server (the ones scripts/services.sh runs,
 * shared with every other test) are stopped for a few seconds in the middle of VM creates and network
 * creates, then restored with `bash scripts/services.sh start libvirt|ovs` in a `finally`: a daemon is never
 * left stopped. Each outage is announced on stdout first (other test runs on this machine see it too).
 *
 * Checks, as for Docker (daemon-outage.test.ts): every request ends as a success or a clear 502/503 (503
 * with Retry-After), never a 500; a failed create leaves its entity absent or in state error with a
 * message. libvirt's and Open vSwitch's reconcilers run when occitan starts, so once the daemon is back
 * occitan is restarted on the same store (an in-memory CouchDB-protocol server of the test's own): then
 * no orphan (a domain or port of this instance without its entity) and no ghost (an entity claiming
 * active without its domain running or its port present) may be left.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Response } from 'supertest';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded';
import type { EntityDoc } from '../../src/store/entity-store';
import { libvirtFixture } from '../backends/libvirt-fixture';
import { domainsOfInstance, domstate } from '../backends/libvirt-observer';
import { deleteBridges, requireOvs, testBridge, vsctl } from '../backends/ovs-observer';
import { startHarness, type Harness } from '../support/harness';

jest.setTimeout(300_000);

const exec = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const J = 'application/occi+json';
const BOUND_MS = 60_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const lv = libvirtFixture({ libvirtStopTimeout: 1500, libvirtReapGrace: 0 });
const BRIDGE = testBridge('occo');
const OVS_INSTANCE = `outage-${lv.run}`;
let store: EmbeddedStore | undefined;
let h: Harness | undefined;
let work: string;
const DB = `outage-inband-${lv.run}`;

function backendsFile(): string {
  const file = path.join(work, 'backends.json');
  const kinds: Record<string, { providers: string[] }> = {};
  for (const k of ['compute', 'storage', 'storagelink']) kinds[INFRA + k] = { providers: ['libvirt'] };
  for (const k of ['network', 'networkinterface']) kinds[INFRA + k] = { providers: ['ovs'] };
  fs.writeFileSync(file, JSON.stringify({
    providers: { dummy: { backend: 'dummy' }, libvirt: { backend: 'libvirt', options: lv.options }, ovs: { backend: 'ovs', options: { bridges: [BRIDGE], instance: OVS_INSTANCE } } },
    kinds,
  }));
  return file;
}

/**
 * occitan on the test's own store (it survives occitan's restarts); start-up reconciles with short graces.
 * `restarted`: the process after an outage, with a short recovery grace. The first one keeps the default
 * (60 s): creates slowed by the outage must not be taken for interrupted ones by its own recovery pass.
 */
async function startOccitan(restarted: boolean): Promise<Harness> {
  return startHarness({
    backendsFile: path.join(work, 'backends.json'),
    couchdb: { url: store!.url, database: DB },
    timers: { leaseSweep: 1000, ...(restarted ? { recoveryGrace: 2000 } : {}), libvirtStopTimeout: 1500, libvirtReapGrace: 0 },
  });
}

beforeAll(async () => {
  await lv.setup();
  await requireOvs();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-outage-inband-'));
  backendsFile();
  store = await startEmbeddedStore({ memory: true, log: () => undefined });
  h = await startOccitan(false);
});

afterAll(async () => {
  await h?.close();
  await lv.teardown();
  const ports = await vsctl(['--format=csv', '--no-headings', '--columns=name', 'find', 'Port', `external_ids:occitan-instance=${OVS_INSTANCE}`]).catch(() => '');
  for (const p of ports.split('\n').map((l) => l.trim().replace(/"/g, '')).filter(Boolean)) await vsctl(['--if-exists', 'del-port', p]).catch(() => undefined);
  await deleteBridges([BRIDGE]);
  await store?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

interface Outcome { location: string; status: number; retryAfter?: string }

async function outcome(location: string, sent: Promise<Response>): Promise<Outcome> {
  const r = await sent;
  return { location, status: r.status, ...(r.headers['retry-after'] ? { retryAfter: String(r.headers['retry-after']) } : {}) };
}

const put = (location: string, body: unknown): Promise<Response> => h!.http.put(location).set('Content-Type', J).set('Accept', J).send(JSON.stringify(body));

/** A create before the outage: it must succeed (the answer is shown when it does not). */
async function created(location: string, body: unknown): Promise<void> {
  const r = await put(location, body);
  expect([location, r.status, r.status === 201 ? '' : r.text]).toEqual([location, 201, '']);
}

function expectClear(outcomes: readonly Outcome[]): void {
  expect(outcomes.filter((o) => !(o.status === 201 || o.status === 502 || (o.status === 503 && o.retryAfter !== undefined)))).toEqual([]);
}

/** A failed create's entity is absent, or in state error with a message. */
async function expectHonest(failed: readonly Outcome[], stateAttr: string): Promise<void> {
  for (const f of failed) {
    const got = await h!.http.get(f.location).set('Accept', J);
    if (got.status === 404) continue;
    expect([f.location, got.status, got.body?.attributes?.[stateAttr]]).toEqual([f.location, 200, 'error']);
    expect(String(got.body.attributes[`${stateAttr}.message`] ?? '')).not.toBe('');
  }
}

async function docsOf(provider: string): Promise<EntityDoc[]> {
  const out: EntityDoc[] = [];
  for await (const d of h!.occitan.service.entities.byProvider(provider)) out.push(d);
  return out;
}

/** Stops a shared daemon by its pid file (announced first), runs `during`, and always restores it. */
async function outage<T>(daemon: 'libvirt' | 'ovs', pidFile: string, comm: string, during: () => Promise<T>, stopWhen: () => Promise<boolean>): Promise<T> {
  const pending = during();
  pending.catch(() => undefined);
  try {
    const until = Date.now() + BOUND_MS;
    while (!(await stopWhen()) && Date.now() < until) await sleep(20);
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== comm) throw new Error(`${pidFile} does not name a running ${comm}`);
    process.stdout.write(`daemon-outage-inband: stopping ${comm} (pid ${pid}) for a few seconds; restored by bash scripts/services.sh start ${daemon}\n`);
    process.kill(pid, 'SIGTERM');
    const gone = Date.now() + 30_000;
    while (fs.existsSync(`/proc/${pid}`) && Date.now() < gone) await sleep(50);
    return await pending;
  } finally {
    await exec('bash', [path.join(ROOT, 'scripts', 'services.sh'), 'start', daemon], { cwd: ROOT, timeout: 180_000 });
    process.stdout.write(`daemon-outage-inband: ${comm} restored\n`);
  }
}

test('libvirtd stopped during VM creates: clear 502/503, honest entities; after its return and a restart, no orphan domain, no ghost', async () => {
  const vm = { kind: INFRA + 'compute', attributes: { 'occi.compute.memory': 0.03125, 'occi.compute.cores': 1 } };
  await created('/compute/lv-before', vm);
  const before = (await domainsOfInstance(lv.instance)).length;
  const results = await outage('libvirt', '/run/libvirtd.pid', 'libvirtd', async () => {
    const inFlight = Array.from({ length: 4 }, (_, i) => outcome(`/compute/lv-${i}`, put(`/compute/lv-${i}`, vm)));
    const early = await Promise.all(inFlight);
    // The daemon is down by now (the in-flight ones waited for it): one more create meets the outage.
    const down = await outcome('/compute/lv-down', put('/compute/lv-down', vm));
    return { early, down };
  }, async () => (await domainsOfInstance(lv.instance)).length > before);
  process.stdout.write(`daemon-outage-inband (libvirtd): in flight ${results.early.map((o) => o.status).join(' ')}; while down ${results.down.status}\n`);
  expectClear([...results.early, results.down]);
  expect([502, 503]).toContain(results.down.status);
  await expectHonest([...results.early, results.down].filter((o) => o.status !== 201), 'occi.compute.state');

  // Back: occitan restarts (start-up reconciliation), then store and libvirt agree.
  await h!.close();
  h = await startOccitan(true);
  const agree = async (): Promise<{ orphans: string[]; ghosts: string[] }> => {
    const docs = (await docsOf('libvirt')).filter((d) => d.kind === INFRA + 'compute');
    const names = new Set(docs.map((d) => `occitan-${d.uid}`));
    const domains = await domainsOfInstance(lv.instance);
    const ghosts: string[] = [];
    for (const d of docs) {
      if (d.attributes['occi.compute.state'] !== 'active') continue;
      const st = await domstate(`occitan-${d.uid}`);
      if (!st?.startsWith('running')) ghosts.push(`${d.location} claims active; domain: ${st ?? 'none'}`);
    }
    return { orphans: domains.filter((n) => !names.has(n)), ghosts };
  };
  const until = Date.now() + BOUND_MS;
  let seen = await agree();
  while (seen.orphans.length + seen.ghosts.length > 0 && Date.now() < until) {
    await sleep(500);
    seen = await agree();
  }
  expect(seen).toEqual({ orphans: [], ghosts: [] });
  for (const o of [...results.early, results.down].filter((x) => x.status === 201)) expect((await h!.http.get(o.location).set('Accept', J)).status).toBe(200);
});

test('ovsdb-server stopped during network creates: clear 502/503, honest entities; after its return and a restart, no orphan port, no ghost', async () => {
  const network = (vlan: number): unknown => ({ kind: INFRA + 'network', mixins: ['https://occitan.dev/occi/ovs#network'], attributes: { 'occi.network.vlan': vlan, 'occitan.ovs.bridge': BRIDGE } });
  // A process with the default recovery grace again (the previous test left a restarted one).
  await h!.close();
  h = await startOccitan(false);
  await created('/network/ovs-before', network(70));
  const ours = async (): Promise<Array<{ name: string; entity: string }>> => {
    const out = JSON.parse(await vsctl(['--format=json', '--columns=name,external_ids', 'find', 'Port', `external_ids:occitan-instance=${OVS_INSTANCE}`])) as { data: Array<[string, ['map', Array<[string, string]>]]> };
    return out.data.map(([name, ids]) => ({ name, entity: new Map(ids[1]).get('occitan-entity') ?? '' }));
  };
  const before = (await ours()).length;
  const results = await outage('ovs', '/run/openvswitch/ovsdb-server.pid', 'ovsdb-server', async () => {
    const early = await Promise.all(Array.from({ length: 5 }, (_, i) => outcome(`/network/ovs-${i}`, put(`/network/ovs-${i}`, network(71 + i)))));
    const down = await outcome('/network/ovs-down', put('/network/ovs-down', network(79)));
    return { early, down };
  }, async () => (await ours().catch(() => [])).length > before);
  process.stdout.write(`daemon-outage-inband (ovsdb-server): in flight ${results.early.map((o) => o.status).join(' ')}; while down ${results.down.status}\n`);
  expectClear([...results.early, results.down]);
  expect([502, 503]).toContain(results.down.status);
  await expectHonest([...results.early, results.down].filter((o) => o.status !== 201), 'occi.network.state');

  await h!.close();
  h = await startOccitan(true);
  const agree = async (): Promise<{ orphans: string[]; ghosts: string[] }> => {
    const docs = (await docsOf('ovs')).filter((d) => d.kind === INFRA + 'network');
    const uids = new Set(docs.map((d) => d.uid));
    const ports = await ours();
    const ghosts = docs.filter((d) => d.attributes['occi.network.state'] === 'active' && !ports.some((p) => p.entity === d.uid)).map((d) => `${d.location} claims active without a port`);
    return { orphans: ports.filter((p) => !uids.has(p.entity)).map((p) => `${p.name} (entity ${p.entity})`), ghosts };
  };
  const until = Date.now() + BOUND_MS;
  let seen = await agree();
  while (seen.orphans.length + seen.ghosts.length > 0 && Date.now() < until) {
    await sleep(500);
    seen = await agree();
  }
  expect(seen).toEqual({ orphans: [], ghosts: [] });
  for (const o of [...results.early, results.down].filter((x) => x.status === 201)) expect((await h!.http.get(o.location).set('Accept', J)).status).toBe(200);
});
