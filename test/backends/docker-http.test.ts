/**
 * The docker provider through OCCI, as an admin and a user meet it: the admin registers an image as an
 * os_tpl template (depends on os_tpl and docker#container, image default with its tag, occitan.provider
 * default docker); a compute made from it lands on Docker although the kind's default provider is dummy.
 * Checked with `docker inspect` on occitan's private dockerd (bash scripts/services.sh start docker).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startHarness } from '../support/harness';
import type { Harness } from '../support/harness';
import { SOCKET, docker, dockerLines, inspectIds, requireDaemon } from './docker-observer';

const J = 'application/occi+json';
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const TPL = 'https://example.org/occi/os_tpl#';
const INSTANCE = `http-${randomUUID().slice(0, 8)}`;
let h: Harness;

function backendsFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-docker-backends-'));
  const file = path.join(dir, 'backends.json');
  const kinds = ['compute', 'storage', 'storagelink', 'network', 'networkinterface'];
  fs.writeFileSync(file, JSON.stringify({
    providers: { dummy: { backend: 'dummy' }, docker: { backend: 'docker', options: { nodes: [{ id: 'local', socketPath: SOCKET }], instance: INSTANCE } } },
    // dummy first: only a template that names docker puts a compute there.
    kinds: Object.fromEntries(kinds.map((k) => [INFRA + k, { providers: k === 'compute' ? ['dummy', 'docker'] : ['dummy'] }])),
  }));
  return file;
}

function template(term: string, image: string): Record<string, unknown> {
  return {
    term, scheme: TPL, title: `${term} image`, location: `/templates/os/${term}/`,
    depends: [INFRA + 'os_tpl', 'https://occitan.dev/occi/docker#container'],
    applies: [INFRA + 'compute'],
    attributes: {
      'occitan.docker.image': { type: 'string', mutable: true, required: false, default: image },
      'occitan.provider': { type: 'string', mutable: false, required: false, default: 'docker' },
    },
  };
}

const ours = (): Promise<string[]> => dockerLines(['ps', '-aq', '--no-trunc', '--filter', `label=dev.occitan.instance=${INSTANCE}`]);

beforeAll(async () => {
  await requireDaemon();
  h = await startHarness({ backendsFile: backendsFile(), timers: { leaseSweep: 5000, dockerStopTimeout: 2000, dockerReapGrace: 3_600_000 } });
  const res = await h.http.post('/-/').set('Content-Type', J).set('Accept', J)
    .send(JSON.stringify({ mixins: [template('busybox', 'occitan/busybox:test'), template('absent', 'occitan/absent:1.0')] }));
  expect(res.status).toBe(200);
});

afterAll(async () => {
  await h?.close();
  const ids = await ours().catch(() => []);
  if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined);
});

function computeBody(mixins: string[], attributes: Record<string, unknown>): string {
  return JSON.stringify({ kind: INFRA + 'compute', mixins, attributes });
}

test('a compute from a docker template runs as a container; its actions and delete reach Docker', async () => {
  const created = await h.http.post('/compute/').set('Content-Type', J).set('Accept', J)
    .send(computeBody([TPL + 'busybox'], { 'occi.compute.memory': 0.0625, 'occitan.docker.command': ['sleep', '3600'], 'occi.core.title': 'box' }));
  expect(created.status).toBe(201);
  const loc = new URL(created.headers.location as string).pathname;
  expect(created.body.attributes).toMatchObject({
    'occitan.provider': 'docker',
    'occitan.docker.image': 'occitan/busybox:test',
    'occi.compute.state': 'active',
    'occi.compute.state.message': expect.stringMatching(/^running since /),
  });
  const [c] = await inspectIds(await ours());
  expect(await ours()).toHaveLength(1);
  expect(c!.State.Status).toBe('running');
  expect(c!.Config.Image).toBe('occitan/busybox:test');
  expect(c!.Config.Cmd).toEqual(['sleep', '3600']);
  expect(c!.HostConfig.Memory).toBe(64 * 1024 * 1024);
  expect(c!.Config.Labels?.['dev.occitan.tenant']).toEqual(expect.any(String));
  expect(c!.Name).not.toContain(loc.split('/').pop());

  const stopped = await h.http.post(`${loc}?action=stop`).set('Accept', J);
  expect(stopped.status).toBe(200);
  expect(stopped.body.attributes['occi.compute.state']).toBe('inactive');
  expect((await inspectIds([c!.Id]))[0]!.State.Status).toBe('exited');

  const hibernate = await h.http.post(`${loc}?action=suspend`).set('Content-Type', J).set('Accept', J)
    .send(JSON.stringify({ action: 'http://schemas.ogf.org/occi/infrastructure/compute/action#suspend', attributes: { method: 'hibernate' } }));
  expect(hibernate.status).toBe(501);

  expect((await h.http.delete(loc)).status).toBe(200);
  expect(await ours()).toEqual([]);
  expect((await h.http.get(loc)).status).toBe(404);
});

test('a template whose image the node lacks is a 400 naming it; nothing is stored or made', async () => {
  const before = await h.http.get('/compute/').set('Accept', 'text/uri-list');
  const res = await h.http.post('/compute/').set('Content-Type', J).set('Accept', J).send(computeBody([TPL + 'absent'], {}));
  expect(res.status).toBe(400);
  expect(JSON.stringify(res.body)).toContain('occitan/absent:1.0');
  expect(await ours()).toEqual([]);
  const after = await h.http.get('/compute/').set('Accept', 'text/uri-list');
  expect(after.text).toBe(before.text);
});

test('an image without a tag is refused with 400 before the provider is asked', async () => {
  const res = await h.http.post('/compute/').set('Content-Type', J).set('Accept', J)
    .send(computeBody([TPL + 'busybox'], { 'occitan.docker.image': 'occitan/busybox' }));
  expect(res.status).toBe(400);
  expect(JSON.stringify(res.body)).toContain('occitan.docker.image');
  expect(await ours()).toEqual([]);
});

test('a compute without a docker template stays on the kind\'s default provider', async () => {
  const res = await h.http.post('/compute/').set('Content-Type', J).set('Accept', J).send(computeBody([], {}));
  expect(res.status).toBe(201);
  expect(res.body.attributes['occitan.provider']).toBe('dummy');
  expect(await ours()).toEqual([]);
});
