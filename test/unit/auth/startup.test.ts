/**
 * Safe by default: start-up refuses exposed configurations saying why; the first start prints an admin token once.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createAuthenticator } from '../../../src/auth';
import { bootstrapTokenFile } from '../../../src/auth/bootstrap';
import { checkStartup, isLoopback, tokenFilePath } from '../../../src/auth/startup';
import { readTokenFile } from '../../../src/auth/token-file';
import { ConfigError, loadConfig } from '../../../src/config';
import { startOccitan } from '../../../src/server';
import { quietLog } from '../../support/harness';

const config = (overrides: Record<string, unknown>) => loadConfig({ env: {}, overrides });
const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-start-'));

test.each(['127.0.0.1', '127.5.6.7', '::1', '[::1]', 'localhost', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])('%s is loopback', (h) => {
  expect(isLoopback(h)).toBe(true);
});
test.each(['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', '128.0.0.1', 'example.com', '::ffff:10.0.0.1', '1127.0.0.1'])('%s is not loopback', (h) => {
  expect(isLoopback(h)).toBe(false);
});

describe('checkStartup', () => {
  test('the defaults pass: tokens, loopback, no TLS', () => {
    const c = config({});
    expect(c.auth.mode).toBe('tokens');
    expect(c.allowInsecureHttp).toBe(false);
    expect(() => checkStartup(c)).not.toThrow();
  });

  test('auth none on loopback passes; on any other bind it refuses, saying why', () => {
    expect(() => checkStartup(config({ auth: { mode: 'none' }, bind: '::1' }))).not.toThrow();
    for (const bind of ['0.0.0.0', '10.1.2.3', '::']) {
      const c = config({ auth: { mode: 'none' }, bind, allowInsecureHttp: true, tls: { cert: '/c.pem', key: '/k.pem' } });
      expect(() => checkStartup(c)).toThrow(ConfigError);
      expect(() => checkStartup(c)).toThrow(`only starts on a loopback bind (127.0.0.1, ::1, localhost); bind is ${bind}`);
    }
  });

  test('a non-loopback bind needs TLS, or allowInsecureHttp: true', () => {
    expect(() => checkStartup(config({ bind: '0.0.0.0' }))).toThrow('no TLS is configured');
    expect(() => checkStartup(config({ bind: '0.0.0.0', tls: { cert: '/c.pem', key: '/k.pem' } }))).not.toThrow();
    expect(() => checkStartup(config({ bind: '0.0.0.0', allowInsecureHttp: true }))).not.toThrow();
    expect(() => checkStartup(config({ bind: '0.0.0.0', tls: { cert: '/c.pem' } }))).toThrow('both tls.cert and tls.key');
  });

  test('allowInsecureHttp and the auth keys come from the environment too', () => {
    const c = loadConfig({ env: { OCCITAN_ALLOW_INSECURE_HTTP: 'true', OCCITAN_AUTH_MODE: 'oidc', OCCITAN_AUTH_OIDC_ISSUER: 'https://i' } });
    expect(c.allowInsecureHttp).toBe(true);
    expect(c.auth.mode).toBe('oidc');
    expect(c.auth.oidc.issuer).toBe('https://i');
    expect(() => loadConfig({ env: { OCCITAN_AUTH_MODE: 'open' } })).toThrow('auth.mode (OCCITAN_AUTH_MODE)');
  });

  test('oidc needs issuer, audience and exactly one JWKS source, https off loopback', () => {
    const oidc = (o: Record<string, unknown>) => config({ auth: { mode: 'oidc', oidc: { issuer: 'https://i', audience: 'occitan', ...o } } });
    expect(() => checkStartup(oidc({ jwksUrl: 'https://i/jwks' }))).not.toThrow();
    expect(() => checkStartup(oidc({ jwksUrl: 'http://127.0.0.1:8081/jwks' }))).not.toThrow();
    expect(() => checkStartup(oidc({ jwksUrl: 'http://idp.example.com/jwks' }))).toThrow('must use https');
    expect(() => checkStartup(oidc({}))).toThrow('exactly one of auth.oidc.jwksUrl and auth.oidc.jwksFile');
    expect(() => checkStartup(oidc({ jwksUrl: 'https://i/jwks', jwksFile: '/j.json' }))).toThrow('exactly one');
    expect(() => checkStartup(config({ auth: { mode: 'oidc', oidc: { jwksUrl: 'https://i/jwks' } } }))).toThrow('issuer and auth.oidc.audience');
  });

  test('startOccitan refuses before opening anything', async () => {
    const dataDir = path.join(tmpDir(), 'data');
    await expect(startOccitan(config({ auth: { mode: 'none' }, bind: '0.0.0.0', dataDir }), { memoryStore: true, log: quietLog }))
      .rejects.toThrow('only starts on a loopback bind');
    expect(fs.existsSync(dataDir)).toBe(false);
  });
});

describe('first start', () => {
  test('the token file defaults to <dataDir>/tokens.yaml', () => {
    expect(tokenFilePath(config({ dataDir: '/srv/occitan' }))).toBe('/srv/occitan/tokens.yaml');
    expect(tokenFilePath(config({ auth: { tokenFile: '/etc/occitan/tokens.yaml' } }))).toBe('/etc/occitan/tokens.yaml');
  });

  test('an empty or missing token file gets an admin token, printed once; later starts print nothing', () => {
    const file = path.join(tmpDir(), 'data', 'tokens.yaml');
    const printed: string[] = [];
    const token = bootstrapTokenFile(file, (t) => void printed.push(t));
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(printed).toHaveLength(1);
    expect(printed[0]).toContain(`\n${token}\n`);
    expect(printed[0]).toContain('shown only this once');
    const data = readTokenFile(file);
    expect(data.users.get('admin')).toEqual({ tenant: 'default', roles: { default: 'admin' }, admin: true });
    expect(data.tokens.size).toBe(1);
    expect(fs.readFileSync(file, 'utf8')).not.toContain(token!.split('.')[1]);
    expect(bootstrapTokenFile(file, (t) => void printed.push(t))).toBeUndefined();
    expect(printed).toHaveLength(1);
  });

  test('an empty existing file counts as empty', () => {
    const file = path.join(tmpDir(), 'tokens.yaml');
    fs.writeFileSync(file, '');
    const printed: string[] = [];
    expect(bootstrapTokenFile(file, (t) => void printed.push(t))).toBeDefined();
    expect(printed).toHaveLength(1);
  });

  test('createAuthenticator in tokens mode bootstraps, and the printed token authenticates as global admin', async () => {
    const dataDir = tmpDir();
    const printed: string[] = [];
    const auth = createAuthenticator(config({ dataDir }), quietLog, { print: (t) => void printed.push(t) });
    const token = printed.join('').trim().split('\n').pop()!;
    expect(await auth.authenticate({ kind: 'token', token })).toEqual({ user: 'admin', roles: { default: 'admin' }, admin: true, defaultTenant: 'default' });
    createAuthenticator(config({ dataDir }), quietLog, { print: (t) => void printed.push(t) });
    expect(printed).toHaveLength(1);
  });
});
