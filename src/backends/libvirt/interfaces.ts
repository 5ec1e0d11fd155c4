/**
 * Networkinterface as a virtual machine's interface on Open vSwitch: a link whose source is one of this
 * provider's domains and whose target is a network the ovs provider realised. The interface is of type
 * bridge with an `openvswitch` virtualport, so libvirt itself plugs the tap into the network's bridge,
 * tagged with its VLAN, every time the domain starts (and unplugs it when the domain stops).
 *
 * How this provider learns the network: from the link's target as the service hands it (BackendEntity
 * `target.ref`), which is the ovs provider's ref of the network, `{ bridge, vlan, port }`. No backend
 * imports another: the shape is checked here (interface-xml.ts ovsNetworkOf), and the switch is asked
 * before anything changes: the network's port must exist with the ovs provider's mark
 * (external_ids:occitan-entity = the network's id); its bridge and tag on the switch win over the ref.
 *
 * create   hot-plugs (`attach-device --live --config`) into a running domain, else writes the definition
 *          (`--config`); adopts an interface the definition already has (and plugs it live when missing).
 * delete   a guest with no OS never acknowledges a PCI unplug, so no live detach is requested: the
 *          interface leaves the persistent definition, its live link is set down (`domif-setlink`) and its
 *          OVS port is removed at once (`ovs-vsctl --if-exists del-port`); the live device goes at the
 *          next stop of the domain.
 */
import { execFile } from 'node:child_process';
import { BadGateway, BadRequest, Conflict, NotFound, ServiceUnavailable } from '../../errors';
import type { OcciError } from '../../errors';
import { INFRA } from '../../model/types';
import type { Attributes } from '../../model/types';
import type { BackendEntity, Logger, Realised } from '../backend';
import { domainName } from './domain-xml';
import type { Domains } from './domains';
import type { InterfaceInfo } from './interface-xml';
import { NIC_ATTR, TAP_NAME, checkMac, interfaceAlias, interfaceIdFor, interfaceXml, ovsNetworkOf, parseInterfaces, tapName, vmMacFor } from './interface-xml';
import { KeyedMutex } from './mutex';
import type { Virsh } from './virsh';
import { VirshError, isMissing, translateVirshError } from './virsh';

/** The private handle of a VM networkinterface. */
export interface InterfaceRef {
  domain: string;
  alias: string;
  /** The tap, which is also the OVS port's name. */
  dev: string;
  mac: string;
  bridge: string;
  vlan: number;
  interfaceId: string;
}

export function interfaceRefOf(value: unknown): InterfaceRef | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Partial<InterfaceRef>;
  return typeof r.domain === 'string' && typeof r.alias === 'string' && typeof r.dev === 'string' ? (r as InterfaceRef) : undefined;
}

/** The ovs provider's mark on the ports it makes (its external_ids), read to recognise a network's port. */
const OVS_ENTITY_MARK = 'occitan-entity';

/**
 * `ovs-vsctl` for what libvirt does not do itself: find the network's port, remove a link's port at once,
 * sweep ports left by removed domains. execFile with argument arrays; its failures become ours.
 */
export class OvsPorts {
  constructor(private readonly timeoutMs: number) {}

