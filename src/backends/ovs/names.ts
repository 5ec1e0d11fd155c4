/**
 * Names and values the ovs provider puts on the switch and in the kernel, derived and checked here before
 * anything is made: a bad value is a 400 naming it, never a failed command half-way through a create.
 *
 * Platform names derive from the entity's internal id (never the client's path), 13 characters so they fit
 * the kernel's 15:
 *   on<11 hex>  the network's internal port (a kernel netdev on the netdev datapath)
 *   ov<11 hex>  the host end of a network interface's veth pair, the OVS access port
 *   oc<11 hex>  the container end before it is renamed inside the container (eth0, eth1, …)
 */
import { createHash } from 'node:crypto';
import { BadRequest } from '../../errors';
import type { EntityId } from '../backend';

/** A kernel interface name: 1–15 characters, no '/', ':', whitespace, and not "." or "..". */
export const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
/** Bridges are interface names too (the bridge's local port is a netdev). */
export const BRIDGE_NAME = IFNAME;
export const MAC = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;
/** Instance names go into external_ids and interface aliases. */
export const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function hash(id: EntityId): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 11);
}

export const networkPortName = (id: EntityId): string => `on${hash(id)}`;
export const hostEndName = (id: EntityId): string => `ov${hash(id)}`;
export const peerTempName = (id: EntityId): string => `oc${hash(id)}`;

/** The interface alias that marks a veth end as this instance's, for the entity (reconciliation reads it). */
export const aliasFor = (instance: string, id: EntityId): string => `occitan:${instance}:${id}`;
export function aliasEntity(instance: string, alias: string | undefined): EntityId | undefined {
  const prefix = `occitan:${instance}:`;
  return alias?.startsWith(prefix) ? alias.slice(prefix.length) : undefined;
}

export function checkInterfaceName(name: unknown, attribute: string): string {
  if (typeof name !== 'string' || !IFNAME.test(name) || name === 'lo') {
    throw new BadRequest(`${attribute} must be an interface name of 1 to 15 letters, digits, '_', '.' or '-' (not lo); got ${JSON.stringify(name)}`);
  }
  return name;
}

export function checkBridgeName(name: unknown, attribute: string): string {
  if (typeof name !== 'string' || !BRIDGE_NAME.test(name)) {
    throw new BadRequest(`${attribute} must be a bridge name of 1 to 15 letters, digits, '_', '.' or '-'; got ${JSON.stringify(name)}`);
  }
  return name;
}

export function checkVlan(value: unknown, attribute = 'occi.network.vlan'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 4095) {
    throw new BadRequest(`${attribute} must be an integer from 0 to 4095; got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A unicast MAC, lower case. Multicast (and the all-zero address) cannot name an interface. */
export function checkMac(value: unknown, attribute = 'occi.networkinterface.mac'): string {
  if (typeof value !== 'string' || !MAC.test(value)) throw new BadRequest(`${attribute} must be a MAC address like 02:00:5e:10:00:01; got ${JSON.stringify(value)}`);
  const mac = value.toLowerCase();
  if (parseInt(mac.slice(0, 2), 16) & 1) throw new BadRequest(`${attribute} ${value} is a multicast address; an interface needs a unicast one`);
  if (mac === '00:00:00:00:00:00') throw new BadRequest(`${attribute} cannot be 00:00:00:00:00:00`);
  return mac;
}

/** A locally administered unicast MAC derived from the entity id: a re-created interface keeps it. */
export function macFor(id: EntityId): string {
  const bytes = createHash('sha256').update(`mac:${id}`).digest().subarray(0, 6);
  bytes[0] = (bytes[0]! & 0xfc) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
