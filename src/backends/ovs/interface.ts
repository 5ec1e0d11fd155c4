/**
 * A container's network interface: a veth pair whose host end (ov…) is an OVS access port tagged with the
 * network's VLAN, and whose other end lives in the container's network namespace (the source's ref
 * `netns`) under the name occitan reports (eth0, eth1, … the first free one, or the one it had).
 *
 * create   checks everything; leases the address (ipnetworkinterface); then either adopts what exists
 *          (port, host end, and the container end in the container's namespace, found by its alias) or
 *          builds afresh: a container restart destroys the old namespace and the veth with it, so the
 *          service's second create makes a new pair with the SAME MAC (derived from the entity id when the
 *          client gave none), name and address. A container that is not running gets its end later: the
 *          end waits in the host namespace under its temporary name (state inactive) and moves in when the
 *          service calls create again after the container started. On failure everything it made goes.
 * delete   removes the port and the host end (the kernel removes the other end with it); releases the lease.
 */
import { BadRequest, Conflict, NotFound } from '../../errors';
import type { Attributes } from '../../model/types';
import type { BackendEntity, Realised } from '../backend';
import { checkAddress } from './addresses';
import type { InterfaceRef, OvsEnv } from './env';
import { networkRefOf, settle } from './env';
import type { LinkInfo } from './iproute';
import { aliasFor, checkInterfaceName, checkMac, hostEndName, macFor, peerTempName } from './names';
import type { Lease } from './reservations';
import { lease, poolKey, releaseLease } from './reservations';
import type { Pool } from './reservations';
import { EXT, quoted } from './vsctl';

export const IPNETWORKINTERFACE = 'http://schemas.ogf.org/occi/infrastructure/networkinterface#ipnetworkinterface';

export const NIC = {
  interface: 'occi.networkinterface.interface',
  mac: 'occi.networkinterface.mac',
  state: 'occi.networkinterface.state',
  message: 'occi.networkinterface.state.message',
  address: 'occi.networkinterface.address',
  gateway: 'occi.networkinterface.gateway',
  allocation: 'occi.networkinterface.allocation',
} as const;

/** /proc/<pid>/ns/net (a container's init) or a named namespace under /run/netns. */
const NETNS_PATH = /^(\/proc\/[1-9]\d*\/ns\/net|\/(var\/)?run\/netns\/[A-Za-z0-9_.-]+)$/;
const NAME_ATTEMPTS = 16;

interface InterfaceSpec {
  network: string;
  bridge: string;
  vlan: number;
  networkPort: string;
  netns: string | undefined;
  mac: string;
  name: string | undefined;
  ip: { allocation: 'static' | 'dynamic'; address: string | undefined; gateway: string | undefined } | undefined;
}

/** Everything the link asks for, checked before anything is touched. */
export function interfaceSpec(entity: BackendEntity): InterfaceSpec {
  const a = entity.attributes;
  const src = entity.source?.ref as { containerId?: unknown; netns?: unknown } | undefined;
  if (!entity.source || typeof src?.containerId !== 'string') {
    throw new BadRequest(`the ovs provider plugs containers: the source of ${entity.location} must be a compute realised as a container`);
  }
  let netns: string | undefined;
  if (src.netns !== undefined) {
    if (typeof src.netns !== 'string' || !NETNS_PATH.test(src.netns)) throw new BadRequest(`the source's network namespace ${JSON.stringify(src.netns)} is not a namespace path`);
    netns = src.netns;
  }
  const net = networkRefOf(entity.target?.ref);
  if (!entity.target || !net) {
    throw new BadRequest(`the target of ${entity.location} must be a network realised by the ovs provider (a VLAN on an Open vSwitch bridge)`);
  }
  const mac = a[NIC.mac] === undefined || a[NIC.mac] === '' ? macFor(entity.id) : checkMac(a[NIC.mac], NIC.mac);
  const name = a[NIC.interface] === undefined || a[NIC.interface] === '' ? undefined : checkInterfaceName(a[NIC.interface], NIC.interface);
  let ip: InterfaceSpec['ip'];
  if (entity.mixins.includes(IPNETWORKINTERFACE)) {
    const allocation = a[NIC.allocation] ?? 'dynamic';
    if (allocation !== 'static' && allocation !== 'dynamic') throw new BadRequest(`${NIC.allocation} must be static or dynamic; got ${JSON.stringify(allocation)}`);
    const address = a[NIC.address] === undefined || a[NIC.address] === '' ? undefined : checkAddress(a[NIC.address], NIC.address).text;
    const gateway = a[NIC.gateway] === undefined || a[NIC.gateway] === '' ? undefined : checkAddress(a[NIC.gateway], NIC.gateway).text;
    if (allocation === 'static' && address === undefined) throw new BadRequest(`${NIC.allocation} static needs ${NIC.address}`);
    ip = { allocation, address, gateway };
  }
  return { network: entity.target.id, bridge: net.bridge, vlan: net.vlan, networkPort: net.port, netns, mac, name, ip };
}

