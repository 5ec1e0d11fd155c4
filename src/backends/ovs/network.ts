/**
 * A network is a VLAN on a bridge: the (bridge, VLAN) reservation in ctx.state, and an internal port of
 * its own on the bridge, tagged with the VLAN, whose admin state is the network's state (up: active,
 * down: inactive). With the ipnetwork mixin it also owns an address pool (reservations.ts).
 *
 * create   checks everything, reserves the VLAN, writes the pool, creates the bridge when it is an allowed
 *          one that is missing, adds the port; on failure it undoes all of that. An existing port of the
 *          entity is adopted.
 * update   occi.network.vlan retags the network's port and every interface port on it in one transaction;
 *          occitan.ovs.bridge moves the network's port (409 while interfaces are plugged into it); the
 *          ipnetwork attributes change the pool (409 when a leased address would no longer fit).
 * actions  up / down set the port's admin state; both are idempotent.
 */
import { BadRequest, Conflict, NotFound } from '../../errors';
import type { Attributes, TypeId } from '../../model/types';
import type { BackendEntity, Realised } from '../backend';
import type { NetworkRef, OvsEnv } from './env';
import { networkRefOf, settle } from './env';
import { checkBridgeName, checkVlan, networkPortName } from './names';
import type { IpConfig } from './reservations';
import { deletePool, ipConfigOf, poolKey, releaseVlan, reserveVlan, setPool } from './reservations';
import { EXT, quoted } from './vsctl';

export const NETWORK_ACTIONS = 'http://schemas.ogf.org/occi/infrastructure/network/action#';
export const IPNETWORK = 'http://schemas.ogf.org/occi/infrastructure/network#ipnetwork';
export const OVS_NETWORK_MIXIN = 'https://occitan.dev/occi/ovs#network';

export const NET = {
  vlan: 'occi.network.vlan',
  state: 'occi.network.state',
  message: 'occi.network.state.message',
  address: 'occi.network.address',
  gateway: 'occi.network.gateway',
  bridge: 'occitan.ovs.bridge',
} as const;

type Admin = 'up' | 'down';

interface NetworkSpec {
  bridge: string;
  /** Undefined: the one the network holds, else the lowest free one. */
  vlan: number | undefined;
  ip: IpConfig | undefined;
}

/** Everything the entity asks for, checked before the switch is touched. */
export function networkSpec(env: OvsEnv, entity: BackendEntity): NetworkSpec {
  const a = entity.attributes;
  let bridge = env.options.bridges[0]!;
  const named = entity.mixins.includes(OVS_NETWORK_MIXIN) ? a[NET.bridge] : undefined;
  if (named !== undefined && named !== '') {
    bridge = checkBridgeName(named, NET.bridge);
    if (!env.options.bridges.includes(bridge)) {
      throw new BadRequest(`${NET.bridge} ${bridge} is not a bridge this provider may use (allowed: ${env.options.bridges.join(', ')})`);
    }
  }
  const vlan = a[NET.vlan] === undefined ? undefined : checkVlan(a[NET.vlan], NET.vlan);
  const ip = entity.mixins.includes(IPNETWORK) ? ipConfigOf(a[NET.address], a[NET.gateway]) : undefined;
  return { bridge, vlan, ip };
}

async function ensureBridge(env: OvsEnv, bridge: string, entity: BackendEntity): Promise<void> {
  if (await env.vsctl.bridgeExists(bridge)) return;
  try {
    await env.vsctl.exec(
      ['add-br', bridge, '--', 'set', 'bridge', bridge, `datapath_type=${env.options.datapathType}`, `external_ids:${EXT.instance}=${quoted(env.options.instance)}`, `external_ids:${EXT.entity}=${quoted(entity.id)}`],
      `create bridge ${bridge}`,
    );
    env.ctx.log.info('ovs provider created a bridge', { bridge, datapathType: env.options.datapathType });
  } catch (e) {
    if (await env.vsctl.bridgeExists(bridge)) return; // another create made it first
    throw e;
  }
}

