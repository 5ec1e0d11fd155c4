/**
 * A service (Genisys) on the node pool: exactly `occitan.docker.scale` containers of one definition, each
 * a replica with an index, placed like a compute (memory and host ports held in the pool's books; a
 * service with ports never puts two replicas on one node), labelled with the service's entity.
 *
 * Each replica is also an entity (Siren's remove_service_by_id): a compute with the replica mixin at
 * `<service location>/replicas/<index>`, spawned through the context once its container runs and disposed
 * of when the service removes the replica (replicas.ts realises it; a client's DELETE of one removes that
 * container and lowers the service's scale by one).
 *
 * - scale N: the replicas (containers or entities) with the N lowest indices stay, the others go (their
 *   containers, holds and entities); a kept replica that is not running gets a new container; missing
 *   replicas are placed at the lowest free indices (with named nodes, replica i goes to nodes[i mod n]),
 *   then their entities are made. A scale-up that fails removes what it made: all or none.
 * - update of the definition (image, command, environment, ports, memory): the holds are adjusted first
 *   (409 when a node lacks room: nothing changed), then each stale replica in turn gets a new container on
 *   its node (made, then the old one stopped and the new one started). Any failure removes the new
 *   containers, starts the old ones again and puts the holds back; only when every replica runs the new
 *   definition are the old containers removed.
 * - `occitan.docker.replicas` is the number of replicas running (Genisys `status`).
 */
import type Dockerode from 'dockerode';
import { BadRequest } from '../../errors';
import { INFRA } from '../../model/types';
import type { BackendContext, BackendEntity, Change, Realised } from '../backend';
import type { DockerNode } from './client';
import { translateDockerError } from './client';
import { checkCommand, remove, requireImage, start, stop } from './containers';
import type { Hold, NodePool } from './pool';
import { REPLICA_ATTR, REPLICA_MIXIN, SERVICE_DEFINITION, SVC, definitionOf, holderOf, hostPorts, replicaLocation, replicaSpec } from './service-spec';
import type { ServiceDefinition } from './service-spec';
import { LABEL, placementOf } from './spec';
import type { Placement } from './spec';

export interface Replica {
  node: DockerNode;
  id: string;
  index: number;
  hash: string;
  running: boolean;
}

export interface ServiceOptions {
  ctx: BackendContext;
  pool: NodePool;
  instance: string;
  stopSeconds(): number;
}

/** A replica container made for a replica entity being spawned (replicas.ts adopts it). */
export interface PendingReplica {
  service: string;
  index: number;
  node: DockerNode;
  containerId: string;
}

const GIB = 1024 ** 3;

/** Replicas running: distinct indices with a running container (a crash's duplicate counts once). */
export function runningReplicas(replicas: readonly Replica[]): number {
  return new Set(replicas.filter((r) => r.running).map((r) => r.index)).size;
}

export function entityKey(tenant: string, location: string): string {
  return `${tenant}\u0000${location}`;
}

export class Services {
  /** Replica entities being spawned, by entityKey: their containers. */
  readonly pending = new Map<string, PendingReplica>();
  /** Replica entities this service is removing itself (their delete must not lower the scale). */
  readonly disposing = new Set<string>();

  constructor(private readonly o: ServiceOptions) {}

  /** The replica entities of a service, by index (none without a context that spawns them). */
  async replicaEntities(entity: Pick<BackendEntity, 'tenant' | 'location'>): Promise<Map<number, BackendEntity>> {
    const out = new Map<number, BackendEntity>();
    if (!this.o.ctx.spawn) return out;
    for await (const e of this.o.ctx.owned()) {
      if (e.tenant !== entity.tenant || !e.mixins.includes(REPLICA_MIXIN) || e.attributes[REPLICA_ATTR.service] !== entity.location) continue;
      const index = e.attributes[REPLICA_ATTR.index];
      if (typeof index === 'number') out.set(index, e);
    }
    return out;
  }

