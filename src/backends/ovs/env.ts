/** What the ovs provider's parts share: the context, the programs, the options, and small helpers. */
import type { BackendContext } from '../backend';
import type { Ip } from './iproute';
import type { OvsOptions } from './options';
import type { Vsctl } from './vsctl';

export interface OvsEnv {
  ctx: BackendContext;
  vsctl: Vsctl;
  ip: Ip;
  options: OvsOptions;
  /** Bound for waiting on vswitchd to apply a change (it answers before its netdevs settle). */
  settleMs: number;
}

/** The private ref of a network. */
export interface NetworkRef {
  bridge: string;
  vlan: number;
  port: string;
}

/** The private ref of a network interface. */
export interface InterfaceRef {
  bridge: string;
  vlan: number;
  /** The OVS port: the veth's host end. */
  port: string;
  network: string;
  /** The container's namespace it was plugged into, and its name there. */
  netns?: string;
  interface?: string;
}

export function networkRefOf(value: unknown): NetworkRef | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Partial<NetworkRef>;
  return typeof r.bridge === 'string' && typeof r.vlan === 'number' && typeof r.port === 'string' ? (r as NetworkRef) : undefined;
}

/** Polls `read` until `ok` or `bound` ms pass; the last value read. */
export async function settle<T>(read: () => Promise<T>, ok: (v: T) => boolean, bound: number): Promise<T> {
  const end = Date.now() + bound;
  let v = await read();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    v = await read();
  }
  return v;
}
