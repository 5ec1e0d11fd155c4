/**
 * Container operations on one node, each translated at the edge: finding an entity's container by its
 * labels, checking the image is present (never pulled), checking a command's program exists in the
 * image, and the idempotent start/stop/remove Docker answers 304/404 to.
 */
import type Dockerode from 'dockerode';
import { BadRequest } from '../../errors';
import type { DockerNode } from './client';
import { statusOf, translateDockerError } from './client';
import { ATTR, LABEL, containerName } from './spec';

export interface Located {
  node: DockerNode;
  info: Dockerode.ContainerInspectInfo;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Whether a container (inspect or list answer) carries this entity's and this instance's labels. */
export function isOwn(labels: Record<string, string> | undefined, entityId: string, instance: string): boolean {
  return labels?.[LABEL.entity] === entityId && labels?.[LABEL.instance] === instance;
}

/** Every container of the node labelled for this entity and instance (summaries). */
export async function listOwn(node: DockerNode, entityId: string, instance: string): Promise<Dockerode.ContainerInfo[]> {
  try {
    return await node.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL.entity}=${entityId}`, `${LABEL.instance}=${instance}`] },
    });
  } catch (e) {
    throw translateDockerError(e, node, `list the containers of entity ${entityId}`);
  }
}

/** Inspects a container; undefined when it is gone. */
export async function inspect(node: DockerNode, id: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
  try {
    return await node.docker.getContainer(id).inspect();
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw translateDockerError(e, node, `inspect container ${id}`);
  }
}

/**
 * The entity's container on `node`: by the id in its ref when that container still carries the
 * entity's labels, else by label (preferring the one with the entity's own name over a replacement in
 * the middle of an update).
 */
export async function locate(node: DockerNode, entityId: string, instance: string, containerId?: string): Promise<Located | undefined> {
  if (containerId) {
    const info = await inspect(node, containerId);
    if (info && isOwn(info.Config.Labels, entityId, instance)) return { node, info };
  }
  const found = await listOwn(node, entityId, instance);
  if (found.length === 0) return undefined;
  const name = `/${containerName(entityId)}`;
  const best = found.find((c) => c.Names.includes(name)) ?? [...found].sort((a, b) => b.Created - a.Created)[0]!;
  const info = await inspect(node, best.Id);
  return info ? { node, info } : undefined;
}

/** The image's inspect answer; 400 naming it when the node does not have it (occitan never pulls). */
export async function requireImage(node: DockerNode, image: string): Promise<Dockerode.ImageInspectInfo> {
  try {
    return await node.docker.getImage(image).inspect();
  } catch (e) {
    if (statusOf(e) === 404) {
      throw new BadRequest(
        `image ${image} is not on docker node ${node.id}: occitan never pulls images; an administrator loads it on the node (docker load, docker import) first`,
      );
    }
    throw translateDockerError(e, node, `inspect image ${image}`);
  }
}

async function pathExists(node: DockerNode, container: Dockerode.Container, path: string): Promise<boolean> {
  try {
    const res: unknown = await container.infoArchive({ path });
    // A HEAD answer arrives as a stream; let it end so the socket is freed.
    (res as { resume?: () => void } | undefined)?.resume?.();
    return true;
  } catch (e) {
    if (statusOf(e) === 404) return false;
    throw translateDockerError(e, node, `look for ${path} in container ${container.id}`);
  }
}

/**
 * With an init process, a program that does not exist makes the container exit 127 right after a
 * "successful" start. Checked before starting instead, so such a create fails as a whole with a 400
 * naming the program. Images with an entrypoint take the command as arguments: not checked.
 */
export async function checkCommand(node: DockerNode, container: Dockerode.Container, spec: Dockerode.ContainerCreateOptions, image: Dockerode.ImageInspectInfo): Promise<void> {
  const program = spec.Cmd?.[0];
  if (!program || (image.Config?.Entrypoint?.length ?? 0) > 0) return;
  let candidates: string[];
  let searched: string;
  if (program.includes('/')) {
    if (!program.startsWith('/')) return; // relative to the working directory: left to the program
    candidates = [program];
    searched = program;
  } else {
    const pathVar = [...(spec.Env ?? []), ...(image.Config?.Env ?? [])].find((v) => v.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
    const dirs = pathVar.split(':').filter((d) => d.startsWith('/'));
    candidates = dirs.map((d) => `${d.replace(/\/$/, '')}/${program}`);
    searched = `PATH ${dirs.join(':')}`;
  }
  for (const c of candidates) if (await pathExists(node, container, c)) return;
  throw new BadRequest(`${ATTR.command}: the program ${JSON.stringify(program)} is not in image ${String(spec.Image)} (searched ${searched})`);
}

/** Starts a container; already started is success. */
export async function start(node: DockerNode, c: Dockerode.Container, what: string): Promise<void> {
  try {
    await c.start();
  } catch (e) {
    if (statusOf(e) !== 304) throw translateDockerError(e, node, what);
  }
}

/** Stops with SIGTERM, then SIGKILL after `seconds`; already stopped is success. */
export async function stop(node: DockerNode, c: Dockerode.Container, seconds: number, what: string): Promise<void> {
  try {
    await c.stop({ t: seconds });
  } catch (e) {
    if (statusOf(e) !== 304) throw translateDockerError(e, node, what);
  }
}

/** Removes a container and its anonymous volumes; already gone is success. */
export async function remove(node: DockerNode, id: string, what: string): Promise<void> {
  try {
    await node.docker.getContainer(id).remove({ force: true, v: true });
  } catch (e) {
    // 409 "removal already in progress": another delete got there first.
    if (statusOf(e) !== 404 && statusOf(e) !== 409) throw translateDockerError(e, node, what);
  }
}