/** The port's admin state as vswitchd reports it (it follows the kernel netdev a moment later). */
async function adminState(env: OvsEnv, port: string): Promise<string | undefined> {
  return (await env.vsctl.iface(port, `read the state of port ${port}`))?.adminState;
}

async function setAdmin(env: OvsEnv, port: string, admin: Admin, entity: BackendEntity): Promise<void> {
  // vswitchd makes the internal port's netdev shortly after the transaction: wait for it (bounded).
  const link = await settle(() => env.ip.link(port, `find the netdev of port ${port}`), (l) => l !== undefined, env.settleMs);
  if (!link) throw new Conflict(`the internal port ${port} of ${entity.location} has no network device (is ovs-vswitchd running?)`);
  // No IPv6 link-local address: the host sends nothing into the tenant's VLAN on its own.
  if ((link as { inet6_addr_gen_mode?: string }).inet6_addr_gen_mode !== 'none') {
    await env.ip.must(['link', 'set', 'dev', port, 'addrgenmode', 'none'], `configure port ${port}`);
  }
  await env.ip.must(['link', 'set', 'dev', port, admin], `set port ${port} ${admin}`);
  await env.vsctl.exec(['set', 'port', port, `external_ids:${EXT.admin}=${admin}`], `record the admin state of port ${port}`);
  await settle(() => adminState(env, port), (s) => s === admin, env.settleMs);
}

function realised(entity: BackendEntity, ref: NetworkRef, admin: string | undefined): Realised {
  const active = admin === 'up';
  const attributes: Attributes = {
    [NET.state]: active ? 'active' : 'inactive',
    [NET.message]: active
      ? `VLAN ${ref.vlan} on bridge ${ref.bridge} (port ${ref.port} up)`
      : `VLAN ${ref.vlan} on bridge ${ref.bridge}, port ${ref.port} down: the action up brings it up`,
    [NET.vlan]: ref.vlan,
  };
  if (entity.mixins.includes(OVS_NETWORK_MIXIN)) attributes[NET.bridge] = ref.bridge;
  return { attributes, ref };
}

/** The entity's port as the switch has it; undefined when gone. A port of that name not carrying the entity is a 409. */
async function livePort(env: OvsEnv, entity: BackendEntity): Promise<{ ref: NetworkRef; admin: string | undefined } | undefined> {
  const name = networkPortName(entity.id);
  const port = await env.vsctl.port(name, `look for the port of ${entity.location}`);
  if (!port) return undefined;
  if (port.externalIds.get(EXT.entity) !== entity.id) throw new Conflict(`port ${name} exists on Open vSwitch without ${entity.location}'s external_ids; occitan leaves it alone`);
  const bridge = await env.vsctl.portBridge(name, `find the bridge of port ${name}`);
  return { ref: { bridge, vlan: port.tag ?? 0, port: name }, admin: await adminState(env, name) };
}

export async function createNetwork(env: OvsEnv, entity: BackendEntity): Promise<Realised> {
  const spec = networkSpec(env, entity);
  const holder = { tenant: entity.tenant, entity: entity.id, location: entity.location };
  const existing = await livePort(env, entity);
  if (existing) {
    // Adopt: the reservation and the pool are made sure of too (a crash may have come between).
    await reserveVlan(env.ctx.state, existing.ref.bridge, existing.ref.vlan, holder, env.options.vlans);
    if (spec.ip) await setPool(env.ctx.state, entity.id, spec.ip);
    return realised(entity, existing.ref, existing.admin);
  }
  const port = networkPortName(entity.id);
  const vlan = await reserveVlan(env.ctx.state, spec.bridge, spec.vlan, holder, env.options.vlans);
  try {
    await setPool(env.ctx.state, entity.id, spec.ip);
    await ensureBridge(env, spec.bridge, entity);
    await env.vsctl.exec(
      [
        'add-port', spec.bridge, port, `tag=${vlan}`,
        '--', 'set', 'interface', port, 'type=internal',
        '--', 'set', 'port', port, `external_ids:${EXT.instance}=${quoted(env.options.instance)}`, `external_ids:${EXT.entity}=${quoted(entity.id)}`, `external_ids:${EXT.admin}=up`,
      ],
      `add the port of ${entity.location} to bridge ${spec.bridge}`,
    );
    await setAdmin(env, port, 'up', entity);
    const ref: NetworkRef = { bridge: spec.bridge, vlan, port };
    return realised(entity, ref, await adminState(env, port));
  } catch (e) {
    await undo(env, entity, spec.bridge, port);
    throw e;
  }
}

