/**
 * The Genisys flow (seed 002) through OCCI, on occitan's private dockerd (bash scripts/services.sh start
 * docker): a service declared in the YAML service file exists from start-up; a service registered with
 * POST /services/ scales to 3 (three running containers in `docker ps`), to 1, says how many run
 * (occitan.docker.replicas, Genisys `status`), and an update of its image replaces its container. Ports
 * are published on the node's user-defined network with HostIp 127.0.0.1 (NetworkSettings.Ports), and two
 * replicas never ask one node for the same host port. Observed with the docker CLI, never through occitan.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startHarness } from '../support/harness';
import type { Harness } from '../support/harness';
import { SOCKET, docker, dockerLines, inspectIds, requireDaemon } from './docker-observer';

const J = 'application/occi+json';
const SERVICE = 'https://occitan.dev/occi/docker#service';
const SCALE = 'https://occitan.dev/occi/docker/service/action#scale';
const IMAGE = 'occitan/busybox:test';
const RUN = randomUUID().slice(0, 8);
const INSTANCE = `genisys-${RUN}`;
const NETWORK = `occitan-genisys-${RUN}`;
const IMAGE2 = `occitan/busybox:genisys-${RUN}`;
const PORT = 20000 + Math.floor(Math.random() * 20000);
let h: Harness;
let dir: string;

function files(): { backends: string; services: string } {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-genisys-'));
  const services = path.join(dir, 'services.yaml');
  fs.writeFileSync(services, [
    'fromfile:',
    `  image: ${IMAGE}`,
    '  command: sleep 3600',
    '  environment: { ORIGIN: file, PORT: 8080 }',
    '  scale: 1',
    '',
  ].join('\n'));
  const backends = path.join(dir, 'backends.json');
  fs.writeFileSync(backends, JSON.stringify({
    providers: {
      dummy: { backend: 'dummy' },
      docker: { backend: 'docker', options: { nodes: [{ id: 'local', endpoint: `unix://${SOCKET}`, networkMode: NETWORK }], instance: INSTANCE, serviceFile: services } },
    },
    kinds: { 'http://schemas.ogf.org/occi/infrastructure#compute': { providers: ['dummy'] } },
  }));
  return { backends, services };
}

/** The containers of a service entity (by its internal id, as the labels carry it), with `docker inspect`. */
async function containersOf(location: string) {
  const doc = await h.occitan.service.get('default', location);
  const ids = await dockerLines(['ps', '-aq', '--no-trunc', '--filter', `label=dev.occitan.entity=${doc.uid}`, '--filter', `label=dev.occitan.instance=${INSTANCE}`]);
  return inspectIds(ids);
}

function serviceBody(attributes: Record<string, unknown>): string {
  return JSON.stringify({ kind: SERVICE, attributes });
}

function scale(location: string, number: number) {
  return h.http.post(`${location}?action=scale`).set('Content-Type', J).set('Accept', J).send(JSON.stringify({ action: SCALE, attributes: { number } }));
}

beforeAll(async () => {
  await requireDaemon();
  await docker(['network', 'create', NETWORK]);
  await docker(['tag', IMAGE, IMAGE2]);
  const { backends } = files();
  h = await startHarness({ backendsFile: backends, timers: { leaseSweep: 5000, dockerStopTimeout: 1000, dockerReapGrace: 3_600_000 } });
});

