/**
 * The libvirt provider: a compute is a libvirt domain (QEMU, KVM where usable), a storage a qcow2 volume
 * in a directory pool, a storagelink a virtio-scsi disk of a domain. libvirt is driven through `virsh`
 * (execFile, argument arrays). backends.json:
 *
 *   "libvirt": { "backend": "libvirt", "optional": true,
 *                "options": { "uri": "qemu:///system", "pool": "occitan", "poolPath": "/var/lib/occitan/images", "instance": "default" } }
 *
 * Named waits (`clock.duration`): libvirtStopTimeout (graceful stop/restart before destroy/reset, 10 s),
 * libvirtReapGrace (age under which an unowned domain or volume of this instance is left alone at
 * start-up, 60 s), libvirtRequestTimeout (one virsh call, 60 s), libvirtInstallFetchTimeout (fetching an
 * install kernel and initrd, both, 300 s), ovsCommandTimeout (one ovs-vsctl call for VM interfaces, 10 s),
 * libvirtRefreshPeriod (how often every compute's state is read again while running, 60 s; 0: never).
 *
 * While it runs, libvirt's lifecycle events keep each compute's state true (events.ts): a domain stopped,
 * started or undefined outside occitan is reported through the context.
 *
 * A compute with the install mixin boots its installer (install.ts): direct kernel boot from a kernel and
 * initrd fetched into the pool (options installHosts, installMaxBytes), or network boot.
 *
 * Refs: compute `{ domain, uuid }`, storage `{ pool, volume, path }`, storagelink `{ domain, volume, alias, target }`,
 * networkinterface `{ domain, alias, dev, mac, bridge, vlan, interfaceId }`.
 *
 * A networkinterface whose source is one of its domains is this provider's (the service gives a link to
 * its source's provider when that provider serves the link's kind); its target must be a network of the
 * ovs provider, whose ref (`{ bridge, vlan, port }`) the service hands over as `target.ref` (interfaces.ts).
 */
import { Conflict, Internal, NotImplemented } from '../../errors';
import type { Attributes, TypeId } from '../../model/types';
import { INFRA, splitTypeId } from '../../model/types';
import type { Backend, BackendContext, BackendEntity, Change, Realised } from '../backend';
import { ACTIONS as COMPUTE_ACTIONS, performAction } from './actions';
import { Disks, diskRefOf } from './disks';
import { Interfaces, OvsPorts } from './interfaces';
import { domainName, domainSpec } from './domain-xml';
import { Domains } from './domains';
import { BusyEntities } from '../busy-entities';
import { LifecycleWatcher } from './events';
import { INSTALL_MIXIN, InstallFiles, installChange, installRequest } from './install';
import { parseOptions } from './options';
import type { LibvirtOptions } from './options';
import { reconcile } from './reconcile';
import { Virsh, translateVirshError } from './virsh';
import { STORAGE_ATTR, Volumes, realisedVolume, sizeBytes } from './volumes';
import type { VolumeInfo } from './volumes';

const COMPUTE = INFRA + 'compute';
const STORAGE = INFRA + 'storage';
const STORAGELINK = INFRA + 'storagelink';
const NETWORKINTERFACE = INFRA + 'networkinterface';
const STORAGE_ACTIONS_SCHEME = 'http://schemas.ogf.org/occi/infrastructure/storage/action#';
const STORAGE_ACTIONS: readonly TypeId[] = ['online', 'offline', 'resize'].map((t) => STORAGE_ACTIONS_SCHEME + t);

interface Parts {
  ctx: BackendContext;
  options: LibvirtOptions;
  virsh: Virsh;
  domains: Domains;
  volumes: Volumes;
  disks: Disks;
  interfaces: Interfaces;
  install: InstallFiles;
  type: 'kvm' | 'qemu';
  watcher: LifecycleWatcher;
}

class LibvirtBackend implements Backend {
  readonly kinds: readonly TypeId[] = [COMPUTE, STORAGE, STORAGELINK, NETWORKINTERFACE];
  readonly actions: readonly TypeId[] = [...COMPUTE_ACTIONS, ...STORAGE_ACTIONS];
  private parts: Parts | undefined;
  /** Entities occitan is working on: the event watcher leaves them to that request. */
  private readonly busy = new BusyEntities();

