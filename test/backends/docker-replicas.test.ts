/**
 * A service's replicas as entities of their own (Siren's remove_service_by_id and remove_service), through
 * OCCI on occitan's private dockerd (bash scripts/services.sh start docker), with real tokens: scale a
 * service to 3 → three replica computes at <service>/replicas/<index> and three containers; DELETE of one
 * replica removes that container and lowers the service's scale to 2 (nothing is made again); a scale back
 * to 3 fills the free index; DELETE of the service removes every replica and frees the node. A client can
 * neither create a replica nor change its definition. Observed with the docker CLI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Harness } from '../support/harness';
import { startTokenHarness, tokenFixture } from '../support/auth';
import { SOCKET, docker, dockerLines, requireDaemon } from './docker-observer';

const J = 'application/occi+json';
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const SERVICE = 'https://occitan.dev/occi/docker#service';
const REPLICA = 'https://occitan.dev/occi/docker#replica';
const IMAGE = 'occitan/busybox:test';
const INSTANCE = `replicas-${randomUUID().slice(0, 8)}`;
let h: Harness;
let member: string;
let dir: string;

const as = (token: string) => ({ Authorization: `Bearer ${token}`, Accept: J });
const ours = (): Promise<string[]> => dockerLines(['ps', '-q', '--no-trunc', '--filter', `label=dev.occitan.instance=${INSTANCE}`]);
const oursAll = (): Promise<string[]> => dockerLines(['ps', '-aq', '--no-trunc', '--filter', `label=dev.occitan.instance=${INSTANCE}`]);

async function uriList(p: string): Promise<{ status: number; paths: string[] }> {
  const res = await h.http.get(p).set(as(member)).set('Accept', 'text/uri-list');
  return { status: res.status, paths: res.status === 200 ? res.text.trim().split('\n').filter(Boolean).map((l) => new URL(l).pathname).sort() : [] };
}

async function scale(loc: string, number: number) {
  return h.http.post(`${loc}?action=scale`).set(as(member)).set('Content-Type', J)
    .send(JSON.stringify({ action: 'https://occitan.dev/occi/docker/service/action#scale', attributes: { number } }));
}

/** The node's reserved memory once it reads `gib` (it follows the books a moment later; bounded poll). */
async function reserved(gib: number): Promise<unknown> {
  let value: unknown;
  for (let i = 0; i < 100; i++) {
    value = (await h.http.get('/nodes/local').set(as(member))).body.attributes['occitan.docker.node.memory.reserved'];
    if (value === gib) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  return value;
}

beforeAll(async () => {
  await requireDaemon();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-replicas-'));
  const backendsFile = path.join(dir, 'backends.json');
  fs.writeFileSync(backendsFile, JSON.stringify({
    providers: { docker: { backend: 'docker', options: { nodes: [{ id: 'local', endpoint: `unix://${SOCKET}`, memory: 0.5 }], instance: INSTANCE } } },
    kinds: { [`${INFRA}compute`]: { providers: ['docker'] } },
  }));
  const tokens = tokenFixture();
  tokens.add('root', 'default', 'admin', true);
  member = tokens.add('alice', 'acme', 'member');
  h = await startTokenHarness(tokens, { backendsFile, timers: { leaseSweep: 200, dockerStopTimeout: 1000, dockerReapGrace: 3_600_000 } });
});

afterAll(async () => {
  await h?.close();
  const ids = await oursAll().catch(() => []);
  if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('scale 3, delete one replica entity → 2 containers and scale 2; delete the service → none left', async () => {
  const made = await h.http.post('/services/').set(as(member)).set('Content-Type', J).send(JSON.stringify({
    kind: SERVICE,
    attributes: { 'occitan.docker.name': 'web', 'occitan.docker.image': IMAGE, 'occitan.docker.command': ['sleep', '3600'], 'occitan.docker.memory': 0.0625 },
  }));
  expect(made.status).toBe(201);
  const loc = new URL(made.headers.location as string).pathname;
  expect((await uriList(`${loc}/replicas/`)).status).toBe(404);

  const scaled = await scale(loc, 3);
  expect(scaled.status).toBe(200);
  expect(scaled.body.attributes).toMatchObject({ 'occitan.docker.scale': 3, 'occitan.docker.replicas': 3 });
  expect(await ours()).toHaveLength(3);
  const three = [0, 1, 2].map((i) => `${loc}/replicas/${i}`);
  expect((await uriList(`${loc}/replicas/`)).paths).toEqual(three);
  expect((await uriList('/compute/')).paths).toEqual(three);
  expect((await uriList('/mixins/docker/replica/')).paths).toEqual(three);
  const one = await h.http.get(`${loc}/replicas/1`).set(as(member));
  expect(one.status).toBe(200);
  expect(one.body.kind).toBe(`${INFRA}compute`);
  expect(one.body.mixins).toContain(REPLICA);
  expect(one.body.attributes).toMatchObject({
    'occitan.docker.replica.service': loc,
    'occitan.docker.replica.index': 1,
    'occitan.docker.replica.node': 'local',
    'occi.compute.state': 'active',
    'occi.compute.memory': 0.0625,
    'occitan.provider': 'docker',
  });
  expect(await reserved(0.1875)).toBe(0.1875);
  expect((await h.http.get('/nodes/local').set(as(member))).body.attributes['occitan.docker.node.containers']).toEqual(
    three.map((location) => ({ location, tenant: 'acme', memory: 0.0625 })),
  );

  // The definition is the service's; a client cannot make a replica either.
  const changed = await h.http.post(`${loc}/replicas/1`).set(as(member)).set('Content-Type', J).send(JSON.stringify({ attributes: { 'occi.compute.memory': 1 } }));
  expect(changed.status).toBe(409);
  expect(JSON.stringify(changed.body)).toContain('change the service');
  const forged = await h.http.post('/compute/').set(as(member)).set('Content-Type', J).send(JSON.stringify({ kind: `${INFRA}compute`, mixins: [REPLICA], attributes: {} }));
  expect(forged.status).toBe(400);
  expect(JSON.stringify(forged.body)).toContain('made by their service');

  // Siren's remove_service_by_id: that one container goes, and the service keeps one fewer.
  const before = await ours();
  expect((await h.http.delete(`${loc}/replicas/1`).set(as(member))).status).toBe(200);
  const after = await ours();
  expect(after).toHaveLength(2);
  expect(before).toEqual(expect.arrayContaining(after));
  expect((await h.http.get(`${loc}/replicas/1`).set(as(member))).status).toBe(404);
  expect((await uriList(`${loc}/replicas/`)).paths).toEqual([three[0], three[2]]);
  const service = await h.http.get(loc).set(as(member));
  expect(service.body.attributes).toMatchObject({ 'occitan.docker.scale': 2, 'occitan.docker.replicas': 2 });
  expect(await reserved(0.125)).toBe(0.125);
  // Not made again by a later scale to the same number.
  expect((await scale(loc, 2)).status).toBe(200);
  expect(await ours()).toEqual(after);

  // A scale back to 3 fills the free index.
  expect((await scale(loc, 3)).status).toBe(200);
  expect(await ours()).toHaveLength(3);
  expect((await uriList(`${loc}/replicas/`)).paths).toEqual(three);

  // Siren's remove_service: every replica goes with it.
  expect((await h.http.delete(loc).set(as(member))).status).toBe(200);
  expect(await oursAll()).toEqual([]);
  expect((await uriList(`${loc}/replicas/`)).status).toBe(404);
  expect((await uriList('/compute/')).paths).toEqual([]);
  expect(await reserved(0)).toBe(0);
});
