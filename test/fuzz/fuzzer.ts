/**
 * The fuzz runner (issue 8, Deliver 1), shared by `npm run fuzz` (test/fuzz/run.ts) and the short jest
 * version (fuzz.test.ts). A whole occitan in auth.mode tokens (embedded in-memory store, dummy provider),
 * served as `occitan serve` serves it (`http.createServer({ maxHeaderSize }, app.callback())` on
 * 127.0.0.1:0), gets each generated case as raw bytes on a fresh connection. Properties, per case:
 *
 * - never a 5xx (the two 501s the project documents as its answer are counted apart, see `documented501`);
 * - never a crash or hang: a response arrives within REQUEST_TIMEOUT_MS and no promise rejection goes unhandled;
 * - a refused request (4xx) leaves the store as it was: CouchDB `update_seq` equal before and after
 *   (a refused request that moved it is counted as `lost`: the client was told "no" but something was written);
 * - occitan's responses come in the client's media type when it asked for one it offers (Node's own
 *   parser errors, without occitan's `Server` header, carry none).
 *
 * Cases come from fast-check with a fixed seed (`fc.assert` over an always-true property that tallies, so
 * generation is lazy and one seed names the whole run). The lease sweep is pushed out of the way so
 * nothing else writes while a case runs.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import fc from 'fast-check';
import type { Test } from 'supertest';
import type { Logger } from '../../src/backends/backend';
import { startTokenHarness, tokenFixture } from '../support/auth';
import { COMPUTE_CATEGORY, INFRA, type Harness } from '../support/harness';
import { expectedMediaType, fuzzCase, type Fixtures, type FuzzCase } from './generators';
import { createHttpServer } from '../../src/http/http-server';

export const REQUEST_TIMEOUT_MS = 20000;
const TAG = 'fuzztag; scheme="http://example.com/tags#"; class="mixin"; location="/tags/fuzz/"';

export interface RawResponse {
  status: number;
  headers: Map<string, string[]>;
  body: string;
}

export interface Tally {
  cases: number;
  fivexx: number;
  lost: number;
  hangs: number;
  mediaType: number;
  unhandled: number;
  /**
   * Cases whose bytes held a complete request occitan handled followed by bytes Node's parser refused (Node
   * answered its own bare 400 and closed the connection while occitan's request ran on), or a second request
   * pipelined behind the first. The client never saw that answer, so its writes are not a refusal's (not
   * `lost`); counted apart, not failures.
   */
  unseen: number;
  /**
   * 501s the project documents as its answer, not failures: a `User-Agent: … OCCI/x.y` newer than 1.2
   * (GFD.185), and an action the entity's provider does not implement (compute `save` on the dummy
   * provider, src/backends/dummy/machines.ts).
   */
  documented501: number;
  statuses: Record<string, number>;
  /** Descriptions of the first violations, for the report. */
  examples: string[];
  /** The first 500s' logged errors (stack traces). */
  errors: string[];
}

export interface Fuzzer {
  fixtures: Fixtures;
  tally: Tally;
  /** Runs `cases` generated cases from `seed`, one at a time; `replay` (fast-check's `path`) runs one failing case again. */
  run(cases: number, seed: number, progress?: (done: number) => void, replay?: string): Promise<Tally>;
  close(): Promise<void>;
}

export function summaryLine(t: Tally, seed: number, ms: number): string {
  return `fuzz: cases=${t.cases} 5xx=${t.fivexx} lost=${t.lost} hangs=${t.hangs} mediatype=${t.mediaType} unhandled=${t.unhandled} documented-501=${t.documented501} unseen=${t.unseen} seed=${seed} seconds=${(ms / 1000).toFixed(1)}`;
}

