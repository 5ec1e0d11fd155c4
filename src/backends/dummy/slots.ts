/**
 * Per-source device names for links: a compute's network interfaces are eth0, eth1, … and its disks
 * vda, vdb, …, as a hypervisor would name them. One KeyedState document per (source, device family)
 * maps each link's entity id to its name, so
 *  - a new link gets the lowest free name (a deleted link's name is reused, as on a real machine),
 *  - re-creating the same link finds its own name again (create is idempotent),
 *  - two links of one source can never share a name (a client-chosen duplicate is a Conflict),
 *  - the document disappears with the source's last link (nothing accumulates in CouchDB).
 */
import type { EntityId, KeyedState } from '../backend';
import { Conflict, ServiceUnavailable } from '../../errors';

export interface SlotFamily {
  /** Key prefix in KeyedState; the source's id follows it. */
  prefix: string;
  /** What the names are, for messages ("interface", "device id"). */
  noun: string;
  generate(index: number): string;
}

/** eth0, eth1, … */
export const NIC_SLOTS: SlotFamily = { prefix: 'slots:nic:', noun: 'interface', generate: (i) => `eth${i}` };

/** vda … vdz, vdaa, vdab, … (the Linux virtio naming). */
export const DISK_SLOTS: SlotFamily = {
  prefix: 'slots:disk:',
  noun: 'device id',
  generate: (i) => {
    let n = i + 1;
    let s = '';
    while (n > 0) {
      n -= 1;
      s = String.fromCharCode(97 + (n % 26)) + s;
      n = Math.floor(n / 26);
    }
    return `vd${s}`;
  },
};

interface SlotDoc {
  used: Record<EntityId, string>;
}

/** Compare-and-set retries before a burst of concurrent writers is reported as a temporary outage. */
const ATTEMPTS = 8;

export function slotKey(family: SlotFamily, sourceKey: string): string {
  return family.prefix + sourceKey;
}

/**
 * Claims a name for `owner` on the source's slot document. With `wanted`, that exact name (Conflict when
 * another link of the source holds it); without, the owner's existing name, else the lowest free one.
 */
export async function claimSlot(
  state: KeyedState,
  family: SlotFamily,
  key: string,
  owner: EntityId,
  wanted?: string,
): Promise<string> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const current = await state.get<SlotDoc>(key);
    const used: Record<EntityId, string> = { ...(current?.value.used ?? {}) };
    const mine = used[owner];
    if (mine !== undefined && (wanted === undefined || wanted === mine)) return mine;
    const taken = new Set(Object.entries(used).filter(([id]) => id !== owner).map(([, name]) => name));
    let name: string;
    if (wanted !== undefined) {
      if (taken.has(wanted)) throw new Conflict(`${family.noun} ${wanted} is already used by another link of the same source`);
      name = wanted;
    } else {
      let i = 0;
      while (taken.has(family.generate(i))) i++;
      name = family.generate(i);
    }
    used[owner] = name;
    if (await state.put<SlotDoc>(key, { used }, current?.rev)) return name;
  }
  throw new ServiceUnavailable(`too many concurrent changes to the ${family.noun}s of one source; retry`);
}

/** Gives `owner`'s name back; removes the document when it was the last one. Missing is success. */
export async function releaseSlot(state: KeyedState, key: string, owner: EntityId): Promise<void> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const current = await state.get<SlotDoc>(key);
    if (!current || current.value.used[owner] === undefined) return;
    const used: Record<EntityId, string> = { ...current.value.used };
    delete used[owner];
    const done =
      Object.keys(used).length === 0 ? await state.delete(key, current.rev) : await state.put<SlotDoc>(key, { used }, current.rev);
    if (done) return;
  }
  throw new ServiceUnavailable('too many concurrent changes to the device names of one source; retry');
}
