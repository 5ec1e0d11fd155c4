/**
 * Admin-only category management (issue 4 §3): creating, updating and deleting kinds, actions,
 * provider-defined mixins and the provider table need a global admin (403 otherwise, store unchanged);
 * tenants create and delete their own user mixins. A tenant admin ("admin for the tenant") is not a
 * global admin.
 */
import { startTokenHarness, tokenFixture } from '../support/auth';
import { INFRA, type Harness } from '../support/harness';

let h: Harness;
let member: string;
let tenantAdmin: string;
let root: string;

beforeAll(async () => {
  const t = tokenFixture();
  member = t.add('mia', 'acme', 'member');
  tenantAdmin = t.add('tia', 'acme', 'admin');
  root = t.add('root', 'default', 'admin', true);
  h = await startTokenHarness(t);
});
afterAll(async () => h.close());

const KIND = 'robot; scheme="http://example.com/robots#"; class="kind"; location="/robot/"; rel="http://schemas.ogf.org/occi/core#resource"';
const ACTION = 'dance; scheme="http://example.com/robots/action#"; class="action"';
const PROVIDER_MIXIN = 'gold; scheme="http://example.com/flavours#"; class="mixin"; location="/gold/"';
const USER_MIXIN = 'mine; scheme="http://example.com/tags#"; class="mixin"; location="/mine/"';
const PROVIDER_UPDATE = JSON.stringify({ providers: [{ OCCI_ID: `${INFRA}compute`, Provider: { local: ['dummy'], remote: [] } }] });

const postCategory = (token: string, category: string, query = '') =>
  h.http.post(`/-/${query}`).set('X-Auth-Token', token).set('Content-Type', 'text/occi').set('Category', category);

async function categoryIds(token: string): Promise<string[]> {
  const r = await h.http.get('/-/').set('X-Auth-Token', token).set('Accept', 'application/occi+json');
  expect(r.status).toBe(200);
  const body = r.body as Record<'kinds' | 'mixins' | 'actions', Array<{ scheme: string; term: string }> | undefined>;
  return [...(body.kinds ?? []), ...(body.mixins ?? []), ...(body.actions ?? [])].map((c) => c.scheme + c.term);
}

describe.each([
  ['a member', () => member],
  ['a tenant admin', () => tenantAdmin],
])('%s may not manage provider categories', (_who, token) => {
  test.each([
    ['a kind', KIND, ''],
    ['an action', ACTION, ''],
    ['a provider mixin', PROVIDER_MIXIN, '?scope=provider'],
  ])('creating %s: 403, nothing stored', async (_what, category, query) => {
    const before = await h.seq();
    const r = await postCategory(token(), category, query);
    expect(r.status).toBe(403);
    expect(r.text).toContain('admin');
    expect(await h.seq()).toBe(before);
    const ids = await categoryIds(token());
    expect(ids).not.toContain('http://example.com/robots#robot');
    expect(ids).not.toContain('http://example.com/robots/action#dance');
    expect(ids).not.toContain('http://example.com/flavours#gold');
  });

  test('updating the provider table: 403, table unchanged', async () => {
    const before = await h.seq();
    const r = await h.http.put('/-/').set('X-Auth-Token', token()).set('Content-Type', 'application/occi+json').send(PROVIDER_UPDATE);
    expect(r.status).toBe(403);
    expect(await h.seq()).toBe(before);
  });

  test('updating a shipped kind: 403', async () => {
    const before = await h.seq();
    const r = await h.http.put('/-/').set('X-Auth-Token', token()).set('Content-Type', 'text/occi')
      .set('Category', `compute; scheme="${INFRA}"; class="kind"; title="mine now"`);
    expect(r.status).toBe(403);
    expect(await h.seq()).toBe(before);
  });

  test('deleting a provider-defined mixin or a kind: 403, still listed', async () => {
    const before = await h.seq();
    const mixin = await h.http.delete('/-/').set('X-Auth-Token', token()).set('Content-Type', 'text/occi')
      .set('Category', 'ssh_key; scheme="http://schemas.ogf.org/occi/infrastructure/credentials#"; class="mixin"');
    expect(mixin.status).toBe(403);
    expect(mixin.text).toContain('http://schemas.ogf.org/occi/infrastructure/credentials#ssh_key');
    const kind = await h.http.delete('/-/').set('X-Auth-Token', token()).set('Content-Type', 'text/occi')
      .set('Category', `compute; scheme="${INFRA}"; class="kind"`);
    expect(kind.status).toBe(403);
    expect(await h.seq()).toBe(before);
    const ids = await categoryIds(token());
    expect(ids).toContain('http://schemas.ogf.org/occi/infrastructure/credentials#ssh_key');
    expect(ids).toContain(`${INFRA}compute`);
  });

  test('creating and deleting its own user mixin: 200', async () => {
    const made = await postCategory(token(), USER_MIXIN);
    expect(made.status).toBe(200);
    expect(made.text).toContain('Category: mine; scheme="http://example.com/tags#"; class="mixin"');
    expect(await categoryIds(token())).toContain('http://example.com/tags#mine');
    const gone = await h.http.delete('/-/').set('X-Auth-Token', token()).set('Content-Type', 'text/occi')
      .set('Category', 'mine; scheme="http://example.com/tags#"; class="mixin"');
    expect(gone.status).toBe(200);
    expect(await categoryIds(token())).not.toContain('http://example.com/tags#mine');
  });
});

test('a user mixin may not be created as a kind location or reuse a kind id', async () => {
  const before = await h.seq();
  const r = await postCategory(member, `compute; scheme="${INFRA}"; class="mixin"; location="/mycompute/"`);
  expect(r.status).toBe(409);
  expect(await h.seq()).toBe(before);
});

test('the global admin manages kinds, actions, provider mixins and the provider table', async () => {
  const kind = await postCategory(root, KIND);
  expect(kind.status).toBe(200);
  expect(kind.text).toContain('Category: robot; scheme="http://example.com/robots#"; class="kind"');
  const provider = await postCategory(root, PROVIDER_MIXIN, '?scope=provider');
  expect(provider.status).toBe(200);
  // Provider categories are global: members see them.
  const seen = await categoryIds(member);
  expect(seen).toContain('http://example.com/robots#robot');
  expect(seen).toContain('http://example.com/flavours#gold');
  const table = await h.http.put('/-/').set('X-Auth-Token', root).set('Content-Type', 'application/occi+json').send(PROVIDER_UPDATE);
  expect(table.status).toBe(200);
  expect(JSON.parse(table.text).kinds[`${INFRA}compute`].providers).toEqual(['dummy']);
  // A member still cannot delete what the admin defined.
  const denied = await h.http.delete('/-/').set('X-Auth-Token', member).set('Content-Type', 'text/occi')
    .set('Category', 'gold; scheme="http://example.com/flavours#"; class="mixin"');
  expect(denied.status).toBe(403);
  const del = await h.http.delete('/-/').set('X-Auth-Token', root).set('Content-Type', 'text/occi')
    .set('Category', 'gold; scheme="http://example.com/flavours#"; class="mixin", robot; scheme="http://example.com/robots#"; class="kind"');
  expect(del.status).toBe(200);
  const after = await categoryIds(member);
  expect(after).not.toContain('http://example.com/robots#robot');
  expect(after).not.toContain('http://example.com/flavours#gold');
});
