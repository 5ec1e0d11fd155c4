/**
 * A small loopback load generator: `concurrency` loops, each sending one request at a time over a
 * keep-alive agent, until a request count or a duration is reached. Latency is measured per request from
 * sending to the last body byte. Only 127.0.0.1 is ever addressed.
 */
import * as http from 'node:http';

export interface LoadSpec {
  port: number;
  /** A path, or a function giving the path of the i-th request (paging through a collection). */
  path: string | ((i: number) => string);
  headers?: Record<string, string>;
  concurrency: number;
  /** Stop after this many requests … */
  requests?: number;
  /** … or after this long (ms), whichever comes first. */
  durationMs?: number;
  /** Requests sent (and not measured) before measuring, to warm caches, JIT and view indexes. */
  warmupMs?: number;
  expectStatus?: number;
}

export interface LoadResult {
  requests: number;
  /** Responses with another status than expected, and transport errors. */
  errors: number;
  firstError?: string;
  elapsedMs: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  /** Mean body size in bytes. */
  bytes: number;
}

function once(agent: http.Agent, spec: LoadSpec, path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: spec.port, path, method: 'GET', agent, headers: spec.headers }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function drive(spec: LoadSpec, agent: http.Agent, stopAfterMs: number, maxRequests: number, record: boolean) {
  const latencies: number[] = [];
  let sent = 0;
  let errors = 0;
  let bytes = 0;
  let firstError: string | undefined;
  const expect = spec.expectStatus ?? 200;
  const started = process.hrtime.bigint();
  const deadline = Number.isFinite(stopAfterMs) ? started + BigInt(Math.round(stopAfterMs * 1e6)) : BigInt(Number.MAX_SAFE_INTEGER) * 1000n;
  const loop = async (): Promise<void> => {
    while (sent < maxRequests && process.hrtime.bigint() < deadline) {
      const i = sent++;
      const path = typeof spec.path === 'function' ? spec.path(i) : spec.path;
      const t0 = process.hrtime.bigint();
      try {
        const res = await once(agent, spec, path);
        if (res.status !== expect) {
          errors++;
          firstError ??= `HTTP ${res.status} for GET ${path}`;
        }
        bytes += res.bytes;
      } catch (e) {
        errors++;
        firstError ??= `${(e as Error).message} for GET ${path}`;
      }
      if (record) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, loop));
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  return { latencies, errors, bytes, elapsedMs, firstError };
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
  try {
    if (spec.warmupMs) await drive(spec, agent, spec.warmupMs, Infinity, false);
    const run = await drive(spec, agent, spec.durationMs ?? Infinity, spec.requests ?? Infinity, true);
    const sorted = [...run.latencies].sort((a, b) => a - b);
    const n = sorted.length;
    return {
      requests: n,
      errors: run.errors,
      ...(run.firstError ? { firstError: run.firstError } : {}),
      elapsedMs: run.elapsedMs,
      rps: n / (run.elapsedMs / 1000),
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[n - 1] ?? NaN,
      bytes: n ? Math.round(run.bytes / n) : 0,
    };
  } finally {
    agent.destroy();
  }
}
