/**
 * The Siren flow (seed 000) through OCCI, on occitan's private dockerd (bash scripts/services.sh start
 * docker), with real tokens: the nodes of backends.json are entities at /nodes/ showing total, reserved
 * and available memory, architecture and location; only global admins create, change or delete nodes;
 * placement reserves memory (10 concurrent creates that together exceed the node: exactly those that fit
 * succeed, the rest are 409 naming memory); constraints that no node meets are 409/400 leaving nothing;
 * delete and the end of a lease (in seconds, or in hours with the hour shortened by timers.leaseHour) free
 * the reservation. Nodes are shared: a member of another tenant reads them too (never writes them), and
 * each caller sees in a node's occitan.docker.node.containers only its own tenant's (a global admin all).
 * Observed with the docker CLI.
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
const NODE = 'https://occitan.dev/occi/docker#node';
const CONTAINER = 'https://occitan.dev/occi/docker#container';
const PLACEMENT = 'https://occitan.dev/occi/docker#placement';
const LEASE = 'https://occitan.dev/occi/occitan#lease';
const IMAGE = 'occitan/busybox:test';
const INSTANCE = `siren-${randomUUID().slice(0, 8)}`;
let h: Harness;
let admin: string;
let member: string;
/** A member of another tenant. */
let outsider: string;
let arch: string;

function backendsFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-siren-'));
  const file = path.join(dir, 'backends.json');
  fs.writeFileSync(file, JSON.stringify({
    providers: { docker: { backend: 'docker', options: { nodes: [{ id: 'local', endpoint: `unix://${SOCKET}`, memory: 0.25, location: 'lab' }], instance: INSTANCE } } },
    kinds: { [`${INFRA}compute`]: { providers: ['docker'] } },
  }));
  return file;
}

const as = (token: string) => ({ Authorization: `Bearer ${token}`, Accept: J });
const ours = (): Promise<string[]> => dockerLines(['ps', '-aq', '--no-trunc', '--filter', `label=dev.occitan.instance=${INSTANCE}`]);

function compute(mib: number, mixins: string[] = [], attributes: Record<string, unknown> = {}, token = member) {
  return h.http.post('/compute/').set(as(token)).set('Content-Type', J).send(JSON.stringify({
    kind: `${INFRA}compute`,
    mixins: [CONTAINER, ...mixins],
    attributes: { 'occitan.docker.image': IMAGE, 'occitan.docker.command': ['sleep', '3600'], 'occi.compute.memory': mib / 1024, ...attributes },
  }));
}

/** The node's memory attributes once they read `reserved` GiB (polled, bounded: they follow reservations a moment later). */
async function nodeReserving(reserved: number): Promise<Record<string, unknown>> {
  let attributes: Record<string, unknown> = {};
  for (let i = 0; i < 100; i++) {
    const res = await h.http.get('/nodes/local').set(as(member));
    attributes = res.body.attributes as Record<string, unknown>;
    if (attributes['occitan.docker.node.memory.reserved'] === reserved) return attributes;
    await new Promise((r) => setTimeout(r, 100));
  }
  return attributes;
}

beforeAll(async () => {
  await requireDaemon();
  arch = (await docker(['info', '--format', '{{.Architecture}}'])).trim();
  const tokens = tokenFixture();
  admin = tokens.add('root', 'default', 'admin', true);
  member = tokens.add('alice', 'default', 'member');
  outsider = tokens.add('bob', 'edge', 'member');
  // An hour of the lease mixin lasts 2 s here.
  h = await startTokenHarness(tokens, { backendsFile: backendsFile(), timers: { leaseSweep: 200, leaseHour: 2000, dockerStopTimeout: 1000, dockerReapGrace: 3_600_000 } });
});

afterAll(async () => {
  await h?.close();
  const ids = await ours().catch(() => []);
  if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined);
});

test('the nodes of backends.json are listed with their memory, architecture and location', async () => {
  const res = await h.http.get('/nodes/').set(as(member));
  expect(res.status).toBe(200);
  expect(res.headers['x-occi-total']).toBe('1');
  const [node] = res.body.resources as Array<{ kind: string; id: string; attributes: Record<string, unknown> }>;
  expect(node!.kind).toBe(NODE);
  expect(node!.id).toBe('local');
  expect(node!.attributes).toMatchObject({
    'occi.core.id': 'local',
    'occitan.docker.node.endpoint': `unix://${SOCKET}`,
    'occitan.docker.node.memory.total': 0.25,
    'occitan.docker.node.memory.reserved': 0,
    'occitan.docker.node.memory.available': 0.25,
    'occitan.docker.node.arch': arch,
    'occitan.docker.node.location': 'lab',
    'occitan.docker.node.networkMode': 'none',
    'occitan.docker.node.state': 'up',
    'occitan.provider': 'docker',
  });
});

