/**
 * Issue 6's acceptance with real occitan OS processes (scripts/services.sh start ovs / start docker): two
 * `occitan serve` processes share one standalone store (`occitan store --port 0`), with the ovs provider on a
 * bridge named by this test and the docker provider on occitan's private dockerd for the containers.
 * 1. Two dynamic allocations sent at once, one through each process, get different addresses (seen in the
 *    containers through nsenter and on the switch through ovs-vsctl).
 * 2. SIGKILL both processes while 10 interface creates are in flight (some ports exist, not all acknowledged);
 *    a restarted process (short recoveryGrace) leaves no orphan port or veth, and every link's state agrees
 *    with its port's link state.
 * Platform names carry occitan's internal ids (uid), which the OCCI rendering does not show: the test reads
 * them from the store's documents (the test's own store) to tie ports and veths to entities.
 */
import { compiledCli } from '../support/compiled-cli';
import { field, occiCall as call } from '../support/occi-call';
import { OccitanChildren, freePort, serveEnv, SERVE_READY } from '../support/occitan-process';
import { entityDocs } from '../support/store-docs';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SOCKET, docker, dockerLines, requireDaemon } from '../backends/docker-observer';
import { containerInterfaces, deleteBridges, markedVeths, portsOf, requireOvs, testBridge, vsctl } from '../backends/ovs-observer';

jest.setTimeout(150_000);

const exec = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const TPL = 'https://example.org/occi/os_tpl#';
const OVS_MIXIN = 'https://occitan.dev/occi/ovs#network';
const IPNETWORK = 'http://schemas.ogf.org/occi/infrastructure/network#ipnetwork';
const IPNI = 'http://schemas.ogf.org/occi/infrastructure/networkinterface#ipnetworkinterface';
const INSTANCE = `e2e-${randomUUID().slice(0, 8)}`;
const BRIDGE = testBridge('occe');
const DB = 'e2e-ovs';
const BOUND_MS = 30_000;

interface Doc { uid: string; location: string; kind: string; status: string; tenant: string; attributes: Record<string, unknown> }

let children: OccitanChildren | undefined;
let work: string;
let backendsFile: string;
let storeUrl: string;

async function serve(name: string, timers: Record<string, string> = {}): Promise<string> {
  const port = await freePort();
  const proc = await children!.start(name, ['serve'], {
    ...serveEnv({ port, storeUrl, database: DB, dataDir: path.join(work, `data-${name}`), backendsFile }),
    OCCITAN_TIMERS_LEASE_SWEEP: '500',
    OCCITAN_TIMERS_DOCKER_STOP_TIMEOUT: '1000',
    OCCITAN_TIMERS_DOCKER_REAP_GRACE: '3600000',
    ...timers,
  }, SERVE_READY);
  expect(proc.announced).toBe(`http://127.0.0.1:${port}`);
  return proc.announced;
}

const pathOf = (headers: Headers): string => new URL(headers.get('location')!).pathname;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Entity documents in the test's own store (for the internal ids that name ports and veths). */
const docs = (): Promise<Doc[]> => entityDocs<Doc>(storeUrl, DB);
const docAt = async (location: string): Promise<Doc> => (await docs()).find((d) => d.location === location)!;

/** This instance's ports carrying a network's id, with the entity each names. */
async function networkPorts(networkUid: string): Promise<Array<{ name: string; entity: string }>> {
  const out = JSON.parse(await vsctl(['--format=json', '--columns=name,external_ids', 'find', 'Port', `external_ids:occitan-instance=${INSTANCE}`, `external_ids:occitan-network="${networkUid}"`])) as { data: Array<[string, ['map', Array<[string, string]>]]> };
  return out.data.map(([name, ids]) => ({ name, entity: new Map(ids[1]).get('occitan-entity') ?? '' }));
}

