/**
 * The libvirt provider on the host's real libvirtd (qemu:///system; scripts/services.sh start libvirt):
 * the shared conformance suite for compute (a domain), storage (a volume), storagelink (a disk) and
 * networkinterface (an openvswitch interface of a domain, on a network of the ovs provider; scripts/
 * services.sh start ovs). Truth comes from `virsh domstate/dominfo/dumpxml/vol-info` and `ovs-vsctl` run
 * here through execFile, and the offline mark from CouchDB read directly. Each run has an instance and a pool of its own, tiny VMs (32-64 MiB,
 * no disk to boot, so graceful stops take the short timeout path), and removes all it made.
 */
import { randomUUID } from 'node:crypto';
import type { Backend, BackendEntity } from '../../src/backends/backend';
import { createBackend } from '../../src/backends/libvirt';
import type { Attributes } from '../../src/model/types';
import { INFRA } from '../../src/model/types';
import { conformanceSuite } from './conformance';
import type { Observer } from './conformance';
import { A, CONSOLE, GIB, PROVIDER, S, interfacesIn, libvirtFixture, ovsPort } from './libvirt-fixture';
import { disksIn, domainOf, dumpxml, observedComputeState, virshMaybe, volumeCapacity, volumeOf } from './libvirt-observer';

const fx = libvirtFixture();
const { instance: INSTANCE, pool: POOL, run: RUN, known } = fx;
/** A backend of the fixtures' own, for what a link needs (its compute and storage). */
let helper: Backend | undefined;
async function theHelper(): Promise<Backend> {
  if (!helper) {
    const b = createBackend(PROVIDER);
    await b.init(fx.context());
    helper = b;
  }
  return helper;
}

const NIC = INFRA + 'networkinterface';
/** A VM interface of a link, from the domain's definition (`live`: the running domain's XML). */
async function nicOf(e: BackendEntity, live = false) {
  const xml = e.source ? await dumpxml(domainOf(e.source.id), !live) : undefined;
  return xml ? interfacesIn(xml).filter((x) => x.alias === `ua-occitan-${e.id}`) : [];
}

/** The OCCI view of each kind, from virsh and ovs-vsctl (and the offline mark from CouchDB). */
const observer: Observer = {
  // A VM interface exists while its definition has it or its port is still on the switch.
  exists: async (e) => (await observer.count!(e)) > 0 || (e.kind === NIC && typeof (e.ref as { dev?: unknown } | undefined)?.dev === 'string' && (await ovsPort((e.ref as { dev: string }).dev)) !== undefined),
  count: async (e) => {
    if (e.kind === INFRA + 'compute') return (await virshMaybe(['domuuid', domainOf(e.id)])) === undefined ? 0 : 1;
    if (e.kind === INFRA + 'storage') return (await volumeCapacity(POOL, volumeOf(e.id, INSTANCE))) === undefined ? 0 : 1;
    if (e.kind === NIC) return (await nicOf(e)).length;
    const xml = e.source ? await dumpxml(domainOf(e.source.id)) : undefined;
    return xml ? disksIn(xml).filter((d) => d.alias === `ua-occitan-${e.id}`).length : 0;
  },
  identity: async (e) => {
    if (e.kind === INFRA + 'compute') return (await virshMaybe(['domuuid', domainOf(e.id)]))?.trim();
    if (e.kind === INFRA + 'storage') return (await virshMaybe(['vol-key', '--pool', POOL, volumeOf(e.id, INSTANCE)]))?.trim();
    if (e.kind === NIC) return (await nicOf(e)).map((x) => `${x.dev}/${x.mac}/${x.interfaceId}`)[0];
    const xml = e.source ? await dumpxml(domainOf(e.source.id)) : undefined;
    return xml ? disksIn(xml).find((d) => d.alias === `ua-occitan-${e.id}`)?.target : undefined;
  },
  state: async (e) => {
    if (e.kind === INFRA + 'compute') return observedComputeState(domainOf(e.id));
    if (e.kind === INFRA + 'storage') {
      const name = volumeOf(e.id, INSTANCE);
      if ((await volumeCapacity(POOL, name)) === undefined) return undefined;
      return (await fx.offlineMark(name)) ? 'offline' : 'online';
    }
    if (e.kind === NIC) {
      // active: in the definition, live with its link up, and its port on the switch with the VLAN of the definition.
      const [config] = await nicOf(e);
      if (!config) return undefined;
      const [live] = (await observedComputeState(domainOf(e.source!.id))) === 'active' ? await nicOf(e, true) : [];
      const port = live ? await ovsPort(live.dev) : undefined;
      const plugged = port !== undefined && port.tag === config.vlan && port.bridge === config.bridge && port.ifaceIds['iface-id'] === config.interfaceId;
      return live?.link === 'up' && plugged ? 'active' : 'inactive';
    }
    return (await observer.count!(e)) === 1 ? 'active' : 'inactive';
  },
  attributes: async (e) => {
    if (e.kind === INFRA + 'compute') {
      const xml = await dumpxml(domainOf(e.id));
      if (!xml) return undefined;
      const kib = Number(/<memory unit='KiB'>(\d+)<\/memory>/.exec(xml)?.[1]);
      const out: Attributes = {
        'occi.compute.memory': kib / 1024 / 1024,
        'occi.compute.cores': Number(/<vcpu[^>]*>(\d+)<\/vcpu>/.exec(xml)?.[1]),
        'occi.compute.architecture': /arch='x86_64'/.test(xml) ? 'x64' : 'x86',
      };
      const host = /<occitan:hostname>([^<]*)<\/occitan:hostname>/.exec(xml)?.[1];
      if (host) out['occi.compute.hostname'] = host;
      return out;
    }
    if (e.kind === INFRA + 'storage') {
      const bytes = await volumeCapacity(POOL, volumeOf(e.id, INSTANCE));
      return bytes === undefined ? undefined : { 'occi.storage.size': bytes / GIB };
    }
    if (e.kind === NIC) {
      const [x] = await nicOf(e);
      return x ? { 'occi.networkinterface.interface': x.dev, 'occi.networkinterface.mac': x.mac } : undefined;
    }
    const xml = e.source ? await dumpxml(domainOf(e.source.id)) : undefined;
    const disk = xml ? disksIn(xml).find((d) => d.alias === `ua-occitan-${e.id}`) : undefined;
    return disk ? { 'occi.storagelink.deviceid': disk.target } : undefined;
  },
};