/** Writes a case on a new connection and reads until the server closes it (bounded). */
export function sendRaw(port: number, c: FuzzCase): Promise<RawResponse> {
  const lines = [`${c.method} ${c.target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close', ...c.headers.map(([n, v]) => `${n}: ${v}`)];
  let payload = c.body;
  if (c.chunked) {
    lines.push('Transfer-Encoding: chunked');
    payload = Buffer.concat([c.body.length ? Buffer.from(`${c.body.length.toString(16)}\r\n`, 'latin1') : Buffer.alloc(0), c.body, Buffer.from(c.body.length ? '\r\n0\r\n\r\n' : '0\r\n\r\n', 'latin1')]);
  } else if (c.body.length || ['POST', 'PUT', 'PATCH'].includes(c.method)) {
    lines.push(`Content-Length: ${c.body.length}`);
  }
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy(new Error(`hang: no complete answer within ${REQUEST_TIMEOUT_MS} ms`)));
    socket.on('data', (d: Buffer) => chunks.push(d));
    // The server may answer (413, 431, 400) and close before reading the whole body: that is an answer.
    socket.on('error', (e) => (chunks.length ? undefined : reject(e)));
    socket.on('close', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks), c.method === 'HEAD'));
      } catch (e) {
        reject(e as Error);
      }
    });
    socket.write(Buffer.concat([head, payload]));
  });
}

/** The first final response in the bytes (1xx interim responses skipped), chunked bodies decoded. */
export function parseResponse(bytes: Buffer, head: boolean): RawResponse {
  let text = bytes.toString('latin1');
  for (;;) {
    const end = text.indexOf('\r\n\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
    if (!m || end < 0) throw new Error(`no response (connection closed after ${bytes.length} bytes: ${JSON.stringify(text.slice(0, 120))})`);
    const status = Number(m[1]);
    const headers = new Map<string, string[]>();
    for (const line of text.slice(0, end).split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
    }
    let rest = text.slice(end + 4);
    if (status < 200) {
      text = rest;
      continue;
    }
    if (head) rest = '';
    else if (headers.get('transfer-encoding')?.[0] === 'chunked') rest = dechunk(rest);
    return { status, headers, body: Buffer.from(rest, 'latin1').toString('utf8') };
  }
}

function dechunk(text: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', i);
    if (eol < 0) return out;
    const size = parseInt(text.slice(i, eol), 16);
    if (!(size > 0)) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}

/** A short, printable description of a case for a report. */
export function describeCase(c: FuzzCase): string {
  const cut = (s: string, n = 160): string => (s.length > n ? `${s.slice(0, n)}…(${s.length})` : s);
  const headers = c.headers.map(([n, v]) => `${n}: ${cut(JSON.stringify(v).slice(1, -1), 120)}`).join(' | ');
  return `${c.method} ${cut(c.target)}${c.chunked ? ' (chunked)' : ''} [${headers}] body=${cut(JSON.stringify(c.body.toString('utf8')), 200)}`;
}

/** Whether the case names an OCCI version above 1.2 in its (first) User-Agent, which occitan answers with 501. */
function asksNewerOcci(c: FuzzCase): boolean {
  const ua = c.headers.find(([n]) => n.toLowerCase() === 'user-agent');
  const m = ua && /OCCI\/(\d+)\.(\d+)/i.exec(ua[1]);
  return !!m && (Number(m[1]) > 1 || (Number(m[1]) === 1 && Number(m[2]) > 2));
}

const base = (contentType: string | undefined): string => (contentType ?? '').split(';')[0]!.trim().toLowerCase();

export async function startFuzzer(): Promise<Fuzzer> {
  const tokens = tokenFixture();
  const alice = tokens.add('alice', 'acme', 'member');
  const bob = tokens.add('bob', 'beta', 'member');
  const root = tokens.add('root', 'default', 'admin', true);
  const errors: string[] = [];
  const log: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string, f?: unknown) => void (errors.length < 20 && errors.push(`${m} ${JSON.stringify(f)}`)) };
  // Nothing but the cases writes: the lease sweep runs once at start, then not again for the run.
  const h: Harness = await startTokenHarness(tokens, { timers: { leaseSweep: 24 * 3600 * 1000 } }, { log });
  // Requests occitan is handling, and how many it began for the current case: a case's bytes may hold a
  // request followed by garbage Node refuses on its own (closing the socket while occitan's request runs on).
  const handler = h.occitan.app.callback();
  let inFlight = 0;
  let begun = 0;
  const server = createHttpServer(h.config, (req, res) => {
    inFlight++;
    begun++;
    // Counted until koa's middleware has finished, not until the socket closes: Node destroys the socket
    // on a parse error of trailing bytes while the handler runs on.
    void Promise.resolve(handler(req, res)).finally(() => inFlight--);
  });
  /** Waits (bounded) until no request of an earlier case is still running, so its writes are not the next case's. */
  const idle = async (): Promise<void> => {
    const deadline = Date.now() + REQUEST_TIMEOUT_MS;
    while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    if (inFlight > 0) throw new Error(`a request still runs ${REQUEST_TIMEOUT_MS} ms after its connection closed`);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  const ids = { vm: '3f1c2e4a-7b6d-4e8f-9a0b-1c2d3e4f5a60', net: '3f1c2e4a-7b6d-4e8f-9a0b-1c2d3e4f5a61', disk: '3f1c2e4a-7b6d-4e8f-9a0b-1c2d3e4f5a62', link: '3f1c2e4a-7b6d-4e8f-9a0b-1c2d3e4f5a63' };
  const fixtures: Fixtures = { alice, bob, root, vm: `/compute/${ids.vm}`, net: `/network/${ids.net}`, disk: `/storage/${ids.disk}`, link: `/networkinterface/${ids.link}`, tagLocation: '/tags/fuzz/' };

  /** (Re)creates the fixtures a case deleted: PUT with If-None-Match: * is a 412 and a no-op where they exist. */
  const ensureFixtures = async (): Promise<void> => {
    const as = (r: Test): Test => r.set('X-Auth-Token', alice).set('Content-Type', 'text/occi').set('If-None-Match', '*');
    const put = async (path: string, category: string, attributes?: string): Promise<void> => {
      const r = as(h.http.put(path)).set('Category', category);
      const res = await (attributes ? r.set('X-OCCI-Attribute', attributes) : r);
      if (![201, 412].includes(res.status)) throw new Error(`fixture ${path}: HTTP ${res.status} ${res.text}`);
    };
    await put(fixtures.vm, COMPUTE_CATEGORY);
    await put(fixtures.net, `network; scheme="${INFRA}"; class="kind"`);
    await put(fixtures.disk, `storage; scheme="${INFRA}"; class="kind"`, 'occi.storage.size=1');
    await put(fixtures.link, `networkinterface; scheme="${INFRA}"; class="kind"`, `occi.core.source="${fixtures.vm}", occi.core.target="${fixtures.net}"`);
    const tag = await h.http.get('/-/').set('X-Auth-Token', alice).set('Accept', 'application/occi+json');
    if (!JSON.stringify(tag.body).includes('/tags/fuzz/')) {
      const made = await h.http.post('/-/').set('X-Auth-Token', alice).set('Content-Type', 'text/occi').set('Category', TAG);
      if (made.status !== 200) throw new Error(`fixture mixin: HTTP ${made.status} ${made.text}`);
    }
  };
  await ensureFixtures();

  const tally: Tally = { cases: 0, fivexx: 0, lost: 0, hangs: 0, mediaType: 0, unhandled: 0, documented501: 0, unseen: 0, statuses: {}, examples: [], errors };
  const note = (what: string, c: FuzzCase): void => {
    if (tally.examples.length < 20) tally.examples.push(`${what}: ${describeCase(c)}`);
  };
  const onUnhandled = (e: unknown): void => {
    tally.unhandled++;
    if (tally.examples.length < 20) tally.examples.push(`unhandled rejection: ${e instanceof Error ? e.stack : String(e)}`);
  };
  let seq = await h.seq();

  const check = async (c: FuzzCase): Promise<void> => {
    tally.cases++;
    let res: RawResponse;
    begun = 0;
    try {
      res = await sendRaw(port, c);
      await idle();
    } catch (e) {
      tally.hangs++;
      note(`no answer (${(e as Error).message})`, c);
      await idle().catch(() => undefined);
      seq = await h.seq();
      return;
    }
    tally.statuses[res.status] = (tally.statuses[res.status] ?? 0) + 1;
    const fromOccitan = (res.headers.get('server')?.[0] ?? '').startsWith('occitan/');
    if ((!fromOccitan && begun > 0) || begun > 1) {
      // Node's own refusal of trailing bytes after a request occitan handled (or a second, pipelined request
      // in the bytes): an outcome, and writes, the client never saw. Those writes are legitimate; start the
      // next case from them.
      tally.unseen++;
      await ensureFixtures();
      seq = await h.seq();
      return;
    }
    const after = await h.seq();
    if (res.status === 501 && (asksNewerOcci(c) || /cannot perform|does not implement/.test(res.body))) {
      tally.documented501++;
    } else if (res.status >= 500) {
      tally.fivexx++;
      note(`HTTP ${res.status} ${res.body.slice(0, 200)}`, c);
    } else if (res.status >= 400 && after !== seq) {
      tally.lost++;
      const changes = await h.occitan.db.changes({ since: seq });
      note(`HTTP ${res.status} (${res.body.trim().slice(0, 200)}) changed the store (seq ${seq} → ${after}: ${changes.results.map((r) => r.id).join(', ')})`, c);
    }
    const acceptHeader = c.headers.filter(([n]) => n.toLowerCase() === 'accept');
    const expected = expectedMediaType(acceptHeader.length === 1 ? acceptHeader[0]![1] : acceptHeader.length === 0 ? undefined : '(several)');
    const pathOnly = c.target.split('?')[0]!;
    const providerTable = pathOnly === '/-/providers' || (c.method === 'PUT' && res.status === 200 && base(res.headers.get('content-type')?.[0]) === 'application/json');
    // 204 (OPTIONS) and 304 carry no body, so no media type to check.
    if (fromOccitan && expected && !providerTable && res.status !== 406 && res.status !== 204 && res.status !== 304) {
      const got = base(res.headers.get('content-type')?.[0]);
      if (!expected.includes(got)) {
        tally.mediaType++;
        note(`HTTP ${res.status} in ${got || 'no media type'}, expected ${expected.join(' or ')}`, c);
      }
    }
    if (res.status < 400 && ['POST', 'PUT', 'DELETE', 'PATCH'].includes(c.method)) await ensureFixtures();
    seq = res.status < 400 || after !== seq ? await h.seq() : after;
  };

  return {
    fixtures,
    tally,
    async run(cases, seed, progress, replay) {
      process.on('unhandledRejection', onUnhandled);
      try {
        await fc.assert(
          fc.asyncProperty(fuzzCase(fixtures), async (c) => {
            await check(c);
            if (progress && tally.cases % 1000 === 0) progress(tally.cases);
            return true;
          }),
          { seed, numRuns: cases, endOnFailure: true, ...(replay !== undefined ? { path: replay } : {}) },
        );
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      return tally;
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await h.close();
    },
  };
}
