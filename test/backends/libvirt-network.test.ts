/**
 * VM network interfaces on the real libvirtd and Open vSwitch (scripts/services.sh start libvirt, start
 * ovs): a networkinterface from a libvirt compute to a network of the ovs provider is an openvswitch
 * interface of the domain. Hot-plug into a running domain, definition-only on a stopped one (libvirt plugs
 * it at start), delete of an interface of a running domain (gone from the definition, OVS port gone at
 * once, live link down), refusals before anything changes, start-up reconciliation (no orphaned ports),
 * and the same through OCCI with inline links on compute create (all or none). Truth from `virsh
 * dumpxml` (live and --inactive) and `ovs-vsctl`; every domain, volume, port and bridge made here goes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Backend, BackendEntity } from '../../src/backends/backend';
import { createBackend, interfaceIdFor, tapName, vmMacFor } from '../../src/backends/libvirt';
import { startHarness } from '../support/harness';
import type { Harness } from '../support/harness';
import { A, NETWORKINTERFACE, PROVIDER, interfacesIn, libvirtFixture, ovsPort } from './libvirt-fixture';
import type { ObservedInterface } from './libvirt-fixture';
import { domainOf, domainsOfInstance, domstate, dumpxml, eventually, virsh, virshMaybe } from './libvirt-observer';
import { portsOnBridge, vsctl } from './ovs-observer';

jest.setTimeout(120_000);

const fx = libvirtFixture();
let backend: Backend;
let ovs: Backend;
const vm = fx.compute({ 'occi.compute.hostname': 'nic-vm' });
const net10 = fx.network(10);
const net20 = fx.network(20);

/** The link's interface in the domain's definition (default) or in the running domain. */
async function nicIn(e: BackendEntity, live = false): Promise<ObservedInterface | undefined> {
  const xml = await dumpxml(domainOf(e.source!.id), !live);
  return xml ? interfacesIn(xml).find((x) => x.alias === `ua-occitan-${e.id}`) : undefined;
}

/** Expects `p` to reject with an OcciError of `status`; returns its message. */
async function rejection(p: Promise<unknown>, status: number): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect([(e as { status?: number }).status, (e as Error).message]).toEqual([status, expect.any(String)]);
    return (e as Error).message;
  }
  throw new Error(`expected a ${status}, but the call succeeded`);
}

function withRefs(e: BackendEntity, source: BackendEntity, network: BackendEntity): BackendEntity {
  return Object.assign(e, { source: { ...e.source!, ref: source.ref }, target: { ...e.target!, ref: network.ref } });
}

async function realise(b: Backend, e: BackendEntity): Promise<BackendEntity> {
  const r = await b.create(e);
  return Object.assign(e, { attributes: { ...e.attributes, ...r.attributes }, ref: r.ref });
}

beforeAll(async () => {
  await fx.setup();
  ovs = await fx.ovs();
  backend = createBackend(PROVIDER);
  await backend.init(fx.context());
  await realise(backend, vm);
  await realise(ovs, net10);
  await realise(ovs, net20);
});

afterAll(async () => {
  await backend?.close();
  await fx.teardown();
});

