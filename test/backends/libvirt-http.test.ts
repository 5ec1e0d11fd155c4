/**
 * The DataCentred staging agent's compute flow as OCCI, through the whole occitan (harness, real CouchDB
 * protocol store) on the real libvirtd: probe 404 → storage + compute `ns.example.com` with 512 MiB, a
 * console and an inline storagelink → 201 → probe 200 → create-only again 412 / POST with the id 409;
 * virsh shows the domain, its virtio-scsi `sda` on the volume, the host name in its metadata. A compute
 * whose inline link fails leaves no domain behind (all or none). Network interfaces: libvirt-network.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHarness } from '../support/harness';
import type { Harness } from '../support/harness';
import { CONSOLE, libvirtFixture } from './libvirt-fixture';
import { disksIn, domainsOfInstance, domstate, dumpxml, eventually, virsh, volumeCapacity, volumePath } from './libvirt-observer';

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const J = 'application/occi+json';
const fx = libvirtFixture();
let h: Harness;

function backendsFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-backends-'));
  const file = path.join(dir, 'backends.json');
  const kinds: Record<string, { providers: string[] }> = {};
  for (const k of ['compute', 'storage', 'storagelink']) kinds[INFRA + k] = { providers: ['libvirt'] };
  for (const k of ['network', 'networkinterface']) kinds[INFRA + k] = { providers: ['dummy'] };
  // Not optional: a test that needs libvirt can never pass on dummy.
  fs.writeFileSync(file, JSON.stringify({ providers: { libvirt: { backend: 'libvirt', options: fx.options }, dummy: { backend: 'dummy' } }, kinds }));
  return file;
}

beforeAll(async () => {
  await fx.setup();
  h = await startHarness({ backendsFile: backendsFile(), timers: { leaseSweep: 5000, libvirtStopTimeout: 1500, libvirtReapGrace: 60000 } });
});
afterAll(async () => {
  await h?.close();
  await fx.teardown();
});

const put = (p: string, body: unknown) => h.http.put(p).set('Content-Type', J).set('Accept', J).send(JSON.stringify(body));
const storageBody = (gib: number) => ({ kind: INFRA + 'storage', attributes: { 'occi.storage.size': gib } });
const computeBody = (links: unknown[] = []) => ({
  kind: INFRA + 'compute',
  mixins: [CONSOLE],
  attributes: { 'occi.compute.memory': 0.5, 'occi.compute.hostname': 'ns.example.com' },
  links,
});
const diskLink = (target: string) => ({ kind: INFRA + 'storagelink', target: { location: target, kind: INFRA + 'storage' } });

/** The domain of an entity at `location`, found by the metadata virsh shows. */
async function domainAt(location: string): Promise<string | undefined> {
  for (const d of await domainsOfInstance(fx.instance)) {
    if ((await dumpxml(d))?.includes(`<occitan:location>${location}</occitan:location>`)) return d;
  }
  return undefined;
}

