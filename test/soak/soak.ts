/**
 * The soak (issue 8, Deliver 5), shared by `npm run soak` (test/soak/run.ts) and the short jest version
 * (soak.test.ts): `clients` concurrent loops against a whole occitan served as `occitan serve` serves it
 * (embedded store on LevelDB in a temporary data dir, dummy provider, auth none on 127.0.0.1:0), each
 * sending one request at a time over a keep-alive agent: reads, creates, `If-Match` partial updates,
 * actions and deletes, for `durationMs`.
 *
 * Lost updates. Every write is conditional (`If-Match` with the ETag the client last saw), so the
 * acknowledged writes to one entity form a chain: each one's `If-Match` is the ETag an earlier write
 * produced. A 412 is a correct refusal. At the end every entity is read once more, and an acknowledged
 * write (200/201) is `lost` unless its result is what the store holds now or a later acknowledged write
 * (or one whose outcome the client never learnt) was based on it. An acknowledged delete must leave a
 * 404; an acknowledged create must still be there unless an acknowledged delete followed.
 *
 * Heap. `global.gc` (node --expose-gc; in jest the flag is set at run time) runs before the first and
 * after the last measurement; the end must be within HEAP_MARGIN_MIB of the start. The store's data is on
 * disk (LevelDB), so what the heap holds at the end is occitan's, not the entities'.
 *
 * SOAK_HEAP_SNAPSHOTS=dir writes `start.heapsnapshot` and `end.heapsnapshot` there, right after each
 * measurement (compare them with test/soak/heap-diff.ts), to find what a growth is, and `<name>.spaces.json`:
 * each V8 space's used size as measured and after the snapshot's own GC. That GC reduces memory (it also
 * clears V8's compilation cache), so `measured` above `afterSnapshot` is memory nothing reachable holds.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { loadConfig } from '../../src/config';
import { startOccitan, type Occitan } from '../../src/server';
import { COMPUTE_CATEGORY, dummyBackendsFile, quietLog } from '../support/harness';
import { prng } from '../support/prng';
import { createHttpServer } from '../../src/http/http-server';

/** Allowed heap growth from start to end, after a forced GC each time. */
export const HEAP_MARGIN_MIB = 50;
const REQUEST_TIMEOUT_MS = 120000;
const SHARED = 16;

export interface SoakOptions {
  clients: number;
  durationMs: number;
  /** Deterministic choice of operations per client. */
  seed: number;
  /** The embedded store in memory instead of on LevelDB (the heap then also holds the entities). */
  memoryStore?: boolean;
}

export interface SoakResult {
  cases: number;
  fivexx: number;
  lost: number;
  /** Transport errors and timeouts (a request whose outcome the client never learnt). */
  errors: number;
  /** Answers no operation allows (e.g. a 400 to a well-formed update): each is listed in `examples`. */
  unexpected: number;
  conflicts412: number;
  p50: number;
  p99: number;
  max: number;
  rps: number;
  heapStartMiB: number;
  heapEndMiB: number;
  statuses: Record<string, number>;
  examples: string[];
}

interface Reply {
  status: number;
  etag?: string;
  location?: string;
  body: string;
}

/** One write attempt on an entity: the ETag it was based on, what it produced, and whether it was acknowledged. */
interface Write {
  base: string;
  result?: string;
  title?: string;
  outcome: 'ack' | 'refused' | 'unknown';
}

interface Tracked {
  path: string;
  /** The ETag and title of the create (or the first read, for shared entities). */
  initial: { etag: string; title: string };
  writes: Write[];
  /** What this client last saw, to base its next write on. */
  seen: { etag: string; title: string };
  deleted: 'no' | 'ack' | 'unknown';
}

/** Gives `global.gc` even without --expose-gc (jest): the flag set at run time, read from a fresh context. */
export function forcedGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function heapMiB(gc: () => void): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed / 1048576;
}

