/**
 * Issue 7's crash acceptance with real occitan OS processes (scripts/services.sh start libvirt): one
 * `occitan serve` with the libvirt provider (an instance, pool and pool directory of this run only) over a
 * standalone store (`occitan store --port 0`) that outlives it. Five DataCentred-style flows run at once,
 * each a new 8 GiB disk (storage) and then a VM with an inline storagelink to it; the server is SIGKILLed
 * once some domains of this instance exist and before all five VMs are acknowledged. While it is down, one
 * acknowledged VM's domain is shut off with virsh (the platform moves on without occitan). A restarted
 * server (short recoveryGrace and libvirtReapGrace) must settle, bounded, to:
 * - no domain (metadata naming this instance) and no volume (`occitan-<instance>--…`) without an entity;
 * - every document `ready`, every acknowledged VM kept with its disk, and every VM kept with its inline
 *   storagelink (an unacknowledged VM may be kept only whole: its resource stays `creating` until its inline
 *   links are made, so recovery undoes a cut request entirely; test/http/inline-links-recovery.test.ts);
 * - every compute's state what `virsh domstate` says (an entity whose domain is gone: `error` with a
 *   message, as the reconciliation reports it; the VM shut off while occitan was down: inactive); every storage's volume there and online; every storagelink's
 *   disk on its domain with the deviceid it reports, and no occitan disk on a domain without its link.
 * Platform names carry occitan's internal ids (uid): the test reads them from the store's documents.
 */
import { compiledCli } from '../support/compiled-cli';
import { field, occiCall as call } from '../support/occi-call';
import { OccitanChildren, freePort, serveEnv, SERVE_READY, type OccitanProcess as Proc } from '../support/occitan-process';
import { entityDocs } from '../support/store-docs';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanup, disksIn, domainOf, domainsOfInstance, dumpxml, observedComputeState, requireDaemon, virsh, virshMaybe, volumeOf } from '../backends/libvirt-observer';

jest.setTimeout(300_000);

const ROOT = path.resolve(__dirname, '..', '..');
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

interface Doc { uid: string; location: string; kind: string; status: string; source?: string; target?: string; attributes: Record<string, unknown> }

let children: OccitanChildren | undefined;
let work: string;
let backendsFile: string;
let storeUrl: string;

async function serve(name: string, timers: Record<string, string> = {}): Promise<Proc> {
  const port = await freePort();
  return children!.start(name, ['serve'], {
    ...serveEnv({ port, storeUrl, database: DB, dataDir: path.join(work, `data-${name}`), backendsFile }),
    OCCITAN_TIMERS_LEASE_SWEEP: '500',
    OCCITAN_TIMERS_LIBVIRT_STOP_TIMEOUT: '1500',
    ...timers,
  }, SERVE_READY);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Entity documents in the test's own store (the store throws naming its status when it does not answer 200). */
const docs = (): Promise<Doc[]> => entityDocs<Doc>(storeUrl, DB);

/** The volumes of the test's pool (all of them: the pool is this run's). */
async function poolVolumes(): Promise<string[]> {
  return ((await virshMaybe(['vol-list', POOL])) ?? '').split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}

beforeAll(async () => {
  await requireDaemon();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-e2e-libvirt-'));
  children = new OccitanChildren(compiledCli().cli, work, 90_000);

  backendsFile = path.join(work, 'backends.json');
  const kinds: Record<string, { providers: string[] }> = {};
  for (const k of ['compute', 'storage', 'storagelink']) kinds[INFRA + k] = { providers: ['libvirt'] };
  for (const k of ['network', 'networkinterface']) kinds[INFRA + k] = { providers: ['dummy'] };
  // Not optional: a test that needs libvirt can never pass on dummy.
  fs.writeFileSync(backendsFile, JSON.stringify({
    providers: { libvirt: { backend: 'libvirt', options: { uri: 'qemu:///system', pool: POOL, poolPath: POOL_PATH, instance: INSTANCE } }, dummy: { backend: 'dummy' } },
    kinds,
  }));
  storeUrl = (await children.store('store', path.join(work, 'store'))).announced;
}, 300_000);

afterAll(async () => {
  await children?.stopAll(10_000);
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
      if (!killed) acknowledged.set(vm, field(c.json, 'links', 0, 'attributes', 'occi.storagelink.deviceid') as string);
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

  // All or none: no VM is left without the storagelink its (acknowledged or not) create asked for.
  for (const d of computes) expect([d.location, links.filter((l) => l.source === d.location).length]).toEqual([d.location, 1]);

  // Computes: the state occitan serves is what virsh says; without a domain, error with a message.
  for (const d of computes) {
    const got = await call(again, 'GET', d.location);
    expect([d.location, got.status]).toEqual([d.location, 200]);
    const a = field(got.json, 'attributes') as Record<string, unknown>;
    const observed = await observedComputeState(domainOf(d.uid));
    if (observed === undefined) {
      expect([d.location, a['occi.compute.state'], typeof a['occi.compute.state.message']]).toEqual([d.location, 'error', 'string']);
      expect(String(a['occi.compute.state.message'])).toMatch(/gone/);
    } else {
      expect([d.location, a['occi.compute.state']]).toEqual([d.location, observed]);
    }
  }
  expect(field((await call(again, 'GET', stoppedVm!)).json, 'attributes', 'occi.compute.state')).toBe('inactive');
  // Storages: the volume is there, and online.
  const volumes = new Set(await poolVolumes());
  for (const d of storages) {
    const got = await call(again, 'GET', d.location);
    expect([d.location, got.status, volumes.has(volumeOf(d.uid, INSTANCE)), field(got.json, 'attributes', 'occi.storage.state')]).toEqual([d.location, 200, true, 'online']);
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
