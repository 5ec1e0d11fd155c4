/**
 * From a service entity (Genisys' service definition: name, image, command, environment, ports) to the
 * containers of its replicas: pure functions, no I/O.
 *
 * Ports: each item is `"8080"` (host port 8080 to container port 8080), `"8081:80"` (host 8081 to
 * container 80), optionally with `/tcp` or `/udp`. They are published on the node's `publishIp` and only on
 * a node whose network mode is a user-defined network (a node in `none` mode has no network to publish
 * from). Every replica of a service publishes the same host ports, so two replicas never share a node when
 * the service has ports.
 *
 * A replica's container is named `<entity container name>-<index>-<definition hash>` and labelled with the
 * entity, instance, tenant, its index and the hash of the definition it runs, so a rolling update knows
 * which replicas are stale, and a crash half-way is finished (or undone) by the next scale or update.
 * Each replica is also an entity of its own (a compute with the replica mixin, services.ts).
 */
import { createHash } from 'node:crypto';
import type Dockerode from 'dockerode';
import { BadRequest } from '../../errors';
import type { Attributes } from '../../model/types';
import type { BackendEntity } from '../backend';
import type { NodeOptions } from './client';
import { ATTR, LABEL, commandOf, containerName, environmentOf, imageOf, labelsFor } from './spec';

export const SERVICE_KIND = 'https://occitan.dev/occi/docker#service';
export const SCALE_ACTION = 'https://occitan.dev/occi/docker/service/action#scale';

export const SVC = {
  name: 'occitan.docker.name',
  image: ATTR.image,
  command: ATTR.command,
  environment: ATTR.environment,
  ports: 'occitan.docker.ports',
  memory: 'occitan.docker.memory',
  scale: 'occitan.docker.scale',
  replicas: 'occitan.docker.replicas',
} as const;

/** The mixin of a service's replica entities (computes at `<service location>/replicas/<index>`). */
export const REPLICA_MIXIN = 'https://occitan.dev/occi/docker#replica';

export const REPLICA_ATTR = {
  service: 'occitan.docker.replica.service',
  index: 'occitan.docker.replica.index',
  node: 'occitan.docker.replica.node',
} as const;

/** Where replica `index` of the service at `service` lives. */
export function replicaLocation(service: string, index: number): string {
  return `${service}/replicas/${index}`;
}

/** The holder of a replica's reservation in the node books. */
export function holderOf(entity: string, index: number): string {
  return `${entity}#${index}`;
}

/** Attributes whose change rolls the replicas onto a new definition. */
export const SERVICE_DEFINITION: readonly string[] = [SVC.image, SVC.command, SVC.environment, SVC.ports, SVC.memory];

export interface PortMapping {
  host: number;
  container: number;
  proto: 'tcp' | 'udp';
}

export interface ServiceDefinition {
  image: string;
  cmd?: string[];
  env?: string[];
  ports: PortMapping[];
  /** Bytes per replica; 0 = no limit and nothing reserved. */
  memory: number;
  /** Replicas asked for. */
  scale: number;
  /** Short hash of what the containers run (not the scale). */
  hash: string;
}

const GIB = 1024 ** 3;

function port(v: string, item: string): number {
  const n = Number(v);
  if (!/^\d{1,5}$/.test(v) || n < 1 || n > 65535) throw new BadRequest(`${SVC.ports}: ${JSON.stringify(item)} is not a port (1-65535)`);
  return n;
}

