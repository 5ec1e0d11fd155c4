/**
 * The in-memory registry of categories: global ones (builtin and admin-defined) and each tenant's user
 * mixins. Pure; the CategoryManager keeps it in step with CouchDB. Answers the model questions every
 * request asks (kind chain, attributes of kind ∪ mixins, applicable actions) without a store round trip.
 */
import type { Action, AttributeDefs, Category, CategoryCollection, Kind, Mixin, TypeId } from '../model/types';
import { ENTITY_KIND, categoryId } from '../model/types';

export class CategoryIndex {
  private readonly global = new Map<TypeId, Category>();
  private readonly globalLocations = new Map<string, Kind | Mixin>();
  private readonly tenants = new Map<string, { byId: Map<TypeId, Mixin>; byLocation: Map<string, Mixin> }>();
  /** Bumped on every change, so derived caches (attribute sets) can be dropped. */
  private generation = 0;
  private readonly defsCache = new Map<string, AttributeDefs>();

  /** Adds or replaces a category; a replaced one keeps its place, so listings keep a stable order. */
  put(c: Category): void {
    const id = categoryId(c);
    if (c.origin === 'user' && c.tenant !== undefined && c.class === 'mixin') {
      const t = this.tenant(c.tenant);
      const old = t.byId.get(id);
      if (old && t.byLocation.get(old.location) === old) t.byLocation.delete(old.location);
      t.byId.set(id, c);
      t.byLocation.set(c.location, c);
    } else {
      const old = this.global.get(id);
      if (old && old.class !== 'action' && old.location && this.globalLocations.get(old.location) === old) {
        this.globalLocations.delete(old.location);
      }
      this.global.set(id, c);
      if (c.class !== 'action' && c.location) this.globalLocations.set(c.location, c);
    }
    this.changed();
  }

  remove(id: TypeId, tenant?: string): void {
    if (tenant !== undefined) {
      const t = this.tenants.get(tenant);
      const old = t?.byId.get(id);
      if (t && old) {
        t.byId.delete(id);
        if (t.byLocation.get(old.location) === old) t.byLocation.delete(old.location);
      }
    } else {
      const old = this.global.get(id);
      if (old) {
        this.global.delete(id);
        if (old.class !== 'action' && old.location && this.globalLocations.get(old.location) === old) {
          this.globalLocations.delete(old.location);
        }
      }
    }
    this.changed();
  }

  /** Changes with every put or remove: a key for caches of anything derived from the categories. */
  get version(): number {
    return this.generation;
  }

  private changed(): void {
    this.generation++;
    this.defsCache.clear();
  }

  private tenant(name: string): { byId: Map<TypeId, Mixin>; byLocation: Map<string, Mixin> } {
    let t = this.tenants.get(name);
    if (!t) {
      t = { byId: new Map(), byLocation: new Map() };
      this.tenants.set(name, t);
    }
    return t;
  }

  byId(id: TypeId, tenant?: string): Category | undefined {
    return this.global.get(id) ?? (tenant !== undefined ? this.tenants.get(tenant)?.byId.get(id) : undefined);
  }

  globalById(id: TypeId): Category | undefined {
    return this.global.get(id);
  }

  kind(id: TypeId): Kind | undefined {
    const c = this.global.get(id);
    return c?.class === 'kind' ? c : undefined;
  }

  mixin(id: TypeId, tenant?: string): Mixin | undefined {
    const c = this.byId(id, tenant);
    return c?.class === 'mixin' ? c : undefined;
  }

  action(id: TypeId): Action | undefined {
    const c = this.global.get(id);
    return c?.class === 'action' ? c : undefined;
  }

  /** The kind or mixin bound to a path (ending in '/'), the tenant's user mixins included. */
  byLocation(location: string, tenant?: string): Kind | Mixin | undefined {
    return this.globalLocations.get(location) ?? (tenant !== undefined ? this.tenants.get(tenant)?.byLocation.get(location) : undefined);
  }

  /** Every category the tenant can see: global ones and its own user mixins. */
  list(tenant?: string): CategoryCollection {
    const out: CategoryCollection = { kinds: [], mixins: [], actions: [] };
    for (const c of this.global.values()) {
      if (c.class === 'kind') out.kinds.push(c);
      else if (c.class === 'mixin') out.mixins.push(c);
      else out.actions.push(c);
    }
    if (tenant !== undefined) for (const m of this.tenants.get(tenant)?.byId.values() ?? []) out.mixins.push(m);
    return out;
  }

  all(): Category[] {
    const out: Category[] = [...this.global.values()];
    for (const t of this.tenants.values()) out.push(...t.byId.values());
    return out;
  }

  /** [kind, parent, …, core#entity]; stops on a cycle or a missing parent. */
  kindChain(id: TypeId): Kind[] {
    const chain: Kind[] = [];
    const seen = new Set<TypeId>();
    for (let k = this.kind(id); k && !seen.has(categoryId(k)); k = k.parent ? this.kind(k.parent) : undefined) {
      seen.add(categoryId(k));
      chain.push(k);
    }
    return chain;
  }

  isKindOf(id: TypeId, ancestor: TypeId): boolean {
    return this.kindChain(id).some((k) => categoryId(k) === ancestor);
  }

  /** The mixins and, transitively, what they depend on, in a stable order, each once. */
  mixinClosure(ids: readonly TypeId[], tenant?: string): Mixin[] {
    const out: Mixin[] = [];
    const seen = new Set<TypeId>();
    const visit = (id: TypeId): void => {
      if (seen.has(id)) return;
      seen.add(id);
      const m = this.mixin(id, tenant);
      if (!m) return;
      for (const d of m.depends) visit(d);
      out.push(m);
    };
    for (const id of ids) visit(id);
    return out;
  }

  /** Whether mixin `m` may be applied to an entity of `kind` (empty applies = any entity). */
  applies(m: Mixin, kind: TypeId): boolean {
    if (m.applies.length === 0) return true;
    return m.applies.some((a) => a === ENTITY_KIND || this.isKindOf(kind, a));
  }

  /**
   * Attribute definitions of kind ∪ mixins: the kind chain from core#entity down, then each mixin
   * (dependencies first), a later definition's default overriding an earlier one (templates).
   */
  attributeDefs(kind: TypeId, mixins: readonly TypeId[], tenant?: string): AttributeDefs {
    const key = `${this.generation}\u0000${tenant ?? ''}\u0000${kind}\u0000${mixins.join('\u0000')}`;
    const cached = this.defsCache.get(key);
    if (cached) return cached;
    const defs: AttributeDefs = {};
    for (const k of this.kindChain(kind).reverse()) Object.assign(defs, k.attributes);
    for (const m of this.mixinClosure(mixins, tenant)) {
      for (const [name, def] of Object.entries(m.attributes)) {
        const base = defs[name];
        // A mixin that redefines a kind's attribute is a template: it contributes its default only,
        // never a weaker type or mutability (JSON descriptions default to immutable).
        defs[name] = base ? (def.default === undefined ? base : { ...base, default: def.default }) : def;
      }
    }
    if (this.defsCache.size > 5000) this.defsCache.clear();
    this.defsCache.set(key, defs);
    return defs;
  }

  /** Actions defined by the kind chain and the mixins (with their dependencies). */
  actions(kind: TypeId, mixins: readonly TypeId[], tenant?: string): TypeId[] {
    const out = new Set<TypeId>();
    for (const k of this.kindChain(kind)) for (const a of k.actions) out.add(a);
    for (const m of this.mixinClosure(mixins, tenant)) for (const a of m.actions) out.add(a);
    return [...out];
  }
}
