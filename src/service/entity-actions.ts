/**
 * Actions on single entities: which action a request names, its parameters checked against the action's
 * definition, which backend performs it, and performing it (collection actions in collections.ts use the
 * same checks and `perform`).
 *
 * Failure rule: the backend acts first and only what it reports is stored, merged into the document's
 * current revision (a concurrent report or update is not lost); a backend failure leaves the document as
 * it was. An entity deleted while its action ran answers 404.
 *
 * An action the entity's state does not allow is 400 (GFD.185 §3.4.2: "If an Action is not available a
 * Bad Request should be returned"; occi-spec.md edge case 22). The provider decides first (what it cannot
 * do at all stays 501); a refusal of its that the stored state explains is answered 400, one it finds on
 * the platform alone (the state changed underneath the request) stays 409.
 */
import type { Backend, Realised } from '../backends/backend';
import type { CategoryIndex } from '../category-manager/category-index';
import { BadRequest, Conflict, NotFound, NotImplemented } from '../errors';
import { coerceAttribute } from '../model/attributes';
import type { ActionRequest, Attributes, TypeId } from '../model/types';
import { INFRA, splitTypeId } from '../model/types';
import type { EntityDoc } from '../store/entity-store';
import { backendEntity, checkRevision, requireManager, requireSettled, type ServiceParts, type WriteOptions } from './entity-parts';

const COMPUTE_ACTION = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
const STORAGE_ACTION = 'http://schemas.ogf.org/occi/infrastructure/storage/action#';

/**
 * GFD.224 actions that only some states allow, with the states every provider accepts them in (the
 * dummy's table in backends/dummy/machines.ts; docker and libvirt refuse restart and suspend likewise).
 * Idempotent ones (start, stop, up, down, online, offline) apply in every state and are not listed.
 */
const NEEDS_STATE: Readonly<Record<TypeId, { kind: TypeId; attribute: string; from: readonly string[] }>> = {
  [COMPUTE_ACTION + 'restart']: { kind: INFRA + 'compute', attribute: 'occi.compute.state', from: ['active', 'error'] },
  [COMPUTE_ACTION + 'suspend']: { kind: INFRA + 'compute', attribute: 'occi.compute.state', from: ['active', 'suspended'] },
  [STORAGE_ACTION + 'backup']: { kind: INFRA + 'storage', attribute: 'occi.storage.state', from: ['online', 'offline'] },
  [STORAGE_ACTION + 'snapshot']: { kind: INFRA + 'storage', attribute: 'occi.storage.state', from: ['online', 'offline'] },
  [STORAGE_ACTION + 'resize']: { kind: INFRA + 'storage', attribute: 'occi.storage.state', from: ['online', 'offline'] },
};

export class EntityActions {
  constructor(private readonly service: ServiceParts) {}

  private get index(): CategoryIndex {
    return this.service.categories.index;
  }

  /** The action of `term` defined for this entity (kind chain and mixins), checked against the body. */
  resolveAction(doc: EntityDoc, term: string, req: ActionRequest): TypeId {
    const available = this.index.actions(doc.kind, doc.mixins, doc.tenant);
    const matches = available.filter((a) => splitTypeId(a).term === term);
    if (req.action && !matches.includes(req.action)) {
      if (splitTypeId(req.action).term !== term) throw new BadRequest(`the query names action ${term} but the body names ${req.action}`);
      throw new BadRequest(`action ${req.action} is not defined for ${doc.kind}`);
    }
    if (matches.length === 0) throw new BadRequest(`no action ${JSON.stringify(term)} for ${doc.location} (available: ${available.map((a) => splitTypeId(a).term).join(', ') || 'none'})`);
    if (matches.length > 1 && !req.action) throw new Conflict(`action ${term} is ambiguous (${matches.join(', ')}); name it with its scheme in a Category`);
    return req.action ?? matches[0]!;
  }

  /** Validates action parameters against the action's attribute definitions. */
  checkParams(action: TypeId, params: Attributes): Attributes {
    const def = this.index.action(action);
    const defs = def?.attributes ?? {};
    const out: Attributes = {};
    for (const [name, value] of Object.entries(params)) {
      const d = Object.hasOwn(defs, name) ? defs[name] : undefined;
      if (!d) throw new BadRequest(`action ${action} has no parameter ${name}${Object.keys(defs).length ? ` (parameters: ${Object.keys(defs).join(', ')})` : ''}`);
      out[name] = coerceAttribute(name, value, d);
    }
    for (const [name, d] of Object.entries(defs)) {
      if (out[name] === undefined && d.default !== undefined) out[name] = d.default;
      if (out[name] === undefined && d.required) throw new BadRequest(`action ${action} needs parameter ${name}`);
    }
    return out;
  }

  /** The backend that performs `action` on `doc`, or 501 when its provider cannot. */
  actionBackend(doc: EntityDoc, action: TypeId): Backend {
    const backend = this.service.backends.get(doc.provider);
    // A backend that does not list the entity's kind only records it (dummy for admin-defined kinds): every action is recorded.
    if (!backend.actions.includes(action) && backend.kinds.includes(doc.kind)) {
      throw new NotImplemented(`provider ${doc.provider} cannot perform ${action}`);
    }
    return backend;
  }

  /** 400 when the entity's stored state does not allow `action` (see NEEDS_STATE). */
  checkApplicable(doc: EntityDoc, action: TypeId): void {
    const rule = Object.hasOwn(NEEDS_STATE, action) ? NEEDS_STATE[action] : undefined;
    if (!rule || !doc.kinds.includes(rule.kind)) return;
    const state = doc.attributes[rule.attribute];
    // No state stored (a record written by hand): the provider decides.
    if (typeof state !== 'string' || rule.from.includes(state)) return;
    const term = splitTypeId(action).term;
    throw new BadRequest(`action ${term} is not applicable to ${doc.location} while ${rule.attribute} is ${state}; it applies when ${rule.from.join(' or ')}`);
  }

  /** Whether `action` would reach a backend that performs it (for rendering action links). */
  canPerform(doc: EntityDoc, action: TypeId): boolean {
    try {
      this.actionBackend(doc, action);
      return true;
    } catch {
      return false;
    }
  }

  /** POST `?action=term` to an entity, in the entity's write queue. */
  async action(tenant: string, location: string, term: string, req: ActionRequest, opts: WriteOptions = {}): Promise<EntityDoc> {
    return this.service.queues.serially(tenant, location, async () => {
      const doc = await this.service.get(tenant, location);
      checkRevision(doc, opts);
      const action = this.resolveAction(doc, term, req);
      const params = this.checkParams(action, req.attributes);
      return this.perform(doc, action, params);
    });
  }

  /** Performs a resolved, checked action and stores what the backend reports. */
  async perform(doc: EntityDoc, action: TypeId, params: Attributes): Promise<EntityDoc> {
    requireManager(this.index, doc.kind, 'act on');
    requireSettled(doc, 'act on');
    const backend = this.actionBackend(doc, action);
    let realised: Realised;
    try {
      realised = await backend.action(await backendEntity(this.service.entities, doc), action, params);
    } catch (e) {
      if (e instanceof Conflict) this.checkApplicable(doc, action);
      throw e;
    }
    const updated = await this.service.entities.modify(doc.tenant, doc.location, (d) => ({
      ...d,
      attributes: { ...d.attributes, ...realised.attributes },
      ...(realised.ref !== undefined ? { ref: realised.ref } : {}),
    }));
    if (!updated) throw new NotFound(`${doc.location} was deleted during the action`);
    if (realised.runtimeChanged) await this.service.rerealiseLinks(updated);
    return updated;
  }
}