/** The network's port as the switch has it now: the bridge and VLAN the interface must join. */
async function networkOnSwitch(env: OvsEnv, spec: InterfaceSpec, entity: BackendEntity): Promise<{ bridge: string; vlan: number }> {
  const port = await env.vsctl.port(spec.networkPort, `look for the network of ${entity.location}`);
  if (!port || port.externalIds.get(EXT.entity) !== spec.network) {
    throw new Conflict(`the network ${String(entity.attributes['occi.core.target'] ?? spec.network)} is not realised on Open vSwitch (its port ${spec.networkPort} is missing)`);
  }
  return { bridge: await env.vsctl.portBridge(spec.networkPort, `find the bridge of ${spec.networkPort}`), vlan: port.tag ?? spec.vlan };
}

/** The container end inside `netns`, found by its alias. */
async function containerEnd(env: OvsEnv, netns: string, alias: string, entity: BackendEntity): Promise<LinkInfo | undefined> {
  const links = await env.ip.links(`list the interfaces of the container of ${entity.location}`, netns);
  return links.find((l) => l.ifalias === alias);
}

/** Renames the container end to `wanted`, or to the first free ethN (racing creates retry on EEXIST). */
async function nameInContainer(env: OvsEnv, netns: string, temp: string, wanted: string | undefined, entity: BackendEntity): Promise<string> {
  for (let attempt = 0; attempt < NAME_ATTEMPTS; attempt++) {
    let name = wanted;
    if (name === undefined) {
      const taken = new Set((await env.ip.links(`list the interfaces of the container of ${entity.location}`, netns)).map((l) => l.ifname));
      for (let i = 0; name === undefined; i++) if (!taken.has(`eth${i}`)) name = `eth${i}`;
    }
    try {
      await env.ip.exec(['link', 'set', 'dev', temp, 'name', name], `name the interface of ${entity.location} ${name}`, netns);
      return name;
    } catch (e) {
      const text = (e as { stderr?: string }).stderr ?? String(e);
      if (!/File exists/i.test(text)) throw e;
      if (wanted !== undefined) throw new Conflict(`the container of ${entity.location} already has an interface named ${wanted}`);
    }
  }
  throw new Conflict(`could not find a free interface name in the container of ${entity.location}; retry`);
}

interface AddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  scope: string;
}

/** Makes the container end carry exactly the MAC, address and default route asked for, and be up. */
async function configure(env: OvsEnv, netns: string, name: string, mac: string, address: Lease | undefined, gateway: string | undefined, entity: BackendEntity): Promise<void> {
  const what = `configure ${name} in the container of ${entity.location}`;
  const link = await env.ip.link(name, what, netns);
  if (!link) throw new Conflict(`the interface ${name} of ${entity.location} disappeared from its container`);
  if (link.address?.toLowerCase() !== mac) await env.ip.must(['link', 'set', 'dev', name, 'address', mac], what, netns);
  const shown = JSON.parse((await env.ip.must(['-j', 'addr', 'show', 'dev', name], what, netns)) || '[]') as Array<{ addr_info?: AddrInfo[] }>;
  const global = (shown[0]?.addr_info ?? []).filter((x) => x.scope === 'global');
  const want = address ? `${address.address}/${address.prefix}` : undefined;
  const has = global.map((x) => `${x.local}/${x.prefixlen}`);
  if (has.length !== (want ? 1 : 0) || (want && has[0] !== want)) {
    await env.ip.must(['addr', 'flush', 'dev', name, 'scope', 'global'], what, netns);
    if (want?.includes(':')) {
      // Docker turns IPv6 off in a container's namespace (disable_ipv6=1 for new devices): the client asked for
      // an IPv6 address on this interface, so this interface gets IPv6 back, and no other.
      await env.ip.sysctl(netns, `net/ipv6/conf/${name}/disable_ipv6`, '0', what);
      await env.ip.must(['addr', 'add', want, 'dev', name, 'nodad'], what, netns);
    } else if (want) await env.ip.must(['addr', 'add', want, 'dev', name], what, netns);
  }
  if (!link.flags?.includes('UP')) await env.ip.must(['link', 'set', 'dev', name, 'up'], what, netns);
  if (address && gateway) {
    const family = gateway.includes(':') ? '-6' : '-4';
    const routes = JSON.parse((await env.ip.must([family, '-j', 'route', 'show', 'default'], what, netns)) || '[]') as Array<{ gateway?: string; dev?: string }>;
    if (!routes.some((r) => r.gateway === gateway && r.dev === name)) {
      // The first interface with a gateway keeps the default route; another one's is left alone.
      if (!routes.some((r) => r.dev === name) && routes.length === 0) {
        // Another interface of the container may add its default route at the same moment: it keeps it.
        await env.ip.must([family, 'route', 'add', 'default', 'via', gateway, 'dev', name], what, netns).catch((e: unknown) => {
          if (!/File exists/.test((e as Error).message)) throw e;
        });
      } else if (routes.some((r) => r.dev === name)) {
        await env.ip.must([family, 'route', 'replace', 'default', 'via', gateway, 'dev', name], what, netns);
      }
    }
  }
}