async function undo(env: OvsEnv, entity: BackendEntity, bridge: string, port: string): Promise<void> {
  const steps: Array<[string, () => Promise<void>]> = [
    ['remove its port', async () => void (await env.vsctl.exec(['--if-exists', 'del-port', port], `remove port ${port}`))],
    ['remove its address pool', () => deletePool(env.ctx.state, entity.id)],
    ['release its VLAN', () => releaseVlan(env.ctx.state, bridge, entity.id)],
  ];
  for (const [what, step] of steps) {
    await step().catch((e: unknown) => env.ctx.log.error(`ovs provider could not ${what} after a failed create`, { entity: entity.id, error: String(e) }));
  }
}

export async function retrieveNetwork(env: OvsEnv, entity: BackendEntity): Promise<Realised> {
  const live = await livePort(env, entity);
  if (!live) throw new NotFound(`the port of network ${entity.location} is gone from Open vSwitch`);
  return realised(entity, live.ref, live.admin);
}

export async function updateNetwork(env: OvsEnv, entity: BackendEntity): Promise<Realised> {
  const spec = networkSpec(env, entity);
  const live = await livePort(env, entity);
  if (!live) throw new NotFound(`the port of network ${entity.location} is gone from Open vSwitch`);
  const holder = { tenant: entity.tenant, entity: entity.id, location: entity.location };
  const { ref } = live;
  const vlan = spec.vlan ?? ref.vlan;

  // The pool first: it may refuse (a leased address would not fit), and is put back if the switch refuses.
  const oldPool = await env.ctx.state.get<unknown>(poolKey(entity.id));
  await setPool(env.ctx.state, entity.id, spec.ip);
  try {
    if (spec.bridge !== ref.bridge) await moveNetwork(env, entity, ref, spec.bridge, vlan, holder, live.admin === 'down' ? 'down' : 'up');
    else if (vlan !== ref.vlan) await retag(env, entity, ref, vlan, holder);
  } catch (e) {
    if (oldPool) await env.ctx.state.get<unknown>(poolKey(entity.id)).then((cur) => env.ctx.state.put(poolKey(entity.id), oldPool.value, cur?.rev)).catch(() => undefined);
    else await deletePool(env.ctx.state, entity.id).catch(() => undefined);
    throw e;
  }
  return retrieveNetwork(env, entity);
}

/** Ports of the interfaces plugged into the network. */
function interfacePorts(env: OvsEnv, entity: BackendEntity): Promise<Array<{ name: string }>> {
  return env.vsctl.findPorts([`external_ids:${EXT.network}=${quoted(entity.id)}`], `list the interfaces of ${entity.location}`);
}

async function retag(env: OvsEnv, entity: BackendEntity, ref: NetworkRef, vlan: number, holder: { tenant: string; entity: string; location: string }): Promise<void> {
  await reserveVlan(env.ctx.state, ref.bridge, vlan, holder, env.options.vlans);
  try {
    const ports = [ref.port, ...(await interfacePorts(env, entity)).map((p) => p.name)];
    await env.vsctl.exec(ports.flatMap((p, i) => [...(i ? ['--'] : []), 'set', 'port', p, `tag=${vlan}`]), `move ${entity.location} to VLAN ${vlan}`);
  } catch (e) {
    await releaseVlan(env.ctx.state, ref.bridge, entity.id, vlan).catch(() => undefined);
    throw e;
  }
  await releaseVlan(env.ctx.state, ref.bridge, entity.id, ref.vlan);
}

