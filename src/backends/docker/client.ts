/**
 * The Docker Engines the provider talks to and the translation of dockerode's errors into occitan's, at
 * this edge: nothing raw leaves the backend.
 *
 * A node is reached on a unix socket (`"endpoint": "unix:///run/docker.sock"`, or the older
 * `"socketPath"`), or over TCP with TLS (`"endpoint": "tcp://host:2376"` and `"tls": { "ca", "cert",
 * "key" }`, file paths on occitan's host; the Engine runs with --tlsverify). Plain TCP is refused for
 * anything but a loopback address: the Engine's API is root on its host.
 *
 * | dockerode error                                        | occitan error         |
 * |--------------------------------------------------------|-----------------------|
 * | ECONNREFUSED / ENOENT / EACCES / ETIMEDOUT … on connect| ServiceUnavailable 503|
 * | HTTP 404 (no such container)                           | NotFound 404          |
 * | HTTP 409 (name in use, state conflict)                 | Conflict 409          |
 * | "port is already allocated" (a host port taken)        | Conflict 409          |
 * | HTTP 400 (the daemon says the request is invalid)      | BadRequest 400        |
 * | any other refusal (500 …)                              | BadGateway 502        |
 *
 * A 500 whose message says the request was invalid (Docker sometimes answers so for bad limits) is a 400.
 */
import * as fs from 'node:fs';
import Docker from 'dockerode';
import { BadGateway, BadRequest, Conflict, NotFound, OcciError, ServiceUnavailable } from '../../errors';

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface NodeOptions {
  /** The node's name in the pool, refs and messages. */
  id: string;
  /** `unix:///path` or `tcp://host:port`. */
  endpoint: string;
  /** Client certificate, key and the CA that signed the Engine's certificate (tcp endpoints). */
  tls?: TlsFiles;
  /**
   * The network service replicas join: `none` (the default: no network, so no published ports) or the
   * name of a user-defined network on that Engine. `host` is never allowed.
   */
  networkMode: string;
  /** The host address published ports bind to (default 127.0.0.1; 0.0.0.0 to expose them). */
  publishIp: string;
  /** Memory occitan may reserve on the node, GiB; the Engine's total when absent. */
  memory?: number;
  /** The Engine's architecture as `docker info` names it (x86_64, aarch64, armv7l); read from the Engine when absent. */
  arch?: string;
  /** A free-form location (a site, a rack, Siren's "residence"). */
  location?: string;
}

export interface DockerOptions {
  nodes: NodeOptions[];
  /** Labels containers with the occitan instance; reconciliation touches only its own instance's. */
  instance?: string;
  /** A YAML file of services (Genisys `service_file`), created or updated at start-up. */
  serviceFile?: string;
  /** The tenant that owns the node entities and the services of the service file (default "default"). */
  tenant?: string;
}

export const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const LOOPBACK = /^(127(?:\.\d{1,3}){3}|localhost|\[::1\]|::1)$/;

/** `tcp://host:port` → host and port; undefined when it is not one. */
export function tcpEndpoint(endpoint: string): { host: string; port: number } | undefined {
  const m = /^tcp:\/\/(\[[0-9a-fA-F:]+\]|[^:/\s]+):(\d{1,5})\/?$/.exec(endpoint);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? { host: m[1]!, port } : undefined;
}

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/**
 * Checks one node's settings (from backends.json or a node entity); `where` names them in messages.
 * Throws a BadRequest saying what is wrong.
 */
