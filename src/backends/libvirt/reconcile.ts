/**
 * Start-up reconciliation with what occitan stored (adopt, mark, reap), for this instance only:
 * - a domain or volume whose entity occitan still has is adopted: lookups go by name, nothing to do;
 * - an entity whose domain or volume is gone (removed behind occitan's back) is reported in error;
 * - a domain (metadata naming this instance) or volume (`occitan-<instance>--…`) whose entity no longer
 *   exists is removed once older than the grace period: a create in flight in another process stores
 *   its document before it defines anything, and the platform is listed before the documents.
 * - a disk with an occitan alias on one of this instance's domains whose storagelink no longer exists
 *   is detached.
 * Domains without this instance's metadata, and other volumes of the pool, are never touched.
 */
import { INFRA } from '../../model/types';
import type { BackendContext, BackendEntity } from '../backend';
import type { Disks } from './disks';
import { ATTR, METADATA_URI, diskAlias, domainName, parseMetadata } from './domain-xml';
import type { Domains } from './domains';
import { domainRefOf } from './domains';
import type { Virsh } from './virsh';
import type { Volumes } from './volumes';
import { STORAGE_ATTR } from './volumes';
import { volumePrefix } from './domain-xml';

export interface ReconcileDeps {
  ctx: BackendContext;
  virsh: Virsh;
  domains: Domains;
  volumes: Volumes;
  disks: Disks;
  instance: string;
  graceMs: number;
}

export interface ReconcileResult {
  reapedDomains: string[];
  reapedVolumes: string[];
  detachedDisks: string[];
  vanished: string[];
}

export async function reconcile(d: ReconcileDeps): Promise<ReconcileResult> {
  const { ctx, virsh } = d;
  const result: ReconcileResult = { reapedDomains: [], reapedVolumes: [], detachedDisks: [], vanished: [] };
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
    if (e.kind === INFRA + 'compute') computes.add(domainName(e.id));
    else if (e.kind === INFRA + 'storage') storages.add(d.volumes.name(e.id));
    else if (e.kind === INFRA + 'storagelink') links.add(diskAlias(e.id));
  }

  // 2. Orphans: reaped when old enough.
  for (const [name, m] of domains) {
    if (computes.has(name) || now - m.created < d.graceMs) continue;
    await d.domains.remove(name);
    result.reapedDomains.push(name);
    ctx.log.info('libvirt provider removed a domain no entity owns', { domain: name, entity: m.entity });
  }
  for (const v of volumes) {
    if (storages.has(v.name) || now - v.ctime * 1000 < d.graceMs) continue;
    await d.volumes.delete(v.name);
    result.reapedVolumes.push(v.name);
    ctx.log.info('libvirt provider removed a volume no entity owns', { volume: v.name });
  }
  for (const name of domains.keys()) {
    if (!computes.has(name)) continue;
    for (const disk of await d.disks.disksOf(name, false).catch(() => [])) {
      if (!disk.alias?.startsWith('ua-occitan-') || links.has(disk.alias)) continue;
      await d.disks.detach(name, disk.alias);
      result.detachedDisks.push(`${name}/${disk.alias}`);
      ctx.log.info('libvirt provider detached a disk no storagelink owns', { domain: name, alias: disk.alias });
    }
  }

  // 3. Entities whose platform object is gone.
  const volumeNames = new Set(volumes.map((v) => v.name));
  for (const [id, e] of owned) {
    if (e.ref === undefined) continue; // never realised
    if (e.kind === INFRA + 'compute' && !domains.has(domainName(id))) {
      const ref = domainRefOf(e.ref);
      result.vanished.push(id);
      await ctx.report(id, { attributes: { [ATTR.state]: 'error', [ATTR.message]: `its domain ${ref?.domain ?? domainName(id)} is gone from ${virsh.describe()} (removed outside occitan)` } });
    } else if (e.kind === INFRA + 'storage' && !volumeNames.has(d.volumes.name(id))) {
      result.vanished.push(id);
      await ctx.report(id, { attributes: { [STORAGE_ATTR.state]: 'error', [STORAGE_ATTR.message]: `its volume ${d.volumes.name(id)} is gone from pool ${d.volumes.pool} (removed outside occitan)` } });
    }
  }
  return result;
}
