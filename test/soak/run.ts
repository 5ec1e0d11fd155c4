/**
 * `npm run soak`: the full soak (issue 8, Deliver 5), run by node with --expose-gc. Clients, duration and
 * seed from argv (`--clients 64 --seconds 60 --seed 5`) or the environment (SOAK_CLIENTS, SOAK_SECONDS,
 * SOAK_SEED). Ends with one summary line (`soak: cases=… 5xx=… lost=… … p99=…`) and exits 1 on any 5xx,
 * lost update, transport error, unexpected answer, or heap growth past the stated margin.
 */
import { HEAP_MARGIN_MIB, runSoak, summaryLine } from './soak';

function option(name: string, env: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const raw = at >= 0 ? process.argv[at + 1] : process.env[env];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${name} (${env}) must be a whole number above 0; got ${JSON.stringify(raw)}`);
  return value;
}

async function main(): Promise<void> {
  const opts = { clients: option('clients', 'SOAK_CLIENTS', 64), durationMs: option('seconds', 'SOAK_SECONDS', 60) * 1000, seed: option('seed', 'SOAK_SEED', 5), memoryStore: process.argv.includes('--memory') || process.env.SOAK_STORE === 'memory' };
  const r = await runSoak(opts);
  for (const e of r.examples) process.stderr.write(`soak: ${e}\n`);
  process.stderr.write(`soak: statuses ${JSON.stringify(r.statuses)}\n`);
  const heapOk = r.heapEndMiB - r.heapStartMiB <= HEAP_MARGIN_MIB;
  if (!heapOk) process.stderr.write(`soak: the heap grew by ${(r.heapEndMiB - r.heapStartMiB).toFixed(1)} MiB, over the margin of ${HEAP_MARGIN_MIB} MiB\n`);
  process.stdout.write(summaryLine(r, opts) + '\n');
  process.exitCode = r.fivexx + r.lost + r.errors + r.unexpected === 0 && heapOk ? 0 : 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`soak: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
