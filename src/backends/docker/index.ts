/**
 * The docker provider: a compute is a container on a Docker Engine (dockerode over the Engine's unix
 * socket). backends.json:
 *
 *   "docker": { "backend": "docker", "optional": true,
 *               "options": { "nodes": [ { "id": "local", "socketPath": "/var/run/docker.sock" } ], "instance": "default" } }
 *
 * Images come from templates. An administrator registers each image as an os_tpl mixin that depends on
 * `http://schemas.ogf.org/occi/infrastructure#os_tpl` and `https://occitan.dev/occi/docker#container`
 * (categories/docker.yaml) and gives `occitan.docker.image` a default with its tag (`busybox:1.36`), and
 * `occitan.provider` the default `docker` so the template picks this provider. Images are never pulled:
 * one missing on the node is a 400 naming it, before any container is made. The container mixin also
 * carries `occitan.docker.command` and `occitan.docker.environment` per entity.
 *
 * Every container carries the labels dev.occitan.entity / .instance / .tenant and a name derived from the
 * entity's internal id; nothing unlabelled is ever touched. The ref is `{ node, containerId, netns }`.
 * Named waits (`clock.duration`): dockerStopTimeout (graceful stop, 10 s), dockerReapGrace (age under
 * which an unowned labelled container is left alone at start-up, 60 s), dockerRequestTimeout (60 s).
 *
 * This slice uses the first node; the node pool with memory reservations, services and ports come next.
 */
import { Conflict, Internal, NotFound } from '../../errors';
import type { TypeId } from '../../model/types';
import { INFRA } from '../../model/types';
import type { Attributes } from '../../model/types';
import type { Backend, BackendContext, BackendEntity, Change, Realised } from '../backend';
import { ACTIONS, performAction } from './actions';
import { DockerNode, parseOptions, statusOf, translateDockerError } from './client';
import type { Located } from './containers';
import { checkCommand, listOwn, locate, remove, requireImage, start, stop } from './containers';
import { reconcile } from './reconcile';
import { DEFAULT_INSTANCE, DEFINITION_ATTRIBUTES, LIVE_ATTRIBUTES, buildContainerSpec, resourcesOf } from './spec';
import { realisedFrom, refOf } from './state';

const COMPUTE = INFRA + 'compute';

class DockerBackend implements Backend {
  readonly kinds: readonly TypeId[] = [COMPUTE];
  readonly actions: readonly TypeId[] = ACTIONS;
  private ctx: BackendContext | undefined;
  private nodes: DockerNode[] = [];
  private instance = DEFAULT_INSTANCE;

  constructor(readonly name: string) {}

  async init(ctx: BackendContext): Promise<void> {
    const options = parseOptions(ctx.options);
    const stopMs = ctx.clock.duration('dockerStopTimeout', 10_000);
    const timeout = Math.max(ctx.clock.duration('dockerRequestTimeout', 60_000), stopMs + 30_000);
    const nodes = options.nodes.map((n) => new DockerNode(n, timeout));
    // The first node serves every compute for now: it must answer.
    try {
      await nodes[0]!.docker.ping();
    } catch (e) {
      throw translateDockerError(e, nodes[0]!, 'ping it');
    }
    this.instance = options.instance ?? DEFAULT_INSTANCE;
    this.nodes = nodes;
    this.ctx = ctx;
    await reconcile({ ctx, node: nodes[0]!, instance: this.instance, graceMs: ctx.clock.duration('dockerReapGrace', 60_000) });
    ctx.log.info(`docker provider ${this.name} ready`, { node: nodes[0]!.describe(), instance: this.instance });
  }

  async close(): Promise<void> {
    this.ctx = undefined;
    this.nodes = [];
  }

  private need(): BackendContext {
    if (!this.ctx) throw new Internal(`provider ${this.name} used before init or after close`);
    return this.ctx;
  }

  /** The node an entity lives on (its ref's), else where a new one goes (the first node, for now). */
  private nodeFor(entity: BackendEntity): DockerNode {
    this.need();
    const ref = refOf(entity.ref);
    return (ref && this.nodes.find((n) => n.id === ref.node)) ?? this.nodes[0]!;
  }

  private locate(entity: BackendEntity): Promise<Located | undefined> {
    const ref = refOf(entity.ref);
    const node = this.nodeFor(entity);
    return locate(node, entity.id, this.instance, ref?.node === node.id ? ref.containerId : undefined);
  }

  private async mustLocate(entity: BackendEntity): Promise<Located> {
    const found = await this.locate(entity);
    if (!found) throw new NotFound(`the container of ${entity.location} is gone from docker node ${this.nodeFor(entity).id}`);
    return found;
  }

