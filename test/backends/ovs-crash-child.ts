/**
 * The process ovs-crash.test.ts kills: an ovs provider on the test's store and switch that starts every
 * create it is given at once and prints `created <id> <attributes as JSON>` as each one is acknowledged.
 * Run with `node -r ts-node/register/transpile-only`; its input comes in OVS_CRASH_INPUT (JSON).
 */
import type { BackendContext, BackendEntity } from '../../src/backends/backend';
import { createBackend } from '../../src/backends/ovs';
import { connectServer } from '../../src/store/couch';
import { CouchKeyedState } from '../../src/store/keyed-state';

interface Input {
  url: string;
  db: string;
  options: Record<string, unknown>;
  /** Everything the "service" holds (for reconciliation at init). */
  known: BackendEntity[];
  /** The creates to start at once. */
  create: BackendEntity[];
}

async function main(): Promise<void> {
  const input = JSON.parse(process.env['OVS_CRASH_INPUT'] ?? '{}') as Input;
  const db = connectServer(input.url).use(input.db);
  const quiet = (): void => undefined;
  const ctx: BackendContext = {
    provider: 'ovs',
    options: input.options,
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    resolve: async (tenant, id) => input.known.find((e) => e.id === id && e.tenant === tenant),
    owned: async function* () {
      yield* input.known;
    },
    report: async () => undefined,
    state: new CouchKeyedState(db, 'ovs'),
    clock: { now: () => Date.now(), duration: (_name, fallback) => fallback },
  };
  const backend = createBackend('ovs');
  await backend.init(ctx);
  process.stdout.write('ready\n');
  await Promise.all(
    input.create.map(async (e) => {
      const r = await backend.create(e);
      process.stdout.write(`created ${e.id} ${JSON.stringify(r.attributes)}\n`);
    }),
  );
  process.stdout.write('all created\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
