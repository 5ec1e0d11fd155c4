/**
 * Tenancy (issue 4 §2): every entity and user mixin belongs to one tenant; paths are per tenant; lookups,
 * collections, filters, `/-/` user mixins, links, actions and collection deletes never cross tenants;
 * another tenant's object is a 404, never a 403. Callers authenticate with tokens from a token file.
 */
import { startTokenHarness, tokenFixture } from '../support/auth';
import { COMPUTE_CATEGORY, INFRA, type Harness } from '../support/harness';

let h: Harness;
let alice: string; // member of acme
let bob: string; // member of beta
let carol: string; // admin of acme, member of beta
let root: string; // global admin (tenant default)

const TAG = 'tag; scheme="http://example.com/tags#"; class="mixin"; location="/tags/"';

beforeAll(async () => {
  const t = tokenFixture();
  alice = t.add('alice', 'acme', 'member');
  bob = t.add('bob', 'beta', 'member');
  carol = t.add('carol', 'acme', 'admin');
  t.add('carol', 'beta', 'member');
  root = t.add('root', 'default', 'admin', true);
  h = await startTokenHarness(t);
});
afterAll(async () => h.close());

const putCompute = (token: string, path: string, title: string) =>
  h.http.put(path).set('X-Auth-Token', token).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY)
    .set('X-OCCI-Attribute', `occi.core.title="${title}"`);

/** Paths of a text/uri-list listing. */
const paths = (text: string): string[] => text.split(/\r?\n/).filter(Boolean).map((u) => new URL(u).pathname).sort();

async function listing(token: string, path: string, headers: Record<string, string> = {}): Promise<string[]> {
  const r = await h.http.get(path).set('X-Auth-Token', token).set('Accept', 'text/uri-list').set(headers);
  expect(r.status).toBe(200);
  return paths(r.text);
}

async function title(token: string, path: string): Promise<unknown> {
  const r = await h.http.get(path).set('X-Auth-Token', token).set('Accept', 'application/occi+json');
  expect(r.status).toBe(200);
  return r.body.attributes['occi.core.title'];
}

test('two tenants each own /compute/web1 and each sees only its own', async () => {
  const a = await putCompute(alice, '/compute/web1', 'alice web');
  expect(a.status).toBe(201);
  expect(new URL(a.headers.location).pathname).toBe('/compute/web1');
  const b = await putCompute(bob, '/compute/web1', 'bob web');
  expect(b.status).toBe(201);
  expect(new URL(b.headers.location).pathname).toBe('/compute/web1');
  expect(await title(alice, '/compute/web1')).toBe('alice web');
  expect(await title(bob, '/compute/web1')).toBe('bob web');
  // Different entities, not one shared: distinct ids.
  const ida = (await h.http.get('/compute/web1').set('X-Auth-Token', alice).set('Accept', 'application/occi+json')).body.id;
  const idb = (await h.http.get('/compute/web1').set('X-Auth-Token', bob).set('Accept', 'application/occi+json')).body.id;
  expect(ida).not.toBe(idb);
});

test("another tenant's entity is a 404 for every verb, and nothing changes", async () => {
  expect((await putCompute(alice, '/compute/only-a', 'secret')).status).toBe(201);
  const before = await h.seq();
  const get = await h.http.get('/compute/only-a').set('X-Auth-Token', bob);
  expect(get.status).toBe(404);
  expect(get.text).not.toContain('secret');
  expect((await h.http.head('/compute/only-a').set('X-Auth-Token', bob)).status).toBe(404);
  const update = await h.http.post('/compute/only-a').set('X-Auth-Token', bob).set('Content-Type', 'text/occi')
    .set('X-OCCI-Attribute', 'occi.core.title="pwned"');
  expect(update.status).toBe(404);
  const action = await h.http.post('/compute/only-a?action=stop').set('X-Auth-Token', bob);
  expect(action.status).toBe(404);
  expect((await h.http.delete('/compute/only-a').set('X-Auth-Token', bob)).status).toBe(404);
  expect(await h.seq()).toBe(before);
  expect(await title(alice, '/compute/only-a')).toBe('secret');
  const state = await h.http.get('/compute/only-a').set('X-Auth-Token', alice).set('Accept', 'application/occi+json');
  expect(state.body.attributes['occi.compute.state']).toBe('active');
});

