/**
 * The independent observer of the docker backend tests: the docker CLI on occitan's private dockerd,
 * through execFile. Never the backend's own calls.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SOCKET = '/run/occitan-test/docker.sock';
export const HOST = `unix://${SOCKET}`;
export const START_COMMAND = 'bash scripts/services.sh start docker';

/** The second engine of scripts/services.sh: TCP on loopback, --tlsverify, certificates the script made. */
export const TLS_DIR = '/var/lib/occitan-test/docker2-tls';
export const TLS_PORT = Number(process.env['OCCITAN_DOCKER2_PORT'] ?? 12376);
export const TLS_FILES = { ca: `${TLS_DIR}/ca.pem`, cert: `${TLS_DIR}/cert.pem`, key: `${TLS_DIR}/key.pem` };

/** One of occitan's test engines: how the docker CLI reaches it, and its node entry for backends.json. */
export interface Engine {
  name: string;
  cli: readonly string[];
  node: { id: string; endpoint: string; tls?: typeof TLS_FILES };
}

export const UNIX: Engine = { name: 'unix socket', cli: ['-H', HOST], node: { id: 'local', endpoint: HOST } };
export const TLS: Engine = {
  name: 'tcp with tls',
  cli: ['-H', `tcp://127.0.0.1:${TLS_PORT}`, '--tlsverify', '--tlscacert', TLS_FILES.ca, '--tlscert', TLS_FILES.cert, '--tlskey', TLS_FILES.key],
  node: { id: 'remote', endpoint: `tcp://127.0.0.1:${TLS_PORT}`, tls: TLS_FILES },
};

/** `docker -H … …` on one of occitan's engines (the unix one by default); resolves to stdout. */
export async function docker(args: readonly string[], engine: Engine = UNIX): Promise<string> {
  const { stdout } = await run('docker', [...engine.cli, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 60_000 });
  return stdout;
}

export async function dockerLines(args: readonly string[], engine: Engine = UNIX): Promise<string[]> {
  return (await docker(args, engine)).split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Fails (never skips) when occitan's dockerd does not answer, naming the command that starts it. */
export async function requireDaemon(engine: Engine = UNIX): Promise<void> {
  try {
    await docker(['version', '--format', '{{.Server.Version}}'], engine);
    await docker(['image', 'inspect', '--format', '{{.Id}}', 'occitan/busybox:test'], engine);
  } catch (e) {
    const detail = ((e as { stderr?: string }).stderr || (e as Error).message).trim();
    throw new Error(`occitan's test dockerd (${engine.name}, ${engine.node.endpoint}) does not answer or lacks occitan/busybox:test (${detail}). Start it with: ${START_COMMAND}`);
  }
}

/** The subset of `docker inspect` the tests read. */
export interface Inspected {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Paused: boolean; OOMKilled: boolean; Pid: number; ExitCode: number };
  Config: { Hostname: string; Image: string; Cmd: string[] | null; Env: string[] | null; Labels: Record<string, string> | null };
  HostConfig: {
    Memory: number; MemorySwap: number; NanoCpus: number; CpuShares: number; NetworkMode: string; Init: boolean | null;
    Privileged: boolean; Binds: string[] | null; Mounts?: unknown[] | null; CapAdd: string[] | null; Devices: unknown[] | null;
    PidMode: string; IpcMode: string; UTSMode: string; UsernsMode: string; SecurityOpt: string[] | null; RestartPolicy: { Name: string };
  };
}

/** Ids of the containers labelled for an entity (and instance), all states. */
export function entitiesOf(entityId: string, instance: string, engine: Engine = UNIX): Promise<string[]> {
  return dockerLines(['ps', '-aq', '--no-trunc', '--filter', `label=dev.occitan.entity=${entityId}`, '--filter', `label=dev.occitan.instance=${instance}`], engine);
}

export async function inspectIds(ids: readonly string[], engine: Engine = UNIX): Promise<Inspected[]> {
  if (ids.length === 0) return [];
  try {
    return JSON.parse(await docker(['inspect', ...ids], engine)) as Inspected[];
  } catch {
    return []; // removed between ps and inspect
  }
}

/** The entity's container (the one bearing its own name when a replacement exists too). */
export async function inspectEntity(entityId: string, instance: string, engine: Engine = UNIX): Promise<Inspected | undefined> {
  const all = await inspectIds(await entitiesOf(entityId, instance, engine), engine);
  return all.find((c) => !c.Name.endsWith('-next')) ?? all[0];
}
