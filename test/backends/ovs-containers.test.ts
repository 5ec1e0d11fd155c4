/**
 * Containers plugged into VLANs on a real Open vSwitch, checked from outside: `ovs-vsctl` for the ports,
 * `nsenter -t <pid> -n ip` for the containers' side, and pings between the test's own containers on the
 * test's own bridge (no traffic leaves namespaces this test made). Two containers on VLAN 10 and one on
 * VLAN 20 with addresses in the SAME subnet, so only the VLAN keeps them apart.
 */
import { createBackend } from '../../src/backends/ovs';
import type { Backend, BackendEntity, Realised } from '../../src/backends/backend';
import { OvsFixture, IPNETWORKINTERFACE } from './ovs-fixture';
import type { Mutable } from './ovs-fixture';
import type { TestContainer } from './ovs-observer';
import { containerInterfaces, containerRoutes, dockerRef, markedVeths, pidOf, ping, portsOf, runContainer, testBridge } from './ovs-observer';
import { docker } from './docker-observer';

jest.setTimeout(60_000);

const BRIDGE = testBridge();
const fx = new OvsFixture([BRIDGE]);
let backend: Backend;
let other: Backend; // a second occitan process on the same switch and CouchDB
let c1: TestContainer;
let c2: TestContainer;
let c3: TestContainer;

const vlan10 = fx.network({ 'occi.network.vlan': 10, 'occi.network.address': '10.80.0.0/24', 'occi.network.gateway': '10.80.0.1' });
const vlan20 = fx.network({ 'occi.network.vlan': 20, 'occi.network.address': '10.80.0.0/24', 'occi.network.gateway': '10.80.0.1' });
let l1: Mutable<BackendEntity>;
let l2: Mutable<BackendEntity>;
let l3: Mutable<BackendEntity>;
const answers = new Map<string, Realised>();

async function plug(b: Backend, link: Mutable<BackendEntity>): Promise<Realised> {
  const r = await b.create(link);
  link.attributes = { ...link.attributes, ...r.attributes };
  link.ref = r.ref;
  answers.set(link.id, r);
  return r;
}