  constructor(readonly name: string) {}

  async init(ctx: BackendContext): Promise<void> {
    const options = parseOptions(ctx.options);
    const virsh = new Virsh(options.uri, ctx.clock.duration('libvirtRequestTimeout', 60_000));
    // The daemon must answer; then the hypervisor says whether KVM is usable.
    await virsh.call(['version'], 'ask its version');
    let type: 'kvm' | 'qemu' = options.domainType === 'kvm' ? 'kvm' : 'qemu';
    if (options.domainType === 'auto') {
      const caps = await virsh.call(['capabilities'], 'read its capabilities');
      type = /<domain type=['"]kvm['"]/.test(caps) ? 'kvm' : 'qemu';
    }
    const volumes = new Volumes(virsh, options.pool, options.poolPath, options.instance);
    await volumes.ensurePool();
    const domains = new Domains({
      virsh,
      instance: options.instance,
      type,
      now: () => ctx.clock.now(),
      log: (msg, extra) => ctx.log.error(msg, extra),
    });
    const disks = new Disks({ virsh, domains, volumes, instance: options.instance, isOffline: (v) => this.isOffline(ctx, v) });
    const interfaces = new Interfaces({ virsh, domains, ovs: new OvsPorts(ctx.clock.duration('ovsCommandTimeout', 10_000)), log: ctx.log });
    // Events first, so that nothing that happens during the reconciliation goes unseen.
    const watcher = new LifecycleWatcher({ ctx, virsh, domains, instance: options.instance, periodMs: ctx.clock.duration('libvirtRefreshPeriod', 60_000), busy: this.busy });
    watcher.open();
    try {
      await reconcile({ ctx, virsh, domains, volumes, disks, interfaces, instance: options.instance, graceMs: ctx.clock.duration('libvirtReapGrace', 60_000) });
    } catch (e) {
      await watcher.stop();
      throw e;
    }
    const install = new InstallFiles({
      virsh, pool: options.pool, instance: options.instance,
      limits: { hosts: options.installHosts, maxBytes: options.installMaxBytes },
      fetchTimeoutMs: ctx.clock.duration('libvirtInstallFetchTimeout', 300_000),
      log: (msg, extra) => ctx.log.error(msg, extra),
    });
    this.parts = { ctx, options, virsh, domains, volumes, disks, interfaces, install, type, watcher };
    watcher.startPeriodic();
    ctx.log.info(`libvirt provider ${this.name} ready`, { uri: options.uri, pool: options.pool, instance: options.instance, domainType: type });
  }

  async close(): Promise<void> {
    const p = this.parts;
    this.parts = undefined;
    await p?.watcher.stop();
  }

  private need(): Parts {
    if (!this.parts) throw new Internal(`provider ${this.name} used before init or after close`);
    return this.parts;
  }

  // --- offline marks (the provider's keyed state) ---------------------------------------------------

  private async isOffline(ctx: BackendContext, volume: string): Promise<boolean> {
    return (await ctx.state.get(`offline:${volume}`)) !== undefined;
  }

  private async setOffline(ctx: BackendContext, volume: string, offline: boolean): Promise<void> {
    const key = `offline:${volume}`;
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await ctx.state.get<{ since: number }>(key);
      if (offline ? cur !== undefined : cur === undefined) return;
      const ok = offline ? await ctx.state.put(key, { since: ctx.clock.now() }) : await ctx.state.delete(key, cur!.rev);
      if (ok) return;
    }
    throw new Conflict(`the storage ${volume} keeps changing state; retry`);
  }

  // --- the interface ------------------------------------------------------------------------------

  async create(entity: BackendEntity): Promise<Realised> {
    return this.busy.run(entity.id, () => this.createEntity(entity));
  }

