/**
 * The dummy provider's state machines for the five infrastructure kinds (GFD.224 §3, plus the OCCI 1.1
 * storage actions). Pure functions and tables only; index.ts does the storing.
 *
 * Every action completes at once (there is no platform to wait for), so the 1.1 transient storage
 * states (backup, snapshot, resize) are never reported: the storage stays in the state it was in.
 *
 * Transition table (`from` lists the states an action is accepted in; anything else is 409 Conflict):
 *
 * | kind     | action   | from                                   | to          | why                                   |
 * |----------|----------|----------------------------------------|-------------|---------------------------------------|
 * | compute  | start    | active, inactive, suspended, error     | active      | start of an active one is a no-op; resumes a suspended one; retries an errored one |
 * | compute  | stop     | active, inactive, suspended, error     | inactive    | stop of an inactive one is a no-op; powering off a suspended one is what clouds allow |
 * | compute  | restart  | active, error                          | active      | "via stop and start": an inactive or suspended compute has nothing to restart (start/resume it) |
 * | compute  | suspend  | active, suspended                      | suspended   | only a running machine has memory to suspend; repeat is a no-op |
 * | network  | up       | active, inactive, error                | active      | idempotent                            |
 * | network  | down     | active, inactive, error                | inactive    | idempotent                            |
 * | storage  | online   | online, offline, error                 | online      | idempotent                            |
 * | storage  | offline  | online, offline, error                 | offline     | idempotent                            |
 * | storage  | backup   | online, offline                        | (unchanged) | a storage in error has nothing sound to copy |
 * | storage  | snapshot | online, offline                        | (unchanged) | idem                                  |
 * | storage  | resize   | online, offline                        | (unchanged) | sets occi.storage.size; `size` must be a number > 0 (else 400) |
 *
 * compute `save` is deliberately absent: it must answer with a new OS template, which the dummy cannot
 * make, so the service answers 501. Links (networkinterface, storagelink) have no actions in GFD.224.
 */
import { BadRequest, Conflict, NotImplemented } from '../../errors';
import type { AttributeValue, Attributes, TypeId } from '../../model/types';
import { INFRA, splitTypeId } from '../../model/types';

const ACTION_SCHEME = (kindTerm: string): string => `http://schemas.ogf.org/occi/infrastructure/${kindTerm}/action#`;

interface ActionRule {
  /** States in which the action is accepted. */
  from: readonly string[];
  /** Resulting state; absent when the action does not change it. */
  to?: string;
  /** Allowed values of the optional `method` parameter (GFD.224 tables). */
  methods?: readonly string[];
  /** Attribute changes the action makes beyond the state (resize). Throws BadRequest on bad params. */
  effect?: (params: Attributes) => Attributes;
}

export interface KindMachine {
  kind: TypeId;
  stateAttribute: string;
  /** The state right after create: a new compute is `active` because most clouds boot it at once. */
  initialState: string;
  /** Attributes this provider owns and reports back in `Realised` (the state always). */
  owned: readonly string[];
  /** Actions by full type id. */
  actions: Readonly<Record<TypeId, ActionRule>>;
}

function resize(params: Attributes): Attributes {
  const size = params['size'];
  // The service validates against the action's declaration too; this keeps the dummy safe on its own.
  if (typeof size !== 'number' || !Number.isFinite(size) || size <= 0) {
    throw new BadRequest(`resize needs the attribute size, a number of GiB greater than 0; got ${JSON.stringify(size ?? null)}`);
  }
  return { 'occi.storage.size': size };
}

function machine(term: string, initialState: string, owned: readonly string[], rules: Record<string, ActionRule>): KindMachine {
  const actions: Record<TypeId, ActionRule> = {};
  for (const [name, rule] of Object.entries(rules)) actions[ACTION_SCHEME(term) + name] = rule;
  const stateAttribute = `occi.${term}.state`;
  return { kind: INFRA + term, stateAttribute, initialState, owned: [stateAttribute, ...owned], actions };
}

const ANY_COMPUTE = ['active', 'inactive', 'suspended', 'error'] as const;
const ANY_LINKISH = ['active', 'inactive', 'error'] as const;
const ANY_STORAGE = ['online', 'offline', 'error'] as const;

export const MACHINES: readonly KindMachine[] = [
  machine('compute', 'active', [], {
    start: { from: ANY_COMPUTE, to: 'active' },
    stop: { from: ANY_COMPUTE, to: 'inactive', methods: ['graceful', 'acpioff', 'poweroff'] },
    restart: { from: ['active', 'error'], to: 'active', methods: ['graceful', 'warm', 'cold'] },
    suspend: { from: ['active', 'suspended'], to: 'suspended', methods: ['hibernate', 'suspend'] },
  }),
  machine('network', 'active', [], {
    up: { from: ANY_LINKISH, to: 'active' },
    down: { from: ANY_LINKISH, to: 'inactive' },
  }),
  machine('storage', 'online', ['occi.storage.size'], {
    online: { from: ANY_STORAGE, to: 'online' },
    offline: { from: ANY_STORAGE, to: 'offline' },
    backup: { from: ['online', 'offline'] },
    snapshot: { from: ['online', 'offline'] },
    resize: { from: ['online', 'offline'], effect: resize },
  }),
  machine('networkinterface', 'active', ['occi.networkinterface.interface', 'occi.networkinterface.mac'], {}),
  machine('storagelink', 'active', ['occi.storagelink.deviceid'], {}),
];

export const MACHINE_BY_KIND: ReadonlyMap<TypeId, KindMachine> = new Map(MACHINES.map((m) => [m.kind, m]));

/** Every action the dummy implements for its own kinds (Backend.actions). */
export const ALL_ACTIONS: readonly TypeId[] = MACHINES.flatMap((m) => Object.keys(m.actions));

/**
 * Applies `action` to an entity of machine `m` whose record holds `attributes`. Returns the attribute
 * changes (the new state included); throws Conflict, BadRequest or NotImplemented and changes nothing.
 */
export function transition(m: KindMachine, attributes: Readonly<Attributes>, action: TypeId, params: Attributes): Attributes {
  const rule = m.actions[action];
  if (!rule) {
    throw new NotImplemented(`the dummy provider does not implement ${action} for ${splitTypeId(m.kind).term}`);
  }
  const current = attributes[m.stateAttribute];
  // A record without a state (written by hand, or by an older version) is taken to be freshly created.
  const state = typeof current === 'string' ? current : m.initialState;
  const term = splitTypeId(action).term;
  if (!rule.from.includes(state)) {
    throw new Conflict(`${term} is not possible while ${m.stateAttribute} is ${state}; it is accepted when ${rule.from.join(' or ')}`);
  }
  const method: AttributeValue | undefined = params['method'];
  if (method !== undefined && rule.methods && (typeof method !== 'string' || !rule.methods.includes(method))) {
    throw new BadRequest(`${term}: method must be one of ${rule.methods.join(', ')}; got ${JSON.stringify(method)}`);
  }
  const changes: Attributes = rule.effect ? rule.effect(params) : {};
  if (rule.to !== undefined) changes[m.stateAttribute] = rule.to;
  return changes;
}
