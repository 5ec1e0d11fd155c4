/**
 * Issue 7's crash acceptance with real occitan OS processes (scripts/services.sh start libvirt): one
 * `occitan serve` with the libvirt provider (an instance, pool and pool directory of this run only) over a
 * standalone store (`occitan store --port 0`) that outlives it. Five DataCentred-style flows run at once,
 * each a new 8 GiB disk (storage) and then a VM with an inline storagelink to it; the server is SIGKILLed
 * once some domains of this instance exist and before all five VMs are acknowledged. While it is down, one
 * acknowledged VM's domain is shut off with virsh (the platform moves on without occitan). A restarted
 * server (short recoveryGrace and libvirtReapGrace) must settle, bounded, to:
 * - no domain (metadata naming this instance) and no volume (`occitan-<instance>--…`) without an entity;
 * - every document `ready`, every acknowledged VM kept with its disk (an unacknowledged VM may be kept
 *   too, without its disk: the service stores a resource `ready` before it makes the request's inline links,
 *   and start-up recovery undoes only the link left `creating`);
 * - every compute's state what `virsh domstate` says (an entity whose domain is gone: `error` with a
 *   message, as the reconciliation reports it; the VM shut off while occitan was down: inactive); every storage's volume there and online; every storagelink's
 *   disk on its domain with the deviceid it reports, and no occitan disk on a domain without its link.
 * Platform names carry occitan's internal ids (uid): the test reads them from the store's documents.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { compiledCli } from '../support/compiled-cli';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanup, disksIn, domainOf, domainsOfInstance, dumpxml, observedComputeState, requireDaemon, virsh, virshMaybe, volumeOf } from '../backends/libvirt-observer';

jest.setTimeout(300_000);

const ROOT = path.resolve(__dirname, '..', '..');
const J = 'application/occi+json';
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const RUN = randomUUID().slice(0, 8);
const INSTANCE = `crash-${RUN}`;
const POOL = `occitan-test-${RUN}`;
const POOL_PATH = `/var/lib/occitan-test/libvirt/${RUN}`;
const DB = 'e2e-libvirt-crash';
const FLOWS = 5;
const REAP_GRACE_MS = 2000;
const STAGGER_MS = 400;
const BOUND_MS = 90_000;

interface Proc { name: string; child: ChildProcess; announced: string; output(): string; exited: Promise<number | null> }
interface Doc { uid: string; location: string; kind: string; status: string; source?: string; target?: string; attributes: Record<string, unknown> }

const children: Proc[] = [];
let work: string;
let cli: string;
let backendsFile: string;
let storeUrl: string;

function start(name: string, args: string[], env: Record<string, string>, ready: RegExp, boundMs = 90_000): Promise<Proc> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OCCITAN_')) clean[k] = v;
  const child = spawn(process.execPath, [cli, ...args], { cwd: work, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const proc: Proc = { name, child, announced: '', output: () => `--- ${name} stdout:\n${out}\n--- ${name} stderr:\n${err}`, exited };
  children.push(proc);
  return new Promise<Proc>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not announce itself within ${boundMs} ms\n${proc.output()}`)), boundMs);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m && !proc.announced) {
        clearTimeout(timer);
        proc.announced = m[1]!;
        resolve(proc);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready\n${proc.output()}`));
    });
  });
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function serve(name: string, timers: Record<string, string> = {}): Promise<Proc> {
  const port = await freePort();
  return start(name, ['serve'], {
    OCCITAN_PORT: String(port),
    OCCITAN_BIND: '127.0.0.1',
    OCCITAN_COUCHDB_URL: storeUrl,
    OCCITAN_COUCHDB_DATABASE: DB,
    OCCITAN_DATA_DIR: path.join(work, `data-${name}`),
    OCCITAN_LOG_LEVEL: 'warn',
    OCCITAN_BACKENDS_FILE: backendsFile,
    OCCITAN_AUTH_MODE: 'none',
    OCCITAN_TIMERS_LEASE_SWEEP: '500',
    OCCITAN_TIMERS_LIBVIRT_STOP_TIMEOUT: '1500',
    ...timers,
  }, /occitan listening on (http:\/\/\S+)\n/);
}

async function call(base: string, method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(base + url, { method, headers: { Accept: J, ...(body !== undefined ? { 'Content-Type': J } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Entity documents in the test's own store. */
async function docs(): Promise<Doc[]> {
  // The store announces its URL with credentials; fetch wants them in a header.
  const u = new URL(`${storeUrl}/${DB}/_all_docs?include_docs=true`);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  u.username = '';
  u.password = '';
  const res = await fetch(u, { headers: { Authorization: auth } });
  if (res.status !== 200) throw new Error(`the store answered ${res.status} for its documents`);
  const body = (await res.json()) as { rows: Array<{ doc?: Partial<Doc> }> };
  return body.rows.map((r) => r.doc).filter((d): d is Doc => typeof d?.uid === 'string' && typeof d.location === 'string');
}

