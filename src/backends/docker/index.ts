/**
 * The docker provider: computes as containers, services of replicated containers (Genisys) and the pool
 * of Docker Engines they are placed on (Siren's nodes), through dockerode. backends.json:
 *
 *   "docker": { "backend": "docker", "optional": true, "options": {
 *       "nodes": [ { "id": "local", "endpoint": "unix:///var/run/docker.sock", "networkMode": "none" },
 *                  { "id": "edge1", "endpoint": "tcp://10.0.0.5:2376",
 *                    "tls": { "ca": "/etc/occitan/ca.pem", "cert": "/etc/occitan/cert.pem", "key": "/etc/occitan/key.pem" },
 *                    "memory": 1, "location": "residence", "networkMode": "occitan", "publishIp": "0.0.0.0" } ],
 *       "instance": "default", "serviceFile": "/etc/occitan/services.yaml", "tenant": "default" } }
 *
 * Kinds: infrastructure#compute (a container), docker#service (N replicas; action scale), docker#node
 * (an Engine of the pool; admin-only, read by every tenant). A compute with the docker#replica mixin is a
 * service's replica (replicas.ts). The nodes of backends.json are declared to the service at start-up in
 * the shared tenant (default), the services of the service file as entities of `tenant`.
 *
 * Images come from templates. An administrator registers each image as an os_tpl mixin that depends on
 * `http://schemas.ogf.org/occi/infrastructure#os_tpl` and `https://occitan.dev/occi/docker#container`
 * (categories/docker.yaml) and gives `occitan.docker.image` a default with its tag (`busybox:1.36`), and
 * `occitan.provider` the default `docker` so the template picks this provider. Images are never pulled:
 * one missing on every eligible node is a 400 naming it, before any container is made.
 *
 * Every container carries the labels dev.occitan.entity / .instance / .tenant (replicas also .replica and
 * .definition) and a name derived from the entity's internal id; nothing unlabelled is ever touched. A
 * compute's ref is `{ node, containerId, netns }`.
 * Named waits (`clock.duration`): dockerStopTimeout (graceful stop, 10 s), dockerReapGrace (age under
 * which an unowned labelled container is left alone, 60 s), dockerRequestTimeout (60 s),
 * dockerReconcilePeriod (how often the running reconciliation looks for orphans, 60 s).
 */
import { Internal, NotImplemented } from '../../errors';
import type { Attributes, TypeId } from '../../model/types';
import { INFRA } from '../../model/types';
import type { Backend, BackendContext, BackendEntity, Change, Realised } from '../backend';
import { ACTIONS } from './actions';
import { DockerNode, parseOptions } from './client';
import { Computes } from './computes';
import { NODE_KIND, Nodes, nodeAttributes, nodeIdOf } from './nodes';
import { NodePool } from './pool';
import { Watcher } from './events';
import { readServiceFile } from './service-file';
import { Replicas } from './replicas';
import { REPLICA_MIXIN, SCALE_ACTION, SERVICE_KIND } from './service-spec';
import { Services } from './services';
import { DEFAULT_INSTANCE } from './spec';
import { BusyEntities } from '../busy-entities';

const COMPUTE = INFRA + 'compute';
const DEFAULT_TENANT = 'default';

class DockerBackend implements Backend {
  readonly kinds: readonly TypeId[] = [COMPUTE, SERVICE_KIND, NODE_KIND];
  readonly actions: readonly TypeId[] = [...ACTIONS, SCALE_ACTION];
  private ctx: BackendContext | undefined;
  private pool?: NodePool;
  private computes?: Computes;
  private services?: Services;
  private nodes?: Nodes;
  private replicas?: Replicas;
  private watcher?: Watcher;
  private instance = DEFAULT_INSTANCE;
  /** Entities occitan is working on: the event watcher leaves them to that request. */
  private readonly working = new BusyEntities();

  constructor(readonly name: string) {}

  /** Runs an operation on an entity, marking it busy for the event watcher meanwhile (and a moment after). */
  private busy<T>(id: string, work: () => Promise<T>): Promise<T> {
    return this.working.run(id, work);
  }

