/**
 * Start-up reconciliation with what occitan stored (adopt, refresh, mark, reap), for this instance only:
 * - a domain or volume whose entity occitan still has is adopted: lookups go by name;
 * - an adopted compute's state (and console) is reported when libvirt's differs from what is stored: the
 *   domain stopped, crashed or was paused while occitan was down, or a virsh call of an action that a
 *   SIGKILL cut short finished without occitan. Only realised entities (with a ref): one being created
 *   gets its state from that request. (An action running in another process at that moment may report
 *   after this, and wins.)
 * - an entity whose domain or volume is gone (removed behind occitan's back) is reported in error, after
 *   a second look: one realised by another process since the listing is there now;
 * - a storagelink whose disk is gone from its domain's definition (or whose domain is gone) is reported
 *   in error; one whose storage is offline is inactive, as retrieve says;
 * - a domain (metadata naming this instance) or volume (`occitan-<instance>--…`) whose entity no longer
 *   exists is removed once older than the grace period: a create in flight in another process stores
 *   its document before it defines anything, and the platform is listed before the documents.
 * - a disk with an occitan alias on one of this instance's domains whose storagelink no longer exists
 *   is detached; an interface whose networkinterface no longer exists is unplugged, and OVS ports of
 *   occitan's VM taps whose domain is gone (or whose tap is) are removed (interfaces.ts).
 * Domains without this instance's metadata, and other volumes of the pool, are never touched.
 * Each removal or report is on its own: one that fails is logged (warn) and left for the next start, and
 * only an unreachable libvirtd (503) stops the start-up.
 */
import { NotFound, ServiceUnavailable } from '../../errors';
import { INFRA } from '../../model/types';
import type { BackendContext, BackendEntity, Realised } from '../backend';
import type { Disks } from './disks';
import { LINK_ATTR } from './disks';
import type { Interfaces } from './interfaces';
import { ATTR, METADATA_URI, diskAlias, domainName, parseMetadata } from './domain-xml';
import type { Domains } from './domains';
import { domainRefOf } from './domains';
import type { Virsh } from './virsh';
import type { Volumes } from './volumes';
import { STORAGE_ATTR } from './volumes';
import { volumePrefix } from './domain-xml';
import { installVolumeNames } from './install';

export interface ReconcileDeps {
  ctx: BackendContext;
  virsh: Virsh;
  domains: Domains;
  volumes: Volumes;
  disks: Disks;
  /** Absent: interfaces are not reconciled (callers that only test disks and volumes). */
  interfaces?: Interfaces;
  instance: string;
  graceMs: number;
}

export interface ReconcileResult {
  reapedDomains: string[];
  reapedVolumes: string[];
  detachedDisks: string[];
  vanished: string[];
  /** Computes and storagelinks whose stored state was refreshed from libvirt. */
  refreshed: string[];
  unpluggedInterfaces?: string[];
  removedPorts?: string[];
}

export async function reconcile(d: ReconcileDeps): Promise<ReconcileResult> {
  const { ctx, virsh } = d;
  const result: ReconcileResult = { reapedDomains: [], reapedVolumes: [], detachedDisks: [], vanished: [], refreshed: [] };
  // 1. The platform first, then the documents.
  const names = (await virsh.call(['list', '--all', '--name'], 'list its domains')).split('\n').map((l) => l.trim()).filter((n) => n.startsWith('occitan-'));
  const domains = new Map<string, { entity: string; created: number }>();
  for (const name of names) {
    const m = parseMetadata(await virsh.run(['metadata', name, METADATA_URI]).catch(() => ''));
    if (m && m.instance === d.instance) domains.set(name, { entity: m.id, created: m.created });
  }
  const volumes = await d.volumes.listOwn(volumePrefix(d.instance));
  const owned = new Map<string, BackendEntity>();
  for await (const e of ctx.owned()) owned.set(e.id, e);

  const now = ctx.clock.now();
  const computes = new Set<string>();
  const storages = new Set<string>();
  const links = new Set<string>();
  for (const e of owned.values()) {
    if (e.kind === INFRA + 'compute') {
      computes.add(domainName(e.id));
      // A compute's installer files (install.ts) are kept with it, and reaped as orphans like volumes.
      const install = installVolumeNames(e.id, d.instance);
      storages.add(install.kernel).add(install.initrd);
    }
    else if (e.kind === INFRA + 'storage') storages.add(d.volumes.name(e.id));
    else if (e.kind === INFRA + 'storagelink') links.add(diskAlias(e.id));
  }

  // 2. Orphans: reaped when old enough. Stray disks go before orphan volumes, so no kept domain is left
  // naming a deleted file.
  const attempt = (what: string, extra: Record<string, unknown>, f: () => Promise<void>): Promise<boolean> => bestEffort(ctx, what, extra, f);
  for (const [name, m] of domains) {
    if (computes.has(name) || now - m.created < d.graceMs) continue;
    if (!(await attempt('remove a domain no entity owns', { domain: name, entity: m.entity }, () => d.domains.remove(name)))) continue;
    result.reapedDomains.push(name);
    ctx.log.info('libvirt provider removed a domain no entity owns', { domain: name, entity: m.entity });
  }
  for (const name of domains.keys()) {
    if (!computes.has(name)) continue;
    for (const disk of await d.disks.disksOf(name, false).catch(() => [])) {
      if (!disk.alias?.startsWith('ua-occitan-') || links.has(disk.alias)) continue;
      if (!(await attempt('detach a disk no storagelink owns', { domain: name, alias: disk.alias }, () => d.disks.detach(name, disk.alias!)))) continue;
      result.detachedDisks.push(`${name}/${disk.alias}`);
      ctx.log.info('libvirt provider detached a disk no storagelink owns', { domain: name, alias: disk.alias });
    }
  }
  for (const v of volumes) {
    if (storages.has(v.name) || now - v.ctime * 1000 < d.graceMs) continue;
    if (!(await attempt('remove a volume no entity owns', { volume: v.name }, () => d.volumes.delete(v.name)))) continue;
    result.reapedVolumes.push(v.name);
    ctx.log.info('libvirt provider removed a volume no entity owns', { volume: v.name });
  }

  if (d.interfaces) {
    // After the reaping: a removed domain's ports go with it (libvirt removes them at destroy; this sweeps the rest).
    const nics = await d.interfaces.reconcile([...domains.keys()].filter((n) => computes.has(n)), owned.values());
    result.unpluggedInterfaces = nics.unplugged;
    result.removedPorts = nics.removedPorts;
  }

  // 3. Entities: refreshed from libvirt, or reported in error when their platform object is gone.
  const volumeNames = new Set(volumes.map((v) => v.name));
  for (const [id, e] of owned) {
    if (e.ref === undefined) continue; // never realised, or being created: that request reports
    await attempt('reconcile an entity with libvirt', { entity: id, location: e.location }, async () => {
      if (e.kind === INFRA + 'compute') await reconcileCompute(d, e, domains.has(domainName(id)), result);
      else if (e.kind === INFRA + 'storage' && !volumeNames.has(d.volumes.name(id)) && !(await d.volumes.info(d.volumes.name(id)))) {
        result.vanished.push(id);
        await ctx.report(id, { attributes: { [STORAGE_ATTR.state]: 'error', [STORAGE_ATTR.message]: `its volume ${d.volumes.name(id)} is gone from pool ${d.volumes.pool} (removed outside occitan)` } });
      } else if (e.kind === INFRA + 'storagelink') await reconcileLink(d, e, result);
    });
  }
  return result;
}