const ourContainers = (): Promise<string[]> => dockerLines(['ps', '-aq', '--no-trunc', '--filter', `label=dev.occitan.instance=${INSTANCE}`]);
const pidOfEntity = async (uid: string): Promise<number> => {
  const [id] = await dockerLines(['ps', '-q', '--no-trunc', '--filter', `label=dev.occitan.entity=${uid}`, '--filter', `label=dev.occitan.instance=${INSTANCE}`]);
  return Number((await docker(['inspect', '-f', '{{.State.Pid}}', id!])).trim());
};
/** Every non-loopback device in a container's namespace, with its alias (the container end's mark). */
async function containerLinks(pid: number): Promise<Array<{ ifname: string; ifalias?: string }>> {
  const { stdout } = await exec('nsenter', ['-t', String(pid), '-n', 'ip', '-j', 'link', 'show']);
  return (JSON.parse(stdout) as Array<{ ifname: string; ifalias?: string }>).filter((l) => l.ifname !== 'lo');
}

let a: string;
let b: string;
let computes: string[] = [];

beforeAll(async () => {
  await requireOvs();
  await requireDaemon();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-e2e-ovs-'));
  children = new OccitanChildren(compiledCli().cli, work, 60_000);

  backendsFile = path.join(work, 'backends.json');
  fs.writeFileSync(backendsFile, JSON.stringify({
    providers: {
      dummy: { backend: 'dummy' },
      docker: { backend: 'docker', options: { nodes: [{ id: 'local', socketPath: SOCKET }], instance: INSTANCE } },
      ovs: { backend: 'ovs', options: { bridges: [BRIDGE], instance: INSTANCE } },
    },
    kinds: {
      [INFRA + 'compute']: { providers: ['dummy', 'docker'] },
      [INFRA + 'storage']: { providers: ['dummy'] },
      [INFRA + 'storagelink']: { providers: ['dummy'] },
      [INFRA + 'network']: { providers: ['ovs'] },
      [INFRA + 'networkinterface']: { providers: ['ovs'] },
    },
  }));
  storeUrl = (await children.store('store', path.join(work, 'store'))).announced;
  [a, b] = await Promise.all([serve('a'), serve('b')]);

  // An os_tpl template for the test image, then two containers made from it.
  const tpl = await call(a, 'POST', '/-/', { mixins: [{
    term: 'busybox', scheme: TPL, title: 'busybox image', location: '/templates/os/busybox/',
    depends: [INFRA + 'os_tpl', 'https://occitan.dev/occi/docker#container'], applies: [INFRA + 'compute'],
    attributes: {
      'occitan.docker.image': { type: 'string', mutable: true, required: false, default: 'occitan/busybox:test' },
      'occitan.provider': { type: 'string', mutable: false, required: false, default: 'docker' },
    },
  }] });
  expect(tpl.status).toBe(200);
  for (let i = 0; i < 2; i++) {
    const c = await call(a, 'POST', '/compute/', { kind: INFRA + 'compute', mixins: [TPL + 'busybox'], attributes: { 'occitan.docker.command': ['sleep', '3600'] } });
    expect([c.status, field(c.json, 'attributes', 'occitan.provider'), field(c.json, 'attributes', 'occitan.docker.image')]).toEqual([201, 'docker', 'occitan/busybox:test']);
    computes.push(pathOf(c.headers));
  }
}, 150_000);