test('only a global admin creates, changes or deletes a node; a bad or silent endpoint leaves nothing', async () => {
  const body = (attributes: Record<string, unknown>): string => JSON.stringify({ kind: NODE, attributes });
  const silent = { 'occi.core.id': 'edge9', 'occitan.docker.node.endpoint': 'unix:///run/occitan-test/no-such-engine.sock' };
  const byMember = await h.http.post('/nodes/').set(as(member)).set('Content-Type', J).send(body(silent));
  expect(byMember.status).toBe(403);
  expect(JSON.stringify(byMember.body)).toContain('global admin');
  expect((await h.http.delete('/nodes/local').set(as(member))).status).toBe(403);
  expect((await h.http.post('/nodes/local').set(as(member)).set('Content-Type', J).send(body({ 'occitan.docker.node.location': 'moved' }))).status).toBe(403);

  const unreachable = await h.http.post('/nodes/').set(as(admin)).set('Content-Type', J).send(body(silent));
  expect(unreachable.status).toBe(503);
  expect(unreachable.headers['retry-after']).toBe('5');
  const plain = await h.http.post('/nodes/').set(as(admin)).set('Content-Type', J).send(body({ 'occi.core.id': 'edge8', 'occitan.docker.node.endpoint': 'tcp://192.0.2.10:2375' }));
  expect(plain.status).toBe(400);
  expect(JSON.stringify(plain.body)).toContain('plain TCP is refused');
  const listed = await h.http.get('/nodes/').set(as(member)).set('Accept', 'text/uri-list');
  expect(listed.text.trim().split('\n').map((l) => new URL(l).pathname)).toEqual(['/nodes/local']);

  const moved = await h.http.post('/nodes/local').set(as(admin)).set('Content-Type', J).send(body({ 'occitan.docker.node.location': 'lab' }));
  expect(moved.status).toBe(200);
  const endpoint = await h.http.post('/nodes/local').set(as(admin)).set('Content-Type', J).send(body({ 'occitan.docker.node.endpoint': 'unix:///run/other.sock' }));
  expect(endpoint.status).toBe(409);
});

test('10 concurrent creates that together exceed the node: exactly those that fit succeed, the rest 409', async () => {
  const answers = await Promise.all(Array.from({ length: 10 }, () => compute(64)));
  const statuses = answers.map((a) => a.status).sort();
  expect(statuses).toEqual([201, 201, 201, 201, 409, 409, 409, 409, 409, 409]);
  for (const a of answers.filter((x) => x.status === 409)) {
    expect(JSON.stringify(a.body)).toContain('no capacity');
    expect(JSON.stringify(a.body)).toContain('memory: 64 MiB asked, 0 MiB available of 256 MiB');
  }
  expect(await ours()).toHaveLength(4);
  const full = await nodeReserving(0.25);
  expect(full).toMatchObject({ 'occitan.docker.node.memory.reserved': 0.25, 'occitan.docker.node.memory.available': 0 });
  const computes = await h.http.get('/compute/').set(as(member)).set('Accept', 'text/uri-list');
  expect(computes.text.trim().split('\n')).toHaveLength(4);

  // A node that still holds reservations is not deleted.
  const busy = await h.http.delete('/nodes/local').set(as(admin));
  expect(busy.status).toBe(409);
  expect(JSON.stringify(busy.body)).toContain('4 reservations');
  expect((await h.http.get('/nodes/local').set(as(member))).status).toBe(200);

  for (const a of answers.filter((x) => x.status === 201)) expect((await h.http.delete(new URL(a.headers.location as string).pathname).set(as(member))).status).toBe(200);
  expect(await ours()).toEqual([]);
  expect(await nodeReserving(0)).toMatchObject({ 'occitan.docker.node.memory.reserved': 0, 'occitan.docker.node.memory.available': 0.25 });
});

test('constraints no node meets: 409 naming what ran out (arch, location), 400 for an unknown node; nothing left', async () => {
  const wrongArch = await compute(16, [PLACEMENT], { 'occitan.docker.placement.arch': 'no-such-arch' });
  expect(wrongArch.status).toBe(409);
  expect(JSON.stringify(wrongArch.body)).toContain('architecture no-such-arch');
  const elsewhere = await compute(16, [PLACEMENT], { 'occitan.docker.placement.location': 'residence' });
  expect(elsewhere.status).toBe(409);
  expect(JSON.stringify(elsewhere.body)).toContain('location residence');
  const unknown = await compute(16, [PLACEMENT], { 'occitan.docker.placement.node': 'edge42' });
  expect(unknown.status).toBe(400);
  expect(JSON.stringify(unknown.body)).toContain('no docker node named edge42');
  const tooBig = await compute(512);
  expect(tooBig.status).toBe(409);
  expect(JSON.stringify(tooBig.body)).toContain('memory: 512 MiB asked');
  expect(await ours()).toEqual([]);
  const placed = await compute(16, [PLACEMENT], { 'occitan.docker.placement.node': 'local', 'occitan.docker.placement.arch': arch, 'occitan.docker.placement.location': 'lab' });
  expect(placed.status).toBe(201);
  expect(await nodeReserving(0.015625)).toMatchObject({ 'occitan.docker.node.memory.reserved': 0.015625 });
  expect((await h.http.delete(new URL(placed.headers.location as string).pathname).set(as(member))).status).toBe(200);
  expect(await nodeReserving(0)).toMatchObject({ 'occitan.docker.node.memory.reserved': 0 });
});