describe('DataCentred: a VM with a disk, create-only', () => {
  it('probe 404, create 201, probe 200, create again 412 / 409; virsh shows the domain and its sda', async () => {
    expect((await h.http.get('/compute/ns.example.com').set('Accept', J)).status).toBe(404);

    const disk = await put('/storage/ns-disk0', storageBody(8));
    expect(disk.status).toBe(201);
    expect(disk.body.attributes['occi.storage.state']).toBe('online');
    expect(disk.body.attributes['occitan.provider']).toBe('libvirt');

    const vm = await put('/compute/ns.example.com', computeBody([diskLink('/storage/ns-disk0')])).set('If-None-Match', '*');
    expect(vm.status).toBe(201);
    expect(vm.body.attributes).toEqual(expect.objectContaining({
      'occi.compute.state': 'active',
      'occi.compute.hostname': 'ns.example.com',
      'occi.compute.memory': 0.5,
      'occitan.provider': 'libvirt',
      'occitan.libvirt.console': expect.stringMatching(/^\/dev\/pts\/\d+$/),
    }));
    expect(vm.body.links).toEqual([expect.objectContaining({
      kind: INFRA + 'storagelink',
      // Locations render absolute in JSON (http://127.0.0.1:<port>/…).
      target: { location: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/storage\/ns-disk0$/), kind: INFRA + 'storage' },
      attributes: expect.objectContaining({ 'occi.storagelink.deviceid': 'sda', 'occi.storagelink.state': 'active' }),
    })]);

    const probe = await h.http.get('/compute/ns.example.com').set('Accept', J);
    expect(probe.status).toBe(200);
    expect(probe.body.attributes['occi.compute.state']).toBe('active');

    expect((await put('/compute/ns.example.com', computeBody()).set('If-None-Match', '*')).status).toBe(412);
    const again = await h.http.post('/compute/').set('Content-Type', J).set('Accept', J)
      .send(JSON.stringify({ ...computeBody(), attributes: { ...computeBody().attributes, 'occi.core.id': 'ns.example.com' } }));
    expect(again.status).toBe(409);

    // The truth, from virsh: one domain for it, 512 MiB, running, its volume as sda on virtio-scsi.
    const domains = await domainsOfInstance(fx.instance);
    expect(domains).toHaveLength(1);
    const name = (await domainAt('/compute/ns.example.com'))!;
    expect(name).toMatch(/^occitan-[0-9a-f-]{36}$/);
    expect(await domstate(name)).toBe('running (booted)');
    const xml = (await dumpxml(name, false))!;
    expect(xml).toContain("<memory unit='KiB'>524288</memory>");
    expect(xml).toMatch(/<controller type='scsi' index='0' model='virtio-scsi'>/);
    expect(xml).toContain('<occitan:hostname>ns.example.com</occitan:hostname>');
    const volume = (await virsh(['vol-list', fx.pool])).trim().split(/\s+/)[0]!;
    expect(await volumeCapacity(fx.pool, volume)).toBe(8 * 1024 ** 3);
    expect(disksIn(xml)).toEqual([expect.objectContaining({ target: 'sda', bus: 'scsi', source: await volumePath(fx.pool, volume) })]);
  });

  it('stop through HTTP brings virsh to shut off (through the graceful timeout)', async () => {
    const res = await h.http.post('/compute/ns.example.com?action=stop').set('Content-Type', J).set('Accept', J)
      .send(JSON.stringify({ action: 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop' }));
    expect(res.status).toBe(200);
    expect(res.body.attributes['occi.compute.state']).toBe('inactive');
    expect(await domstate((await domainAt('/compute/ns.example.com'))!)).toBe('shut off (destroyed)');
  });

  it('a compute whose inline disk cannot attach is not made at all (all or none)', async () => {
    expect((await put('/storage/busy', storageBody(0.015625))).status).toBe(201);
    const off = await h.http.post('/storage/busy?action=offline').set('Content-Type', J).set('Accept', J)
      .send(JSON.stringify({ action: 'http://schemas.ogf.org/occi/infrastructure/storage/action#offline' }));
    expect(off.status).toBe(200);
    expect(off.body.attributes['occi.storage.state']).toBe('offline');
    const before = await domainsOfInstance(fx.instance);
    const res = await put('/compute/doomed', computeBody([diskLink('/storage/busy')]));
    expect(res.status).toBe(409);
    expect(res.body.error).toContain('offline');
    expect((await h.http.get('/compute/doomed').set('Accept', J)).status).toBe(404);
    expect(await eventually(() => domainsOfInstance(fx.instance), (d) => d.length === before.length)).toEqual(before);
  });

  it('deleting the compute removes its domain and detaches its disk; the storage stays', async () => {
    const name = (await domainAt('/compute/ns.example.com'))!;
    expect((await h.http.delete('/compute/ns.example.com')).status).toBe(200);
    expect(await domstate(name)).toBeUndefined();
    const disk = await h.http.get('/storage/ns-disk0').set('Accept', J);
    expect(disk.status).toBe(200);
    expect(disk.body.attributes['occi.storage.state']).toBe('online');
  });
});
