/**
 * Storagelink as a disk of a domain: one of occitan's own volumes (its path is resolved from the pool
 * by the target's entity id, never taken from a client) on the virtio-scsi bus as `sdX`, with a user
 * alias naming the link (`ua-occitan-<link>`), so delete detaches exactly that disk. Hot-plugged while
 * the domain runs (`attach-device --live --config`), else written to the definition only.
 */
import { BadRequest, Conflict, NotFound } from '../../errors';
import { INFRA } from '../../model/types';
import type { BackendEntity, Realised } from '../backend';
import { KeyedMutex } from './mutex';
import type { DiskInfo } from './domain-xml';
import { diskAlias, diskXml, domainName, freeTarget, parseDisks, parseMetadata, METADATA_URI } from './domain-xml';
import type { Domains } from './domains';
import type { Volumes } from './volumes';
import type { Virsh } from './virsh';
import { VirshError, isMissing, translateVirshError } from './virsh';

export const LINK_ATTR = {
  deviceid: 'occi.storagelink.deviceid',
  state: 'occi.storagelink.state',
  message: 'occi.storagelink.state.message',
} as const;

/** The private handle of a storagelink on libvirt. */
export interface DiskRef {
  domain: string;
  volume: string;
  alias: string;
  target: string;
}

export function diskRefOf(value: unknown): DiskRef | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Partial<DiskRef>;
  return typeof r.domain === 'string' && typeof r.volume === 'string' && typeof r.alias === 'string' && typeof r.target === 'string' ? (r as DiskRef) : undefined;
}

export interface DisksDeps {
  virsh: Virsh;
  domains: Domains;
  volumes: Volumes;
  instance: string;
  /** Whether a volume is offline (the provider's keyed state). */
  isOffline(volume: string): Promise<boolean>;
}

const DEVICE = /^sd[a-z]{1,2}$/;
/** How long a live detach may take before occitan stops waiting (the definition no longer has the disk by then). */
const LIVE_DETACH_WAIT_MS = 10_000;

export class Disks {
  private readonly mutex = new KeyedMutex();
  constructor(private readonly d: DisksDeps) {}

  private get virsh(): Virsh {
    return this.d.virsh;
  }

  async disksOf(domain: string, live: boolean): Promise<DiskInfo[]> {
    const xml = await this.virsh.call(['dumpxml', ...(live ? [] : ['--inactive']), domain], `read the disks of domain ${domain}`);
    return parseDisks(xml);
  }

  private async running(domain: string): Promise<boolean> {
    const live = await this.d.domains.live(domain);
    if (!live) throw new NotFound(`domain ${domain} is gone`);
    return live.status.state !== 'shut off';
  }

  /** The domains of this instance (name starts with occitan-, metadata names this instance). */
  async ownDomains(): Promise<string[]> {
    const out = await this.virsh.call(['list', '--all', '--name'], 'list its domains');
    const names = out.split('\n').map((l) => l.trim()).filter((n) => n.startsWith('occitan-'));
    const mine: string[] = [];
    for (const name of names) {
      const xml = await this.virsh.run(['metadata', name, METADATA_URI]).catch(() => '');
      if (parseMetadata(xml)?.instance === this.d.instance) mine.push(name);
    }
    return mine;
  }

  /** The link's ends, checked: a compute of this provider and a volume of its pool. */
  private async ends(entity: BackendEntity): Promise<{ domain: string; volume: string; path: string }> {
    if (!entity.source || entity.source.kind !== INFRA + 'compute') throw new BadRequest(`the source of storagelink ${entity.location} must be a compute`);
    if (!entity.target || entity.target.kind !== INFRA + 'storage') throw new BadRequest(`the target of storagelink ${entity.location} must be a local storage`);
    const domain = domainName(entity.source.id);
    if ((await this.d.domains.owns(domain, entity.source.id)) !== 'mine') {
      throw new BadRequest(`the source of storagelink ${entity.location} is not a virtual machine of this libvirt provider`);
    }
    const volume = this.d.volumes.name(entity.target.id);
    const info = await this.d.volumes.info(volume);
    if (!info) throw new BadRequest(`the target of storagelink ${entity.location} is not a volume of this libvirt provider (pool ${this.d.volumes.pool})`);
    return { domain, volume, path: info.path };
  }

