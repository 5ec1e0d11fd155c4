/**
 * The ovs provider's conflict-safe documents (ctx.state, compare-and-set on CouchDB revisions), shared by
 * every occitan process on one CouchDB:
 *
 *   vlans:<bridge>   { "<vlan>": { tenant, entity, location } }   which network holds each VLAN of a bridge
 *   pool:<network>   { cidr, gateway?, leases: { "<address>": <interface entity id> } }   a network's addresses
 *
 * A (bridge, VLAN) belongs to one network, so to one tenant: another tenant is told it is taken, never whose
 * it is. A lost race re-reads and tries again (bounded), then answers 503.
 */
import { BadRequest, Conflict, ServiceUnavailable } from '../../errors';
import type { EntityId, KeyedState } from '../backend';
import type { Cidr } from './addresses';
import { checkAddress, contains, firstFree, hostRange, parseCidr } from './addresses';

const ATTEMPTS = 25;

export interface VlanHolder {
  tenant: string;
  entity: EntityId;
  location: string;
}

export type VlanTable = Record<string, VlanHolder>;

export interface Pool {
  cidr: string;
  gateway?: string;
  leases: Record<string, EntityId>;
}

const pause = (attempt: number): Promise<void> => new Promise((r) => setTimeout(r, Math.min(200, 5 * 2 ** Math.min(attempt, 5)) * Math.random()));

/** Read-modify-write of one document; `change` returns the new value (undefined: delete) or throws to refuse. */
async function mutate<T, R>(state: KeyedState, key: string, change: (current: T | undefined) => { value: T | undefined; result: R }, what: string): Promise<R> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const current = await state.get<T>(key);
    const { value, result } = change(current?.value);
    if (value === current?.value) return result; // nothing to write
    let ok: boolean;
    if (value === undefined) ok = current ? await state.delete(key, current.rev) : true;
    else ok = await state.put(key, value, current?.rev);
    if (ok) return result;
    await pause(attempt);
  }
  throw new ServiceUnavailable(`too many concurrent changes to ${what}; retry`);
}

export const vlanKey = (bridge: string): string => `vlans:${bridge}`;
export const poolKey = (network: EntityId): string => `pool:${network}`;

/**
 * Reserves `vlan` on `bridge` for the network (`undefined`: the one it already holds there, else the lowest
 * free VLAN of `range`). Idempotent for the holder.
 */
export function reserveVlan(state: KeyedState, bridge: string, vlan: number | undefined, holder: VlanHolder, range: { min: number; max: number }): Promise<number> {
  return mutate<VlanTable, number>(
    state,
    vlanKey(bridge),
    (table = {}) => {
      if (vlan === undefined) {
        const held = Object.entries(table).find(([, h]) => h.entity === holder.entity);
        if (held) return { value: table, result: Number(held[0]) };
        for (let v = range.min; v <= range.max; v++) {
          if (!table[String(v)]) return { value: { ...table, [String(v)]: holder }, result: v };
        }
        throw new Conflict(`no VLAN left on bridge ${bridge} (range ${range.min}–${range.max}); name one with occi.network.vlan`);
      }
      const current = table[String(vlan)];
      if (current?.entity === holder.entity) return { value: table, result: vlan };
      if (current && current.tenant !== holder.tenant) throw new Conflict(`VLAN ${vlan} on bridge ${bridge} is taken; choose another occi.network.vlan`);
      if (current) throw new Conflict(`VLAN ${vlan} on bridge ${bridge} is already used by your network ${current.location}`);
      return { value: { ...table, [String(vlan)]: holder }, result: vlan };
    },
    `the VLANs of bridge ${bridge}`,
  );
}

/** Gives back the VLANs the network holds on `bridge` (all of them, or only `vlan`). */
export function releaseVlan(state: KeyedState, bridge: string, entity: EntityId, vlan?: number): Promise<void> {
  return mutate<VlanTable, void>(
    state,
    vlanKey(bridge),
    (table) => {
      if (!table) return { value: undefined, result: undefined };
      const next = Object.fromEntries(Object.entries(table).filter(([v, h]) => !(h.entity === entity && (vlan === undefined || Number(v) === vlan))));
      if (Object.keys(next).length === Object.keys(table).length) return { value: table, result: undefined };
      return { value: Object.keys(next).length ? next : undefined, result: undefined };
    },
    `the VLANs of bridge ${bridge}`,
  );
}

export interface IpConfig {
  cidr: Cidr;
  gateway?: string;
}

/** The network's ipnetwork attributes, checked: a CIDR, and a gateway inside it. */
export function ipConfigOf(address: unknown, gateway: unknown): IpConfig | undefined {
  if (address === undefined || address === '') {
    if (gateway !== undefined && gateway !== '') throw new BadRequest('occi.network.gateway needs occi.network.address, the network it belongs to');
    return undefined;
  }
  const cidr = parseCidr(address, 'occi.network.address');
  if (gateway === undefined || gateway === '') return { cidr };
  const gw = checkAddress(gateway, 'occi.network.gateway');
  if (!contains(cidr, gw.family, gw.value)) throw new BadRequest(`occi.network.gateway ${gw.text} is not inside occi.network.address ${cidr.text}`);
  return { cidr, gateway: gw.text };
}