  private async spawn(entity: BackendEntity, def: ServiceDefinition, r: { node: DockerNode; id: string; index: number }): Promise<string> {
    const location = replicaLocation(entity.location, r.index);
    const key = entityKey(entity.tenant, location);
    this.pending.set(key, { service: entity.id, index: r.index, node: r.node, containerId: r.id });
    try {
      await this.o.ctx.spawn!({
        tenant: entity.tenant,
        kind: INFRA + 'compute',
        location,
        mixins: [REPLICA_MIXIN],
        attributes: {
          'occi.core.title': `replica ${r.index} of ${entity.location}`,
          [REPLICA_ATTR.service]: entity.location,
          [REPLICA_ATTR.index]: r.index,
          [REPLICA_ATTR.node]: r.node.id,
          ...(def.memory ? { 'occi.compute.memory': def.memory / GIB } : {}),
        },
      });
      return location;
    } finally {
      this.pending.delete(key);
    }
  }

  private async dispose(tenant: string, location: string): Promise<void> {
    if (!this.o.ctx.dispose) return;
    const key = entityKey(tenant, location);
    this.disposing.add(key);
    try {
      await this.o.ctx.dispose(tenant, location);
    } finally {
      this.disposing.delete(key);
    }
  }

  /** Every container labelled for the service, on every node (503 when a node does not answer, unless `tolerant`). */
  async replicas(entity: Pick<BackendEntity, 'id'>, tolerant = false): Promise<Replica[]> {
    const out: Replica[] = [];
    for (const node of this.o.pool.all()) {
      let list: Dockerode.ContainerInfo[];
      try {
        list = await node.docker.listContainers({ all: true, filters: { label: [`${LABEL.entity}=${entity.id}`, `${LABEL.instance}=${this.o.instance}`] } });
      } catch (e) {
        const t = translateDockerError(e, node, `list the replicas of service ${entity.id}`);
        if (tolerant) {
          this.o.ctx.log.warn('docker provider could not list replicas on a node', { node: node.id, error: t.message });
          continue;
        }
        throw t;
      }
      for (const c of list) {
        const index = Number(c.Labels?.[LABEL.replica]);
        if (!Number.isInteger(index) || index < 0) continue;
        out.push({ node, id: c.Id, index, hash: c.Labels?.[LABEL.definition] ?? '', running: c.State === 'running' });
      }
    }
    return out.sort((a, b) => a.index - b.index);
  }

  private realised(def: ServiceDefinition, replicas: readonly Replica[]): Realised {
    return { attributes: { [SVC.scale]: def.scale, [SVC.replicas]: runningReplicas(replicas) } };
  }

  async retrieve(entity: BackendEntity): Promise<Realised> {
    const def = definitionOf(entity.attributes);
    return this.realised(def, await this.replicas(entity, true));
  }

  async create(entity: BackendEntity): Promise<Realised> {
    const def = definitionOf(entity.attributes);
    const placement = placementOf(entity.attributes);
    // A service of no replicas is still checked: some node can run its image (and publish its ports).
    if (def.scale === 0) await this.o.pool.candidates(this.request(entity, def, placement, 0));
    return this.scaleTo(entity, def, placement);
  }

  /** Removes every replica: containers, holds, then the replica entities. */
  async delete(entity: BackendEntity): Promise<void> {
    for (const r of await this.replicas(entity)) await remove(r.node, r.id, `remove replica ${r.index} of ${entity.location}`);
    await this.o.pool.releaseEntity(entity.id);
    for (const index of (await this.replicaEntities(entity)).keys()) await this.dispose(entity.tenant, replicaLocation(entity.location, index));
  }

  /** The scale action: `number` replicas. */
  async scale(entity: BackendEntity, number: unknown): Promise<Realised> {
    if (typeof number !== 'number' || !Number.isInteger(number) || number < 0 || number > 1000) {
      throw new BadRequest(`scale needs number, a whole number of replicas from 0 to 1000; got ${JSON.stringify(number)}`);
    }
    const def = definitionOf({ ...entity.attributes, [SVC.scale]: number });
    return this.scaleTo(entity, def, placementOf(entity.attributes));
  }

