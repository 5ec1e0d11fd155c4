/**
 * The short fuzz run inside the normal test command (issue 8, Deliver 1): 2 000 seeded cases of malformed
 * and hostile requests through the same runner as `npm run fuzz` (test/fuzz/fuzzer.ts, which states the
 * properties): no 5xx, no hang or crash, no refused request that changed the store, responses in the
 * client's media type.
 */
import { startFuzzer, summaryLine, type Fuzzer } from './fuzzer';

const CASES = 2000;
const SEED = 42;
let fuzzer: Fuzzer;

beforeAll(async () => {
  fuzzer = await startFuzzer();
}, 120000);
afterAll(async () => fuzzer?.close(), 60000);

test(`${CASES} generated requests (seed ${SEED}): no 5xx, no hang, refused ones change nothing, answers in the asked media type`, async () => {
  const started = Date.now();
  const t = await fuzzer.run(CASES, SEED);
  process.stdout.write(`${summaryLine(t, SEED, Date.now() - started)}\n`);
  expect(t.cases).toBe(CASES);
  expect({ fivexx: t.fivexx, lost: t.lost, hangs: t.hangs, mediaType: t.mediaType, unhandled: t.unhandled, examples: t.examples, errors: t.errors })
    .toEqual({ fivexx: 0, lost: 0, hangs: 0, mediaType: 0, unhandled: 0, examples: [], errors: [] });
  // The run reached past the parsers: some requests were served, not only refused.
  expect(Object.keys(t.statuses).filter((s) => s.startsWith('2')).length).toBeGreaterThan(0);
}, 900000);