  exec(args: readonly string[], what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const secs = Math.max(1, Math.ceil(this.timeoutMs / 1000));
      execFile('ovs-vsctl', [`--timeout=${secs}`, ...args], { timeout: this.timeoutMs + 2000, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
        if (!err) return resolve(String(stdout));
        reject(translateOvsError(err as NodeJS.ErrnoException & { killed?: boolean }, String(stderr).trim(), what));
      });
    });
  }

  /** Rows of `--format=json` output, OVSDB sets/maps decoded (a set of one is its value, a map an object). */
  async rows(args: readonly string[], what: string): Promise<Array<Record<string, unknown>>> {
    const out = JSON.parse((await this.exec(['--format=json', ...args], what)) || '{"data":[],"headings":[]}') as { data: unknown[][]; headings: string[] };
    const decode = (v: unknown): unknown => {
      if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string') {
        if (v[0] === 'set') return (v[1] as unknown[]).length === 1 ? decode((v[1] as unknown[])[0]) : (v[1] as unknown[]).length === 0 ? undefined : (v[1] as unknown[]).map(decode);
        if (v[0] === 'map') return Object.fromEntries((v[1] as Array<[string, unknown]>).map(([k, x]) => [k, String(decode(x))]));
        if (v[0] === 'uuid') return v[1];
      }
      return v;
    };
    return out.data.map((r) => Object.fromEntries(out.headings.map((h, i) => [h, decode(r[i])])));
  }

  /** The network's port as the switch has it: its bridge and tag; 409 when it is not there. */
  async network(ref: { bridge: string; vlan: number; port: string }, networkId: string, location: string): Promise<{ bridge: string; vlan: number }> {
    const port = (await this.rows(['--columns=name,tag,external_ids', 'find', 'Port', `name=${JSON.stringify(ref.port)}`], `look for the network of ${location}`))[0];
    const ids = (port?.['external_ids'] ?? {}) as Record<string, string>;
    if (!port || ids[OVS_ENTITY_MARK] !== networkId) {
      throw new Conflict(`the target network of ${location} is not realised on Open vSwitch (its port ${ref.port} is missing)`);
    }
    const bridge = (await this.exec(['port-to-br', ref.port], `find the bridge of ${ref.port}`)).trim();
    const tag = port['tag'];
    return { bridge, vlan: typeof tag === 'number' ? tag : ref.vlan };
  }

  /** The Interface row of a tap: libvirt's external_ids (iface-id, vm-id, attached-mac) and whether its device is gone. */
  async iface(dev: string, what: string): Promise<{ externalIds: Record<string, string>; gone: boolean } | undefined> {
    const r = (await this.rows(['--columns=name,ofport,error,external_ids', 'find', 'Interface', `name=${JSON.stringify(dev)}`], what))[0];
    if (!r) return undefined;
    return { externalIds: (r['external_ids'] ?? {}) as Record<string, string>, gone: deviceGone(r) };
  }

  /** Removes a link's port unless it carries another interface's id; already gone is success. */
  async deletePort(dev: string, interfaceId: string, log: Logger): Promise<void> {
    const row = await this.iface(dev, `look for port ${dev}`);
    if (!row) return;
    const owner = row.externalIds['iface-id'];
    if (owner !== undefined && owner !== interfaceId) {
      log.warn('libvirt provider left alone an OVS port that carries another interface id', { port: dev, ifaceId: owner });
      return;
    }
    await this.exec(['--if-exists', 'del-port', dev], `remove port ${dev} from Open vSwitch`);
  }

  /** Ports named like occitan's VM taps that libvirt made (iface-id and vm-id set). */
  async vmPorts(): Promise<Array<{ name: string; vmId: string; gone: boolean }>> {
    const rows = await this.rows(['--columns=name,ofport,error,external_ids', 'list', 'Interface'], 'list the interfaces of virtual machines');
    const out: Array<{ name: string; vmId: string; gone: boolean }> = [];
    for (const r of rows) {
      const name = String(r['name']);
      const ids = (r['external_ids'] ?? {}) as Record<string, string>;
      if (!TAP_NAME.test(name) || !ids['vm-id'] || !ids['iface-id']) continue;
      out.push({ name, vmId: ids['vm-id'], gone: deviceGone(r) });
    }
    return out;
  }
}

function deviceGone(r: Record<string, unknown>): boolean {
  return r['ofport'] === -1 && /No such device/i.test(String(r['error'] ?? ''));
}

function translateOvsError(err: NodeJS.ErrnoException & { killed?: boolean }, stderr: string, what: string): OcciError {
  if (err.code === 'ENOENT') return new ServiceUnavailable(`ovs-vsctl is not installed (Debian: openvswitch-switch), so occitan cannot ${what}`);
  if (err.killed || /timed out|timeout|database connection failed|Connection refused/i.test(stderr)) {
    return new ServiceUnavailable(`Open vSwitch does not answer while trying to ${what}: ${stderr || err.message}`);
  }
  return new BadGateway(`ovs-vsctl refused to ${what}: ${stderr || err.message}`);
}

export interface InterfacesDeps {
  virsh: Virsh;
  domains: Domains;
  ovs: OvsPorts;
  log: Logger;
}

interface Wanted {
  domain: string;
  alias: string;
  dev: string;
  mac: string;
  interfaceId: string;
  network: { id: string; bridge: string; vlan: number; port: string };
}

