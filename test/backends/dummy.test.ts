/**
 * The dummy provider on a real CouchDB-protocol server: the shared conformance suite, then what only the
 * dummy promises (device names per source, the state table's refusals, admin kinds' recorded actions).
 * The observer reads the provider's CouchDB documents over HTTP with nano, bypassing both the backend
 * and CouchKeyedState. OCCITAN_COUCHDB_URL runs it against an external CouchDB instead of the embedded one.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { BackendEntity } from '../../src/backends/backend';
import { createBackend, FAULT_ATTRIBUTE, HISTORY_LIMIT, macFor } from '../../src/backends/dummy';
import type { DummyRecord } from '../../src/backends/dummy';
import { connectServer, couchStatus, openDatabase } from '../../src/store/couch';
import type { Database } from '../../src/store/couch';
import { startEmbeddedStore } from '../../src/store/embedded';
import type { EmbeddedStore } from '../../src/store/embedded';
import type { Attributes, TypeId } from '../../src/model/types';
import { INFRA } from '../../src/model/types';
import { conformanceSuite } from './conformance';
import type { Observer } from './conformance';
import { makeTestContext } from './context';

const PROVIDER = 'dummy';
const TENANT = 'tenant-a';
const COMPUTE_ACTION = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
const NETWORK_ACTION = 'http://schemas.ogf.org/occi/infrastructure/network/action#';
const STORAGE_ACTION = 'http://schemas.ogf.org/occi/infrastructure/storage/action#';
const LOCAL_UNICAST_MAC = /^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/;

let store: EmbeddedStore | undefined;
let url: string;
let db: Database;
const dbName = `occitan-test-dummy-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  const external = process.env['OCCITAN_COUCHDB_URL'];
  if (external) url = external;
  else {
    store = await startEmbeddedStore({ memory: true, log: () => undefined });
    url = store.url;
  }
  db = await openDatabase(url, dbName, path.join(__dirname, '..', '..', 'couchdb'));
});

afterAll(async () => {
  if (store) await store.close();
  else if (url) await connectServer(url).db.destroy(dbName).catch(() => undefined);
});

function entity(term: string, attributes: Attributes = {}, source?: BackendEntity): BackendEntity {
  const id = randomUUID();
  const location = `/${term}/${id}`;
  return {
    id,
    tenant: TENANT,
    location,
    kind: term.includes('#') ? term : INFRA + term,
    mixins: [],
    attributes: {
      'occi.core.id': id,
      'occi.core.title': `a ${term}`,
      ...(source ? { 'occi.core.source': source.location } : {}),
      ...attributes,
    },
    ...(source ? { source: { id: source.id, kind: source.kind } } : {}),
  };
}

/** The provider's record, read straight from CouchDB. */
async function rawDoc<T>(key: string): Promise<T | undefined> {
  try {
    const doc = (await db.get(`state:${PROVIDER}:${key}`)) as unknown as { value: T };
    return doc.value;
  } catch (e) {
    if (couchStatus(e) === 404) return undefined;
    throw e;
  }
}

const observer: Observer = {
  exists: async (e) => (await rawDoc<DummyRecord>(e.id)) !== undefined,
  state: async (e) => {
    const v = (await rawDoc<DummyRecord>(e.id))?.attributes[`occi.${e.kind.split('#')[1]}.state`];
    return typeof v === 'string' ? v : undefined;
  },
  attributes: async (e) => (await rawDoc<DummyRecord>(e.id))?.attributes,
  identity: async (e) => (await rawDoc<DummyRecord>(e.id))?.instance,
  // Every record of the provider that describes this entity, under whatever key: exactly one after create.
  count: async (e) => {
    const prefix = `state:${PROVIDER}:`;
    const res = await db.list({ startkey: prefix, endkey: prefix + '\ufff0', include_docs: true });
    return res.rows.filter((r) => {
      const v = (r.doc as unknown as { value?: Partial<DummyRecord> } | undefined)?.value;
      return v?.location === e.location && v.tenant === e.tenant;
    }).length;
  },
};

const source = entity('compute');

