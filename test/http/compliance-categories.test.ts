/**
 * OCCI compliance of category definitions and mixin association (occi-spec.md §1.1, §1.2, §3.5, §3.7,
 * edge case 25):
 * - an attribute definition's default fits its own type, and one attribute name keeps one type wherever it
 *   is defined (400 naming the attribute), for user mixins and admin categories alike;
 * - the `http://schemas.ogf.org/occi/` scheme base and the `occi.` attribute namespace are reserved to the
 *   OCCI specifications: a tenant's user mixin may use neither (admins, implementing spec categories, may);
 * - a POST to a mixin location accepts the spec's entity collection, entities named by `id` (occi.core.id,
 *   or the id part of a generated location) within the caller's tenant, as well as by `location`.
 */
import { startTokenHarness, tokenFixture } from '../support/auth';
import { INFRA, type Harness } from '../support/harness';

const J = 'application/occi+json';
const COMPUTE = `${INFRA}compute`;
type Json = Record<string, any>;

let h: Harness;
let member: string;
let other: string;
let root: string;

beforeAll(async () => {
  const t = tokenFixture();
  member = t.add('mia', 'acme', 'member');
  other = t.add('otto', 'globex', 'member');
  root = t.add('root', 'default', 'admin', true);
  h = await startTokenHarness(t);
});
afterAll(async () => h.close());

const postJson = (token: string, path: string, body: unknown) =>
  h.http.post(path).set('X-Auth-Token', token).set('Content-Type', J).set('Accept', J).send(JSON.stringify(body));
const getJson = (token: string, path: string) => h.http.get(path).set('X-Auth-Token', token).set('Accept', J);

async function mixinIds(token: string): Promise<string[]> {
  const r = await getJson(token, '/-/');
  expect(r.status).toBe(200);
  return ((r.body.mixins ?? []) as Json[]).map((m) => m.scheme + m.term);
}

/** A POST /-/ that must be refused with 400 naming `named`, storing nothing. */
async function refused(token: string, body: unknown, named: string[], query = ''): Promise<void> {
  const before = await h.seq();
  const r = await postJson(token, `/-/${query}`, body);
  expect(r.status).toBe(400);
  for (const n of named) expect(r.body.error).toContain(n);
  expect(await h.seq()).toBe(before);
}

const attr = (type: string, extra: Json = {}): Json => ({ type, mutable: true, required: false, ...extra });