async function moveNetwork(env: OvsEnv, entity: BackendEntity, ref: NetworkRef, bridge: string, vlan: number, holder: { tenant: string; entity: string; location: string }, admin: Admin): Promise<void> {
  const plugged = await interfacePorts(env, entity);
  if (plugged.length) {
    throw new Conflict(`${entity.location} has ${plugged.length} network interface(s) on bridge ${ref.bridge}; delete them before moving it to ${bridge}`);
  }
  await reserveVlan(env.ctx.state, bridge, vlan, holder, env.options.vlans);
  const add = (b: string, v: number): Promise<string> =>
    env.vsctl.exec(
      [
        'add-port', b, ref.port, `tag=${v}`,
        '--', 'set', 'interface', ref.port, 'type=internal',
        '--', 'set', 'port', ref.port, `external_ids:${EXT.instance}=${quoted(env.options.instance)}`, `external_ids:${EXT.entity}=${quoted(entity.id)}`, `external_ids:${EXT.admin}=${admin}`,
      ],
      `add the port of ${entity.location} to bridge ${b}`,
    );
  try {
    await ensureBridge(env, bridge, entity);
    await env.vsctl.exec(['del-port', ref.bridge, ref.port], `remove the port of ${entity.location} from bridge ${ref.bridge}`);
  } catch (e) {
    await releaseVlan(env.ctx.state, bridge, entity.id, vlan).catch(() => undefined);
    throw e;
  }
  try {
    await add(bridge, vlan);
    await setAdmin(env, ref.port, admin, entity);
  } catch (e) {
    // Put it back where it was.
    await env.vsctl.exec(['--if-exists', 'del-port', ref.port], `remove port ${ref.port}`).catch(() => undefined);
    await add(ref.bridge, ref.vlan).then(() => setAdmin(env, ref.port, admin, entity)).catch((undoErr: unknown) =>
      env.ctx.log.error('ovs provider could not put a network port back after a failed move', { entity: entity.id, error: String(undoErr) }),
    );
    await releaseVlan(env.ctx.state, bridge, entity.id, vlan).catch(() => undefined);
    throw e;
  }
  await releaseVlan(env.ctx.state, ref.bridge, entity.id, ref.vlan);
}

export async function deleteNetwork(env: OvsEnv, entity: BackendEntity): Promise<void> {
  const port = networkPortName(entity.id);
  const existing = await env.vsctl.port(port, `look for the port of ${entity.location}`);
  if (existing && existing.externalIds.get(EXT.entity) === entity.id) {
    await env.vsctl.exec(['--if-exists', 'del-port', port], `remove the port of ${entity.location}`);
  }
  await deletePool(env.ctx.state, entity.id);
  // Every bridge it may hold a VLAN on: the ref's, and the allowed ones (a crash may have left a reservation).
  const bridges = new Set([...(networkRefOf(entity.ref) ? [networkRefOf(entity.ref)!.bridge] : []), ...env.options.bridges]);
  for (const b of bridges) await releaseVlan(env.ctx.state, b, entity.id);
}

export async function networkAction(env: OvsEnv, entity: BackendEntity, action: TypeId): Promise<Realised> {
  const live = await livePort(env, entity);
  if (!live) throw new NotFound(`the port of network ${entity.location} is gone from Open vSwitch`);
  const admin: Admin = action === NETWORK_ACTIONS + 'up' ? 'up' : 'down';
  if (live.admin !== admin) await setAdmin(env, live.ref.port, admin, entity);
  return retrieveNetwork(env, entity);
}

/** Re-applies the admin state asked for (vswitchd re-creates internal ports down after a restart). */
export async function restoreAdmin(env: OvsEnv, entity: BackendEntity, wanted: string | undefined): Promise<void> {
  const port = networkPortName(entity.id);
  const admin: Admin = wanted === 'down' ? 'down' : 'up';
  if ((await adminState(env, port)) !== admin) await setAdmin(env, port, admin, entity);
}
