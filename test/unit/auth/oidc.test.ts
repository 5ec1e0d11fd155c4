/**
 * OIDC/JWT: real tokens signed with keys generated here, the JWKS served from a loopback HTTP server.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import { OidcChecker, principalFromClaims } from '../../../src/auth/oidc';
import { ServiceUnavailable, Unauthorized } from '../../../src/errors';

const ISSUER = 'https://idp.example.com/realms/occi';
const AUDIENCE = 'occitan';
const CLAIMS = { user: 'sub', tenant: 'tenant', role: 'role' };

interface Key { kid: string; privateKey: KeyLike; jwk: JWK }
async function newKey(kid: string, alg = 'ES256'): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

let served: JWK[] = [];
let fetches = 0;
let server: http.Server;
let jwksUrl: string;
let k1: Key;

beforeAll(async () => {
  k1 = await newKey('k1');
  served = [k1.jwk];
  server = http.createServer((req, res) => {
    fetches++;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ keys: served }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
});
afterAll(async () => new Promise<void>((r) => server.close(() => r())));

const checker = (over: Partial<{ issuer: string; audience: string; jwksUrl: string; jwksFile: string }> = {}) =>
  new OidcChecker({ issuer: ISSUER, audience: AUDIENCE, jwksUrl, jwksFile: '', claims: CLAIMS, ...over }, { cooldownMs: 0 });

const now = () => Math.floor(Date.now() / 1000);

function sign(key: Key, claims: Record<string, unknown> = {}, opts: { iss?: string; aud?: string; exp?: number; nbf?: number; noExp?: boolean } = {}): Promise<string> {
  let jwt = new SignJWT({ tenant: 'acme', role: 'member', ...claims })
    .setProtectedHeader({ alg: key.jwk.alg as string, kid: key.kid })
    .setSubject(typeof claims.sub === 'string' ? claims.sub : 'alice')
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuedAt();
  if (!opts.noExp) jwt = jwt.setExpirationTime(opts.exp ?? now() + 300);
  if (opts.nbf !== undefined) jwt = jwt.setNotBefore(opts.nbf);
  return jwt.sign(key.privateKey);
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

async function refused(c: OidcChecker, token: string): Promise<Unauthorized> {
  const e: unknown = await c.authenticate({ kind: 'token', token }).then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(Unauthorized);
  expect((e as Unauthorized).headers['WWW-Authenticate']).toMatch(/^Bearer realm="occitan"/);
  return e as Unauthorized;
}

test('a valid token passes and maps sub, tenant and role', async () => {
  const p = await checker().authenticate({ kind: 'token', token: await sign(k1) });
  expect(p).toEqual({ user: 'alice', roles: { acme: 'member' }, admin: false, defaultTenant: 'acme' });
});

test('expired, not yet valid, wrong issuer, wrong audience and no exp: 401 each, saying why', async () => {
  const c = checker();
  expect((await refused(c, await sign(k1, {}, { exp: now() - 60 }))).message).toContain('expired');
  expect((await refused(c, await sign(k1, {}, { nbf: now() + 600 }))).message).toContain('nbf');
  expect((await refused(c, await sign(k1, {}, { iss: 'https://evil.example.com' }))).message).toContain('iss');
  expect((await refused(c, await sign(k1, {}, { aud: 'someone-else' }))).message).toContain('aud');
  expect((await refused(c, await sign(k1, {}, { noExp: true }))).message).toContain('exp');
});

test('an unknown key id, alg none, a tampered signature, HS256 and garbage: 401', async () => {
  const c = checker();
  const stranger = await newKey('k-unknown');
  expect((await refused(c, await sign(stranger))).message).toContain('no known key');
  // Signed by a stranger's key but claiming k1's kid: the signature does not verify.
  const forged = await sign({ ...stranger, kid: 'k1', jwk: { ...stranger.jwk, kid: 'k1' } });
  expect((await refused(c, forged)).message).toContain('signature');
  const good = await sign(k1);
  const [h, , s] = good.split('.');
  const payload = { sub: 'alice', tenant: 'acme', role: 'global-admin', iss: ISSUER, aud: AUDIENCE, exp: now() + 300 };
  await refused(c, `${h}.${b64(payload)}.${s}`);
  await refused(c, `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`);
  const hs = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new TextEncoder().encode('x'.repeat(32)));
  await refused(c, hs);
  await refused(c, 'not-a-jwt');
});

test('the JWKS rotates: a new key served by the IdP passes without a restart, the old one once withdrawn fails', async () => {
  const c = checker();
  expect((await c.authenticate({ kind: 'token', token: await sign(k1) })).user).toBe('alice');
  const k2 = await newKey('k2', 'RS256');
  served = [k2.jwk];
  const before = fetches;
  expect((await c.authenticate({ kind: 'token', token: await sign(k2, { sub: 'bob' }) })).user).toBe('bob');
  expect(fetches).toBeGreaterThan(before);
  // k1 is cached until the next refetch; a token with a still-unknown kid forces one.
  await refused(c, await sign(await newKey('k3')));
  await refused(c, await sign(k1));
  served = [k1.jwk];
});

test('a JWKS file works too, and an unreachable JWKS URL is 503, not 401', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-jwks-')), 'jwks.json');
  fs.writeFileSync(file, JSON.stringify({ keys: [k1.jwk] }));
  const c = checker({ jwksUrl: '', jwksFile: file });
  expect((await c.authenticate({ kind: 'token', token: await sign(k1) })).user).toBe('alice');
  const down = checker({ jwksUrl: 'http://127.0.0.1:9/jwks' });
  await expect(down.authenticate({ kind: 'token', token: await sign(k1) })).rejects.toBeInstanceOf(ServiceUnavailable);
});

test('passwords are not accepted in oidc mode; no credential is 401', async () => {
  const c = checker();
  await expect(c.authenticate({ kind: 'basic', user: 'alice', password: 'x' })).rejects.toBeInstanceOf(Unauthorized);
  await expect(c.authenticate(undefined)).rejects.toBeInstanceOf(Unauthorized);
});

describe('claims mapping', () => {
  test('several tenants, tenant admin and global admin', () => {
    expect(principalFromClaims({ sub: 'a', tenant: ['acme', 'beta'], role: 'admin' }, CLAIMS))
      .toEqual({ user: 'a', roles: { acme: 'admin', beta: 'admin' }, admin: false, defaultTenant: 'acme' });
    expect(principalFromClaims({ sub: 'r', role: ['global-admin'] }, CLAIMS)).toEqual({ user: 'r', roles: {}, admin: true });
  });

  test('dotted paths reach nested claims (Keycloak realm_access.roles); bad tenant names are dropped', () => {
    const claims = { user: 'preferred_username', tenant: 'occi.tenant', role: 'realm_access.roles' };
    expect(principalFromClaims({ preferred_username: 'k', occi: { tenant: 'acme ../x' }, realm_access: { roles: ['offline', 'admin'] } }, claims))
      .toEqual({ user: 'k', roles: { acme: 'admin' }, admin: false, defaultTenant: 'acme' });
  });

  test('a token without the user claim is 401', () => {
    expect(() => principalFromClaims({ tenant: 'acme' }, CLAIMS)).toThrow(Unauthorized);
  });
});
