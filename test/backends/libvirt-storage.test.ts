/**
 * What only the libvirt provider promises for storage and storagelinks, checked with virsh: disks
 * hot-plugged into a running domain on the virtio-scsi bus (live and persistent XML), a volume grown
 * while a running domain holds it (QEMU sees the new size), shrinking refused, offline detaching from
 * every domain and refusing attachment, online attaching again, only occitan's own volumes attached.
 */
import type { Backend, BackendEntity } from '../../src/backends/backend';
import { createBackend } from '../../src/backends/libvirt';
import { INFRA } from '../../src/model/types';
import { PROVIDER, S, libvirtFixture } from './libvirt-fixture';
import { disksIn, domainOf, dumpxml, eventually, virsh, volumeCapacity, volumeOf, volumePath } from './libvirt-observer';

const fx = libvirtFixture();
const MIB = 1024 * 1024;
let backend: Backend;

// The ends and links, known to the "service" (reconciliation, and online re-attaching) before init.
const vm = fx.compute();
const other = fx.compute();
const disk1 = fx.storage(16 / 1024);
const disk2 = fx.storage(16 / 1024);
const disk3 = fx.storage(16 / 1024);
let link1: BackendEntity;
let link2: BackendEntity;

/** Creates through the backend and keeps the ref on the entity, as the service would. */
async function make(e: BackendEntity): Promise<BackendEntity> {
  const r = await backend.create(e);
  Object.assign(e, { ref: r.ref, attributes: { ...e.attributes, ...r.attributes } });
  return e;
}

async function status(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { status?: number }).status ?? -1;
  }
}

const liveDisks = async (e: BackendEntity) => disksIn((await dumpxml(domainOf(e.id), false)) ?? '');
const configDisks = async (e: BackendEntity) => disksIn((await dumpxml(domainOf(e.id), true)) ?? '');

beforeAll(async () => {
  await fx.setup();
  link1 = fx.link(vm, disk1);
  link2 = fx.link(vm, disk2, { 'occi.storagelink.deviceid': 'sdd' });
  backend = createBackend(PROVIDER);
  await backend.init(fx.context());
  for (const e of [vm, other, disk1, disk2, disk3]) await make(e);
});
afterAll(async () => {
  await backend?.close();
  await fx.teardown();
});

describe('storagelinks as disks', () => {
  it('hot-plugs a volume into a running domain as sda on the virtio-scsi bus, live and persistent', async () => {
    const r = await make(link1);
    expect(r.attributes).toEqual(expect.objectContaining({ 'occi.storagelink.deviceid': 'sda', 'occi.storagelink.state': 'active' }));
    const path = await volumePath(fx.pool, volumeOf(disk1.id, fx.instance));
    const want = { target: 'sda', bus: 'scsi', source: path, alias: `ua-occitan-${link1.id}` };
    expect(await liveDisks(vm)).toEqual([want]);
    expect(await configDisks(vm)).toEqual([want]);
    // QEMU has the device (the guest would see /dev/sda).
    expect(await virsh(['domblklist', domainOf(vm.id)])).toMatch(new RegExp(`^\\s*sda\\s+${path}\\s*$`, 'm'));
  });

  it('takes the device id a client names', async () => {
    await make(link2);
    expect((await liveDisks(vm)).map((d) => d.target)).toEqual(['sda', 'sdd']);
  });

  it('refuses a device id in use, a volume already attached, a target that is not its volume, a source not its domain', async () => {
    expect(await status(backend.create(fx.link(vm, disk3, { 'occi.storagelink.deviceid': 'sda' })))).toBe(409);
    expect(await status(backend.create(fx.link(other, disk1)))).toBe(409);
    expect(await status(backend.create(fx.link(vm, disk3, { 'occi.storagelink.deviceid': 'vda' })))).toBe(400);
    const notMine = fx.entity(INFRA + 'storage', { 'occi.storage.size': 1 }); // never realised here (another provider's)
    expect(await status(backend.create(fx.link(vm, notMine)))).toBe(400);
    const notVm = fx.compute();
    expect(await status(backend.create(fx.link(notVm, disk3)))).toBe(400);
    expect((await configDisks(vm)).map((d) => d.target)).toEqual(['sda', 'sdd']);
    expect(await configDisks(other)).toEqual([]);
  });
});