conformanceSuite({
  name: 'dummy',
  makeBackend: () => createBackend(PROVIDER),
  makeContext: () => makeTestContext({ provider: PROVIDER, db }),
  observer,
  injectFault: (e) => ({ ...e, id: randomUUID(), location: `${e.location}-faulty`, attributes: { ...e.attributes, [FAULT_ATTRIBUTE]: 'after-create' } }),
  entities: [
    {
      entity: entity('compute', { 'occi.compute.cores': 1 }),
      stateAttribute: 'occi.compute.state',
      initialState: 'active',
      updates: [{ change: { attributes: { 'occi.compute.cores': 2, 'occi.compute.hostname': 'h1' } }, expect: { 'occi.compute.cores': 2, 'occi.compute.hostname': 'h1' } }],
      actions: [
        { action: COMPUTE_ACTION + 'start', state: 'active' },
        { action: COMPUTE_ACTION + 'stop', params: { method: 'poweroff' }, state: 'inactive' },
        { action: COMPUTE_ACTION + 'stop', state: 'inactive' },
        { action: COMPUTE_ACTION + 'suspend', rejects: 409 },
        { action: COMPUTE_ACTION + 'restart', rejects: 409 },
        { action: COMPUTE_ACTION + 'start', state: 'active' },
        { action: COMPUTE_ACTION + 'suspend', state: 'suspended' },
        { action: COMPUTE_ACTION + 'restart', rejects: 409 },
        { action: COMPUTE_ACTION + 'start', state: 'active' },
        { action: COMPUTE_ACTION + 'restart', params: { method: 'warm' }, state: 'active' },
        { action: COMPUTE_ACTION + 'save', rejects: 501 },
      ],
    },
    {
      entity: entity('network', { 'occi.network.vlan': 12 }),
      stateAttribute: 'occi.network.state',
      initialState: 'active',
      updates: [{ change: { attributes: { 'occi.network.label': 'blue' } }, expect: { 'occi.network.label': 'blue' } }],
      actions: [
        { action: NETWORK_ACTION + 'down', state: 'inactive' },
        { action: NETWORK_ACTION + 'down', state: 'inactive' },
        { action: NETWORK_ACTION + 'up', state: 'active' },
      ],
    },
    {
      entity: entity('storage', { 'occi.storage.size': 1 }),
      stateAttribute: 'occi.storage.state',
      initialState: 'online',
      updates: [{ change: { attributes: { 'occi.storage.size': 2 } }, expect: { 'occi.storage.size': 2 } }],
      actions: [
        { action: STORAGE_ACTION + 'offline', state: 'offline' },
        { action: STORAGE_ACTION + 'backup', state: 'offline' },
        { action: STORAGE_ACTION + 'online', state: 'online' },
        { action: STORAGE_ACTION + 'snapshot', state: 'online' },
        { action: STORAGE_ACTION + 'resize', params: { size: 5 }, state: 'online', attributes: { 'occi.storage.size': 5 } },
        { action: STORAGE_ACTION + 'resize', params: { size: 0 }, rejects: 400 },
        { action: STORAGE_ACTION + 'resize', params: { size: '7' }, rejects: 400 },
      ],
    },
    {
      entity: entity('networkinterface', {}, source),
      stateAttribute: 'occi.networkinterface.state',
      initialState: 'active',
      checkCreated: (r) => {
        expect(r.attributes['occi.networkinterface.interface']).toMatch(/^eth\d+$/);
        expect(r.attributes['occi.networkinterface.mac']).toMatch(LOCAL_UNICAST_MAC);
      },
      updates: [{ change: { attributes: { 'occi.networkinterface.mac': '02:00:00:00:00:01' } }, expect: { 'occi.networkinterface.mac': '02:00:00:00:00:01' } }],
    },
    {
      entity: entity('storagelink', { 'occi.storagelink.mountpoint': '/data' }, source),
      stateAttribute: 'occi.storagelink.state',
      initialState: 'active',
      checkCreated: (r) => expect(r.attributes['occi.storagelink.deviceid']).toMatch(/^vd[a-z]+$/),
      updates: [{ change: { attributes: { 'occi.storagelink.deviceid': 'vdq' } }, expect: { 'occi.storagelink.deviceid': 'vdq' } }],
    },
  ],
});

