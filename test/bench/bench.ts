/**
 * `npm run bench`: occitan against bare koa baselines, on loopback only. Asserts nothing about time.
 *
 * A child process (servers.ts) runs occitan on its embedded store (LevelDB under a temp dir, dummy
 * provider) and, in the same process and event loop, the baselines: a bare koa handler doing the same
 * nano GET of the same document on the same CouchDB-protocol server, a handler serving a prebuilt copy of
 * GET /-/, and the raw by_kind view query paged as occitan pages it. This process only generates load
 * (load.ts), so on a 2-vCPU machine the load generator and the server each have a core.
 * Peak RSS is the child's VmHWM from /proc/<pid>/status, reset before each listing phase.
 *
 * Sections: `api` (the above) and `docker` (docker.ts: N computes created at once through OCCI with the docker
 * provider vs the same N containers through dockerode, on occitan's private dockerd). All run by default;
 * `npm run bench -- --only docker` (or `--only api`, or a comma list) runs some. The docker section fails at
 * once, naming `bash scripts/services.sh start docker`, when that daemon is absent.
 *
 * Knobs (environment): BENCH_SECONDS (measured seconds per run, default 5), BENCH_ENTITIES (size of the
 * listed collection, default 10000), BENCH_CREATORS (bulk POSTs in flight while creating it, default 4),
 * BENCH_CPU_PROF (a directory: the server process writes a V8 CPU profile there), BENCH_CATEGORIES_DIR
 * (another categories folder than the project's), BENCH_DOCKER_COUNT (computes per docker round, default 50),
 * BENCH_DOCKER_ROUNDS (docker rounds, default 1; the order of the two paths alternates).
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DOCKER_SOCKET, dockerReport, dockerSection, requireDocker } from './docker';
import { runLoad, type LoadResult, type LoadSpec } from './load';
import type { Memory, Ready, ToChild } from './servers';

const SECONDS = Number(process.env.BENCH_SECONDS ?? '5');
const ENTITIES = Number(process.env.BENCH_ENTITIES ?? '10000');
const BULK = 200;
/** Bulk POSTs in flight while creating the collection. */
const CREATORS = Number(process.env.BENCH_CREATORS ?? '4');
const CONCURRENCY = 32;
const WARMUP_MS = 1000;
const JSON_TYPE = 'application/occi+json';
const COMPUTE = 'http://schemas.ogf.org/occi/infrastructure#compute';
const TENANT = 'default';
const DOCKER_COUNT = Number(process.env.BENCH_DOCKER_COUNT ?? '50');
const DOCKER_ROUNDS = Number(process.env.BENCH_DOCKER_ROUNDS ?? '1');

const SECTIONS = ['api', 'docker'] as const;
type Section = (typeof SECTIONS)[number];

/** The sections to run: `--only a,b` (or `--only=a,b`), else all. */
function sectionsFromArgs(argv: readonly string[]): Section[] {
  const i = argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  if (i < 0) return [...SECTIONS];
  const value = argv[i]!.includes('=') ? argv[i]!.slice('--only='.length) : argv[i + 1];
  const names = (value ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length) {
    process.stderr.write(`bench: --only takes ${SECTIONS.join(', ')} (comma-separated); got ${JSON.stringify(value ?? '')}\n`);
    process.exit(2);
  }
  return SECTIONS.filter((n) => names.includes(n));
}
const sections = sectionsFromArgs(process.argv.slice(2));

/**
 * The whole run is bounded: past this the child is stopped and the bench fails. Creating the collection
 * dominates (about 25 entities/s on the embedded store on 2 vCPU), so the bound grows with BENCH_ENTITIES.
 */
const BOUND_MS = (sections.includes('api') ? 180_000 + ENTITIES * 80 : 0) + (sections.includes('docker') ? 120_000 + DOCKER_COUNT * DOCKER_ROUNDS * 6_000 : 0);

// --- the child -----------------------------------------------------------------------------------

