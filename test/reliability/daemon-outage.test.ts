/**
 * Issue 8, deliverable 3 (Docker): a dockerd of the suite's own (test/support/private-dockerd.ts: its own
 * socket, data root, exec root and pid file in a temporary directory) under occitan (harness, docker
 * provider on it). The daemon is stopped (SIGKILL, then SIGTERM) while creates and actions are in flight,
 * and requests keep arriving while it is down:
 * - every request ends as a success or a clear 502/503 (503 with Retry-After), never a 500;
 * - a create that failed leaves its entity absent, or present in state error with a message; never a
 *   healthy-looking entity for a container that does not run;
 * - once the daemon is back (same data), the reconciler leaves no orphan (a container labelled for this
 *   instance whose entity does not exist) and no ghost (an entity claiming active with no running container).
 * Waits are bounded polls; nothing is timed.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Response } from 'supertest';
import type { EntityDoc } from '../../src/store/entity-store';
import { startHarness, type Harness } from '../support/harness';
import { PrivateDockerd, TEST_IMAGE, startPrivateDockerd } from '../support/private-dockerd';

jest.setTimeout(300_000);

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const TPL = 'https://example.org/occi/os_tpl#';
const J = 'application/occi+json';
const INSTANCE = `outage-${randomUUID().slice(0, 8)}`;
const BOUND_MS = 90_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let dockerd: PrivateDockerd | undefined;
let h: Harness | undefined;
let work: string;

function backendsFile(endpoint: string): string {
  const file = path.join(work, 'backends.json');
  const kinds = ['compute', 'storage', 'storagelink', 'network', 'networkinterface'];
  fs.writeFileSync(file, JSON.stringify({
    // Not optional: the test must never fall back to dummy.
    providers: { dummy: { backend: 'dummy' }, docker: { backend: 'docker', options: { nodes: [{ id: 'outage', endpoint }], instance: INSTANCE } } },
    kinds: Object.fromEntries(kinds.map((k) => [INFRA + k, { providers: k === 'compute' ? ['docker'] : ['dummy'] }])),
  }));
  return file;
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-outage-'));
  dockerd = await startPrivateDockerd('occitan-outage-d-');
  h = await startHarness({
    backendsFile: backendsFile(dockerd.endpoint),
    // Short waits so the reconciler's passes come quickly; the reap grace still covers a create in flight.
    timers: { leaseSweep: 1000, dockerStopTimeout: 1000, dockerReapGrace: 3000, dockerReconcilePeriod: 1000 },
  });
  const tpl = await h.http.post('/-/').set('Content-Type', J).set('Accept', J).send(JSON.stringify({ mixins: [{
    term: 'busybox', scheme: TPL, title: 'busybox image', location: '/templates/os/busybox/',
    depends: [INFRA + 'os_tpl', 'https://occitan.dev/occi/docker#container'], applies: [INFRA + 'compute'],
    attributes: { 'occitan.docker.image': { type: 'string', mutable: true, required: false, default: TEST_IMAGE } },
  }] }));
  expect(tpl.status).toBe(200);
});

afterAll(async () => {
  await h?.close();
  await dockerd?.remove();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const computeBody = JSON.stringify({ kind: INFRA + 'compute', mixins: [TPL + 'busybox'], attributes: { 'occitan.docker.command': ['sleep', '3600'], 'occi.compute.memory': 0.0625 } });
const create = (location: string): Promise<Response> => h!.http.put(location).set('Content-Type', J).set('Accept', J).send(computeBody);
const act = (location: string, term: string): Promise<Response> => h!.http.post(`${location}?action=${term}`).set('Accept', J);

interface Outcome { what: string; location: string; status: number; retryAfter?: string; body: string }

async function outcome(what: string, location: string, sent: Promise<Response>): Promise<Outcome> {
  const r = await sent;
  return { what, location, status: r.status, ...(r.headers['retry-after'] ? { retryAfter: String(r.headers['retry-after']) } : {}), body: r.text.slice(0, 300) };
}

/** Every request ended as a success or a clear 502/503 (503 with Retry-After); never a 500. */
function expectClear(outcomes: readonly Outcome[], success: number): void {
  const unclear = outcomes.filter((o) => !(o.status === success || o.status === 502 || (o.status === 503 && o.retryAfter !== undefined)));
  expect(unclear).toEqual([]);
}

/** The entity of a failed create is absent, or in state error with a message: never healthy-looking. */
async function expectHonest(failed: readonly Outcome[]): Promise<void> {
  for (const f of failed) {
    const got = await h!.http.get(f.location).set('Accept', J);
    if (got.status === 404) continue;
    expect([f.location, got.status, got.body?.attributes?.['occi.compute.state']]).toEqual([f.location, 200, 'error']);
    expect(String(got.body.attributes['occi.compute.state.message'] ?? '')).not.toBe('');
  }
}

async function entities(): Promise<EntityDoc[]> {
  const out: EntityDoc[] = [];
  // Computes only: the provider's node entity (/nodes/outage) stands for the daemon itself.
  for await (const d of h!.occitan.service.entities.byProvider('docker')) if (d.kind === INFRA + 'compute') out.push(d);
  return out;
}

