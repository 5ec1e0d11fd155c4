/**
 * The one conformance suite every backend passes (dummy, Docker, libvirt, OVS), each with a fixture of
 * its own. Truth comes from the fixture's observer (CouchDB read directly, `docker inspect`, `virsh`,
 * `ovs-vsctl`), never only from the backend's own answers. Observer checks poll with a bound
 * (`settleMs`), because a daemon may apply a change a moment after it answered.
 *
 * Per entity case, in order: create (observer sees it, initial state), retrieve agrees with the observer,
 * create again adopts (one object, same identity), each update, each action (its state, or its refusal
 * leaving the state alone), delete (observer sees it gone), delete again, retrieve after delete (404),
 * and an injected fault (create throws and leaves nothing behind).
 */
import type { Backend, BackendContext, BackendEntity, Change, Realised } from '../../src/backends/backend';
import type { Attributes, AttributeValue, TypeId } from '../../src/model/types';
import { splitTypeId } from '../../src/model/types';

export interface ActionCase {
  action: TypeId;
  params?: Attributes;
  /** The state attribute's value afterwards (checked in the answer and through the observer). */
  state?: string;
  /** Attributes the action's answer must carry (the new size after a resize). */
  attributes?: Attributes;
  /** Expected error status instead of success (409: the state forbids it); the state must not move. */
  rejects?: number;
}

export interface UpdateCase {
  change: Partial<Change> & { attributes: Attributes };
  /** Attribute values the platform must hold afterwards (observer, else the backend's answers). */
  expect: Attributes;
}

export interface EntityCase {
  /** Test-name label; defaults to the kind's term. */
  label?: string;
  /** A fresh entity (an id no earlier run used). */
  entity: BackendEntity;
  /** e.g. occi.compute.state; omit for a kind without one. */
  stateAttribute?: string;
  initialState?: string;
  updates?: readonly UpdateCase[];
  actions?: readonly ActionCase[];
  /** Backend-specific checks of create's answer (generated names, MACs, addresses). */
  checkCreated?(realised: Realised): void;
  /** Make and remove what the entity needs (a link's source container, a bridge). */
  before?(): Promise<void>;
  after?(): Promise<void>;
}

/** Reads the platform directly, without the backend under test. */
export interface Observer {
  exists(entity: BackendEntity): Promise<boolean>;
  state?(entity: BackendEntity): Promise<string | undefined>;
  /** The attributes the platform holds for the entity, as far as the observer can tell. */
  attributes?(entity: BackendEntity): Promise<Attributes | undefined>;
  /** How many platform objects carry this entity; defaults to exists() as 0 or 1. */
  count?(entity: BackendEntity): Promise<number>;
  /** An identity of the platform object (container id, domain uuid): an adopting create keeps it. */
  identity?(entity: BackendEntity): Promise<string | undefined>;
}

export interface ConformanceFixture {
  name: string;
  /** Before anything else (start a store, check the daemon); teardown runs last. */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  makeBackend(): Backend;
  /** A real BackendContext (real KeyedState); called once for the suite and once per init/close test. */
  makeContext(): BackendContext | Promise<BackendContext>;
  entities: readonly EntityCase[];
  observer: Observer;
  /**
   * A new entity (new id) like the case's `entity` that makes create fail after its platform object exists;
   * undefined when the backend cannot inject one for this kind (at least one case must).
   */
  injectFault(entity: BackendEntity): BackendEntity | undefined;
  /** Bound for observer polls, ms (default 10 000). */
  settleMs?: number;
}

function statusOf(e: unknown): number | undefined {
  const s = typeof e === 'object' && e !== null ? (e as { status?: unknown }).status : undefined;
  return typeof s === 'number' ? s : undefined;
}

/** Expects `p` to reject with an OcciError of `status` (or any 4xx/5xx OcciError when omitted). */
async function expectRejects(p: Promise<unknown>, status?: number): Promise<unknown> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error(`expected an error${status ? ` with status ${status}` : ''}, but the call succeeded`);
  const got = statusOf(error);
  if (got === undefined || (status !== undefined && got !== status)) {
    throw new Error(`expected an OcciError${status ? ` with status ${status}` : ''}, got ${String(got)}: ${String(error)}`);
  }
  return error;
}

