/**
 * From a compute entity to the container it becomes: pure functions, no I/O (unit-tested on their own).
 *
 * Only the attributes named here reach Docker. A tenant can never set binds, mounts, privileged mode,
 * capabilities, devices, host networking or any other HostConfig field: there is no attribute that maps
 * to them, and nothing of the entity is passed through. Every container runs with an init process
 * (docker-init forwards SIGTERM, so a graceful stop is prompt), no network (`none`; the network interface
 * backend plugs a veth into its namespace), no restart policy and no new privileges.
 */
import type Dockerode from 'dockerode';
import { BadRequest } from '../../errors';
import type { AttributeValue, Attributes } from '../../model/types';
import type { BackendEntity } from '../backend';

export const CONTAINER_MIXIN = 'https://occitan.dev/occi/docker#container';

export const ATTR = {
  image: 'occitan.docker.image',
  command: 'occitan.docker.command',
  environment: 'occitan.docker.environment',
  memory: 'occi.compute.memory',
  cores: 'occi.compute.cores',
  share: 'occi.compute.share',
  hostname: 'occi.compute.hostname',
  state: 'occi.compute.state',
  message: 'occi.compute.state.message',
} as const;

/** Labels every container occitan makes carries; nothing without them is ever touched. */
export const LABEL = {
  entity: 'dev.occitan.entity',
  instance: 'dev.occitan.instance',
  tenant: 'dev.occitan.tenant',
  /** A service replica's index (0 … scale-1). */
  replica: 'dev.occitan.replica',
  /** A hash of the service definition a replica runs, so a rollout knows what is stale. */
  definition: 'dev.occitan.definition',
} as const;

/** The placement mixin: a node the client names, or constraints the chosen node meets. */
export const PLACEMENT_MIXIN = 'https://occitan.dev/occi/docker#placement';
export const PLACEMENT = {
  node: 'occitan.docker.placement.node',
  nodes: 'occitan.docker.placement.nodes',
  arch: 'occitan.docker.placement.arch',
  location: 'occitan.docker.placement.location',
} as const;

export interface Placement {
  node?: string;
  nodes?: string[];
  arch?: string;
  location?: string;
}

/** The placement constraints of an entity (400 when malformed). */
export function placementOf(attributes: Readonly<Attributes>): Placement {
  const out: Placement = {};
  for (const k of ['node', 'arch', 'location'] as const) {
    const v = attributes[PLACEMENT[k]];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string') throw new BadRequest(`${PLACEMENT[k]} must be a string; got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  const nodes = attributes[PLACEMENT.nodes];
  if (nodes !== undefined) {
    if (!Array.isArray(nodes) || nodes.some((n) => typeof n !== 'string' || n === '')) {
      throw new BadRequest(`${PLACEMENT.nodes} must be a list of node names; got ${JSON.stringify(nodes)}`);
    }
    if (new Set(nodes).size !== nodes.length) throw new BadRequest(`${PLACEMENT.nodes} names a node twice: ${JSON.stringify(nodes)}`);
    if (nodes.length) out.nodes = nodes as string[];
  }
  if (out.node !== undefined && out.nodes !== undefined) throw new BadRequest(`name one node (${PLACEMENT.node}) or several (${PLACEMENT.nodes}), not both`);
  return out;
}

/** The occitan instance a container belongs to when backends.json names none. */
export const DEFAULT_INSTANCE = 'default';

const GIB = 1024 ** 3;

/**
 * A Docker image reference with a mandatory tag (Genisys: "The image tag must be specified"), optionally
 * pinned by a digest too: `[registry[:port]/]name[/name…]:tag[@sha256:…]`. The same expression is the
 * attribute's pattern in categories/docker.yaml.
 */
export const IMAGE_REFERENCE =
  /^(?:[A-Za-z0-9][A-Za-z0-9.-]*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(?:@sha256:[a-f0-9]{64})?$/;

/** Attributes that a running container can take without being recreated. */
export const LIVE_ATTRIBUTES: readonly string[] = [ATTR.memory, ATTR.cores, ATTR.share];
/** Attributes that are part of the container's definition: changing one recreates the container. */
export const DEFINITION_ATTRIBUTES: readonly string[] = [ATTR.image, ATTR.command, ATTR.environment, ATTR.hostname];

/**
 * The container's name on its node: derived from occitan's internal entity id (unique across tenants),
 * never from the client's path. Docker allows `[a-zA-Z0-9][a-zA-Z0-9_.-]+`; anything else in the id
 * becomes '-', and an id that would not fit is shortened with a hash of the whole so names never collide.
 */
export function containerName(entityId: string): string {
  const clean = entityId.replace(/^urn:uuid:/, '').replace(/[^A-Za-z0-9_.-]/g, '-');
  if (clean === entityId.replace(/^urn:uuid:/, '') && clean.length <= 100) return `occitan-${clean}`;
  return `occitan-${clean.slice(0, 60)}-${fnv1a(entityId)}`;
}

/** A short stable hash (FNV-1a, 32 bits, hex); names only, not security. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** The image reference of an entity: present, a string, with a tag; 400 naming the problem otherwise. */
export function imageOf(attributes: Readonly<Attributes>): string {
  const image = attributes[ATTR.image];
  if (image === undefined || image === '') {
    throw new BadRequest(
      `no image for the container: apply an os_tpl template of the docker provider (a mixin that depends on ` +
        `http://schemas.ogf.org/occi/infrastructure#os_tpl and ${CONTAINER_MIXIN}) or set ${ATTR.image}`,
    );
  }
  if (typeof image !== 'string') throw new BadRequest(`${ATTR.image} must be a string; got ${JSON.stringify(image)}`);
  if (!IMAGE_REFERENCE.test(image)) {
    const name = image.replace(/@[^@]*$/, '');
    const hasTag = name.slice(name.lastIndexOf('/') + 1).includes(':');
    throw new BadRequest(
      hasTag
        ? `${ATTR.image} ${JSON.stringify(image)} is not a valid image reference (name:tag, lower-case name)`
        : `${ATTR.image} ${JSON.stringify(image)} has no tag: name the image with its tag, e.g. ${name}:1.0 (images are never pulled, and no tag would mean :latest)`,
    );
  }
  return image;
}

export function commandOf(value: AttributeValue | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new BadRequest(`${ATTR.command} must be an array of strings (the program and its arguments); got ${JSON.stringify(value)}`);
  }
  return value.length ? (value as string[]) : undefined;
}

export function environmentOf(value: AttributeValue | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequest(`${ATTR.environment} must be an object of names to string values; got ${JSON.stringify(value)}`);
  }
  const env: string[] = [];
  for (const [name, v] of Object.entries(value)) {
    if (!/^[^=\0]+$/.test(name)) throw new BadRequest(`${ATTR.environment}: ${JSON.stringify(name)} is not a valid variable name (non-empty, no '=')`);
    if (typeof v !== 'string' || v.includes('\0')) throw new BadRequest(`${ATTR.environment}.${name} must be a string; got ${JSON.stringify(v)}`);
    env.push(`${name}=${v}`);
  }
  return env.length ? env : undefined;
}