describe('dummy provider specifics', () => {
  const backend = createBackend(PROVIDER);
  beforeAll(async () => backend.init(makeTestContext({ provider: PROVIDER, db })));
  afterAll(async () => backend.close());

  async function status(p: Promise<unknown>): Promise<number | undefined> {
    try {
      await p;
      return undefined;
    } catch (e) {
      return (e as { status?: number }).status;
    }
  }

  it('names network interfaces eth0, eth1… per source, reuses freed names, drops the slot document with the last', async () => {
    const vm = entity('compute');
    const [a, b] = [entity('networkinterface', {}, vm), entity('networkinterface', {}, vm)];
    const other = entity('networkinterface', {}, entity('compute'));
    expect((await backend.create(a)).attributes['occi.networkinterface.interface']).toBe('eth0');
    expect((await backend.create(b)).attributes['occi.networkinterface.interface']).toBe('eth1');
    expect((await backend.create(other)).attributes['occi.networkinterface.interface']).toBe('eth0');
    await backend.delete(a);
    const c = entity('networkinterface', {}, vm);
    expect((await backend.create(c)).attributes['occi.networkinterface.interface']).toBe('eth0');
    // A client-chosen name another interface of the source holds: refused, nothing recorded.
    const dup = entity('networkinterface', { 'occi.networkinterface.interface': 'eth1' }, vm);
    expect(await status(backend.create(dup))).toBe(409);
    expect(await observer.exists(dup)).toBe(false);
    for (const x of [b, c, other]) await backend.delete(x);
    expect(await rawDoc(`slots:nic:${vm.id}`)).toBeUndefined();
  });

  it('keeps a re-created interface\'s name and MAC, and honours a MAC the client gave', async () => {
    const vm = entity('compute');
    const nic = entity('networkinterface', {}, vm);
    const first = await backend.create(nic);
    expect(first.attributes['occi.networkinterface.mac']).toBe(macFor(nic.id));
    expect(await backend.create(nic)).toEqual(first);
    const given = entity('networkinterface', { 'occi.networkinterface.mac': '02:aa:bb:cc:dd:ee' }, vm);
    expect((await backend.create(given)).attributes).toMatchObject({ 'occi.networkinterface.mac': '02:aa:bb:cc:dd:ee', 'occi.networkinterface.interface': 'eth1' });
    await backend.delete(nic);
    await backend.delete(given);
  });

  it('names disks vda, vdb… and refuses renaming one onto another\'s name, leaving it as it was', async () => {
    const vm = entity('compute');
    const [d1, d2] = [entity('storagelink', {}, vm), entity('storagelink', {}, vm)];
    expect((await backend.create(d1)).attributes['occi.storagelink.deviceid']).toBe('vda');
    expect((await backend.create(d2)).attributes['occi.storagelink.deviceid']).toBe('vdb');
    expect(await status(backend.update(d2, { attributes: { 'occi.storagelink.deviceid': 'vda' }, mixinsAdded: [], mixinsRemoved: [] }))).toBe(409);
    expect((await backend.retrieve(d2)).attributes['occi.storagelink.deviceid']).toBe('vdb');
    await backend.delete(d1);
    await backend.delete(d2);
    expect(await rawDoc(`slots:disk:${vm.id}`)).toBeUndefined();
  });

  it('an injected fault on a link gives its device name back', async () => {
    const vm = entity('compute');
    const nic = entity('networkinterface', { [FAULT_ATTRIBUTE]: 'after-create' }, vm);
    expect(await status(backend.create(nic))).toBe(502);
    expect(await rawDoc(`slots:nic:${vm.id}`)).toBeUndefined();
    expect(await status(backend.create(entity('compute', { [FAULT_ATTRIBUTE]: 'sometimes' })))).toBe(400);
  });

  it('refuses a stop method GFD.224 does not define', async () => {
    const vm = entity('compute');
    await backend.create(vm);
    expect(await status(backend.action(vm, COMPUTE_ACTION + 'stop', { method: 'yank' }))).toBe(400);
    expect((await backend.retrieve(vm)).attributes['occi.compute.state']).toBe('active');
    await backend.delete(vm);
  });

  it('records any action of an admin-defined kind, answers with its attributes, keeps a bounded history', async () => {
    const kind: TypeId = 'http://example.org/occi/orchestration#stack';
    const stack = entity(kind, { 'org.example.stack.template': 'three-tier' });
    expect(backend.kinds).not.toContain(kind);
    expect((await backend.create(stack)).attributes).toEqual({});
    const answer = await backend.action(stack, 'http://example.org/occi/orchestration/action#deploy', { version: 2 });
    expect(answer.attributes).toEqual({ 'org.example.stack.template': 'three-tier' });
    let record = await rawDoc<DummyRecord>(stack.id);
    expect(record?.history).toEqual([expect.objectContaining({ action: 'http://example.org/occi/orchestration/action#deploy', params: { version: 2 } })]);
    for (let i = 0; i < HISTORY_LIMIT + 5; i++) await backend.action(stack, `http://example.org/occi/orchestration/action#step${i}`, {});
    record = await rawDoc<DummyRecord>(stack.id);
    expect(record?.history).toHaveLength(HISTORY_LIMIT);
    expect(record?.history.at(-1)?.action).toBe(`http://example.org/occi/orchestration/action#step${HISTORY_LIMIT + 4}`);
    await backend.delete(stack);
    expect(await status(backend.action(stack, 'http://example.org/occi/orchestration/action#deploy', {}))).toBe(404);
  });

  it('records actions with the states they moved between', async () => {
    const vm = entity('compute');
    await backend.create(vm);
    await backend.action(vm, COMPUTE_ACTION + 'stop', {});
    expect((await rawDoc<DummyRecord>(vm.id))?.history).toEqual([expect.objectContaining({ from: 'active', to: 'inactive' })]);
    await backend.delete(vm);
  });

  it('is unusable before init with a 500, and names itself after its provider key', async () => {
    const fresh = createBackend('dummy-2');
    expect(fresh.name).toBe('dummy-2');
    expect(await status(fresh.retrieve(entity('compute')))).toBe(500);
  });
});
