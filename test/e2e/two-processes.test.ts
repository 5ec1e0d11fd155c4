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
import { compiledCli } from '../support/compiled-cli';
import { field, occiCall as call } from '../support/occi-call';
import { OccitanChildren, freePort, serveEnv, stopOccitan, SERVE_READY, type OccitanProcess as Proc } from '../support/occitan-process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const E2E = 'http://example.com/occi/e2e#';
const BOUND_MS = 10000;

let children: OccitanChildren | undefined;
let work: string;
let backendsFile: string;

let storeUrl: string;

async function serve(name: string): Promise<{ proc: Proc; base: string }> {
  const port = await freePort();
  const proc = await children!.start(
    name,
    ['serve'],
    { ...serveEnv({ port, storeUrl, database: 'e2e', dataDir: path.join(work, `data-${name}`), backendsFile }), OCCITAN_TIMERS_LEASE_SWEEP: '500' },
    SERVE_READY,
  );
  expect(proc.announced).toBe(`http://127.0.0.1:${port}`);
  return { proc, base: proc.announced };
}

/** SIGTERM (a graceful stop), SIGKILL only past a generous bound; the exit code. */
async function stop(p: Proc): Promise<number | null> {
  return (await stopOccitan(p, 20_000)).code;
}

async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + BOUND_MS;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > end) throw new Error(`not within ${BOUND_MS} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const terms = (list: unknown): string[] => ((list as Array<{ term: string; scheme: string }> | undefined) ?? []).map((c) => c.scheme + c.term);

async function categories(base: string): Promise<{ kinds: string[]; mixins: string[] }> {
  const res = await call(base, 'GET', '/-/');
  expect(res.status).toBe(200);
  return { kinds: terms(field(res.json, 'kinds')), mixins: terms(field(res.json, 'mixins')) };
}

let a: { proc: Proc; base: string };
let b: { proc: Proc; base: string };

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-e2e-'));
  const t0 = Date.now();
  children = new OccitanChildren(compiledCli().cli, work, 60000);
  const t1 = Date.now();

  backendsFile = path.join(work, 'backends.json');
  const kinds = ['compute', 'storage', 'storagelink', 'network', 'networkinterface'];
  fs.writeFileSync(backendsFile, JSON.stringify({
    providers: { dummy: { backend: 'dummy' } },
    kinds: Object.fromEntries(kinds.map((k) => [`http://schemas.ogf.org/occi/infrastructure#${k}`, { providers: ['dummy'] }])),
  }));

  const store = await children.store('store', path.join(work, 'store'));
  storeUrl = store.announced;
  expect(new URL(storeUrl).hostname).toBe('127.0.0.1');
  const t2 = Date.now();
  [a, b] = await Promise.all([serve('a'), serve('b')]);
  // Reported, never asserted.
  process.stdout.write(`two-processes: compile ${t1 - t0} ms, store up ${t2 - t1} ms, two servers up ${Date.now() - t2} ms\n`);
}, 180000);

afterAll(async () => {
  await children?.stopAll(10000);
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 30000);

test('a user mixin created through A is served by B', async () => {
  const created = await call(a.base, 'POST', '/-/', { mixins: [{ term: 'tag', scheme: E2E, title: 'tagged in A', location: '/e2e-tag/' }] });
  expect(created.status).toBe(200);
  expect(terms(field(created.json, 'mixins'))).toEqual([E2E + 'tag']);

  await eventually('B lists the mixin in its query interface', async () => (await categories(b.base)).mixins.includes(E2E + 'tag'));
  const listed = await call(b.base, 'GET', '/-/?category=' + encodeURIComponent(E2E + 'tag'));
  expect(listed.status).toBe(200);
  expect(field(listed.json, 'mixins')).toEqual([{ term: 'tag', scheme: E2E, title: 'tagged in A', location: `${b.base}/e2e-tag/`, attributes: {} }]); // empty arrays are omitted (rOCCI 5)
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
  expect(terms(field(created.json, 'kinds'))).toEqual([E2E + 'orchestrator']);

  await eventually('A lists the kind in its query interface', async () => (await categories(a.base)).kinds.includes(E2E + 'orchestrator'));
  const made = await call(a.base, 'PUT', '/orchestrator/o1', { kind: E2E + 'orchestrator', mixins: [E2E + 'tag'], attributes: { 'e2e.endpoint': 'http://127.0.0.1:1/' } });
  expect(made.status).toBe(201);
  const seen = await call(b.base, 'GET', '/orchestrator/o1');
  expect(seen.status).toBe(200);
  expect(field(seen.json, 'kind')).toBe(E2E + 'orchestrator');
  expect(field(seen.json, 'mixins')).toContain(E2E + 'tag');
  expect(field(seen.json, 'attributes', 'e2e.endpoint')).toBe('http://127.0.0.1:1/');
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
  expect(field(kind.json, 'kinds')).toEqual([{
    term: 'orchestrator', scheme: E2E, title: 'made in B', parent: 'http://schemas.ogf.org/occi/core#resource', location: `${again.base}/orchestrator/`,
    attributes: { 'e2e.endpoint': { type: 'string', mutable: true, required: false } }, // no actions: an empty array is omitted
  }]);
  const members = await call(again.base, 'GET', '/e2e-tag/', undefined, 'text/uri-list');
  expect(members.status).toBe(200);
  expect(members.headers.get('x-occi-total')).toBe('1');
  expect(field((await call(again.base, 'GET', '/orchestrator/o1')).json, 'attributes', 'e2e.endpoint')).toBe('http://127.0.0.1:1/');
});
