/**
 * Starts a whole occitan (embedded in-memory CouchDB-protocol store over real HTTP, dummy provider) for
 * HTTP tests, driven through `app.callback()` with supertest: no fixed ports.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { loadConfig, type Config } from '../../src/config';
import type { Logger } from '../../src/backends/backend';
import { startOccitan, type Occitan } from '../../src/server';
import { updateSeq } from '../../src/store/couch';

export const quietLog: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export interface Harness {
  occitan: Occitan;
  config: Config;
  http: TestAgent;
  /** CouchDB `update_seq`: equal before and after shows a request changed nothing. */
  seq(): Promise<string>;
  close(): Promise<void>;
}

/** A backends file with only the dummy provider (not optional: a test can never silently fall back). */
export function dummyBackendsFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-backends-'));
  const file = path.join(dir, 'backends.json');
  const kinds = ['compute', 'storage', 'storagelink', 'network', 'networkinterface'];
  fs.writeFileSync(file, JSON.stringify({
    providers: { dummy: { backend: 'dummy' } },
    kinds: Object.fromEntries(kinds.map((k) => [`http://schemas.ogf.org/occi/infrastructure#${k}`, { providers: ['dummy'] }])),
  }));
  return file;
}

/** `opts.log` receives everything occitan logs (quiet by default): the audit test captures it. */
export async function startHarness(overrides: Record<string, unknown> = {}, opts: { log?: Logger } = {}): Promise<Harness> {
  const config = loadConfig({
    env: { OCCITAN_COUCHDB_URL: process.env.OCCITAN_COUCHDB_URL ?? '' },
    overrides: {
      backendsFile: dummyBackendsFile(),
      couchdb: { url: process.env.OCCITAN_COUCHDB_URL ?? '', database: `t${Date.now()}${Math.floor(Math.random() * 1e6)}` },
      log: { level: 'silent' },
      // Authentication has its own tests (test/http/auth.test.ts); elsewhere the caller is the loopback admin.
      auth: { mode: 'none' },
      ...overrides,
    },
  });
  const occitan = await startOccitan(config, { memoryStore: true, log: opts.log ?? quietLog });
  const http = request(occitan.app.callback());
  return {
    occitan,
    config,
    http,
    seq: () => updateSeq(occitan.db),
    close: () => occitan.close(),
  };
}

/** Whether the harness's CouchDB database holds the document `id` (read straight from the store). */
export async function storeHas(h: Harness, id: string): Promise<boolean> {
  try {
    await h.occitan.db.get(id);
    return true;
  } catch (e) {
    if (typeof e === 'object' && e !== null && (e as { statusCode?: number }).statusCode === 404) return false;
    throw e;
  }
}

/** Whether the dummy provider's platform record of an entity (`state:dummy:<uid>`, its backend object) exists. */
export function dummyPlatformHas(h: Harness, uid: string): Promise<boolean> {
  return storeHas(h, `state:dummy:${uid}`);
}

export const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
export const COMPUTE_CATEGORY = `compute; scheme="${INFRA}"; class="kind"`;
