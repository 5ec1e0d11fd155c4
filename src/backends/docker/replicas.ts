/**
 * A service's replica as an entity of its own (Siren's remove_service_by_id): a compute carrying the
 * replica mixin at `<service location>/replicas/<index>`. The service makes and removes these entities
 * (services.ts spawns one once its container runs, and disposes of it when it removes the replica); this
 * part realises them:
 *
 * - create adopts the container the service just made; a client's create naming the mixin is a 400.
 * - retrieve and the compute actions (start, stop, restart, suspend) work on the replica's container.
 * - update: the definition is the service's; a change of anything but title and summary is a 409.
 * - delete by a client removes the container and its hold, and lowers the service's occitan.docker.scale
 *   by one, so the replica is not made again; the service's own removal of a replica only drops the entity.
 *
 * The ref is `{ replicaOf, index, node }` (no container id: the container is found by the service's labels
 * and the index, and a rollout replaces it). The network interface provider does not plug into replicas.
 */
import type Dockerode from 'dockerode';
import { BadRequest, Conflict, NotFound } from '../../errors';
import type { Attributes, TypeId } from '../../model/types';
import type { BackendContext, BackendEntity, Change, Realised } from '../backend';
import { performAction } from './actions';
import type { DockerNode } from './client';
import { translateDockerError } from './client';
import type { Located } from './containers';
import { inspect, remove } from './containers';
import type { NodePool } from './pool';
import { REPLICA_ATTR, REPLICA_MIXIN, SCALE_ACTION, SERVICE_KIND, SVC, holderOf } from './service-spec';
import type { Services } from './services';
import { entityKey, runningReplicas } from './services';
import { LABEL } from './spec';
import { realisedFrom } from './state';

export interface ReplicaRef {
  /** The service's entity id. */
  replicaOf: string;
  index: number;
  node: string;
}

export interface ReplicaOptions {
  ctx: BackendContext;
  pool: NodePool;
  instance: string;
  services: Services;
  stopSeconds(): number;
}

/** Attributes a client may change on a replica. */
const OWN_ATTRIBUTES = new Set(['occi.core.title', 'occi.core.summary']);

function replicaRefOf(entity: BackendEntity): ReplicaRef | undefined {
  const r = entity.ref as Partial<ReplicaRef> | undefined;
  return r && typeof r.replicaOf === 'string' && typeof r.index === 'number' && typeof r.node === 'string' ? (r as ReplicaRef) : undefined;
}

export class Replicas {
  constructor(private readonly o: ReplicaOptions) {}

  private realised(ref: ReplicaRef, found: Located): Realised {
    const live = realisedFrom(found.node.id, found.info);
    return { attributes: { ...live.attributes, [REPLICA_ATTR.node]: found.node.id }, ref: { ...ref, node: found.node.id } };
  }

  /** The replica's containers on `node` (labels of its service and its index). */
  private async containers(node: DockerNode, ref: ReplicaRef): Promise<Dockerode.ContainerInfo[]> {
    try {
      return await node.docker.listContainers({
        all: true,
        filters: { label: [`${LABEL.entity}=${ref.replicaOf}`, `${LABEL.instance}=${this.o.instance}`, `${LABEL.replica}=${ref.index}`] },
      });
    } catch (e) {
      throw translateDockerError(e, node, `list the containers of replica ${ref.index}`);
    }
  }

  /** The replica's container: a running one first (a rollout briefly has two), on its node, else on any. */
  private async locate(ref: ReplicaRef): Promise<Located | undefined> {
    const own = this.o.pool.get(ref.node);
    for (const node of own ? [own, ...this.o.pool.all().filter((n) => n !== own)] : this.o.pool.all()) {
      const list = await this.containers(node, ref);
      const best = list.find((c) => c.State === 'running') ?? list[0];
      const info = best ? await inspect(node, best.Id) : undefined;
      if (info) return { node, info };
    }
    return undefined;
  }

  /** Adopts the container its service made for it; a client cannot create a replica (400). */
  async create(entity: BackendEntity): Promise<Realised> {
    const pending = this.o.services.pending.get(entityKey(entity.tenant, entity.location));
    if (!pending) {
      throw new BadRequest(`${REPLICA_MIXIN} entities are made by their service: create a ${SERVICE_KIND} or scale one (${SCALE_ACTION})`);
    }
    const info = await inspect(pending.node, pending.containerId);
    if (!info) throw new Conflict(`the container of replica ${pending.index} of ${String(entity.attributes[REPLICA_ATTR.service])} went while its entity was being made`);
    return this.realised({ replicaOf: pending.service, index: pending.index, node: pending.node.id }, { node: pending.node, info });
  }

  /** Live state; NotFound when its container is gone. */
  async retrieve(entity: BackendEntity): Promise<Realised> {
    const ref = replicaRefOf(entity);
    const found = ref ? await this.locate(ref) : undefined;
    if (!ref || !found) throw new NotFound(`the container of ${entity.location} is gone`);
    return this.realised(ref, found);
  }

  /** Only title and summary are the replica's own; its definition is its service's (409 naming it). */
  async update(entity: BackendEntity, change: Change): Promise<Realised> {
    const refused = Object.keys(change.attributes).filter((k) => !OWN_ATTRIBUTES.has(k));
    if (refused.length || change.mixinsAdded.length || change.mixinsRemoved.length) {
      throw new Conflict(`${entity.location} is a replica of ${String(entity.attributes[REPLICA_ATTR.service])}: change the service, not its replica (${[...refused, ...change.mixinsAdded, ...change.mixinsRemoved].join(', ')})`);
    }
    return { attributes: {} };
  }

  /** Compute actions on the replica's container; the state rule is the compute's (actions.ts). */
  async action(entity: BackendEntity, action: TypeId, params: Attributes): Promise<Realised> {
    const ref = replicaRefOf(entity);
    const found = ref ? await this.locate(ref) : undefined;
    if (!ref || !found) throw new NotFound(`the container of ${entity.location} is gone`);
    const done = await performAction(found, action, params, { stopSeconds: this.o.stopSeconds(), location: entity.location });
    return { attributes: { ...done.attributes, [REPLICA_ATTR.node]: found.node.id }, ref: { ...ref, node: found.node.id } };
  }

  /**
   * A client's delete: the replica's containers and hold go, and its service keeps one replica fewer
   * (occitan.docker.scale lowered by one). Idempotent. When the service itself removes the replica it
   * has removed the container already, and only the entity goes.
   */
  async delete(entity: BackendEntity): Promise<void> {
    if (this.o.services.disposing.has(entityKey(entity.tenant, entity.location))) return;
    const ref = replicaRefOf(entity);
    if (!ref) return; // never realised: no container
    for (const node of this.o.pool.all()) {
      for (const c of await this.containers(node, ref)) await remove(node, c.Id, `remove replica ${ref.index} of ${String(entity.attributes[REPLICA_ATTR.service])}`);
      await this.o.pool.release(node.id, holderOf(ref.replicaOf, ref.index));
    }
    const service = await this.o.ctx.resolve(entity.tenant, ref.replicaOf);
    if (!service || service.kind !== SERVICE_KIND) return;
    const scale = service.attributes[SVC.scale];
    const replicas = await this.o.services.replicas(service, true);
    await this.o.ctx.report(service.id, {
      attributes: { [SVC.scale]: Math.max(0, (typeof scale === 'number' ? scale : 1) - 1), [SVC.replicas]: runningReplicas(replicas) },
    });
  }
}
