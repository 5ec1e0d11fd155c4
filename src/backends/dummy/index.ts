/**
 * The dummy provider: entities realised as records in the provider's KeyedState (CouchDB), with the
 * GFD.224 state machines of machines.ts. It is what a bare machine runs everything on, what the service
 * tests run against, and the recorder behind kinds no real backend serves.
 *
 * Records: one KeyedState document per entity, key = the entity id (`DummyRecord`), holding the entity's
 * non-core attributes (its "configuration", merged on update), the attributes this provider owns (state,
 * generated interface/MAC/device id), the mixins, and a short action history. Link device names live in
 * slot documents keyed by the link's source (slots.ts).
 *
 * What it reports (`Realised.attributes`): only the attributes it owns (see `KindMachine.owned`), never an
 * echo of the configuration, so a mixin's attributes the service removed can never come back from here.
 *
 * Kinds other than the five infrastructure ones (an admin-defined kind such as an orchestrator): the
 * registry hands them to this provider because no backend serves them. Such an entity is recorded like
 * the others, owns no attributes, and ANY action on it is accepted: appended to the record's `history`
 * and answered with the entity's current attributes. `actions` below lists only the infrastructure
 * actions, because Backend.actions is a static list; the service must treat the dummy provider as
 * accepting every action of a kind that is not in its `kinds`.
 *
 * Fault injection (for conformance and service tests): an entity whose attribute `occitan.dummy.fault`
 * is `after-create` makes `create` write its record (and claim its device name), then undo both and throw
 * BadGateway, exactly like a platform that refused half-way. Only fresh creates fail: adopting an existing
 * record made nothing, so there is nothing to fail on.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Backend, BackendContext, BackendEntity, Change, EntityId, Realised } from '../backend';
import { BadGateway, BadRequest, Internal, NotFound, ServiceUnavailable } from '../../errors';
import type { Attributes, TypeId } from '../../model/types';
import { CORE_ATTR, INFRA } from '../../model/types';
import { ALL_ACTIONS, MACHINES, MACHINE_BY_KIND, transition } from './machines';
import { DISK_SLOTS, NIC_SLOTS, SlotFamily, claimSlot, releaseSlot, slotKey } from './slots';

export const FAULT_ATTRIBUTE = 'occitan.dummy.fault';
export const FAULTS = ['after-create'] as const;

/** Actions kept per record: enough to see what happened lately without letting a document grow forever. */
export const HISTORY_LIMIT = 20;

export interface HistoryEntry {
  action: TypeId;
  params: Attributes;
  at: string;
  /** The state before and after, for the infrastructure kinds. */
  from?: string;
  to?: string;
}

export interface DummyRecord {
  kind: TypeId;
  tenant: string;
  location: string;
  mixins: TypeId[];
  attributes: Attributes;
  /** A fresh uuid per realisation: an observer tells an adopted record from a replaced one by it. */
  instance: string;
  created: string;
  updated: string;
  history: HistoryEntry[];
  /** The device name a link holds on its source (released on delete). */
  slot?: { key: string; name: string };
}

/** The link kinds whose device names are allocated per source, and the attribute that carries the name. */
const LINK_SLOTS: ReadonlyMap<TypeId, { family: SlotFamily; attribute: string }> = new Map([
  [INFRA + 'networkinterface', { family: NIC_SLOTS, attribute: 'occi.networkinterface.interface' }],
  [INFRA + 'storagelink', { family: DISK_SLOTS, attribute: 'occi.storagelink.deviceid' }],
]);

const MAC_ATTRIBUTE = 'occi.networkinterface.mac';
const ATTEMPTS = 8;

/** A locally administered unicast MAC derived from the entity id, so a re-created link keeps its MAC. */
export function macFor(id: EntityId): string {
  const bytes = createHash('sha256').update(id).digest().subarray(0, 6);
  bytes[0] = (bytes[0]! & 0xfc) | 0x02; // clear the multicast bit, set the locally-administered bit
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The entity's attributes minus occi.core.* (the service's own) and the fault switch (a test instruction). */
function configOf(attributes: Readonly<Attributes>): Attributes {
  const out: Attributes = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith('occi.core.') || name === FAULT_ATTRIBUTE) continue;
    out[name] = value;
  }
  return out;
}

/** The link's source as a slot key: its id, or its location when the service gave no resolved source. */
function sourceKeyOf(entity: BackendEntity): string | undefined {
  if (entity.source) return entity.source.id;
  const loc = entity.attributes[CORE_ATTR.source];
  return typeof loc === 'string' ? `loc:${loc}` : undefined;
}

