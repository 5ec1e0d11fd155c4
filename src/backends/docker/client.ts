/**
 * The Docker Engines the provider talks to (backends.json `options.nodes`) and the translation of
 * dockerode's errors into occitan's, at this edge: nothing raw leaves the backend.
 *
 * | dockerode error                                        | occitan error         |
 * |--------------------------------------------------------|-----------------------|
 * | ECONNREFUSED / ENOENT / EACCES / ETIMEDOUT … on connect| ServiceUnavailable 503|
 * | HTTP 404 (no such container)                           | NotFound 404          |
 * | HTTP 409 (name in use, state conflict)                 | Conflict 409          |
 * | HTTP 400 (the daemon says the request is invalid)      | BadRequest 400        |
 * | any other refusal (500 …)                              | BadGateway 502        |
 *
 * A 500 whose message says the request was invalid (Docker sometimes answers so for bad limits) is a 400.
 */
import Docker from 'dockerode';
import { BadGateway, BadRequest, Conflict, NotFound, OcciError, ServiceUnavailable } from '../../errors';

export interface NodeOptions {
  id: string;
  /** The Engine's unix socket, e.g. /var/run/docker.sock. */
  socketPath: string;
}

export interface DockerOptions {
  nodes: NodeOptions[];
  /** Labels containers with the occitan instance; reconciliation touches only its own instance's. */
  instance?: string;
}

/** Checks `options` from backends.json; throws (leaving the provider out) with what is wrong. */
export function parseOptions(options: Readonly<Record<string, unknown>>): DockerOptions {
  const nodes = options['nodes'];
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw new Error('docker provider: options.nodes must list at least one node, e.g. [{ "id": "local", "socketPath": "/var/run/docker.sock" }]');
  }
  const seen = new Set<string>();
  const out: NodeOptions[] = nodes.map((n: unknown, i) => {
    const o = (typeof n === 'object' && n !== null ? n : {}) as Record<string, unknown>;
    if (typeof o['id'] !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(o['id'])) {
      throw new Error(`docker provider: options.nodes[${i}].id must be a name ([A-Za-z0-9_.-])`);
    }
    if (seen.has(o['id'])) throw new Error(`docker provider: node id ${o['id']} is listed twice`);
    seen.add(o['id']);
    if (typeof o['socketPath'] !== 'string' || !o['socketPath'].startsWith('/')) {
      // TCP with TLS comes with the node pool; plain TCP will only ever be allowed on loopback.
      throw new Error(`docker provider: options.nodes[${i}].socketPath must be the absolute path of the Engine's unix socket`);
    }
    return { id: o['id'], socketPath: o['socketPath'] };
  });
  const instance = options['instance'];
  if (instance !== undefined && (typeof instance !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(instance))) {
    throw new Error('docker provider: options.instance must be a name ([A-Za-z0-9_.-])');
  }
  return { nodes: out, ...(typeof instance === 'string' ? { instance } : {}) };
}

/** One Docker Engine: its client and a description for messages. */
export class DockerNode {
  readonly docker: Docker;
  constructor(readonly options: NodeOptions, timeoutMs: number) {
    this.docker = new Docker({ socketPath: options.socketPath, timeout: timeoutMs });
  }
  get id(): string {
    return this.options.id;
  }
  describe(): string {
    return `docker node ${this.options.id} (unix://${this.options.socketPath})`;
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

interface DockerodeError {
  statusCode?: number;
  code?: string;
  json?: unknown;
  reason?: string;
  message?: string;
}

/** The daemon's own message of a dockerode error, without dockerode's "(HTTP code …)" prefix. */
export function daemonMessage(e: unknown): string {
  const err = (e ?? {}) as DockerodeError;
  const json = err.json;
  if (json && typeof json === 'object' && !Buffer.isBuffer(json) && typeof (json as { message?: unknown }).message === 'string') {
    return (json as { message: string }).message.trim();
  }
  if (Buffer.isBuffer(json)) return json.toString('utf8').trim();
  if (typeof json === 'string' && json.trim()) return json.trim();
  return (err.message ?? String(e)).replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '').trim();
}

export function statusOf(e: unknown): number | undefined {
  const s = (e as DockerodeError | undefined)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** Translates anything dockerode threw; `what` says what occitan was doing ("start the container of /compute/x"). */
export function translateDockerError(e: unknown, node: DockerNode, what: string): OcciError {
  if (e instanceof OcciError) return e;
  const err = (e ?? {}) as DockerodeError;
  if (err.code && UNREACHABLE.has(err.code)) {
    return new ServiceUnavailable(`${node.describe()} is unreachable (${err.code}) while trying to ${what}`);
  }
  const status = statusOf(e);
  const msg = daemonMessage(e);
  if (status === undefined) {
    if (/timeout|timed out/i.test(msg)) return new ServiceUnavailable(`${node.describe()} did not answer in time while trying to ${what}`);
    return new BadGateway(`${node.describe()}: could not ${what}: ${msg}`);
  }
  if (status === 404) return new NotFound(`${node.describe()}: could not ${what}: ${msg}`);
  if (status === 409) return new Conflict(`could not ${what}: ${msg}`);
  if (status === 400 || /invalid|minimum memory|must be|should be|not supported/i.test(msg)) {
    return new BadRequest(`could not ${what}: ${msg}`);
  }
  return new BadGateway(`${node.describe()} refused to ${what}: ${msg}`);
}
