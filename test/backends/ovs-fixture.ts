/**
 * What the ovs backend tests share: a store, contexts that know the entities the "service" holds, entity
 * builders, and a run's cleanup (its bridges, containers and marked veths). Each test file makes bridges
 * named by itself (occt-…, never a shared one) and an instance of its own.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import path from 'node:path';
import type { BackendContext, BackendEntity } from '../../src/backends/backend';
import type { Attributes, TypeId } from '../../src/model/types';
import { INFRA } from '../../src/model/types';
import { connectServer, openDatabase } from '../../src/store/couch';
import type { Database } from '../../src/store/couch';
import { startEmbeddedStore } from '../../src/store/embedded';
import type { EmbeddedStore } from '../../src/store/embedded';
import { makeTestContext } from './context';
import type { TestContext } from './context';
import { requireDaemon } from './docker-observer';
import type { TestContainer } from './ovs-observer';
import { deleteBridges, dockerRef, hostLinks, removeContainers, requireOvs, vsctl } from './ovs-observer';

const execFileP = promisify(execFile);

export const IPNETWORK = 'http://schemas.ogf.org/occi/infrastructure/network#ipnetwork';
export const IPNETWORKINTERFACE = 'http://schemas.ogf.org/occi/infrastructure/networkinterface#ipnetworkinterface';
export const OVS_MIXIN = 'https://occitan.dev/occi/ovs#network';
export const NETWORK_ACTION = 'http://schemas.ogf.org/occi/infrastructure/network/action#';

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class OvsFixture {
  readonly instance = `t${randomUUID().slice(0, 8)}`;
  readonly run = randomUUID().slice(0, 8);
  db!: Database;
  private store: EmbeddedStore | undefined;
  url = '';
  readonly dbName = `occitan-test-ovs-${randomUUID().slice(0, 8)}`;
  /** Entities the "service" holds: reconciliation must not reap their ports. */
  readonly known = new Map<string, BackendEntity>();

  constructor(readonly bridges: string[]) {}

  async setup(opts: { docker?: boolean } = {}): Promise<void> {
    await requireOvs();
    if (opts.docker) await requireDaemon();
    const external = process.env['OCCITAN_COUCHDB_URL'];
    if (external) this.url = external;
    else {
      this.store = await startEmbeddedStore({ memory: true, log: () => undefined });
      this.url = this.store.url;
    }
    this.db = await openDatabase(this.url, this.dbName, path.join(__dirname, '..', '..', 'couchdb'));
  }

  async teardown(): Promise<void> {
    await removeContainers(this.run);
    // Whatever a failed step left: this instance's ports (on any bridge), marked veths, the bridges.
    const ports = await vsctl(['--format=csv', '--no-headings', '--columns=name', 'find', 'Port', `external_ids:occitan-instance=${this.instance}`]).catch(() => '');
    for (const p of ports.split('\n').map((l) => l.trim().replace(/"/g, '')).filter(Boolean)) await vsctl(['--if-exists', 'del-port', p]).catch(() => undefined);
    await deleteBridges(this.bridges);
    for (const l of await hostLinks('veth').catch(() => [])) {
      if (l.ifalias?.startsWith(`occitan:${this.instance}:`)) await execFileP('ip', ['link', 'del', 'dev', l.ifname]).catch(() => undefined);
    }
    if (this.store) await this.store.close();
    else if (this.url) await connectServer(this.url).db.destroy(this.dbName).catch(() => undefined);
  }

  options(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { bridges: this.bridges, instance: this.instance, ...extra };
  }

  /** A context whose resolve/owned see `known` as it is when they are called. */
  context(options: Record<string, unknown> = this.options(), durations: Record<string, number> = {}): TestContext {
    const ctx = makeTestContext({ provider: 'ovs', db: this.db, options, durations });
    const known = this.known;
    return {
      ...ctx,
      resolve: async (tenant, id) => {
        const e = known.get(id);
        return e && e.tenant === tenant ? e : undefined;
      },
      owned: async function* () {
        yield* [...known.values()];
      },
    } as TestContext & BackendContext;
  }

  remember<T extends BackendEntity>(e: T): T {
    this.known.set(e.id, e);
    return e;
  }

  network(attributes: Attributes = {}, opts: { tenant?: string; mixins?: TypeId[] } = {}): Mutable<BackendEntity> {
    const id = randomUUID();
    return this.remember({
      id,
      tenant: opts.tenant ?? 'tenant-a',
      location: `/network/${id}`,
      kind: INFRA + 'network',
      mixins: opts.mixins ?? [IPNETWORK, OVS_MIXIN],
      attributes: { 'occi.core.id': `urn:uuid:${id}`, 'occi.core.title': 'a VLAN', ...attributes },
    });
  }

  /** A link from a container to a realised network (its ref as the service would hand it). */
  link(container: TestContainer | undefined, network: { id: string; ref?: unknown }, attributes: Attributes = {}, opts: { tenant?: string; mixins?: TypeId[] } = {}): Mutable<BackendEntity> {
    const id = randomUUID();
    return this.remember({
      id,
      tenant: opts.tenant ?? 'tenant-a',
      location: `/networkinterface/${id}`,
      kind: INFRA + 'networkinterface',
      mixins: opts.mixins ?? [IPNETWORKINTERFACE],
      attributes: {
        'occi.core.id': `urn:uuid:${id}`,
        'occi.core.source': '/compute/c1',
        'occi.core.target': `/network/${network.id}`,
        ...(opts.mixins && !opts.mixins.includes(IPNETWORKINTERFACE) ? {} : { 'occi.networkinterface.allocation': 'dynamic' }),
        ...attributes,
      },
      ...(container ? { source: { id: `compute-${container.id.slice(0, 12)}`, kind: INFRA + 'compute', ref: dockerRef(container) } } : {}),
      target: { id: network.id, kind: INFRA + 'network', ref: network.ref },
    });
  }
}

/** Expects `p` to reject with an OcciError of `status`; returns its message. */
export async function rejection(p: Promise<unknown>, status: number): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect([(e as { status?: number }).status, (e as Error).message]).toEqual([status, expect.any(String)]);
    return (e as Error).message;
  }
  throw new Error(`expected a ${status}, but the call succeeded`);
}