  async update(entity: BackendEntity, change: Change): Promise<Realised> {
    const def = definitionOf(entity.attributes); // 400 before anything changes
    const placement = placementOf(entity.attributes);
    if (Object.keys(change.attributes).some((k) => SERVICE_DEFINITION.includes(k))) {
      const all = await this.replicas(entity);
      const keep = new Set(keptIndices(all, await this.replicaEntities(entity), def.scale));
      await this.rollout(entity, def, all.filter((r) => keep.has(r.index)));
    }
    return this.scaleTo(entity, def, placement);
  }

  private request(entity: BackendEntity, def: ServiceDefinition, placement: Placement, index: number) {
    const named = placement.nodes ? placement.nodes[index % placement.nodes.length] : placement.node;
    return {
      holder: holderOf(entity.id, index),
      entity: entity.id,
      owner: { tenant: entity.tenant, location: replicaLocation(entity.location, index) },
      memory: def.memory,
      ports: hostPorts(def.ports),
      image: def.image,
      ...(named !== undefined ? { node: named } : {}),
      ...(placement.arch !== undefined ? { arch: placement.arch } : {}),
      ...(placement.location !== undefined ? { location: placement.location } : {}),
      what: `replica ${index} of ${entity.location}`,
    };
  }

  /** Removes replica `index`: its containers, its hold, and its entity when it has one. */
  private async removeIndex(entity: BackendEntity, index: number, containers: readonly Replica[], hasEntity: boolean): Promise<void> {
    for (const r of containers.filter((x) => x.index === index)) {
      await remove(r.node, r.id, `remove replica ${index} of ${entity.location}`);
      await this.o.pool.release(r.node.id, holderOf(entity.id, index));
    }
    if (hasEntity) await this.dispose(entity.tenant, replicaLocation(entity.location, index));
  }

  /** Exactly `def.scale` running replicas, each with its entity; a failed scale-up removes what it made. */
  private async scaleTo(entity: BackendEntity, def: ServiceDefinition, placement: Placement): Promise<Realised> {
    const all = await this.replicas(entity);
    const entities = await this.replicaEntities(entity);
    const keep = keptIndices(all, entities, def.scale);
    const known = new Set([...all.map((r) => r.index), ...entities.keys()]);
    for (const index of [...known].filter((i) => !keep.includes(i))) await this.removeIndex(entity, index, all, entities.has(index));
    const healthy = new Map<number, { node: DockerNode; id: string; index: number }>();
    for (const r of all.filter((x) => keep.includes(x.index))) {
      if (r.running && !healthy.has(r.index)) healthy.set(r.index, r);
      else {
        // Stopped, dead, or a duplicate a crash left: it goes, and its index is made again.
        await remove(r.node, r.id, `remove replica ${r.index} of ${entity.location}`);
      }
    }
    const wanted = [...keep];
    for (let i = 0; wanted.length < def.scale; i++) if (!wanted.includes(i)) wanted.push(i);
    const made: Array<{ node: DockerNode; id?: string; index: number }> = [];
    const spawned: string[] = [];
    try {
      for (const index of wanted) {
        if (healthy.has(index)) continue;
        const hold = await this.findHold(entity.id, index);
        const node = hold ?? (await this.o.pool.place(this.request(entity, def, placement, index)));
        const slot: { node: DockerNode; id?: string; index: number } = { node, index };
        made.push(slot);
        slot.id = await this.makeReplica(entity, def, index, node, true);
        healthy.set(index, { node, id: slot.id, index });
      }
      // Entities once every container runs, so a refused scale never shows a replica entity.
      if (this.o.ctx.spawn) for (const index of wanted) if (!entities.has(index)) spawned.push(await this.spawn(entity, def, healthy.get(index)!));
    } catch (e) {
      for (const location of spawned.reverse()) await this.dispose(entity.tenant, location).catch(() => undefined);
      for (const m of made.reverse()) {
        if (m.id) await remove(m.node, m.id, `remove replica ${m.index} of ${entity.location}`).catch(() => undefined);
        await this.o.pool.release(m.node.id, holderOf(entity.id, m.index)).catch(() => undefined);
      }
      throw e;
    }
    return this.realised(def, await this.replicas(entity));
  }

  /** The node where this replica index already holds memory (a replica that is being replaced). */
  private async findHold(entity: string, index: number): Promise<DockerNode | undefined> {
    for (const node of this.o.pool.all()) if (await this.o.pool.holdOf(node.id, holderOf(entity, index))) return node;
    return undefined;
  }

