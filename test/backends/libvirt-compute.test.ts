/**
 * What only the libvirt provider promises for compute, checked with virsh: the domain it defines (KVM
 * where the hypervisor offers it, virtio-scsi, no graphics, metadata naming the entity, an escaped
 * title), graceful stop and restart of a guest that ignores ACPI finishing through their timeout
 * (destroy / reset seen by virsh), hibernation as a managed save, domains it does not own left alone,
 * reconciliation at start-up, and libvirt's errors as occitan's.
 */
import { spawn } from 'node:child_process';
import type { Backend, BackendEntity } from '../../src/backends/backend';
import { createBackend } from '../../src/backends/libvirt';
import { A, CONSOLE, PROVIDER, libvirtFixture } from './libvirt-fixture';
import { cleanup, domainOf, domstate, dumpxml, eventually, virsh, virshMaybe } from './libvirt-observer';

const fx = libvirtFixture();
let backend: Backend;

beforeAll(async () => {
  await fx.setup();
  backend = createBackend(PROVIDER);
  await backend.init(fx.context());
});
afterAll(async () => {
  await backend?.close();
  await fx.teardown();
});

async function status(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { status?: number }).status ?? -1;
  }
}

/** A `virsh event` listener on one domain, proven to listen (it saw a metadata change the test made). */
async function listen(domain: string): Promise<{ output(): string; stop(): void }> {
  const child = spawn('virsh', ['-c', 'qemu:///system', 'event', '--domain', domain, '--all', '--loop', '--timeout', '60'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const seen = await eventually(
    async () => {
      await virsh(['metadata', domain, 'https://example.test/probe', '--key', 'probe', '--set', '<p/>', '--live']);
      return out.includes("event 'metadata-change'");
    },
    (x) => x,
    10_000,
  );
  expect(seen).toBe(true);
  return { output: () => out, stop: () => child.kill('SIGTERM') };
}

describe('the domain libvirt holds', () => {
  it('is KVM where the hypervisor offers it, with memory, vCPUs, virtio-scsi, no graphics, metadata and an escaped one-line title', async () => {
    const title = `web </title><devices><graphics type='vnc'/></devices>\nsecond line & "more"`;
    const e = fx.compute({ 'occi.core.title': title, 'occi.compute.memory': 0.0625, 'occi.compute.cores': 2, 'occi.compute.hostname': 'ns.example.com' }, [CONSOLE]);
    const r = await backend.create(e);
    const xml = (await dumpxml(domainOf(e.id), false))!;
    const kvm = /<domain type='kvm'/.test(await virsh(['capabilities']));
    expect(xml).toMatch(new RegExp(`^<domain type='${kvm ? 'kvm' : 'qemu'}' id='\\d+'>`));
    expect(xml).toContain("<memory unit='KiB'>65536</memory>");
    expect(xml).toMatch(/<vcpu placement='static'>2<\/vcpu>/);
    expect(xml).toContain("<type arch='x86_64'");
    expect(xml).toMatch(/<controller type='scsi' index='0' model='virtio-scsi'>/);
    expect(xml).not.toMatch(/<graphics\b/);
    expect(xml).toContain(`<occitan:id>${e.id}</occitan:id>`);
    expect(xml).toContain(`<occitan:instance>${fx.instance}</occitan:instance>`);
    expect(xml).toContain('<occitan:hostname>ns.example.com</occitan:hostname>');
    expect((await virsh(['desc', '--title', domainOf(e.id)])).trim()).toBe(`web </title><devices><graphics type='vnc'/></devices> second line & "more"`);
    // The console attribute is the pty libvirt gave the serial console.
    expect(r.attributes['occitan.libvirt.console']).toBe((await virsh(['ttyconsole', domainOf(e.id)])).trim());
    await backend.delete(e);
    expect(await virshMaybe(['domuuid', domainOf(e.id)])).toBeUndefined();
  });

  it('x86 is an i686 guest', async () => {
    const e = fx.compute({ 'occi.compute.architecture': 'x86' });
    await backend.create(e);
    expect(await dumpxml(domainOf(e.id))).toContain("<type arch='i686'");
    expect(await domstate(domainOf(e.id))).toBe('running (booted)');
    await backend.delete(e);
  });

  it('a change of memory and cores goes to the persistent definition of a running domain', async () => {
    const e = fx.compute({ 'occi.compute.memory': 0.03125 });
    await backend.create(e);
    const changed = { ...e, attributes: { ...e.attributes, 'occi.compute.memory': 0.0625, 'occi.compute.cores': 2 } };
    const r = await backend.update(changed, { attributes: { 'occi.compute.memory': 0.0625, 'occi.compute.cores': 2 }, mixinsAdded: [], mixinsRemoved: [] });
    expect(r.attributes['occi.compute.state']).toBe('active');
    const inactive = (await dumpxml(domainOf(e.id), true))!;
    expect(inactive).toContain("<memory unit='KiB'>65536</memory>");
    expect(inactive).toMatch(/<vcpu placement='static'>2<\/vcpu>/);
    // The architecture of a domain does not change.
    const x86 = { ...changed, attributes: { ...changed.attributes, 'occi.compute.architecture': 'x86' } };
    expect(await status(backend.update(x86, { attributes: { 'occi.compute.architecture': 'x86' }, mixinsAdded: [], mixinsRemoved: [] }))).toBe(409);
    expect(await dumpxml(domainOf(e.id), true)).toContain("<type arch='x86_64'");
    await backend.delete(e);
  });
});

describe('actions on a guest that ignores ACPI', () => {
  let e: BackendEntity;
  beforeAll(async () => {
    e = fx.compute();
    await backend.create(e);
  });
  afterAll(async () => {
    await backend.delete(e);
  });

  it('a graceful stop waits for the timeout, then destroys the domain', async () => {
    const r = await backend.action(e, A + 'stop', {});
    expect(r.attributes['occi.compute.state']).toBe('inactive');
    expect(await domstate(domainOf(e.id))).toBe('shut off (destroyed)');
  });

  it('a graceful restart asks the guest, then resets it after the timeout (libvirt reports the reset)', async () => {
    await backend.action(e, A + 'start', {});
    const events = await listen(domainOf(e.id));
    try {
      const r = await backend.action(e, A + 'restart', { method: 'graceful' });
      expect(r.attributes['occi.compute.state']).toBe('active');
      const out = await eventually(async () => events.output(), (o) => o.includes("event 'reboot'"), 5000);
      expect(out).toContain(`event 'reboot' for domain '${domainOf(e.id)}'`);
      expect(await domstate(domainOf(e.id))).toMatch(/^running/);
    } finally {
      events.stop();
    }
  });

  it('hibernate is a managed save; start restores it', async () => {
    const r = await backend.action(e, A + 'suspend', { method: 'hibernate' });
    expect(r.attributes).toEqual({ 'occi.compute.state': 'suspended', 'occi.compute.state.message': 'hibernated: its memory is saved to disk; start restores it' });
    expect(await domstate(domainOf(e.id))).toBe('shut off (saved)');
    expect(await virsh(['dominfo', domainOf(e.id)])).toMatch(/^Managed save:\s+yes$/m);
    await backend.action(e, A + 'start', {});
    expect(await domstate(domainOf(e.id))).toBe('running (restored)');
  });

  it('suspend pauses the virtual CPUs; start resumes them', async () => {
    await backend.action(e, A + 'suspend', {});
    expect(await domstate(domainOf(e.id))).toBe('paused (user)');
    await backend.action(e, A + 'start', {});
    expect(await domstate(domainOf(e.id))).toBe('running (unpaused)');
  });
});

describe('what occitan does not own', () => {
  it('a domain with the entity’s name but without its metadata is neither adopted nor removed', async () => {
    const e = fx.compute();
    const name = domainOf(e.id);
    const xml = `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><os><type arch='x86_64'>hvm</type></os></domain>`;
    const file = `/tmp/${name}.xml`;
    await import('node:fs/promises').then((fs) => fs.writeFile(file, xml));
    await virsh(['define', file]);
    try {
      expect(await status(backend.create(e))).toBe(409);
      await backend.delete(e);
      expect(await domstate(name)).toBe('shut off (unknown)');
      expect(await virsh(['dumpxml', name])).not.toContain('occitan:entity');
    } finally {
      await virshMaybe(['undefine', name]);
    }
  });
});

describe('reconciliation at start-up', () => {
  it('after concurrent creates: removes an orphan of this instance, reports an entity whose domain vanished, leaves other instances alone', async () => {
    const kept = fx.compute();
    const orphan = fx.compute();
    const vanished = fx.compute();
    const otherInstance = `${fx.instance}-other`;
    const other = createBackend(PROVIDER);
    const foreign = fx.compute();
    const otherCtx = fx.context();
    Object.assign(otherCtx, { options: { ...fx.options, instance: otherInstance } });
    try {
      // Concurrent creates, as the service makes them for concurrent requests.
      // Ref and attributes kept as the service stores them (reconciliation reports only what differs).
      await Promise.all([kept, orphan, vanished].map(async (x) => {
        const r = await backend.create(x);
        Object.assign(x, { ref: r.ref, attributes: { ...x.attributes, ...r.attributes } });
      }));
      await other.init(otherCtx);
      await other.create(foreign);
      // The service forgets the orphan; the vanished one's domain is removed behind occitan's back.
      fx.known.splice(fx.known.indexOf(orphan), 1);
      fx.known.splice(fx.known.indexOf(foreign), 1);
      await virsh(['destroy', domainOf(vanished.id)]);
      await virsh(['undefine', domainOf(vanished.id)]);

      // With a grace period, a young orphan is left alone (a create in flight elsewhere).
      const patient = createBackend(PROVIDER);
      await patient.init(fx.context({ ...fx.durations, libvirtReapGrace: 60_000 }));
      await patient.close();
      expect(await virshMaybe(['domuuid', domainOf(orphan.id)])).toBeDefined();

      const ctx = fx.context();
      const fresh = createBackend(PROVIDER);
      await fresh.init(ctx);
      await fresh.close();
      expect(await virshMaybe(['domuuid', domainOf(orphan.id)])).toBeUndefined();
      expect(await domstate(domainOf(kept.id))).toBe('running (booted)');
      expect(await domstate(domainOf(foreign.id))).toBe('running (booted)');
      expect(ctx.reports).toEqual([
        { id: vanished.id, realised: { attributes: { 'occi.compute.state': 'error', 'occi.compute.state.message': `its domain ${domainOf(vanished.id)} is gone from libvirt at qemu:///system (removed outside occitan)` } } },
      ]);
    } finally {
      await other.close();
      await cleanup(otherInstance, fx.pool);
      await Promise.all([kept, orphan, vanished].map((x) => backend.delete(x)));
    }
    // Five domains defined, two providers started, a dozen virsh calls each: a bound against hangs, not a timing.
  }, 120_000);
});

describe('errors', () => {
  it('an unreachable libvirtd is 503 at init', async () => {
    const b = createBackend(PROVIDER);
    const ctx = fx.context();
    Object.assign(ctx, { options: { ...fx.options, uri: 'qemu+unix:///system?socket=/nonexistent/libvirt-sock' } });
    expect(await status(b.init(ctx))).toBe(503);
  });

  it('a compute whose domain does not exist is 404 to retrieve and to actions; delete succeeds', async () => {
    const e = fx.compute();
    expect(await status(backend.retrieve(e))).toBe(404);
    expect(await status(backend.action(e, A + 'start', {}))).toBe(404);
    await backend.delete(e);
  });

  it('an invalid request is 400 before anything is defined', async () => {
    const e = fx.compute({ 'occi.compute.hostname': 'not a host name' });
    expect(await status(backend.create(e))).toBe(400);
    expect(await virshMaybe(['domuuid', domainOf(e.id)])).toBeUndefined();
  });
});