test('the end of a lease removes the container and frees its reservation', async () => {
  const leased = await compute(64, [LEASE], { 'occitan.lease.duration': 1 });
  expect(leased.status).toBe(201);
  const loc = new URL(leased.headers.location as string).pathname;
  expect(await ours()).toHaveLength(1);
  expect(await nodeReserving(0.0625)).toMatchObject({ 'occitan.docker.node.memory.reserved': 0.0625 });
  let status = 200;
  for (let i = 0; i < 100 && status === 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = (await h.http.get(loc).set(as(member))).status;
  }
  expect(status).toBe(404);
  expect(await ours()).toEqual([]);
  expect(await nodeReserving(0)).toMatchObject({ 'occitan.docker.node.memory.reserved': 0, 'occitan.docker.node.memory.available': 0.25 });
});

test('every tenant reads the nodes; each sees only its own tenant\'s containers there, a global admin all', async () => {
  const listed = await h.http.get('/nodes/').set(as(outsider));
  expect(listed.status).toBe(200);
  expect((listed.body.resources as Array<{ id: string }>).map((r) => r.id)).toEqual(['local']);
  expect((await h.http.get('/nodes/local').set(as(outsider))).status).toBe(200);
  // Reading is all another tenant may do.
  expect((await h.http.post('/nodes/local').set(as(outsider)).set('Content-Type', J).send(JSON.stringify({ attributes: { 'occitan.docker.node.location': 'x' } }))).status).toBe(403);
  expect((await h.http.delete('/nodes/local').set(as(outsider))).status).toBe(403);
  const squat = await h.http.put('/nodes/squat').set(as(outsider)).set('Content-Type', J).send(JSON.stringify({ kind: `${INFRA}compute`, mixins: [CONTAINER], attributes: { 'occitan.docker.image': IMAGE } }));
  expect(squat.status).toBe(400);
  expect(JSON.stringify(squat.body)).toContain('holds only entities of');

  const mine = await compute(32);
  const theirs = await compute(16, [], {}, outsider);
  expect([mine.status, theirs.status]).toEqual([201, 201]);
  const minePath = new URL(mine.headers.location as string).pathname;
  const theirsPath = new URL(theirs.headers.location as string).pathname;
  // Only nodes cross tenants: the other tenant's compute stays invisible.
  expect((await h.http.get(minePath).set(as(outsider))).status).toBe(404);
  await nodeReserving(0.046875);
  const seen = async (token: string): Promise<unknown> => (await h.http.get('/nodes/local').set(as(token))).body.attributes['occitan.docker.node.containers'];
  expect(await seen(member)).toEqual([{ location: minePath, tenant: 'default', memory: 0.03125 }]);
  expect(await seen(outsider)).toEqual([{ location: theirsPath, tenant: 'edge', memory: 0.015625 }]);
  expect(await seen(admin)).toEqual(expect.arrayContaining([
    { location: minePath, tenant: 'default', memory: 0.03125 },
    { location: theirsPath, tenant: 'edge', memory: 0.015625 },
  ]));
  const inListing = (await h.http.get('/nodes/').set(as(outsider))).body.resources[0].attributes['occitan.docker.node.containers'];
  expect(inListing).toEqual([{ location: theirsPath, tenant: 'edge', memory: 0.015625 }]);

  expect((await h.http.delete(minePath).set(as(member))).status).toBe(200);
  expect((await h.http.delete(theirsPath).set(as(outsider))).status).toBe(200);
  expect(await ours()).toEqual([]);
  expect(await nodeReserving(0)).toMatchObject({ 'occitan.docker.node.memory.reserved': 0, 'occitan.docker.node.containers': [] });
});

test('a lease in hours (Siren): exactly one of hours and seconds; its end removes the container and frees the node', async () => {
  const both = await compute(64, [LEASE], { 'occitan.lease.duration': 60, 'occitan.lease.hours': 1 });
  expect(both.status).toBe(400);
  expect(JSON.stringify(both.body)).toContain('exactly one of occitan.lease.duration');
  expect(await ours()).toEqual([]);
  const started = Date.now();
  // Half an hour of 2 s.
  const leased = await compute(64, [LEASE], { 'occitan.lease.hours': 0.5 });
  expect(leased.status).toBe(201);
  const expires = Date.parse(leased.body.attributes['occitan.lease.expires'] as string);
  expect(expires - started).toBeGreaterThanOrEqual(1000 - 50);
  expect(expires - started).toBeLessThan(60_000);
  const loc = new URL(leased.headers.location as string).pathname;
  let status = 200;
  for (let i = 0; i < 200 && status === 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = (await h.http.get(loc).set(as(member))).status;
  }
  expect(status).toBe(404);
  expect(await ours()).toEqual([]);
  expect(await nodeReserving(0)).toMatchObject({ 'occitan.docker.node.memory.reserved': 0 });
});
