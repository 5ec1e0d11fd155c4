/**
 * The ovs provider's rules on a real Open vSwitch: validation before the switch (a bad value is a 400
 * and leaves nothing), one tenant per (bridge, VLAN), VLAN allocation, the bridges it may create, and
 * start-up reconciliation that removes only this instance's orphans. Checked with `ovs-vsctl` and `ip`.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { createBackend, networkPortName } from '../../src/backends/ovs';
import type { Backend, BackendEntity } from '../../src/backends/backend';
import type { Attributes } from '../../src/model/types';
import { NETWORK_ACTION, OvsFixture, rejection } from './ovs-fixture';
import type { Mutable } from './ovs-fixture';
import type { TestContainer } from './ovs-observer';
import { bridgeInfo, markedVeths, portNamed, portsOf, portsOnBridge, runContainer, testBridge, vsctl } from './ovs-observer';

const ip = promisify(execFile);
jest.setTimeout(60_000);

const B1 = testBridge();
const B2 = testBridge();
const FOREIGN = testBridge('occf'); // made by the test, not allowed to the provider
const fx = new OvsFixture([B1, B2, FOREIGN]);
const OPTIONS = () => fx.options({ bridges: [B1, B2], vlans: { min: 3000, max: 3001 } });
let backend: Backend;
let container: TestContainer;
let net: Mutable<BackendEntity>;

async function nothingFor(e: BackendEntity): Promise<void> {
  expect(await portsOf(e.id)).toEqual([]);
  expect((await markedVeths(fx.instance)).filter((v) => v.ifalias?.endsWith(e.id))).toEqual([]);
}

beforeAll(async () => {
  await fx.setup({ docker: true });
  await vsctl(['add-br', FOREIGN, '--', 'set', 'bridge', FOREIGN, 'datapath_type=netdev']);
  backend = createBackend('ovs');
  await backend.init(fx.context(OPTIONS()));
  container = await runContainer(fx.run);
  net = fx.network({ 'occi.network.vlan': 100, 'occi.network.address': '10.90.0.0/24', 'occi.network.gateway': '10.90.0.1' });
  net.ref = (await backend.create(net)).ref;
});

afterAll(async () => {
  await backend?.close();
  await fx.teardown();
});

describe('start-up', () => {
  it('an unreachable switch is a 503 naming it', async () => {
    const b = createBackend('ovs');
    const msg = await rejection(b.init(fx.context(fx.options({ db: 'unix:/nonexistent/occitan-db.sock' }), { ovsCommandTimeout: 2000 })), 503);
    expect(msg).toMatch(/Open vSwitch does not answer/);
  });

  it('options without bridges are refused', async () => {
    await expect(createBackend('ovs').init(fx.context({ instance: fx.instance }))).rejects.toThrow(/options\.bridges/);
  });
});

describe('bridges', () => {
  it('an allowed bridge that is missing is created with the netdev datapath and occitan external_ids', async () => {
    const info = await bridgeInfo(B1);
    expect(info).toEqual({ datapathType: 'netdev', externalIds: { 'occitan-instance': fx.instance, 'occitan-entity': net.id } });
    expect(await portsOnBridge(B1)).toEqual([networkPortName(net.id)]);
    expect((await portsOf(net.id)).map((p) => [p.bridge, p.tag, p.type, p.adminState])).toEqual([[B1, 100, 'internal', 'up']]);
  });

  it('a bridge the configuration does not allow is a 400, even when it exists', async () => {
    const n = fx.network({ 'occi.network.vlan': 5, 'occitan.ovs.bridge': FOREIGN });
    expect(await rejection(backend.create(n), 400)).toContain(`allowed: ${B1}, ${B2}`);
    await nothingFor(n);
    expect(await portsOnBridge(FOREIGN)).toEqual([]);
  });
});

describe('validation before the switch: 400 and nothing made', () => {
  const networks: Array<[string, Attributes]> = [
    ['VLAN above 4095', { 'occi.network.vlan': 4096 }],
    ['negative VLAN', { 'occi.network.vlan': -1 }],
    ['fractional VLAN', { 'occi.network.vlan': 1.5 }],
    ['bridge name too long', { 'occitan.ovs.bridge': 'b'.repeat(16) }],
    ['bridge name with a slash', { 'occitan.ovs.bridge': 'br/0' }],
    ['CIDR prefix too long', { 'occi.network.address': '10.0.0.0/33' }],
    ['CIDR without a full address', { 'occi.network.address': '10.0.0/24' }],
    ['gateway outside the network', { 'occi.network.address': '10.0.0.0/24', 'occi.network.gateway': '10.0.1.1' }],
    ['gateway without a network', { 'occi.network.gateway': '10.0.0.1' }],
  ];
  for (const [label, attributes] of networks) {
    it(`network: ${label}`, async () => {
      const n = fx.network({ 'occi.network.vlan': 7, ...attributes });
      await rejection(backend.create(n), 400);
      await nothingFor(n);
      // The VLAN stays free: a good network takes it afterwards.
    });
  }

  const links: Array<[string, Attributes]> = [
    ['multicast MAC', { 'occi.networkinterface.mac': '01:00:5e:00:00:01' }],
    ['malformed MAC', { 'occi.networkinterface.mac': '02:00:5e:00:00' }],
    ['interface name over 15 characters', { 'occi.networkinterface.interface': 'eth-much-too-long' }],
    ['interface name with a space', { 'occi.networkinterface.interface': 'eth 0' }],
    ['static allocation without an address', { 'occi.networkinterface.allocation': 'static' }],
    ['static address outside the network', { 'occi.networkinterface.allocation': 'static', 'occi.networkinterface.address': '10.91.0.5' }],
    ['static address that is the gateway', { 'occi.networkinterface.allocation': 'static', 'occi.networkinterface.address': '10.90.0.1' }],
    ['address that is not an address', { 'occi.networkinterface.allocation': 'static', 'occi.networkinterface.address': '10.90.0.300' }],
  ];
  for (const [label, attributes] of links) {
    it(`interface: ${label}`, async () => {
      const l = fx.link(container, net, attributes);
      await rejection(backend.create(l), 400);
      await nothingFor(l);
    });
  }

  it('interface: a source that is not a container, a target that is not an ovs network', async () => {
    const noContainer = fx.link(container, net);
    noContainer.source = { id: 'vm-1', kind: 'http://schemas.ogf.org/occi/infrastructure#compute', ref: { domain: 'x' } };
    expect(await rejection(backend.create(noContainer), 400)).toMatch(/plugs containers/);
    const dummyTarget = fx.link(container, { id: 'n-dummy', ref: { record: 1 } });
    expect(await rejection(backend.create(dummyTarget), 400)).toMatch(/network realised by the ovs provider/);
    await nothingFor(noContainer);
    await nothingFor(dummyTarget);
  });

  it('interface: a static address another interface holds is a 409, and the first keeps it', async () => {
    const first = fx.link(container, net, { 'occi.networkinterface.allocation': 'static', 'occi.networkinterface.address': '10.90.0.20' });
    const made = await backend.create(first);
    expect(made.attributes['occi.networkinterface.address']).toBe('10.90.0.20');
    const second = fx.link(container, net, { 'occi.networkinterface.allocation': 'static', 'occi.networkinterface.address': '10.90.0.20' });
    expect(await rejection(backend.create(second), 409)).toMatch(/used by another interface/);
    await nothingFor(second);
    expect((await backend.retrieve({ ...first, ref: made.ref })).attributes['occi.networkinterface.address']).toBe('10.90.0.20');
    await backend.delete(first);
  });
});

describe('one tenant per (bridge, VLAN)', () => {
  it('another tenant gets a 409 that does not say whose it is; the same tenant is told which network', async () => {
    const theirs = fx.network({ 'occi.network.vlan': 100 }, { tenant: 'tenant-b' });
    const msg = await rejection(backend.create(theirs), 409);
    expect(msg).toMatch(/VLAN 100 on bridge .* is taken/);
    expect(msg).not.toContain('tenant-a');
    expect(msg).not.toContain(net.id);
    await nothingFor(theirs);
    const mine = fx.network({ 'occi.network.vlan': 100 });
    expect(await rejection(backend.create(mine), 409)).toContain(net.location);
    await nothingFor(mine);
  });

  it('the same VLAN on another bridge is another network', async () => {
    const elsewhere = fx.network({ 'occi.network.vlan': 100, 'occitan.ovs.bridge': B2 }, { tenant: 'tenant-b' });
    const r = await backend.create(elsewhere);
    expect((await portsOf(elsewhere.id)).map((p) => [p.bridge, p.tag])).toEqual([[B2, 100]]);
    await backend.delete({ ...elsewhere, ref: r.ref });
  });

  it('once the network is deleted, another tenant may take its VLAN', async () => {
    const first = fx.network({ 'occi.network.vlan': 200 });
    await backend.create(first);
    await backend.delete(first);
    const second = fx.network({ 'occi.network.vlan': 200 }, { tenant: 'tenant-b' });
    expect((await backend.create(second)).attributes['occi.network.vlan']).toBe(200);
    await backend.delete(second);
  });

  it('without occi.network.vlan the lowest free VLAN of the range is taken, until none is left', async () => {
    const a = fx.network({});
    const b = fx.network({});
    const c = fx.network({});
    expect((await backend.create(a)).attributes['occi.network.vlan']).toBe(3000);
    expect((await backend.create(b)).attributes['occi.network.vlan']).toBe(3001);
    expect(await rejection(backend.create(c), 409)).toMatch(/no VLAN left/);
    await nothingFor(c);
    expect((await portsOf(b.id)).map((p) => p.tag)).toEqual([3001]);
    await backend.delete(a);
    await backend.delete(b);
  });
});

describe('start-up reconciliation', () => {
  it('removes this instance\'s orphans, restores admin states, reports vanished ports, and touches nothing else', async () => {
    // Orphans: a network and an interface whose entities the service no longer has, and a lone marked veth.
    const orphanNet = fx.network({ 'occi.network.vlan': 300 });
    const orphanRef = (await backend.create(orphanNet)).ref;
    const orphanLink = fx.link(container, { id: orphanNet.id, ref: orphanRef }, {}, { mixins: [] });
    await backend.create(orphanLink);
    fx.known.delete(orphanNet.id);
    fx.known.delete(orphanLink.id);
    const lone = `oz${randomUUID().slice(0, 8)}`;
    await ip('ip', ['link', 'add', 'name', lone, 'type', 'veth', 'peer', 'name', `${lone}p`]);
    await ip('ip', ['link', 'set', 'dev', lone, 'alias', `occitan:${fx.instance}:${randomUUID()}`]);
    // Not occitan's: a libvirt-style port (external_ids on its interface), another instance's port and veth.
    await vsctl(['add-port', B1, 'vnet-occt', '--', 'set', 'interface', 'vnet-occt', 'type=internal', 'external_ids:iface-id=vm-1', 'external_ids:attached-mac=52:54:00:00:00:01']);
    await vsctl(['add-port', B1, 'other-occt', 'tag=300', '--', 'set', 'interface', 'other-occt', 'type=internal', '--', 'set', 'port', 'other-occt', 'external_ids:occitan-instance=someone-else', `external_ids:occitan-entity=${orphanNet.id}`]);
    const foreignVeth = `oy${randomUUID().slice(0, 8)}`;
    await ip('ip', ['link', 'add', 'name', foreignVeth, 'type', 'veth', 'peer', 'name', `${foreignVeth}p`]);
    await ip('ip', ['link', 'set', 'dev', foreignVeth, 'alias', `occitan:someone-else:${randomUUID()}`]);
    // A kept network asked down, whose port came back up (as after a vswitchd restart).
    const downNet = fx.network({ 'occi.network.vlan': 301 });
    downNet.ref = (await backend.create(downNet)).ref;
    await backend.action(downNet, NETWORK_ACTION + 'down', {});
    await ip('ip', ['link', 'set', 'dev', networkPortName(downNet.id), 'up']);
    // A kept network whose port was removed behind occitan's back.
    const vanished = fx.network({ 'occi.network.vlan': 302 });
    vanished.ref = (await backend.create(vanished)).ref;
    await vsctl(['del-port', networkPortName(vanished.id)]);

    try {
      const ctx = fx.context(OPTIONS());
      const restarted = createBackend('ovs');
      await restarted.init(ctx);
      await restarted.close();

      expect(await portsOf(orphanNet.id)).toEqual([expect.objectContaining({ name: 'other-occt' })]); // only the other instance's
      expect(await portsOf(orphanLink.id)).toEqual([]);
      expect((await markedVeths(fx.instance)).filter((v) => v.ifalias?.endsWith(orphanLink.id) || v.ifname === lone)).toEqual([]);
      expect(await portNamed('vnet-occt')).toMatchObject({ bridge: B1 });
      expect((await markedVeths('someone-else')).map((v) => v.ifname)).toContain(foreignVeth);
      expect((await portsOf(downNet.id)).map((p) => p.adminState)).toEqual(['down']);
      expect(ctx.reports).toEqual([{ id: vanished.id, realised: { attributes: { 'occi.network.state': 'error', 'occi.network.state.message': expect.stringMatching(/gone from Open vSwitch/) } } }]);
      expect((await portsOf(net.id)).map((p) => p.adminState)).toEqual(['up']); // kept, untouched
    } finally {
      await vsctl(['--if-exists', 'del-port', 'vnet-occt', '--', '--if-exists', 'del-port', 'other-occt']);
      await ip('ip', ['link', 'del', 'dev', foreignVeth]).catch(() => undefined);
      await ip('ip', ['link', 'del', 'dev', lone]).catch(() => undefined);
    }
  });
});