  private stopSeconds(): number {
    return Math.max(0, Math.ceil(this.need().clock.duration('dockerStopTimeout', 10_000) / 1000));
  }

  async create(entity: BackendEntity): Promise<Realised> {
    const spec = buildContainerSpec(entity, { instance: this.instance });
    const node = this.nodeFor(entity);
    const existing = await this.locate(entity);
    if (existing) return realisedFrom(node.id, existing.info); // adopt
    const image = await requireImage(node, spec.Image!);

    let id: string;
    try {
      id = (await node.docker.createContainer(spec)).id;
    } catch (e) {
      if (statusOf(e) === 409) {
        // A concurrent create of the same entity won the name: adopt its container. Docker reserves the
        // name before the container is listed, so it may take a moment to appear (bounded).
        for (let attempt = 0; attempt < 20; attempt++) {
          const winner = await this.locate(entity);
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
      this.ctx?.log.error('docker provider could not remove a container after a failed step', { entity: entity.id, container: id, error: String(e) }),
    );
  }

  async retrieve(entity: BackendEntity): Promise<Realised> {
    const found = await this.mustLocate(entity);
    return realisedFrom(found.node.id, found.info);
  }

  async update(current: BackendEntity, change: Change): Promise<Realised> {
    // The entity as it is to be (the service already merged the change; a caller that did not is served too).
    const entity: BackendEntity = { ...current, attributes: { ...current.attributes, ...change.attributes } };
    const spec = buildContainerSpec(entity, { instance: this.instance }); // 400 before anything changes
    const found = await this.mustLocate(entity);
    const keys = Object.keys(change.attributes);
    if (keys.some((k) => DEFINITION_ATTRIBUTES.includes(k))) return this.recreate(entity, found, spec);
    if (keys.some((k) => LIVE_ATTRIBUTES.includes(k))) {
      try {
        await found.node.docker.getContainer(found.info.Id).update(resourcesOf(entity.attributes));
      } catch (e) {
        throw translateDockerError(e, found.node, `change the limits of the container of ${entity.location}`);
      }
    }
    return this.retrieve({ ...entity, ref: { node: found.node.id, containerId: found.info.Id } });
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
    for (const c of await listOwn(node, entity.id, this.instance)) {
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
        await stop(node, oldC, this.stopSeconds(), `stop the old container of ${entity.location}`);
        await start(node, next, `start the new container of ${entity.location}`);
        if (old.State.Paused) await next.pause();
      }
    } catch (e) {
      await this.undo(node, id, entity);
      if (wasRunning) {
        await start(node, oldC, `restart the old container of ${entity.location}`)
          .then(() => (old.State.Paused ? oldC.pause() : undefined))
          .catch((undo: unknown) => this.ctx?.log.error('docker provider could not restart the old container after a failed update', { entity: entity.id, error: String(undo) }));
      }
      throw translateDockerError(e, node, `replace the container of ${entity.location}`);
    }
    await remove(node, old.Id, `remove the old container of ${entity.location}`);
    try {
      await next.rename({ name });
    } catch (e) {
      // Still labelled for the entity, so found and managed; only its name says "-next".
      this.ctx?.log.warn('docker provider could not rename a replacement container', { entity: entity.id, error: String(e) });
    }
    const realised = await this.retrieve({ ...entity, ref: { node: node.id, containerId: id } });
    return { ...realised, runtimeChanged: true };
  }

  async delete(entity: BackendEntity): Promise<void> {
    const node = this.nodeFor(entity);
    const ref = refOf(entity.ref);
    const ids = new Set((await listOwn(node, entity.id, this.instance)).map((c) => c.Id));
    // The ref's container too, when it still carries this entity's labels (listOwn found it then anyway).
    if (ref?.node === node.id && !ids.has(ref.containerId)) {
      const found = await locate(node, entity.id, this.instance, ref.containerId);
      if (found) ids.add(found.info.Id);
    }
    for (const id of ids) await remove(node, id, `remove the container of ${entity.location}`);
  }

  async action(entity: BackendEntity, action: TypeId, params: Attributes): Promise<Realised> {
    const found = await this.mustLocate(entity);
    return performAction(found, action, params, { stopSeconds: this.stopSeconds(), location: entity.location });
  }
}

/** The registry's factory: `name` is the provider key from backends.json. */
export function createBackend(name: string): Backend {
  return new DockerBackend(name);
}

export { buildContainerSpec, containerName, CONTAINER_MIXIN, LABEL } from './spec';
export type { DockerRef } from './state';