/** Polls `read` until `ok` holds or `bound` ms pass; returns the last value read. */
async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, bound: number): Promise<T> {
  const end = Date.now() + bound;
  let value = await read();
  while (!ok(value) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  return value;
}

function merge(entity: BackendEntity, attributes: Attributes, ref?: unknown): BackendEntity {
  return { ...entity, attributes: { ...entity.attributes, ...attributes }, ...(ref !== undefined ? { ref } : {}) };
}

export function conformanceSuite(fixture: ConformanceFixture): void {
  const bound = fixture.settleMs ?? 10_000;
  const obs = fixture.observer;
  const count = (e: BackendEntity): Promise<number> => (obs.count ? obs.count(e) : obs.exists(e).then((x) => (x ? 1 : 0)));
  let injected = 0;

  describe(`backend conformance: ${fixture.name}`, () => {
    let backend: Backend;

    beforeAll(async () => {
      await fixture.setup?.();
      backend = fixture.makeBackend();
      await backend.init(await fixture.makeContext());
    });
    afterAll(async () => {
      await backend?.close();
      await fixture.teardown?.();
    });

    it('init then close do not throw (close twice too)', async () => {
      const other = fixture.makeBackend();
      await other.init(await fixture.makeContext());
      await other.close();
      await other.close();
    });

    it('declares the kinds and actions its cases use', () => {
      expect(backend.name).toEqual(expect.any(String));
      for (const c of fixture.entities) {
        expect(backend.kinds).toContain(c.entity.kind);
        for (const a of c.actions ?? []) if (a.rejects === undefined) expect(backend.actions).toContain(a.action);
      }
    });

    for (const c of fixture.entities) {
      describe(c.label ?? splitTypeId(c.entity.kind).term, () => {
        // The entity as the service would hold it: create's and update's answers merged in.
        let current: BackendEntity = c.entity;
        const stateOf = (r: Realised): AttributeValue | undefined => (c.stateAttribute ? r.attributes[c.stateAttribute] : undefined);
        const observedState = (expected: string | undefined): Promise<string | undefined> =>
          obs.state ? eventually(() => obs.state!(current), (s) => s === expected, bound) : Promise.resolve(expected);

        beforeAll(async () => {
          await c.before?.();
        });
        afterAll(async () => {
          // Whatever a failed step left behind.
          await backend.delete(current).catch(() => undefined);
          await c.after?.();
        });

        it('create realises it: the observer sees it', async () => {
          const realised = await backend.create(c.entity);
          current = merge(c.entity, realised.attributes, realised.ref);
          expect(await eventually(() => obs.exists(current), (x) => x, bound)).toBe(true);
          if (c.stateAttribute && c.initialState !== undefined) {
            expect(stateOf(realised)).toBe(c.initialState);
            expect(await observedState(c.initialState)).toBe(c.initialState);
          }
          c.checkCreated?.(realised);
        });

        it('retrieve agrees with the observer', async () => {
          const realised = await backend.retrieve(current);
          if (c.stateAttribute && obs.state) expect(stateOf(realised)).toBe(await obs.state(current));
          const seen = obs.attributes ? await obs.attributes(current) : undefined;
          if (seen) for (const [k, v] of Object.entries(realised.attributes)) if (k in seen) expect([k, seen[k]]).toEqual([k, v]);
        });

        it('create again adopts: still exactly one platform object, the same one', async () => {
          const identity = obs.identity ? await obs.identity(current) : undefined;
          const realised = await backend.create(current);
          current = merge(current, realised.attributes, realised.ref);
          expect(await count(current)).toBe(1);
          if (obs.identity) expect(await obs.identity(current)).toBe(identity);
          if (c.stateAttribute && obs.state) expect(stateOf(realised)).toBe(await obs.state(current));
        });

        for (const [i, u] of (c.updates ?? []).entries()) {
          it(`update #${i + 1} (${Object.keys(u.change.attributes).join(', ')}) reaches the platform`, async () => {
            const change: Change = { mixinsAdded: [], mixinsRemoved: [], ...u.change };
            const answered = await backend.update(current, change);
            current = merge(current, { ...change.attributes, ...answered.attributes }, answered.ref);
            const retrieved = await backend.retrieve(current);
            for (const [k, v] of Object.entries(u.expect)) {
              const seen = obs.attributes
                ? await eventually(() => obs.attributes!(current), (a) => a !== undefined && JSON.stringify(a[k]) === JSON.stringify(v), bound)
                : undefined;
              const value = seen?.[k] ?? retrieved.attributes[k] ?? answered.attributes[k];
              expect([k, value]).toEqual([k, v]);
              if (k in answered.attributes) expect([k, answered.attributes[k]]).toEqual([k, v]);
            }
          });
        }

        for (const a of c.actions ?? []) {
          const term = splitTypeId(a.action).term;
          const title = a.rejects !== undefined ? `${term} is refused with ${a.rejects}` : `${term} reaches ${a.state ?? 'its effect'}`;
          it(`action ${title}`, async () => {
            if (a.rejects !== undefined) {
              const before = obs.state ? await obs.state(current) : undefined;
              await expectRejects(backend.action(current, a.action, a.params ?? {}), a.rejects);
              if (obs.state) expect(await obs.state(current)).toBe(before);
              return;
            }
            const realised = await backend.action(current, a.action, a.params ?? {});
            current = merge(current, realised.attributes, realised.ref);
            if (a.state !== undefined) {
              expect(stateOf(realised)).toBe(a.state);
              expect(await observedState(a.state)).toBe(a.state);
            }
            for (const [k, v] of Object.entries(a.attributes ?? {})) expect([k, realised.attributes[k]]).toEqual([k, v]);
          });
        }

        it('an injected fault: create throws and leaves nothing behind', async () => {
          // From the case's own entity: `current` carries names create generated, which a second object may not share.
          const faulty = fixture.injectFault(c.entity);
          if (!faulty) return; // this backend cannot fail this kind on purpose; another case must
          injected++;
          expect(faulty.id).not.toBe(current.id);
          await expectRejects(backend.create(faulty));
          expect(await eventually(() => count(faulty), (n) => n === 0, bound)).toBe(0);
          await expectRejects(backend.retrieve(faulty), 404);
          await backend.delete(faulty);
        });

        it('delete removes it: the observer sees it gone', async () => {
          await backend.delete(current);
          expect(await eventually(() => obs.exists(current), (x) => !x, bound)).toBe(false);
        });

        it('delete again succeeds', async () => {
          await backend.delete(current);
          expect(await obs.exists(current)).toBe(false);
        });

        it('retrieve after delete throws NotFound', async () => {
          await expectRejects(backend.retrieve(current), 404);
        });
      });
    }

    it('injected a fault in at least one case', () => {
      expect(injected).toBeGreaterThan(0);
    });
  });
}
