/**
 * What only the docker provider promises, on occitan's private dockerd (bash scripts/services.sh start
 * docker): images are never pulled and a missing one makes nothing; tenants get no dangerous setting;
 * limits and labels reach the container; a failed create leaves nothing (seen in `docker events`); errors
 * are translated at the edge; start-up reconciliation reaps only this instance's orphans and reports
 * vanished containers. Observed with the docker CLI, never through the backend.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Backend, BackendEntity } from '../../src/backends/backend';
import { createBackend } from '../../src/backends/docker';
import type { DockerRef } from '../../src/backends/docker';
import { connectServer, openDatabase } from '../../src/store/couch';
import type { Database } from '../../src/store/couch';
import { startEmbeddedStore } from '../../src/store/embedded';
import type { EmbeddedStore } from '../../src/store/embedded';
import type { Attributes } from '../../src/model/types';
import { INFRA } from '../../src/model/types';
import { makeTestContext } from './context';
import type { TestContext } from './context';
import { SOCKET, docker, dockerLines, entitiesOf, inspectEntity, requireDaemon } from './docker-observer';

const IMAGE = 'occitan/busybox:test';
const INSTANCE = `test-${randomUUID().slice(0, 8)}`;
const OPTIONS = { nodes: [{ id: 'local', socketPath: SOCKET }], instance: INSTANCE };
const A = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';

let store: EmbeddedStore | undefined;
let url: string;
let db: Database;
const dbName = `occitan-test-docker-x-${randomUUID().slice(0, 8)}`;
let backend: Backend;

function context(options: Record<string, unknown> = OPTIONS, durations: Record<string, number> = { dockerStopTimeout: 2000 }): TestContext {
  return makeTestContext({ provider: 'docker', db, options, durations });
}

function compute(attributes: Attributes = {}, tenant = 'tenant-a'): BackendEntity {
  const id = randomUUID();
  return {
    id,
    tenant,
    location: `/compute/${id}`,
    kind: INFRA + 'compute',
    mixins: [],
    attributes: { 'occi.core.id': `urn:uuid:${id}`, 'occitan.docker.image': IMAGE, 'occitan.docker.command': ['sleep', '3600'], ...attributes },
  };
}

async function failure(p: Promise<unknown>): Promise<{ status?: number; message: string }> {
  try {
    await p;
  } catch (e) {
    return { status: (e as { status?: number }).status, message: (e as Error).message };
  }
  throw new Error('expected the call to fail, and it succeeded');
}

beforeAll(async () => {
  await requireDaemon();
  const external = process.env['OCCITAN_COUCHDB_URL'];
  if (external) url = external;
  else {
    store = await startEmbeddedStore({ memory: true, log: () => undefined });
    url = store.url;
  }
  db = await openDatabase(url, dbName, path.join(__dirname, '..', '..', 'couchdb'));
  backend = createBackend('docker');
  await backend.init(context());
});

afterAll(async () => {
  await backend?.close();
  const ids = await dockerLines(['ps', '-aq', '--filter', `label=dev.occitan.instance=${INSTANCE}`]).catch(() => []);
  if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined);
  if (store) await store.close();
  else if (url) await connectServer(url).db.destroy(dbName).catch(() => undefined);
});

describe('images and requests the provider refuses before making anything', () => {
  it('a missing image is a 400 naming it, and no container is made', async () => {
    const e = compute({ 'occitan.docker.image': 'occitan/not-loaded:1.0' });
    const f = await failure(backend.create(e));
    expect(f.status).toBe(400);
    expect(f.message).toContain('occitan/not-loaded:1.0');
    expect(f.message).toContain('never pulls');
    expect(await entitiesOf(e.id, INSTANCE)).toEqual([]);
  });

  it('an image without a tag, or no image at all, is a 400', async () => {
    const untagged = await failure(backend.create(compute({ 'occitan.docker.image': 'occitan/busybox' })));
    expect(untagged.status).toBe(400);
    expect(untagged.message).toContain('has no tag');
    const none = compute();
    delete (none.attributes as Attributes)['occitan.docker.image'];
    const f = await failure(backend.create(none));
    expect(f.status).toBe(400);
    expect(f.message).toContain('os_tpl');
    expect(await entitiesOf(none.id, INSTANCE)).toEqual([]);
  });

  it('memory below what Docker allows is the daemon\'s 400, translated; nothing is left', async () => {
    const e = compute({ 'occi.compute.memory': 1 / 1024 }); // 1 MiB
    const f = await failure(backend.create(e));
    expect(f.status).toBe(400);
    expect(f.message).toContain('Minimum memory limit');
    expect(await entitiesOf(e.id, INSTANCE)).toEqual([]);
  });

  it('a program the image lacks: the container made is removed again (docker events: create, destroy)', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const e = compute({ 'occitan.docker.command': ['no-such-program', '--flag'] });
    const f = await failure(backend.create(e));
    expect(f.status).toBe(400);
    expect(f.message).toContain('"no-such-program" is not in image occitan/busybox:test');
    expect(await entitiesOf(e.id, INSTANCE)).toEqual([]);
    const until = Math.floor(Date.now() / 1000) + 1;
    const events = await dockerLines(['events', '--since', String(since), '--until', String(until), '--filter', `label=dev.occitan.entity=${e.id}`, '--format', '{{.Action}}']);
    expect(events[0]).toBe('create');
    expect(events.at(-1)).toBe('destroy');
    expect(events).not.toContain('start');
  });
});

describe('the container a compute becomes', () => {
  it('has the limits, labels and name asked for, and no setting a tenant could abuse', async () => {
    const e = compute({ 'occi.compute.memory': 0.25, 'occi.compute.cores': 2, 'occi.compute.share': 256, 'occi.compute.hostname': 'db1.example.org', 'occitan.docker.environment': { ROLE: 'db', 'WITH SPACE': 'a=b' } }, 'tenant-b');
    const realised = await backend.create(e);
    const i = (await inspectEntity(e.id, INSTANCE))!;
    expect(i.Name).toBe(`/occitan-${e.id}`);
    expect(i.Config.Labels).toEqual({ 'dev.occitan.entity': e.id, 'dev.occitan.instance': INSTANCE, 'dev.occitan.tenant': 'tenant-b' });
    expect(i.Config.Hostname).toBe('db1.example.org');
    expect(i.Config.Image).toBe(IMAGE);
    expect(i.Config.Cmd).toEqual(['sleep', '3600']);
    expect(i.Config.Env).toEqual(expect.arrayContaining(['ROLE=db', 'WITH SPACE=a=b']));
    expect(i.HostConfig.Memory).toBe(256 * 1024 * 1024);
    expect(i.HostConfig.MemorySwap).toBe(256 * 1024 * 1024);
    expect(i.HostConfig.NanoCpus).toBe(2e9);
    expect(i.HostConfig.CpuShares).toBe(256);
    expect(i.HostConfig.NetworkMode).toBe('none');
    expect(i.HostConfig.Init).toBe(true);
    expect(i.HostConfig.Privileged).toBe(false);
    expect(i.HostConfig.Binds).toBeNull();
    expect(i.HostConfig.Mounts ?? null).toBeNull();
    expect(i.HostConfig.CapAdd).toBeNull();
    expect(i.HostConfig.Devices ?? []).toEqual([]);
    expect([i.HostConfig.PidMode, i.HostConfig.IpcMode === 'host', i.HostConfig.UTSMode, i.HostConfig.UsernsMode]).toEqual(['', false, '', '']);
    expect(i.HostConfig.SecurityOpt).toEqual(['no-new-privileges']);
    expect(i.HostConfig.RestartPolicy.Name).toBe('no');
    // PID 1 is docker-init, so SIGTERM reaches the program (prompt graceful stop).
    expect(await docker(['exec', i.Id, 'cat', '/proc/1/cmdline'])).toContain('docker-init');
    const ref = realised.ref as DockerRef;
    expect(ref).toEqual({ node: 'local', containerId: i.Id, netns: `/proc/${i.State.Pid}/ns/net` });
    await backend.delete(e);
  });

  it('restart and a start from stopped report a new runtime (new netns); resume from paused does not', async () => {
    const e = compute();
    const r0 = await backend.create(e);
    const restarted = await backend.action({ ...e, ref: r0.ref }, A + 'restart', {});
    expect(restarted.runtimeChanged).toBe(true);
    expect((restarted.ref as DockerRef).netns).not.toBe((r0.ref as DockerRef).netns);
    await backend.action(e, A + 'suspend', {});
    const resumed = await backend.action(e, A + 'start', {});
    expect(resumed.runtimeChanged).toBeUndefined();
    const stopped = await backend.action(e, A + 'stop', {});
    expect((stopped.ref as DockerRef).netns).toBeUndefined();
    expect(stopped.attributes['occi.compute.state.message']).toMatch(/^exited with code \d+ at /);
    expect((await backend.action(e, A + 'start', {})).runtimeChanged).toBe(true);
    await backend.delete(e);
  });

  it('a live update the daemon refuses leaves the container as it was', async () => {
    const e = compute({ 'occi.compute.memory': 0.0625 });
    await backend.create(e);
    const f = await failure(backend.update(e, { attributes: { 'occi.compute.memory': 1 / 1024 }, mixinsAdded: [], mixinsRemoved: [] }));
    expect(f.status).toBe(400);
    expect((await inspectEntity(e.id, INSTANCE))!.HostConfig.Memory).toBe(64 * 1024 * 1024);
    await backend.delete(e);
  });

  it('an update to a program the image lacks keeps the old container running, alone', async () => {
    const e = compute();
    const r = await backend.create(e);
    const before = (await inspectEntity(e.id, INSTANCE))!;
    const f = await failure(backend.update({ ...e, ref: r.ref }, { attributes: { 'occitan.docker.command': ['/nope'] }, mixinsAdded: [], mixinsRemoved: [] }));
    expect(f.status).toBe(400);
    expect(await entitiesOf(e.id, INSTANCE)).toEqual([before.Id]);
    expect((await inspectEntity(e.id, INSTANCE))!.State.Status).toBe('running');
    await backend.delete(e);
  });

  it('concurrent creates of one entity make one container', async () => {
    const e = compute();
    const answers = await Promise.all([backend.create(e), backend.create(e), backend.create(e)]);
    const ids = await entitiesOf(e.id, INSTANCE);
    expect(ids).toHaveLength(1);
    for (const a of answers) expect((a.ref as DockerRef).containerId).toBe(ids[0]);
    await backend.delete(e);
  });

  it('a container removed behind occitan\'s back: retrieve and actions are 404, delete succeeds', async () => {
    const e = compute();
    const r = await backend.create(e);
    await docker(['rm', '-f', (r.ref as DockerRef).containerId]);
    const withRef = { ...e, ref: r.ref };
    expect((await failure(backend.retrieve(withRef))).status).toBe(404);
    expect((await failure(backend.action(withRef, A + 'stop', {}))).status).toBe(404);
    await backend.delete(withRef);
  });
});

describe('init and errors at the edge', () => {
  it('an unreachable engine is a 503 naming the socket; bad options say what is wrong', async () => {
    const b = createBackend('docker');
    const f = await failure(b.init(context({ nodes: [{ id: 'gone', socketPath: '/run/occitan-test/no-such.sock' }] })));
    expect(f.status).toBe(503);
    expect(f.message).toContain('/run/occitan-test/no-such.sock');
    expect((await failure(b.init(context({ nodes: [] })))).message).toContain('options.nodes');
    expect((await failure(b.init(context({ nodes: [{ id: 'x', host: '10.0.0.1' }] })))).message).toContain('socketPath');
  });

  it('is unusable before init with a 500', async () => {
    expect((await failure(createBackend('docker').retrieve(compute()))).status).toBe(500);
  });

  it('reaps this instance\'s orphans, reports vanished containers, touches nothing else', async () => {
    const label = (k: string, v: string): string[] => ['--label', `${k}=${v}`];
    const orphan = randomUUID();
    const kept = compute();
    const orphanId = (await docker(['create', ...label('dev.occitan.entity', orphan), ...label('dev.occitan.instance', INSTANCE), IMAGE, 'sleep', '60'])).trim();
    const keptRealised = await backend.create(kept);
    const otherInstance = (await docker(['create', ...label('dev.occitan.entity', orphan), ...label('dev.occitan.instance', `${INSTANCE}-other`), IMAGE])).trim();
    const unlabelled = (await docker(['create', IMAGE])).trim();
    const vanished = { ...compute(), ref: { node: 'local', containerId: 'f'.repeat(64) } };
    try {
      // Within the grace period nothing is reaped.
      const graceful = context(OPTIONS, { dockerReapGrace: 3_600_000 });
      const first = createBackend('docker');
      await first.init(graceful);
      await first.close();
      expect(await dockerLines(['ps', '-aq', '--no-trunc', '--filter', `id=${orphanId}`])).toEqual([orphanId]);

      const ctx = context(OPTIONS, { dockerReapGrace: 0 });
      // As the service stores it: with what create answered (so nothing differs from its container).
      ctx.register({ ...kept, attributes: { ...kept.attributes, ...keptRealised.attributes }, ref: keptRealised.ref });
      ctx.register(vanished);
      const b = createBackend('docker');
      await b.init(ctx);
      await b.close();
      expect(await dockerLines(['ps', '-aq', '--no-trunc', '--filter', `id=${orphanId}`])).toEqual([]);
      expect(await entitiesOf(kept.id, INSTANCE)).toHaveLength(1);
      expect(await dockerLines(['ps', '-aq', '--no-trunc', '--filter', `id=${otherInstance}`])).toEqual([otherInstance]);
      expect(await dockerLines(['ps', '-aq', '--no-trunc', '--filter', `id=${unlabelled}`])).toEqual([unlabelled]);
      expect(ctx.reports).toEqual([{ id: vanished.id, realised: { attributes: { 'occi.compute.state': 'error', 'occi.compute.state.message': expect.stringContaining('is gone from docker node local') } } }]);
    } finally {
      await docker(['rm', '-f', otherInstance, unlabelled]).catch(() => undefined);
      await backend.delete(kept);
    }
  });
});