describe('user mixins (any tenant member)', () => {
  test('the audit case: occi.compute.cores redefined as a string with default "lots": 400, not stored', async () => {
    const mixin = { term: 'cores', scheme: 'http://example.com/a#', location: '/cores/', attributes: { 'occi.compute.cores': { type: 'string', mutable: true, default: 'lots' } } };
    await refused(member, { mixins: [mixin] }, ['occi.compute.cores']);
    expect(await mixinIds(member)).not.toContain('http://example.com/a#cores');
    // Nothing can carry it: a compute naming it is refused as an unknown category (404, OCCI 1.1).
    const c = await postJson(member, '/compute/', { kind: COMPUTE, mixins: ['http://example.com/a#cores'] });
    expect(c.status).toBe(404);
    expect(c.body.error).toContain('http://example.com/a#cores');
  });

  test('an attribute named occi.*: 400 naming it and the reserved namespace', async () => {
    await refused(member, { mixins: [{ term: 'evil', scheme: 'http://example.com/a#', location: '/evil/', attributes: { 'occi.evil': attr('string') } }] }, ['occi.evil', 'reserved']);
  });

  test('a scheme under http://schemas.ogf.org/occi/: 400 naming the reserved base', async () => {
    await refused(member, { mixins: [{ term: 'mine', scheme: INFRA, location: '/mine-infra/' }] }, [INFRA, 'http://schemas.ogf.org/occi/', 'reserved']);
    await refused(member, { mixins: [{ term: 'mine', scheme: 'http://SCHEMAS.ogf.org/occi/tags#', location: '/mine-infra/' }] }, ['reserved']);
  });

  test('a default that does not fit its own type: 400 naming the attribute', async () => {
    await refused(member, { mixins: [{ term: 'sized', scheme: 'http://example.com/a#', location: '/sized/', attributes: { 'com.example.size': attr('number', { default: 'lots' }) } }] }, ['com.example.size', 'number']);
    await refused(member, { mixins: [{ term: 'picky', scheme: 'http://example.com/a#', location: '/picky/', attributes: { 'com.example.tier': attr('string', { default: 'tin', pattern: { enum: ['gold', 'silver'] } }) } }] }, ['com.example.tier']);
  });

  test('redefining a provider attribute (occitan.provider) with another type: 400 naming it', async () => {
    await refused(member, { mixins: [{ term: 'prov', scheme: 'http://example.com/a#', location: '/prov/', attributes: { 'occitan.provider': attr('number', { default: 1 }) } }] }, ['occitan.provider', 'string']);
  });

  test('two mixins of one request disagreeing on an attribute type: 400, neither stored', async () => {
    await refused(member, {
      mixins: [
        { term: 'one', scheme: 'http://example.com/a#', location: '/one/', attributes: { 'com.example.x': attr('string') } },
        { term: 'two', scheme: 'http://example.com/a#', location: '/two/', attributes: { 'com.example.x': attr('number') } },
      ],
    }, ['com.example.x']);
    const ids = await mixinIds(member);
    expect(ids).not.toContain('http://example.com/a#one');
    expect(ids).not.toContain('http://example.com/a#two');
  });

  test('a well-formed mixin with its own attribute: 200, and a compute created with it carries the default', async () => {
    const r = await postJson(member, '/-/', { mixins: [{ term: 'tier', scheme: 'http://example.com/a#', location: '/tier/', attributes: { 'com.example.tier': attr('string', { default: 'gold' }) } }] });
    expect(r.status).toBe(200);
    const c = await postJson(member, '/compute/', { kind: COMPUTE, mixins: ['http://example.com/a#tier'], attributes: { 'occi.compute.cores': 2 } });
    expect(c.status).toBe(201);
    const got = await getJson(member, new URL(c.headers.location as string).pathname);
    expect(got.body.attributes).toMatchObject({ 'com.example.tier': 'gold', 'occi.compute.cores': 2 });
  });
});

describe('admin categories', () => {
  test('a provider mixin redefining occi.compute.cores as a string: 400 naming it, not stored', async () => {
    await refused(root, { mixins: [{ term: 'cores', scheme: 'http://example.com/tpl#', location: '/tpl/cores/', applies: [COMPUTE], attributes: { 'occi.compute.cores': attr('string', { default: 'lots' }) } }] }, ['occi.compute.cores'], '?scope=provider');
  });

  test('a kind whose attribute default does not fit its type: 400 naming the attribute', async () => {
    await refused(root, { kinds: [{ term: 'robot', scheme: 'http://example.com/robots#', location: '/robot/', attributes: { 'com.example.legs': attr('number', { default: 'many' }) } }] }, ['com.example.legs']);
  });

  test('a template redefining a standard attribute with its own type: 200 (admins implement spec attributes)', async () => {
    const r = await postJson(root, '/-/?scope=provider', { mixins: [{ term: 'big', scheme: 'http://example.com/tpl#', location: '/tpl/big/', depends: [`${INFRA}resource_tpl`], applies: [COMPUTE], attributes: { 'occi.compute.cores': attr('number', { default: 8 }) } }] });
    expect(r.status).toBe(200);
    const c = await postJson(member, '/compute/', { kind: COMPUTE, mixins: ['http://example.com/tpl#big'] });
    expect(c.status).toBe(201);
    expect((await getJson(member, new URL(c.headers.location as string).pathname)).body.attributes['occi.compute.cores']).toBe(8);
  });

  test('updating a template to a default outside the attribute pattern: 400 naming it, unchanged', async () => {
    const before = await h.seq();
    const r = await h.http.put('/-/').set('X-Auth-Token', root).set('Content-Type', J).set('Accept', J)
      .send(JSON.stringify({ mixins: [{ term: 'big', scheme: 'http://example.com/tpl#', location: '/tpl/big/', depends: [`${INFRA}resource_tpl`], applies: [COMPUTE], attributes: { 'occi.compute.cores': attr('number', { default: 1.5 }) } }] }));
    expect(r.status).toBe(400);
    expect(r.body.error).toContain('occi.compute.cores');
    expect(await h.seq()).toBe(before);
  });
});

