/**
 * `npm run chaos [-- ROUNDS [SEED]]` (or CHAOS_ROUNDS, CHAOS_SEED, CHAOS_OPS): the crash-consistency run of
 * chaos.ts on the real daemons (bash scripts/services.sh start docker|libvirt|ovs). Its last line is the
 * summary (cases, 5xx, lost, orphans, missing, ghosts); it exits 1 when any of them but cases is not 0.
 */
import { runChaos } from './chaos';

function int(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(value)}`);
  return n;
}

async function main(): Promise<void> {
  const [roundsArg, seedArg] = process.argv.slice(2);
  const rounds = int(roundsArg ?? process.env['CHAOS_ROUNDS'], 10, 'rounds');
  const seed = int(seedArg ?? process.env['CHAOS_SEED'], 8, 'seed');
  const ops = int(process.env['CHAOS_OPS'], 12, 'CHAOS_OPS');
  const r = await runChaos({ rounds, seed, ops });
  if (r.fiveXX + r.lost + r.orphans + r.missing + r.ghosts > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`chaos: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
});
