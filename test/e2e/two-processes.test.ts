/**
 * Two occitan OS processes sharing one CouchDB-protocol store (DESIGN: CouchDB — "A test of two occitan
 * processes points both at one standalone CouchDB-protocol server by URL"): the store runs as
 * `occitan store --data-dir DIR --port 0`, each server as `occitan serve` configured only through OCCITAN_*
 * variables. Categories defined through one process are served by the other (the registry follows the
 * `_changes` feed) and survive a restart of the servers.
 *
 * The servers run from a private compiled copy (tsc into node_modules/.cache/…): measured here, a compile
 * (~14 s) plus node start-ups (~1 s each) beats four ts-node --transpile-only start-ups (~9 s each), and it
 * leaves the project's own dist/ alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { compiledCli } from '../support/compiled-cli';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const J = 'application/occi+json';
const E2E = 'http://example.com/occi/e2e#';
const BOUND_MS = 10000;

interface Proc {
  name: string;
  child: ChildProcess;
  /** The first capture group of the line that announced readiness. */
  announced: string;
  output(): string;
  exited: Promise<number | null>;
}

const children: Proc[] = [];
let work: string;
let cli: string;
let backendsFile: string;

/** Starts `node <cli> ...args` and resolves once a stdout line matches `ready` (bounded). */
function start(name: string, args: string[], env: Record<string, string>, ready: RegExp, boundMs = 60000): Promise<Proc> {
  const clean: NodeJS.ProcessEnv = {};
  // Nothing of the test runner's own occitan configuration leaks into the child.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OCCITAN_')) clean[k] = v;
  const child = spawn(process.execPath, [cli, ...args], { cwd: work, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const proc: Omit<Proc, 'announced'> = { name, child, output: () => `--- ${name} stdout:\n${out}\n--- ${name} stderr:\n${err}`, exited };
  children.push(proc as Proc);
  return new Promise<Proc>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not announce itself within ${boundMs} ms\n${proc.output()}`)), boundMs);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ ...proc, announced: m[1]! });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready\n${proc.output()}`));
    });
  });
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

let storeUrl: string;

async function serve(name: string): Promise<{ proc: Proc; base: string }> {
  const port = await freePort();
  const proc = await start(
    name,
    ['serve'],
    {
      OCCITAN_PORT: String(port),
      OCCITAN_BIND: '127.0.0.1',
      OCCITAN_COUCHDB_URL: storeUrl,
      OCCITAN_COUCHDB_DATABASE: 'e2e',
      OCCITAN_DATA_DIR: path.join(work, `data-${name}`),
      OCCITAN_LOG_LEVEL: 'warn',
      OCCITAN_TIMERS_LEASE_SWEEP: '500',
      OCCITAN_BACKENDS_FILE: backendsFile,
      // Authentication has its own tests; these two loopback servers let every caller in as admin.
      OCCITAN_AUTH_MODE: 'none',
    },
    /occitan listening on (http:\/\/\S+)\n/,
  );
  expect(proc.announced).toBe(`http://127.0.0.1:${port}`);
  return { proc, base: proc.announced };
}

async function stop(p: Proc): Promise<number | null> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  return p.exited;
}

async function call(base: string, method: string, url: string, body?: unknown, accept = J): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(base + url, {
    method,
    headers: { Accept: accept, ...(body !== undefined ? { 'Content-Type': J } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + BOUND_MS;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > end) throw new Error(`not within ${BOUND_MS} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const terms = (list: Array<{ term: string; scheme: string }> | undefined): string[] => (list ?? []).map((c) => c.scheme + c.term);

async function categories(base: string): Promise<{ kinds: string[]; mixins: string[] }> {
  const res = await call(base, 'GET', '/-/');
  expect(res.status).toBe(200);
  return { kinds: terms(res.json.kinds), mixins: terms(res.json.mixins) };
}

let a: { proc: Proc; base: string };
let b: { proc: Proc; base: string };

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-e2e-'));
  const t0 = Date.now();
  ({ cli } = compiledCli());
  const t1 = Date.now();

  backendsFile = path.join(work, 'backends.json');
  const kinds = ['compute', 'storage', 'storagelink', 'network', 'networkinterface'];
  fs.writeFileSync(backendsFile, JSON.stringify({
    providers: { dummy: { backend: 'dummy' } },
    kinds: Object.fromEntries(kinds.map((k) => [`http://schemas.ogf.org/occi/infrastructure#${k}`, { providers: ['dummy'] }])),
  }));

  const store = await start('store', ['store', '--data-dir', path.join(work, 'store'), '--port', '0'], {}, /occitan store listening on (http:\/\/\S+)\n/);
  storeUrl = store.announced;
  expect(new URL(storeUrl).hostname).toBe('127.0.0.1');
  const t2 = Date.now();
  [a, b] = await Promise.all([serve('a'), serve('b')]);
  // Reported, never asserted.
  process.stdout.write(`two-processes: compile ${t1 - t0} ms, store up ${t2 - t1} ms, two servers up ${Date.now() - t2} ms\n`);
}, 180000);