export function parseNode(o: Readonly<Record<string, unknown>>, where: string): NodeOptions {
  const id = o['id'];
  if (typeof id !== 'string' || !NAME.test(id) || id.length > 64) throw new BadRequest(`${where}.id must be a name ([A-Za-z0-9_.-], at most 64)`);
  let endpoint = o['endpoint'];
  const socketPath = o['socketPath'];
  if (endpoint === undefined && socketPath !== undefined) {
    if (typeof socketPath !== 'string' || !socketPath.startsWith('/')) {
      throw new BadRequest(`${where}.socketPath must be the absolute path of the Engine's unix socket`);
    }
    endpoint = `unix://${socketPath}`;
  }
  if (typeof endpoint !== 'string') {
    throw new BadRequest(`${where} needs an endpoint: "unix:///path/docker.sock" (or socketPath), or "tcp://host:port" with tls`);
  }
  let tls: TlsFiles | undefined;
  if (endpoint.startsWith('unix://')) {
    if (!endpoint.slice('unix://'.length).startsWith('/')) throw new BadRequest(`${where}.endpoint ${JSON.stringify(endpoint)}: a unix socket is named by its absolute path (unix:///run/docker.sock)`);
    if (o['tls'] !== undefined) throw new BadRequest(`${where}.tls is for tcp endpoints; a unix socket needs none`);
  } else {
    const tcp = tcpEndpoint(endpoint);
    if (!tcp) throw new BadRequest(`${where}.endpoint ${JSON.stringify(endpoint)} is neither unix:///path nor tcp://host:port`);
    const t = o['tls'];
    if (t === undefined) {
      if (!isLoopback(tcp.host)) {
        throw new BadRequest(`${where}.endpoint ${endpoint}: plain TCP is refused for anything but loopback; give tls { ca, cert, key } (the Engine runs with --tlsverify)`);
      }
    } else {
      const r = (typeof t === 'object' && t !== null ? t : {}) as Record<string, unknown>;
      for (const k of ['ca', 'cert', 'key']) {
        if (typeof r[k] !== 'string' || !(r[k] as string).startsWith('/')) throw new BadRequest(`${where}.tls.${k} must be the absolute path of a PEM file`);
      }
      tls = { ca: r['ca'] as string, cert: r['cert'] as string, key: r['key'] as string };
    }
  }
  const networkMode = o['networkMode'] ?? 'none';
  if (typeof networkMode !== 'string' || !NAME.test(networkMode) || ['host', 'bridge', 'default'].includes(networkMode) || networkMode.startsWith('container')) {
    throw new BadRequest(`${where}.networkMode must be "none" or the name of a user-defined network on the Engine (never host, bridge or container:…); got ${JSON.stringify(networkMode)}`);
  }
  const publishIp = o['publishIp'] ?? '127.0.0.1';
  if (typeof publishIp !== 'string' || !/^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]+)$/.test(publishIp)) throw new BadRequest(`${where}.publishIp must be an IP address; got ${JSON.stringify(publishIp)}`);
  const memory = o['memory'];
  if (memory !== undefined && (typeof memory !== 'number' || !(memory > 0))) throw new BadRequest(`${where}.memory must be a positive number of GiB; got ${JSON.stringify(memory)}`);
  for (const k of ['arch', 'location']) {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'string' || v === '' || v.length > 200)) throw new BadRequest(`${where}.${k} must be a non-empty string; got ${JSON.stringify(v)}`);
  }
  return {
    id,
    endpoint,
    ...(tls ? { tls } : {}),
    networkMode,
    publishIp,
    ...(typeof memory === 'number' ? { memory } : {}),
    ...(typeof o['arch'] === 'string' ? { arch: o['arch'] } : {}),
    ...(typeof o['location'] === 'string' ? { location: o['location'] } : {}),
  };
}

/** Checks `options` from backends.json; throws (leaving the provider out) with what is wrong. */
export function parseOptions(options: Readonly<Record<string, unknown>>): DockerOptions {
  const nodes = options['nodes'];
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw new Error('docker provider: options.nodes must list at least one node, e.g. [{ "id": "local", "endpoint": "unix:///var/run/docker.sock" }]');
  }
  const seen = new Set<string>();
  const out: NodeOptions[] = nodes.map((n: unknown, i) => {
    const o = (typeof n === 'object' && n !== null ? n : {}) as Record<string, unknown>;
    let node: NodeOptions;
    try {
      node = parseNode(o, `options.nodes[${i}]`);
    } catch (e) {
      throw new Error(`docker provider: ${(e as Error).message}`);
    }
    if (seen.has(node.id)) throw new Error(`docker provider: node id ${node.id} is listed twice`);
    seen.add(node.id);
    return node;
  });
  const instance = options['instance'];
  if (instance !== undefined && (typeof instance !== 'string' || !NAME.test(instance))) {
    throw new Error('docker provider: options.instance must be a name ([A-Za-z0-9_.-])');
  }
  const serviceFile = options['serviceFile'];
  if (serviceFile !== undefined && (typeof serviceFile !== 'string' || serviceFile === '')) throw new Error('docker provider: options.serviceFile must be the path of a YAML file');
  const tenant = options['tenant'];
  if (tenant !== undefined && (typeof tenant !== 'string' || !NAME.test(tenant))) throw new Error('docker provider: options.tenant must be a tenant name');
  return {
    nodes: out,
    ...(typeof instance === 'string' ? { instance } : {}),
    ...(typeof serviceFile === 'string' ? { serviceFile } : {}),
    ...(typeof tenant === 'string' ? { tenant } : {}),
  };
}

