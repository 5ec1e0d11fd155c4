/**
 * Services on the docker provider, below the HTTP layer, on occitan's private dockerd (bash
 * scripts/services.sh start docker): ports need a node whose network publishes them (network mode none →
 * 400, nothing made); a scale-up that runs out of room removes what it made (all or none); a rolling
 * update that fails puts every old replica back; a replica stopped behind occitan's back is replaced by
 * the next scale; delete removes every replica and frees the node's book. Observed with the docker CLI
 * and the provider's book in CouchDB.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Backend, BackendEntity } from '../../src/backends/backend';
import { createBackend } from '../../src/backends/docker';
import { connectServer, openDatabase } from '../../src/store/couch';
import type { Database } from '../../src/store/couch';
import { startEmbeddedStore } from '../../src/store/embedded';
import type { EmbeddedStore } from '../../src/store/embedded';
import type { Attributes } from '../../src/model/types';
import { makeTestContext } from './context';
import type { TestContext } from './context';
import { SOCKET, docker, dockerLines, inspectIds, requireDaemon } from './docker-observer';

const IMAGE = 'occitan/busybox:test';
const SERVICE = 'https://occitan.dev/occi/docker#service';
const SCALE = 'https://occitan.dev/occi/docker/service/action#scale';
const INSTANCE = `svc-${randomUUID().slice(0, 8)}`;
const MIB = 1024 * 1024;
// 160 MiB of room: two 64 MiB replicas fit, a third does not.
const OPTIONS = { nodes: [{ id: 'local', endpoint: `unix://${SOCKET}`, memory: 160 / 1024 }], instance: INSTANCE };

let store: EmbeddedStore | undefined;
let url: string;
let db: Database;
const dbName = `occitan-test-docker-svc-${randomUUID().slice(0, 8)}`;
let backend: Backend;
let ctx: TestContext;

function service(attributes: Attributes = {}): BackendEntity {
  const id = randomUUID();
  const e: BackendEntity = {
    id,
    tenant: 'tenant-a',
    location: `/services/${id}`,
    kind: SERVICE,
    mixins: [],
    attributes: { 'occi.core.id': id, 'occitan.docker.name': 's', 'occitan.docker.image': IMAGE, 'occitan.docker.command': ['sleep', '3600'], 'occitan.docker.scale': 0, ...attributes },
  };
  ctx?.register(e);
  return e;
}

async function failure(p: Promise<unknown>): Promise<{ status?: number; message: string }> {
  try {
    await p;
  } catch (e) {
    return { status: (e as { status?: number }).status, message: (e as Error).message };
  }
  throw new Error('expected the call to fail, and it succeeded');
}

const replicas = (e: BackendEntity): Promise<string[]> =>
  dockerLines(['ps', '-aq', '--no-trunc', '--filter', `label=dev.occitan.entity=${e.id}`, '--filter', `label=dev.occitan.instance=${INSTANCE}`]).then((l) => l.sort());

async function book(): Promise<Record<string, { memory: number; ports: string[]; entity: string }>> {
  return ((await ctx.state.get<{ holds: Record<string, { memory: number; ports: string[]; entity: string }> }>('book:local'))?.value.holds) ?? {};
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
  ctx = makeTestContext({ provider: 'docker', db, options: OPTIONS, durations: { dockerStopTimeout: 1000, dockerReapGrace: 3_600_000 } });
  backend = createBackend('docker');
  await backend.init(ctx);
});

afterAll(async () => {
  await backend?.close();
  const ids = await dockerLines(['ps', '-aq', '--filter', `label=dev.occitan.instance=${INSTANCE}`]).catch(() => []);
  if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined);
  if (store) await store.close();
  else if (url) await connectServer(url).db.destroy(dbName).catch(() => undefined);
});

it('ports on a node in network mode none are a 400 naming the node; nothing is made or held', async () => {
  const e = service({ 'occitan.docker.ports': ['8080'], 'occitan.docker.scale': 1 });
  const f = await failure(backend.create(e));
  expect(f.status).toBe(400);
  expect(f.message).toContain('network mode none');
  expect(f.message).toContain('local');
  expect(await replicas(e)).toEqual([]);
  expect(Object.values(await book()).filter((h) => h.entity === e.id)).toEqual([]);
  // Scaling an existing service without ports is fine; giving it ports is refused before anything changes.
  const plain = service({ 'occitan.docker.scale': 1 });
  await backend.create(plain);
  const before = await replicas(plain);
  const g = await failure(backend.update({ ...plain, attributes: { ...plain.attributes, 'occitan.docker.ports': ['8080'] } }, { attributes: { 'occitan.docker.ports': ['8080'] }, mixinsAdded: [], mixinsRemoved: [] }));
  expect(g.status).toBe(400);
  expect(await replicas(plain)).toEqual(before);
  await backend.delete(plain);
});

it('a scale-up that runs out of memory is a 409 naming it, and removes the replicas it made', async () => {
  const e = service({ 'occitan.docker.memory': 64 / 1024 });
  await backend.create(e);
  const f = await failure(backend.action(e, SCALE, { number: 3 }));
  expect(f.status).toBe(409);
  expect(f.message).toContain('memory: 64 MiB asked, 32 MiB available of 160 MiB');
  expect(await replicas(e)).toEqual([]);
  expect(Object.values(await book()).filter((h) => h.entity === e.id)).toEqual([]);
  const two = await backend.action(e, SCALE, { number: 2 });
  expect(two.attributes).toEqual({ 'occitan.docker.scale': 2, 'occitan.docker.replicas': 2 });
  const ids = await replicas(e);
  expect((await inspectIds(ids)).map((c) => c.HostConfig.Memory)).toEqual([64 * MIB, 64 * MIB]);
  expect(Object.entries(await book()).filter(([, h]) => h.entity === e.id).map(([k, h]) => [k, h.memory]).sort()).toEqual([[`${e.id}#0`, 64 * MIB], [`${e.id}#1`, 64 * MIB]]);
  await backend.delete(e);
  expect(await replicas(e)).toEqual([]);
  expect(Object.values(await book()).filter((h) => h.entity === e.id)).toEqual([]);
});

it('a rolling update that fails puts every old replica back, running', async () => {
  const e = service({ 'occitan.docker.scale': 2 });
  await backend.create(e);
  const before = await replicas(e);
  expect(before).toHaveLength(2);
  const bad = { 'occitan.docker.command': ['/no/such/program'] };
  const f = await failure(backend.update({ ...e, attributes: { ...e.attributes, ...bad } }, { attributes: bad, mixinsAdded: [], mixinsRemoved: [] }));
  expect(f.status).toBe(400);
  expect(f.message).toContain('/no/such/program');
  expect(await replicas(e)).toEqual(before);
  expect((await inspectIds(before)).map((c) => c.State.Status)).toEqual(['running', 'running']);
  // A good update rolls both onto the new definition.
  const good = { 'occitan.docker.environment': { ROLLED: 'yes' } };
  const r = await backend.update({ ...e, attributes: { ...e.attributes, ...good } }, { attributes: good, mixinsAdded: [], mixinsRemoved: [] });
  expect(r.attributes['occitan.docker.replicas']).toBe(2);
  const after = await inspectIds(await replicas(e));
  expect(after).toHaveLength(2);
  for (const c of after) {
    expect(before).not.toContain(c.Id);
    expect(c.Config.Env).toEqual(expect.arrayContaining(['ROLLED=yes']));
    expect(c.State.Status).toBe('running');
  }
  await backend.delete(e);
});

it('a replica stopped behind occitan\'s back counts no more, and the next scale replaces it', async () => {
  const e = service({ 'occitan.docker.scale': 2 });
  await backend.create(e);
  const [first, second] = await inspectIds(await replicas(e));
  await docker(['stop', '-t', '0', first!.Id]);
  expect((await backend.retrieve(e)).attributes).toEqual({ 'occitan.docker.scale': 2, 'occitan.docker.replicas': 1 });
  const again = await backend.action(e, SCALE, { number: 2 });
  expect(again.attributes['occitan.docker.replicas']).toBe(2);
  const now = await replicas(e);
  expect(now).toHaveLength(2);
  expect(now).toContain(second!.Id);
  expect(now).not.toContain(first!.Id);
  const bad = await failure(backend.action(e, SCALE, { number: -1 }));
  expect(bad.status).toBe(400);
  await backend.delete(e);
  await backend.delete(e);
  expect(await replicas(e)).toEqual([]);
});
