/**
 * What every libvirt backend test file shares: a run of its own (instance, pool, CouchDB database, an
 * OVS bridge for VM network interfaces), entity makers, a BackendContext that knows the entities the
 * "service" holds, an ovs provider for the networks, and a teardown that removes every domain, volume,
 * the pool, and the bridge (with every port on it) the run made.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Backend, BackendEntity } from '../../src/backends/backend';
import { createBackend as createOvsBackend } from '../../src/backends/ovs';
import type { Attributes } from '../../src/model/types';
import { INFRA } from '../../src/model/types';
import { connectServer, openDatabase } from '../../src/store/couch';
import type { Database } from '../../src/store/couch';
import { startEmbeddedStore } from '../../src/store/embedded';
import type { EmbeddedStore } from '../../src/store/embedded';
import { makeTestContext } from './context';
import type { TestContext } from './context';
import { cleanup, requireDaemon } from './libvirt-observer';
import { deleteBridges, requireOvs, testBridge, vsctl } from './ovs-observer';

export const PROVIDER = 'libvirt';
export const TENANT = 'tenant-a';
export const COMPUTE = INFRA + 'compute';
export const STORAGE = INFRA + 'storage';
export const STORAGELINK = INFRA + 'storagelink';
export const NETWORK = INFRA + 'network';
export const NETWORKINTERFACE = INFRA + 'networkinterface';
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
  /** The run's own OVS bridge (networks of the ovs provider below go there). */
  bridge: string;
  /** An ovs provider on the run's bridge and instance, started on first use (OVS must answer). */
  ovs(): Promise<Backend>;
  network(vlan: number): BackendEntity;
  /** A networkinterface from a compute to a network, their refs as the service would hand them. */
  nic(source: BackendEntity, network: BackendEntity, attributes?: Attributes): BackendEntity;
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
  const bridge = testBridge('occl');
  let ovs: Backend | undefined;

  const f: LibvirtFixture = {
    run, instance, pool, poolPath, options, durations, known, bridge,
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
      await ovs?.close();
      await cleanup(instance, pool);
      await deleteBridges([bridge]);
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
    async ovs() {
      if (ovs) return ovs;
      await requireOvs();
      const b = createOvsBackend('ovs');
      const ctx = makeTestContext({ provider: 'ovs', db: f.db(), options: { bridges: [bridge], instance } });
      for (const e of known) ctx.register(e);
      await b.init(ctx);
      ovs = b;
      return b;
    },
    network(vlan) {
      return f.entity(NETWORK, { 'occi.network.vlan': vlan });
    },
    nic(source, network, attributes = {}) {
      return f.entity(NETWORKINTERFACE, { 'occi.core.source': source.location, 'occi.core.target': network.location, ...attributes }, {
        source: { id: source.id, kind: source.kind, ...(source.ref !== undefined ? { ref: source.ref } : {}) },
        target: { id: network.id, kind: network.kind, ...(network.ref !== undefined ? { ref: network.ref } : {}) },
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

/** An interface of a domain as `virsh dumpxml` shows it (the tests' own reading). */
export interface ObservedInterface {
  type: string;
  mac: string;
  bridge: string;
  vlan: number | undefined;
  virtualport: string;
  interfaceId: string;
  dev: string;
  model: string;
  alias: string;
  link: string;
}

export function interfacesIn(xml: string): ObservedInterface[] {
  return [...xml.matchAll(/<interface type='([^']*)'>([\s\S]*?)<\/interface>/g)].map((m) => {
    const b = m[2]!;
    const tag = /<vlan>\s*<tag id='(\d+)'\/>/.exec(b)?.[1];
    return {
      type: m[1]!,
      mac: /<mac address='([^']*)'/.exec(b)?.[1] ?? '',
      bridge: /<source bridge='([^']*)'/.exec(b)?.[1] ?? '',
      vlan: tag === undefined ? undefined : Number(tag),
      virtualport: /<virtualport type='([^']*)'/.exec(b)?.[1] ?? '',
      interfaceId: /<parameters interfaceid='([^']*)'/.exec(b)?.[1] ?? '',
      dev: /<target dev='([^']*)'/.exec(b)?.[1] ?? '',
      model: /<model type='([^']*)'/.exec(b)?.[1] ?? '',
      alias: /<alias name='([^']*)'/.exec(b)?.[1] ?? '',
      link: /<link state='([^']*)'/.exec(b)?.[1] ?? 'up',
    };
  });
}

/** An OVS port and its interface as `ovs-vsctl` shows them; undefined when there is no such port. */
export async function ovsPort(name: string): Promise<{ bridge: string; tag: number | undefined; ifaceIds: Record<string, string> } | undefined> {
  const out = JSON.parse(await vsctl(['--format=json', '--columns=tag', 'find', 'Port', `name=${name}`])) as { data: unknown[][] };
  const row = out.data[0];
  if (!row) return undefined;
  const tag = Array.isArray(row[0]) ? undefined : (row[0] as number);
  const iface = JSON.parse(await vsctl(['--format=json', '--columns=external_ids', 'find', 'Interface', `name=${name}`])) as { data: unknown[][] };
  const map = (iface.data[0]?.[0] as [string, Array<[string, string]>] | undefined)?.[1] ?? [];
  return { bridge: (await vsctl(['port-to-br', name])).trim(), tag, ifaceIds: Object.fromEntries(map) };
}