async function leaseFor(env: OvsEnv, spec: InterfaceSpec, entity: BackendEntity): Promise<{ lease: Lease | undefined; fresh: boolean }> {
  if (!spec.ip) return { lease: undefined, fresh: false };
  const before = await env.ctx.state.get<Pool>(poolKey(spec.network));
  const held = before ? Object.values(before.value.leases).includes(entity.id) : false;
  const got = await lease(env.ctx.state, spec.network, entity.id, { address: spec.ip.address, allocation: spec.ip.allocation });
  return { lease: got, fresh: !held };
}

/** Removes the port and the veth (both ends); each already gone is fine. */
async function teardown(env: OvsEnv, entity: BackendEntity): Promise<void> {
  const host = hostEndName(entity.id);
  await env.vsctl.exec(['--if-exists', 'del-port', host], `remove the port of ${entity.location}`);
  await env.ip.deleteLink(host, `remove the veth of ${entity.location}`);
  await env.ip.deleteLink(peerTempName(entity.id), `remove the veth of ${entity.location}`);
}

export async function createInterface(env: OvsEnv, entity: BackendEntity): Promise<Realised> {
  const spec = interfaceSpec(entity);
  const net = await networkOnSwitch(env, spec, entity);
  const host = hostEndName(entity.id);
  const temp = peerTempName(entity.id);
  const alias = aliasFor(env.options.instance, entity.id);
  const port = await env.vsctl.port(host, `look for the port of ${entity.location}`);
  if (port && port.externalIds.get(EXT.entity) !== entity.id) {
    throw new Conflict(`port ${host} exists on Open vSwitch without ${entity.location}'s external_ids; occitan leaves it alone`);
  }
  const { lease: leased, fresh } = await leaseFor(env, spec, entity);
  const gateway = spec.ip?.gateway ?? leased?.gateway;
  let built = false;
  try {
    // What is already there and whole is adopted: the port, the host end, and the other end either in the
    // container's namespace (found by its alias) or parked in the host's while the container was stopped.
    const hostEnd = port ? await env.ip.link(host, `look for the veth of ${entity.location}`) : undefined;
    let name: string | undefined;
    let whole = false;
    if (port && hostEnd) {
      if (hostEnd.link_netnsid === undefined) whole = (await env.ip.link(temp, `look for the veth of ${entity.location}`)) !== undefined;
      else if (!spec.netns) whole = true;
      else {
        const end = await containerEnd(env, spec.netns, alias, entity);
        whole = end !== undefined; // else: plugged into a namespace that is no longer the container's
        name = end?.ifname;
      }
    }
    if (!whole) {
      built = true;
      await teardown(env, entity);
      await env.ip.must(['link', 'add', 'name', host, 'type', 'veth', 'peer', 'name', temp, 'address', spec.mac], `make the veth of ${entity.location}`);
      await env.ip.must(['link', 'set', 'dev', host, 'alias', alias, 'addrgenmode', 'none', 'up'], `configure the veth of ${entity.location}`);
      await env.ip.must(['link', 'set', 'dev', temp, 'alias', alias], `configure the veth of ${entity.location}`);
      await env.vsctl.exec(
        [
          'add-port', net.bridge, host, `tag=${net.vlan}`,
          '--', 'set', 'port', host, `external_ids:${EXT.instance}=${quoted(env.options.instance)}`, `external_ids:${EXT.entity}=${quoted(entity.id)}`, `external_ids:${EXT.network}=${quoted(spec.network)}`,
        ],
        `add the port of ${entity.location} to bridge ${net.bridge}`,
      );
    } else if (port && port.tag !== net.vlan) {
      await env.vsctl.exec(['set', 'port', host, `tag=${net.vlan}`], `tag the port of ${entity.location}`);
    }
    if (spec.netns && name === undefined) {
      await env.ip.must(['link', 'set', 'dev', temp, 'netns', spec.netns], `move the veth of ${entity.location} into its container`);
      name = await nameInContainer(env, spec.netns, temp, spec.name, entity);
    }
    if (spec.netns && name !== undefined) {
      await configure(env, spec.netns, name, spec.mac, leased, gateway, entity);
      // vswitchd sees the carrier a moment later: the answer says what the switch says.
      await settle(() => env.vsctl.iface(host, `read the state of port ${host}`), (i) => i?.linkState === 'up', env.settleMs);
    } else {
      await env.ip.must(['link', 'set', 'dev', temp, 'address', spec.mac], `set the MAC of ${entity.location}`);
    }
    const ref: InterfaceRef = { bridge: net.bridge, vlan: net.vlan, port: host, network: spec.network, ...(spec.netns && name ? { netns: spec.netns, interface: name } : {}) };
    return await describe(env, entity, ref, spec, leased, name);
  } catch (e) {
    if (built) await teardown(env, entity).catch((undo: unknown) => env.ctx.log.error('ovs provider could not undo a failed interface create', { entity: entity.id, error: String(undo) }));
    if (fresh) await releaseLease(env.ctx.state, spec.network, entity.id).catch(() => undefined);
    throw e;
  }
}

