/**
 * A crash in the middle of creates: a process (ovs-crash-child.ts) starts 10 interface creates at once on
 * two containers and is SIGKILLed once some creates are acknowledged (their ports exist) and before all are.
 * Then, as the service would after a restart: the acknowledged interfaces are kept and must be whole and
 * truthful; the others (documents left `creating`) are deleted through the provider and must leave no
 * port, no veth, no container interface and no lease behind. Checked with ovs-vsctl, ip and nsenter.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { BackendEntity } from '../../src/backends/backend';
import { createBackend } from '../../src/backends/ovs';
import { OvsFixture } from './ovs-fixture';
import type { Mutable } from './ovs-fixture';
import type { TestContainer } from './ovs-observer';
import { containerInterfaces, markedVeths, portsOf, runContainer, testBridge, vsctl } from './ovs-observer';

jest.setTimeout(90_000);

const BRIDGE = testBridge();
const fx = new OvsFixture([BRIDGE]);
const ROOT = path.resolve(__dirname, '..', '..');
let containers: TestContainer[];
let network: Mutable<BackendEntity>;
let links: Array<Mutable<BackendEntity>>;

const instancePorts = async (): Promise<string[]> =>
  (await vsctl(['--format=csv', '--no-headings', '--columns=name', 'find', 'Port', `external_ids:occitan-instance=${fx.instance}`, `external_ids:occitan-network="${network.id}"`]))
    .split('\n').map((l) => l.trim()).filter(Boolean);

beforeAll(async () => {
  await fx.setup({ docker: true });
  const b = createBackend('ovs');
  await b.init(fx.context());
  network = fx.network({ 'occi.network.vlan': 50, 'occi.network.address': '10.95.0.0/24', 'occi.network.gateway': '10.95.0.1' });
  network.ref = (await b.create(network)).ref;
  await b.close();
  containers = await Promise.all([runContainer(fx.run), runContainer(fx.run)]);
  links = Array.from({ length: 10 }, (_, i) => fx.link(containers[i % 2]!, network));
});

afterAll(async () => {
  await fx.teardown();
});

/** Runs the child and SIGKILLs it once three creates are acknowledged; resolves to those it acknowledged. */
function crashMidway(): Promise<Map<string, Record<string, unknown>>> {
  const input = { url: fx.url, db: fx.dbName, options: fx.options(), known: [...fx.known.values()], create: links };
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(__dirname, 'ovs-crash-child.ts')], {
    cwd: ROOT,
    env: { ...process.env, OVS_CRASH_INPUT: JSON.stringify(input), TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acknowledged = new Map<string, Record<string, unknown>>();
  let out = '';
  let err = '';
  let killed = false;
  return new Promise((resolve, reject) => {
    const bound = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child never reached the kill point\n${out}\n${err}`));
    }, 60_000);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const m of out.matchAll(/^created (\S+) (.*)$/gm)) if (!killed) acknowledged.set(m[1]!, JSON.parse(m[2]!) as Record<string, unknown>);
      // Some acknowledged (their ports exist), the rest still in flight: now.
      if (!killed && acknowledged.size >= 3) killed = child.kill('SIGKILL');
    });
    child.once('exit', (code, signal) => {
      clearTimeout(bound);
      killed = true;
      if (signal === 'SIGKILL') resolve(acknowledged);
      else reject(new Error(`the child exited (${code}) before it was killed\n${out}\n${err}`));
    });
  });
}

test('after a SIGKILL mid-create: kept interfaces are whole, the others leave nothing behind', async () => {
  const acknowledged = await crashMidway();
  expect(acknowledged.size).toBeLessThan(10);
  expect((await instancePorts()).length).toBeGreaterThan(0);

  // The restart: init reconciles (every entity is still the service's, so nothing is reaped yet).
  const ctx = fx.context();
  const b = createBackend('ovs');
  await b.init(ctx);
  for (const l of links) if (acknowledged.has(l.id)) expect(await portsOf(l.id)).toHaveLength(1);

  // Unacknowledged documents are left `creating`: the service deletes them through the provider.
  for (const l of links.filter((x) => !acknowledged.has(x.id))) await b.delete(l);

  // Kept: exactly one port each, tagged, up; the container interface has the reported name, MAC and address.
  const addresses = new Set<unknown>();
  for (const l of links.filter((x) => acknowledged.has(x.id))) {
    const a = acknowledged.get(l.id)!;
    const ports = await portsOf(l.id);
    expect(ports.map((p) => [p.tag, p.linkState])).toEqual([[50, 'up']]);
    const c = containers[links.indexOf(l) % 2]!;
    const iface = (await containerInterfaces(c.pid)).find((i) => i.ifname === a['occi.networkinterface.interface']);
    expect(iface && [iface.address, iface.addr_info.filter((x) => x.scope === 'global').map((x) => `${x.local}/${x.prefixlen}`)]).toEqual([
      a['occi.networkinterface.mac'],
      [`${String(a['occi.networkinterface.address'])}/24`],
    ]);
    const r = await b.retrieve({ ...l, attributes: { ...l.attributes, ...(a as Record<string, never>) } });
    expect(r.attributes['occi.networkinterface.state']).toBe('active');
    addresses.add(a['occi.networkinterface.address']);
  }
  expect(addresses.size).toBe(acknowledged.size);

  // Nothing else: no other port on the network, no other marked veth, no other container interface, no lease.
  expect((await instancePorts()).length).toBe(acknowledged.size);
  const kept = new Set([...acknowledged.keys()].map((id) => `occitan:${fx.instance}:${id}`));
  expect((await markedVeths(fx.instance)).filter((v) => !kept.has(v.ifalias!))).toEqual([]);
  const names = new Set([...acknowledged.values()].map((a) => a['occi.networkinterface.interface']));
  for (const c of containers) {
    const extra = (await containerInterfaces(c.pid)).filter((i) => i.ifname !== 'lo' && !names.has(i.ifname));
    expect(extra.map((i) => i.ifname)).toEqual([]);
  }
  const pool = await ctx.state.get<{ leases: Record<string, string> }>(`pool:${network.id}`);
  expect(Object.values(pool!.value.leases).sort()).toEqual([...acknowledged.keys()].sort());
  await b.close();
});
