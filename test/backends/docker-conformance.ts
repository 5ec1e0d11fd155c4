/**
 * The docker provider's fixture of the shared conformance suite, for one of occitan's engines
 * (scripts/services.sh start docker: the unix socket /run/occitan-test/docker.sock, and the second engine
 * on tcp://127.0.0.1:12376 with --tlsverify; image occitan/busybox:test made offline). Truth comes from
 * `docker inspect` / `docker ps` run through execFile on that engine, never from the backend's own
 * retrieve. Each run labels its containers with an instance of its own and removes them all at the end.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { BackendEntity } from '../../src/backends/backend';
import { createBackend } from '../../src/backends/docker';
import type { DockerRef } from '../../src/backends/docker';
import { openDatabase, connectServer } from '../../src/store/couch';
import type { Database } from '../../src/store/couch';
import { startEmbeddedStore } from '../../src/store/embedded';
import type { EmbeddedStore } from '../../src/store/embedded';
import type { Attributes } from '../../src/model/types';
import { INFRA } from '../../src/model/types';
import { conformanceSuite } from './conformance';
import type { Observer } from './conformance';
import { makeTestContext } from './context';
import type { TestContext } from './context';
import { docker, dockerLines, entitiesOf, inspectEntity, requireDaemon } from './docker-observer';
import type { Engine } from './docker-observer';

const PROVIDER = 'docker';
const TENANT = 'tenant-a';
const IMAGE = 'occitan/busybox:test';
const A = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
const GIB = 1024 ** 3;
const DURATIONS = { dockerStopTimeout: 2000, dockerReapGrace: 0 };

/** Runs the conformance suite against the docker provider with `engine` as its only node. */
export function dockerConformance(engine: Engine): void {
  const INSTANCE = `test-${randomUUID().slice(0, 8)}`;
  const OPTIONS = { nodes: [engine.node], instance: INSTANCE };
  let store: EmbeddedStore | undefined;
  let url: string;
  let db: Database;
  const dbName = `occitan-test-docker-${randomUUID().slice(0, 8)}`;
  /** Entities the "service" holds: init's reconciliation must not reap their containers. */
  const known: BackendEntity[] = [];

  function context(options: Record<string, unknown> = OPTIONS, durations: Record<string, number> = DURATIONS): TestContext {
    const ctx = makeTestContext({ provider: PROVIDER, db, options, durations });
    for (const e of known) ctx.register(e);
    return ctx;
  }

  function compute(attributes: Attributes = {}): BackendEntity {
    const id = randomUUID();
    const e: BackendEntity = {
      id,
      tenant: TENANT,
      location: `/compute/${id}`,
      kind: INFRA + 'compute',
      mixins: ['https://occitan.dev/occi/docker#container'],
      attributes: {
        'occi.core.id': `urn:uuid:${id}`,
        'occi.core.title': 'a container',
        'occitan.docker.image': IMAGE,
        'occitan.docker.command': ['sleep', '3600'],
        ...attributes,
      },
    };
    known.push(e);
    return e;
  }

  async function setup(): Promise<void> {
    await requireDaemon(engine);
    const external = process.env['OCCITAN_COUCHDB_URL'];
    if (external) url = external;
    else {
      store = await startEmbeddedStore({ memory: true, log: () => undefined });
      url = store.url;
    }
    db = await openDatabase(url, dbName, path.join(__dirname, '..', '..', 'couchdb'));
  }

  async function teardown(): Promise<void> {
    // Every container this run made, whatever a failed step left.
    const ids = await dockerLines(['ps', '-aq', '--filter', `label=dev.occitan.instance=${INSTANCE}`], engine).catch(() => []);
    if (ids.length) await docker(['rm', '-f', ...ids], engine).catch(() => undefined);
    if (store) await store.close();
    else if (url) await connectServer(url).db.destroy(dbName).catch(() => undefined);
  }

  /** The OCCI view of a container, computed here from `docker inspect` (a second, independent mapping). */
  const observer: Observer = {
    exists: async (e) => (await entitiesOf(e.id, INSTANCE, engine)).length > 0,
    count: async (e) => (await entitiesOf(e.id, INSTANCE, engine)).length,
    identity: async (e) => (await inspectEntity(e.id, INSTANCE, engine))?.Id,
    state: async (e) => {
      const s = (await inspectEntity(e.id, INSTANCE, engine))?.State;
      if (!s) return undefined;
      if (s.Status === 'running') return 'active';
      if (s.Status === 'paused') return 'suspended';
      if ((s.Status === 'exited' && !s.OOMKilled) || s.Status === 'created') return 'inactive';
      return 'error';
    },
    attributes: async (e) => {
      const i = await inspectEntity(e.id, INSTANCE, engine);
      if (!i) return undefined;
      const out: Attributes = {
        'occi.compute.hostname': i.Config.Hostname,
        'occitan.docker.image': i.Config.Image,
        'occitan.docker.command': i.Config.Cmd ?? [],
        'occitan.docker.environment': Object.fromEntries((i.Config.Env ?? []).filter((v) => !v.startsWith('PATH=')).map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)])),
      };
      if (i.HostConfig.Memory) out['occi.compute.memory'] = i.HostConfig.Memory / GIB;
      if (i.HostConfig.NanoCpus) out['occi.compute.cores'] = i.HostConfig.NanoCpus / 1e9;
      if (i.HostConfig.CpuShares) out['occi.compute.share'] = i.HostConfig.CpuShares;
      return out;
    },
  };

  function expectRef(ref: unknown, running: boolean): DockerRef {
    const r = ref as DockerRef;
    expect(r.node).toBe(engine.node.id);
    expect(r.containerId).toMatch(/^[0-9a-f]{64}$/);
    if (running) expect(r.netns).toMatch(/^\/proc\/[1-9]\d*\/ns\/net$/);
    else expect(r.netns).toBeUndefined();
    return r;
  }

  conformanceSuite({
    name: `docker (${engine.name})`,
    setup,
    teardown,
    makeBackend: () => createBackend(PROVIDER),
    makeContext: () => context(),
    observer,
    // A program the image lacks: the container exists before the check fails, and must be removed.
    injectFault: (e) => {
      const id = randomUUID();
      const faulty = { ...e, id, location: `/compute/${id}`, attributes: { ...e.attributes, 'occitan.docker.command': ['/no/such/program'] } };
      known.push(faulty);
      return faulty;
    },
    entities: [
      {
        label: 'compute as a container',
        entity: compute({ 'occi.compute.memory': 0.0625, 'occi.compute.cores': 1, 'occi.compute.hostname': 'web1', 'occitan.docker.environment': { GREETING: 'hello' } }),
        stateAttribute: 'occi.compute.state',
        initialState: 'active',
        checkCreated: (r) => {
          expectRef(r.ref, true);
          expect(r.attributes['occi.compute.state.message']).toMatch(/^running since \d{4}-/);
        },
        updates: [
          // Live: the same container takes new limits.
          { change: { attributes: { 'occi.compute.memory': 0.125, 'occi.compute.share': 512 } }, expect: { 'occi.compute.memory': 0.125, 'occi.compute.share': 512 } },
          // Definition: a new container with the new host name and environment.
          {
            change: { attributes: { 'occi.compute.hostname': 'web2', 'occitan.docker.environment': { GREETING: 'bonjour' } } },
            expect: { 'occi.compute.hostname': 'web2', 'occitan.docker.environment': { GREETING: 'bonjour' }, 'occi.compute.memory': 0.125 },
          },
        ],
        actions: [
          { action: A + 'stop', state: 'inactive' },
          { action: A + 'stop', state: 'inactive' },
          { action: A + 'suspend', rejects: 409 },
          { action: A + 'restart', rejects: 409 },
          { action: A + 'start', state: 'active' },
          { action: A + 'suspend', state: 'suspended' },
          { action: A + 'suspend', state: 'suspended' },
          { action: A + 'suspend', params: { method: 'hibernate' }, rejects: 501 },
          { action: A + 'restart', rejects: 409 },
          { action: A + 'start', state: 'active' },
          { action: A + 'restart', state: 'active' },
          { action: A + 'restart', params: { method: 'warm' }, rejects: 501 },
          { action: A + 'restart', params: { method: 'cold' }, rejects: 501 },
          { action: A + 'stop', params: { method: 'acpioff' }, state: 'inactive' },
          { action: A + 'start', state: 'active' },
          { action: A + 'suspend', state: 'suspended' },
          { action: A + 'stop', params: { method: 'poweroff' }, state: 'inactive' },
          { action: A + 'start', state: 'active' },
          { action: A + 'stop', params: { method: 'poweroff' }, state: 'inactive' },
          { action: A + 'stop', params: { method: 'yank' }, rejects: 400 },
          { action: A + 'save', rejects: 501 },
          { action: A + 'start', state: 'active' },
        ],
      },
    ],
  });
}
