/**
 * Compute as a libvirt domain: define + start (all or nothing), live state, attribute changes on the
 * persistent definition, undefine. The domain's name derives from the entity's internal id and its
 * metadata names the entity and the occitan instance; a domain without this instance's metadata is
 * never touched.
 */
import { Conflict, NotFound } from '../../errors';
import type { Attributes } from '../../model/types';
import type { BackendEntity, Change, Realised } from '../backend';
import type { DomainMetadata, InstallBoot } from './domain-xml';
import {
  ATTR, CONSOLE_MIXIN, METADATA_KEY, METADATA_URI, SERIAL_XML, archOf, domainName, domainSpec, domainXml,
  hostnameOf, memoryMiB, metadataElement, parseMetadata, sharesOf, titleOf, vcpusOf,
} from './domain-xml';
import type { DomainStatus } from './state';
import { computeState, parseDominfo, parseDomstate } from './state';
import type { Virsh } from './virsh';
import { VirshError, isMissing, translateVirshError } from './virsh';

/** The private handle of a compute on libvirt. */
export interface DomainRef {
  domain: string;
  uuid: string;
}

export function domainRefOf(value: unknown): DomainRef | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Partial<DomainRef>;
  return typeof r.domain === 'string' && typeof r.uuid === 'string' ? (r as DomainRef) : undefined;
}

export interface DomainsDeps {
  virsh: Virsh;
  instance: string;
  type: 'kvm' | 'qemu';
  now(): number;
  log(msg: string, extra?: Record<string, unknown>): void;
}

export interface LiveDomain {
  name: string;
  uuid: string;
  status: DomainStatus;
  /** From dominfo: "Max memory" in KiB, "CPU(s)". */
  info: Record<string, string>;
}

export class Domains {
  constructor(private readonly d: DomainsDeps) {}

  private get virsh(): Virsh {
    return this.d.virsh;
  }

  /** occitan's metadata of a domain; undefined when the domain does not exist or carries none. */
  async metadata(name: string): Promise<DomainMetadata | undefined> {
    try {
      return parseMetadata(await this.virsh.run(['metadata', name, METADATA_URI]));
    } catch (e) {
      if (isMissing(e) || (e instanceof VirshError && /metadata not found|Requested metadata element is not present/i.test(e.message))) return undefined;
      throw translateVirshError(e, this.virsh, `read the metadata of domain ${name}`);
    }
  }

  /** Whether the domain named for `entity` exists and is this entity's (this instance's). */
  async owns(name: string, entityId: string): Promise<'mine' | 'foreign' | 'absent'> {
    if (!(await this.exists(name))) return 'absent';
    const m = await this.metadata(name);
    return m && m.id === entityId && m.instance === this.d.instance ? 'mine' : 'foreign';
  }

  async exists(name: string): Promise<boolean> {
    try {
      await this.virsh.run(['domuuid', name]);
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw translateVirshError(e, this.virsh, `look up domain ${name}`);
    }
  }

  /** The domain's live status, or undefined when it does not exist. */
  async live(name: string): Promise<LiveDomain | undefined> {
    let info: Record<string, string>;
    let reason: string;
    try {
      info = parseDominfo(await this.virsh.run(['dominfo', name]));
      reason = await this.virsh.run(['domstate', '--reason', name]);
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw translateVirshError(e, this.virsh, `read the state of domain ${name}`);
    }
    const status = parseDomstate(reason, /^yes$/i.test(info['Managed save'] ?? ''));
    return { name, uuid: info['UUID'] ?? '', status, info };
  }

  async mustLive(entity: BackendEntity): Promise<LiveDomain> {
    const name = domainName(entity.id);
    const found = await this.live(name);
    if (!found) throw new NotFound(`the domain of ${entity.location} (${name}) is gone from ${this.virsh.describe()}`);
    return found;
  }

  /** Runtime attributes and ref of a live domain. */
  async realised(entity: BackendEntity, live: LiveDomain): Promise<Realised> {
    const { state, message } = computeState(live.status);
    const attributes: Attributes = { [ATTR.state]: state, [ATTR.message]: message };
    if (entity.mixins.includes(CONSOLE_MIXIN)) {
      let pty = '';
      if (state === 'active' || live.status.state === 'paused') {
        pty = (await this.virsh.run(['ttyconsole', live.name]).catch(() => '')).trim();
      }
      attributes[ATTR.console] = pty;
    }
    const ref: DomainRef = { domain: live.name, uuid: live.uuid };
    return { attributes, ref };
  }

  async retrieve(entity: BackendEntity): Promise<Realised> {
    const live = await this.mustLive(entity);
    return this.realised(entity, live);
  }

  /** `boot`: the install mixin's (install.ts), its files already in the pool; the caller removes them if this throws. */
  async create(entity: BackendEntity, boot?: InstallBoot): Promise<Realised> {
    const spec = { ...domainSpec(entity, { instance: this.d.instance, type: this.d.type, created: this.d.now() }), ...(boot ? { boot } : {}) }; // 400 before anything is made
    const name = spec.name;
    const adopt = async (): Promise<Realised | undefined> => {
      const owner = await this.owns(name, entity.id);
      if (owner === 'absent') return undefined;
      if (owner === 'foreign') throw new Conflict(`a domain named ${name} exists on ${this.virsh.describe()} without this entity's occitan metadata; occitan leaves it alone`);
      const live = await this.live(name);
      if (!live) return undefined;
      return this.realised(entity, live);
    };
    const existing = await adopt();
    if (existing) return existing;

    try {
      await this.virsh.withXmlFile(domainXml(spec), (file) => this.virsh.run(['define', file]));
    } catch (e) {
      if (e instanceof VirshError && /already exists/i.test(e.message)) {
        const winner = await adopt(); // a concurrent create of the same entity
        if (winner) return winner;
      }
      throw translateVirshError(e, this.virsh, `define the domain of ${entity.location}`);
    }
    try {
      await this.virsh.run(['start', name]);
      const live = await this.live(name);
      if (!live) throw new NotFound(`the domain ${name} vanished right after it started`);
      return await this.realised(entity, live);
    } catch (e) {
      await this.remove(name).catch((undo: unknown) => this.d.log('libvirt provider could not remove a domain after a failed start', { domain: name, error: String(undo) }));
      throw translateVirshError(e, this.virsh, `start the domain of ${entity.location}`);
    }
  }