/** The container's interface as nsenter shows it. */
async function seen(c: TestContainer, name: string): Promise<{ mac: string; cidr: string[]; up: boolean } | undefined> {
  const i = (await containerInterfaces(await pidOf(c.id))).find((x) => x.ifname === name);
  if (!i) return undefined;
  return { mac: i.address, cidr: i.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`), up: i.flags.includes('UP') };
}

/** Pings until a reply comes (bounded): L2 learning and ARP take a moment on a fresh port. */
async function reachable(from: TestContainer, address: string, attempts = 10): Promise<boolean> {
  for (let i = 0; i < attempts; i++) if (await ping(from, address)) return true;
  return false;
}

beforeAll(async () => {
  await fx.setup({ docker: true });
  backend = createBackend('ovs');
  await backend.init(fx.context());
  other = createBackend('ovs');
  await other.init(fx.context());
  [c1, c2, c3] = await Promise.all([runContainer(fx.run), runContainer(fx.run), runContainer(fx.run)]);
  for (const n of [vlan10, vlan20]) n.ref = (await backend.create(n)).ref;
});

afterAll(async () => {
  await backend?.close();
  await other?.close();
  await fx.teardown();
});

describe('two containers on VLAN 10, one on VLAN 20', () => {
  beforeAll(async () => {
    l1 = fx.link(c1, vlan10);
    l2 = fx.link(c2, vlan10);
    l3 = fx.link(c3, vlan20, { 'occi.networkinterface.allocation': 'static', 'occi.networkinterface.address': '10.80.0.99' });
    for (const l of [l1, l2, l3]) await plug(backend, l);
  });

  it('reports eth0, a generated MAC and the addresses of the pool (dynamic) or the one asked for (static)', () => {
    const r = [l1, l2, l3].map((l) => answers.get(l.id)!.attributes);
    expect(r.map((a) => a['occi.networkinterface.interface'])).toEqual(['eth0', 'eth0', 'eth0']);
    expect(r.map((a) => a['occi.networkinterface.address'])).toEqual(['10.80.0.2', '10.80.0.3', '10.80.0.99']);
    expect(r.map((a) => a['occi.networkinterface.state'])).toEqual(['active', 'active', 'active']);
    expect(new Set(r.map((a) => a['occi.networkinterface.mac'])).size).toBe(3);
  });

  it('each port is an access port on the test bridge with the network VLAN and occitan external_ids', async () => {
    for (const [l, net, tag] of [[l1, vlan10, 10], [l2, vlan10, 10], [l3, vlan20, 20]] as const) {
      const ports = await portsOf(l.id);
      expect(ports).toHaveLength(1);
      expect(ports[0]).toMatchObject({
        bridge: BRIDGE,
        tag,
        linkState: 'up',
        name: expect.stringMatching(/^ov[0-9a-f]{11}$/),
        externalIds: { 'occitan-entity': l.id, 'occitan-instance': fx.instance, 'occitan-network': net.id },
      });
    }
  });

  it('inside each container: the reported name, MAC and address, up, default route via the gateway', async () => {
    for (const [c, l, cidr] of [[c1, l1, '10.80.0.2/24'], [c2, l2, '10.80.0.3/24'], [c3, l3, '10.80.0.99/24']] as const) {
      expect(await seen(c, 'eth0')).toEqual({ mac: l.attributes['occi.networkinterface.mac'], cidr: [cidr], up: true });
      expect((await containerRoutes(await pidOf(c.id))).filter((r) => r.dst === 'default')).toEqual([expect.objectContaining({ gateway: '10.80.0.1', dev: 'eth0' })]);
    }
  });

  it('L2 reachability follows the VLANs', async () => {
    expect(await reachable(c1, '10.80.0.3')).toBe(true);
    expect(await reachable(c2, '10.80.0.2')).toBe(true);
    // Same subnet, other VLAN: no reply (bounded: two attempts of one second each).
    expect(await reachable(c1, '10.80.0.99', 2)).toBe(false);
  });
});

describe('dynamic allocation', () => {
  it('two creates at once through two occitan processes get different addresses', async () => {
    const a = fx.link(c1, vlan10);
    const b = fx.link(c2, vlan10);
    const [ra, rb] = await Promise.all([plug(backend, a), plug(other, b)]);
    const addresses = [ra.attributes['occi.networkinterface.address'], rb.attributes['occi.networkinterface.address']];
    expect(new Set(addresses).size).toBe(2);
    for (const x of addresses) expect(['10.80.0.4', '10.80.0.5']).toContain(x);
    expect([ra.attributes['occi.networkinterface.interface'], rb.attributes['occi.networkinterface.interface']]).toEqual(['eth1', 'eth1']);
    expect((await seen(c1, 'eth1'))?.cidr).toEqual([`${String(ra.attributes['occi.networkinterface.address'])}/24`]);
    expect((await seen(c2, 'eth1'))?.cidr).toEqual([`${String(rb.attributes['occi.networkinterface.address'])}/24`]);
    await backend.delete(a);
    await other.delete(b);
    expect(await seen(c1, 'eth1')).toBeUndefined();
    expect(await portsOf(a.id)).toEqual([]);
  });

  it('a deleted interface gives its address back to the pool', async () => {
    const a = fx.link(c3, vlan10);
    expect((await plug(backend, a)).attributes['occi.networkinterface.address']).toBe('10.80.0.4');
    await backend.delete(a);
  });
});

describe('IPv6', () => {
  it('an IPv6 network hands out addresses from its /64 and sets the default route', async () => {
    const v6 = fx.network({ 'occi.network.vlan': 60, 'occi.network.address': 'fd00:80::/64', 'occi.network.gateway': 'fd00:80::1' });
    v6.ref = (await backend.create(v6)).ref;
    const link = fx.link(c3, v6);
    const r = await plug(backend, link);
    expect([r.attributes['occi.networkinterface.interface'], r.attributes['occi.networkinterface.address'], r.attributes['occi.networkinterface.gateway']]).toEqual(['eth1', 'fd00:80::2', 'fd00:80::1']);
    const i = (await containerInterfaces(c3.pid)).find((x) => x.ifname === 'eth1');
    expect(i?.addr_info.filter((a) => a.family === 'inet6' && a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`)).toEqual(['fd00:80::2/64']);
    expect((await portsOf(link.id)).map((p) => p.tag)).toEqual([60]);
    await backend.delete(link);
    await backend.delete(v6);
    expect(await portsOf(v6.id)).toEqual([]);
  });
});