/** Creates or changes a network's pool; a new range must still hold every address leased from the old one. */
export function setPool(state: KeyedState, network: EntityId, config: IpConfig | undefined): Promise<void> {
  return mutate<Pool, void>(
    state,
    poolKey(network),
    (pool) => {
      const leases = pool?.leases ?? {};
      if (!config) {
        if (Object.keys(leases).length) throw new Conflict(`the network still has ${Object.keys(leases).length} interface(s) with addresses from ${pool!.cidr}; delete them first`);
        return { value: undefined, result: undefined };
      }
      for (const address of Object.keys(leases)) {
        const a = checkAddress(address, 'lease');
        if (!contains(config.cidr, a.family, a.value) || address === config.gateway) {
          throw new Conflict(`interface address ${address} of this network would not fit ${config.cidr.text}${config.gateway ? ` with gateway ${config.gateway}` : ''}; change or delete that interface first`);
        }
      }
      const next: Pool = { cidr: config.cidr.text, ...(config.gateway ? { gateway: config.gateway } : {}), leases };
      if (pool && JSON.stringify(pool) === JSON.stringify(next)) return { value: pool, result: undefined };
      return { value: next, result: undefined };
    },
    'the network\'s address pool',
  );
}

export function deletePool(state: KeyedState, network: EntityId): Promise<void> {
  return mutate<Pool, void>(state, poolKey(network), () => ({ value: undefined, result: undefined }), 'the network\'s address pool');
}

export interface Lease {
  address: string;
  prefix: number;
  gateway?: string;
}

/**
 * An address of the network for the interface `link`: `wanted` (static, or the one it had before) when
 * free or already its own, else (dynamic) the one it holds, else the lowest free one. A static address
 * held by another interface is a 409; one outside the network a 400.
 */
export function lease(state: KeyedState, network: EntityId, link: EntityId, wanted: { address?: string; allocation: 'static' | 'dynamic' }): Promise<Lease> {
  return mutate<Pool, Lease>(
    state,
    poolKey(network),
    (pool) => {
      if (!pool) throw new BadRequest('the network has no occi.network.address to take interface addresses from: add the ipnetwork mixin with an address to the network');
      const cidr = parseCidr(pool.cidr);
      const answer = (address: string): Lease => ({ address, prefix: cidr.prefix, ...(pool.gateway ? { gateway: pool.gateway } : {}) });
      const own = Object.entries(pool.leases).filter(([, l]) => l === link).map(([a]) => a);
      if (wanted.address !== undefined) {
        const a = checkAddress(wanted.address, 'occi.networkinterface.address');
        const { first, last } = hostRange(cidr);
        if (!contains(cidr, a.family, a.value)) {
          if (wanted.allocation === 'static') throw new BadRequest(`occi.networkinterface.address ${a.text} is not inside the network's ${cidr.text}`);
        } else if (a.text === pool.gateway || a.value < first || a.value > last) {
          if (wanted.allocation === 'static') throw new BadRequest(`occi.networkinterface.address ${a.text} is the network's ${a.text === pool.gateway ? 'gateway' : 'network or broadcast address'}`);
        } else {
          const holder = pool.leases[a.text];
          if (holder === link) return { value: dropOthers(pool, link, a.text), result: answer(a.text) };
          if (holder === undefined) {
            const base = dropOthers(pool, link, undefined);
            return { value: { ...base, leases: { ...base.leases, [a.text]: link } }, result: answer(a.text) };
          }
          if (wanted.allocation === 'static') throw new Conflict(`occi.networkinterface.address ${a.text} is used by another interface of this network`);
        }
      }
      if (own.length) return { value: dropOthers(pool, link, own[0]), result: answer(own[0]!) };
      const taken = new Set(Object.keys(pool.leases));
      if (pool.gateway) taken.add(pool.gateway);
      const free = firstFree(cidr, taken);
      if (!free) throw new Conflict(`no address left in the network's ${cidr.text}`);
      return { value: { ...pool, leases: { ...pool.leases, [free]: link } }, result: answer(free) };
    },
    'the network\'s address pool',
  );
}

/** The pool without `link`'s leases other than `keep`. */
function dropOthers(pool: Pool, link: EntityId, keep: string | undefined): Pool {
  const leases = Object.fromEntries(Object.entries(pool.leases).filter(([a, l]) => l !== link || a === keep));
  if (Object.keys(leases).length === Object.keys(pool.leases).length) return pool;
  return { ...pool, leases };
}

/** Gives back every address the interface holds in the network's pool. */
export function releaseLease(state: KeyedState, network: EntityId, link: EntityId): Promise<void> {
  return mutate<Pool, void>(
    state,
    poolKey(network),
    (pool) => {
      if (!pool) return { value: undefined, result: undefined };
      return { value: dropOthers(pool, link, undefined), result: undefined };
    },
    'the network\'s address pool',
  );
}