function faultOf(entity: BackendEntity): string | undefined {
  const fault = entity.attributes[FAULT_ATTRIBUTE];
  if (fault === undefined) return undefined;
  if (typeof fault !== 'string' || !(FAULTS as readonly string[]).includes(fault)) {
    throw new BadRequest(`${FAULT_ATTRIBUTE} must be one of ${FAULTS.join(', ')}; got ${JSON.stringify(fault)}`);
  }
  return fault;
}

class DummyBackend implements Backend {
  readonly kinds: readonly TypeId[] = MACHINES.map((m) => m.kind);
  readonly actions: readonly TypeId[] = ALL_ACTIONS;
  private ctx: BackendContext | undefined;

  constructor(readonly name: string) {}

  async init(ctx: BackendContext): Promise<void> {
    this.ctx = ctx;
    // Its "daemon" is CouchDB: one read makes an unreachable store fail start-up here, not on first use.
    await ctx.state.get('probe');
    ctx.log.debug('dummy provider ready', { provider: this.name });
  }

  async close(): Promise<void> {
    this.ctx = undefined;
  }

  private need(): BackendContext {
    if (!this.ctx) throw new Internal(`provider ${this.name} used before init or after close`);
    return this.ctx;
  }

  /** What the record says, reduced to the attributes this provider owns. */
  private realised(record: DummyRecord): Realised {
    const m = MACHINE_BY_KIND.get(record.kind);
    const attributes: Attributes = {};
    for (const name of m?.owned ?? []) {
      const value = record.attributes[name];
      if (value !== undefined) attributes[name] = value;
    }
    return { attributes };
  }

  private async load(entity: BackendEntity): Promise<{ value: DummyRecord; rev: string }> {
    const found = await this.need().state.get<DummyRecord>(entity.id);
    if (!found) throw new NotFound(`no dummy record for entity ${entity.location}`);
    return found;
  }