/** Orphans (labelled containers without an entity) and ghosts (entities claiming active without a running container). */
async function disagreements(): Promise<{ orphans: string[]; ghosts: string[]; unsettled: string[] }> {
  const rows = (await dockerd!.lines(['ps', '-a', '--filter', `label=dev.occitan.instance=${INSTANCE}`, '--format', '{{.ID}} {{.Label "dev.occitan.entity"}} {{.State}}']))
    .map((l) => l.split(' ')).map(([id, entity, state]) => ({ id: id!, entity: entity!, state: state! }));
  const docs = await entities();
  const uids = new Set(docs.map((d) => d.uid));
  const orphans = rows.filter((r) => !uids.has(r.entity)).map((r) => `${r.id} (entity ${r.entity}, ${r.state})`);
  const ghosts = docs
    .filter((d) => d.status === 'ready' && d.attributes['occi.compute.state'] === 'active' && !rows.some((r) => r.entity === d.uid && r.state === 'running'))
    .map((d) => `${d.location} claims active; containers: ${rows.filter((r) => r.entity === d.uid).map((r) => r.state).join(', ') || 'none'}`);
  const unsettled = docs.filter((d) => d.status !== 'ready').map((d) => `${d.location} ${d.status}`);
  return { orphans, ghosts, unsettled };
}

/** Bounded: until the reconciler has made store and daemon agree (or the bound passes); returns the last look. */
async function settled(): Promise<{ orphans: string[]; ghosts: string[]; unsettled: string[] }> {
  const until = Date.now() + BOUND_MS;
  let seen = await disagreements();
  // Informative only: what the first look after the restart saw (events and the reconciler then fix it).
  process.stdout.write(`daemon-outage: first look after the restart: ${seen.orphans.length} orphans, ${seen.ghosts.length} ghosts\n`);
  while (seen.orphans.length + seen.ghosts.length > 0 && Date.now() < until) {
    await sleep(500);
    seen = await disagreements();
  }
  return seen;
}

const containersNow = async (): Promise<number> => (await dockerd!.lines(['ps', '-aq', '--filter', `label=dev.occitan.instance=${INSTANCE}`])).length;

async function outageRound(signal: 'SIGKILL' | 'SIGTERM', tag: string): Promise<void> {
  // Three running computes the actions work on.
  const existing = [`/compute/${tag}-a`, `/compute/${tag}-b`, `/compute/${tag}-c`];
  for (const loc of existing) {
    const r = await create(loc);
    expect([loc, r.status, r.status === 201 ? '' : r.text]).toEqual([loc, 201, '']);
  }
  const before = await containersNow();

  // Creates and actions in flight...
  const fresh = Array.from({ length: 8 }, (_, i) => `/compute/${tag}-new${i}`);
  const inFlight = [
    ...fresh.map((loc) => outcome('create', loc, create(loc))),
    outcome('action', existing[0]!, act(existing[0]!, 'stop')),
    outcome('action', existing[1]!, act(existing[1]!, 'restart')),
  ];
  // ...and the daemon stops once at least one of the new containers exists (bounded).
  const until = Date.now() + BOUND_MS;
  while ((await containersNow()) <= before && Date.now() < until) await sleep(20);
  await dockerd!.stop(signal);
  // While it is down: more creates and actions arrive.
  const duringOutage = [
    outcome('create', `/compute/${tag}-down0`, create(`/compute/${tag}-down0`)),
    outcome('create', `/compute/${tag}-down1`, create(`/compute/${tag}-down1`)),
    outcome('action', existing[2]!, act(existing[2]!, 'stop')),
    outcome('action', existing[0]!, act(existing[0]!, 'start')),
  ];
  const early = await Promise.all(inFlight);
  const down = await Promise.all(duringOutage);
  process.stdout.write(`daemon-outage (${signal}): in flight ${early.map((o) => o.status).join(' ')}; while down ${down.map((o) => o.status).join(' ')}\n`);
  for (const body of new Set([...early, ...down].filter((o) => o.status >= 500).map((o) => o.body))) process.stdout.write(`  ${body}\n`);

  expectClear(early.filter((o) => o.what === 'create'), 201);
  expectClear(early.filter((o) => o.what === 'action'), 200);
  expectClear(down.filter((o) => o.what === 'create'), 201);
  expectClear(down.filter((o) => o.what === 'action'), 200);
  // With the daemon gone, nothing can succeed: each is a 503 (unreachable) or 502.
  expect(down.map((o) => o.status).filter((s) => s !== 502 && s !== 503)).toEqual([]);
  await expectHonest([...early, ...down].filter((o) => o.what === 'create' && o.status !== 201));

  // The daemon comes back on the same data: the reconciler leaves no orphan and no ghost.
  await dockerd!.start();
  const seen = await settled();
  expect(seen).toEqual({ orphans: [], ghosts: [], unsettled: [] });
  // Every acknowledged create is still an entity (absent only if its request failed).
  for (const o of [...early, ...down].filter((x) => x.what === 'create' && x.status === 201)) {
    expect([o.location, (await h!.http.get(o.location).set('Accept', J)).status]).toEqual([o.location, 200]);
  }
  // Clean up for the next round: every entity and container of this round goes.
  for (const d of await entities()) expect([d.location, (await h!.http.delete(d.location)).status]).toEqual([d.location, 200]);
  expect(await containersNow()).toBe(0);
}

test('dockerd SIGKILLed mid-way through creates and actions: clear 502/503, honest entities, no orphan or ghost after its restart', async () => {
  await outageRound('SIGKILL', 'kill');
});

test('dockerd stopped (SIGTERM) mid-way through creates and actions: clear 502/503, honest entities, no orphan or ghost after its restart', async () => {
  await outageRound('SIGTERM', 'term');
});
