/**
 * The independent observer of the ovs backend tests: `ovs-vsctl` for the switch, `ip` for the host's
 * devices and `nsenter -t <pid> -n ip …` for a container's namespace, all through execFile. Never the
 * backend's own calls. Also the test's own containers (docker CLI on occitan's private dockerd).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { docker } from './docker-observer';

const exec = promisify(execFile);

export const OVS_START_COMMAND = 'bash scripts/services.sh start ovs';

export async function vsctl(args: readonly string[]): Promise<string> {
  const { stdout } = await exec('ovs-vsctl', ['--timeout=10', ...args], { timeout: 20_000 });
  return stdout;
}

/** Fails (never skips) when Open vSwitch does not answer, naming the command that starts it. */
export async function requireOvs(): Promise<void> {
  try {
    await vsctl(['show']);
  } catch (e) {
    const detail = ((e as { stderr?: string }).stderr || (e as Error).message).trim();
    throw new Error(`Open vSwitch does not answer (${detail}). Start it with: ${OVS_START_COMMAND}`);
  }
}

/** A bridge name of the test's own: never a shared one. */
export function testBridge(prefix = 'occt'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function deleteBridges(bridges: readonly string[]): Promise<void> {
  for (const b of bridges) await vsctl(['--if-exists', 'del-br', b]).catch(() => undefined);
}

function decode(v: unknown): unknown {
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string') {
    if (v[0] === 'set') return (v[1] as unknown[]).map(decode);
    if (v[0] === 'map') return Object.fromEntries((v[1] as Array<[string, unknown]>).map(([k, x]) => [k, decode(x)]));
    if (v[0] === 'uuid') return v[1];
  }
  return v;
}

async function rows(args: readonly string[]): Promise<Array<Record<string, unknown>>> {
  const out = JSON.parse(await vsctl(['--format=json', ...args])) as { data: unknown[][]; headings: string[] };
  return out.data.map((r) => Object.fromEntries(out.headings.map((h, i) => [h, decode(r[i])])));
}

export interface SeenPort {
  uuid: string;
  name: string;
  /** undefined: no tag (a trunk). */
  tag: number | undefined;
  externalIds: Record<string, string>;
  bridge: string;
  type: string;
  adminState: string | undefined;
  linkState: string | undefined;
}

const one = <T>(v: unknown): T | undefined => (Array.isArray(v) ? (v[0] as T | undefined) : (v as T));

async function describePort(r: Record<string, unknown>): Promise<SeenPort> {
  const name = String(r['name']);
  const iface = (await rows(['--columns=type,admin_state,link_state', 'find', 'Interface', `name=${name}`]))[0] ?? {};
  return {
    uuid: String(r['_uuid']),
    name,
    tag: one<number>(r['tag']),
    externalIds: r['external_ids'] as Record<string, string>,
    bridge: (await vsctl(['port-to-br', name])).trim(),
    type: String(iface['type'] ?? ''),
    adminState: one<string>(iface['admin_state']),
    linkState: one<string>(iface['link_state']),
  };
}

/** Every port carrying the entity's id in external_ids:occitan-entity. */
export async function portsOf(entityId: string): Promise<SeenPort[]> {
  const found = await rows(['--columns=_uuid,name,tag,external_ids', 'find', 'Port', `external_ids:occitan-entity="${entityId}"`]);
  return Promise.all(found.map(describePort));
}

export async function portNamed(name: string): Promise<SeenPort | undefined> {
  const found = await rows(['--columns=_uuid,name,tag,external_ids', 'find', 'Port', `name=${name}`]);
  return found[0] ? describePort(found[0]) : undefined;
}

export async function portsOnBridge(bridge: string): Promise<string[]> {
  return (await vsctl(['list-ports', bridge])).split('\n').map((l) => l.trim()).filter(Boolean);
}

export async function bridgeInfo(bridge: string): Promise<{ datapathType: string; externalIds: Record<string, string> } | undefined> {
  const r = (await rows(['--columns=datapath_type,external_ids', 'find', 'Bridge', `name=${bridge}`]))[0];
  return r ? { datapathType: String(r['datapath_type']), externalIds: r['external_ids'] as Record<string, string> } : undefined;
}

export interface SeenLink {
  ifname: string;
  address: string;
  ifalias?: string;
  flags: string[];
  link_netnsid?: number;
}

/** `ip -j link` on the host (all links, or one type). */
export async function hostLinks(type?: string): Promise<SeenLink[]> {
  const { stdout } = await exec('ip', ['-j', 'link', 'show', ...(type ? ['type', type] : [])]);
  return stdout.trim() ? (JSON.parse(stdout) as SeenLink[]) : [];
}

/** Host devices whose alias marks them as the instance's (veth ends occitan made). */
export async function markedVeths(instance: string): Promise<SeenLink[]> {
  return (await hostLinks('veth')).filter((l) => l.ifalias?.startsWith(`occitan:${instance}:`));
}

export interface SeenAddress {
  ifname: string;
  address: string;
  flags: string[];
  addr_info: Array<{ family: string; local: string; prefixlen: number; scope: string }>;
}

/** `nsenter -t <pid> -n ip -j addr show`: every interface of a process's network namespace. */
export async function containerInterfaces(pid: number): Promise<SeenAddress[]> {
  const { stdout } = await exec('nsenter', ['-t', String(pid), '-n', 'ip', '-j', 'addr', 'show']);
  return JSON.parse(stdout) as SeenAddress[];
}

export async function containerRoutes(pid: number): Promise<Array<{ dst: string; gateway?: string; dev: string }>> {
  const { stdout } = await exec('nsenter', ['-t', String(pid), '-n', 'ip', '-j', 'route', 'show']);
  return JSON.parse(stdout) as Array<{ dst: string; gateway?: string; dev: string }>;
}

// --- the test's own containers --------------------------------------------------------------------

export interface TestContainer {
  id: string;
  pid: number;
}

export const TEST_LABEL = 'dev.occitan.test-ovs';

/** A running busybox container with no network of its own, labelled for this run's cleanup. */
export async function runContainer(run: string): Promise<TestContainer> {
  const id = (await docker(['run', '-d', '--network', 'none', '--init', '--label', `${TEST_LABEL}=${run}`, 'occitan/busybox:test', 'sleep', '3600'])).trim();
  return { id, pid: await pidOf(id) };
}

export async function pidOf(id: string): Promise<number> {
  return Number((await docker(['inspect', '-f', '{{.State.Pid}}', id])).trim());
}

export async function removeContainers(run: string): Promise<void> {
  const ids = (await docker(['ps', '-aq', '--filter', `label=${TEST_LABEL}=${run}`]).catch(() => '')).split('\n').filter(Boolean);
  if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined);
}

/** The Docker backend's ref shape for a running container (what the service hands a link's backend). */
export function dockerRef(c: TestContainer): { node: string; containerId: string; netns: string } {
  return { node: 'local', containerId: c.id, netns: `/proc/${c.pid}/ns/net` };
}

/** Pings from inside a container (its own namespace, onto the test's bridge); true when a reply came. */
export async function ping(from: TestContainer, address: string, count = 1): Promise<boolean> {
  try {
    await docker(['exec', from.id, 'ping', '-c', String(count), '-W', '1', address]);
    return true;
  } catch {
    return false;
  }
}
