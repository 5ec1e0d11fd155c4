/**
 * Start-up reconciliation of the libvirt provider, regressions found by the crash test
 * (test/e2e/libvirt-crash.test.ts), each named after what it caught, checked with virsh:
 * - a domain whose state changed while occitan was down (or through a virsh call a SIGKILL left running)
 *   has its state reported at the restart, and an unchanged one is not reported;
 * - a compute realised between the listing of domains and the reading of the documents (a create in
 *   another process) is not reported gone;
 * - a storagelink whose disk is gone from its domain is reported in error;
 * - an orphan that cannot be removed is logged and does not keep the provider from starting.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Backend, BackendEntity } from '../../src/backends/backend';
import { createBackend } from '../../src/backends/libvirt';
import { PROVIDER, libvirtFixture } from './libvirt-fixture';
import { disksIn, domainOf, dumpxml, virsh, virshMaybe, volumeOf } from './libvirt-observer';

const fx = libvirtFixture();
let backend: Backend;

/** Creates through the backend and keeps the ref and attributes on the entity, as the service would. */
async function make(e: BackendEntity): Promise<BackendEntity> {
  const r = await backend.create(e);
  Object.assign(e, { ref: r.ref, attributes: { ...e.attributes, ...r.attributes } });
  return e;
}

/** A restart: a new provider over the same libvirt, store and known entities; answers its context. */
async function restart(): Promise<ReturnType<typeof fx.context>> {
  const ctx = fx.context();
  const b = createBackend(PROVIDER);
  await b.init(ctx);
  await b.close();
  return ctx;
}

beforeAll(async () => {
  await fx.setup();
  backend = createBackend(PROVIDER);
  await backend.init(fx.context());
});
afterAll(async () => {
  await backend?.close();
  await fx.teardown();
});

describe('reconciliation at start-up', () => {
  it('a domain that stopped while occitan was down is reported as libvirt has it; an unchanged one is not reported', async () => {
    const stopped = await make(fx.compute());
    const unchanged = await make(fx.compute());
    try {
      expect(stopped.attributes['occi.compute.state']).toBe('active');
      await virsh(['destroy', domainOf(stopped.id)]);
      const ctx = await restart();
      expect(ctx.reports.filter((r) => r.id === stopped.id || r.id === unchanged.id)).toEqual([
        { id: stopped.id, realised: { attributes: { 'occi.compute.state': 'inactive', 'occi.compute.state.message': 'shut off (destroyed)' }, ref: stopped.ref } },
      ]);
    } finally {
      await Promise.all([stopped, unchanged].map((x) => backend.delete(x)));
    }
  });

  it('a compute realised after the domains were listed (a create in another process) is not reported gone', async () => {
    const late = fx.compute();
    fx.known.splice(fx.known.indexOf(late), 1);
    const ctx = fx.context();
    const listed = ctx.owned.bind(ctx);
    // The documents are read after the platform is listed: the other process finishes its create in between.
    ctx.owned = async function* () {
      await make(late);
      ctx.register(late);
      yield* listed();
    };
    const b = createBackend(PROVIDER);
    try {
      await b.init(ctx);
      expect(ctx.reports.filter((r) => r.id === late.id && r.realised.attributes['occi.compute.state'] === 'error')).toEqual([]);
      expect((await virsh(['domstate', domainOf(late.id)])).trim()).toBe('running');
    } finally {
      await b.close();
      await backend.delete(late);
    }
  });

  it('a storagelink whose disk was detached while occitan was down is reported in error', async () => {
    const vm = await make(fx.compute());
    const disk = await make(fx.storage(16 / 1024));
    const link = await make(fx.link(vm, disk));
    try {
      const alias = `ua-occitan-${link.id}`;
      expect(disksIn((await dumpxml(domainOf(vm.id)))!).map((x) => x.alias)).toContain(alias);
      await virsh(['detach-device-alias', domainOf(vm.id), alias, '--config']);
      const ctx = await restart();
      expect(ctx.reports.filter((r) => r.id === link.id)).toEqual([
        { id: link.id, realised: { attributes: { 'occi.storagelink.state': 'error', 'occi.storagelink.state.message': expect.stringMatching(/disk .* is gone from domain/) } } },
      ]);
    } finally {
      for (const x of [link, vm, disk]) await backend.delete(x);
    }
  });

  it('an orphan that cannot be removed is logged and does not keep the provider from starting; other orphans still go', async () => {
    // A directory in the pool, not empty, named like a volume of this instance: libvirt cannot delete it.
    const stuck = path.join(fx.poolPath, volumeOf('00000000-0000-4000-8000-000000000001', fx.instance));
    fs.mkdirSync(stuck);
    fs.writeFileSync(path.join(stuck, 'keep'), 'x');
    const orphan = volumeOf('00000000-0000-4000-8000-000000000002', fx.instance);
    await virsh(['vol-create-as', fx.pool, orphan, '1M', '--format', 'qcow2']);
    try {
      const ctx = await restart();
      expect(ctx.logs.filter((l) => l.level === 'warn' && JSON.stringify(l.extra ?? {}).includes(path.basename(stuck))).length).toBe(1);
      expect(await virshMaybe(['vol-info', '--pool', fx.pool, orphan])).toBeUndefined();
    } finally {
      fs.rmSync(stuck, { recursive: true, force: true });
      await virshMaybe(['pool-refresh', fx.pool]);
    }
  });
});