  /** Destroys (when running) and undefines a domain with its managed save; already gone is success. */
  async remove(name: string): Promise<void> {
    try {
      await this.virsh.run(['destroy', name]);
    } catch (e) {
      if (isMissing(e)) return;
      if (!(e instanceof VirshError && /not running|not active/i.test(e.message))) throw translateVirshError(e, this.virsh, `stop domain ${name}`);
    }
    try {
      await this.virsh.run(['undefine', name, '--managed-save', '--snapshots-metadata']);
    } catch (e) {
      if (isMissing(e)) return;
      throw translateVirshError(e, this.virsh, `undefine domain ${name}`);
    }
  }

  async delete(entity: BackendEntity): Promise<void> {
    const name = domainName(entity.id);
    const owner = await this.owns(name, entity.id);
    if (owner === 'foreign') {
      this.d.log('libvirt provider left alone a domain that carries another entity’s metadata', { domain: name, entity: entity.id });
      return;
    }
    if (owner === 'absent') return;
    await this.remove(name);
  }

  /**
   * Attribute changes go to the persistent definition (they apply at the next start): memory, cores,
   * share, host name and title; the console mixin adds or removes the serial port. A running domain's
   * share, host name and title change live too. The architecture of a domain cannot change.
   */
  async update(entity: BackendEntity, change: Change): Promise<Realised> {
    const a = entity.attributes;
    const live = await this.mustLive(entity);
    const name = live.name;
    const running = live.status.state !== 'shut off';
    const keys = Object.keys(change.attributes);
    const both = running ? ['--config', '--live'] : ['--config'];
    const what = (x: string): string => `change the ${x} of the domain of ${entity.location}`;

    if (keys.includes(ATTR.architecture)) {
      const xml = await this.virsh.call(['dumpxml', '--inactive', name], what('architecture'));
      const current = /<type\b[^>]*\barch='([^']+)'/.exec(xml)?.[1];
      if (current && current !== archOf(a)) {
        throw new Conflict(`the architecture of ${entity.location}'s virtual machine (${current}) cannot change; create a new compute instead`);
      }
    }
    // All values are checked before anything changes.
    const mib = keys.includes(ATTR.memory) ? memoryMiB(a) : undefined;
    const vcpus = keys.includes(ATTR.cores) ? vcpusOf(a) : undefined;
    const shares = keys.includes(ATTR.share) ? (sharesOf(a) ?? 1024) : undefined;
    hostnameOf(a);

    if (mib !== undefined) {
      const kib = String(mib * 1024);
      const currentKib = Number((live.info['Max memory'] ?? '').replace(/\D/g, '')) || 0;
      const steps = [['setmaxmem', name, kib, '--config'], ['setmem', name, kib, '--config']];
      for (const s of mib * 1024 >= currentKib ? steps : steps.reverse()) await this.virsh.call(s, what('memory'));
    }
    if (vcpus !== undefined) {
      const current = Number(live.info['CPU(s)']) || 1;
      const steps = [['setvcpus', name, String(vcpus), '--config', '--maximum'], ['setvcpus', name, String(vcpus), '--config']];
      for (const s of vcpus >= current ? steps : steps.reverse()) await this.virsh.call(s, what('cores'));
    }
    if (shares !== undefined) await this.virsh.call(['schedinfo', name, ...both, `cpu_shares=${shares}`], what('CPU share'));
    if (keys.includes(ATTR.hostname) || keys.includes('occi.core.title')) {
      const old = await this.metadata(name);
      const hostname = hostnameOf(a);
      const meta: DomainMetadata = {
        id: entity.id, instance: this.d.instance, tenant: entity.tenant, location: entity.location,
        ...(hostname ? { hostname } : {}), created: old?.created ?? this.d.now(),
      };
      await this.virsh.call(['metadata', name, METADATA_URI, '--key', METADATA_KEY, '--set', metadataElement(meta), ...both], what('metadata'));
      await this.virsh.call(['desc', name, '--title', ...both, titleOf(a) ?? ''], what('title'));
    }
    if (change.mixinsAdded.includes(CONSOLE_MIXIN) || change.mixinsRemoved.includes(CONSOLE_MIXIN)) {
      const xml = await this.virsh.call(['dumpxml', '--inactive', name], what('console'));
      const has = /<serial\b/.test(xml);
      // The entity as it is to be (the service merged the change).
      const wants = entity.mixins.includes(CONSOLE_MIXIN);
      if (wants !== has) {
        await this.virsh.withXmlFile(SERIAL_XML, (file) => this.virsh.call([wants ? 'attach-device' : 'detach-device', name, file, '--config'], what('console')));
      }
    }
    const after = await this.mustLive(entity);
    return this.realised(entity, after);
  }
}
