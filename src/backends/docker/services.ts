/**
 * A service (Genisys) on the node pool: exactly `occitan.docker.scale` containers of one definition, each
 * a replica with an index, placed like a compute (memory and host ports held in the pool's books; a
 * service with ports never puts two replicas on one node), labelled with the service's entity.
 *
 * - scale N: replicas with an index ≥ N go (and their holds); replicas below N that are not running are
 *   replaced; missing indices are placed and started. A scale-up that fails removes what it made: all or
 *   none.
 * - update of the definition (image, command, environment, ports, memory): the holds are adjusted first
 *   (409 when a node lacks room: nothing changed), then each stale replica in turn gets a new container on
 *   its node (made, then the old one stopped and the new one started). Any failure removes the new
 *   containers, starts the old ones again and puts the holds back; only when every replica runs the new
 *   definition are the old containers removed.
 * - `occitan.docker.replicas` is the number of replicas running (Genisys `status`).
 */
import type Dockerode from 'dockerode';
import { BadRequest } from '../../errors';
import type { BackendContext, BackendEntity, Change, Realised } from '../backend';
import type { DockerNode } from './client';
import { translateDockerError } from './client';
import { checkCommand, remove, requireImage, start, stop } from './containers';
import type { Hold, NodePool } from './pool';
import { SERVICE_DEFINITION, SVC, definitionOf, hostPorts, replicaSpec } from './service-spec';
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

const holderOf = (entity: string, index: number): string => `${entity}#${index}`;

export class Services {
  constructor(private readonly o: ServiceOptions) {}

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
    return { attributes: { [SVC.scale]: def.scale, [SVC.replicas]: replicas.filter((r) => r.running && r.index < def.scale).length } };
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

  async delete(entity: BackendEntity): Promise<void> {
    for (const r of await this.replicas(entity)) await remove(r.node, r.id, `remove replica ${r.index} of ${entity.location}`);
    await this.o.pool.releaseEntity(entity.id);
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
      const kept = await this.shrink(entity, def);
      await this.rollout(entity, def, kept);
    }
    return this.scaleTo(entity, def, placement);
  }

  private request(entity: BackendEntity, def: ServiceDefinition, placement: Placement, index: number) {
    const named = placement.nodes ? placement.nodes[index % placement.nodes.length] : placement.node;
    return {
      holder: holderOf(entity.id, index),
      entity: entity.id,
      memory: def.memory,
      ports: hostPorts(def.ports),
      image: def.image,
      ...(named !== undefined ? { node: named } : {}),
      ...(placement.arch !== undefined ? { arch: placement.arch } : {}),
      ...(placement.location !== undefined ? { location: placement.location } : {}),
      what: `replica ${index} of ${entity.location}`,
    };
  }

  /** Removes replicas with an index ≥ scale (and their holds); answers the rest. */
  private async shrink(entity: BackendEntity, def: ServiceDefinition): Promise<Replica[]> {
    const all = await this.replicas(entity);
    for (const r of all.filter((x) => x.index >= def.scale)) {
      await remove(r.node, r.id, `remove replica ${r.index} of ${entity.location}`);
      await this.o.pool.release(r.node.id, holderOf(entity.id, r.index));
    }
    return all.filter((x) => x.index < def.scale);
  }

  /** Exactly `def.scale` running replicas; a failed scale-up removes what it made. */
  private async scaleTo(entity: BackendEntity, def: ServiceDefinition, placement: Placement): Promise<Realised> {
    const kept = await this.shrink(entity, def);
    const healthy = new Set<number>();
    for (const r of kept) {
      if (r.running && !healthy.has(r.index)) healthy.add(r.index);
      else {
        // Stopped, dead, or a duplicate a crash left: it goes, and its index is made again.
        await remove(r.node, r.id, `remove replica ${r.index} of ${entity.location}`);
      }
    }
    const made: Array<{ node: DockerNode; id?: string; index: number }> = [];
    try {
      for (let index = 0; index < def.scale; index++) {
        if (healthy.has(index)) continue;
        const hold = await this.findHold(entity.id, index);
        const node = hold ?? (await this.o.pool.place(this.request(entity, def, placement, index)));
        const slot: { node: DockerNode; id?: string; index: number } = { node, index };
        made.push(slot);
        slot.id = await this.makeReplica(entity, def, index, node, true);
      }
    } catch (e) {
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
