/**
 * Siren's provision_dockers across a restart, with real occitan OS processes (bash scripts/services.sh
 * start docker): `occitan serve` on a standalone store (`occitan store --port 0`), its docker provider on
 * two named nodes, edge1 (the private dockerd's unix socket) and edge2 (the second engine, TCP with TLS).
 * 1. Provision one image to both named nodes with 64 MiB for 1 hour (an hour lasts `timers.leaseHour`,
 *    30 s here): a service with the placement and lease mixins, one replica per named node, all or none.
 *    `docker ps` on each engine shows its replica with occitan's labels; the nodes listing shows the holds.
 * 2. A second provision to both nodes while edge2 lacks the memory: 409 naming it, and nothing left behind
 *    (no container, no service, no replica entity, no reservation).
 * 3. The server is stopped (SIGTERM: a graceful stop, never SIGKILL) and started again while the lease
 *    runs; the containers are still there once the first process has exited, and the restarted process
 *    ends the lease: both containers go and the nodes' reservations are freed (bounded polls).
 */
import { compiledCli } from '../support/compiled-cli';
import { field, occiCall as call } from '../support/occi-call';
import { OccitanChildren, freePort, serveEnv, stopOccitan, SERVE_READY, type OccitanProcess as Proc } from '../support/occitan-process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SOCKET, TLS, TLS_FILES, TLS_PORT, UNIX, docker, dockerLines, requireDaemon, type Engine } from '../backends/docker-observer';

jest.setTimeout(240_000);

const ROOT = path.resolve(__dirname, '..', '..');
const SERVICE = 'https://occitan.dev/occi/docker#service';
const PLACEMENT = 'https://occitan.dev/occi/docker#placement';
const LEASE = 'https://occitan.dev/occi/occitan#lease';
const IMAGE = 'occitan/busybox:test';
const INSTANCE = `siren-e2e-${randomUUID().slice(0, 8)}`;
/** The length of a lease hour for these servers. */
const HOUR_MS = 30_000;
/** How long the lease end may take to show, past the lease itself (sweeps, removals, a slow machine). */
const BOUND_MS = HOUR_MS + 90_000;
const MIB = 1 / 1024;


let children: OccitanChildren | undefined;
let work: string;
let backendsFile: string;
let storeUrl: string;

async function serve(name: string): Promise<Proc> {
  const port = await freePort();
  return children!.start(name, ['serve'], {
    ...serveEnv({ port, storeUrl, database: 'e2e-siren', dataDir: path.join(work, 'data'), backendsFile }),
    OCCITAN_TIMERS_LEASE_SWEEP: '500',
    OCCITAN_TIMERS_LEASE_HOUR: String(HOUR_MS),
    OCCITAN_TIMERS_DOCKER_STOP_TIMEOUT: '1000',
    OCCITAN_TIMERS_DOCKER_REAP_GRACE: '3600000',
  }, SERVE_READY);
}

/** SIGTERM (the graceful stop this test is about), SIGKILL only past a generous bound; the exit code. */
async function stop(p: Proc): Promise<number | null> {
  return (await stopOccitan(p, 60_000)).code;
}

async function eventually(what: string, probe: () => Promise<boolean>, boundMs = BOUND_MS): Promise<void> {
  const end = Date.now() + boundMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > end) throw new Error(`not within ${boundMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Labelled { id: string; labels: Record<string, string> }

/** Containers of this test's instance on one engine, with their labels. */
async function ours(engine: Engine): Promise<Labelled[]> {
  // One listing (no inspect after it, which would race a removal): `<id> <k=v,k=v,…>` per container.
  const lines = await dockerLines(['ps', '-a', '--no-trunc', '--filter', `label=dev.occitan.instance=${INSTANCE}`, '--format', '{{.ID}} {{.Labels}}'], engine);
  return lines.map((line) => {
    const [id, labels = ''] = line.split(' ', 2) as [string, string?];
    return { id, labels: Object.fromEntries(labels.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) };
  });
}

/** GiB reserved on each node, from the nodes listing. */
async function reservedByNode(base: string): Promise<Record<string, unknown>> {
  const res = await call(base, 'GET', '/nodes/');
  expect(res.status).toBe(200);
  return Object.fromEntries((field(res.json, 'resources') as Array<{ id: string; attributes: Record<string, unknown> }>).map((r) => [r.id, r.attributes['occitan.docker.node.memory.reserved']]));
}

function provision(base: string, name: string) {
  return call(base, 'POST', '/services/', {
    kind: SERVICE,
    mixins: [PLACEMENT, LEASE],
    attributes: {
      'occitan.docker.name': name,
      'occitan.docker.image': IMAGE,
      'occitan.docker.command': ['sleep', '3600'],
      'occitan.docker.memory': 64 * MIB,
      'occitan.docker.scale': 2,
      'occitan.docker.placement.nodes': ['edge1', 'edge2'],
      'occitan.lease.hours': 1,
    },
  });
}

beforeAll(async () => {
  await requireDaemon(UNIX);
  await requireDaemon(TLS);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-siren-e2e-'));
  children = new OccitanChildren(compiledCli().cli, work, 60_000);
  backendsFile = path.join(work, 'backends.json');
  fs.writeFileSync(backendsFile, JSON.stringify({
    providers: {
      docker: {
        backend: 'docker',
        options: {
          instance: INSTANCE,
          nodes: [
            { id: 'edge1', endpoint: `unix://${SOCKET}`, memory: 256 * MIB, location: 'residence' },
            // 96 MiB: one 64 MiB replica fits, a second does not.
            { id: 'edge2', endpoint: `tcp://127.0.0.1:${TLS_PORT}`, tls: TLS_FILES, memory: 96 * MIB, location: 'lab' },
          ],
        },
      },
    },
    kinds: { 'http://schemas.ogf.org/occi/infrastructure#compute': { providers: ['docker'] } },
  }));
  const store = await children.store('store', path.join(work, 'store'));
  storeUrl = store.announced;
}, 180_000);

