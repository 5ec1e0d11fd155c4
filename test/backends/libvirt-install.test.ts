/**
 * Network install (mixin libvirt#install) through the whole occitan (harness) on the real libvirtd: the
 * kernel and initrd of `bash scripts/services.sh start kernel` (Debian's linux-image-amd64 and a busybox
 * initrd) are served by a loopback HTTP server of the test's own; occitan fetches them into the pool
 * (installHosts: 127.0.0.1 only) and the domain boots them directly (`virsh start` loads the kernel).
 * URLs outside the allow-list (host, scheme, user info, redirects) are 400s naming the host before
 * anything is fetched or made; failed fetches leave nothing; deleting the compute, or removing the
 * mixin, removes the fetched files. The network method gives `<boot dev='network'/>` and fetches nothing.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startHarness } from '../support/harness';
import type { Harness } from '../support/harness';
import { CONSOLE, libvirtFixture } from './libvirt-fixture';
import { domainsOfInstance, domstate, dumpxml, virsh, virshMaybe, volumeCapacity, volumePath } from './libvirt-observer';

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const INSTALL = 'https://occitan.dev/occi/libvirt#install';
const J = 'application/occi+json';
const KERNEL_DIR = '/var/lib/occitan-test/kernel';
const MAX_BYTES = 16 * 1024 * 1024;
const fx = libvirtFixture();
let h: Harness;
let server: http.Server | undefined;
let base = '';
let port = 0;
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
    const file = (name: string): void => {
      const p = path.join(KERNEL_DIR, name);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': fs.statSync(p).size });
      fs.createReadStream(p).pipe(res);
    };
    if (url === '/netboot/linux' || url === '/explicit/vmlinuz') return file('linux');
    if (url === '/netboot/initrd.gz' || url === '/explicit/initrd.img') return file('initrd.gz');
    if (url === '/big/initrd.gz' || url === '/junk/initrd.gz') return file('initrd.gz');
    if (url === '/junk/linux') return void res.writeHead(200, { 'Content-Length': 4096 }).end(Buffer.alloc(4096, 0x5a));
    if (url === '/big/linux') {
      // Chunked, no Content-Length: the limit must hold while streaming.
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      const chunk = Buffer.alloc(1024 * 1024);
      let left = MAX_BYTES / chunk.length + 2;
      const more = (): void => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      res.on('close', () => (left = 0));
      return more();
    }
    if (url.startsWith('/hop/')) {
      res.writeHead(302, { Location: `http://127.0.0.2:${port}/netboot/${url.slice('/hop/'.length)}` });
      return void res.end();
    }
    res.writeHead(404).end('not here');
  });
  return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => {
    port = (server!.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
    resolve();
  }));
}

function backendsFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-backends-'));
  const file = path.join(dir, 'backends.json');
  const kinds: Record<string, { providers: string[] }> = {};
  for (const k of ['compute', 'storage', 'storagelink']) kinds[INFRA + k] = { providers: ['libvirt'] };
  for (const k of ['network', 'networkinterface']) kinds[INFRA + k] = { providers: ['dummy'] };
  const options = { ...fx.options, installHosts: ['127.0.0.1'], installMaxBytes: MAX_BYTES };
  fs.writeFileSync(file, JSON.stringify({ providers: { libvirt: { backend: 'libvirt', options }, dummy: { backend: 'dummy' } }, kinds }));
  return file;
}

beforeAll(async () => {
  requireKernel();
  await fx.setup();
  await startServer();
  h = await startHarness({ backendsFile: backendsFile(), timers: { leaseSweep: 5000, libvirtStopTimeout: 1500, libvirtReapGrace: 60000 } });
});
afterAll(async () => {
  await h?.close();
  await fx.teardown();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

const put = (p: string, body: unknown) => h.http.put(p).set('Content-Type', J).set('Accept', J).send(JSON.stringify(body));
const computeBody = (install: Record<string, unknown>, mixins = [INSTALL]) => ({
  kind: INFRA + 'compute',
  mixins,
  attributes: { 'occi.compute.memory': 0.125, ...install },
});

/** The pool's volumes (names). */
async function poolVolumes(): Promise<string[]> {
  return ((await virshMaybe(['vol-list', fx.pool])) ?? '').split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}

/** The domain of the entity at `location`, found by the metadata virsh shows. */
async function domainAt(location: string): Promise<string | undefined> {
  for (const d of await domainsOfInstance(fx.instance)) {
    if ((await dumpxml(d))?.includes(`<occitan:location>${location}</occitan:location>`)) return d;
  }
  return undefined;
}

/** The entity's installer volumes, by the domain's name (occitan-<uuid> → occitan-<instance>--<uuid>.kernel/.initrd). */
function installVolumes(domain: string): { kernel: string; initrd: string } {
  const id = domain.slice('occitan-'.length);
  return { kernel: `occitan-${fx.instance}--${id}.kernel`, initrd: `occitan-${fx.instance}--${id}.initrd` };
}