afterAll(async () => {
  await h?.close();
  const ids = await dockerLines(['ps', '-aq', '--filter', `label=dev.occitan.instance=${INSTANCE}`]).catch(() => []);
  if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined);
  await docker(['network', 'rm', NETWORK]).catch(() => undefined);
  await docker(['rmi', IMAGE2]).catch(() => undefined);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('the service of the YAML service file exists from start-up, with its one replica running', async () => {
  const got = await h.http.get('/services/fromfile').set('Accept', J);
  expect(got.status).toBe(200);
  expect(got.body.kind).toBe(SERVICE);
  expect(got.body.attributes).toMatchObject({
    'occi.core.id': 'fromfile',
    'occitan.docker.name': 'fromfile',
    'occitan.docker.image': IMAGE,
    'occitan.docker.command': ['sleep', '3600'],
    'occitan.docker.environment': { ORIGIN: 'file', PORT: '8080' },
    'occitan.docker.scale': 1,
    'occitan.docker.replicas': 1,
    'occitan.provider': 'docker',
  });
  const [c, ...more] = await containersOf('/services/fromfile');
  expect(more).toEqual([]);
  expect(c!.State.Status).toBe('running');
  expect(c!.Config.Cmd).toEqual(['sleep', '3600']);
  expect(c!.Config.Env).toEqual(expect.arrayContaining(['ORIGIN=file', 'PORT=8080']));
  expect(c!.Config.Labels?.['dev.occitan.replica']).toBe('0');
});

test('register, scale 3, scale 1, status, update the image: the containers follow', async () => {
  const created = await h.http.post('/services/').set('Content-Type', J).set('Accept', J)
    .send(serviceBody({ 'occi.core.id': 'web', 'occitan.docker.name': 'web', 'occitan.docker.image': IMAGE, 'occitan.docker.command': ['sleep', '3600'], 'occitan.docker.environment': { VAR_A: 'value' } }));
  expect(created.status).toBe(201);
  expect(new URL(created.headers.location as string).pathname).toBe('/services/web');
  // Registered, not started (Genisys: scale starts containers).
  expect(created.body.attributes).toMatchObject({ 'occitan.docker.scale': 0, 'occitan.docker.replicas': 0, 'occitan.provider': 'docker' });
  expect(await containersOf('/services/web')).toEqual([]);

  const three = await scale('/services/web', 3);
  expect(three.status).toBe(200);
  expect(three.body.attributes).toMatchObject({ 'occitan.docker.scale': 3, 'occitan.docker.replicas': 3 });
  const running = await containersOf('/services/web');
  expect(running.map((c) => c.State.Status)).toEqual(['running', 'running', 'running']);
  expect(running.map((c) => c.Config.Labels?.['dev.occitan.replica']).sort()).toEqual(['0', '1', '2']);
  for (const c of running) {
    expect(c.Config.Image).toBe(IMAGE);
    expect(c.Config.Env).toEqual(expect.arrayContaining(['VAR_A=value']));
    expect(c.HostConfig.NetworkMode).toBe(NETWORK);
    expect(c.HostConfig.Init).toBe(true);
    expect(c.HostConfig.Privileged).toBe(false);
  }
  const ps = await dockerLines(['ps', '-q', '--filter', `label=dev.occitan.instance=${INSTANCE}`, '--filter', 'label=dev.occitan.replica']);
  expect(ps).toHaveLength(4); // web's three and fromfile's one

  const one = await scale('/services/web', 1);
  expect(one.status).toBe(200);
  expect(one.body.attributes).toMatchObject({ 'occitan.docker.scale': 1, 'occitan.docker.replicas': 1 });
  const left = await containersOf('/services/web');
  expect(left.map((c) => [c.Config.Labels?.['dev.occitan.replica'], c.State.Status])).toEqual([['0', 'running']]);

  const status = await h.http.get('/services/web').set('Accept', J);
  expect(status.status).toBe(200);
  expect(status.body.attributes['occitan.docker.replicas']).toBe(1);

  const updated = await h.http.post('/services/web').set('Content-Type', J).set('Accept', J)
    .send(serviceBody({ 'occitan.docker.image': IMAGE2 }));
  expect(updated.status).toBe(200);
  expect(updated.body.attributes).toMatchObject({ 'occitan.docker.image': IMAGE2, 'occitan.docker.replicas': 1 });
  const replaced = await containersOf('/services/web');
  expect(replaced).toHaveLength(1);
  expect(replaced[0]!.Id).not.toBe(left[0]!.Id);
  expect(replaced[0]!.Config.Image).toBe(IMAGE2);
  expect(replaced[0]!.State.Status).toBe('running');
  expect(replaced[0]!.Config.Labels?.['dev.occitan.definition']).not.toBe(left[0]!.Config.Labels?.['dev.occitan.definition']);
  expect(await inspectIds([left[0]!.Id])).toEqual([]);

  expect((await h.http.delete('/services/web')).status).toBe(200);
  expect(await dockerLines(['ps', '-aq', '--filter', `label=dev.occitan.instance=${INSTANCE}`, '--filter', 'label=dev.occitan.replica=0'])).toHaveLength(1); // fromfile's
  expect((await h.http.get('/services/web')).status).toBe(404);
});

test('ports are published on the node\'s network at 127.0.0.1; a second replica on the same node is a 409, nothing left', async () => {
  const created = await h.http.post('/services/').set('Content-Type', J).set('Accept', J)
    .send(serviceBody({ 'occi.core.id': 'pub', 'occitan.docker.name': 'pub', 'occitan.docker.image': IMAGE, 'occitan.docker.command': ['sleep', '3600'], 'occitan.docker.ports': [`${PORT}:8080`], 'occitan.docker.scale': 1 }));
  expect(created.status).toBe(201);
  expect(created.body.attributes['occitan.docker.replicas']).toBe(1);
  const [c] = await containersOf('/services/pub');
  expect(c!.HostConfig.NetworkMode).toBe(NETWORK);
  const ports = JSON.parse(await docker(['inspect', '--format', '{{json .NetworkSettings.Ports}}', c!.Id])) as unknown;
  expect(ports).toEqual({ '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(PORT) }] });

  const two = await scale('/services/pub', 2);
  expect(two.status).toBe(409);
  expect(JSON.stringify(two.body)).toContain(`host port ${PORT}/tcp`);
  const after = await containersOf('/services/pub');
  expect(after.map((x) => x.Id)).toEqual([c!.Id]);
  const got = await h.http.get('/services/pub').set('Accept', J);
  expect(got.body.attributes).toMatchObject({ 'occitan.docker.scale': 1, 'occitan.docker.replicas': 1 });
  expect((await h.http.delete('/services/pub')).status).toBe(200);
  expect(await containersOf('/services/pub').catch(() => [])).toEqual([]);
});

/** CouchDB's update_seq once occitan's own late writes (a node's reservations, reports of events) are done: polled, bounded. */
async function quietSeq(): Promise<string> {
  let last = await h.seq();
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const now = await h.seq();
    if (now === last) return now;
    last = now;
  }
  throw new Error('occitan kept writing for 10 s');
}

test('a service without a tagged image, or with a malformed port, is a 400 and nothing is stored', async () => {
  const before = await quietSeq();
  const untagged = await h.http.post('/services/').set('Content-Type', J).set('Accept', J)
    .send(serviceBody({ 'occitan.docker.name': 'x', 'occitan.docker.image': 'occitan/busybox' }));
  expect(untagged.status).toBe(400);
  expect(JSON.stringify(untagged.body)).toContain('occitan.docker.image');
  const badPort = await h.http.post('/services/').set('Content-Type', J).set('Accept', J)
    .send(serviceBody({ 'occitan.docker.name': 'x', 'occitan.docker.image': IMAGE, 'occitan.docker.ports': ['http'] }));
  expect(badPort.status).toBe(400);
  expect(JSON.stringify(badPort.body)).toContain('occitan.docker.ports');
  expect(await h.seq()).toBe(before);
});