export class Interfaces {
  private readonly mutex = new KeyedMutex();
  constructor(private readonly d: InterfacesDeps) {}

  private get virsh(): Virsh {
    return this.d.virsh;
  }

  /** The interfaces of a domain's definition (`live` false) or of the running domain. */
  async interfacesOf(domain: string, live: boolean): Promise<InterfaceInfo[]> {
    const xml = await this.virsh.call(['dumpxml', ...(live ? [] : ['--inactive']), domain], `read the interfaces of domain ${domain}`);
    return parseInterfaces(xml);
  }

  /** Everything the link asks for, checked before anything is touched (400 naming what is wrong). */
  private wanted(entity: BackendEntity): Wanted {
    if (!entity.source || entity.source.kind !== INFRA + 'compute') throw new BadRequest(`the source of networkinterface ${entity.location} must be a compute`);
    const net = entity.target?.kind === INFRA + 'network' ? ovsNetworkOf(entity.target.ref) : undefined;
    if (!entity.target || !net) {
      throw new BadRequest(`the target of networkinterface ${entity.location} must be a network realised by the ovs provider (a VLAN on an Open vSwitch bridge)`);
    }
    const a = entity.attributes;
    const mac = a[NIC_ATTR.mac] === undefined || a[NIC_ATTR.mac] === null || a[NIC_ATTR.mac] === '' ? vmMacFor(entity.id) : checkMac(a[NIC_ATTR.mac]);
    const dev = tapName(entity.id);
    const asked = a[NIC_ATTR.interface];
    if (asked !== undefined && asked !== null && asked !== '' && asked !== dev) {
      throw new BadRequest(`${NIC_ATTR.interface} of a virtual machine's interface is chosen by occitan (the tap and OVS port ${dev}; the guest names its own devices); leave it out`);
    }
    return { domain: domainName(entity.source.id), alias: interfaceAlias(entity.id), dev, mac, interfaceId: interfaceIdFor(entity.id), network: { id: entity.target.id, ...net } };
  }

  private async running(domain: string): Promise<boolean | undefined> {
    const live = await this.d.domains.live(domain);
    return live ? live.status.state !== 'shut off' : undefined;
  }

  private async attach(domain: string, xml: string, flags: string[], entity: BackendEntity): Promise<void> {
    await this.virsh.withXmlFile(xml, (file) => this.virsh.call(['attach-device', domain, file, ...flags], `plug the network interface of ${entity.location} in`));
  }

  /**
   * Plugs the link's interface in (see the module comment). Failure rule: a bad request is 400 and a
   * network missing from the switch or a MAC the domain already uses 409, both before anything changes;
   * when the attach itself fails, whatever half of it happened is unplugged again, then it throws.
   * Idempotent: an interface the definition already has is adopted.
   */
  async create(entity: BackendEntity): Promise<Realised> {
    const w = this.wanted(entity);
    if ((await this.d.domains.owns(w.domain, entity.source!.id)) !== 'mine') {
      throw new BadRequest(`the source of networkinterface ${entity.location} is not a virtual machine of this libvirt provider`);
    }
    const net = await this.d.ovs.network(w.network, w.network.id, entity.location);
    const xml = interfaceXml({ mac: w.mac, bridge: net.bridge, vlan: net.vlan, interfaceId: w.interfaceId, dev: w.dev, alias: w.alias });
    return this.mutex.run(w.domain, async () => {
      const running = await this.running(w.domain);
      if (running === undefined) throw new NotFound(`domain ${w.domain} is gone`);
      const config = await this.interfacesOf(w.domain, false);
      const live = running ? await this.interfacesOf(w.domain, true) : [];
      if (config.some((x) => x.alias === w.alias)) {
        // Adopt; a running domain that lacks the live device (a crash between the two writes) gets it.
        if (running && !live.some((x) => x.alias === w.alias)) await this.attach(w.domain, xml, ['--live'], entity);
        return this.describe(entity, w.domain);
      }
      if (live.some((x) => x.alias === w.alias)) {
        throw new Conflict(`the interface of ${entity.location} is still being unplugged from its running virtual machine; it goes when the machine stops`);
      }
      const clash = [...config, ...live].find((x) => x.mac === w.mac);
      if (clash) throw new Conflict(`${NIC_ATTR.mac} ${w.mac} is already used by another interface of that compute`);
      try {
        await this.attach(w.domain, xml, running ? ['--live', '--config'] : ['--config'], entity);
        return await this.describe(entity, w.domain);
      } catch (e) {
        // Whatever half of the attach happened goes again (a fresh device: a live detach request is harmless).
        await this.unplug(w.domain, w.alias, w.dev, true).catch((undo: unknown) => this.d.log.error('libvirt provider could not undo a failed interface plug', { link: entity.id, error: String(undo) }));
        await this.d.ovs.deletePort(w.dev, w.interfaceId, this.d.log).catch(() => undefined);
        throw e;
      }
    });
  }

