/**
 * The libvirt provider on the host's real libvirtd (qemu:///system; scripts/services.sh start libvirt):
 * the shared conformance suite for compute (a domain), storage (a volume) and storagelink (a disk).
 * Truth comes from `virsh domstate/dominfo/dumpxml/vol-info` run here through execFile, and the offline
 * mark from CouchDB read directly. Each run has an instance and a pool of its own, tiny VMs (32-64 MiB,
 * no disk to boot, so graceful stops take the short timeout path), and removes all it made.
 */
import { randomUUID } from 'node:crypto';
import type { Backend, BackendEntity } from '../../src/backends/backend';
import { createBackend } from '../../src/backends/libvirt';
import type { Attributes } from '../../src/model/types';
import { INFRA } from '../../src/model/types';
import { conformanceSuite } from './conformance';
import type { Observer } from './conformance';
import { A, CONSOLE, GIB, PROVIDER, S, libvirtFixture } from './libvirt-fixture';
import { disksIn, domainOf, dumpxml, observedComputeState, virshMaybe, volumeCapacity, volumeOf } from './libvirt-observer';

const fx = libvirtFixture();
const { instance: INSTANCE, pool: POOL, run: RUN, known } = fx;
/** A backend of the fixtures' own, for what a link needs (its compute and storage). */
let helper: Backend | undefined;

/** The OCCI view of each kind, from virsh (and the offline mark from CouchDB). */
const observer: Observer = {
  exists: async (e) => (await observer.count!(e)) > 0,
  count: async (e) => {
    if (e.kind === INFRA + 'compute') return (await virshMaybe(['domuuid', domainOf(e.id)])) === undefined ? 0 : 1;
    if (e.kind === INFRA + 'storage') return (await volumeCapacity(POOL, volumeOf(e.id, INSTANCE))) === undefined ? 0 : 1;
    const xml = e.source ? await dumpxml(domainOf(e.source.id)) : undefined;
    return xml ? disksIn(xml).filter((d) => d.alias === `ua-occitan-${e.id}`).length : 0;
  },
  identity: async (e) => {
    if (e.kind === INFRA + 'compute') return (await virshMaybe(['domuuid', domainOf(e.id)]))?.trim();
    if (e.kind === INFRA + 'storage') return (await virshMaybe(['vol-key', '--pool', POOL, volumeOf(e.id, INSTANCE)]))?.trim();
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
    const xml = e.source ? await dumpxml(domainOf(e.source.id)) : undefined;
    const disk = xml ? disksIn(xml).find((d) => d.alias === `ua-occitan-${e.id}`) : undefined;
    return disk ? { 'occi.storagelink.deviceid': disk.target } : undefined;
  },
};

// A storagelink's ends, made through a helper backend before the link case runs.
const linkCompute = fx.compute({ 'occi.compute.hostname': 'disk-host' });
const linkStorage = fx.storage(0.015625);
const link = fx.link(linkCompute, linkStorage);

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
        helper = createBackend(PROVIDER);
        await helper.init(fx.context());
        const c = await helper.create(linkCompute);
        const s = await helper.create(linkStorage);
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
  ],
});