  private async createEntity(entity: BackendEntity): Promise<Realised> {
    const p = this.need();
    switch (entity.kind) {
      case COMPUTE:
        return this.createCompute(p, entity);
      case STORAGE: {
        const v = await p.volumes.create(entity);
        return realisedVolume(p.volumes.ref(v), await this.isOffline(p.ctx, v.name));
      }
      case STORAGELINK:
        return p.disks.create(entity);
      case NETWORKINTERFACE:
        return p.interfaces.create(entity);
      default:
        throw new NotImplemented(`the libvirt provider does not realise ${entity.kind}`);
    }
  }

  async retrieve(entity: BackendEntity): Promise<Realised> {
    const p = this.need();
    switch (entity.kind) {
      case COMPUTE:
        return p.domains.retrieve(entity);
      case STORAGE: {
        const v = await p.volumes.mustInfo(entity);
        return realisedVolume(p.volumes.ref(v), await this.isOffline(p.ctx, v.name));
      }
      case STORAGELINK:
        return p.disks.retrieve(entity);
      case NETWORKINTERFACE:
        return p.interfaces.retrieve(entity);
      default:
        throw new NotImplemented(`the libvirt provider does not realise ${entity.kind}`);
    }
  }

  async update(current: BackendEntity, change: Change): Promise<Realised> {
    return this.busy.run(current.id, () => this.updateEntity(current, change));
  }

  private async updateEntity(current: BackendEntity, change: Change): Promise<Realised> {
    const p = this.need();
    // The entity as it is to be (the service already merged the change; a caller that did not is served too).
    const entity: BackendEntity = { ...current, attributes: { ...current.attributes, ...change.attributes } };
    switch (entity.kind) {
      case COMPUTE: {
        // Checked before anything changes (409); the install boot goes once the rest has applied.
        const install = installChange(entity, change);
        const realised = await p.domains.update(entity, change);
        if (install === 'drop') await p.install.drop(entity, domainName(entity.id));
        return realised;
      }
      case STORAGE: {
        const v = await p.volumes.mustInfo(entity);
        if (STORAGE_ATTR.size in change.attributes) await this.grow(p, entity, v, sizeBytes(entity.attributes));
        return this.retrieve(entity);
      }
      case STORAGELINK:
        return p.disks.update(entity, Object.keys(change.attributes));
      case NETWORKINTERFACE:
        return p.interfaces.update(entity, Object.keys(change.attributes));
      default:
        throw new NotImplemented(`the libvirt provider does not realise ${entity.kind}`);
    }
  }

  /**
   * A compute, with the install mixin's boot (install.ts): every attribute and install URL is checked
   * first (400, nothing made); the installer files are fetched into the pool only for a domain that does
   * not exist yet (an existing one is adopted). All or nothing: when the domain cannot be made, the
   * fetched files go too.
   */
  private async createCompute(p: Parts, entity: BackendEntity): Promise<Realised> {
    domainSpec(entity, { instance: p.options.instance, type: p.type, created: 0 });
    const request = installRequest(entity, { hosts: p.options.installHosts, maxBytes: p.options.installMaxBytes });
    if (request === undefined || request.method === 'network') return p.domains.create(entity, request);
    const name = domainName(entity.id);
    if ((await p.domains.owns(name, entity.id)) !== 'absent') return p.domains.create(entity);
    const boot = await p.install.fetch(entity, request);
    try {
      return await p.domains.create(entity, boot);
    } catch (e) {
      // A concurrent create of the same entity that won keeps the files its domain boots from.
      const owner = await p.domains.owns(name, entity.id).catch(() => 'absent' as const);
      if (owner !== 'mine') {
        await p.install.remove(entity.id).catch((undo: unknown) => p.ctx.log.error('libvirt provider could not remove install files after a failed create', { entity: entity.id, error: String(undo) }));
      }
      throw e;
    }
  }

  /** Grows a volume; while a running domain holds it, through that domain (blockresize). */
  private async grow(p: Parts, entity: BackendEntity, v: VolumeInfo, bytes: number): Promise<void> {
    await p.volumes.grow(entity, v, bytes, async (path, size) => {
      for (const domain of await p.disks.ownDomains()) {
        const live = await p.domains.live(domain);
        if (!live || live.status.state === 'shut off') continue;
        if (!(await p.disks.disksOf(domain, true)).some((x) => x.source === path)) continue;
        await p.virsh.call(['blockresize', domain, path, `${size}B`], `grow the volume of ${entity.location} (attached to running domain ${domain})`);
        return true;
      }
      return false;
    });
  }