  /** Read-modify-write with compare-and-set; `change` may throw to refuse, leaving the record as it was. */
  private async mutate(entity: BackendEntity, change: (r: DummyRecord) => DummyRecord): Promise<DummyRecord> {
    const state = this.need().state;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const current = await this.load(entity);
      const next = { ...change(current.value), updated: new Date(this.need().clock.now()).toISOString() };
      if (await state.put(entity.id, next, current.rev)) return next;
    }
    throw new ServiceUnavailable(`too many concurrent changes to ${entity.location}; retry`);
  }

  async create(entity: BackendEntity): Promise<Realised> {
    const ctx = this.need();
    const fault = faultOf(entity);
    const existing = await ctx.state.get<DummyRecord>(entity.id);
    if (existing) return this.realised(existing.value); // adopt: the platform object already exists

    const now = new Date(ctx.clock.now()).toISOString();
    const attributes = configOf(entity.attributes);
    const m = MACHINE_BY_KIND.get(entity.kind);
    // The state is the provider's to say; a value the client sent (the service should refuse it) is overridden.
    if (m) attributes[m.stateAttribute] = m.initialState;
    if (entity.kind === INFRA + 'networkinterface' && attributes[MAC_ATTRIBUTE] === undefined) {
      attributes[MAC_ATTRIBUTE] = macFor(entity.id);
    }
    const record: DummyRecord = {
      kind: entity.kind,
      tenant: entity.tenant,
      location: entity.location,
      mixins: [...entity.mixins],
      attributes,
      instance: randomUUID(),
      created: now,
      updated: now,
      history: [],
    };

    let slotClaimed: string | undefined;
    let wrote = false;
    try {
      const link = LINK_SLOTS.get(entity.kind);
      const source = sourceKeyOf(entity);
      if (link && source !== undefined) {
        const key = slotKey(link.family, source);
        const given = attributes[link.attribute];
        const name = await claimSlot(ctx.state, link.family, key, entity.id, typeof given === 'string' ? given : undefined);
        slotClaimed = key;
        attributes[link.attribute] = name;
        record.slot = { key, name };
      }
      wrote = await ctx.state.put(entity.id, record);
      if (!wrote) {
        // A concurrent create of the same entity won the race: adopt its record (it holds the same slot).
        const winner = await ctx.state.get<DummyRecord>(entity.id);
        if (winner) return this.realised(winner.value);
        throw new ServiceUnavailable(`the record of ${entity.location} changed while it was created; retry`);
      }
      if (fault === 'after-create') {
        throw new BadGateway(`injected fault after create of ${entity.location} (${FAULT_ATTRIBUTE}=after-create)`);
      }
      return this.realised(record);
    } catch (e) {
      await this.undoCreate(entity, wrote, slotClaimed);
      throw e;
    }
  }

  /** All or nothing: removes what a failed create made. Undo errors are logged; the original error wins. */
  private async undoCreate(entity: BackendEntity, wrote: boolean, slotKeyClaimed: string | undefined): Promise<void> {
    const ctx = this.need();
    try {
      if (wrote) {
        const mine = await ctx.state.get<DummyRecord>(entity.id);
        if (mine) await ctx.state.delete(entity.id, mine.rev);
      }
      if (slotKeyClaimed !== undefined) await releaseSlot(ctx.state, slotKeyClaimed, entity.id);
    } catch (e) {
      ctx.log.error('dummy provider could not undo a failed create', { entity: entity.id, error: String(e) });
    }
  }

  async retrieve(entity: BackendEntity): Promise<Realised> {
    return this.realised((await this.load(entity)).value);
  }

  async update(entity: BackendEntity, change: Change): Promise<Realised> {
    const ctx = this.need();
    const incoming = configOf(change.attributes);
    const m = MACHINE_BY_KIND.get(entity.kind);
    // The state only moves through actions: an update cannot set it (the service marks it immutable anyway).
    if (m) delete incoming[m.stateAttribute];

    const before = (await this.load(entity)).value;
    const link = LINK_SLOTS.get(entity.kind);
    const renamed = link && before.slot && typeof incoming[link.attribute] === 'string' && incoming[link.attribute] !== before.slot.name;
    // A new device name is claimed first (Conflict leaves everything as it was) and given back if the write fails.
    if (renamed && link && before.slot) {
      await claimSlot(ctx.state, link.family, before.slot.key, entity.id, incoming[link.attribute] as string);
    }
    try {
      const record = await this.mutate(entity, (r) => {
        const mixins = r.mixins.filter((x) => !change.mixinsRemoved.includes(x));
        for (const x of change.mixinsAdded) if (!mixins.includes(x)) mixins.push(x);
        const slot = renamed && r.slot && link ? { key: r.slot.key, name: incoming[link.attribute] as string } : r.slot;
        return { ...r, mixins, attributes: { ...r.attributes, ...incoming }, ...(slot ? { slot } : {}) };
      });
      return this.realised(record);
    } catch (e) {
      if (renamed && link && before.slot) {
        await claimSlot(ctx.state, link.family, before.slot.key, entity.id, before.slot.name).catch((undo: unknown) =>
          ctx.log.error('dummy provider could not restore a device name', { entity: entity.id, error: String(undo) }),
        );
      }
      throw e;
    }
  }

  async delete(entity: BackendEntity): Promise<void> {
    const ctx = this.need();
    let slot: string | undefined;
    let gone = false;
    for (let attempt = 0; attempt < ATTEMPTS && !gone; attempt++) {
      const current = await ctx.state.get<DummyRecord>(entity.id);
      if (!current) break; // already gone is success
      slot = current.value.slot?.key;
      gone = await ctx.state.delete(entity.id, current.rev);
    }
    // Also when the record was already gone: an earlier delete may have failed between the two steps.
    const link = LINK_SLOTS.get(entity.kind);
    const source = sourceKeyOf(entity);
    slot ??= link && source !== undefined ? slotKey(link.family, source) : undefined;
    if (slot !== undefined) await releaseSlot(ctx.state, slot, entity.id);
    if (!gone && (await ctx.state.get(entity.id))) {
      throw new ServiceUnavailable(`too many concurrent changes to ${entity.location}; retry the delete`);
    }
  }

  async action(entity: BackendEntity, action: TypeId, params: Attributes): Promise<Realised> {
    const m = MACHINE_BY_KIND.get(entity.kind);
    const at = new Date(this.need().clock.now()).toISOString();
    const record = await this.mutate(entity, (r) => {
      const entry: HistoryEntry = { action, params: { ...params }, at };
      let attributes = r.attributes;
      if (m) {
        const changes = transition(m, r.attributes, action, params);
        attributes = { ...r.attributes, ...changes };
        const from = r.attributes[m.stateAttribute];
        const to = attributes[m.stateAttribute];
        if (typeof from === 'string') entry.from = from;
        if (typeof to === 'string') entry.to = to;
      }
      return { ...r, attributes, history: [...r.history, entry].slice(-HISTORY_LIMIT) };
    });
    // A kind of its own: the action is only recorded; the entity's attributes are unchanged.
    return m ? this.realised(record) : { attributes: configOf(entity.attributes) };
  }
}

/** The registry's factory: `name` is the provider key from backends.json. */
export function createBackend(name: string): Backend {
  return new DummyBackend(name);
}