test('a PUT by one tenant at a path another tenant uses creates its own entity, never replaces', async () => {
  const r = await putCompute(bob, '/compute/only-a', 'bob copy');
  expect(r.status).toBe(201);
  expect(await title(alice, '/compute/only-a')).toBe('secret');
  expect(await title(bob, '/compute/only-a')).toBe('bob copy');
  expect((await h.http.delete('/compute/only-a').set('X-Auth-Token', bob)).status).toBe(200);
  expect(await title(alice, '/compute/only-a')).toBe('secret');
});

test('collections, unbound paths and filters list only the caller tenant', async () => {
  expect(await listing(alice, '/compute/')).toEqual(['/compute/only-a', '/compute/web1']);
  expect(await listing(bob, '/compute/')).toEqual(['/compute/web1']);
  expect(await listing(bob, '/')).toEqual(['/compute/web1']);
  // A filter on alice's title finds nothing for bob.
  expect(await listing(bob, '/compute/?attribute=occi.core.title&value=secret')).toEqual([]);
  expect(await listing(alice, '/compute/?attribute=occi.core.title&value=secret')).toEqual(['/compute/only-a']);
  const total = await h.http.get('/compute/').set('X-Auth-Token', bob).set('Accept', 'text/uri-list');
  expect(total.headers['x-occi-total']).toBe('1');
});

test('user mixins: defined per tenant, listed only in its /-/, membership never crosses', async () => {
  const a = await h.http.post('/-/').set('X-Auth-Token', alice).set('Content-Type', 'text/occi').set('Category', TAG);
  expect(a.status).toBe(200);
  // Same scheme#term and location in another tenant: no clash.
  const b = await h.http.post('/-/').set('X-Auth-Token', bob).set('Content-Type', 'text/occi').set('Category', TAG);
  expect(b.status).toBe(200);
  const mine = await h.http.post('/tags/').set('X-Auth-Token', alice).set('Content-Type', 'text/occi').set('X-OCCI-Location', '/compute/only-a');
  expect(mine.status).toBe(200);
  // bob's /tags/ cannot reach alice's only-a, which does not exist for him.
  const before = await h.seq();
  const cross = await h.http.post('/tags/').set('X-Auth-Token', bob).set('Content-Type', 'text/occi').set('X-OCCI-Location', '/compute/only-a');
  expect(cross.status).toBe(404);
  expect(await h.seq()).toBe(before);
  expect(await listing(alice, '/tags/')).toEqual(['/compute/only-a']);
  expect(await listing(bob, '/tags/')).toEqual([]);
  // A tenant's own mixin: bob's GET of /-/ shows his tag, and no trace of acme.
  const q = await h.http.get('/-/').set('X-Auth-Token', bob).set('Accept', 'application/occi+json');
  const tags = (q.body.mixins as Array<{ scheme: string; term: string; location: string }>).filter((m) => m.scheme === 'http://example.com/tags#');
  expect(tags.map((m) => new URL(m.location).pathname)).toEqual(['/tags/']);
  // Deleting bob's tag leaves alice's tag and its membership alone.
  const del = await h.http.delete('/-/').set('X-Auth-Token', bob).set('Content-Type', 'text/occi').set('Category', 'tag; scheme="http://example.com/tags#"; class="mixin"');
  expect(del.status).toBe(200);
  expect(await listing(alice, '/tags/')).toEqual(['/compute/only-a']);
  const gone = await h.http.get('/tags/').set('X-Auth-Token', bob).set('Accept', 'text/uri-list');
  expect(gone.status).toBe(404);
});

