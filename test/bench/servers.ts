/**
 * The process under test, forked by bench.ts: occitan on its embedded store (LevelDB under a temp dir,
 * dummy provider; with BENCH_DOCKER_INSTANCE and BENCH_DOCKER_SOCKET also the docker provider) listening on a loopback port, and in the SAME process a bare koa app (the baseline)
 * that reaches the same embedded CouchDB-protocol server through nano, so both share one event loop with
 * the store exactly as occitan does. Its memory is read from /proc/self/status (VmHWM, the kernel's
 * peak RSS), reset per phase by writing 5 to /proc/self/clear_refs.
 *
 * Baseline routes:
 *   GET /doc/<docid>          nano db.get of the document, sent as JSON
 *   GET /prebuilt/<name>      a body prepared at start-up (a copy of occitan's GET /-/ in one media type)
 *   GET /view?tenant&kind     the raw by_kind view with include_docs, streamed in batches of 500 (as occitan pages it)
 *   GET /view?…&page&number   one page: the count (reduce) and include_docs with skip/limit
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import Koa from 'koa';
import nano from 'nano';
import type { Logger } from '../../src/backends/backend';
import { defaults, loadConfig } from '../../src/config';
import { startOccitan } from '../../src/server';
import { createHttpServer } from '../../src/http/http-server';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export type ToChild = { id: number; cmd: 'prebuild'; paths: Array<{ name: string; path: string; accept: string }> } | { id: number; cmd: 'mem-reset' } | { id: number; cmd: 'mem-read' } | { id: number; cmd: 'stop' };
export interface Ready {
  ready: true;
  occitanPort: number;
  baselinePort: number;
  database: string;
  dataDir: string;
}
export interface Memory {
  /** Current RSS, bytes. */
  rss: number;
  /** Peak RSS since the last reset (or since start when resets are refused), bytes. */
  hwm: number;
  /** Whether clear_refs reset the peak (Linux ≥ 4.0, writable /proc). */
  resettable: boolean;
}