describe('VM interfaces on libvirt and Open vSwitch', () => {
  const nic1 = fx.nic(vm, net10);
  const nic2 = fx.nic(vm, net20, { 'occi.networkinterface.mac': '52:54:00:0A:0B:0C' });

  it('hot-plugs into a running domain: virsh (live and definition) and OVS show it on the VLAN', async () => {
    withRefs(nic1, vm, net10);
    const r = await backend.create(nic1);
    const dev = tapName(nic1.id);
    expect(r.attributes).toEqual({
      'occi.networkinterface.interface': dev,
      'occi.networkinterface.mac': vmMacFor(nic1.id),
      'occi.networkinterface.state': 'active',
      'occi.networkinterface.state.message': expect.stringContaining(`port ${dev} up on bridge ${fx.bridge}, VLAN 10`),
    });
    Object.assign(nic1, { ref: r.ref });
    const expected = { type: 'bridge', mac: vmMacFor(nic1.id), bridge: fx.bridge, vlan: 10, virtualport: 'openvswitch', interfaceId: interfaceIdFor(nic1.id), dev, model: 'virtio', link: 'up' };
    expect(await nicIn(nic1)).toEqual(expect.objectContaining(expected));
    expect(await nicIn(nic1, true)).toEqual(expect.objectContaining(expected));
    const uuid = (await virsh(['domuuid', domainOf(vm.id)])).trim();
    expect(await ovsPort(dev)).toEqual({
      bridge: fx.bridge,
      tag: 10,
      ifaceIds: expect.objectContaining({ 'iface-id': interfaceIdFor(nic1.id), 'attached-mac': vmMacFor(nic1.id), 'vm-id': uuid }),
    });
  });

  it('on a stopped domain it goes into the definition; libvirt plugs it (VLAN 20) when the domain starts', async () => {
    expect((await backend.action(vm, A + 'stop', {})).attributes['occi.compute.state']).toBe('inactive');
    withRefs(nic2, vm, net20);
    const r = await backend.create(nic2);
    Object.assign(nic2, { ref: r.ref, attributes: { ...nic2.attributes, ...r.attributes } });
    const dev = tapName(nic2.id);
    expect(r.attributes['occi.networkinterface.state']).toBe('inactive');
    expect(r.attributes['occi.networkinterface.mac']).toBe('52:54:00:0a:0b:0c');
    expect(await nicIn(nic2)).toEqual(expect.objectContaining({ vlan: 20, bridge: fx.bridge, virtualport: 'openvswitch', mac: '52:54:00:0a:0b:0c' }));
    expect(await ovsPort(dev)).toBeUndefined();
    expect((await backend.action(vm, A + 'start', {})).attributes['occi.compute.state']).toBe('active');
    expect(await eventually(() => ovsPort(dev), (p) => p !== undefined)).toEqual(expect.objectContaining({ bridge: fx.bridge, tag: 20 }));
    expect(await ovsPort(tapName(nic1.id))).toEqual(expect.objectContaining({ tag: 10 }));
    expect((await backend.retrieve(nic2)).attributes['occi.networkinterface.state']).toBe('active');
  });

  it('refuses what it cannot honour before anything changes', async () => {
    const before = interfacesIn((await dumpxml(domainOf(vm.id)))!).length;
    const ports = await portsOnBridge(fx.bridge);
    const bad = (attributes: Record<string, unknown>, network: BackendEntity = net10) => withRefs(fx.nic(vm, network, attributes as never), vm, network);
    expect(await rejection(backend.create(bad({ 'occi.networkinterface.mac': '01:00:5e:00:00:01' })), 400)).toContain('multicast');
    expect(await rejection(backend.create(bad({ 'occi.networkinterface.interface': 'eth7' })), 400)).toContain('chosen by occitan');
    expect(await rejection(backend.create(bad({ 'occi.networkinterface.mac': '52:54:00:0a:0b:0c' })), 409)).toContain('already used');
    const notOvs = fx.nic(vm, fx.network(30));
    expect(await rejection(backend.create(withRefs(notOvs, vm, { ...net10, ref: undefined } as BackendEntity)), 400)).toContain('realised by the ovs provider');
    const goneNetwork = fx.nic(vm, net10);
    withRefs(goneNetwork, vm, { ...net10, ref: { ...(net10.ref as object), port: 'on00000000000' } } as BackendEntity);
    expect(await rejection(backend.create(goneNetwork), 409)).toContain('not realised on Open vSwitch');
    const stranger = fx.compute();
    expect(await rejection(backend.create(withRefs(fx.nic(stranger, net10), stranger, net10)), 400)).toContain('not a virtual machine of this libvirt provider');
    expect(await rejection(backend.update(nic2, { attributes: { 'occi.networkinterface.mac': '52:54:00:0a:0b:0d' }, mixinsAdded: [], mixinsRemoved: [] }), 409)).toContain('cannot change');
    expect((await backend.update(nic2, { attributes: { 'occi.networkinterface.mac': '52:54:00:0A:0B:0C' }, mixinsAdded: [], mixinsRemoved: [] })).attributes['occi.networkinterface.state']).toBe('active');
    expect(interfacesIn((await dumpxml(domainOf(vm.id)))!)).toHaveLength(before);
    expect((await portsOnBridge(fx.bridge)).sort()).toEqual(ports.sort());
  });

  it('delete of an interface of a running domain: gone from the definition, OVS port gone at once, live link down', async () => {
    const dev = tapName(nic1.id);
    await backend.delete(nic1);
    expect(await nicIn(nic1)).toBeUndefined();
    expect(await ovsPort(dev)).toBeUndefined(); // at once: no polling
    expect(await nicIn(nic1, true)).toEqual(expect.objectContaining({ dev, link: 'down' }));
    await rejection(backend.retrieve(nic1), 404);
    await backend.delete(nic1);
    // The live device goes at the next stop; the other interface comes back with the domain.
    await backend.action(vm, A + 'stop', { method: 'poweroff' });
    await backend.action(vm, A + 'start', {});
    expect(await nicIn(nic1, true)).toBeUndefined();
    expect(await eventually(() => ovsPort(tapName(nic2.id)), (p) => p?.tag === 20)).toEqual(expect.objectContaining({ tag: 20 }));
  });
});

