import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TokenFileChecker } from '../../../src/auth/token-checker';
import { addToken, addUser, parseTokenFile, readTokenFile, revokeToken, TokenFileError } from '../../../src/auth/token-file';
import type { Logger } from '../../../src/backends/backend';
import { Unauthorized } from '../../../src/errors';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const SECRET = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const sha = (s: string): string => crypto.createHash('sha256').update(s).digest('hex');

function tmpFile(text?: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-tf-')), 'tokens.yaml');
  if (text !== undefined) fs.writeFileSync(file, text);
  return file;
}

const HAND_WRITTEN = `
users:
  alice:
    tenant: acme
    roles: { acme: admin, beta: member }
  root:
    admin: true
    roles: {}
tokens:
  t1: { user: alice, sha256: ${sha(SECRET)} }
  t2: { user: root, sha256: ${sha(SECRET.toLowerCase())} }
  t3: { user: ghost, sha256: ${sha(SECRET)} }
`;

/** Polls until `check` passes or the bound is reached. */
async function eventually(check: () => Promise<boolean>, boundMs = 5000): Promise<boolean> {
  const until = Date.now() + boundMs;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('the token file', () => {
  test('a hand-written file parses to users, roles and hashed tokens', () => {
    const data = parseTokenFile(HAND_WRITTEN);
    expect(data.users.get('alice')).toEqual({ tenant: 'acme', roles: { acme: 'admin', beta: 'member' } });
    expect(data.users.get('root')).toEqual({ admin: true, roles: {} });
    expect(data.tokens.get('t1')).toEqual({ user: 'alice', sha256: sha(SECRET) });
  });

  test.each([
    ['users: [a]', 'users must be a mapping'],
    ['users: { alice: { roles: { acme: owner } } }', 'expected admin or member'],
    ['users: { alice: { roles: { "a:b": member } } }', 'not a valid tenant name'],
    ['users: { alice: { password: hunter2 } }', 'not an scrypt hash'],
    ['tokens: { t1: { user: alice, sha256: nothex } }', 'needs user and sha256'],
    ['users: {', 'not valid YAML'],
  ])('refuses %j naming the problem', (text, message) => {
    expect(() => parseTokenFile(text)).toThrow(TokenFileError);
    expect(() => parseTokenFile(text)).toThrow(message);
  });

  test('an empty file, or one with only comments, reads as empty', () => {
    expect(parseTokenFile('').users.size).toBe(0);
    expect(parseTokenFile('# nothing yet\n\n').tokens.size).toBe(0);
  });

  test('a missing file reads as empty', () => {
    const data = readTokenFile(path.join(os.tmpdir(), `nope-${Date.now()}`, 'tokens.yaml'));
    expect(data.users.size + data.tokens.size).toBe(0);
  });

  test('addToken grants the role, stores only the hash, and writes mode 0600; revokeToken removes it', () => {
    const file = tmpFile();
    const { id, token } = addToken(file, { user: 'bob', tenant: 'beta', role: 'member' });
    addToken(file, { user: 'bob', tenant: 'gamma', role: 'admin', globalAdmin: true });
    const text = fs.readFileSync(file, 'utf8');
    const secret = token.slice(id.length + 1);
    expect(text).not.toContain(secret);
    expect(text).toContain(sha(secret));
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
    const data = readTokenFile(file);
    expect(data.users.get('bob')).toEqual({ tenant: 'beta', roles: { beta: 'member', gamma: 'admin' }, admin: true });
    expect(data.tokens.size).toBe(2);
    expect(revokeToken(file, id)).toBe(true);
    expect(revokeToken(file, id)).toBe(false);
    expect(readTokenFile(file).tokens.has(id)).toBe(false);
  });

  test('addToken refuses bad names and roles without touching the file', () => {
    const file = tmpFile('');
    expect(() => addToken(file, { user: 'bob', tenant: '../etc', role: 'member' })).toThrow('tenant name');
    expect(() => addToken(file, { user: 'bob smith', tenant: 'acme', role: 'member' })).toThrow('user name');
    expect(() => addToken(file, { user: 'bob', tenant: 'acme', role: 'owner' as 'admin' })).toThrow('role');
    expect(fs.readFileSync(file, 'utf8')).toBe('');
  });
});

describe('TokenFileChecker', () => {
  test('a token maps to its user, roles and default tenant; global admin from the user', async () => {
    const c = new TokenFileChecker(tmpFile(HAND_WRITTEN), quiet);
    expect(await c.authenticate({ kind: 'token', token: `t1.${SECRET}` })).toEqual({
      user: 'alice', roles: { acme: 'admin', beta: 'member' }, admin: false, defaultTenant: 'acme',
    });
    expect(await c.authenticate({ kind: 'token', token: `t2.${SECRET.toLowerCase()}` })).toEqual({ user: 'root', roles: {}, admin: true });
  });

  test.each([
    ['a wrong secret', `t1.${SECRET.toLowerCase()}`],
    ['an unknown id', `t9.${SECRET}`],
    ['a token whose user is gone', `t3.${SECRET}`],
    ['no dot', SECRET],
    ['the hash itself', `t1.${sha(SECRET)}`],
  ])('%s is 401', async (_what, token) => {
    const c = new TokenFileChecker(tmpFile(HAND_WRITTEN), quiet);
    await expect(c.authenticate({ kind: 'token', token })).rejects.toBeInstanceOf(Unauthorized);
  });

  test('Basic: the right password passes (also from the cache), a wrong one or an unknown user is 401', async () => {
    const file = tmpFile();
    await addUser(file, { user: 'carol', tenant: 'acme', role: 'member' }, 'correct horse');
    const c = new TokenFileChecker(file, quiet);
    const ok = { user: 'carol', roles: { acme: 'member' }, admin: false, defaultTenant: 'acme' };
    expect(await c.authenticate({ kind: 'basic', user: 'carol', password: 'correct horse' })).toEqual(ok);
    expect(await c.authenticate({ kind: 'basic', user: 'carol', password: 'correct horse' })).toEqual(ok);
    await expect(c.authenticate({ kind: 'basic', user: 'carol', password: 'wrong horse' })).rejects.toBeInstanceOf(Unauthorized);
    await expect(c.authenticate({ kind: 'basic', user: 'dave', password: 'correct horse' })).rejects.toBeInstanceOf(Unauthorized);
    await expect(c.authenticate(undefined)).rejects.toBeInstanceOf(Unauthorized);
  });

  test('edits on disk are picked up without a restart: new token passes, revoked token fails', async () => {
    const file = tmpFile();
    const first = addToken(file, { user: 'alice', tenant: 'acme', role: 'member' });
    const c = new TokenFileChecker(file, quiet);
    const passes = (token: string) => c.authenticate({ kind: 'token', token }).then(() => true, () => false);
    expect(await passes(first.token)).toBe(true);
    const second = addToken(file, { user: 'bob', tenant: 'beta', role: 'member' });
    expect(await eventually(() => passes(second.token))).toBe(true);
    revokeToken(file, first.id);
    expect(await eventually(async () => !(await passes(first.token)))).toBe(true);
    expect(await passes(second.token)).toBe(true);
  });

  test('a broken edit keeps the last good contents', async () => {
    const file = tmpFile();
    const t = addToken(file, { user: 'alice', tenant: 'acme', role: 'member' });
    const warnings: string[] = [];
    const c = new TokenFileChecker(file, { ...quiet, warn: (m: string) => void warnings.push(m) });
    fs.writeFileSync(file, 'users: {\n');
    // Each check stats the file; the bad contents are noticed on one of them.
    expect(await eventually(async () => (await c.authenticate({ kind: 'token', token: t.token })).user === 'alice' && warnings.length > 0)).toBe(true);
    expect(warnings[0]).toContain('keeping the previous contents');
    expect((await c.authenticate({ kind: 'token', token: t.token })).user).toBe('alice');
  });
});
