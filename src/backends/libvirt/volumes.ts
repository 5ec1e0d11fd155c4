/**
 * Storage as a qcow2 volume in a libvirt directory pool. A volume carries no metadata of its own, so
 * its name says whose it is: `occitan-<instance>--<entity>.qcow2`. Sizes are GiB (fractions allowed),
 * rounded up to whole 512-byte sectors. A volume only grows: through `vol-resize`, or `blockresize` of
 * the running domain that has it attached (QEMU holds the image then).
 *
 * online/offline: `offline` detaches the volume from every domain of this instance and marks it in
 * the provider's keyed state (CouchDB), so no attachment is accepted; `online` lifts the mark and
 * attaches it again to the domains its storagelinks name.
 */
import { BadRequest, Conflict, NotFound } from '../../errors';
import type { Attributes } from '../../model/types';
import type { BackendEntity, Realised } from '../backend';
import { volumeName } from './domain-xml';
import type { Virsh } from './virsh';
import { isMissing, translateVirshError } from './virsh';

export const STORAGE_ATTR = {
  size: 'occi.storage.size',
  state: 'occi.storage.state',
  message: 'occi.storage.state.message',
} as const;

const GIB = 1024 ** 3;

/** The private handle of a storage on libvirt. */
export interface VolumeRef {
  pool: string;
  volume: string;
  path: string;
}

export interface VolumeInfo {
  name: string;
  path: string;
  capacity: number;
}

/** occi.storage.size GiB → bytes, whole sectors; 400 naming the attribute when it is not a size. */
export function sizeBytes(attributes: Readonly<Attributes>): number {
  const gib = attributes[STORAGE_ATTR.size];
  if (typeof gib !== 'number' || !Number.isFinite(gib) || gib <= 0) throw new BadRequest(`${STORAGE_ATTR.size} must be a number of GiB > 0; got ${JSON.stringify(gib)}`);
  if (gib > 1024 * 1024) throw new BadRequest(`${STORAGE_ATTR.size} ${gib} GiB is more than occitan makes (1 PiB)`);
  return Math.ceil((gib * GIB) / 512) * 512;
}

export class Volumes {
  constructor(private readonly virsh: Virsh, readonly pool: string, private readonly poolPath: string, private readonly instance: string) {}

  name(entityId: string): string {
    return volumeName(entityId, this.instance);
  }

  /** Defines, builds and starts the directory pool when missing or inactive. */
  async ensurePool(): Promise<void> {
    let info: string | undefined;
    try {
      info = await this.virsh.run(['pool-info', this.pool]);
    } catch (e) {
      if (!isMissing(e)) throw translateVirshError(e, this.virsh, `look up storage pool ${this.pool}`);
    }
    if (info === undefined) {
      await this.virsh.call(['pool-define-as', this.pool, 'dir', '--target', this.poolPath], `define storage pool ${this.pool} at ${this.poolPath}`);
      await this.virsh.call(['pool-build', this.pool], `build storage pool ${this.pool}`);
      await this.virsh.run(['pool-autostart', this.pool]).catch(() => undefined);
    }
    if (info === undefined || !/^State:\s+running/m.test(info)) {
      await this.virsh.call(['pool-start', this.pool], `start storage pool ${this.pool}`).catch((e: unknown) => {
        if (!/already active/i.test(String((e as Error).message))) throw e;
      });
    }
    await this.virsh.call(['pool-refresh', this.pool], `refresh storage pool ${this.pool}`);
  }

  async info(name: string): Promise<VolumeInfo | undefined> {
    let out: string;
    try {
      out = await this.virsh.run(['vol-info', '--bytes', '--pool', this.pool, name]);
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw translateVirshError(e, this.virsh, `read volume ${name}`);
    }
    const capacity = Number(/^Capacity:\s+(\d+)/m.exec(out)?.[1] ?? NaN);
    const path = (await this.virsh.call(['vol-path', '--pool', this.pool, name], `locate volume ${name}`)).trim();
    return { name, path, capacity };
  }

  async mustInfo(entity: BackendEntity): Promise<VolumeInfo> {
    const found = await this.info(this.name(entity.id));
    if (!found) throw new NotFound(`the volume of ${entity.location} is gone from pool ${this.pool}`);
    return found;
  }

  ref(v: VolumeInfo): VolumeRef {
    return { pool: this.pool, volume: v.name, path: v.path };
  }

  /** Creates the entity's volume, or adopts it when it exists. */
  async create(entity: BackendEntity): Promise<VolumeInfo> {
    const bytes = sizeBytes(entity.attributes);
    const name = this.name(entity.id);
    const existing = await this.info(name);
    if (existing) return existing;
    try {
      await this.virsh.run(['vol-create-as', this.pool, name, `${bytes}B`, '--format', 'qcow2']);
    } catch (e) {
      const again = await this.info(name).catch(() => undefined); // a concurrent create of the same entity
      if (again && /already exists|in use/i.test(String((e as Error).message))) return again;
      throw translateVirshError(e, this.virsh, `create the volume of ${entity.location}`);
    }
    const made = await this.info(name);
    if (!made) throw new NotFound(`the volume of ${entity.location} vanished right after it was made`);
    return made;
  }

  /** Grows to `bytes`: through `resizeLive` when a running domain holds the image, else vol-resize. */
  async grow(entity: BackendEntity, v: VolumeInfo, bytes: number, resizeLive?: (path: string, bytes: number) => Promise<boolean>): Promise<void> {
    if (bytes < v.capacity) {
      throw new BadRequest(`${STORAGE_ATTR.size} can only grow: the volume of ${entity.location} holds ${v.capacity / GIB} GiB, and shrinking it would cut off its data`);
    }
    if (bytes === v.capacity) return;
    if (resizeLive && (await resizeLive(v.path, bytes))) return;
    await this.virsh.call(['vol-resize', '--pool', this.pool, v.name, `${bytes}B`], `grow the volume of ${entity.location}`);
  }

  async delete(name: string): Promise<void> {
    try {
      await this.virsh.run(['vol-delete', '--pool', this.pool, name]);
    } catch (e) {
      if (isMissing(e)) return;
      throw translateVirshError(e, this.virsh, `delete volume ${name}`);
    }
  }

  /** Names of this instance's volumes in the pool, with their ctime (s since the epoch). */
  async listOwn(prefix: string): Promise<Array<{ name: string; ctime: number }>> {
    await this.virsh.call(['pool-refresh', this.pool], `refresh storage pool ${this.pool}`);
    const out = await this.virsh.call(['vol-list', this.pool], `list the volumes of pool ${this.pool}`);
    const names = out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((n) => n.startsWith(prefix));
    const result: Array<{ name: string; ctime: number }> = [];
    for (const name of names) {
      const xml = await this.virsh.run(['vol-dumpxml', '--pool', this.pool, name]).catch(() => '');
      result.push({ name, ctime: Number(/<ctime>([\d.]+)<\/ctime>/.exec(xml)?.[1] ?? 0) });
    }
    return result;
  }

  static conflictOffline(location: string): Conflict {
    return new Conflict(`storage ${location} is offline: bring it online (action online) before attaching it`);
  }
}

export function realisedVolume(ref: VolumeRef, offline: boolean): Realised {
  return {
    attributes: {
      [STORAGE_ATTR.state]: offline ? 'offline' : 'online',
      [STORAGE_ATTR.message]: offline ? 'offline: detached from every compute, and no attachment is accepted' : `volume ${ref.volume} in pool ${ref.pool}`,
    },
    ref,
  };
}