describe('start-up reconciliation leaves no orphaned OVS port', () => {
  it('unplugs an interface whose link is gone, removes the ports of a removed domain and stale VM ports, and nothing else', async () => {
    // An interface whose networkinterface the service no longer has.
    const orphanNic = withRefs(fx.nic(vm, net10), vm, net10);
    await realise(backend, orphanNic);
    // A domain whose compute is gone, with an interface.
    const doomed = await realise(backend, fx.compute({ 'occi.compute.hostname': 'doomed' }));
    const doomedNic = await realise(backend, withRefs(fx.nic(doomed, net20), doomed, net20));
    expect(await ovsPort(tapName(doomedNic.id))).toBeDefined();
    // A port as libvirt makes them, of a domain that no longer exists (libvirtd died before it could clean up).
    const stale = `ol${randomBytes(6).toString('hex').slice(0, 11)}`;
    await vsctl(['add-port', fx.bridge, stale, 'tag=10', '--', 'set', 'Interface', stale, `external_ids:iface-id=${randomUUID()}`, `external_ids:vm-id=${randomUUID()}`]).catch(() => undefined);
    // A port that is not occitan's VM tap: left alone.
    const foreign = `occf${randomBytes(3).toString('hex')}`;
    await vsctl(['add-port', fx.bridge, foreign, '--', 'set', 'Interface', foreign, 'type=internal', `external_ids:vm-id=${randomUUID()}`, `external_ids:iface-id=${randomUUID()}`]);
    try {
      expect(await ovsPort(stale)).toBeDefined();
      for (const gone of [orphanNic, doomed, doomedNic]) fx.known.splice(fx.known.indexOf(gone), 1);

      const restarted = createBackend(PROVIDER);
      await restarted.init(fx.context());
      await restarted.close();

      expect(await nicIn(orphanNic)).toBeUndefined();
      expect(await nicIn(orphanNic, true)).toEqual(expect.objectContaining({ link: 'down' }));
      expect(await ovsPort(tapName(orphanNic.id))).toBeUndefined();
      expect(await domstate(domainOf(doomed.id))).toBeUndefined();
      expect(await ovsPort(tapName(doomedNic.id))).toBeUndefined();
      expect(await ovsPort(stale)).toBeUndefined();
      expect(await ovsPort(foreign)).toBeDefined();
      // What the service still has is untouched.
      expect(await ovsPort(tapName(nic2Of()))).toEqual(expect.objectContaining({ tag: 20 }));
    } finally {
      await vsctl(['--if-exists', 'del-port', stale]).catch(() => undefined);
      await vsctl(['--if-exists', 'del-port', foreign]).catch(() => undefined);
    }
  });
});

/** The id of the interface the first describe left plugged (VLAN 20). */
function nic2Of(): string {
  return fx.known.filter((e) => e.kind === NETWORKINTERFACE && (e.attributes['occi.networkinterface.mac'] as string | undefined)?.toLowerCase() === '52:54:00:0a:0b:0c')[0]!.id;
}