  /** Creates (and starts) one replica container on `node`; removes it again if a step fails. */
  private async makeReplica(entity: BackendEntity, def: ServiceDefinition, index: number, node: DockerNode, startIt: boolean): Promise<string> {
    const spec = replicaSpec(entity, def, index, node.options, this.o.instance);
    const image = await requireImage(node, def.image);
    let id: string;
    try {
      id = (await node.docker.createContainer(spec)).id;
    } catch (e) {
      throw translateDockerError(e, node, `create replica ${index} of ${entity.location}`);
    }
    try {
      const c = node.docker.getContainer(id);
      await checkCommand(node, c, spec, image);
      if (startIt) await start(node, c, `start replica ${index} of ${entity.location}`);
      return id;
    } catch (e) {
      await remove(node, id, `remove replica ${index} of ${entity.location}`).catch(() => undefined);
      throw translateDockerError(e, node, `start replica ${index} of ${entity.location}`);
    }
  }

  /** Rolls `replicas` (index < scale) onto `def`, one by one, all or nothing. */
  private async rollout(entity: BackendEntity, def: ServiceDefinition, replicas: readonly Replica[]): Promise<void> {
    const stale = replicas.filter((r) => r.hash !== def.hash);
    if (!stale.length) return;
    // Checks first, so a refusal changes nothing: the image on every node concerned, the network for ports.
    for (const node of new Set(stale.map((r) => r.node))) {
      await requireImage(node, def.image);
      replicaSpec(entity, def, 0, node.options, this.o.instance);
    }
    const before = new Map<string, Hold | undefined>();
    const keyOf = (r: Replica): string => `${r.node.id}\u0000${holderOf(entity.id, r.index)}`;
    try {
      for (const r of stale) {
        if (before.has(keyOf(r))) continue;
        const old = await this.o.pool.holdOf(r.node.id, holderOf(entity.id, r.index));
        before.set(keyOf(r), old);
        await this.o.pool.adjust(r.node.id, holderOf(entity.id, r.index), { memory: def.memory, ports: hostPorts(def.ports), entity: entity.id, since: old?.since ?? this.o.ctx.clock.now() });
      }
    } catch (e) {
      await this.restoreHolds(before);
      throw e;
    }
    const done: Array<{ old: Replica; id: string }> = [];
    try {
      for (const r of stale) {
        const id = await this.makeReplica(entity, def, r.index, r.node, false);
        done.push({ old: r, id });
        await stop(r.node, r.node.docker.getContainer(r.id), this.o.stopSeconds(), `stop the old replica ${r.index} of ${entity.location}`);
        await start(r.node, r.node.docker.getContainer(id), `start the new replica ${r.index} of ${entity.location}`);
      }
    } catch (e) {
      for (const d of done.reverse()) {
        await remove(d.old.node, d.id, `remove the new replica ${d.old.index} of ${entity.location}`).catch(() => undefined);
        if (d.old.running) {
          await start(d.old.node, d.old.node.docker.getContainer(d.old.id), `restart the old replica ${d.old.index} of ${entity.location}`).catch((u: unknown) =>
            this.o.ctx.log.error('docker provider could not restart an old replica after a failed update', { entity: entity.id, error: String(u) }),
          );
        }
      }
      await this.restoreHolds(before);
      throw e;
    }
    for (const d of done) await remove(d.old.node, d.old.id, `remove the old replica ${d.old.index} of ${entity.location}`);
  }

  private async restoreHolds(before: ReadonlyMap<string, Hold | undefined>): Promise<void> {
    for (const [key, hold] of before) {
      const [node, holder] = key.split('\u0000') as [string, string];
      await this.o.pool.restore(node, holder, hold).catch(() => undefined);
    }
  }
}

/** The indices a service of `scale` keeps: the lowest of those with a container or an entity. */
export function keptIndices(containers: readonly Replica[], entities: ReadonlyMap<number, unknown>, scale: number): number[] {
  return [...new Set([...containers.map((r) => r.index), ...entities.keys()])].sort((a, b) => a - b).slice(0, scale);
}