  /** Runtime attributes and ref, from the definition, the running domain and the switch. */
  private async describe(entity: BackendEntity, domain: string): Promise<Realised> {
    const alias = interfaceAlias(entity.id);
    let config: InterfaceInfo[];
    try {
      config = parseInterfaces(await this.virsh.run(['dumpxml', '--inactive', domain]));
    } catch (e) {
      if (isMissing(e)) throw new NotFound(`the compute of networkinterface ${entity.location} is gone (domain ${domain})`);
      throw translateVirshError(e, this.virsh, `read the interfaces of domain ${domain}`);
    }
    const mine = config.find((x) => x.alias === alias);
    if (!mine) throw new NotFound(`the interface of networkinterface ${entity.location} is gone from domain ${domain}`);
    const dev = mine.dev ?? tapName(entity.id);
    const ref: InterfaceRef = { domain, alias, dev, mac: mine.mac ?? '', bridge: mine.bridge ?? '', vlan: mine.vlan ?? 0, interfaceId: mine.interfaceId ?? interfaceIdFor(entity.id) };
    const where = `bridge ${ref.bridge}, VLAN ${ref.vlan}`;
    const attributes: Attributes = { [NIC_ATTR.interface]: dev, [NIC_ATTR.mac]: ref.mac };
    const state = (s: 'active' | 'inactive' | 'error', message: string): Realised => ({ attributes: { ...attributes, [NIC_ATTR.state]: s, [NIC_ATTR.message]: message }, ref });
    const running = await this.running(domain);
    if (!running) return state('inactive', `the virtual machine is not running; libvirt plugs port ${dev} into ${where} when it starts`);
    const live = (await this.interfacesOf(domain, true)).find((x) => x.alias === alias);
    if (!live) return state('inactive', `in the definition but not in the running virtual machine (creating the link again plugs it)`);
    if (live.link === 'down') return state('inactive', `plugged in, link down (port ${dev} on ${where})`);
    const port = await this.d.ovs.iface(dev, `read port ${dev}`);
    if (!port || port.gone) return state('error', `its port ${dev} is gone from Open vSwitch (removed outside occitan); it comes back when the virtual machine starts again`);
    return state('active', `plugged in, port ${dev} up on ${where}`);
  }

  /** Live state; NotFound when the domain or the interface in its definition is gone. */
  async retrieve(entity: BackendEntity): Promise<Realised> {
    const domain = interfaceRefOf(entity.ref)?.domain ?? (entity.source ? domainName(entity.source.id) : undefined);
    if (!domain) throw new NotFound(`networkinterface ${entity.location} has no compute on this provider`);
    return this.describe(entity, domain);
  }

  /** The MAC and the tap of a plugged interface cannot change: 409; anything else is recorded as asked. */
  async update(entity: BackendEntity, changed: readonly string[]): Promise<Realised> {
    const current = await this.retrieve(entity);
    for (const k of [NIC_ATTR.mac, NIC_ATTR.interface]) {
      if (!changed.includes(k)) continue;
      const now = current.attributes[k];
      const asked = entity.attributes[k];
      const same = k === NIC_ATTR.mac && typeof asked === 'string' ? asked.toLowerCase() === now : asked === now;
      if (!same) throw new Conflict(`${k} of a plugged interface cannot change (it is ${String(now)}); delete the networkinterface and make a new one`);
    }
    return current;
  }

  /** Unplugs the link's interface (see the module comment); already gone is success; a port carrying another interface id is left alone. */
  async delete(entity: BackendEntity): Promise<void> {
    const domain = interfaceRefOf(entity.ref)?.domain ?? (entity.source ? domainName(entity.source.id) : undefined);
    const dev = tapName(entity.id);
    if (domain) await this.mutex.run(domain, () => this.unplug(domain, interfaceAlias(entity.id), dev, false));
    await this.d.ovs.deletePort(dev, interfaceIdFor(entity.id), this.d.log);
  }

