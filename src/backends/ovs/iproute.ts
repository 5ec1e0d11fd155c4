/**
 * iproute2 through execFile: `ip …` on the host, `nsenter --net=<path> ip …` inside a container's network
 * namespace (a container's namespace has no name, only its init's /proc/<pid>/ns/net).
 */
import { run, translate } from './exec';

export interface LinkInfo {
  ifname: string;
  address?: string;
  ifalias?: string;
  flags?: string[];
  operstate?: string;
  /** Set on a veth end whose peer lives in another namespace. */
  link_netnsid?: number;
  linkinfo?: { info_kind?: string };
}

const GONE = /does not exist|Cannot find device|No such device/i;

export function isGone(e: unknown): boolean {
  const f = e as { stderr?: string; message?: string };
  return GONE.test(f?.stderr ?? '') || GONE.test(f?.message ?? '');
}

export class Ip {
  constructor(private readonly timeoutMs: number) {}

  /** `ip args` on the host, or inside `netns` when given. */
  async exec(args: readonly string[], what: string, netns?: string): Promise<string> {
    try {
      return netns ? await run('nsenter', [`--net=${netns}`, 'ip', ...args], this.timeoutMs) : await run('ip', args, this.timeoutMs);
    } catch (e) {
      if (isGone(e)) throw e; // callers decide what a missing device means
      throw translate(e, netns ? 'nsenter/ip' : 'ip', what);
    }
  }

  /** Like exec, but a missing device is translated too. */
  async must(args: readonly string[], what: string, netns?: string): Promise<string> {
    try {
      return await this.exec(args, what, netns);
    } catch (e) {
      throw translate(e, netns ? 'nsenter/ip' : 'ip', what);
    }
  }

  async link(name: string, what: string, netns?: string): Promise<LinkInfo | undefined> {
    try {
      const out = await this.exec(['-j', '-d', 'link', 'show', 'dev', name], what, netns);
      return (JSON.parse(out) as LinkInfo[])[0];
    } catch (e) {
      if (isGone(e)) return undefined;
      throw e;
    }
  }

  async links(what: string, netns?: string, type?: string): Promise<LinkInfo[]> {
    const out = await this.must(['-j', '-d', 'link', 'show', ...(type ? ['type', type] : [])], what, netns);
    return out.trim() ? (JSON.parse(out) as LinkInfo[]) : [];
  }

  /** `sysctl -w key=value` inside `netns` (/proc/sys/net is the calling task's namespace's). Keys use '/'. */
  async sysctl(netns: string, key: string, value: string, what: string): Promise<void> {
    try {
      await run('nsenter', [`--net=${netns}`, 'sysctl', '-q', '-w', `${key}=${value}`], this.timeoutMs);
    } catch (e) {
      throw translate(e, 'nsenter/sysctl', what);
    }
  }

  /** Deletes a device; already gone is success. */
  async deleteLink(name: string, what: string): Promise<void> {
    try {
      await this.exec(['link', 'del', 'dev', name], what);
    } catch (e) {
      if (!isGone(e)) throw translate(e, 'ip', what);
    }
  }
}