  async create(entity: BackendEntity): Promise<Realised> {
    const { domain, volume, path } = await this.ends(entity);
    const alias = diskAlias(entity.id);
    const wanted = entity.attributes[LINK_ATTR.deviceid];
    if (wanted !== undefined && wanted !== '' && (typeof wanted !== 'string' || !DEVICE.test(wanted))) {
      throw new BadRequest(`${LINK_ATTR.deviceid} must be a SCSI disk name sda … sdzz (the virtual machine's disks are on virtio-scsi); got ${JSON.stringify(wanted)}`);
    }
    if (await this.d.isOffline(volume)) throw new Conflict(`the storage of ${entity.location} is offline: bring it online (action online) before attaching it`);
    return this.mutex.run(domain, async () => {
      const running = await this.running(domain);
      const config = await this.disksOf(domain, false);
      const live = running ? await this.disksOf(domain, true) : [];
      const ref = (target: string): DiskRef => ({ domain, volume, alias, target });
      const mine = config.find((x) => x.alias === alias);
      if (mine) {
        // Adopt; a running domain that lost the live device (it was stopped and started) gets it back.
        if (running && !live.some((x) => x.alias === alias)) await this.attach(domain, diskXml({ path, target: mine.target, alias }), ['--live'], entity);
        return realisedDisk(ref(mine.target), true);
      }
      const holder = await this.holderOf(path, domain, [...config, ...live]);
      if (holder) throw new Conflict(`the storage of ${entity.location} is already attached to ${holder}; a volume serves one disk at a time`);
      const used = new Set([...config, ...live].map((x) => x.target));
      if (typeof wanted === 'string' && wanted !== '' && used.has(wanted)) throw new Conflict(`${LINK_ATTR.deviceid} ${wanted} is already in use on that compute`);
      const target = typeof wanted === 'string' && wanted !== '' ? wanted : freeTarget(used);
      await this.attach(domain, diskXml({ path, target, alias }), running ? ['--config', '--live'] : ['--config'], entity);
      return realisedDisk(ref(target), true);
    });
  }

  /** Which domain (this one's disks given, others read) already has the volume at `path`. */
  private async holderOf(path: string, domain: string, own: DiskInfo[]): Promise<string | undefined> {
    if (own.some((x) => x.source === path)) return 'this compute';
    for (const other of await this.ownDomains()) {
      if (other === domain) continue;
      const disks = await this.disksOf(other, false).catch(() => []);
      if (disks.some((x) => x.source === path)) return `another compute (domain ${other})`;
    }
    return undefined;
  }

  private async attach(domain: string, xml: string, flags: string[], entity: BackendEntity): Promise<void> {
    await this.virsh.withXmlFile(xml, (file) => this.virsh.call(['attach-device', domain, file, ...flags], `attach the storage of ${entity.location}`));
  }

  async retrieve(entity: BackendEntity): Promise<Realised> {
    const ref = diskRefOf(entity.ref);
    const domain = ref?.domain ?? (entity.source ? domainName(entity.source.id) : undefined);
    const alias = diskAlias(entity.id);
    if (!domain) throw new NotFound(`storagelink ${entity.location} has no compute on this provider`);
    let config: DiskInfo[];
    try {
      config = parseDisks(await this.virsh.run(['dumpxml', '--inactive', domain]));
    } catch (e) {
      if (isMissing(e)) throw new NotFound(`the compute of storagelink ${entity.location} is gone (domain ${domain})`);
      throw translateVirshError(e, this.virsh, `read the disks of domain ${domain}`);
    }
    const disk = config.find((x) => x.alias === alias);
    const volume = ref?.volume ?? (entity.target ? this.d.volumes.name(entity.target.id) : undefined);
    if (disk) return realisedDisk({ domain, volume: volume ?? '', alias, target: disk.target }, true);
    if (ref && volume && (await this.d.isOffline(volume))) return realisedDisk(ref, false);
    throw new NotFound(`the disk of storagelink ${entity.location} is gone from domain ${domain}`);
  }

