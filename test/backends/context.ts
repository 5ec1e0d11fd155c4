/**
 * A real BackendContext for backend tests. `state` is the CouchKeyedState the server hands backends, on a
 * real CouchDB-protocol server; resolve/owned/report are in-memory stand-ins fed by the test, because
 * they are the service's business and not under test here.
 */
import type { DocumentScope } from 'nano';
import type { BackendContext, BackendEntity, EntityId, Logger, Realised } from '../../src/backends/backend';
import { CouchKeyedState } from '../../src/store/keyed-state';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  extra?: Record<string, unknown>;
}

export interface TestContext extends BackendContext {
  readonly state: CouchKeyedState;
  /** What the backend reported on its own, in order. */
  readonly reports: Array<{ id: EntityId; realised: Realised }>;
  readonly logs: LogLine[];
  /** Makes an entity known to resolve() and owned() (the service would have stored it). */
  register(entity: BackendEntity): void;
  forget(id: EntityId): void;
}

export interface TestContextOptions {
  provider: string;
  db: DocumentScope<unknown>;
  options?: Record<string, unknown>;
  /** Named waits (`clock.duration`); anything not listed gets the caller's fallback. */
  durations?: Record<string, number>;
}

export function makeTestContext(opts: TestContextOptions): TestContext {
  const entities = new Map<EntityId, BackendEntity>();
  const logs: LogLine[] = [];
  const reports: Array<{ id: EntityId; realised: Realised }> = [];
  // Quiet by default; OCCITAN_TEST_LOG=1 echoes what the backend logs, to debug a failing run.
  const echo = process.env['OCCITAN_TEST_LOG'] === '1';
  const line =
    (level: LogLine['level']) =>
    (msg: string, extra?: Record<string, unknown>): void => {
      logs.push({ level, msg, ...(extra ? { extra } : {}) });
      if (echo) process.stderr.write(`[${opts.provider}] ${level}: ${msg} ${extra ? JSON.stringify(extra) : ''}\n`);
    };
  const log: Logger = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };

  return {
    provider: opts.provider,
    options: opts.options ?? {},
    log,
    logs,
    reports,
    state: new CouchKeyedState(opts.db, opts.provider),
    clock: {
      now: () => Date.now(),
      duration: (name: string, fallbackMs: number) => opts.durations?.[name] ?? fallbackMs,
    },
    async resolve(tenant: string, id: EntityId) {
      const e = entities.get(id);
      // Tenant-scoped like the real one: another tenant's entity does not exist for this caller.
      return e && e.tenant === tenant ? e : undefined;
    },
    async *owned() {
      yield* [...entities.values()];
    },
    async report(id: EntityId, realised: Realised) {
      reports.push({ id, realised });
    },
    register(entity: BackendEntity) {
      entities.set(entity.id, entity);
    },
    forget(id: EntityId) {
      entities.delete(id);
    },
  };
}
