/**
 * The DataCentred staging agent's whole flow (seed 003) as OCCI, through occitan (harness) on the real
 * libvirtd and Open vSwitch: compute, storage and storagelink by libvirt, networks by ovs on a bridge of
 * the test's own. Probe `GET /compute/ns.example.com` 404 → a VLAN 10 network → `ns.example.com` with
 * 512 MiB, one 8 GiB disk (DataCentred's `disks: [8]`: a storage and an inline storagelink), an inline
 * interface to the VLAN 10 network and the install mixin whose location is an Ubuntu installer tree root
 * (DataCentred's `location`) on a loopback HTTP server serving the kernel and initrd of
 * `bash scripts/services.sh start kernel` → 201 → probe 200 → create-only again: 412 (PUT with
 * `If-None-Match: *`) and 409 (POST with the id). virsh shows virtio-scsi `sda`, the openvswitch
 * interface with tag 10 and the direct kernel boot from the pool; OVS shows the port on the network's
 * bridge with tag 10. Deleting everything leaves no domain, volume or port.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startHarness } from '../support/harness';
import type { Harness } from '../support/harness';
import { interfacesIn, libvirtFixture, ovsPort } from './libvirt-fixture';
import { disksIn, domainsOfInstance, domstate, dumpxml, virshMaybe, volumeCapacity, volumePath } from './libvirt-observer';
import { portsOnBridge, requireOvs } from './ovs-observer';

jest.setTimeout(180_000);

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const INSTALL = 'https://occitan.dev/occi/libvirt#install';
const OVS_NETWORK = 'https://occitan.dev/occi/ovs#network';
const J = 'application/occi+json';
const KERNEL_DIR = '/var/lib/occitan-test/kernel';
/** DataCentred's location, an installer tree root; occitan fetches from its netboot directory below. */
const TREE = '/ubuntu/dists/xenial/main/installer-amd64';
const NETBOOT = `${TREE}/current/images/netboot/ubuntu-installer/amd64/`;
const fx = libvirtFixture();
let h: Harness | undefined;
let server: http.Server | undefined;
let base = '';
let tmp: string | undefined;
/** Every path the loopback server was asked for, in order. */
const served: string[] = [];

function requireKernel(): void {
  for (const f of ['linux', 'initrd.gz']) {
    if (!fs.existsSync(path.join(KERNEL_DIR, f))) throw new Error(`${KERNEL_DIR}/${f} is missing. Make it with: bash scripts/services.sh start kernel`);
  }
}

function startServer(): Promise<void> {
  server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    served.push(url);
    const name = url === NETBOOT + 'linux' ? 'linux' : url === NETBOOT + 'initrd.gz' ? 'initrd.gz' : undefined;
    if (!name) return void res.writeHead(404).end('not here');
    const p = path.join(KERNEL_DIR, name);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': fs.statSync(p).size });
    fs.createReadStream(p).pipe(res);
  });
  return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => {
    base = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
    resolve();
  }));
}

function backendsFile(): string {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-backends-'));
  const file = path.join(tmp, 'backends.json');
  const libvirt = { ...fx.options, installHosts: ['127.0.0.1'] };
  fs.writeFileSync(file, JSON.stringify({
    providers: { libvirt: { backend: 'libvirt', options: libvirt }, ovs: { backend: 'ovs', options: { bridges: [fx.bridge], instance: fx.instance } } },
    kinds: {
      [INFRA + 'compute']: { providers: ['libvirt'] },
      [INFRA + 'storage']: { providers: ['libvirt'] },
      [INFRA + 'storagelink']: { providers: ['libvirt'] },
      [INFRA + 'network']: { providers: ['ovs'] },
      // ovs serves the interfaces of containers, libvirt those of its own domains.
      [INFRA + 'networkinterface']: { providers: ['ovs', 'libvirt'] },
    },
  }));
  return file;
}