  /** Detaches the link's disk (definition and live); already gone is success. */
  async delete(entity: BackendEntity): Promise<void> {
    const ref = diskRefOf(entity.ref);
    const domain = ref?.domain ?? (entity.source ? domainName(entity.source.id) : undefined);
    if (!domain) return;
    await this.mutex.run(domain, () => this.detach(domain, diskAlias(entity.id)));
  }

  /** Detaches the disk with `alias` from `domain` where it is (definition, live device). */
  async detach(domain: string, alias: string): Promise<void> {
    let running: boolean;
    try {
      running = await this.running(domain);
    } catch (e) {
      if (e instanceof NotFound) return;
      throw e;
    }
    const inConfig = (await this.disksOf(domain, false)).some((x) => x.alias === alias);
    const inLive = running && (await this.disksOf(domain, true)).some((x) => x.alias === alias);
    const flags = [...(inConfig ? ['--config'] : []), ...(inLive ? ['--live'] : [])];
    if (!flags.length) return;
    try {
      await this.virsh.run(['detach-device-alias', domain, alias, ...flags]);
    } catch (e) {
      if (isMissing(e) || (e instanceof VirshError && /no device found|not found/i.test(e.message))) return;
      throw translateVirshError(e, this.virsh, `detach disk ${alias} from domain ${domain}`);
    }
    // A live detach is a request: QEMU removes the device a moment later (a SCSI disk needs no guest's consent).
    const end = Date.now() + LIVE_DETACH_WAIT_MS;
    while (inLive && Date.now() < end) {
      const still = await this.disksOf(domain, true).then((disks) => disks.some((x) => x.alias === alias), () => false);
      if (!still) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Detaches a volume from every domain of this instance (offline, delete); answers where it was. */
  async detachEverywhere(path: string): Promise<Array<{ domain: string; target: string }>> {
    const where: Array<{ domain: string; target: string }> = [];
    for (const domain of await this.ownDomains()) {
      await this.mutex.run(domain, async () => {
        const running = await this.running(domain).catch(() => false);
        const disks = [...(await this.disksOf(domain, false)), ...(running ? await this.disksOf(domain, true) : [])].filter((x) => x.source === path);
        const done = new Set<string>();
        for (const disk of disks) {
          if (done.has(disk.target)) continue;
          done.add(disk.target);
          where.push({ domain, target: disk.target });
          if (disk.alias?.startsWith('ua-')) await this.detach(domain, disk.alias);
          else await this.virsh.call(['detach-disk', domain, disk.target, '--config', ...(running ? ['--live'] : [])], `detach ${disk.target} from domain ${domain}`);
        }
      });
    }
    return where;
  }

  /** Attaches a link's disk again (online): to the definition, and live while the domain runs. */
  async reattach(ref: DiskRef, path: string, entity: BackendEntity): Promise<void> {
    await this.mutex.run(ref.domain, async () => {
      const running = await this.running(ref.domain);
      const config = await this.disksOf(ref.domain, false);
      if (config.some((x) => x.alias === ref.alias)) return;
      const target = config.some((x) => x.target === ref.target) ? freeTarget(config.map((x) => x.target)) : ref.target;
      await this.attach(ref.domain, diskXml({ path, target, alias: ref.alias }), running ? ['--config', '--live'] : ['--config'], entity);
    });
  }

  async update(entity: BackendEntity, changed: readonly string[]): Promise<Realised> {
    const current = await this.retrieve(entity);
    if (changed.includes(LINK_ATTR.deviceid)) {
      const now = current.attributes[LINK_ATTR.deviceid];
      if (entity.attributes[LINK_ATTR.deviceid] !== now) {
        throw new Conflict(`${LINK_ATTR.deviceid} of an attached disk cannot change (it is ${String(now)}); delete the storagelink and make a new one`);
      }
    }
    return current; // the mount point is the guest's business
  }
}

export function realisedDisk(ref: DiskRef, attached: boolean): Realised {
  return {
    attributes: attached
      ? { [LINK_ATTR.deviceid]: ref.target, [LINK_ATTR.state]: 'active', [LINK_ATTR.message]: `attached as ${ref.target} (virtio-scsi)` }
      : { [LINK_ATTR.deviceid]: ref.target, [LINK_ATTR.state]: 'inactive', [LINK_ATTR.message]: 'detached: its storage is offline; bringing it online attaches it again' },
    ref,
  };
}