describe('a container restart', () => {
  it('create again plugs a new veth into the new namespace with the same name, MAC and address', async () => {
    const before = answers.get(l1.id)!.attributes;
    const oldPid = c1.pid;
    await docker(['restart', '-t', '1', c1.id]);
    c1.pid = await pidOf(c1.id);
    expect(c1.pid).not.toBe(oldPid);
    expect(await seen(c1, 'eth0')).toBeUndefined(); // a new namespace: nothing plugged yet
    // What the service does after the compute's runtime changed: create on the link, the source's new ref.
    l1.source = { ...l1.source!, ref: dockerRef(c1) };
    const again = await plug(backend, l1);
    for (const k of ['occi.networkinterface.interface', 'occi.networkinterface.mac', 'occi.networkinterface.address', 'occi.networkinterface.gateway']) {
      expect([k, again.attributes[k]]).toEqual([k, before[k]]);
    }
    expect(again.attributes['occi.networkinterface.state']).toBe('active');
    expect(await seen(c1, 'eth0')).toEqual({ mac: before['occi.networkinterface.mac'], cidr: ['10.80.0.2/24'], up: true });
    const ports = await portsOf(l1.id);
    expect(ports.map((p) => [p.tag, p.linkState])).toEqual([[10, 'up']]);
    expect(await reachable(c1, '10.80.0.3')).toBe(true);
  });

  it('retrieve before re-realisation says the container side is gone', async () => {
    await docker(['restart', '-t', '1', c2.id]);
    const r = await backend.retrieve(l2);
    expect(r.attributes['occi.networkinterface.state']).toBe('inactive');
    expect(r.attributes['occi.networkinterface.state.message']).toMatch(/container side is gone/);
    c2.pid = await pidOf(c2.id);
    l2.source = { ...l2.source!, ref: dockerRef(c2) };
    expect((await plug(backend, l2)).attributes['occi.networkinterface.state']).toBe('active');
  });
});

describe('a container that is not running', () => {
  it('gets its interface when it starts (the end waits in the host namespace meanwhile)', async () => {
    const c = await runContainer(fx.run);
    await docker(['stop', '-t', '1', c.id]);
    const link = fx.link(undefined, vlan10, {}, { mixins: [IPNETWORKINTERFACE] });
    link.source = { id: 'compute-stopped', kind: 'http://schemas.ogf.org/occi/infrastructure#compute', ref: { node: 'local', containerId: c.id } };
    const parked = await plug(backend, link);
    expect(parked.attributes['occi.networkinterface.state']).toBe('inactive');
    expect(parked.attributes['occi.networkinterface.interface']).toBeUndefined();
    expect(await portsOf(link.id)).toHaveLength(1);
    await docker(['start', c.id]);
    c.pid = await pidOf(c.id);
    link.source = { ...link.source, ref: dockerRef(c) };
    const plugged = await plug(backend, link);
    expect(plugged.attributes['occi.networkinterface.state']).toBe('active');
    expect(plugged.attributes['occi.networkinterface.interface']).toBe('eth0');
    expect(await seen(c, 'eth0')).toEqual({ mac: parked.attributes['occi.networkinterface.mac'], cidr: [`${String(plugged.attributes['occi.networkinterface.address'])}/24`], up: true });
    await backend.delete(link);
    expect(await markedVeths(fx.instance).then((v) => v.filter((x) => x.ifalias?.endsWith(link.id)))).toEqual([]);
  });
});

describe('changing the network', () => {
  it('a new VLAN retags the network port and every interface port on it, in one go', async () => {
    const r = await backend.update(vlan10, { attributes: { 'occi.network.vlan': 30 }, mixinsAdded: [], mixinsRemoved: [] });
    expect(r.attributes['occi.network.vlan']).toBe(30);
    vlan10.attributes = { ...vlan10.attributes, 'occi.network.vlan': 30 };
    vlan10.ref = r.ref;
    for (const id of [vlan10.id, l1.id, l2.id]) expect((await portsOf(id)).map((p) => p.tag)).toEqual([30]);
    expect((await portsOf(l3.id)).map((p) => p.tag)).toEqual([20]);
    expect(await reachable(c1, '10.80.0.3')).toBe(true);
  });

  it('moving it to another bridge while interfaces are plugged in is refused and changes nothing', async () => {
    const b2 = testBridge();
    const wide = createBackend('ovs');
    await wide.init(fx.context(fx.options({ bridges: [BRIDGE, b2] })));
    fx.bridges.push(b2);
    const moved = { ...vlan10, attributes: { ...vlan10.attributes, 'occitan.ovs.bridge': b2 } };
    await expect(wide.update(moved, { attributes: { 'occitan.ovs.bridge': b2 }, mixinsAdded: [], mixinsRemoved: [] })).rejects.toMatchObject({ status: 409 });
    expect((await portsOf(vlan10.id)).map((p) => [p.bridge, p.tag])).toEqual([[BRIDGE, 30]]);
    await wide.close();
  });
});

describe('deleting an interface', () => {
  it('removes the port, both veth ends and the container interface; again is fine', async () => {
    await backend.delete(l3);
    expect(await portsOf(l3.id)).toEqual([]);
    expect(await seen(c3, 'eth0')).toBeUndefined();
    expect((await markedVeths(fx.instance)).filter((v) => v.ifalias?.endsWith(l3.id))).toEqual([]);
    await backend.delete(l3);
    await expect(backend.retrieve(l3)).rejects.toMatchObject({ status: 404 });
  });
});