  async delete(entity: BackendEntity): Promise<void> {
    return this.busy.run(entity.id, () => this.deleteEntity(entity));
  }

  private async deleteEntity(entity: BackendEntity): Promise<void> {
    const p = this.need();
    switch (entity.kind) {
      case COMPUTE:
        await p.domains.delete(entity);
        // Only a compute with the install mixin has installer files (removing the mixin removes them).
        if (entity.mixins.includes(INSTALL_MIXIN)) await p.install.remove(entity.id);
        return;
      case STORAGE: {
        const name = p.volumes.name(entity.id);
        const v = await p.volumes.info(name);
        if (v) {
          await p.disks.detachEverywhere(v.path);
          await p.volumes.delete(name);
        }
        await this.setOffline(p.ctx, name, false);
        return;
      }
      case STORAGELINK:
        return p.disks.delete(entity);
      case NETWORKINTERFACE:
        return p.interfaces.delete(entity);
      default:
        return;
    }
  }

  async action(entity: BackendEntity, action: TypeId, params: Attributes): Promise<Realised> {
    return this.busy.run(entity.id, () => this.act(entity, action, params));
  }

  private async act(entity: BackendEntity, action: TypeId, params: Attributes): Promise<Realised> {
    const p = this.need();
    if (entity.kind === COMPUTE) {
      return performAction({ virsh: p.virsh, domains: p.domains, stopTimeoutMs: p.ctx.clock.duration('libvirtStopTimeout', 10_000) }, entity, action, params);
    }
    if (entity.kind !== STORAGE || splitTypeId(action).scheme !== STORAGE_ACTIONS_SCHEME || !STORAGE_ACTIONS.includes(action)) {
      throw new NotImplemented(`the libvirt provider cannot perform ${action} on ${entity.kind}`);
    }
    const v = await p.volumes.mustInfo(entity);
    switch (splitTypeId(action).term) {
      case 'offline':
        // Marked first, so that no attachment slips in while the disks go.
        await this.setOffline(p.ctx, v.name, true);
        await p.disks.detachEverywhere(v.path);
        return realisedVolume(p.volumes.ref(v), true);
      case 'online':
        await this.setOffline(p.ctx, v.name, false);
        await this.reattachLinks(p, v);
        return realisedVolume(p.volumes.ref(v), false);
      default: {
        // resize (OCCI 1.1): the new size in GiB; it only grows, as an update does.
        const size = params['size'];
        const bytes = sizeBytes({ [STORAGE_ATTR.size]: size ?? null });
        await this.grow(p, entity, v, bytes);
        const r = realisedVolume(p.volumes.ref(v), await this.isOffline(p.ctx, v.name));
        return { ...r, attributes: { ...r.attributes, [STORAGE_ATTR.size]: size as number } };
      }
    }
  }

  /** online: the storagelinks of this volume (this provider's) are attached again. */
  private async reattachLinks(p: Parts, v: VolumeInfo): Promise<void> {
    for await (const e of p.ctx.owned()) {
      if (e.kind !== STORAGELINK) continue;
      const ref = diskRefOf(e.ref);
      if (!ref || ref.volume !== v.name) continue;
      await p.disks.reattach(ref, v.path, e).catch((err: unknown) =>
        p.ctx.log.warn('libvirt provider could not attach a disk again when its storage came online', { link: e.id, domain: ref.domain, error: String(translateVirshError(err, p.virsh, 'attach it')) }),
      );
    }
  }
}

/** The registry's factory: `name` is the provider key from backends.json. */
export function createBackend(name: string): Backend {
  return new LibvirtBackend(name);
}

export { CONSOLE_MIXIN, LIBVIRT_SCHEME, METADATA_URI, diskAlias, domainName, domainXml, volumeName } from './domain-xml';
export type { DomainRef } from './domains';
export type { DiskRef } from './disks';
export type { InterfaceRef } from './interfaces';
export { interfaceIdFor, tapName, vmMacFor } from './interface-xml';
export type { VolumeRef } from './volumes';