function positive(name: string, value: AttributeValue | undefined, integer: boolean, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new BadRequest(`${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}; got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The resource limits of an entity (create and live update): memory GiB → bytes, cores → NanoCpus, share → CpuShares. */
export function resourcesOf(attributes: Readonly<Attributes>): { Memory?: number; MemorySwap?: number; NanoCpus?: number; CpuShares?: number } {
  const out: { Memory?: number; MemorySwap?: number; NanoCpus?: number; CpuShares?: number } = {};
  const memory = positive(ATTR.memory, attributes[ATTR.memory], false, Number.MIN_VALUE);
  if (memory !== undefined) {
    out.Memory = Math.round(memory * GIB);
    // No swap beyond the limit: the memory a compute asks for is what it may use.
    out.MemorySwap = out.Memory;
  }
  const cores = positive(ATTR.cores, attributes[ATTR.cores], true, 1);
  if (cores !== undefined) out.NanoCpus = cores * 1e9;
  const share = positive(ATTR.share, attributes[ATTR.share], true, 0);
  // 0 means "the default" to Docker as to OCCI clients that send it; Docker's minimum otherwise is 2.
  if (share !== undefined && share > 0) out.CpuShares = Math.max(2, share);
  return out;
}

export interface SpecOptions {
  /** The occitan instance (backends.json `instance`, else "default"). */
  instance: string;
}

/** The labels that mark a container as this entity's, for this occitan instance. */
export function labelsFor(entity: Pick<BackendEntity, 'id' | 'tenant'>, instance: string): Record<string, string> {
  return { [LABEL.entity]: entity.id, [LABEL.instance]: instance, [LABEL.tenant]: entity.tenant };
}

/**
 * The create options of the entity's container. Validates everything first (400 naming the attribute),
 * so nothing is made for a request that cannot be honoured.
 */
export function buildContainerSpec(entity: BackendEntity, opts: SpecOptions): Dockerode.ContainerCreateOptions {
  const a = entity.attributes;
  const image = imageOf(a);
  const cmd = commandOf(a[ATTR.command]);
  const env = environmentOf(a[ATTR.environment]);
  const hostname = a[ATTR.hostname];
  if (hostname !== undefined && (typeof hostname !== 'string' || !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9.])?$/.test(hostname))) {
    throw new BadRequest(`${ATTR.hostname} must be a DNS host name; got ${JSON.stringify(hostname)}`);
  }
  const spec: Dockerode.ContainerCreateOptions = {
    name: containerName(entity.id),
    Image: image,
    Labels: labelsFor(entity, opts.instance),
    HostConfig: {
      NetworkMode: 'none',
      Init: true,
      RestartPolicy: { Name: 'no' },
      SecurityOpt: ['no-new-privileges'],
      ...resourcesOf(a),
    },
  };
  if (cmd) spec.Cmd = cmd;
  if (env) spec.Env = env;
  // A trailing dot (an absolute FQDN) is not part of a container's host name.
  if (typeof hostname === 'string' && hostname !== '') spec.Hostname = hostname.replace(/\.$/, '');
  return spec;
}