describe('install URLs outside the allow-list: 400 naming the host, nothing fetched or made', () => {
  const refused: Array<[string, Record<string, unknown>, string]> = [
    ['a host not in installHosts', { 'occitan.libvirt.install.location': 'http://localhost:PORT/netboot/' }, 'localhost'],
    ['another loopback address', { 'occitan.libvirt.install.location': 'http://127.0.0.2:PORT/netboot/' }, '127.0.0.2'],
    ['an explicit kernel elsewhere', { 'occitan.libvirt.install.location': 'BASE/netboot/', 'occitan.libvirt.install.kernel': 'https://deb.debian.org/debian/linux' }, 'deb.debian.org'],
    ['a scheme other than http/https', { 'occitan.libvirt.install.location': 'ftp://127.0.0.1:PORT/netboot/' }, 'ftp'],
    ['a file URL', { 'occitan.libvirt.install.kernel': 'file:///etc/shadow', 'occitan.libvirt.install.initrd': 'BASE/netboot/initrd.gz' }, 'file'],
    ['user info', { 'occitan.libvirt.install.location': 'http://user:secret@127.0.0.1:PORT/netboot/' }, '127.0.0.1'],
  ];
  it.each(refused)('%s', async (_what, attrs, named) => {
    const fill = (v: unknown) => (typeof v === 'string' ? v.replace('BASE', base).replace('PORT', String(port)) : v);
    const attributes = Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, fill(v)]));
    const n = served.length;
    const res = await put('/compute/refused', computeBody(attributes));
    expect(res.status).toBe(400);
    expect(res.body.error).toContain(named);
    expect(res.body.error).not.toContain('secret');
    expect(served.length).toBe(n);
    expect((await h.http.get('/compute/refused').set('Accept', J)).status).toBe(404);
    expect(await domainsOfInstance(fx.instance)).toEqual([]);
    expect(await poolVolumes()).toEqual([]);
  });

  it('a redirect off the allow-list is a 400 naming its host; nothing is made', async () => {
    const res = await put('/compute/hop', computeBody({ 'occitan.libvirt.install.location': `${base}/hop/` }));
    expect(res.status).toBe(400);
    expect(res.body.error).toContain('127.0.0.2');
    expect(served).toContain('/hop/linux');
    expect(served.filter((p) => p.startsWith('/netboot/'))).toEqual([]);
    expect((await h.http.get('/compute/hop').set('Accept', J)).status).toBe(404);
    expect(await domainsOfInstance(fx.instance)).toEqual([]);
    expect(await poolVolumes()).toEqual([]);
  });

  it('a location without the files (404) and a file over installMaxBytes are 400s and leave nothing', async () => {
    const missing = await put('/compute/missing', computeBody({ 'occitan.libvirt.install.location': `${base}/missing/` }));
    expect(missing.status).toBe(400);
    expect(missing.body.error).toContain('404');
    const big = await put('/compute/big', computeBody({ 'occitan.libvirt.install.location': `${base}/big/` }));
    expect(big.status).toBe(400);
    expect(big.body.error).toContain(`${MAX_BYTES} bytes`);
    for (const p of ['/compute/missing', '/compute/big']) expect((await h.http.get(p).set('Accept', J)).status).toBe(404);
    expect(await domainsOfInstance(fx.instance)).toEqual([]);
    expect(await poolVolumes()).toEqual([]);
  });
});