/** With SOAK_HEAP_SNAPSHOTS=dir, a heap snapshot `<dir>/<name>.heapsnapshot` (after the measurement, so it does not change it). */
function snapshot(name: string): void {
  const dir = process.env.SOAK_HEAP_SNAPSHOTS;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  // The space sizes as measured, then as they are after the snapshot's own GC: used space the snapshot does not show.
  const spaces = (): Record<string, number> => Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, +(s.space_used_size / 1048576).toFixed(1)]));
  const measured = spaces();
  v8.writeHeapSnapshot(path.join(dir, `${name}.heapsnapshot`));
  fs.writeFileSync(path.join(dir, `${name}.spaces.json`), JSON.stringify({ measured, afterSnapshot: spaces() }, null, 1) + '\n');
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summaryLine(r: SoakResult, o: SoakOptions): string {
  return `soak: cases=${r.cases} 5xx=${r.fivexx} lost=${r.lost} errors=${r.errors} unexpected=${r.unexpected} 412=${r.conflicts412} ` +
    `p50=${r.p50.toFixed(1)}ms p99=${r.p99.toFixed(1)}ms max=${r.max.toFixed(0)}ms rps=${r.rps.toFixed(0)} ` +
    `heap=${r.heapStartMiB.toFixed(1)}->${r.heapEndMiB.toFixed(1)}MiB(margin +${HEAP_MARGIN_MIB}) clients=${o.clients} seconds=${(o.durationMs / 1000).toFixed(0)} seed=${o.seed}`;
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const gc = forcedGc();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-soak-'));
  let occitan: Occitan | undefined;
  let server: http.Server | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.clients });
  try {
    const config = loadConfig({
      env: {},
      overrides: { dataDir, backendsFile: dummyBackendsFile(), log: { level: 'silent' }, auth: { mode: 'none' }, timers: { leaseSweep: 3600000 } },
    });
    const errorsLogged: string[] = [];
    occitan = await startOccitan(config, { memoryStore: o.memoryStore === true, log: { ...quietLog, error: (m: string, f?: unknown) => void (errorsLogged.length < 10 && errorsLogged.push(`${m} ${JSON.stringify(f)}`)) } });
    const listening = createHttpServer(config, occitan.app.callback());
    server = listening;
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    const port = (listening.address() as net.AddressInfo).port;

    const send = (method: string, target: string, headers: Record<string, string> = {}): Promise<Reply> =>
      new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path: target, agent, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, etag: res.headers.etag, location: res.headers.location, body }));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
        req.on('error', reject);
        req.end();
      });
    const occi = (title: string): Record<string, string> => ({ 'Content-Type': 'text/occi', Accept: 'text/plain', Category: COMPUTE_CATEGORY, 'X-OCCI-Attribute': `occi.core.title="${title}"` });
    const titleOf = (r: Reply, fallback: string): string => /occi\.core\.title="([^"]*)"/.exec(r.body)?.[1] ?? fallback;

    const result: SoakResult = { cases: 0, fivexx: 0, lost: 0, errors: 0, unexpected: 0, conflicts412: 0, p50: 0, p99: 0, max: 0, rps: 0, heapStartMiB: 0, heapEndMiB: 0, statuses: {}, examples: [] };
    const latencies: number[] = [];
    const note = (text: string): void => void (result.examples.length < 20 && result.examples.push(text));
    /** Sends one measured request; transport errors come back as status 0. */
    const measured = async (method: string, target: string, headers?: Record<string, string>): Promise<Reply> => {
      const t0 = process.hrtime.bigint();
      let r: Reply;
      try {
        r = await send(method, target, headers);
      } catch (e) {
        r = { status: 0, body: (e as Error).message };
        result.errors++;
        note(`${method} ${target}: ${(e as Error).message}`);
      }
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      result.cases++;
      result.statuses[r.status] = (result.statuses[r.status] ?? 0) + 1;
      if (r.status >= 500) {
        result.fivexx++;
        note(`${method} ${target}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
      }
      if (r.status === 412) result.conflicts412++;
      return r;
    };
    const unexpected = (what: string, r: Reply): void => {
      if (r.status === 0 || r.status >= 500) return; // counted already
      result.unexpected++;
      note(`${what}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
    };

    // Shared entities every client updates (contention: 412s), made before the clock starts.
    const shared: Tracked[] = [];
    for (let i = 0; i < SHARED; i++) {
      const r = await send('PUT', `/compute/shared-${i}`, occi(`shared-${i}`));
      if (r.status !== 201 || !r.etag) throw new Error(`soak: cannot create /compute/shared-${i}: HTTP ${r.status} ${r.body}`);
      shared.push({ path: `/compute/shared-${i}`, initial: { etag: r.etag, title: `shared-${i}` }, writes: [], seen: { etag: r.etag, title: `shared-${i}` }, deleted: 'no' });
    }
    const owned: Tracked[] = [];
    // Warm-up, not measured: every operation once in every media type, so the modules, schemas and
    // caches a first request loads lazily are in the heap before the start is measured.
    for (const accept of ['text/plain', 'text/occi', 'application/occi+json', 'text/uri-list']) {
      const made = await send('POST', '/compute/', { ...occi('warm-up'), Accept: accept === 'text/uri-list' ? 'text/plain' : accept });
      const at = new URL(made.location ?? 'http://x/none').pathname;
      const steps: Array<[string, string, Record<string, string>]> = [
        ['GET', at, { Accept: accept }],
        ['GET', '/compute/?page=1&number=20', { Accept: accept }],
        ['GET', '/-/', { Accept: accept }],
        ['POST', at, { ...occi('warm-up 2'), Accept: accept }],
        ['POST', `${at}?action=stop`, { 'Content-Type': 'text/occi', Accept: accept }],
        ['POST', `${at}?action=start`, { 'Content-Type': 'text/occi', Accept: accept }],
        ['DELETE', at, { Accept: accept }],
      ];
      for (const [method, target, headers] of steps) {
        const r = await send(method, target, headers);
        if (r.status >= 500) throw new Error(`soak warm-up: ${method} ${target} answered ${r.status} ${r.body}`);
      }
    }
    const heapStart = heapMiB(gc);
    snapshot('start');

    const started = Date.now();
    const deadline = started + o.durationMs;
    const client = async (n: number): Promise<void> => {
      const rnd = prng(o.seed * 1000 + n);
      const mine: Tracked[] = [];
      let counter = 0;
      /** A conditional write (update, action or delete) on `t`, recorded in its chain. */
      const write = async (t: Tracked, method: string, target: string, headers: Record<string, string>, title: string | undefined): Promise<Reply> => {
        const w: Write = { base: t.seen.etag, outcome: 'unknown' };
        t.writes.push(w);
        const r = await measured(method, target, { ...headers, 'If-Match': t.seen.etag });
        if (r.status === 200 && method !== 'DELETE') {
          w.outcome = 'ack';
          w.result = r.etag;
          w.title = titleOf(r, title ?? t.seen.title);
          t.seen = { etag: r.etag ?? '', title: w.title };
        } else if (r.status >= 400 && r.status < 500) {
          w.outcome = 'refused';
        }
        return r;
      };
      const refresh = async (t: Tracked): Promise<void> => {
        const r = await measured('GET', t.path, { Accept: 'text/plain' });
        if (r.status === 200 && r.etag) t.seen = { etag: r.etag, title: titleOf(r, t.seen.title) };
        else if (r.status !== 404 || t.deleted === 'no') unexpected(`GET ${t.path}`, r);
      };
      while (Date.now() < deadline) {
        const dice = rnd();
        const live = mine.filter((t) => t.deleted === 'no');
        const pickOne = (): Tracked => (live.length && rnd() < 0.5 ? live[Math.floor(rnd() * live.length)]! : shared[Math.floor(rnd() * shared.length)]!);
        if (dice < 0.3) {
          // Reads: an entity, a page of the collection, the query interface.
          const which = rnd();
          if (which < 0.6) await refresh(pickOne());
          else if (which < 0.85) {
            const r = await measured('GET', '/compute/?page=1&number=20', { Accept: rnd() < 0.5 ? 'application/occi+json' : 'text/uri-list' });
            if (r.status !== 200) unexpected('GET /compute/', r);
          } else {
            const r = await measured('GET', '/-/', { Accept: 'application/occi+json' });
            if (r.status !== 200) unexpected('GET /-/', r);
          }
        } else if (dice < 0.45 || live.length === 0) {
          const title = `c${n}-${counter++}`;
          const r = await measured('POST', '/compute/', occi(title));
          if (r.status === 201 && r.etag && r.location) {
            const t: Tracked = { path: new URL(r.location).pathname, initial: { etag: r.etag, title }, writes: [], seen: { etag: r.etag, title }, deleted: 'no' };
            mine.push(t);
            owned.push(t);
          } else unexpected('POST /compute/', r);
        } else if (dice < 0.75) {
          const t = pickOne();
          if (rnd() < 0.3) await refresh(t);
          const title = `u${n}-${counter++}`;
          const r = await write(t, 'POST', t.path, occi(title), title);
          if (![200, 412].includes(r.status)) unexpected(`update ${t.path}`, r);
        } else if (dice < 0.9) {
          const t = pickOne();
          if (rnd() < 0.3) await refresh(t);
          const action = rnd() < 0.5 ? 'start' : 'stop';
          const r = await write(t, 'POST', `${t.path}?action=${action}`, { 'Content-Type': 'text/occi', Accept: 'text/plain' }, undefined);
          // 409: the state machine refuses that action in the entity's current state (a refusal, not a failure).
          if (![200, 409, 412].includes(r.status)) unexpected(`${action} ${t.path}`, r);
        } else if (live.length) {
          const t = live[Math.floor(rnd() * live.length)]!;
          const r = await write(t, 'DELETE', t.path, { Accept: 'text/plain' }, undefined);
          if (r.status === 200) t.deleted = 'ack';
          else if (r.status === 0 || r.status >= 500) t.deleted = 'unknown';
          else if (r.status !== 412) unexpected(`DELETE ${t.path}`, r);
        }
      }
    };
    await Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));
    const elapsed = Date.now() - started;

    // Verification, after the load: every entity read once more.
    for (const t of [...shared, ...owned]) {
      const r = await send('GET', t.path, { Accept: 'text/plain' });
      const acks = t.writes.filter((w) => w.outcome === 'ack');
      if (t.deleted === 'ack') {
        if (r.status !== 404) {
          result.lost++;
          note(`${t.path}: deleted (acknowledged) but GET answers ${r.status}`);
        }
        continue;
      }
      if (r.status !== 200 || !r.etag) {
        if (t.deleted === 'unknown' && r.status === 404) continue;
        result.lost++;
        note(`${t.path}: created (acknowledged) but GET answers ${r.status}`);
        continue;
      }
      const now = { etag: r.etag, title: titleOf(r, '') };
      // Bases of every write that may have happened: an acknowledged one, or one whose outcome was never learnt.
      const replaced = new Set(t.writes.filter((w) => w.outcome !== 'refused').map((w) => w.base));
      for (const w of acks) {
        if (w.result === now.etag) {
          if (w.title !== now.title) {
            result.lost++;
            note(`${t.path}: at ${now.etag} the title is ${JSON.stringify(now.title)}, the acknowledged write said ${JSON.stringify(w.title)}`);
          }
        } else if (!replaced.has(w.result ?? '')) {
          result.lost++;
          note(`${t.path}: the acknowledged write ${w.base} -> ${w.result} (${w.title}) is gone; the store holds ${now.etag} (${now.title})`);
        }
      }
      if (acks.length === 0 && !t.writes.some((w) => w.outcome === 'unknown') && (now.etag !== t.initial.etag || now.title !== t.initial.title)) {
        result.lost++;
        note(`${t.path}: no write was acknowledged, yet it changed from ${t.initial.etag} to ${now.etag}`);
      }
      // Two acknowledged writes on one base: one overwrote the other without If-Match noticing.
      const bases = acks.map((w) => w.base);
      if (new Set(bases).size !== bases.length) {
        result.lost++;
        note(`${t.path}: two acknowledged writes were based on the same ETag`);
      }
    }
    for (const e of errorsLogged) note(`logged: ${e}`);

    // The clients are gone: their keep-alive connections (and the server's side of them) too, before the heap is read.
    agent.destroy();
    listening.closeAllConnections();
    const sorted = latencies.sort((a, b) => a - b);
    Object.assign(result, { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN, rps: result.cases / (elapsed / 1000) });
    latencies.length = 0;
    result.heapStartMiB = heapStart;
    result.heapEndMiB = heapMiB(gc);
    snapshot('end');
    return result;
  } finally {
    agent.destroy();
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    await occitan?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
