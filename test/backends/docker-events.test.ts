/**
 * Reconciliation while occitan runs, on occitan's private dockerd (bash scripts/services.sh start docker):
 * Docker's event stream tells occitan what happened behind its back (`docker rm -f` of a compute's
 * container → the compute is in error; `docker stop` → inactive; a service's replica removed → its
 * occitan.docker.replicas drops), and a labelled container no entity owns is removed once it is older than
 * the grace period, while unlabelled containers and other instances' are never touched. "Eventually" is a
 * bounded poll; the grace period and the reconcile period are short configuration keys here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startHarness } from '../support/harness';
import type { Harness } from '../support/harness';
import { UNIX, docker, dockerLines, requireDaemon } from './docker-observer';

const J = 'application/occi+json';
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const CONTAINER = 'https://occitan.dev/occi/docker#container';
const SERVICE = 'https://occitan.dev/occi/docker#service';
const IMAGE = 'occitan/busybox:test';
const INSTANCE = `events-${randomUUID().slice(0, 8)}`;
let h: Harness;

function backendsFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-events-'));
  const file = path.join(dir, 'backends.json');
  fs.writeFileSync(file, JSON.stringify({
    providers: { docker: { backend: 'docker', options: { nodes: [UNIX.node], instance: INSTANCE } } },
    kinds: { [`${INFRA}compute`]: { providers: ['docker'] } },
  }));
  return file;
}

/** Polls GET `location` until `ok` holds on its attributes (bounded: 15 s); answers the last attributes. */
async function eventually(location: string, ok: (a: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  let attributes: Record<string, unknown> = {};
  for (let i = 0; i < 150; i++) {
    attributes = (await h.http.get(location).set('Accept', J)).body.attributes as Record<string, unknown>;
    if (ok(attributes)) return attributes;
    await new Promise((r) => setTimeout(r, 100));
  }
  return attributes;
}

async function containerOf(location: string): Promise<string> {
  const doc = await h.occitan.service.get('default', location);
  const [id] = await dockerLines(['ps', '-aq', '--no-trunc', '--filter', `label=dev.occitan.entity=${doc.uid}`, '--filter', `label=dev.occitan.instance=${INSTANCE}`]);
  return id!;
}

async function compute(): Promise<string> {
  const res = await h.http.post('/compute/').set('Content-Type', J).set('Accept', J)
    .send(JSON.stringify({ kind: `${INFRA}compute`, mixins: [CONTAINER], attributes: { 'occitan.docker.image': IMAGE, 'occitan.docker.command': ['sleep', '3600'] } }));
  expect(res.status).toBe(201);
  expect(res.body.attributes['occi.compute.state']).toBe('active');
  return new URL(res.headers.location as string).pathname;
}

beforeAll(async () => {
  await requireDaemon();
  h = await startHarness({ backendsFile: backendsFile(), timers: { leaseSweep: 5000, dockerStopTimeout: 1000, dockerReapGrace: 1500, dockerReconcilePeriod: 300 } });
});

afterAll(async () => {
  await h?.close();
  const ids = await dockerLines(['ps', '-aq', '--filter', `label=dev.occitan.instance=${INSTANCE}`]).catch(() => []);
  if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined);
});

test('docker rm -f of a compute\'s container: the compute becomes error, saying its container is gone', async () => {
  const loc = await compute();
  const id = await containerOf(loc);
  await docker(['rm', '-f', id]);
  const attributes = await eventually(loc, (a) => a['occi.compute.state'] === 'error');
  expect(attributes['occi.compute.state']).toBe('error');
  expect(attributes['occi.compute.state.message']).toBe(`its container ${id.slice(0, 12)} is gone from docker node local (removed outside occitan)`);
  expect((await h.http.delete(loc)).status).toBe(200);
});

test('docker stop behind occitan\'s back: the compute becomes inactive; docker start: active again', async () => {
  const loc = await compute();
  const id = await containerOf(loc);
  await docker(['stop', '-t', '1', id]);
  const stopped = await eventually(loc, (a) => a['occi.compute.state'] === 'inactive');
  expect(stopped['occi.compute.state']).toBe('inactive');
  expect(stopped['occi.compute.state.message']).toMatch(/^exited with code \d+ at /);
  await docker(['start', id]);
  expect((await eventually(loc, (a) => a['occi.compute.state'] === 'active'))['occi.compute.state']).toBe('active');
  expect((await h.http.delete(loc)).status).toBe(200);
});

test('a replica removed behind occitan\'s back: the service\'s running count drops', async () => {
  const res = await h.http.post('/services/').set('Content-Type', J).set('Accept', J)
    .send(JSON.stringify({ kind: SERVICE, attributes: { 'occi.core.id': 'ev', 'occitan.docker.name': 'ev', 'occitan.docker.image': IMAGE, 'occitan.docker.command': ['sleep', '3600'], 'occitan.docker.scale': 2 } }));
  expect(res.status).toBe(201);
  expect(res.body.attributes['occitan.docker.replicas']).toBe(2);
  await docker(['rm', '-f', await containerOf('/services/ev')]);
  const after = await eventually('/services/ev', (a) => a['occitan.docker.replicas'] === 1);
  expect(after).toMatchObject({ 'occitan.docker.replicas': 1, 'occitan.docker.scale': 2 });
  expect((await h.http.delete('/services/ev')).status).toBe(200);
});

test('a labelled container no entity owns is removed after the grace period; others are never touched', async () => {
  const label = (k: string, v: string): string[] => ['--label', `${k}=${v}`];
  const orphan = (await docker(['create', ...label('dev.occitan.entity', randomUUID()), ...label('dev.occitan.instance', INSTANCE), IMAGE, 'sleep', '60'])).trim();
  const other = (await docker(['create', ...label('dev.occitan.entity', randomUUID()), ...label('dev.occitan.instance', `${INSTANCE}-other`), IMAGE])).trim();
  const unlabelled = (await docker(['create', IMAGE])).trim();
  try {
    let left = [orphan];
    for (let i = 0; i < 150 && left.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await dockerLines(['ps', '-aq', '--no-trunc', '--filter', `id=${orphan}`]);
    }
    expect(left).toEqual([]);
    expect(await dockerLines(['ps', '-aq', '--no-trunc', '--filter', `id=${other}`])).toEqual([other]);
    expect(await dockerLines(['ps', '-aq', '--no-trunc', '--filter', `id=${unlabelled}`])).toEqual([unlabelled]);
  } finally {
    await docker(['rm', '-f', other, unlabelled]).catch(() => undefined);
  }
});
