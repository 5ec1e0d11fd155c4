/**
 * `npm run fuzz`: the full fuzz run (issue 8, Deliver 1). Cases and seed from argv (`--cases N --seed S`)
 * or the environment (FUZZ_CASES, FUZZ_SEED); 20 000 cases from seed 8 by default. `--replay PATH` (FUZZ_REPLAY)
 * runs again the case fast-check reported as `path` after a failure. Ends with one summary
 * line (`fuzz: cases=… 5xx=… lost=… …`) and exits 1 when any property failed.
 */
import { startFuzzer, summaryLine } from './fuzzer';

function option(name: string, env: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const raw = at >= 0 ? process.argv[at + 1] : process.env[env];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} (${env}) must be a whole number; got ${JSON.stringify(raw)}`);
  return value;
}

async function main(): Promise<void> {
  const cases = option('cases', 'FUZZ_CASES', 20000);
  const seed = option('seed', 'FUZZ_SEED', 8);
  const started = Date.now();
  const fuzzer = await startFuzzer();
  let tally;
  try {
    const replayAt = process.argv.indexOf('--replay');
    const replay = replayAt >= 0 ? process.argv[replayAt + 1] : process.env.FUZZ_REPLAY || undefined;
    tally = await fuzzer.run(cases, seed, (done) => process.stderr.write(`fuzz: ${done}/${cases} cases, ${((Date.now() - started) / 1000).toFixed(0)} s\n`), replay);
  } finally {
    await fuzzer.close();
  }
  for (const e of tally.examples) process.stderr.write(`fuzz: ${e}\n`);
  for (const e of tally.errors) process.stderr.write(`fuzz: logged ${e}\n`);
  process.stderr.write(`fuzz: statuses ${JSON.stringify(tally.statuses)}\n`);
  const failed = tally.fivexx + tally.lost + tally.hangs + tally.mediaType + tally.unhandled > 0;
  process.stdout.write(summaryLine(tally, seed, Date.now() - started) + '\n');
  process.exitCode = failed ? 1 : 0;
}

main().catch((e: unknown) => {
  // fast-check's report holds the whole counterexample; what the check threw is its `cause`.
  const cause = e instanceof Error && e.cause !== undefined ? e.cause : undefined;
  if (cause !== undefined) process.stderr.write(`fuzz: the check threw: ${cause instanceof Error ? cause.stack : String(cause)}\n`);
  process.stderr.write(`fuzz: ${e instanceof Error ? (e.stack ?? '').slice(0, 4000) : String(e)}\n`);
  process.exitCode = 1;
});
