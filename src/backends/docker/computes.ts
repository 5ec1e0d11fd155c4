/**
 * A compute as one container on a node of the pool. A new compute is placed (best fit; the placement
 * mixin's node, arch and location), its memory held in the node's book before the container is made and
 * released when it goes; an update of occi.compute.memory adjusts the hold first (409 when the node lacks
 * room). A definition change (image, command, environment, hostname) recreates the container on its node.
 */
import { Conflict, NotFound } from '../../errors';
import type { Attributes, TypeId } from '../../model/types';
import type { BackendContext, BackendEntity, Change, Realised } from '../backend';
import { performAction } from './actions';
import type { DockerNode } from './client';
import { statusOf, translateDockerError } from './client';
import type { Located } from './containers';
import { checkCommand, listOwn, locate, remove, requireImage, start, stop } from './containers';
import type { NodePool } from './pool';
import { ATTR, DEFINITION_ATTRIBUTES, LIVE_ATTRIBUTES, buildContainerSpec, placementOf, resourcesOf } from './spec';
import { realisedFrom, refOf } from './state';

export interface ComputeOptions {
  ctx: BackendContext;
  pool: NodePool;
  instance: string;
  stopSeconds(): number;
}

export class Computes {
  constructor(private readonly o: ComputeOptions) {}

  /** The entity's container: on its ref's node, else looked for by label on every node. */
  async locate(entity: BackendEntity): Promise<Located | undefined> {
    const ref = refOf(entity.ref);
    if (ref) return locate(this.o.pool.need(ref.node), entity.id, this.o.instance, ref.containerId);
    for (const node of this.o.pool.all()) {
      const found = await locate(node, entity.id, this.o.instance);
      if (found) return found;
    }
    return undefined;
  }

  private async mustLocate(entity: BackendEntity): Promise<Located> {
    const found = await this.locate(entity);
    if (!found) {
      const ref = refOf(entity.ref);
      throw new NotFound(`the container of ${entity.location} is gone${ref ? ` from docker node ${ref.node}` : ''}`);
    }
    return found;
  }

  async create(entity: BackendEntity): Promise<Realised> {
    const spec = buildContainerSpec(entity, { instance: this.o.instance });
    const placement = placementOf(entity.attributes);
    const existing = await this.locate(entity);
    if (existing) return realisedFrom(existing.node.id, existing.info); // adopt
    const node = await this.o.pool.place({
      holder: entity.id,
      entity: entity.id,
      owner: { tenant: entity.tenant, location: entity.location },
      memory: spec.HostConfig?.Memory ?? 0,
      ports: [],
      image: spec.Image!,
      ...(placement.node !== undefined ? { node: placement.node } : {}),
      ...(placement.arch !== undefined ? { arch: placement.arch } : {}),
      ...(placement.location !== undefined ? { location: placement.location } : {}),
      what: `the container of ${entity.location}`,
    });
    try {
      return await this.make(entity, node, spec);
    } catch (e) {
      // Unless a concurrent create of the same entity made it (then it is adopted, and the hold is its).
      if (!(await this.locate(entity).catch(() => undefined))) await this.o.pool.release(node.id, entity.id).catch(() => undefined);
      throw e;
    }
  }

