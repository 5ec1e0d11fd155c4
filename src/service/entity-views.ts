/**
 * Turning stored entity documents into the views renderers take: attributes in definition order,
 * applicable action links, outgoing links for resources. Locations are made absolute by `locate`.
 */
import type { CategoryIndex } from '../category-manager/category-index';
import type { ActionLink, AttributeValue, Attributes, EntityView, TypeId } from '../model/types';
import { CORE_ATTR, splitTypeId } from '../model/types';
import type { EntityDoc } from '../store/entity-store';

/** Maps a stored path to what the client sees (absolute URL when a base is known). */
export type Locate = (path: string) => string;

/**
 * Which of an entity's actions are applicable in its current state. Only these are rendered as action
 * links (GFD.185: "Only Actions currently applicable SHOULD be rendered").
 */
const STATE_ACTIONS: Record<string, { attr: string; allowed: Record<string, readonly string[]> }> = {
  'http://schemas.ogf.org/occi/infrastructure#compute': {
    attr: 'occi.compute.state',
    allowed: {
      active: ['stop', 'restart', 'suspend', 'save'],
      inactive: ['start'],
      suspended: ['start', 'stop'],
      error: ['start', 'stop', 'restart'],
    },
  },
  'http://schemas.ogf.org/occi/infrastructure#network': {
    attr: 'occi.network.state',
    allowed: { active: ['down'], inactive: ['up'], error: ['up', 'down'] },
  },
  'http://schemas.ogf.org/occi/infrastructure#storage': {
    attr: 'occi.storage.state',
    allowed: { online: ['offline', 'backup', 'snapshot', 'resize'], offline: ['online', 'resize'], error: ['online', 'offline'] },
  },
};

export function applicableActions(index: CategoryIndex, doc: EntityDoc): TypeId[] {
  const all = index.actions(doc.kind, doc.mixins, doc.tenant);
  const rule = STATE_ACTIONS[doc.kind];
  const state = rule ? doc.attributes[rule.attr] : undefined;
  if (!rule || typeof state !== 'string' || !rule.allowed[state]) return all;
  const allowed = rule.allowed[state]!;
  // Actions of the kind's own scheme follow the state table; mixin-defined ones always show.
  return all.filter((a) => !a.startsWith('http://schemas.ogf.org/occi/infrastructure/') || allowed.includes(splitTypeId(a).term));
}

/** Who a rendering is for: a caller who is not a global admin sees only its tenant's items of `perTenant` attributes. */
export interface Viewer {
  tenant: string;
  admin: boolean;
}

function forViewer(value: AttributeValue, viewer: Viewer): AttributeValue {
  if (viewer.admin || !Array.isArray(value)) return value;
  return value.filter((item) => typeof item === 'object' && item !== null && !Array.isArray(item) && item['tenant'] === viewer.tenant);
}

function orderedAttributes(index: CategoryIndex, doc: EntityDoc, locate: Locate, viewer?: Viewer): Attributes {
  const defs = index.attributeDefs(doc.kind, doc.mixins, doc.tenant);
  const out: Attributes = {};
  const id = doc.attributes[CORE_ATTR.id];
  if (id !== undefined) out[CORE_ATTR.id] = id;
  for (const name of Object.keys(defs)) {
    const v = doc.attributes[name];
    if (v !== undefined && !(name in out)) out[name] = v;
  }
  for (const [name, v] of Object.entries(doc.attributes)) if (!(name in out)) out[name] = v;
  if (viewer) for (const [name, def] of Object.entries(defs)) if (def.perTenant && out[name] !== undefined) out[name] = forViewer(out[name]!, viewer);
  if (doc.source !== undefined) out[CORE_ATTR.source] = locate(doc.source);
  if (doc.target !== undefined && doc.target.startsWith('/')) out[CORE_ATTR.target] = locate(doc.target);
  return out;
}

/** Whether the entity's provider can perform an action (others are not rendered as action links). */
export type CanPerform = (doc: EntityDoc, action: TypeId) => boolean;

/** The state an entity shows while a request is still creating or deleting it (never a healthy one). */
const UNSETTLED_STATE: Record<string, string> = { storage: 'offline' };

/**
 * A document still `creating` or `deleting` (its request in flight, or cut by a crash until recovery)
 * must not look healthy: its kind's state attribute reads inactive (storage: offline) with a message,
 * and no action is offered.
 */
function unsettled(index: CategoryIndex, doc: EntityDoc, attributes: Attributes): boolean {
  if (doc.status === 'ready') return false;
  const term = splitTypeId(doc.kind).term;
  const stateAttr = `occi.${term}.state`;
  if (index.attributeDefs(doc.kind, doc.mixins, doc.tenant)[stateAttr]) {
    attributes[stateAttr] = UNSETTLED_STATE[term] ?? 'inactive';
    attributes[`${stateAttr}.message`] = doc.status === 'creating' ? 'being created: not realised yet' : 'being deleted';
  }
  return true;
}

export function entityView(index: CategoryIndex, doc: EntityDoc, locate: Locate, links?: readonly EntityDoc[], can?: CanPerform, viewer?: Viewer): EntityView {
  const location = locate(doc.location);
  const attributes = orderedAttributes(index, doc, locate, viewer);
  const settling = unsettled(index, doc, attributes);
  const actions: ActionLink[] = (settling ? [] : applicableActions(index, doc))
    .filter((a) => !can || can(doc, a))
    .map((a) => ({ href: `${location}?action=${splitTypeId(a).term}`, action: a }));
  const view: EntityView = {
    location,
    kind: doc.kind,
    mixins: [...doc.mixins],
    attributes,
    actions,
  };
  if (doc.source === undefined) view.links = (links ?? []).map((l) => entityView(index, l, locate, undefined, can, viewer));
  return view;
}