/** The interface's runtime attributes from the switch (link state) and what it was configured with. */
async function describe(env: OvsEnv, entity: BackendEntity, ref: InterfaceRef, spec: InterfaceSpec, leased: Lease | undefined, name: string | undefined, endFound = true): Promise<Realised> {
  const iface = await env.vsctl.iface(ref.port, `read the state of port ${ref.port}`);
  const hostEnd = await env.ip.link(ref.port, `look for the veth of ${entity.location}`);
  const attributes: Attributes = { [NIC.mac]: spec.mac };
  if (name) attributes[NIC.interface] = name;
  if (leased) {
    attributes[NIC.address] = leased.address;
    const gw = spec.ip?.gateway ?? leased.gateway;
    if (gw) attributes[NIC.gateway] = gw;
    attributes[NIC.allocation] = spec.ip!.allocation;
  }
  const where = `VLAN ${ref.vlan} on bridge ${ref.bridge}`;
  if (!hostEnd || (hostEnd.link_netnsid !== undefined && !endFound)) {
    // The kernel destroys a dead namespace's veth a moment after the container stopped: until then the host
    // end lingers, so the container's own namespace is what tells.
    attributes[NIC.state] = 'inactive';
    attributes[NIC.message] = `the container side is gone (container stopped or restarted); port ${ref.port} waits on ${where}`;
  } else if (hostEnd.link_netnsid === undefined) {
    attributes[NIC.state] = 'inactive';
    attributes[NIC.message] = `the container is not running; the interface is plugged in when it starts (port ${ref.port}, ${where})`;
  } else if (iface?.error) {
    attributes[NIC.state] = 'error';
    attributes[NIC.message] = `Open vSwitch: ${iface.error}`;
  } else if (iface?.linkState === 'up') {
    attributes[NIC.state] = 'active';
    attributes[NIC.message] = `${name ?? 'plugged'} in the container, port ${ref.port} up on ${where}`;
  } else {
    attributes[NIC.state] = 'inactive';
    attributes[NIC.message] = `port ${ref.port} on ${where} has no link (the container's end is down)`;
  }
  return { attributes, ref };
}