let child: ChildProcess | undefined;
let nextId = 1;
const pending = new Map<number, (m: Record<string, unknown>) => void>();

type Command = ToChild extends infer C ? (C extends ToChild ? Omit<C, 'id'> : never) : never;

function ask<T>(msg: Command): Promise<T> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, (m) => (typeof m.error === 'string' ? reject(new Error(m.error)) : resolve(m as T)));
    child!.send({ ...msg, id });
  });
}

function startChild(env: Record<string, string> = {}): Promise<Ready> {
  return new Promise((resolve, reject) => {
    child = fork(path.join(__dirname, 'servers.ts'), [], {
      env: { ...process.env, ...env },
      execArgv: ['--expose-gc', '-r', 'ts-node/register/transpile-only', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_CPU_PROF] : [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (m: Record<string, unknown>) => {
      if (m.ready) return resolve(m as unknown as Ready);
      const done = pending.get(m.id as number);
      pending.delete(m.id as number);
      done?.(m);
    });
    const mine = child;
    child.once('exit', (code, signal) => {
      const e = new Error(`the bench server exited (${signal ?? `code ${code}`})`);
      reject(e); // no effect once it was ready
      if (child !== mine) return; // a section's child that was stopped; the next one's requests are not its
      for (const done of pending.values()) done({ error: e.message });
      pending.clear();
    });
  });
}

// --- requests made while setting up ---------------------------------------------------------------

/**
 * A JSON POST. Several entities are asked for as text/plain: the answer lists the new locations (one
 * X-OCCI-Location line each, and as many headers, hence the large header allowance), with no rendering.
 */
function post(port: number, p: string, body: unknown, accept = 'text/plain'): Promise<{ location: string; locations: string[] }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: p, method: 'POST', maxHeaderSize: 1 << 20, headers: { 'Content-Type': JSON_TYPE, Accept: accept, 'Content-Length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 201) return reject(new Error(`POST ${p} answered ${res.statusCode}: ${text.slice(0, 300)}`));
          const locations = [...text.matchAll(/^X-OCCI-Location:\s*(\S+)/gm)].map((m) => m[1]!);
          resolve({ location: String(res.headers.location), locations });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function compute(i: number): Record<string, unknown> {
  return {
    kind: COMPUTE,
    attributes: {
      'occi.core.title': `bench compute ${i}`,
      'occi.compute.hostname': `bench-${String(i).padStart(5, '0')}`,
      'occi.compute.cores': 1 + (i % 4),
      'occi.compute.memory': 2,
    },
  };
}

// --- reporting ----------------------------------------------------------------------------------

interface Row {
  scenario: string;
  occitan: LoadResult;
  baseline: LoadResult;
  baselineName: string;
  memory?: { occitan: Memory & { before: number }; baseline: Memory & { before: number } };
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const mb = (b: number): string => fmt(b / 1048576, 0);

function table(rows: readonly Row[]): string {
  const head = ['scenario', 'occitan req/s', 'p50 ms', 'p99 ms', 'baseline req/s', 'p50 ms', 'p99 ms', 'req/s ratio', 'p99 ratio'];
  const body = rows.map((r) => [
    r.scenario,
    fmt(r.occitan.rps),
    fmt(r.occitan.p50, 2),
    fmt(r.occitan.p99, 2),
    fmt(r.baseline.rps),
    fmt(r.baseline.p50, 2),
    fmt(r.baseline.p99, 2),
    fmt(r.occitan.rps / r.baseline.rps, 2),
    fmt(r.occitan.p99 / r.baseline.p99, 2),
  ]);
  return render([head, ...body]);
}

function render(lines: string[][]): string {
  const widths = lines[0]!.map((_, c) => Math.max(...lines.map((l) => l[c]!.length)));
  const row = (l: string[]): string => '| ' + l.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ') + ' |';
  return [row(lines[0]!), '|' + widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|', ...lines.slice(1).map(row)].join('\n');
}

function check(name: string, r: LoadResult): LoadResult {
  if (r.errors) throw new Error(`${name}: ${r.errors} failed requests (first: ${r.firstError})`);
  if (r.requests === 0) throw new Error(`${name}: no request completed`);
  return r;
}

// --- the run ------------------------------------------------------------------------------------

const started = Date.now();
const log = (m: string): void => {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(1)}s] ${m}\n`);
};

async function main(): Promise<void> {
  // A missing daemon fails the run before anything long starts.
  if (sections.includes('docker')) await requireDocker();
  const cpus = os.cpus();
  const cpuModel = cpus[0]?.model.trim() ?? 'unknown CPU';
  const out: string[] = [];
  out.push('');
  out.push(`occitan bench — ${new Date().toISOString()} — ${cpus.length} vCPU (${cpuModel}), ${mb(os.totalmem())} MiB RAM, Node.js ${process.version}, ${os.platform()} ${os.release()}`);
  if (sections.includes('api')) out.push(...(await apiSection()));
  if (sections.includes('docker')) out.push('', ...(await dockerPart()));
  out.push('', `Sections: ${sections.join(', ')}. Run time: ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  process.stdout.write(out.join('\n') + '\n');
}

/** The docker section in its own occitan child (embedded store, docker provider under an instance of this run). */
async function dockerPart(): Promise<string[]> {
  const instance = `bench-${randomUUID().slice(0, 8)}`;
  log(`docker: starting occitan (embedded LevelDB store, docker provider on unix://${DOCKER_SOCKET}, instance ${instance})`);
  const ready = await startChild({ BENCH_DOCKER_INSTANCE: instance, BENCH_DOCKER_SOCKET: DOCKER_SOCKET });
  try {
    return dockerReport(await dockerSection(ready.occitanPort, instance, DOCKER_COUNT, DOCKER_ROUNDS, log));
  } finally {
    await ask({ cmd: 'stop' }).catch(() => undefined);
  }
}

/** The API section: its report lines. */
async function apiSection(): Promise<string[]> {
  log(`starting occitan (embedded LevelDB store, dummy provider) and the baselines in one child process`);
  const ready = await startChild();
  const occ = ready.occitanPort;
  const base = ready.baselinePort;

  // One entity for the GET runs.
  const one = await post(occ, '/compute/', compute(0), JSON_TYPE);
  const entityPath = new URL(one.location).pathname;
  const docId = `entity:${TENANT}:${entityPath}`;

  log(`creating ${ENTITIES} computes with JSON POSTs of ${BULK}`);
  const t0 = Date.now();
  let made = 0;
  const batches = Array.from({ length: Math.ceil(ENTITIES / BULK) }, (_, b) => b);
  const worker = async (): Promise<void> => {
    for (let b = batches.shift(); b !== undefined; b = batches.shift()) {
      const resources = [];
      for (let i = b * BULK + 1; i <= Math.min(ENTITIES, (b + 1) * BULK); i++) resources.push(compute(i));
      const res = await post(occ, '/compute/', { resources });
      if (res.locations.length !== resources.length) throw new Error(`a POST of ${resources.length} computes answered ${res.locations.length} locations`);
      made += res.locations.length;
    }
  };
  await Promise.all(Array.from({ length: CREATORS }, worker));
  const createMs = Date.now() - t0;
  log(`created ${made} computes in ${(createMs / 1000).toFixed(1)} s (${fmt(made / (createMs / 1000), 0)} entities/s, ${CREATORS} POSTs in flight)`);

  // Peak RSS while creating, then start a new peak for the GET runs.
  const creationPeak = (await ask<Memory>({ cmd: 'mem-read' })).hwm;
  await ask<Memory>({ cmd: 'mem-reset' });

  // The first query of a view indexes every document written since: do it here, not inside a timed run.
  const w0 = Date.now();
  await runLoad({ port: occ, path: entityPath, headers: { Accept: JSON_TYPE }, concurrency: 1, requests: 1 });
  await runLoad({ port: occ, path: '/compute/?page=1&number=1', headers: { Accept: JSON_TYPE }, concurrency: 1, requests: 1 });
  log(`views indexed in ${((Date.now() - w0) / 1000).toFixed(1)} s`);

  const measure = (name: string, spec: LoadSpec): Promise<LoadResult> => {
    log(`${name}`);
    return runLoad(spec).then((r) => check(name, r));
  };
  const timed = { concurrency: CONCURRENCY, durationMs: SECONDS * 1000, warmupMs: WARMUP_MS };
  const rows: Row[] = [];

  // GET one entity: occitan (two renderings) vs the bare nano GET of the same document.
  const entityBase = await measure('baseline: nano GET of the entity document', { ...timed, port: base, path: `/doc/${encodeURIComponent(docId)}` });
  const entityJson = await measure(`occitan: GET ${entityPath} (JSON)`, { ...timed, port: occ, path: entityPath, headers: { Accept: JSON_TYPE } });
  const entityText = await measure(`occitan: GET ${entityPath} (text/occi)`, { ...timed, port: occ, path: entityPath, headers: { Accept: 'text/occi' } });
  rows.push({ scenario: 'GET entity, application/occi+json, 32 conc.', occitan: entityJson, baseline: entityBase, baselineName: 'nano GET' });
  rows.push({ scenario: 'GET entity, text/occi, 32 conc.', occitan: entityText, baseline: entityBase, baselineName: 'nano GET' });

  // GET /-/ vs a prebuilt body of the same bytes.
  const sizes = (await ask<{ sizes: Record<string, number> }>({
    cmd: 'prebuild',
    paths: [
      { name: 'qi-json', path: '/-/', accept: JSON_TYPE },
      { name: 'qi-plain', path: '/-/', accept: 'text/plain' },
    ],
  })).sizes;
  for (const [name, accept, label] of [['qi-json', JSON_TYPE, 'application/occi+json'], ['qi-plain', 'text/plain', 'text/plain']] as const) {
    const b = await measure(`baseline: prebuilt ${sizes[name]} bytes`, { ...timed, port: base, path: `/prebuilt/${name}` });
    const o = await measure(`occitan: GET /-/ (${label})`, { ...timed, port: occ, path: '/-/', headers: { Accept: accept } });
    if (o.bytes !== b.bytes) log(`note: /-/ ${label} is ${o.bytes} bytes, the prebuilt body ${b.bytes}`);
    rows.push({ scenario: `GET /-/ ${label} (${fmt(sizes[name]! / 1024, 0)} KiB), 32 conc.`, occitan: o, baseline: b, baselineName: 'prebuilt body' });
  }

  // Listing the kind collection (ENTITIES + 1 computes), whole and paged, with the server's peak RSS.
  const viewPath = `/view?tenant=${TENANT}&kind=${encodeURIComponent(COMPUTE)}`;
  // Peak of the GET runs; then each listing phase's own peak.
  const getPeak = (await ask<Memory>({ cmd: 'mem-read' })).hwm;
  let highest = Math.max(creationPeak, getPeak);
  const phase = async (name: string, spec: LoadSpec): Promise<{ r: LoadResult; mem: Memory & { before: number } }> => {
    const before = await ask<Memory>({ cmd: 'mem-reset' });
    const r = await measure(name, spec);
    const after = await ask<Memory>({ cmd: 'mem-read' });
    highest = Math.max(highest, after.hwm);
    return { r, mem: { ...after, before: before.rss } };
  };
  const whole = { concurrency: 1, requests: 3, warmupMs: 0 };
  const listed: Array<[string, Record<string, string>]> = [
    ['application/occi+json', { Accept: JSON_TYPE }],
    ['text/uri-list', { Accept: 'text/uri-list' }],
  ];
  const baseWhole = await phase(`baseline: raw by_kind view, ${ENTITIES + 1} docs in batches of 500`, { ...whole, port: base, path: viewPath });
  for (const [label, headers] of listed) {
    const o = await phase(`occitan: GET /compute/ (${label}), ${ENTITIES + 1} entities`, { ...whole, port: occ, path: '/compute/', headers });
    rows.push({ scenario: `list ${ENTITIES + 1} computes, ${label}, 1 conc.`, occitan: o.r, baseline: baseWhole.r, baselineName: 'raw view', memory: { occitan: o.mem, baseline: baseWhole.mem } });
  }
  const pages = Math.ceil((ENTITIES + 1) / 100);
  const paged = { concurrency: 8, durationMs: SECONDS * 1000, warmupMs: WARMUP_MS };
  const basePaged = await phase('baseline: raw by_kind view, pages of 100', { ...paged, port: base, path: (i) => `${viewPath}&page=${1 + (i % pages)}&number=100` });
  const occPaged = await phase('occitan: GET /compute/?page=…&number=100 (JSON)', { ...paged, port: occ, path: (i) => `/compute/?page=${1 + (i % pages)}&number=100`, headers: { Accept: JSON_TYPE } });
  rows.push({ scenario: `page through /compute/ by 100, JSON, 8 conc.`, occitan: occPaged.r, baseline: basePaged.r, baselineName: 'raw view', memory: { occitan: occPaged.mem, baseline: basePaged.mem } });

  const final = await ask<Memory>({ cmd: 'mem-read' });
  await ask({ cmd: 'stop' });

  const out: string[] = [];
  out.push(`store: embedded (express-pouchdb on LevelDB, temp dir), provider: dummy; ${SECONDS} s per timed run after ${WARMUP_MS / 1000} s warm-up; loopback only`);
  out.push(`set-up: ${made + 1} computes created in ${fmt(createMs / 1000)} s with JSON POSTs of ${BULK} (${fmt(made / (createMs / 1000), 0)} entities/s)`);
  out.push('');
  out.push(table(rows));
  out.push('');
  out.push('ratios are occitan / baseline (req/s: higher is better, p99: lower is better). Baselines: GET entity → bare koa +');
  out.push('nano db.get of the same document on the same store; GET /-/ → bare koa serving a prebuilt body of the same bytes;');
  out.push('listings → bare koa streaming the raw by_kind view (include_docs) in the same batches / skip+limit pages.');
  out.push('');
  const memRows = [['listing phase', 'occitan RSS at start MiB', 'occitan peak MiB', 'baseline RSS at start MiB', 'baseline peak MiB', 'peak ratio']];
  for (const r of rows.filter((x) => x.memory)) {
    const m = r.memory!;
    memRows.push([r.scenario, mb(m.occitan.before), mb(m.occitan.hwm), mb(m.baseline.before), mb(m.baseline.hwm), fmt(m.occitan.hwm / m.baseline.hwm, 2)]);
  }
  out.push(render(memRows));
  out.push('');
  out.push(
    final.resettable
      ? 'peak RSS: VmHWM of the server process (/proc/<pid>/status), reset per phase via /proc/<pid>/clear_refs after a GC; the'
      : 'peak RSS: VmHWM of the server process (/proc/<pid>/status); clear_refs was refused, so each peak is since start-up; the',
  );
  out.push(`process holds occitan, its embedded store and the baselines. Peak while creating the collection: ${mb(creationPeak)} MiB;`);
  out.push(`during the GET runs: ${mb(getPeak)} MiB; highest of the run: ${mb(final.resettable ? highest : final.hwm)} MiB.`);
  return out;
}

const watchdog = setTimeout(() => {
  process.stderr.write(`bench: not finished after ${BOUND_MS / 1000} s; stopping\n`);
  child?.kill('SIGTERM');
  process.exit(1);
}, BOUND_MS);
watchdog.unref();

main().then(
  () => clearTimeout(watchdog),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    child?.kill('SIGTERM');
    process.exitCode = 1;
  },
);