  private async make(entity: BackendEntity, node: DockerNode, spec: ReturnType<typeof buildContainerSpec>): Promise<Realised> {
    const image = await requireImage(node, spec.Image!);
    let id: string;
    try {
      id = (await node.docker.createContainer(spec)).id;
    } catch (e) {
      if (statusOf(e) === 409) {
        // A concurrent create of the same entity won the name: adopt its container. Docker reserves the
        // name before the container is listed, so it may take a moment to appear (bounded).
        for (let attempt = 0; attempt < 20; attempt++) {
          const winner = await locate(node, entity.id, this.o.instance);
          if (winner) return realisedFrom(node.id, winner.info);
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Conflict(`a container named ${spec.name} exists on docker node ${node.id} without this entity's labels; occitan leaves it alone`);
      }
      throw translateDockerError(e, node, `create the container of ${entity.location}`);
    }
    try {
      const container = node.docker.getContainer(id);
      await checkCommand(node, container, spec, image);
      await start(node, container, `start the container of ${entity.location}`);
      return realisedFrom(node.id, await container.inspect());
    } catch (e) {
      await this.undo(node, id, entity);
      throw translateDockerError(e, node, `start the container of ${entity.location}`);
    }
  }

  /** All or nothing: removes a container a failed step made. The original error wins. */
  private async undo(node: DockerNode, id: string, entity: BackendEntity): Promise<void> {
    await remove(node, id, `remove the container of ${entity.location}`).catch((e: unknown) =>
      this.o.ctx.log.error('docker provider could not remove a container after a failed step', { entity: entity.id, container: id, error: String(e) }),
    );
  }

  async retrieve(entity: BackendEntity): Promise<Realised> {
    const found = await this.mustLocate(entity);
    return realisedFrom(found.node.id, found.info);
  }

  async update(current: BackendEntity, change: Change): Promise<Realised> {
    // The entity as it is to be (the service already merged the change; a caller that did not is served too).
    const entity: BackendEntity = { ...current, attributes: { ...current.attributes, ...change.attributes } };
    const spec = buildContainerSpec(entity, { instance: this.o.instance }); // 400 before anything changes
    const found = await this.mustLocate(entity);
    const keys = Object.keys(change.attributes);
    const node = found.node;
    // The memory hold follows occi.compute.memory: 409 before anything changes when the node lacks room.
    const before = await this.o.pool.holdOf(node.id, entity.id);
    const memory = spec.HostConfig?.Memory ?? 0;
    const adjusted = keys.includes(ATTR.memory) && (before?.memory ?? 0) !== memory;
    if (adjusted) await this.o.pool.adjust(node.id, entity.id, { memory, ports: [], entity: entity.id, since: before?.since ?? this.o.ctx.clock.now() });
    try {
      if (keys.some((k) => DEFINITION_ATTRIBUTES.includes(k))) return await this.recreate(entity, found, spec);
      if (keys.some((k) => LIVE_ATTRIBUTES.includes(k))) {
        try {
          await node.docker.getContainer(found.info.Id).update(resourcesOf(entity.attributes));
        } catch (e) {
          throw translateDockerError(e, node, `change the limits of the container of ${entity.location}`);
        }
      }
      return await this.retrieve({ ...entity, ref: { node: node.id, containerId: found.info.Id } });
    } catch (e) {
      if (adjusted) await this.o.pool.restore(node.id, entity.id, before).catch(() => undefined);
      throw e;
    }
  }

  /**
   * A new definition (image, command, environment, hostname) needs a new container: made beside the old
   * one, checked, then swapped in (the old one stopped, the new one started in the old one's state).
   * On failure the new one is removed and the old one put back as it was.
   */
  private async recreate(entity: BackendEntity, found: Located, spec: ReturnType<typeof buildContainerSpec>): Promise<Realised> {
    const { node, info: old } = found;
    const name = spec.name!;
    const image = await requireImage(node, spec.Image!);
    // A replacement a crash left behind carries the entity's labels: it goes first.
    for (const c of await listOwn(node, entity.id, this.o.instance)) {
      if (c.Id !== old.Id) await remove(node, c.Id, `remove a leftover container of ${entity.location}`);
    }
    let id: string;
    try {
      id = (await node.docker.createContainer({ ...spec, name: `${name}-next` })).id;
    } catch (e) {
      throw translateDockerError(e, node, `create the new container of ${entity.location}`);
    }
    const next = node.docker.getContainer(id);
    const oldC = node.docker.getContainer(old.Id);
    const wasRunning = old.State.Running;
    try {
      await checkCommand(node, next, spec, image);
      if (wasRunning) {
        await stop(node, oldC, this.o.stopSeconds(), `stop the old container of ${entity.location}`);
        await start(node, next, `start the new container of ${entity.location}`);
        if (old.State.Paused) await next.pause();
      }
    } catch (e) {
      await this.undo(node, id, entity);
      if (wasRunning) {
        await start(node, oldC, `restart the old container of ${entity.location}`)
          .then(() => (old.State.Paused ? oldC.pause() : undefined))
          .catch((undo: unknown) => this.o.ctx.log.error('docker provider could not restart the old container after a failed update', { entity: entity.id, error: String(undo) }));
      }
      throw translateDockerError(e, node, `replace the container of ${entity.location}`);
    }
    await remove(node, old.Id, `remove the old container of ${entity.location}`);
    try {
      await next.rename({ name });
    } catch (e) {
      // Still labelled for the entity, so found and managed; only its name says "-next".
      this.o.ctx.log.warn('docker provider could not rename a replacement container', { entity: entity.id, error: String(e) });
    }
    const realised = await this.retrieve({ ...entity, ref: { node: node.id, containerId: id } });
    return { ...realised, runtimeChanged: true };
  }

  async delete(entity: BackendEntity): Promise<void> {
    const ref = refOf(entity.ref);
    const nodes = ref && this.o.pool.get(ref.node) ? [this.o.pool.get(ref.node)!] : this.o.pool.all();
    for (const node of nodes) {
      const ids = new Set((await listOwn(node, entity.id, this.o.instance)).map((c) => c.Id));
      // The ref's container too, when it still carries this entity's labels (listOwn found it then anyway).
      if (ref?.node === node.id && !ids.has(ref.containerId)) {
        const found = await locate(node, entity.id, this.o.instance, ref.containerId);
        if (found) ids.add(found.info.Id);
      }
      for (const id of ids) await remove(node, id, `remove the container of ${entity.location}`);
    }
    await this.o.pool.releaseEntity(entity.id);
  }

  async action(entity: BackendEntity, action: TypeId, params: Attributes): Promise<Realised> {
    const found = await this.mustLocate(entity);
    return performAction(found, action, params, { stopSeconds: this.o.stopSeconds(), location: entity.location });
  }
}