  async init(ctx: BackendContext): Promise<void> {
    const options = parseOptions(ctx.options);
    const stopMs = ctx.clock.duration('dockerStopTimeout', 10_000);
    const timeout = Math.max(ctx.clock.duration('dockerRequestTimeout', 60_000), stopMs + 30_000);
    const instance = options.instance ?? DEFAULT_INSTANCE;
    const tenant = options.tenant ?? DEFAULT_TENANT;
    const services = options.serviceFile ? readServiceFile(options.serviceFile) : [];
    const pool = new NodePool(ctx);
    const nodes = options.nodes.map((n) => new DockerNode(n, timeout));
    for (const n of nodes) pool.add(n);
    const nodeEntities = new Nodes(ctx, pool, timeout);
    // Node entities created at run time (earlier) join the pool; those of backends.json get their entity back.
    for await (const e of ctx.owned()) {
      if (e.kind !== NODE_KIND) continue;
      const existing = pool.get(nodeIdOf(e));
      if (existing) existing.entityId = e.id;
      else {
        try {
          nodeEntities.adopt(e);
        } catch (err) {
          ctx.log.warn('docker provider could not add a node entity to its pool', { node: nodeIdOf(e), error: String(err) });
        }
      }
    }
    const probes = await Promise.all(nodes.map((n) => n.probe().then(() => undefined, (e: Error) => e)));
    const failures = probes.filter((p): p is Error => p !== undefined);
    // At least one node must answer; the others are marked down and skipped by placement.
    if (failures.length === nodes.length) throw failures[0]!;
    for (const [i, p] of probes.entries()) if (p) ctx.log.warn(`docker provider: ${nodes[i]!.describe()} does not answer`, { error: p.message });
    const stopSeconds = (): number => Math.max(0, Math.ceil(ctx.clock.duration('dockerStopTimeout', 10_000) / 1000));
    this.instance = instance;
    this.pool = pool;
    this.ctx = ctx;
    this.nodes = nodeEntities;
    this.computes = new Computes({ ctx, pool, instance, stopSeconds });
    this.services = new Services({ ctx, pool, instance, stopSeconds });
    this.replicas = new Replicas({ ctx, pool, instance, stopSeconds, services: this.services });
    this.watcher = new Watcher({ ctx, pool, instance, graceMs: ctx.clock.duration('dockerReapGrace', 60_000), periodMs: ctx.clock.duration('dockerReconcilePeriod', 60_000), services: this.services, busy: (id) => this.working.has(id) });
    await this.watcher.reconcileAll();
    this.watcher.start();
    ctx.declare?.([
      // Nodes are shared (sharedRead): they live in the shared tenant, default, whatever `tenant` says.
      ...options.nodes.map((n) => ({ tenant: DEFAULT_TENANT, kind: NODE_KIND, location: `/nodes/${n.id}`, attributes: nodeAttributes(n), whenPresent: 'update' as const })),
      ...services.map((s) => ({ tenant: s.tenant ?? tenant, kind: SERVICE_KIND, location: `/services/${s.name}`, attributes: s.attributes, whenPresent: 'update' as const })),
    ]);
    ctx.log.info(`docker provider ${this.name} ready`, { nodes: nodes.map((n) => n.describe()), instance });
  }

  async close(): Promise<void> {
    await this.watcher?.stop();
    await this.pool?.settled();
    this.watcher = undefined;
    this.ctx = undefined;
    this.pool = undefined;
    this.computes = undefined;
    this.services = undefined;
    this.nodes = undefined;
    this.replicas = undefined;
  }

  private parts(): { computes: Computes; services: Services; nodes: Nodes; replicas: Replicas } {
    if (!this.ctx || !this.computes || !this.services || !this.nodes || !this.replicas) throw new Internal(`provider ${this.name} used before init or after close`);
    return { computes: this.computes, services: this.services, nodes: this.nodes, replicas: this.replicas };
  }

  private part(entity: BackendEntity): Computes | Services | Nodes | Replicas {
    const p = this.parts();
    if (entity.kind === SERVICE_KIND) return p.services;
    if (entity.kind === NODE_KIND) return p.nodes;
    if (entity.mixins.includes(REPLICA_MIXIN)) return p.replicas;
    return p.computes;
  }

  async create(entity: BackendEntity): Promise<Realised> {
    return this.busy(entity.id, () => this.part(entity).create(entity));
  }

  async retrieve(entity: BackendEntity): Promise<Realised> {
    return this.part(entity).retrieve(entity);
  }

  async update(entity: BackendEntity, change: Change): Promise<Realised> {
    // The entity as it is to be (the service already merged the change; a caller that did not is served too).
    return this.busy(entity.id, () => this.part(entity).update({ ...entity, attributes: { ...entity.attributes, ...change.attributes } }, change));
  }

  async delete(entity: BackendEntity): Promise<void> {
    return this.busy(entity.id, () => this.part(entity).delete(entity));
  }

  async action(entity: BackendEntity, action: TypeId, params: Attributes): Promise<Realised> {
    return this.busy(entity.id, () => this.act(entity, action, params));
  }

  private async act(entity: BackendEntity, action: TypeId, params: Attributes): Promise<Realised> {
    const p = this.part(entity);
    if (p instanceof Services) {
      if (action !== SCALE_ACTION) throw new NotImplemented(`a docker service has no action ${action} (it scales: ${SCALE_ACTION})`);
      return p.scale(entity, params['number']);
    }
    if (p instanceof Nodes) throw new NotImplemented(`a docker node has no action ${action}`);
    return p.action(entity, action, params);
  }
}

/** The registry's factory: `name` is the provider key from backends.json. */
export function createBackend(name: string): Backend {
  return new DockerBackend(name);
}

export { buildContainerSpec, containerName, CONTAINER_MIXIN, LABEL } from './spec';
export type { DockerRef } from './state';