beforeAll(async () => {
  requireKernel();
  await fx.setup();
  await requireOvs();
  await startServer();
  h = await startHarness({ backendsFile: backendsFile(), timers: { leaseSweep: 60_000, libvirtStopTimeout: 1500, libvirtReapGrace: 3_600_000 } });
});
afterAll(async () => {
  await h?.close();
  await fx.teardown();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const client = (): Harness['http'] => h!.http;
const put = (p: string, body: unknown) => client().put(p).set('Content-Type', J).set('Accept', J).send(JSON.stringify(body));
const probe = async (): Promise<number> => (await client().get('/compute/ns.example.com').set('Accept', J)).status;
const computeBody = () => ({
  kind: INFRA + 'compute',
  mixins: [INSTALL],
  attributes: {
    'occi.compute.memory': 0.5,
    'occi.compute.hostname': 'ns.example.com',
    'occitan.libvirt.install.location': base + TREE,
  },
  links: [
    { kind: INFRA + 'storagelink', target: { location: '/storage/ns-disk0', kind: INFRA + 'storage' } },
    { kind: INFRA + 'networkinterface', target: { location: '/network/ns_example_com_vlan_10', kind: INFRA + 'network' } },
  ],
});

/** The pool's volumes (names). */
async function poolVolumes(): Promise<string[]> {
  return ((await virshMaybe(['vol-list', fx.pool])) ?? '').split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}

describe('DataCentred: probe, create with a disk, a VLAN 10 interface and a network install, create-only', () => {
  it('404 → 201 → 200 → 412 / 409; virsh and OVS show sda, the tagged openvswitch port and the kernel boot; delete leaves nothing', async () => {
    expect(await probe()).toBe(404);

    // DataCentred's network create (`bridge`, `vlan: 10`): a network of the ovs provider on the test's bridge.
    const net = await put('/network/ns_example_com_vlan_10', {
      kind: INFRA + 'network',
      mixins: [OVS_NETWORK],
      attributes: { 'occi.network.vlan': 10, 'occitan.ovs.bridge': fx.bridge },
    });
    expect(net.status).toBe(201);
    expect(net.body.attributes).toEqual(expect.objectContaining({ 'occitan.provider': 'ovs', 'occi.network.vlan': 10, 'occitan.ovs.bridge': fx.bridge, 'occi.network.state': 'active' }));

    // DataCentred's `disks: [8]`: an 8 GiB storage, attached by an inline storagelink.
    const disk = await put('/storage/ns-disk0', { kind: INFRA + 'storage', attributes: { 'occi.storage.size': 8 } });
    expect(disk.status).toBe(201);
    expect(disk.body.attributes['occitan.provider']).toBe('libvirt');

    const vm = await put('/compute/ns.example.com', computeBody()).set('If-None-Match', '*');
    expect(vm.status).toBe(201);
    expect(vm.body.mixins).toContain(INSTALL);
    expect(vm.body.attributes).toEqual(expect.objectContaining({
      'occi.compute.state': 'active',
      'occi.compute.hostname': 'ns.example.com',
      'occi.compute.memory': 0.5,
      'occitan.provider': 'libvirt',
      'occitan.libvirt.install.location': base + TREE,
      'occitan.libvirt.install.method': 'kernel',
    }));
    const links = vm.body.links as Array<{ kind: string; attributes: Record<string, unknown> }>;
    const diskLink = links.find((l) => l.kind === INFRA + 'storagelink');
    const nicLink = links.find((l) => l.kind === INFRA + 'networkinterface');
    expect(links).toHaveLength(2);
    expect(diskLink?.attributes).toEqual(expect.objectContaining({ 'occi.storagelink.deviceid': 'sda', 'occi.storagelink.state': 'active', 'occitan.provider': 'libvirt' }));
    expect(nicLink?.attributes).toEqual(expect.objectContaining({
      'occitan.provider': 'libvirt',
      'occi.networkinterface.state': 'active',
      'occi.networkinterface.interface': expect.stringMatching(/^ol[0-9a-f]{11}$/),
    }));
    const dev = nicLink!.attributes['occi.networkinterface.interface'] as string;
    expect(served).toEqual([NETBOOT + 'linux', NETBOOT + 'initrd.gz']);

    const found = await client().get('/compute/ns.example.com').set('Accept', J);
    expect(found.status).toBe(200);
    expect(found.body.attributes['occi.compute.state']).toBe('active');

    // Create-only again: 412 for a conditional PUT, 409 for a POST with the same id; nothing changes.
    expect((await put('/compute/ns.example.com', computeBody()).set('If-None-Match', '*')).status).toBe(412);
    const again = await client().post('/compute/').set('Content-Type', J).set('Accept', J)
      .send(JSON.stringify({ ...computeBody(), attributes: { ...computeBody().attributes, 'occi.core.id': 'ns.example.com' } }));
    expect(again.status).toBe(409);
    expect(served).toHaveLength(2);

    // The truth from virsh: one running domain, 512 MiB, sda on virtio-scsi, the tagged openvswitch interface, the installer.
    const domains = await domainsOfInstance(fx.instance);
    expect(domains).toHaveLength(1);
    const name = domains[0]!;
    expect(await domstate(name)).toBe('running (booted)');
    const id = name.slice('occitan-'.length);
    const diskVolume = (await poolVolumes()).find((v) => v.endsWith('.qcow2'))!;
    expect(await volumeCapacity(fx.pool, diskVolume)).toBe(8 * 1024 ** 3);
    const kernelPath = (await volumePath(fx.pool, `occitan-${fx.instance}--${id}.kernel`))!;
    const initrdPath = (await volumePath(fx.pool, `occitan-${fx.instance}--${id}.initrd`))!;
    for (const p of [kernelPath, initrdPath]) expect(p.startsWith(fx.poolPath + '/')).toBe(true);
    for (const live of [true, false]) {
      const xml = (await dumpxml(name, !live))!;
      expect(xml).toContain("<memory unit='KiB'>524288</memory>");
      expect(xml).toContain('<occitan:hostname>ns.example.com</occitan:hostname>');
      expect(xml).toMatch(/<controller type='scsi' index='0' model='virtio-scsi'>/);
      expect(disksIn(xml)).toEqual([expect.objectContaining({ target: 'sda', bus: 'scsi', source: await volumePath(fx.pool, diskVolume) })]);
      expect(xml).toMatch(/<interface type='bridge'>[\s\S]*?<virtualport type='openvswitch'>[\s\S]*?<\/interface>/);
      expect(xml).toMatch(/<vlan>\s*<tag id='10'\/>\s*<\/vlan>/);
      expect(interfacesIn(xml)).toEqual([expect.objectContaining({ type: 'bridge', bridge: fx.bridge, vlan: 10, virtualport: 'openvswitch', dev, model: 'virtio' })]);
      expect(xml).toContain(`<kernel>${kernelPath}</kernel>`);
      expect(xml).toContain(`<initrd>${initrdPath}</initrd>`);
    }
    // The fetched files are the served ones.
    expect(fs.readFileSync(kernelPath).equals(fs.readFileSync(path.join(KERNEL_DIR, 'linux')))).toBe(true);
    expect(fs.readFileSync(initrdPath).equals(fs.readFileSync(path.join(KERNEL_DIR, 'initrd.gz')))).toBe(true);

    // The truth from OVS: the interface's port on the network's bridge, tag 10.
    expect(await ovsPort(dev)).toEqual(expect.objectContaining({ bridge: fx.bridge, tag: 10 }));
    expect(await portsOnBridge(fx.bridge)).toContain(dev);

    // Delete everything: no domain, volume or port remains.
    expect((await client().delete('/compute/ns.example.com')).status).toBe(200);
    expect(await probe()).toBe(404);
    expect(await domstate(name)).toBeUndefined();
    expect(await ovsPort(dev)).toBeUndefined();
    expect(await poolVolumes()).toEqual([diskVolume]);
    // What remains on the bridge is the network's own port (the VLAN), which goes with the network.
    expect(await portsOnBridge(fx.bridge)).toEqual([expect.stringMatching(/^on[0-9a-f]{11}$/)]);
    expect((await client().delete('/storage/ns-disk0')).status).toBe(200);
    expect((await client().delete('/network/ns_example_com_vlan_10')).status).toBe(200);
    expect(await domainsOfInstance(fx.instance)).toEqual([]);
    expect(await poolVolumes()).toEqual([]);
    expect(await portsOnBridge(fx.bridge)).toEqual([]);
  });
});