/** What a compute whose domain was removed outside occitan says (here and while running, events.ts). */
export function domainGoneMessage(virsh: Pick<Virsh, 'describe'>, e: BackendEntity): string {
  return `its domain ${domainRefOf(e.ref)?.domain ?? domainName(e.id)} is gone from ${virsh.describe()} (removed outside occitan)`;
}

/** A compute's stored state from its domain; in error when the domain is gone (looked up again: it may be new). */
async function reconcileCompute(d: ReconcileDeps, e: BackendEntity, listed: boolean, result: ReconcileResult): Promise<void> {
  const name = domainName(e.id);
  const live = listed || (await d.domains.owns(name, e.id)) === 'mine' ? await d.domains.live(name) : undefined;
  if (!live) {
    const message = domainGoneMessage(d.virsh, e);
    if (e.attributes[ATTR.state] === 'error' && e.attributes[ATTR.message] === message) return;
    result.vanished.push(e.id);
    await d.ctx.report(e.id, { attributes: { [ATTR.state]: 'error', [ATTR.message]: message } });
    return;
  }
  await reportIfChanged(d, e, await d.domains.realised(e, live), result);
}

/** A storagelink's stored state from its domain's definition; in error when its disk or domain is gone. */
async function reconcileLink(d: ReconcileDeps, e: BackendEntity, result: ReconcileResult): Promise<void> {
  try {
    await reportIfChanged(d, e, await d.disks.retrieve(e), result);
  } catch (err) {
    if (!(err instanceof NotFound)) throw err;
    const message = `${err.message} (removed outside occitan)`;
    if (e.attributes[LINK_ATTR.state] === 'error' && e.attributes[LINK_ATTR.message] === message) return;
    result.vanished.push(e.id);
    await d.ctx.report(e.id, { attributes: { [LINK_ATTR.state]: 'error', [LINK_ATTR.message]: message } });
  }
}

async function reportIfChanged(d: ReconcileDeps, e: BackendEntity, realised: Realised, result: ReconcileResult): Promise<void> {
  const changed = Object.entries(realised.attributes).some(([k, v]) => JSON.stringify(e.attributes[k]) !== JSON.stringify(v));
  if (!changed && JSON.stringify(realised.ref) === JSON.stringify(e.ref)) return;
  result.refreshed.push(e.id);
  await d.ctx.report(e.id, realised);
  d.ctx.log.info('libvirt provider refreshed an entity from libvirt', { entity: e.id, location: e.location, attributes: realised.attributes });
}

/** Runs one reconciliation step; a failure is logged and skipped (the next start tries again), except an unreachable libvirtd. */
async function bestEffort(ctx: BackendContext, what: string, extra: Record<string, unknown>, f: () => Promise<void>): Promise<boolean> {
  try {
    await f();
    return true;
  } catch (e) {
    if (e instanceof ServiceUnavailable) throw e;
    ctx.log.warn(`libvirt provider could not ${what}; the next start tries again`, { ...extra, error: (e as Error).message });
    return false;
  }
}