/** `"8080"`, `"8081:80"`, `"53/udp"` → mappings; 400 naming a bad item or a host port given twice. */
export function portsOf(value: unknown): PortMapping[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new BadRequest(`${SVC.ports} must be a list of ports like "8080" or "8081:80/tcp"; got ${JSON.stringify(value)}`);
  const out: PortMapping[] = [];
  const seen = new Set<string>();
  for (const item of value) {
    const text = typeof item === 'number' ? String(item) : item;
    if (typeof text !== 'string') throw new BadRequest(`${SVC.ports}: ${JSON.stringify(item)} is not a port like "8080" or "8081:80/tcp"`);
    const m = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(text.trim());
    if (!m) throw new BadRequest(`${SVC.ports}: ${JSON.stringify(item)} is not a port like "8080" or "8081:80/tcp"`);
    const container = port(m[2]!, text);
    const host = m[1] !== undefined ? port(m[1], text) : container;
    const proto = (m[3] ?? 'tcp') as 'tcp' | 'udp';
    const key = `${host}/${proto}`;
    if (seen.has(key)) throw new BadRequest(`${SVC.ports}: host port ${key} is given twice`);
    seen.add(key);
    out.push({ host, container, proto });
  }
  return out;
}

/** The host ports a replica holds on its node, as `8080/tcp`. */
export function hostPorts(ports: readonly PortMapping[]): string[] {
  return ports.map((p) => `${p.host}/${p.proto}`);
}

function scaleOf(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1000) {
    throw new BadRequest(`${SVC.scale} must be a whole number of replicas from 0 to 1000; got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Validates a service entity's definition (400 naming the attribute) and hashes it. */
export function definitionOf(attributes: Readonly<Attributes>): ServiceDefinition {
  const image = imageOf(attributes);
  const cmd = commandOf(attributes[SVC.command]);
  const env = environmentOf(attributes[SVC.environment]);
  const ports = portsOf(attributes[SVC.ports]);
  const mem = attributes[SVC.memory];
  if (mem !== undefined && (typeof mem !== 'number' || !(mem > 0))) throw new BadRequest(`${SVC.memory} must be a positive number of GiB per replica; got ${JSON.stringify(mem)}`);
  const memory = typeof mem === 'number' ? Math.round(mem * GIB) : 0;
  const scale = scaleOf(attributes[SVC.scale]);
  const hash = createHash('sha256').update(JSON.stringify({ image, cmd: cmd ?? null, env: env ?? null, ports, memory })).digest('hex').slice(0, 12);
  return { image, ...(cmd ? { cmd } : {}), ...(env ? { env } : {}), ports, memory, scale, hash };
}

export function replicaName(entityId: string, index: number, hash: string): string {
  return `${containerName(entityId)}-${index}-${hash.slice(0, 8)}`;
}

/** The create options of replica `index` on a node with `node`'s network settings. */
export function replicaSpec(entity: Pick<BackendEntity, 'id' | 'tenant'>, def: ServiceDefinition, index: number, node: Pick<NodeOptions, 'networkMode' | 'publishIp'>, instance: string): Dockerode.ContainerCreateOptions {
  const hostConfig: Dockerode.HostConfig = {
    NetworkMode: node.networkMode,
    Init: true,
    RestartPolicy: { Name: 'no' },
    SecurityOpt: ['no-new-privileges'],
    ...(def.memory ? { Memory: def.memory, MemorySwap: def.memory } : {}),
  };
  const spec: Dockerode.ContainerCreateOptions = {
    name: replicaName(entity.id, index, def.hash),
    Image: def.image,
    Labels: { ...labelsFor(entity, instance), [LABEL.replica]: String(index), [LABEL.definition]: def.hash },
    HostConfig: hostConfig,
  };
  if (def.ports.length) {
    if (node.networkMode === 'none') throw new BadRequest(`${SVC.ports}: the node is in network mode none; no port can be published there`);
    spec.ExposedPorts = Object.fromEntries(def.ports.map((p) => [`${p.container}/${p.proto}`, {}]));
    const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
    for (const p of def.ports) (bindings[`${p.container}/${p.proto}`] ??= []).push({ HostIp: node.publishIp, HostPort: String(p.host) });
    hostConfig.PortBindings = bindings;
  }
  if (def.cmd) spec.Cmd = def.cmd;
  if (def.env) spec.Env = def.env;
  return spec;
}