describe('volumes', () => {
  it('grows while a running domain holds it: QEMU sees the new size', async () => {
    const grown = { ...disk1, attributes: { ...disk1.attributes, 'occi.storage.size': 32 / 1024 } };
    await backend.update(grown, { attributes: { 'occi.storage.size': 32 / 1024 }, mixinsAdded: [], mixinsRemoved: [] });
    expect(await volumeCapacity(fx.pool, volumeOf(disk1.id, fx.instance))).toBe(32 * MIB);
    expect(await virsh(['domblkinfo', domainOf(vm.id), 'sda'])).toMatch(new RegExp(`^Capacity:\\s+${32 * MIB}$`, 'm'));
  });

  it('grows when detached too, and never shrinks (400, size unchanged)', async () => {
    await backend.update({ ...disk3, attributes: { ...disk3.attributes, 'occi.storage.size': 0.03125 } }, { attributes: { 'occi.storage.size': 0.03125 }, mixinsAdded: [], mixinsRemoved: [] });
    expect(await volumeCapacity(fx.pool, volumeOf(disk3.id, fx.instance))).toBe(32 * MIB);
    expect(await status(backend.update({ ...disk3, attributes: { ...disk3.attributes, 'occi.storage.size': 0.01 } }, { attributes: { 'occi.storage.size': 0.01 }, mixinsAdded: [], mixinsRemoved: [] }))).toBe(400);
    expect(await volumeCapacity(fx.pool, volumeOf(disk3.id, fx.instance))).toBe(32 * MIB);
  });

  it('offline detaches it from its domain and refuses attachment; online attaches its link again', async () => {
    const off = await backend.action(disk1, S + 'offline', {});
    expect(off.attributes['occi.storage.state']).toBe('offline');
    expect(await fx.offlineMark(volumeOf(disk1.id, fx.instance))).toBe(true);
    expect((await eventually(() => liveDisks(vm), (d) => d.length === 1)).map((d) => d.target)).toEqual(['sdd']);
    expect((await configDisks(vm)).map((d) => d.target)).toEqual(['sdd']);
    expect(await status(backend.create(fx.link(other, disk1)))).toBe(409);
    expect(await configDisks(other)).toEqual([]);
    expect((await backend.retrieve(link1)).attributes['occi.storagelink.state']).toBe('inactive');

    const on = await backend.action(disk1, S + 'online', {});
    expect(on.attributes['occi.storage.state']).toBe('online');
    expect(await fx.offlineMark(volumeOf(disk1.id, fx.instance))).toBe(false);
    const path = await volumePath(fx.pool, volumeOf(disk1.id, fx.instance));
    expect((await liveDisks(vm)).find((d) => d.alias === `ua-occitan-${link1.id}`)).toEqual({ target: 'sda', bus: 'scsi', source: path, alias: `ua-occitan-${link1.id}` });
    expect((await backend.retrieve(link1)).attributes['occi.storagelink.state']).toBe('active');
  });

  it('deleting a link detaches exactly its disk, live and persistent', async () => {
    await backend.delete(link2);
    expect((await eventually(() => liveDisks(vm), (d) => d.length === 1)).map((d) => d.target)).toEqual(['sda']);
    expect((await configDisks(vm)).map((d) => d.target)).toEqual(['sda']);
    expect(await status(backend.retrieve(link2))).toBe(404);
  });

  it('deleting a volume that is still attached detaches it first', async () => {
    await backend.delete(disk1);
    expect(await volumeCapacity(fx.pool, volumeOf(disk1.id, fx.instance))).toBeUndefined();
    expect(await eventually(() => liveDisks(vm), (d) => d.length === 0)).toEqual([]);
    expect(await configDisks(vm)).toEqual([]);
  });

  it('a disk of a stopped domain goes to its definition only, and is live after start', async () => {
    await backend.action(other, 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop', { method: 'poweroff' });
    const l = await make(fx.link(other, disk3));
    expect(l.attributes['occi.storagelink.deviceid']).toBe('sda');
    expect((await configDisks(other)).map((d) => d.target)).toEqual(['sda']);
    await backend.action(other, 'http://schemas.ogf.org/occi/infrastructure/compute/action#start', {});
    expect((await liveDisks(other)).map((d) => [d.target, d.bus])).toEqual([['sda', 'scsi']]);
  });
});
