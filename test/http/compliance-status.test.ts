/**
 * OCCI 1.1 "HTTP Return Codes" (occi-spec.md §3.10, §3.5) for categories named in requests:
 * - a kind or mixin that does not exist: 404 naming it (create, update, mixin membership);
 * - a mixin that exists but does not apply to the entity's kind: 403 naming both;
 * - deleting a category occitan ships under http://schemas.ogf.org/occi/: 403, even for a global admin.
 * Kept at 400 (documented choices): malformed Category syntax, a kind that exists but is the wrong one for
 * the path, and an unknown action. Every refusal changes nothing (CouchDB's update_seq is unchanged).
 */
import type { Test } from 'supertest';
import { COMPUTE_CATEGORY, INFRA, startHarness, type Harness } from '../support/harness';

const GHOST_MIXIN_ID = 'http://example.com/tags#ghost';
const GHOST_MIXIN = 'ghost; scheme="http://example.com/tags#"; class="mixin"';
const GHOST_KIND_ID = 'http://example.com/robots#robot';
const GHOST_KIND = 'robot; scheme="http://example.com/robots#"; class="kind"';
const IPNETWORK_ID = 'http://schemas.ogf.org/occi/infrastructure/network#ipnetwork';
const IPNETWORK = 'ipnetwork; scheme="http://schemas.ogf.org/occi/infrastructure/network#"; class="mixin"';

let h: Harness;
let vm = '';

beforeAll(async () => {
  // No authentication: the caller is the loopback admin, a global admin (test/support/harness.ts).
  h = await startHarness();
  const r = await h.http.post('/compute/').set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY);
  expect(r.status).toBe(201);
  vm = new URL(r.headers.location as string).pathname;
});
afterAll(async () => h.close());

const occi = (method: 'post' | 'put', path: () => string, category: string) => (): Test =>
  h.http[method](path()).set('Content-Type', 'text/occi').set('Category', category);

/** Sends the request and checks its status, that the message names each id, and that nothing changed. */
async function refused(send: () => Test, status: number, names: readonly string[]): Promise<void> {
  const before = await h.seq();
  const r = await send();
  expect(r.status).toBe(status);
  for (const n of names) expect(r.text).toContain(n);
  expect(await h.seq()).toBe(before);
}

describe('a kind or mixin that does not exist: 404 naming it', () => {
  test.each<[string, () => Test, string]>([
    ['create naming an unknown kind', occi('post', () => '/compute/', GHOST_KIND), GHOST_KIND_ID],
    ['create naming an unknown mixin', occi('post', () => '/compute/', `${COMPUTE_CATEGORY}, ${GHOST_MIXIN}`), GHOST_MIXIN_ID],
    ['partial update (POST) adding an unknown mixin', occi('post', () => vm, GHOST_MIXIN), GHOST_MIXIN_ID],
    ['full update (PUT) naming an unknown mixin', occi('put', () => vm, `${COMPUTE_CATEGORY}, ${GHOST_MIXIN}`), GHOST_MIXIN_ID],
    ['JSON create naming an unknown mixin', () => h.http.post('/compute/').set('Content-Type', 'application/occi+json')
      .send(JSON.stringify({ kind: `${INFRA}compute`, mixins: [GHOST_MIXIN_ID] })), GHOST_MIXIN_ID],
  ])('%s', async (_name, send, id) => refused(send, 404, [id]));
});

describe('a mixin that does not apply to the kind: 403 naming both', () => {
  test.each<[string, () => Test]>([
    ['create', occi('post', () => '/compute/', `${COMPUTE_CATEGORY}, ${IPNETWORK}`)],
    ['partial update (POST)', occi('post', () => vm, IPNETWORK)],
    ['full update (PUT)', occi('put', () => vm, `${COMPUTE_CATEGORY}, ${IPNETWORK}`)],
    ['mixin membership (POST to the mixin collection)', () => h.http.post('/mixins/ipnetwork/').set('Content-Type', 'text/occi').set('X-OCCI-Location', vm)],
  ])('%s', async (_name, send) => refused(send, 403, [IPNETWORK_ID, `${INFRA}compute`]));
});

describe('kept at 400', () => {
  test('malformed Category syntax', async () => refused(occi('post', () => '/compute/', 'compute; scheme='), 400, ['Category']));
  test('an existing kind that is wrong for the path', async () =>
    refused(occi('put', () => '/network/n1', COMPUTE_CATEGORY), 400, [`${INFRA}compute`]));
  test('an unknown action', async () =>
    refused(() => h.http.post(`${vm}?action=fly`).set('Content-Type', 'text/occi')
      .set('Category', 'fly; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"'), 400, ['fly']));
});

describe('deleting a category occitan ships under the OGF scheme: 403 even for a global admin', () => {
  test.each([
    ['os_tpl', 'http://schemas.ogf.org/occi/infrastructure#', 'mixin'],
    ['resource_tpl', 'http://schemas.ogf.org/occi/infrastructure#', 'mixin'],
    ['ssh_key', 'http://schemas.ogf.org/occi/infrastructure/credentials#', 'mixin'],
    ['user_data', 'http://schemas.ogf.org/occi/infrastructure/compute#', 'mixin'],
    ['ipnetwork', 'http://schemas.ogf.org/occi/infrastructure/network#', 'mixin'],
    ['ipnetworkinterface', 'http://schemas.ogf.org/occi/infrastructure/networkinterface#', 'mixin'],
    ['compute', INFRA, 'kind'],
    ['resource', 'http://schemas.ogf.org/occi/core#', 'kind'],
    ['start', 'http://schemas.ogf.org/occi/infrastructure/compute/action#', 'action'],
  ])('%s', async (term, scheme, cls) => {
    const send = (): Test => h.http.delete('/-/').set('Content-Type', 'text/occi').set('Category', `${term}; scheme="${scheme}"; class="${cls}"`);
    await refused(send, 403, [scheme + term, 'provider-defined']);
    const listed = await h.http.get('/-/').set('Accept', 'text/plain');
    expect(listed.text).toContain(`Category: ${term}; scheme="${scheme}"; class="${cls}"`);
  });

  test('still refused after an admin updated the shipped category', async () => {
    const put = await h.http.put('/-/').set('Content-Type', 'text/occi')
      .set('Category', `os_tpl; scheme="${INFRA}"; class="mixin"; title="Images"; location="/os_tpl/"`);
    expect(put.status).toBe(200);
    await refused(() => h.http.delete('/-/').set('Content-Type', 'text/occi').set('Category', `os_tpl; scheme="${INFRA}"; class="mixin"`), 403, [`${INFRA}os_tpl`]);
  });

  test('an admin-defined category and occitan\'s own extension mixin stay deletable', async () => {
    const made = await h.http.post('/-/?scope=provider').set('Content-Type', 'text/occi')
      .set('Category', 'gold; scheme="http://example.com/flavours#"; class="mixin"; location="/gold/"');
    expect(made.status).toBe(200);
    for (const category of ['gold; scheme="http://example.com/flavours#"; class="mixin"', 'lease; scheme="https://occitan.dev/occi/occitan#"; class="mixin"']) {
      const r = await h.http.delete('/-/').set('Content-Type', 'text/occi').set('Category', category);
      expect(r.status).toBe(200);
    }
    const listed = await h.http.get('/-/').set('Accept', 'text/plain');
    expect(listed.text).not.toContain('http://example.com/flavours#');
    expect(listed.text).not.toContain('lease; scheme="https://occitan.dev/occi/occitan#"');
  });
});
