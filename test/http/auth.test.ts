/**
 * Authentication through the whole app (issue 4 §1): each credential form OCCI clients send, 401 with
 * WWW-Authenticate when missing or bad, 403 when good but not enough, token file edits without restart,
 * the IMS orchestrator's curl sequence (seed 001) as written, OIDC Bearer tokens, and auth: none.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { addToken, addUser, revokeToken } from '../../src/auth/token-file';
import { basic, startTokenHarness, tokenFixture, type TokenFixture } from '../support/auth';
import { COMPUTE_CATEGORY, startHarness, type Harness } from '../support/harness';

const CHALLENGE = 'Basic realm="occitan", Bearer realm="occitan"';

async function eventually(check: () => Promise<boolean>, boundMs = 5000): Promise<boolean> {
  const until = Date.now() + boundMs;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('auth.mode tokens', () => {
  let h: Harness;
  let t: TokenFixture;
  let alice: string;

  beforeAll(async () => {
    t = tokenFixture();
    alice = t.add('alice', 'acme', 'member');
    await addUser(t.file, { user: 'bob', tenant: 'acme', role: 'member' }, 'correct horse battery');
    h = await startTokenHarness(t);
    const made = await h.http.put('/compute/web1').set('X-Auth-Token', alice).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY);
    expect(made.status).toBe(201);
  });
  afterAll(async () => h.close());

  const listing = (r: { text: string }) => r.text.split(/\r?\n/).filter(Boolean).map((u) => new URL(u).pathname);

  test.each([
    ['X-Auth-Token', () => ({ 'X-Auth-Token': alice })],
    ['X-Auth-Token with X-Tenant-Name', () => ({ 'X-Auth-Token': alice, 'X-Tenant-Name': 'acme' })],
    ['Authorization: Bearer', () => ({ Authorization: `Bearer ${alice}` })],
    ['HTTP Basic', () => ({ Authorization: basic('bob', 'correct horse battery') })],
  ])('%s is accepted and acts in the tenant', async (_form, headers) => {
    const r = await h.http.get('/compute/').set('Accept', 'text/uri-list').set(headers());
    expect(r.status).toBe(200);
    expect(listing(r)).toEqual(['/compute/web1']);
  });

  test.each([
    ['GET', '/-/'],
    ['GET', '/compute/web1'],
    ['DELETE', '/'],
    ['POST', '/compute/web1?action=stop'],
  ])('no credentials: %s %s is 401 naming the schemes, and changes nothing', async (method, path) => {
    const before = await h.seq();
    const r = await h.http[method.toLowerCase() as 'get'](path);
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe(CHALLENGE);
    expect(r.text).toBe('credentials are required\n');
    expect(await h.seq()).toBe(before);
  });

  test('a create without credentials is 401 before the body is looked at, and stores nothing', async () => {
    const before = await h.seq();
    const r = await h.http.post('/compute/').set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY);
    expect(r.status).toBe(401);
    expect(await h.seq()).toBe(before);
  });

  test.each([
    ['a wrong secret', () => ({ 'X-Auth-Token': `${alice.split('.')[0]}.${'A'.repeat(43)}` })],
    ['an unknown token id', () => ({ 'X-Auth-Token': `nosuchid.${alice.split('.')[1]}` })],
    ['a token that is not <id>.<secret>', () => ({ Authorization: 'Bearer hello' })],
    ['a wrong password', () => ({ Authorization: basic('bob', 'wrong horse battery') })],
    ['an unknown user', () => ({ Authorization: basic('mallory', 'correct horse battery') })],
    ['an unsupported scheme', () => ({ Authorization: 'Digest username="alice"' })],
  ])('%s is 401 with WWW-Authenticate', async (_what, headers) => {
    const r = await h.http.get('/compute/web1').set(headers());
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe(CHALLENGE);
    expect(r.text).not.toContain('web1');
  });

  test('the 401 is rendered in the negotiated media type', async () => {
    const r = await h.http.get('/compute/web1').set('Accept', 'application/occi+json');
    expect(r.status).toBe(401);
    expect(r.headers['content-type']).toMatch(/^application\/occi\+json/);
    expect(r.headers['www-authenticate']).toBe(CHALLENGE);
  });

  test('good credentials for a tenant the user holds no role in: 403', async () => {
    const r = await h.http.get('/compute/').set('X-Auth-Token', alice).set('X-Tenant-Name', 'beta');
    expect(r.status).toBe(403);
    expect(r.text).toBe('alice holds no role in tenant beta\n');
    const bad = await h.http.get('/compute/').set('X-Auth-Token', alice).set('X-Tenant-Name', 'a/b');
    expect(bad.status).toBe(400);
  });

  test('a token added to the file (as occitan token add does) works without a restart; a revoked one is refused', async () => {
    const added = addToken(t.file, { user: 'carol', tenant: 'acme', role: 'member' });
    const status = async (token: string) => (await h.http.get('/compute/web1').set('X-Auth-Token', token)).status;
    expect(await eventually(async () => (await status(added.token)) === 200)).toBe(true);
    expect(revokeToken(t.file, added.id)).toBe(true);
    expect(await eventually(async () => (await status(added.token)) === 401)).toBe(true);
    expect(await status(alice)).toBe(200);
  });

  test("the IMS orchestrator's curl sequence (seed 001) with its headers as written", async () => {
    const S = 'http://schemas.mobile-cloud-networking.eu/occi/service#';
    const root = addToken(t.file, { user: 'root', tenant: 'default', role: 'admin', globalAdmin: true }).token;
    const kid = addToken(t.file, { user: 'ims', tenant: 'ims-tenant', role: 'admin' }).token;
    expect(await eventually(async () => (await h.http.get('/-/').set('X-Auth-Token', kid)).status === 200)).toBe(true);
    const defined = await h.http.post('/-/').set('X-Auth-Token', root).set('Content-Type', 'text/occi').set('Category',
      `deploy; scheme="${S}"; class="action", orchestrator; scheme="${S}"; class="kind"; location="/orchestrator/"; ` +
      `rel="http://schemas.ogf.org/occi/core#resource"; attributes="mcn.endpoint.maas"; actions="${S}deploy"`);
    expect(defined.status).toBe(200);
    const ims = { 'X-Auth-Token': kid, 'X-Tenant-Name': 'ims-tenant' };
    const init = await h.http.put('/orchestrator/default').set('Content-Type', 'text/occi').set('Category', `orchestrator; scheme="${S}"`).set(ims);
    expect(init.status).toBe(201);
    expect(new URL(init.headers.location).pathname).toBe('/orchestrator/default');
    const deploy = await h.http.post('/orchestrator/default?action=deploy').set('Content-Type', 'text/occi').set('Category', `deploy; scheme="${S}"`).set(ims);
    expect(deploy.status).toBe(200);
    const update = await h.http.post('/orchestrator/default').set('Content-Type', 'text/occi').set(ims)
      .set('X-OCCI-Attribute', 'mcn.endpoint.maas="160.85.4.50"');
    expect(update.status).toBe(200);
    expect(update.text).toContain('X-OCCI-Attribute: mcn.endpoint.maas="160.85.4.50"');
    // Another tenant does not see it; the orchestrator's tenant does.
    expect((await h.http.get('/orchestrator/default').set('X-Auth-Token', alice)).status).toBe(404);
    expect((await h.http.delete('/orchestrator/default').set(ims)).status).toBe(200);
    expect((await h.http.get('/orchestrator/default').set(ims)).status).toBe(404);
  });
});

describe('auth.mode oidc', () => {
  let h: Harness;
  let jwks: http.Server;
  let privateKey: KeyLike;
  const ISSUER = 'https://idp.example.com';

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
    jwks = http.createServer((_req, res) => res.end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
    h = await startHarness({ auth: { mode: 'oidc', oidc: { issuer: ISSUER, audience: 'occitan', jwksUrl } }, timers: { jwksCooldown: 0 } });
  });
  afterAll(async () => {
    await h.close();
    await new Promise<void>((r) => jwks.close(() => r()));
  });

  const jwt = (tenant: string, exp = Math.floor(Date.now() / 1000) + 300) =>
    new SignJWT({ tenant, role: 'member' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject('dana')
      .setIssuer(ISSUER).setAudience('occitan').setExpirationTime(exp).sign(privateKey);

  test('a signed access token works as Bearer and as X-Auth-Token, in its tenant', async () => {
    const token = await jwt('acme');
    const made = await h.http.put('/compute/jwt1').set('Authorization', `Bearer ${token}`).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY);
    expect(made.status).toBe(201);
    expect((await h.http.get('/compute/jwt1').set('X-Auth-Token', token)).status).toBe(200);
    expect((await h.http.get('/compute/jwt1').set('X-Auth-Token', await jwt('beta'))).status).toBe(404);
  });

  test('expired: 401 with an invalid_token Bearer challenge; Basic is not a scheme here', async () => {
    const expired = await h.http.get('/-/').set('Authorization', `Bearer ${await jwt('acme', Math.floor(Date.now() / 1000) - 60)}`);
    expect(expired.status).toBe(401);
    expect(expired.headers['www-authenticate']).toBe('Bearer realm="occitan", error="invalid_token"');
    expect(expired.text).toBe('the access token was refused: it has expired\n');
    const none = await h.http.get('/-/');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="occitan"');
    const pw = await h.http.get('/-/').set('Authorization', basic('dana', 'password'));
    expect(pw.status).toBe(401);
  });
});

describe('auth.mode none (loopback only)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ auth: { mode: 'none' } });
  });
  afterAll(async () => h.close());

  test('no credentials needed; the caller is an admin of tenant default, or of the tenant it names', async () => {
    expect((await h.http.put('/compute/n1').set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY)).status).toBe(201);
    expect((await h.http.get('/compute/n1')).status).toBe(200);
    expect((await h.http.get('/compute/n1').set('X-Tenant-Name', 'other')).status).toBe(404);
    expect((await h.http.get('/compute/n1').set('X-Tenant-Name', 'default')).status).toBe(200);
  });
});
