/**
 * What every libvirt backend test file shares: a run of its own (instance, pool, CouchDB database),
 * entity makers, a BackendContext that knows the entities the "service" holds, and a teardown that
 * removes every domain, volume and the pool the run made.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { BackendEntity } from '../../src/backends/backend';
import type { Attributes } from '../../src/model/types';
import { INFRA } from '../../src/model/types';
import { connectServer, openDatabase } from '../../src/store/couch';
import type { Database } from '../../src/store/couch';
import { startEmbeddedStore } from '../../src/store/embedded';
import type { EmbeddedStore } from '../../src/store/embedded';
import { makeTestContext } from './context';
import type { TestContext } from './context';
import { cleanup, requireDaemon } from './libvirt-observer';

export const PROVIDER = 'libvirt';
export const TENANT = 'tenant-a';
export const COMPUTE = INFRA + 'compute';
export const STORAGE = INFRA + 'storage';
export const STORAGELINK = INFRA + 'storagelink';
export const CONSOLE = 'https://occitan.dev/occi/libvirt#console';
export const A = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
export const S = 'http://schemas.ogf.org/occi/infrastructure/storage/action#';
export const GIB = 1024 ** 3;

export interface LibvirtFixture {
  run: string;
  instance: string;
  pool: string;
  poolPath: string;
  options: Record<string, unknown>;
  durations: Record<string, number>;
  /** Entities the "service" holds: init's reconciliation must not reap what they own. */
  known: BackendEntity[];
  db(): Database;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  context(durations?: Record<string, number>): TestContext;
  entity(kind: string, attributes: Attributes, extra?: Partial<BackendEntity>): BackendEntity;
  compute(attributes?: Attributes, mixins?: string[]): BackendEntity;
  storage(gib: number): BackendEntity;
  link(source: BackendEntity, target: BackendEntity, attributes?: Attributes): BackendEntity;
  /** Whether the offline mark of a volume is in CouchDB (read directly). */
  offlineMark(volume: string): Promise<boolean>;
}

export function libvirtFixture(durations: Record<string, number> = { libvirtStopTimeout: 1500, libvirtReapGrace: 0 }): LibvirtFixture {
  const run = randomUUID().slice(0, 8);
  const instance = `test-${run}`;
  const pool = `occitan-test-${run}`;
  const poolPath = `/var/lib/occitan-test/libvirt/${run}`;
  const options = { uri: 'qemu:///system', pool, poolPath, instance };
  const dbName = `occitan-test-libvirt-${run}`;
  const known: BackendEntity[] = [];
  let store: EmbeddedStore | undefined;
  let url = '';
  let db: Database | undefined;

  const f: LibvirtFixture = {
    run, instance, pool, poolPath, options, durations, known,
    db: () => {
      if (!db) throw new Error('fixture used before setup');
      return db;
    },
    async setup() {
      await requireDaemon();
      const external = process.env['OCCITAN_COUCHDB_URL'];
      if (external) url = external;
      else {
        store = await startEmbeddedStore({ memory: true, log: () => undefined });
        url = store.url;
      }
      db = await openDatabase(url, dbName, path.join(__dirname, '..', '..', 'couchdb'));
    },
    async teardown() {
      await cleanup(instance, pool);
      if (store) await store.close();
      else if (url) await connectServer(url).db.destroy(dbName).catch(() => undefined);
    },
    context(d = durations) {
      const ctx = makeTestContext({ provider: PROVIDER, db: f.db(), options, durations: d });
      for (const e of known) ctx.register(e);
      return ctx;
    },
    entity(kind, attributes, extra = {}) {
      const id = randomUUID();
      const e: BackendEntity = {
        id,
        tenant: TENANT,
        location: `/${kind.slice(kind.indexOf('#') + 1)}/${id}`,
        kind,
        mixins: [],
        attributes: { 'occi.core.id': `urn:uuid:${id}`, ...attributes },
        ...extra,
      };
      known.push(e);
      return e;
    },
    compute(attributes = {}, mixins = []) {
      return f.entity(COMPUTE, { 'occi.core.title': 'a <tiny> "vm" & more', 'occi.compute.memory': 0.03125, 'occi.compute.cores': 1, ...attributes }, { mixins });
    },
    storage(gib) {
      return f.entity(STORAGE, { 'occi.storage.size': gib });
    },
    link(source, target, attributes = {}) {
      return f.entity(STORAGELINK, { 'occi.core.source': source.location, 'occi.core.target': target.location, ...attributes }, {
        source: { id: source.id, kind: source.kind, ...(source.ref !== undefined ? { ref: source.ref } : {}) },
        target: { id: target.id, kind: target.kind, ...(target.ref !== undefined ? { ref: target.ref } : {}) },
      });
    },
    async offlineMark(volume) {
      try {
        await f.db().get(`state:${PROVIDER}:offline:${volume}`);
        return true;
      } catch {
        return false;
      }
    },
  };
  return f;
}