// A storagelink's ends, made through a helper backend before the link case runs.
const linkCompute = fx.compute({ 'occi.compute.hostname': 'disk-host' });
const linkStorage = fx.storage(0.015625);
const link = fx.link(linkCompute, linkStorage);
// A VM interface's ends: a running compute, and a VLAN 10 network of the ovs provider on the run's bridge.
const nicCompute = fx.compute({ 'occi.compute.hostname': 'nic-host' });
const nicNetwork = fx.network(10);
const NIC_MAC = '52:54:00:0c:c1:7a';
const nic = fx.nic(nicCompute, nicNetwork, { 'occi.networkinterface.mac': NIC_MAC });

conformanceSuite({
  name: 'libvirt',
  setup: () => fx.setup(),
  teardown: async () => {
    await helper?.close();
    await fx.teardown();
  },
  settleMs: 15_000,
  makeBackend: () => createBackend(PROVIDER),
  makeContext: () => fx.context(),
  observer,
  injectFault: (e) => {
    const id = randomUUID();
    const base = { ...e, id, location: e.location.replace(/[^/]+$/, id), attributes: { ...e.attributes, 'occi.core.id': `urn:uuid:${id}` } };
    let faulty: BackendEntity;
    // 8 TiB of memory: libvirt defines the domain, QEMU cannot allocate it at start; the domain must go.
    if (e.kind === INFRA + 'compute') faulty = { ...base, attributes: { ...base.attributes, 'occi.compute.memory': 8192 } };
    // A disk on a target the compute already uses: refused after the ends were checked; nothing attached.
    else if (e.kind === INFRA + 'storagelink') faulty = { ...base, attributes: { ...base.attributes, 'occi.storagelink.deviceid': 'sda' } };
    // The MAC of the compute's other interface: refused after the ends and the switch were checked; nothing plugged.
    else if (e.kind === NIC) faulty = { ...base, attributes: { ...base.attributes, 'occi.networkinterface.mac': NIC_MAC } };
    else return undefined;
    known.push(faulty);
    return faulty;
  },
  entities: [
    {
      label: 'compute as a domain',
      entity: fx.compute({ 'occi.compute.hostname': 'vm1.example.com' }, [CONSOLE]),
      stateAttribute: 'occi.compute.state',
      initialState: 'active',
      checkCreated: (r) => {
        expect(r.ref).toEqual({ domain: expect.stringMatching(/^occitan-[0-9a-f-]{36}$/), uuid: expect.stringMatching(/^[0-9a-f-]{36}$/) });
        expect(r.attributes['occi.compute.state.message']).toBe('running (booted)');
        expect(r.attributes['occitan.libvirt.console']).toMatch(/^\/dev\/pts\/\d+$/);
      },
      updates: [
        { change: { attributes: { 'occi.compute.memory': 0.0625, 'occi.compute.cores': 2 } }, expect: { 'occi.compute.memory': 0.0625, 'occi.compute.cores': 2 } },
        { change: { attributes: { 'occi.compute.hostname': 'vm2.example.com' } }, expect: { 'occi.compute.hostname': 'vm2.example.com', 'occi.compute.memory': 0.0625 } },
      ],
      actions: [
        { action: A + 'stop', state: 'inactive' },
        { action: A + 'stop', state: 'inactive' },
        { action: A + 'suspend', rejects: 409 },
        { action: A + 'restart', rejects: 409 },
        { action: A + 'start', state: 'active' },
        { action: A + 'suspend', state: 'suspended' },
        { action: A + 'suspend', state: 'suspended' },
        { action: A + 'restart', rejects: 409 },
        { action: A + 'start', state: 'active' },
        { action: A + 'restart', state: 'active' },
        { action: A + 'restart', params: { method: 'warm' }, state: 'active' },
        { action: A + 'restart', params: { method: 'cold' }, state: 'active' },
        { action: A + 'suspend', params: { method: 'hibernate' }, state: 'suspended' },
        { action: A + 'start', state: 'active' },
        { action: A + 'stop', params: { method: 'acpioff' }, state: 'inactive' },
        { action: A + 'start', state: 'active' },
        { action: A + 'suspend', state: 'suspended' },
        { action: A + 'stop', params: { method: 'poweroff' }, state: 'inactive' },
        { action: A + 'start', state: 'active' },
        { action: A + 'suspend', params: { method: 'hibernate' }, state: 'suspended' },
        { action: A + 'stop', state: 'inactive' },
        { action: A + 'stop', params: { method: 'yank' }, rejects: 400 },
        { action: A + 'save', rejects: 501 },
        { action: A + 'start', state: 'active' },
      ],
    },
    {
      label: 'storage as a volume',
      entity: fx.storage(0.015625),
      stateAttribute: 'occi.storage.state',
      initialState: 'online',
      checkCreated: (r) => {
        expect(r.ref).toEqual({ pool: POOL, volume: expect.stringMatching(new RegExp(`^occitan-${INSTANCE}--[0-9a-f-]{36}\\.qcow2$`)), path: expect.stringMatching(new RegExp(`^/var/lib/occitan-test/libvirt/${RUN}/`)) });
      },
      updates: [{ change: { attributes: { 'occi.storage.size': 0.03125 } }, expect: { 'occi.storage.size': 0.03125 } }],
      actions: [
        { action: S + 'offline', state: 'offline' },
        { action: S + 'offline', state: 'offline' },
        { action: S + 'online', state: 'online' },
        { action: S + 'resize', params: { size: 0.046875 }, state: 'online', attributes: { 'occi.storage.size': 0.046875 } },
        { action: S + 'backup', rejects: 501 },
        { action: S + 'snapshot', rejects: 501 },
      ],
    },
    {
      label: 'storagelink as a disk',
      entity: link,
      stateAttribute: 'occi.storagelink.state',
      initialState: 'active',
      before: async () => {
        const c = await (await theHelper()).create(linkCompute);
        const s = await (await theHelper()).create(linkStorage);
        Object.assign(link, { source: { ...link.source!, ref: c.ref }, target: { ...link.target!, ref: s.ref } });
      },
      checkCreated: (r) => {
        expect(r.attributes['occi.storagelink.deviceid']).toBe('sda');
        expect(r.ref).toEqual({ domain: domainOf(linkCompute.id), volume: volumeOf(linkStorage.id, INSTANCE), alias: `ua-occitan-${link.id}`, target: 'sda' });
      },
      after: async () => {
        await helper?.delete(linkCompute);
        await helper?.delete(linkStorage);
      },
    },
    {
      label: 'networkinterface as an openvswitch interface of a VM',
      entity: nic,
      stateAttribute: 'occi.networkinterface.state',
      initialState: 'active',
      before: async () => {
        const ovs = await fx.ovs();
        const c = await (await theHelper()).create(nicCompute);
        const n = await ovs.create(nicNetwork);
        Object.assign(nic, { source: { ...nic.source!, ref: c.ref }, target: { ...nic.target!, ref: n.ref } });
      },
      checkCreated: (r) => {
        const dev = r.attributes['occi.networkinterface.interface'] as string;
        expect(dev).toMatch(/^ol[0-9a-f]{11}$/);
        expect(r.attributes['occi.networkinterface.mac']).toBe(NIC_MAC);
        expect(r.ref).toEqual({ domain: domainOf(nicCompute.id), alias: `ua-occitan-${nic.id}`, dev, mac: NIC_MAC, bridge: fx.bridge, vlan: 10, interfaceId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/) });
      },
      after: async () => {
        await helper?.delete(nicCompute);
        await (await fx.ovs()).delete(nicNetwork);
      },
    },
  ],
});