/** The volumes of the test's pool (all of them: the pool is this run's). */
async function poolVolumes(): Promise<string[]> {
  return ((await virshMaybe(['vol-list', POOL])) ?? '').split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}

beforeAll(async () => {
  await requireDaemon();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-e2e-libvirt-'));
  ({ cli } = compiledCli());

  backendsFile = path.join(work, 'backends.json');
  const kinds: Record<string, { providers: string[] }> = {};
  for (const k of ['compute', 'storage', 'storagelink']) kinds[INFRA + k] = { providers: ['libvirt'] };
  for (const k of ['network', 'networkinterface']) kinds[INFRA + k] = { providers: ['dummy'] };
  // Not optional: a test that needs libvirt can never pass on dummy.
  fs.writeFileSync(backendsFile, JSON.stringify({
    providers: { libvirt: { backend: 'libvirt', options: { uri: 'qemu:///system', pool: POOL, poolPath: POOL_PATH, instance: INSTANCE } }, dummy: { backend: 'dummy' } },
    kinds,
  }));
  storeUrl = (await start('store', ['store', '--data-dir', path.join(work, 'store'), '--port', '0'], {}, /occitan store listening on (http:\/\/\S+)\n/)).announced;
}, 300_000);

afterAll(async () => {
  for (const p of children) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const p of children) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  }, 10_000);
  await Promise.all(children.map((p) => p.exited));
  clearTimeout(timer);
  await cleanup(INSTANCE, POOL).catch(() => undefined);
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 120_000);

const storageBody = { kind: INFRA + 'storage', attributes: { 'occi.storage.size': 8 } };
const computeBody = (disk: string): unknown => ({
  kind: INFRA + 'compute',
  attributes: { 'occi.compute.memory': 0.03125, 'occi.compute.cores': 1 },
  links: [{ kind: INFRA + 'storagelink', target: { location: disk, kind: INFRA + 'storage' } }],
});