function statusKb(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

function fetchBody(port: number, p: string, accept: string): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p, headers: { Accept: accept } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-bench-'));

async function main(): Promise<void> {
  const backendsFile = path.join(dataDir, 'backends.json');
  const kinds = ['compute', 'storage', 'storagelink', 'network', 'networkinterface'];
  // The docker section's server (BENCH_DOCKER_INSTANCE set) also has the docker provider on occitan's private
  // dockerd; computes go there only through a template that names it.
  const dockerInstance = process.env.BENCH_DOCKER_INSTANCE;
  fs.writeFileSync(backendsFile, JSON.stringify({
    providers: {
      dummy: { backend: 'dummy' },
      ...(dockerInstance ? { docker: { backend: 'docker', options: { nodes: [{ id: 'local', socketPath: process.env.BENCH_DOCKER_SOCKET }], instance: dockerInstance } } } : {}),
    },
    kinds: Object.fromEntries(kinds.map((k) => [`http://schemas.ogf.org/occi/infrastructure#${k}`, { providers: dockerInstance && k === 'compute' ? ['dummy', 'docker'] : ['dummy'] }])),
  }));
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dataDir, 'data'),
      backendsFile,
      ...(process.env.BENCH_CATEGORIES_DIR ? { categoriesDir: process.env.BENCH_CATEGORIES_DIR } : {}),
      couchdb: { url: '', database: 'occitan' },
      log: { level: 'silent' },
      port: 0,
      // Loopback only: the bench measures the OCCI path, not credential checks.
      ...('auth' in defaults ? { auth: { mode: 'none' } } : {}),
    },
  });
  const occitan = await startOccitan(config, { log: quiet });

  // As `occitan serve` does (src/cli.ts), with a keep-alive long enough for the load generator's sockets.
  const occitanServer = createHttpServer(config, occitan.app.callback());
  occitanServer.keepAliveTimeout = 30_000;
  const occitanPort = await listen(occitanServer);

  // The baseline: its own nano client on the same CouchDB-protocol server and database.
  const db = nano(occitan.couchUrl).use<Record<string, unknown>>(config.couchdb.database);
  const prebuilt = new Map<string, { type: string; body: Buffer }>();
  const baseline = new Koa();
  baseline.use(async (ctx) => {
    if (ctx.path.startsWith('/doc/')) {
      ctx.body = await db.get(decodeURIComponent(ctx.path.slice('/doc/'.length)));
      return;
    }
    if (ctx.path.startsWith('/prebuilt/')) {
      const p = prebuilt.get(ctx.path.slice('/prebuilt/'.length));
      if (!p) return;
      ctx.type = p.type;
      ctx.body = p.body;
      return;
    }
    if (ctx.path === '/view') {
      const tenant = String(ctx.query.tenant);
      const kind = String(ctx.query.kind);
      const range = { startkey: [tenant, kind], endkey: [tenant, kind, {}] };
      const count = await db.view('occitan', 'by_kind', { ...range, reduce: true });
      ctx.set('X-Total', String(count.rows[0]?.value ?? 0));
      ctx.type = 'application/json';
      if (ctx.query.page !== undefined) {
        const number = Number(ctx.query.number);
        const res = await db.view('occitan', 'by_kind', { ...range, reduce: false, include_docs: true, skip: (Number(ctx.query.page) - 1) * number, limit: number });
        ctx.body = JSON.stringify({ resources: res.rows.map((r) => r.doc) });
        return;
      }
      // Batches of 500 from the last key on, as EntityStore.iterate pages the same view.
      async function* pieces(): AsyncGenerator<string> {
        yield '{"resources":[';
        let startkey: unknown = range.startkey;
        let skip = 0;
        let first = true;
        for (;;) {
          const res = await db.view('occitan', 'by_kind', { startkey, endkey: range.endkey, reduce: false, include_docs: true, limit: 500, skip });
          for (const r of res.rows) {
            yield (first ? '' : ',') + JSON.stringify(r.doc);
            first = false;
          }
          if (res.rows.length < 500) break;
          startkey = res.rows[res.rows.length - 1]!.key;
          skip = 1;
        }
        yield ']}';
      }
      ctx.body = Readable.from(pieces());
    }
  });
  const baselineServer = http.createServer({ maxHeaderSize: config.limits.headerBytes }, baseline.callback());
  baselineServer.keepAliveTimeout = 30_000;
  const baselinePort = await listen(baselineServer);

  // The bench process owns this one: if it goes away, so does this process (and its temp dir).
  process.on('disconnect', () => {
    void occitan.close().finally(() => {
      fs.rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  });

  let resettable = true;
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (m: ToChild) => {
    void (async () => {
      switch (m.cmd) {
        case 'prebuild': {
          const sizes: Record<string, number> = {};
          for (const p of m.paths) {
            const res = await fetchBody(occitanPort, p.path, p.accept);
            if (res.status !== 200) throw new Error(`GET ${p.path} (${p.accept}) answered ${res.status}`);
            prebuilt.set(p.name, { type: res.type, body: res.body });
            sizes[p.name] = res.body.length;
          }
          process.send!({ id: m.id, sizes });
          return;
        }
        case 'mem-reset':
          // Let the heap settle (RSS still falls for a while after a load phase), then reset the peak.
          for (let i = 0, last = Infinity; i < 15; i++) {
            gc?.();
            await new Promise((r) => setTimeout(r, 200));
            const rss = statusKb('VmRSS');
            if (last - rss < 1 << 20) break;
            last = rss;
          }
          try {
            fs.writeFileSync('/proc/self/clear_refs', '5');
          } catch {
            resettable = false;
          }
          process.send!({ id: m.id, rss: statusKb('VmRSS'), hwm: statusKb('VmHWM'), resettable } satisfies Memory & { id: number });
          return;
        case 'mem-read':
          process.send!({ id: m.id, rss: statusKb('VmRSS'), hwm: statusKb('VmHWM'), resettable } satisfies Memory & { id: number });
          return;
        case 'stop':
          occitanServer.closeAllConnections();
          baselineServer.closeAllConnections();
          await Promise.all([new Promise((r) => occitanServer.close(r)), new Promise((r) => baselineServer.close(r))]);
          await occitan.close();
          fs.rmSync(dataDir, { recursive: true, force: true });
          process.send!({ id: m.id }, () => process.exit(0));
          return;
      }
    })().catch((e: unknown) => {
      process.send!({ id: m.id, error: (e as Error).message });
    });
  });
  process.send!({ ready: true, occitanPort, baselinePort, database: config.couchdb.database, dataDir } satisfies Ready);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench server: ${(e as Error).stack ?? String(e)}\n`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(1);
});