afterAll(async () => {
  await children?.stopAll(10_000);
  for (const engine of [UNIX, TLS]) {
    const left = await ours(engine).catch(() => []);
    if (left.length) await docker(['rm', '-f', ...left.map((c) => c.id)], engine).catch(() => undefined);
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 60_000);

test('provision to two named nodes for 1 hour; a restart in between; the lease end removes both and frees the nodes', async () => {
  let server = await serve('first');
  let base = server.announced;
  const nodes = await call(base, 'GET', '/nodes/');
  expect(nodes.status).toBe(200);
  const byId = Object.fromEntries((field(nodes.json, 'resources') as Array<{ id: string; attributes: Record<string, unknown> }>).map((r) => [r.id, r.attributes]));
  expect(byId['edge1']).toMatchObject({ 'occitan.docker.node.memory.total': 0.25, 'occitan.docker.node.memory.reserved': 0, 'occitan.docker.node.location': 'residence', 'occitan.docker.node.state': 'up' });
  expect(byId['edge2']).toMatchObject({ 'occitan.docker.node.memory.total': 0.09375, 'occitan.docker.node.memory.reserved': 0, 'occitan.docker.node.location': 'lab', 'occitan.docker.node.state': 'up' });

  const made = await provision(base, 'siren');
  expect(made.status).toBe(201);
  const loc = new URL(made.headers.get('location')!).pathname;
  expect(field(made.json, 'attributes')).toMatchObject({ 'occitan.docker.scale': 2, 'occitan.docker.replicas': 2 });
  const expires = Date.parse(field(made.json, 'attributes', 'occitan.lease.expires') as string);
  expect(Number.isFinite(expires)).toBe(true);

  // One replica per named node, labelled for the service and its index.
  const [on1, on2] = await Promise.all([ours(UNIX), ours(TLS)]);
  expect(on1).toHaveLength(1);
  expect(on2).toHaveLength(1);
  const serviceId = on1[0]!.labels['dev.occitan.entity'];
  expect(on1[0]!.labels).toMatchObject({ 'dev.occitan.instance': INSTANCE, 'dev.occitan.tenant': 'default', 'dev.occitan.replica': '0' });
  expect(on2[0]!.labels).toMatchObject({ 'dev.occitan.entity': serviceId, 'dev.occitan.instance': INSTANCE, 'dev.occitan.replica': '1' });
  const replica1 = await call(base, 'GET', `${loc}/replicas/1`);
  expect(field(replica1.json, 'attributes')).toMatchObject({ 'occitan.docker.replica.node': 'edge2', 'occi.compute.state': 'active' });
  await eventually('the nodes listing shows both holds', async () => JSON.stringify(await reservedByNode(base)) === JSON.stringify({ edge1: 0.0625, edge2: 0.0625 }), 30_000);

  // All or none: edge2 has 32 MiB left, so nothing of a second provision stays.
  const refused = await provision(base, 'second');
  expect(refused.status).toBe(409);
  expect(JSON.stringify(refused.json)).toContain('edge2: memory: 64 MiB asked, 32 MiB available of 96 MiB');
  expect((await ours(UNIX)).map((c) => c.id)).toEqual(on1.map((c) => c.id));
  expect((await ours(TLS)).map((c) => c.id)).toEqual(on2.map((c) => c.id));
  const services = await call(base, 'GET', '/services/');
  expect((field(services.json, 'resources') as Array<{ attributes: Record<string, unknown> }>).map((r) => r.attributes['occitan.docker.name'])).toEqual(['siren']);
  expect((field((await call(base, 'GET', '/compute/')).json, 'resources') as unknown[] | undefined) ?? []).toHaveLength(2);
  await eventually('the refused provision holds nothing', async () => JSON.stringify(await reservedByNode(base)) === JSON.stringify({ edge1: 0.0625, edge2: 0.0625 }), 30_000);

  // A graceful restart while the lease runs: the containers outlive the first process.
  expect(await stop(server)).toBe(0);
  expect((await ours(UNIX)).map((c) => c.id)).toEqual(on1.map((c) => c.id));
  expect((await ours(TLS)).map((c) => c.id)).toEqual(on2.map((c) => c.id));
  server = await serve('second');
  base = server.announced;

  await eventually('the restarted server ends the lease: both containers go', async () => (await ours(UNIX)).length === 0 && (await ours(TLS)).length === 0);
  expect(Date.now()).toBeGreaterThanOrEqual(expires);
  await eventually('the service and its replicas are gone', async () => (await call(base, 'GET', loc)).status === 404 && ((field((await call(base, 'GET', '/compute/')).json, 'resources') as unknown[] | undefined) ?? []).length === 0, 30_000);
  await eventually('the nodes listing shows the reservations freed', async () => JSON.stringify(await reservedByNode(base)) === JSON.stringify({ edge1: 0, edge2: 0 }), 30_000);
  expect(await stop(server)).toBe(0);
});