  /** Out of the definition, live link down (and, for a device just made, a live detach request). */
  private async unplug(domain: string, alias: string, dev: string, detachLive: boolean): Promise<void> {
    const running = await this.running(domain);
    if (running === undefined) return;
    const ignoreGone = (e: unknown): void => {
      if (isMissing(e) || (e instanceof VirshError && /no device found|not found|no interface|is not present/i.test(e.message))) return;
      throw translateVirshError(e, this.virsh, `unplug interface ${alias} of domain ${domain}`);
    };
    if ((await this.interfacesOf(domain, false)).some((x) => x.alias === alias)) {
      await this.virsh.run(['detach-device-alias', domain, alias, '--config']).catch(ignoreGone);
    }
    if (!running) return;
    const live = (await this.interfacesOf(domain, true)).find((x) => x.alias === alias);
    if (!live) return;
    if (live.link !== 'down') await this.virsh.run(['domif-setlink', domain, live.dev ?? dev, 'down']).catch(ignoreGone);
    if (detachLive) await this.virsh.run(['detach-device-alias', domain, alias, '--live']).catch(ignoreGone);
  }

  /**
   * Start-up: interfaces of this instance's domains whose networkinterface no longer exists are unplugged,
   * then OVS ports of occitan's VM taps (`ol…`, made by libvirt) are removed when their domain no longer
   * exists or their tap is gone. Ports are listed before the domains, so a domain defined meanwhile by a
   * create in flight is seen. Other ports are never touched. Never throws: a step that fails (a host
   * without Open vSwitch, a domain busy) is logged and left for the next start.
   */
  async reconcile(domains: readonly string[], owned: Iterable<BackendEntity>): Promise<{ unplugged: string[]; removedPorts: string[] }> {
    const result = { unplugged: [] as string[], removedPorts: [] as string[] };
    const links = new Set<string>();
    for (const e of owned) if (e.kind === INFRA + 'networkinterface') links.add(interfaceAlias(e.id));
    const step = async (what: string, extra: Record<string, unknown>, f: () => Promise<void>): Promise<void> => {
      try {
        await f();
      } catch (e) {
        this.d.log.warn(`libvirt provider could not ${what}; the next start tries again`, { ...extra, error: (e as Error).message });
      }
    };
    for (const domain of domains) {
      await step('reconcile the interfaces of a domain', { domain }, () => this.mutex.run(domain, async () => {
        // The definition and what runs (a shut-off domain's XML is its definition): two reads, no state query.
        const seen: InterfaceInfo[] = [];
        for (const live of [false, true]) seen.push(...(await this.interfacesOf(domain, live).catch(() => [])));
        const done = new Set<string>();
        for (const x of seen) {
          if (!x.alias?.startsWith('ua-occitan-') || links.has(x.alias) || done.has(x.alias)) continue;
          done.add(x.alias);
          await this.unplug(domain, x.alias, x.dev ?? '', false);
          if (x.dev && TAP_NAME.test(x.dev)) await this.d.ovs.exec(['--if-exists', 'del-port', x.dev], `remove port ${x.dev}`);
          result.unplugged.push(`${domain}/${x.alias}`);
          this.d.log.info('libvirt provider unplugged an interface no networkinterface owns', { domain, alias: x.alias });
        }
      }));
    }
    await step('sweep the OVS ports of virtual machines that are gone', {}, async () => {
      const ports = await this.d.ovs.vmPorts();
      if (ports.length === 0) return;
      const uuids = new Set((await this.virsh.call(['list', '--all', '--uuid'], 'list its domains')).split('\n').map((l) => l.trim()).filter(Boolean));
      for (const p of ports) {
        if (uuids.has(p.vmId) && !p.gone) continue;
        await this.d.ovs.exec(['--if-exists', 'del-port', p.name], `remove orphaned port ${p.name}`);
        result.removedPorts.push(p.name);
        this.d.log.info('libvirt provider removed an OVS port of a virtual machine that is gone', { port: p.name, vm: p.vmId });
      }
    });
    return result;
  }
}