describe('direct kernel boot', () => {
  it('fetches kernel and initrd into the pool; the domain runs them with the escaped command line', async () => {
    const res = await put('/compute/installer', computeBody({
      'occitan.libvirt.install.location': `${base}/netboot`,
      'occitan.libvirt.install.cmdline': 'panic=-1 x=<y>&z',
    }, [INSTALL, CONSOLE]));
    expect(res.status).toBe(201);
    expect(res.body.attributes).toEqual(expect.objectContaining({ 'occi.compute.state': 'active', 'occitan.libvirt.install.method': 'kernel' }));
    expect(served.filter((p) => p.startsWith('/netboot/'))).toEqual(['/netboot/linux', '/netboot/initrd.gz']);

    const name = (await domainAt('/compute/installer'))!;
    expect(await domstate(name)).toBe('running (booted)');
    const vols = installVolumes(name);
    expect((await poolVolumes()).sort()).toEqual([vols.initrd, vols.kernel]);
    const kernelPath = (await volumePath(fx.pool, vols.kernel))!;
    const initrdPath = (await volumePath(fx.pool, vols.initrd))!;
    expect(kernelPath.startsWith(fx.poolPath + '/')).toBe(true);
    expect(fs.readFileSync(kernelPath).equals(fs.readFileSync(path.join(KERNEL_DIR, 'linux')))).toBe(true);
    expect(fs.readFileSync(initrdPath).equals(fs.readFileSync(path.join(KERNEL_DIR, 'initrd.gz')))).toBe(true);
    expect(await volumeCapacity(fx.pool, vols.kernel)).toBe(fs.statSync(path.join(KERNEL_DIR, 'linux')).size);
    expect(await volumeCapacity(fx.pool, vols.initrd)).toBe(fs.statSync(path.join(KERNEL_DIR, 'initrd.gz')).size);

    for (const live of [true, false]) {
      const xml = (await dumpxml(name, !live))!;
      expect(xml).toContain(`<kernel>${kernelPath}</kernel>`);
      expect(xml).toContain(`<initrd>${initrdPath}</initrd>`);
      expect(xml).toContain('<cmdline>panic=-1 x=&lt;y&gt;&amp;z console=ttyS0</cmdline>');
    }
  });

  it('`virsh start` itself loads the kernel from the pool: destroyed behind occitan\'s back, it starts again', async () => {
    const name = (await domainAt('/compute/installer'))!;
    await virsh(['destroy', name]);
    expect(await domstate(name)).toBe('shut off (destroyed)');
    await virsh(['start', name]);
    expect(await domstate(name)).toBe('running (booted)');
  });

  it('a kernel QEMU cannot boot: the start fails and neither domain nor fetched files are left', async () => {
    const before = await domainsOfInstance(fx.instance);
    const vols = await poolVolumes();
    const res = await put('/compute/junk', computeBody({ 'occitan.libvirt.install.location': `${base}/junk/` }));
    // QEMU exits at start (no bootable kernel): libvirt's refusal, translated.
    expect(res.status).toBe(502);
    expect(res.body.error).toContain('start the domain of /compute/junk');
    expect(served).toContain('/junk/initrd.gz');
    expect((await h.http.get('/compute/junk').set('Accept', J)).status).toBe(404);
    expect(await domainsOfInstance(fx.instance)).toEqual(before);
    expect(await poolVolumes()).toEqual(vols);
  });

  it('deleting the compute removes its domain and the fetched files', async () => {
    const name = (await domainAt('/compute/installer'))!;
    expect((await h.http.delete('/compute/installer')).status).toBe(200);
    expect(await domstate(name)).toBeUndefined();
    expect(await poolVolumes()).toEqual([]);
  });

  it('removing the install mixin boots from the disk from the next start and removes the fetched files', async () => {
    const made = await put('/compute/installed', computeBody({
      'occitan.libvirt.install.kernel': `${base}/explicit/vmlinuz`,
      'occitan.libvirt.install.initrd': `${base}/explicit/initrd.img`,
    }));
    expect(made.status).toBe(201);
    const name = (await domainAt('/compute/installed'))!;
    const vols = installVolumes(name);
    expect((await poolVolumes()).sort()).toEqual([vols.initrd, vols.kernel]);
    expect(await dumpxml(name)).not.toContain('<cmdline>');

    // Changing the install settings of an existing compute is refused; removing the mixin is how it ends.
    const change = await put('/compute/installed', computeBody({ 'occitan.libvirt.install.location': `${base}/netboot/` }));
    expect(change.status).toBe(409);
    const done = await put('/compute/installed', computeBody({}, []));
    expect(done.status).toBe(200);
    expect(done.body.mixins ?? []).not.toContain(INSTALL);
    const inactive = (await dumpxml(name))!;
    expect(inactive).not.toMatch(/<kernel>|<initrd>|<cmdline>/);
    expect(inactive).toContain("<boot dev='hd'/>");
    expect(await domstate(name)).toBe('running (booted)');
    expect(await poolVolumes()).toEqual([]);

    expect((await h.http.delete('/compute/installed')).status).toBe(200);
    expect(await domstate(name)).toBeUndefined();
  });
});

describe('network boot', () => {
  it('boots from the network first, then the disk; nothing is fetched', async () => {
    const n = served.length;
    const res = await put('/compute/pxe', computeBody({ 'occitan.libvirt.install.method': 'network', 'occitan.libvirt.install.location': 'http://pxe.example/unused' }));
    expect(res.status).toBe(201);
    expect(res.body.attributes['occi.compute.state']).toBe('active');
    const name = (await domainAt('/compute/pxe'))!;
    expect(await domstate(name)).toBe('running (booted)');
    const xml = (await dumpxml(name))!;
    expect(xml).toMatch(/<boot dev='network'\/>\s*<boot dev='hd'\/>/);
    expect(xml).not.toContain('<kernel>');
    expect(served.length).toBe(n);
    expect(await poolVolumes()).toEqual([]);
    expect((await h.http.delete('/compute/pxe')).status).toBe(200);
    expect(await domstate(name)).toBeUndefined();
  });
});
