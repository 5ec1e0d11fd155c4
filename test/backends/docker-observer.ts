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

/** `docker -H unix:///run/occitan-test/docker.sock …`; resolves to stdout. */
export async function docker(args: readonly string[]): Promise<string> {
  const { stdout } = await run('docker', ['-H', HOST, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 60_000 });
  return stdout;
}

export async function dockerLines(args: readonly string[]): Promise<string[]> {
  return (await docker(args)).split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Fails (never skips) when occitan's dockerd does not answer, naming the command that starts it. */
export async function requireDaemon(): Promise<void> {
  try {
    await docker(['version', '--format', '{{.Server.Version}}']);
    await docker(['image', 'inspect', '--format', '{{.Id}}', 'occitan/busybox:test']);
  } catch (e) {
    const detail = ((e as { stderr?: string }).stderr || (e as Error).message).trim();
    throw new Error(`occitan's test dockerd does not answer on ${HOST} or lacks occitan/busybox:test (${detail}). Start it with: ${START_COMMAND}`);
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
export function entitiesOf(entityId: string, instance: string): Promise<string[]> {
  return dockerLines(['ps', '-aq', '--no-trunc', '--filter', `label=dev.occitan.entity=${entityId}`, '--filter', `label=dev.occitan.instance=${instance}`]);
}

export async function inspectIds(ids: readonly string[]): Promise<Inspected[]> {
  if (ids.length === 0) return [];
  try {
    return JSON.parse(await docker(['inspect', ...ids])) as Inspected[];
  } catch {
    return []; // removed between ps and inspect
  }
}

/** The entity's container (the one bearing its own name when a replacement exists too). */
export async function inspectEntity(entityId: string, instance: string): Promise<Inspected | undefined> {
  const all = await inspectIds(await entitiesOf(entityId, instance));
  return all.find((c) => !c.Name.endsWith('-next')) ?? all[0];
}