describe('mixin association by entity collection (edge case 25)', () => {
  const TAG = 'http://example.com/tags#tagged';
  let locA: string;
  let idA: string;
  let locB: string;
  let idB: string;

  beforeAll(async () => {
    expect((await postJson(member, '/-/', { mixins: [{ term: 'tagged', scheme: 'http://example.com/tags#', location: '/my_stuff/' }] })).status).toBe(200);
    const make = async (): Promise<[string, string]> => {
      const c = await postJson(member, '/compute/', { kind: COMPUTE });
      expect(c.status).toBe(201);
      const loc = new URL(c.headers.location as string).pathname;
      return [loc, (await getJson(member, loc)).body.id as string];
    };
    [locA, idA] = await make();
    [locB, idB] = await make();
    expect(idA).toMatch(/^urn:uuid:/);
  });

  const mixinsOf = async (loc: string): Promise<string[]> => ((await getJson(member, loc)).body.mixins ?? []) as string[];

  test('by urn:uuid id, as the spec renders an entity collection: 200, associated', async () => {
    const r = await postJson(member, '/my_stuff/', { resources: [{ kind: COMPUTE, id: idA }] });
    expect(r.status).toBe(200);
    expect(await mixinsOf(locA)).toContain(TAG);
  });

  test('an unknown id next to a known one: 404 naming it, nothing changed', async () => {
    const before = await h.seq();
    const r = await postJson(member, '/my_stuff/', { resources: [{ kind: COMPUTE, id: idB }, { kind: COMPUTE, id: 'urn:uuid:00000000-0000-4000-8000-000000000000' }] });
    expect(r.status).toBe(404);
    expect(r.body.error).toContain('urn:uuid:00000000-0000-4000-8000-000000000000');
    expect(await h.seq()).toBe(before);
    expect(await mixinsOf(locB)).not.toContain(TAG);
  });

  test("another tenant's entity id: 404, not associated", async () => {
    const before = await h.seq();
    const r = await postJson(other, '/-/', { mixins: [{ term: 'tagged', scheme: 'http://example.com/tags#', location: '/my_stuff/' }] });
    expect(r.status).toBe(200);
    const seqAfterMixin = await h.seq();
    expect(seqAfterMixin).not.toBe(before);
    const a = await postJson(other, '/my_stuff/', { resources: [{ kind: COMPUTE, id: idB }] });
    expect(a.status).toBe(404);
    expect(a.body.error).toContain(idB);
    expect(await h.seq()).toBe(seqAfterMixin);
    expect(await mixinsOf(locB)).not.toContain(TAG);
  });

  test('by the id part of a generated location: 200, associated', async () => {
    const r = await postJson(member, '/my_stuff/', { resources: [{ kind: COMPUTE, id: idB.slice('urn:uuid:'.length) }] });
    expect(r.status).toBe(200);
    expect(await mixinsOf(locB)).toContain(TAG);
  });

  test('by location, and the same entity named by id and location at once: 200, one member', async () => {
    expect((await h.http.delete('/my_stuff/').set('X-Auth-Token', member)).status).toBe(200);
    const r = await postJson(member, '/my_stuff/', { resources: [{ kind: COMPUTE, location: locA }, { kind: COMPUTE, id: idA }] });
    expect(r.status).toBe(200);
    expect(await mixinsOf(locA)).toContain(TAG);
    const list = await getJson(member, '/my_stuff/');
    expect((list.body.resources as Json[]).map((e) => e.id)).toEqual([idA]);
  });

  test('an entity with neither location nor id: 400 saying what names it', async () => {
    const r = await postJson(member, '/my_stuff/', { resources: [{ kind: COMPUTE }] });
    expect(r.status).toBe(400);
    expect(r.body.error).toContain('"location" or its "id"');
  });

  test('PUT replaces membership with entities named by id', async () => {
    const r = await h.http.put('/my_stuff/').set('X-Auth-Token', member).set('Content-Type', J).set('Accept', J)
      .send(JSON.stringify({ resources: [{ kind: COMPUTE, id: idB }] }));
    expect(r.status).toBe(200);
    expect(await mixinsOf(locA)).not.toContain(TAG);
    expect(await mixinsOf(locB)).toContain(TAG);
  });
});