describe('through OCCI: inline interfaces on compute create, all or none', () => {
  const hx = libvirtFixture();
  const J = 'application/occi+json';
  const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
  let h: Harness;

  function backendsFile(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-backends-'));
    const file = path.join(dir, 'backends.json');
    // The shipped rows for networks and interfaces; libvirt serves the links of its own computes.
    fs.writeFileSync(file, JSON.stringify({
      providers: { libvirt: { backend: 'libvirt', options: hx.options }, ovs: { backend: 'ovs', options: { bridges: [hx.bridge], instance: hx.instance } }, dummy: { backend: 'dummy' } },
      kinds: {
        [INFRA + 'compute']: { providers: ['libvirt'] },
        [INFRA + 'storage']: { providers: ['libvirt'] },
        [INFRA + 'storagelink']: { providers: ['libvirt'] },
        [INFRA + 'network']: { providers: ['ovs', 'dummy'] },
        [INFRA + 'networkinterface']: { providers: ['ovs', 'dummy', 'libvirt'] },
      },
    }));
    return file;
  }

  beforeAll(async () => {
    // libvirtd and OVS were checked by the file's beforeAll (fx); hx needs no store of its own (the harness has one).
    h = await startHarness({ backendsFile: backendsFile(), timers: { leaseSweep: 60_000, libvirtStopTimeout: 1500, libvirtReapGrace: 3_600_000 } });
  });
  afterAll(async () => {
    await h?.close();
    await hx.teardown();
  });

  const put = (p: string, body: unknown) => h.http.put(p).set('Content-Type', J).set('Accept', J).send(JSON.stringify(body));
  const nicLink = (attributes: Record<string, unknown> = {}) => ({ kind: INFRA + 'networkinterface', target: { location: '/network/vlan10', kind: INFRA + 'network' }, attributes });
  const computeBody = (links: unknown[]) => ({ kind: INFRA + 'compute', attributes: { 'occi.compute.memory': 0.03125, 'occi.compute.hostname': 'ns.example.com' }, links });

  it('a compute with an inline interface to a VLAN 10 network: libvirt realises it; virsh and OVS show it', async () => {
    const net = await put('/network/vlan10', { kind: INFRA + 'network', attributes: { 'occi.network.vlan': 10 } });
    expect(net.status).toBe(201);
    expect(net.body.attributes['occitan.provider']).toBe('ovs');
    const res = await put('/compute/ns.example.com', computeBody([nicLink()]));
    expect(res.status).toBe(201);
    expect(res.body.links).toEqual([expect.objectContaining({
      kind: INFRA + 'networkinterface',
      attributes: expect.objectContaining({
        'occitan.provider': 'libvirt',
        'occi.networkinterface.state': 'active',
        'occi.networkinterface.interface': expect.stringMatching(/^ol[0-9a-f]{11}$/),
        'occi.networkinterface.mac': expect.stringMatching(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/),
      }),
    })]);
    const { 'occi.networkinterface.interface': dev, 'occi.networkinterface.mac': mac } = res.body.links[0].attributes as Record<string, string>;
    const [domain] = await domainsOfInstance(hx.instance);
    for (const live of [false, true]) {
      expect(interfacesIn((await dumpxml(domain!, !live))!)).toEqual([expect.objectContaining({ dev, mac, vlan: 10, bridge: hx.bridge, virtualport: 'openvswitch', model: 'virtio' })]);
    }
    expect(await ovsPort(dev!)).toEqual(expect.objectContaining({ bridge: hx.bridge, tag: 10 }));
  });

  it('a compute whose second inline interface cannot plug is not made at all', async () => {
    const domains = await domainsOfInstance(hx.instance);
    const ports = await portsOnBridge(hx.bridge);
    const res = await put('/compute/doomed', computeBody([nicLink({ 'occi.networkinterface.mac': '52:54:00:00:00:aa' }), nicLink({ 'occi.networkinterface.mac': '52:54:00:00:00:aa' })]));
    expect(res.status).toBe(409);
    expect(res.body.error).toContain('already used');
    expect((await h.http.get('/compute/doomed').set('Accept', J)).status).toBe(404);
    expect(await eventually(() => domainsOfInstance(hx.instance), (d) => d.length === domains.length)).toEqual(domains);
    expect((await portsOnBridge(hx.bridge)).sort()).toEqual(ports.sort());
  });

  it('deleting the compute unplugs its interface first: the port goes with it', async () => {
    const dev = (await h.http.get('/compute/ns.example.com').set('Accept', J)).body.links[0].attributes['occi.networkinterface.interface'] as string;
    const [domain] = await domainsOfInstance(hx.instance);
    expect((await h.http.delete('/compute/ns.example.com')).status).toBe(200);
    expect(await virshMaybe(['domuuid', domain!])).toBeUndefined();
    expect(await ovsPort(dev)).toBeUndefined();
    expect((await h.http.get('/network/vlan10').set('Accept', J)).status).toBe(200);
  });
});
