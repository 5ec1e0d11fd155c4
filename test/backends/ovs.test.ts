/**
 * The ovs provider on a real Open vSwitch (scripts/services.sh start ovs) and occitan's private dockerd
 * (scripts/services.sh start docker): the shared conformance suite for network and networkinterface.
 * Truth comes from `ovs-vsctl` (port, tag, external_ids, admin and link state) and from `nsenter -t <pid>
 * -n ip` inside the container, never from the backend's own retrieve. The run makes its own bridges
 * (occt-…) and its own container, and removes them at the end.
 */
import { createBackend } from '../../src/backends/ovs';
import type { Backend, BackendEntity } from '../../src/backends/backend';
import type { Attributes } from '../../src/model/types';
import { randomUUID } from 'node:crypto';
import { conformanceSuite } from './conformance';
import type { Observer } from './conformance';
import { NETWORK_ACTION, OvsFixture } from './ovs-fixture';
import type { TestContainer } from './ovs-observer';
import { containerInterfaces, dockerRef, markedVeths, pidOf, portsOf, runContainer, testBridge } from './ovs-observer';

const B1 = testBridge();
const B2 = testBridge();
const fx = new OvsFixture([B1, B2]);

let container: TestContainer;
/** A second provider instance (another "process") that makes the link's network. */
let helper: Backend | undefined;

// --- the network case ------------------------------------------------------------------------------

const network = fx.network({ 'occi.network.vlan': 10, 'occitan.ovs.bridge': B1, 'occi.network.address': '10.77.0.0/24', 'occi.network.gateway': '10.77.0.1' });

// --- the network interface case: a container plugged into a network of its own -----------------------

const linkNetwork = fx.network({ 'occi.network.vlan': 20, 'occi.network.address': '10.78.0.0/24', 'occi.network.gateway': '10.78.0.1' });
const link = fx.link(undefined, { id: linkNetwork.id });

async function observeNetwork(e: BackendEntity): Promise<Attributes | undefined> {
  const p = (await portsOf(e.id))[0];
  return p ? { 'occi.network.vlan': p.tag ?? 0, 'occitan.ovs.bridge': p.bridge } : undefined;
}

/** The container side: the interface named by the entity's reported name, read with nsenter. */
async function observeInterface(e: BackendEntity): Promise<Attributes | undefined> {
  const p = (await portsOf(e.id))[0];
  const name = e.attributes['occi.networkinterface.interface'];
  if (!p || typeof name !== 'string') return undefined;
  const pid = await pidOf(container.id);
  const iface = (await containerInterfaces(pid)).find((i) => i.ifname === name);
  if (!iface) return undefined;
  const v4 = iface.addr_info.find((a) => a.family === 'inet');
  return {
    'occi.networkinterface.interface': iface.ifname,
    'occi.networkinterface.mac': iface.address,
    ...(v4 ? { 'occi.networkinterface.address': v4.local } : {}),
  };
}

const isNetwork = (e: BackendEntity): boolean => e.kind.endsWith('#network');

const observer: Observer = {
  exists: async (e) => (await portsOf(e.id)).length > 0,
  // A port, or a veth marked for the entity without one (what a failed create could leave).
  count: async (e) => {
    const ports = await portsOf(e.id);
    const veths = (await markedVeths(fx.instance)).filter((l) => l.ifalias === `occitan:${fx.instance}:${e.id}`);
    return ports.length + (ports.length === 0 ? veths.length : 0);
  },
  identity: async (e) => (await portsOf(e.id))[0]?.uuid,
  state: async (e) => {
    const p = (await portsOf(e.id))[0];
    if (!p) return undefined;
    if (isNetwork(e)) return p.adminState === 'up' ? 'active' : 'inactive';
    return p.linkState === 'up' ? 'active' : 'inactive';
  },
  attributes: async (e) => (isNetwork(e) ? observeNetwork(e) : observeInterface(e)),
};

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

conformanceSuite({
  name: 'ovs',
  settleMs: 10_000,
  setup: async () => {
    await fx.setup({ docker: true });
    container = await runContainer(fx.run);
    helper = createBackend('ovs');
    await helper.init(fx.context());
  },
  teardown: async () => {
    await helper?.close();
    await fx.teardown();
  },
  makeBackend: () => createBackend('ovs'),
  makeContext: () => fx.context(),
  observer,
  injectFault: (e) => {
    if (isNetwork(e)) return undefined;
    // The name the first interface already holds in the container: the rename fails after the veth and the
    // port exist, and both must go.
    const id = randomUUID();
    return fx.remember({ ...e, id, location: `/networkinterface/${id}`, attributes: { ...e.attributes, 'occi.core.id': `urn:uuid:${id}`, 'occi.networkinterface.interface': 'eth0' } });
  },
  entities: [
    {
      label: 'network as a VLAN on a bridge',
      entity: network,
      stateAttribute: 'occi.network.state',
      initialState: 'active',
      checkCreated: (r) => {
        expect(r.attributes['occi.network.vlan']).toBe(10);
        expect(r.attributes['occitan.ovs.bridge']).toBe(B1);
        expect(r.ref).toEqual({ bridge: B1, vlan: 10, port: expect.stringMatching(/^on[0-9a-f]{11}$/) });
      },
      updates: [
        { change: { attributes: { 'occi.network.vlan': 11 } }, expect: { 'occi.network.vlan': 11, 'occitan.ovs.bridge': B1 } },
        { change: { attributes: { 'occitan.ovs.bridge': B2 } }, expect: { 'occi.network.vlan': 11, 'occitan.ovs.bridge': B2 } },
      ],
      actions: [
        { action: NETWORK_ACTION + 'down', state: 'inactive' },
        { action: NETWORK_ACTION + 'down', state: 'inactive' },
        { action: NETWORK_ACTION + 'up', state: 'active' },
        { action: NETWORK_ACTION + 'up', state: 'active' },
      ],
    },
    {
      label: 'networkinterface from a container',
      entity: link,
      stateAttribute: 'occi.networkinterface.state',
      initialState: 'active',
      before: async () => {
        const made = await helper!.create(linkNetwork);
        link.source = { id: 'compute-1', kind: 'http://schemas.ogf.org/occi/infrastructure#compute', ref: dockerRef(container) };
        link.target = { id: linkNetwork.id, kind: linkNetwork.kind, ref: made.ref };
      },
      after: async () => {
        await helper!.delete(linkNetwork);
      },
      checkCreated: (r) => {
        expect(r.attributes['occi.networkinterface.interface']).toBe('eth0');
        const mac = r.attributes['occi.networkinterface.mac'] as string;
        expect(mac).toMatch(MAC);
        expect(parseInt(mac.slice(0, 2), 16) & 0x03).toBe(0x02); // locally administered, unicast
        expect(r.attributes['occi.networkinterface.address']).toBe('10.78.0.2'); // .1 is the gateway
        expect(r.attributes['occi.networkinterface.gateway']).toBe('10.78.0.1');
        expect(r.ref).toMatchObject({ vlan: 20, port: expect.stringMatching(/^ov[0-9a-f]{11}$/), interface: 'eth0' });
      },
      updates: [
        { change: { attributes: { 'occi.networkinterface.mac': '02:00:5e:00:53:01' } }, expect: { 'occi.networkinterface.mac': '02:00:5e:00:53:01' } },
        {
          change: { attributes: { 'occi.networkinterface.allocation': 'static', 'occi.networkinterface.address': '10.78.0.50' } },
          expect: { 'occi.networkinterface.address': '10.78.0.50', 'occi.networkinterface.interface': 'eth0' },
        },
      ],
    },
  ],
});