afterAll(async () => {
  await children?.stopAll(10_000);
  const ids = await ourContainers().catch(() => []);
  if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined);
  const ports = await vsctl(['--format=csv', '--no-headings', '--columns=name', 'find', 'Port', `external_ids:occitan-instance=${INSTANCE}`]).catch(() => '');
  for (const p of ports.split('\n').map((l) => l.trim().replace(/"/g, '')).filter(Boolean)) await vsctl(['--if-exists', 'del-port', p]).catch(() => undefined);
  for (const v of await markedVeths(INSTANCE).catch(() => [])) await exec('ip', ['link', 'del', 'dev', v.ifname]).catch(() => undefined);
  await deleteBridges([BRIDGE]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 60_000);

async function makeNetwork(base: string, vlan: number, prefix: string): Promise<{ location: string; uid: string }> {
  const n = await call(base, 'POST', '/network/', { kind: INFRA + 'network', mixins: [IPNETWORK, OVS_MIXIN], attributes: {
    'occi.network.vlan': vlan, 'occitan.ovs.bridge': BRIDGE, 'occi.network.address': `${prefix}.0/24`, 'occi.network.gateway': `${prefix}.1`, 'occi.network.allocation': 'dynamic',
  } });
  expect([n.status, field(n.json, 'attributes', 'occi.network.state')]).toEqual([201, 'active']);
  const location = pathOf(n.headers);
  return { location, uid: (await docAt(location)).uid };
}

const linkBody = (compute: string, network: string): unknown => ({ kind: INFRA + 'networkinterface', mixins: [IPNI], source: { location: compute }, target: { location: network }, attributes: {} });

test('two dynamic allocations at once, one through each process, get different addresses', async () => {
  const netw = await makeNetwork(a, 61, '10.86.0');
  const [ra, rb] = await Promise.all([call(a, 'POST', '/networkinterface/', linkBody(computes[0]!, netw.location)), call(b, 'POST', '/networkinterface/', linkBody(computes[1]!, netw.location))]);
  expect([ra.status, rb.status]).toEqual([201, 201]);
  const got = [field(ra.json, 'attributes'), field(rb.json, 'attributes')] as Array<Record<string, unknown>>;
  expect(got.map((x) => x['occi.networkinterface.address']).sort()).toEqual(['10.86.0.2', '10.86.0.3']);
  expect(got.map((x) => [x['occi.networkinterface.interface'], x['occi.networkinterface.gateway'], x['occi.networkinterface.state']])).toEqual([['eth0', '10.86.0.1', 'active'], ['eth0', '10.86.0.1', 'active']]);

  const uids: string[] = [];
  for (const [i, r] of [ra, rb].entries()) {
    const attrs = got[i]!;
    const link = await docAt(pathOf(r.headers));
    uids.push(link.uid);
    // The switch: one access port, tagged 61, up, on the test's bridge.
    expect((await portsOf(link.uid)).map((p) => [p.bridge, p.tag, p.linkState, p.externalIds['occitan-network']])).toEqual([[BRIDGE, 61, 'up', netw.uid]]);
    // The container: eth0 with the reported MAC and the address given by the pool.
    const pid = await pidOfEntity((await docAt(computes[i]!)).uid);
    const eth0 = (await containerInterfaces(pid)).find((x) => x.ifname === 'eth0');
    expect(eth0 && [eth0.address, eth0.addr_info.filter((x) => x.scope === 'global').map((x) => `${x.local}/${x.prefixlen}`)])
      .toEqual([attrs['occi.networkinterface.mac'], [`${String(attrs['occi.networkinterface.address'])}/24`]]);
  }
  expect((await networkPorts(netw.uid)).map((p) => p.entity).sort()).toEqual([...uids].sort());
  // The other process reads what the first made.
  const seen = await call(b, 'GET', pathOf(ra.headers));
  expect([seen.status, field(seen.json, 'attributes', 'occi.networkinterface.address')]).toEqual([200, got[0]!['occi.networkinterface.address']]);
});

test('SIGKILL mid-way through 10 creates, then a restart: no orphan port or veth, every link state matches its port', async () => {
  const netw = await makeNetwork(a, 62, '10.87.0');
  const acknowledged = new Map<string, Record<string, unknown>>();
  let killed = false;
  const sends = Array.from({ length: 10 }, (_, i) =>
    call(i % 2 ? b : a, 'POST', '/networkinterface/', linkBody(computes[i % 2]!, netw.location))
      .then((r) => {
        if (!killed && r.status === 201) acknowledged.set(pathOf(r.headers), field(r.json, 'attributes') as Record<string, unknown>);
      })
      .catch(() => undefined), // the connection dies with the process
  );
  // Some creates have ports on the switch: now, unless all are already acknowledged.
  const end = Date.now() + BOUND_MS;
  let portsAtKill = 0;
  for (;;) {
    portsAtKill = (await networkPorts(netw.uid)).length;
    if ((portsAtKill >= 2 && acknowledged.size >= 2) || acknowledged.size === 10 || Date.now() > end) break;
    await sleep(20);
  }
  const ackAtKill = acknowledged.size;
  const servers = children!.all.filter((c) => c.name === 'a' || c.name === 'b');
  for (const p of servers) p.child.kill('SIGKILL');
  killed = true;
  await Promise.all(servers.map((p) => p.exited));
  await Promise.all(sends);
  process.stdout.write(`ovs-processes: killed with ${portsAtKill} ports, ${ackAtKill} acknowledged\n`);
  expect(portsAtKill).toBeGreaterThanOrEqual(2);
  expect(ackAtKill).toBeGreaterThanOrEqual(2);
  expect(ackAtKill).toBeLessThan(10);

  const again = await serve('a2', { OCCITAN_TIMERS_RECOVERY_GRACE: '1000' });
  // Bounded: the unfinished-work pass removes the creates nobody acknowledged, and nothing else is left.
  const settled = async (): Promise<boolean> => {
    const all = await docs();
    const ready = new Set(all.filter((d) => d.status === 'ready').map((d) => d.uid));
    if (all.some((d) => d.status !== 'ready')) return false;
    if ((await networkPorts(netw.uid)).some((p) => !ready.has(p.entity))) return false;
    return (await markedVeths(INSTANCE)).every((v) => ready.has(v.ifalias!.split(':')[2]!));
  };
  const until = Date.now() + BOUND_MS;
  while (!(await settled())) {
    if (Date.now() > until) break;
    await sleep(250);
  }

  const all = await docs();
  expect(all.filter((d) => d.status !== 'ready').map((d) => [d.location, d.status])).toEqual([]);
  const kept = all.filter((d) => d.kind === INFRA + 'networkinterface' && d.attributes['occi.core.target'] === netw.location);
  const keptUids = new Set(kept.map((d) => d.uid));
  // Every acknowledged create is kept.
  for (const loc of acknowledged.keys()) expect(kept.map((d) => d.location)).toContain(loc);
  // No orphan: every port and marked veth of this instance on this network belongs to a kept link, one port each.
  const ports = await networkPorts(netw.uid);
  expect(ports.map((p) => p.entity).sort()).toEqual([...keptUids].sort());
  const veths = (await markedVeths(INSTANCE)).map((v) => v.ifalias!.split(':')[2]!);
  const allUids = new Set(all.map((d) => d.uid));
  expect(veths.filter((u) => !allUids.has(u))).toEqual([]);
  // Container ends: every non-loopback device in the containers is a kept link's (or part one's).
  for (const c of computes) {
    for (const l of await containerLinks(await pidOfEntity((await docAt(c)).uid))) {
      expect([l.ifname, allUids.has(l.ifalias?.split(':')[2] ?? '')]).toEqual([l.ifname, true]);
    }
  }
  // Every kept link: GET agrees with its port's link state, and the addresses are all different.
  const addresses = new Set<unknown>();
  for (const d of kept) {
    const got = await call(again, 'GET', d.location);
    expect(got.status).toBe(200);
    const [port] = await portsOf(d.uid);
    const state = field(got.json, 'attributes', 'occi.networkinterface.state');
    expect([d.location, port?.tag, state]).toEqual([d.location, 62, port?.linkState === 'up' ? 'active' : 'inactive']);
    expect(state).toBe('active');
    addresses.add(field(got.json, 'attributes', 'occi.networkinterface.address'));
  }
  expect(addresses.size).toBe(kept.length);
  expect(kept.length).toBeGreaterThanOrEqual(ackAtKill);
  process.stdout.write(`ovs-processes: ${kept.length} links kept after the restart\n`);
});