function readPem(path: string, what: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch (e) {
    throw new BadRequest(`cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** One Docker Engine: its client, its settings, what it said about itself, and a description for messages. */
export class DockerNode {
  readonly docker: Docker;
  /** Total memory in bytes (options.memory, else the Engine's MemTotal once known). */
  totalMemory = 0;
  arch?: string;
  /** The node entity that stands for it, once there is one. */
  entityId?: string;
  /** Why the last attempt to reach it failed; undefined while it answers. */
  down?: string;

  constructor(readonly options: NodeOptions, timeoutMs: number) {
    const tcp = tcpEndpoint(options.endpoint);
    if (tcp) {
      const host = tcp.host.replace(/^\[|\]$/g, '');
      this.docker = options.tls
        ? new Docker({
            host, port: tcp.port, protocol: 'https', timeout: timeoutMs,
            ca: readPem(options.tls.ca, 'CA certificate'), cert: readPem(options.tls.cert, 'client certificate'), key: readPem(options.tls.key, 'client key'),
          })
        : new Docker({ host, port: tcp.port, protocol: 'http', timeout: timeoutMs });
    } else {
      this.docker = new Docker({ socketPath: options.endpoint.slice('unix://'.length), timeout: timeoutMs });
    }
    if (options.memory !== undefined) this.totalMemory = Math.round(options.memory * 1024 ** 3);
    if (options.arch !== undefined) this.arch = options.arch;
  }
  get id(): string {
    return this.options.id;
  }
  describe(): string {
    return `docker node ${this.options.id} (${this.options.endpoint})`;
  }
  /** Pings the Engine and reads its memory and architecture; throws translated. */
  async probe(): Promise<void> {
    try {
      const info = (await this.docker.info()) as { MemTotal?: number; Architecture?: string };
      if (this.options.memory === undefined && typeof info.MemTotal === 'number') this.totalMemory = info.MemTotal;
      if (this.options.arch === undefined && typeof info.Architecture === 'string') this.arch = info.Architecture;
      this.down = undefined;
    } catch (e) {
      const t = translateDockerError(e, this, 'ask it about itself (docker info)');
      this.down = t.message;
      throw t;
    }
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
  if (err.code && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(err.code)) {
    return new ServiceUnavailable(`${node.describe()}: the TLS handshake failed (${err.code}) while trying to ${what}; check the node's tls files`);
  }
  const status = statusOf(e);
  const msg = daemonMessage(e);
  if (status === undefined) {
    if (/timeout|timed out/i.test(msg)) return new ServiceUnavailable(`${node.describe()} did not answer in time while trying to ${what}`);
    return new BadGateway(`${node.describe()}: could not ${what}: ${msg}`);
  }
  if (status === 404) return new NotFound(`${node.describe()}: could not ${what}: ${msg}`);
  if (status === 409) return new Conflict(`could not ${what}: ${msg}`);
  if (/port is already allocated|address already in use/i.test(msg)) return new Conflict(`could not ${what} on ${node.describe()}: a host port it publishes is taken (${msg})`);
  if (status === 400 || /invalid|minimum memory|must be|should be|not supported/i.test(msg)) {
    return new BadRequest(`could not ${what}: ${msg}`);
  }
  return new BadGateway(`${node.describe()} refused to ${what}: ${msg}`);
}