export async function retrieveInterface(env: OvsEnv, entity: BackendEntity): Promise<Realised> {
  const host = hostEndName(entity.id);
  const port = await env.vsctl.port(host, `look for the port of ${entity.location}`);
  if (!port || port.externalIds.get(EXT.entity) !== entity.id) throw new NotFound(`the port of ${entity.location} is gone from Open vSwitch`);
  const stored = (entity.ref ?? {}) as Partial<InterfaceRef>;
  const spec = interfaceSpec(entity);
  const bridge = await env.vsctl.portBridge(host, `find the bridge of port ${host}`);
  const ref: InterfaceRef = { ...(stored as InterfaceRef), bridge, vlan: port.tag ?? spec.vlan, port: host, network: spec.network };
  let name = typeof entity.attributes[NIC.interface] === 'string' ? (entity.attributes[NIC.interface] as string) : undefined;
  let mac = spec.mac;
  let endFound = false; // a source without a namespace is not running: nothing of it can be plugged
  if (spec.netns) {
    const end = await containerEnd(env, spec.netns, aliasFor(env.options.instance, entity.id), entity).catch(() => undefined);
    endFound = end !== undefined;
    if (end) {
      name = end.ifname;
      if (end.address) mac = end.address.toLowerCase();
    }
  }
  const pool = spec.ip ? await env.ctx.state.get<Pool>(poolKey(spec.network)) : undefined;
  const address = pool ? Object.entries(pool.value.leases).find(([, l]) => l === entity.id)?.[0] : undefined;
  const leased: Lease | undefined = address && pool ? { address, prefix: Number(pool.value.cidr.split('/')[1]), ...(pool.value.gateway ? { gateway: pool.value.gateway } : {}) } : undefined;
  return describe(env, entity, ref, { ...spec, mac }, leased, name, endFound);
}

/** A change of MAC or addresses reaches the container in place; anything else is kept as asked. */
export async function updateInterface(env: OvsEnv, entity: BackendEntity): Promise<Realised> {
  const spec = interfaceSpec(entity);
  const host = hostEndName(entity.id);
  const port = await env.vsctl.port(host, `look for the port of ${entity.location}`);
  if (!port || port.externalIds.get(EXT.entity) !== entity.id) throw new NotFound(`the port of ${entity.location} is gone from Open vSwitch`);
  const stored = (entity.ref ?? {}) as Partial<InterfaceRef>;
  const before = await env.ctx.state.get<Pool>(poolKey(spec.network));
  const heldBefore = before ? Object.entries(before.value.leases).find(([, l]) => l === entity.id)?.[0] : undefined;
  let leased: Lease | undefined;
  if (spec.ip) leased = await lease(env.ctx.state, spec.network, entity.id, { address: spec.ip.address, allocation: spec.ip.allocation });
  else if (heldBefore) await releaseLease(env.ctx.state, spec.network, entity.id);
  try {
    const alias = aliasFor(env.options.instance, entity.id);
    const end = spec.netns ? await containerEnd(env, spec.netns, alias, entity) : undefined;
    if (spec.netns && end) await configure(env, spec.netns, end.ifname, spec.mac, leased, spec.ip?.gateway ?? leased?.gateway, entity);
    else if (await env.ip.link(peerTempName(entity.id), 'look for the parked end')) {
      await env.ip.must(['link', 'set', 'dev', peerTempName(entity.id), 'address', spec.mac], `set the MAC of ${entity.location}`);
    }
    const ref: InterfaceRef = { ...(stored as InterfaceRef), port: host, network: spec.network, bridge: await env.vsctl.portBridge(host, `find the bridge of ${host}`), vlan: port.tag ?? spec.vlan };
    return await describe(env, entity, ref, spec, leased, end?.ifname ?? (stored.interface as string | undefined));
  } catch (e) {
    // The address it had before comes back (the pool is the only thing changed before the container).
    if (heldBefore && leased?.address !== heldBefore) {
      await releaseLease(env.ctx.state, spec.network, entity.id).catch(() => undefined);
      await lease(env.ctx.state, spec.network, entity.id, { address: heldBefore, allocation: 'static' }).catch(() => undefined);
    }
    throw e;
  }
}

export async function deleteInterface(env: OvsEnv, entity: BackendEntity): Promise<void> {
  const host = hostEndName(entity.id);
  const port = await env.vsctl.port(host, `look for the port of ${entity.location}`);
  if (port && port.externalIds.get(EXT.entity) !== entity.id) {
    throw new Conflict(`port ${host} exists on Open vSwitch without ${entity.location}'s external_ids; occitan leaves it alone`);
  }
  await teardown(env, entity);
  const network = entity.target?.id ?? (entity.ref as Partial<InterfaceRef> | undefined)?.network;
  if (network) await releaseLease(env.ctx.state, network, entity.id);
}

