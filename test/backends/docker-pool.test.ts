/**
 * A pool of two Docker Engines through OCCI (bash scripts/services.sh start docker starts both): the unix
 * one from backends.json, and the TCP+TLS one an admin adds at run time as a node entity. A node whose
 * certificate the Engine refuses is a 503 and nothing is added. Siren's provision_dockers: a service of
 * two 64 MiB replicas on two named nodes with a lease, one replica per node, all or none; deleting the
 * service removes both and frees both reservations. Best fit puts a compute on the fuller node that
 * still fits. Observed with the docker CLI on each engine.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startHarness } from '../support/harness';
import type { Harness } from '../support/harness';
import { TLS, TLS_DIR, UNIX, docker, dockerLines, requireDaemon } from './docker-observer';
import type { Engine } from './docker-observer';

const J = 'application/occi+json';
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const NODE = 'https://occitan.dev/occi/docker#node';
const SERVICE = 'https://occitan.dev/occi/docker#service';
const CONTAINER = 'https://occitan.dev/occi/docker#container';
const PLACEMENT = 'https://occitan.dev/occi/docker#placement';
const LEASE = 'https://occitan.dev/occi/occitan#lease';
const IMAGE = 'occitan/busybox:test';
const RUN = randomUUID().slice(0, 8);
const INSTANCE = `pool-${RUN}`;
const LOCAL_ONLY = `occitan/busybox:local-${RUN}`;
let h: Harness;

function backendsFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-pool-'));
  const file = path.join(dir, 'backends.json');
  fs.writeFileSync(file, JSON.stringify({
    providers: { docker: { backend: 'docker', options: { nodes: [{ ...UNIX.node, memory: 0.25, location: 'lab' }], instance: INSTANCE } } },
    kinds: { [`${INFRA}compute`]: { providers: ['docker'] } },
  }));
  return file;
}

const ours = (engine: Engine): Promise<string[]> => dockerLines(['ps', '-aq', '--no-trunc', '--filter', `label=dev.occitan.instance=${INSTANCE}`], engine);
const post = (p: string, body: unknown) => h.http.post(p).set('Content-Type', J).set('Accept', J).send(JSON.stringify(body));

async function reserved(node: string, gib: number): Promise<unknown> {
  let value: unknown;
  for (let i = 0; i < 100; i++) {
    value = (await h.http.get(`/nodes/${node}`).set('Accept', J)).body.attributes?.['occitan.docker.node.memory.reserved'];
    if (value === gib) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  return value;
}

beforeAll(async () => {
  await requireDaemon(UNIX);
  await requireDaemon(TLS);
  await docker(['tag', IMAGE, LOCAL_ONLY], UNIX);
  h = await startHarness({ backendsFile: backendsFile(), timers: { leaseSweep: 5000, dockerStopTimeout: 1000, dockerReapGrace: 3_600_000 } });
});

afterAll(async () => {
  await h?.close();
  for (const engine of [UNIX, TLS]) {
    const ids = await ours(engine).catch(() => []);
    if (ids.length) await docker(['rm', '-f', ...ids], engine).catch(() => undefined);
  }
  await docker(['rmi', LOCAL_ONLY], UNIX).catch(() => undefined);
});

test('an admin adds the TLS engine as a node; a certificate the engine refuses is a 503 and adds nothing', async () => {
  // The server's own certificate is not a client certificate (its key usage is serverAuth): refused.
  const refused = await post('/nodes/', { kind: NODE, attributes: { 'occi.core.id': 'wrong', 'occitan.docker.node.endpoint': TLS.node.endpoint, 'occitan.docker.node.tls': { ca: `${TLS_DIR}/ca.pem`, cert: `${TLS_DIR}/server-cert.pem`, key: `${TLS_DIR}/server-key.pem` } } });
  expect(refused.status).toBe(503);
  expect(refused.headers['retry-after']).toBe('5');
  const added = await post('/nodes/', { kind: NODE, attributes: { 'occi.core.id': 'remote', 'occitan.docker.node.endpoint': TLS.node.endpoint, 'occitan.docker.node.tls': TLS.node.tls, 'occitan.docker.node.memory.total': 0.25, 'occitan.docker.node.location': 'residence' } });
  expect(added.status).toBe(201);
  expect(new URL(added.headers.location as string).pathname).toBe('/nodes/remote');
  expect(added.body.attributes).toMatchObject({ 'occitan.docker.node.state': 'up', 'occitan.docker.node.memory.total': 0.25, 'occitan.docker.node.memory.available': 0.25, 'occitan.docker.node.location': 'residence' });
  const list = await h.http.get('/nodes/').set('Accept', 'text/uri-list');
  expect(list.text.trim().split('\n').map((l) => new URL(l).pathname).sort()).toEqual(['/nodes/local', '/nodes/remote']);
});

test('provision to two named nodes: one replica on each, with reservations; deleting the service removes both', async () => {
  const created = await post('/services/', {
    kind: SERVICE,
    mixins: [PLACEMENT, LEASE],
    attributes: {
      'occi.core.id': 'siren', 'occitan.docker.name': 'siren', 'occitan.docker.image': IMAGE, 'occitan.docker.command': ['sleep', '3600'],
      'occitan.docker.memory': 64 / 1024, 'occitan.docker.scale': 2, 'occitan.docker.placement.nodes': ['local', 'remote'], 'occitan.lease.duration': 3600,
    },
  });
  expect(created.status).toBe(201);
  expect(created.body.attributes).toMatchObject({ 'occitan.docker.replicas': 2, 'occitan.lease.expires': expect.any(String) });
  const [onLocal, onRemote] = [await ours(UNIX), await ours(TLS)];
  expect([onLocal.length, onRemote.length]).toEqual([1, 1]);
  const labels = JSON.parse(await docker(['inspect', '--format', '{{json .Config.Labels}}', onRemote[0]!], TLS)) as Record<string, string>;
  expect(labels['dev.occitan.replica']).toBe('1');
  expect(await reserved('local', 0.0625)).toBe(0.0625);
  expect(await reserved('remote', 0.0625)).toBe(0.0625);

  expect((await h.http.delete('/services/siren')).status).toBe(200);
  expect([await ours(UNIX), await ours(TLS)]).toEqual([[], []]);
  expect(await reserved('local', 0)).toBe(0);
  expect(await reserved('remote', 0)).toBe(0);
});

test('all or none: a replica the second node cannot run (its image is not there) leaves nothing on the first', async () => {
  const res = await post('/services/', {
    kind: SERVICE,
    mixins: [PLACEMENT],
    attributes: { 'occitan.docker.name': 'half', 'occitan.docker.image': LOCAL_ONLY, 'occitan.docker.command': ['sleep', '3600'], 'occitan.docker.scale': 2, 'occitan.docker.placement.nodes': ['local', 'remote'] },
  });
  expect(res.status).toBe(400);
  expect(JSON.stringify(res.body)).toContain(`image ${LOCAL_ONLY} is not on docker node remote`);
  expect([await ours(UNIX), await ours(TLS)]).toEqual([[], []]);
  expect(await reserved('local', 0)).toBe(0);
});

test('best fit: a compute goes to the node with the least memory left that still fits', async () => {
  const compute = (mib: number, attributes: Record<string, unknown> = {}) =>
    post('/compute/', { kind: `${INFRA}compute`, mixins: [CONTAINER, PLACEMENT], attributes: { 'occitan.docker.image': IMAGE, 'occitan.docker.command': ['sleep', '3600'], 'occi.compute.memory': mib / 1024, ...attributes } });
  const big = await compute(128, { 'occitan.docker.placement.node': 'remote' });
  expect(big.status).toBe(201);
  const small = await compute(64);
  expect(small.status).toBe(201);
  expect([(await ours(UNIX)).length, (await ours(TLS)).length]).toEqual([0, 2]);
  // 96 MiB no longer fits on remote (64 left): it goes to local.
  const third = await compute(96);
  expect(third.status).toBe(201);
  expect([(await ours(UNIX)).length, (await ours(TLS)).length]).toEqual([1, 2]);
  for (const r of [big, small, third]) expect((await h.http.delete(new URL(r.headers.location as string).pathname)).status).toBe(200);
  expect([await ours(UNIX), await ours(TLS)]).toEqual([[], []]);
});

test('an admin deletes the empty TLS node; it is gone from the pool', async () => {
  expect(await reserved('remote', 0)).toBe(0);
  expect((await h.http.delete('/nodes/remote')).status).toBe(200);
  const list = await h.http.get('/nodes/').set('Accept', 'text/uri-list');
  expect(list.text.trim().split('\n').map((l) => new URL(l).pathname)).toEqual(['/nodes/local']);
  const named = await post('/compute/', { kind: `${INFRA}compute`, mixins: [CONTAINER, PLACEMENT], attributes: { 'occitan.docker.image': IMAGE, 'occitan.docker.placement.node': 'remote' } });
  expect(named.status).toBe(400);
  expect(JSON.stringify(named.body)).toContain('no docker node named remote');
});
