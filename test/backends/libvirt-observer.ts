/**
 * The independent observer of the libvirt backend tests: `virsh` on qemu:///system through execFile,
 * never the backend's own calls, and a mapping of its own from libvirt's answers to OCCI states.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const URI = 'qemu:///system';
export const START_COMMAND = 'bash scripts/services.sh start libvirt';

/** `virsh -c qemu:///system …`; resolves to stdout. */
export async function virsh(args: readonly string[]): Promise<string> {
  const { stdout } = await run('virsh', ['-q', '-c', URI, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 60_000, env: { ...process.env, LC_ALL: 'C' } });
  return stdout;
}

/** stdout, or undefined when virsh fails (the object does not exist). */
export async function virshMaybe(args: readonly string[]): Promise<string | undefined> {
  try {
    return await virsh(args);
  } catch {
    return undefined;
  }
}

/** Fails (never skips) when libvirtd does not answer, naming the command that starts it. */
export async function requireDaemon(): Promise<void> {
  try {
    await virsh(['version']);
  } catch (e) {
    const detail = ((e as { stderr?: string }).stderr || (e as Error).message).trim();
    throw new Error(`libvirtd does not answer on ${URI} (${detail}). Start it with: ${START_COMMAND}`);
  }
}

/** The domain name the tests expect for an entity id (a uuid): occitan-<uuid>. */
export const domainOf = (id: string): string => `occitan-${id}`;
export const volumeOf = (id: string, instance: string): string => `occitan-${instance}--${id}.qcow2`;

/** `virsh domstate --reason` and dominfo's managed save, as OCCI state (the tests' own mapping). */
export async function observedComputeState(domain: string): Promise<string | undefined> {
  const st = await virshMaybe(['domstate', '--reason', domain]);
  if (st === undefined) return undefined;
  const info = (await virshMaybe(['dominfo', domain])) ?? '';
  const managed = /^Managed save:\s+yes/m.test(info);
  const s = st.trim();
  if (s.startsWith('running')) return 'active';
  if (s.startsWith('paused')) return 'suspended';
  if (s.startsWith('shut off')) {
    if (managed) return 'suspended';
    return s.includes('(crashed)') ? 'error' : 'inactive';
  }
  return 'error';
}

export async function domstate(domain: string): Promise<string | undefined> {
  return (await virshMaybe(['domstate', '--reason', domain]))?.trim();
}

export async function dumpxml(domain: string, inactive = true): Promise<string | undefined> {
  return virshMaybe(['dumpxml', ...(inactive ? ['--inactive'] : []), domain]);
}

export interface ObservedDisk {
  target: string;
  bus: string;
  source: string;
  alias: string;
}

export function disksIn(xml: string): ObservedDisk[] {
  return [...xml.matchAll(/<disk\b[\s\S]*?<\/disk>/g)].map((m) => ({
    target: /<target dev='([^']*)'/.exec(m[0])?.[1] ?? '',
    bus: /<target dev='[^']*' bus='([^']*)'/.exec(m[0])?.[1] ?? '',
    source: /<source file='([^']*)'/.exec(m[0])?.[1] ?? '',
    alias: /<alias name='([^']*)'/.exec(m[0])?.[1] ?? '',
  }));
}

/** Capacity in bytes of a volume, or undefined when it does not exist. */
export async function volumeCapacity(pool: string, volume: string): Promise<number | undefined> {
  const out = await virshMaybe(['vol-info', '--bytes', '--pool', pool, volume]);
  const m = out && /^Capacity:\s+(\d+)/m.exec(out);
  return m ? Number(m[1]) : undefined;
}

export async function volumePath(pool: string, volume: string): Promise<string | undefined> {
  return (await virshMaybe(['vol-path', '--pool', pool, volume]))?.trim();
}

/** Domains whose occitan metadata names `instance`. */
export async function domainsOfInstance(instance: string): Promise<string[]> {
  const names = ((await virshMaybe(['list', '--all', '--name'])) ?? '').split('\n').map((l) => l.trim()).filter((n) => n.startsWith('occitan-'));
  const out: string[] = [];
  for (const n of names) {
    const md = (await virshMaybe(['metadata', n, 'https://occitan.dev/occi/libvirt'])) ?? '';
    if (md.includes(`<instance>${instance}</instance>`) || md.includes(`:instance>${instance}</`)) out.push(n);
  }
  return out;
}

/** Removes every domain of `instance`, then every volume and the pool (test teardown). */
export async function cleanup(instance: string, pool: string): Promise<void> {
  for (const d of await domainsOfInstance(instance)) {
    await virshMaybe(['destroy', d]);
    await virshMaybe(['undefine', d, '--managed-save', '--snapshots-metadata']);
  }
  const vols = ((await virshMaybe(['vol-list', pool])) ?? '').split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
  for (const v of vols) await virshMaybe(['vol-delete', '--pool', pool, v]);
  await virshMaybe(['pool-destroy', pool]);
  await virshMaybe(['pool-delete', pool]);
  await virshMaybe(['pool-undefine', pool]);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `read` until `ok` holds or `bound` ms pass; returns the last value read. */
export async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, bound = 10_000): Promise<T> {
  const end = Date.now() + bound;
  let v = await read();
  while (!ok(v) && Date.now() < end) {
    await sleep(100);
    v = await read();
  }
  return v;
}