test("a link whose source or target is another tenant's resource is refused and never created", async () => {
  expect((await h.http.put('/network/net-a').set('X-Auth-Token', alice).set('Content-Type', 'text/occi')
    .set('Category', `network; scheme="${INFRA}"; class="kind"`)).status).toBe(201);
  const before = await h.seq();
  // Target: alice's network, from bob's compute.
  const toOther = await h.http.post('/networkinterface/').set('X-Auth-Token', bob).set('Content-Type', 'text/occi')
    .set('Category', `networkinterface; scheme="${INFRA}"; class="kind"`)
    .set('X-OCCI-Attribute', 'occi.core.source="/compute/web1", occi.core.target="/network/net-a"');
  expect(toOther.status).toBe(400);
  expect(toOther.text).toContain('/network/net-a');
  // Source: alice's compute, to bob's own network.
  expect((await h.http.put('/network/net-b').set('X-Auth-Token', bob).set('Content-Type', 'text/occi')
    .set('Category', `network; scheme="${INFRA}"; class="kind"`)).status).toBe(201);
  const mid = await h.seq();
  const fromOther = await h.http.post('/networkinterface/').set('X-Auth-Token', bob).set('Content-Type', 'text/occi')
    .set('Category', `networkinterface; scheme="${INFRA}"; class="kind"`)
    .set('X-OCCI-Attribute', 'occi.core.source="/compute/only-a", occi.core.target="/network/net-b"');
  expect(fromOther.status).toBe(400);
  expect(fromOther.text).toContain('/compute/only-a');
  expect(await h.seq()).toBe(mid);
  expect(mid).not.toBe(before); // net-b was made in between: seq does move on a write
  expect(await listing(bob, '/networkinterface/')).toEqual([]);
  expect(await listing(alice, '/networkinterface/')).toEqual([]);
});

test('an action on a kind collection acts on the caller tenant only', async () => {
  const r = await h.http.post('/compute/?action=stop').set('X-Auth-Token', bob);
  expect(r.status).toBe(200);
  const state = async (token: string, p: string) =>
    (await h.http.get(p).set('X-Auth-Token', token).set('Accept', 'application/occi+json')).body.attributes['occi.compute.state'];
  expect(await state(bob, '/compute/web1')).toBe('inactive');
  expect(await state(alice, '/compute/web1')).toBe('active');
  expect(await state(alice, '/compute/only-a')).toBe('active');
});

test('admins act on another tenant only by naming it in X-Tenant-Name', async () => {
  // Unnamed: the global admin works in its own tenant, where /compute/web1 does not exist.
  expect((await h.http.get('/compute/web1').set('X-Auth-Token', root)).status).toBe(404);
  expect(await listing(root, '/compute/')).toEqual([]);
  // Named: it sees that tenant's objects.
  expect(await listing(root, '/compute/', { 'X-Tenant-Name': 'acme' })).toEqual(['/compute/only-a', '/compute/web1']);
  // A tenant admin: its own tenant by default, another one where it holds a role by naming it.
  expect(await listing(carol, '/compute/')).toEqual(['/compute/only-a', '/compute/web1']);
  expect(await listing(carol, '/compute/', { 'X-Tenant-Name': 'beta' })).toEqual(['/compute/web1']);
  const other = await h.http.get('/compute/').set('X-Auth-Token', carol).set('X-Tenant-Name', 'gamma');
  expect(other.status).toBe(403);
  expect(other.text).toContain('gamma');
  // A member naming a tenant it has no role in: 403, never the listing.
  const member = await h.http.get('/compute/').set('X-Auth-Token', bob).set('X-Tenant-Name', 'acme');
  expect(member.status).toBe(403);
  expect(member.text).not.toContain('/compute/');
});

test('DELETE on a kind collection and on / never crosses tenants', async () => {
  const before = await listing(alice, '/compute/');
  expect((await h.http.delete('/compute/').set('X-Auth-Token', bob)).status).toBe(200);
  expect(await listing(bob, '/compute/')).toEqual([]);
  expect(await listing(alice, '/compute/')).toEqual(before);
  // The global admin's unnamed DELETE / empties its own tenant only.
  expect((await h.http.delete('/').set('X-Auth-Token', root)).status).toBe(200);
  expect(await listing(alice, '/compute/')).toEqual(before);
  expect(await listing(alice, '/network/')).toEqual(['/network/net-a']);
  expect(await listing(bob, '/network/')).toEqual(['/network/net-b']);
  expect((await h.http.delete('/').set('X-Auth-Token', bob)).status).toBe(200);
  expect(await listing(bob, '/')).toEqual([]);
  expect(await listing(alice, '/')).toEqual(['/compute/only-a', '/compute/web1', '/network/net-a']);
});