afterAll(async () => {
  for (const p of children) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  const all = Promise.all(children.map((p) => p.exited));
  const timer = setTimeout(() => {
    for (const p of children) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  }, 10000);
  await all;
  clearTimeout(timer);
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 30000);

test('a user mixin created through A is served by B', async () => {
  const created = await call(a.base, 'POST', '/-/', { mixins: [{ term: 'tag', scheme: E2E, title: 'tagged in A', location: '/e2e-tag/' }] });
  expect(created.status).toBe(200);
  expect(terms(created.json.mixins)).toEqual([E2E + 'tag']);

  await eventually('B lists the mixin in its query interface', async () => (await categories(b.base)).mixins.includes(E2E + 'tag'));
  const listed = await call(b.base, 'GET', '/-/?category=' + encodeURIComponent(E2E + 'tag'));
  expect(listed.status).toBe(200);
  expect(listed.json.mixins).toEqual([{ term: 'tag', scheme: E2E, title: 'tagged in A', location: `${b.base}/e2e-tag/`, depends: [], applies: [], attributes: {}, actions: [] }]);
  const collection = await call(b.base, 'GET', '/e2e-tag/', undefined, 'text/uri-list');
  expect(collection.status).toBe(200);
  expect(collection.headers.get('x-occi-total')).toBe('0');
});

test('an admin kind created through B appears in A, and A creates entities of it that B reads', async () => {
  const created = await call(b.base, 'POST', '/-/', {
    kinds: [{
      term: 'orchestrator', scheme: E2E, title: 'made in B', parent: 'http://schemas.ogf.org/occi/core#resource', location: '/orchestrator/',
      attributes: { 'e2e.endpoint': { type: 'string', mutable: true, required: false } },
    }],
  });
  expect(created.status).toBe(200);
  expect(terms(created.json.kinds)).toEqual([E2E + 'orchestrator']);

  await eventually('A lists the kind in its query interface', async () => (await categories(a.base)).kinds.includes(E2E + 'orchestrator'));
  const made = await call(a.base, 'PUT', '/orchestrator/o1', { kind: E2E + 'orchestrator', mixins: [E2E + 'tag'], attributes: { 'e2e.endpoint': 'http://127.0.0.1:1/' } });
  expect(made.status).toBe(201);
  const seen = await call(b.base, 'GET', '/orchestrator/o1');
  expect(seen.status).toBe(200);
  expect(seen.json.kind).toBe(E2E + 'orchestrator');
  expect(seen.json.mixins).toContain(E2E + 'tag');
  expect(seen.json.attributes['e2e.endpoint']).toBe('http://127.0.0.1:1/');
});

test('after both servers stop, a new one still has the user mixin, the admin kind and the entity', async () => {
  const [codeA, codeB] = await Promise.all([stop(a.proc), stop(b.proc)]);
  expect(codeA).toBe(0);
  expect(codeB).toBe(0);
  await expect(fetch(a.base + '/-/')).rejects.toThrow();

  const again = await serve('a2');
  const cats = await categories(again.base);
  expect(cats.mixins).toContain(E2E + 'tag');
  expect(cats.kinds).toContain(E2E + 'orchestrator');
  const kind = await call(again.base, 'GET', '/-/?category=' + encodeURIComponent(E2E + 'orchestrator'));
  expect(kind.json.kinds).toEqual([{
    term: 'orchestrator', scheme: E2E, title: 'made in B', parent: 'http://schemas.ogf.org/occi/core#resource', location: `${again.base}/orchestrator/`,
    attributes: { 'e2e.endpoint': { type: 'string', mutable: true, required: false } }, actions: [],
  }]);
  const members = await call(again.base, 'GET', '/e2e-tag/', undefined, 'text/uri-list');
  expect(members.status).toBe(200);
  expect(members.headers.get('x-occi-total')).toBe('1');
  expect((await call(again.base, 'GET', '/orchestrator/o1')).json.attributes['e2e.endpoint']).toBe('http://127.0.0.1:1/');
});