test('SIGKILL with 5 VM creates in flight, then a restart: no orphan domain or volume, every state true', async () => {
  const first = await serve('first');
  const base = first.announced;
  const acknowledged = new Map<string, string>(); // compute location → deviceid of its inline disk
  const failures: string[] = [];
  let killed = false;
  const flows = Array.from({ length: FLOWS }, async (_, i) => {
    const disk = `/storage/crash-disk-${i}`;
    const vm = `/compute/crash-vm-${i}`;
    // Staggered a little, so that some VMs are acknowledged while others are still being made.
    await sleep(i * STAGGER_MS);
    try {
      const s = await call(base, 'PUT', disk, storageBody);
      if (s.status !== 201) return void failures.push(`${disk}: ${s.status} ${JSON.stringify(s.json)}`);
      const c = await call(base, 'PUT', vm, computeBody(disk));
      if (c.status !== 201) return void failures.push(`${vm}: ${c.status} ${JSON.stringify(c.json)}`);
      if (!killed) acknowledged.set(vm, c.json.links?.[0]?.attributes?.['occi.storagelink.deviceid'] as string);
    } catch {
      // The connection dies with the process.
    }
  });

  // Some VMs acknowledged and more domains of this instance than that (creates in flight): now.
  const end = Date.now() + BOUND_MS;
  let domainsAtKill: string[] = [];
  for (;;) {
    domainsAtKill = await domainsOfInstance(INSTANCE);
    const acked = acknowledged.size;
    if ((acked >= 1 && domainsAtKill.length > acked) || acknowledged.size === FLOWS || failures.length || Date.now() > end) break;
    await sleep(20);
  }
  const ackAtKill = acknowledged.size;
  first.child.kill('SIGKILL');
  killed = true;
  await first.exited;
  await Promise.all(flows);
  const volumesAtKill = await poolVolumes();
  process.stdout.write(`libvirt-crash: killed with ${domainsAtKill.length} domains, ${volumesAtKill.length} volumes, ${ackAtKill} VMs acknowledged\n`);
  expect(failures).toEqual([]);
  expect(domainsAtKill.length).toBeGreaterThanOrEqual(1);
  expect(ackAtKill).toBeLessThan(FLOWS);

  // While occitan is down, one acknowledged VM is shut off: the restart must say so.
  const [stoppedVm] = [...acknowledged.keys()];
  const stoppedDomain = domainOf((await docs()).find((d) => d.location === stoppedVm)!.uid);
  await virsh(['destroy', stoppedDomain]);
  // Whatever the dead process left young is older than the reap grace when the next one starts.
  await sleep(REAP_GRACE_MS + 500);
  const again = (await serve('again', { OCCITAN_TIMERS_RECOVERY_GRACE: '1000', OCCITAN_TIMERS_LIBVIRT_REAP_GRACE: String(REAP_GRACE_MS) })).announced;

  const orphans = async (): Promise<{ domains: string[]; volumes: string[]; unfinished: string[] }> => {
    const all = await docs();
    const computes = new Set(all.filter((d) => d.kind === INFRA + 'compute').map((d) => domainOf(d.uid)));
    const storages = new Set(all.filter((d) => d.kind === INFRA + 'storage').map((d) => volumeOf(d.uid, INSTANCE)));
    return {
      domains: (await domainsOfInstance(INSTANCE)).filter((n) => !computes.has(n)),
      volumes: (await poolVolumes()).filter((v) => !storages.has(v)),
      unfinished: all.filter((d) => d.status !== 'ready').map((d) => `${d.location} ${d.status}`),
    };
  };
  const settled = Date.now() + BOUND_MS;
  let left = await orphans();
  while (left.domains.length + left.volumes.length + left.unfinished.length > 0 && Date.now() < settled) {
    await sleep(250);
    left = await orphans();
  }
  expect(left).toEqual({ domains: [], volumes: [], unfinished: [] });

  const all = await docs();
  const computes = all.filter((d) => d.kind === INFRA + 'compute');
  const storages = all.filter((d) => d.kind === INFRA + 'storage');
  const links = all.filter((d) => d.kind === INFRA + 'storagelink');
  // Every acknowledged VM is kept, with the disk it was acknowledged with.
  for (const [vm, deviceid] of acknowledged) {
    const doc = computes.find((d) => d.location === vm);
    expect([vm, doc?.status]).toEqual([vm, 'ready']);
    const link = links.find((l) => l.source === vm);
    expect([vm, link?.attributes['occi.storagelink.deviceid']]).toEqual([vm, deviceid]);
  }

  // Computes: the state occitan serves is what virsh says; without a domain, error with a message.
  for (const d of computes) {
    const got = await call(again, 'GET', d.location);
    expect([d.location, got.status]).toEqual([d.location, 200]);
    const a = got.json.attributes as Record<string, unknown>;
    const observed = await observedComputeState(domainOf(d.uid));
    if (observed === undefined) {
      expect([d.location, a['occi.compute.state'], typeof a['occi.compute.state.message']]).toEqual([d.location, 'error', 'string']);
      expect(String(a['occi.compute.state.message'])).toMatch(/gone/);
    } else {
      expect([d.location, a['occi.compute.state']]).toEqual([d.location, observed]);
    }
  }
  expect((await call(again, 'GET', stoppedVm!)).json.attributes['occi.compute.state']).toBe('inactive');
  // Storages: the volume is there, and online.
  const volumes = new Set(await poolVolumes());
  for (const d of storages) {
    const got = await call(again, 'GET', d.location);
    expect([d.location, got.status, volumes.has(volumeOf(d.uid, INSTANCE)), got.json.attributes['occi.storage.state']]).toEqual([d.location, 200, true, 'online']);
  }
  // Storagelinks: the disk is on its VM's domain (definition, and live while it runs) as the deviceid it reports.
  const byLocation = new Map(all.map((d) => [d.location, d]));
  const aliases = new Set<string>();
  for (const l of links) {
    const vm = byLocation.get(l.source!);
    const disk = byLocation.get(l.target!);
    expect([l.location, vm?.kind, disk?.kind]).toEqual([l.location, INFRA + 'compute', INFRA + 'storage']);
    const alias = `ua-occitan-${l.uid}`;
    aliases.add(alias);
    const domain = domainOf(vm!.uid);
    const config = disksIn((await dumpxml(domain)) ?? '').find((x) => x.alias === alias);
    const path_ = (await virshMaybe(['vol-path', '--pool', POOL, volumeOf(disk!.uid, INSTANCE)]))?.trim();
    expect([l.location, config?.target, config?.bus, config?.source]).toEqual([l.location, l.attributes['occi.storagelink.deviceid'], 'scsi', path_]);
    expect([l.location, l.attributes['occi.storagelink.state']]).toEqual([l.location, 'active']);
    if ((await observedComputeState(domain)) === 'active') {
      expect([l.location, disksIn((await dumpxml(domain, false)) ?? '').some((x) => x.alias === alias)]).toEqual([l.location, true]);
    }
  }
  // No occitan disk on a domain of this instance without its storagelink.
  for (const domain of await domainsOfInstance(INSTANCE)) {
    const stray = disksIn((await dumpxml(domain)) ?? '').filter((x) => x.alias.startsWith('ua-occitan-') && !aliases.has(x.alias));
    expect([domain, stray]).toEqual([domain, []]);
  }
  process.stdout.write(`libvirt-crash: after the restart ${computes.length} VMs, ${storages.length} disks, ${links.length} storagelinks\n`);
  expect(computes.length).toBeGreaterThanOrEqual(ackAtKill);
});
