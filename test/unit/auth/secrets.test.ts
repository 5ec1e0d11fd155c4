import * as crypto from 'node:crypto';
import { generateToken, hashPassword, secretMatches, splitToken, verifyPassword } from '../../../src/auth/secrets';

describe('tokens', () => {
  test('a new token is <id>.<secret> with a 256-bit secret, stored as the SHA-256 of the secret', () => {
    const t = generateToken();
    const [id, secret, ...rest] = t.token.split('.');
    expect(rest).toEqual([]);
    expect(id).toBe(t.id);
    expect(Buffer.from(secret!, 'base64url')).toHaveLength(32);
    expect(t.sha256).toBe(crypto.createHash('sha256').update(secret!).digest('hex'));
    expect(t.token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  });

  test('two tokens never share an id or a secret', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const t = generateToken();
      expect(seen.has(t.id)).toBe(false);
      seen.add(t.id);
    }
  });

  test('splitToken accepts the shape and refuses anything else', () => {
    expect(splitToken('abc.0123456789abcdefXYZ')).toEqual({ id: 'abc', secret: '0123456789abcdefXYZ' });
    for (const bad of ['', 'abc', 'abc.', '.0123456789abcdef', 'a.b.c', 'abc.short', 'a b.0123456789abcdef', 'abc.0123456789abcdef\n']) {
      expect(splitToken(bad)).toBeUndefined();
    }
  });

  test('secretMatches compares with the stored hash', () => {
    const secret = 'x'.repeat(43);
    const hex = crypto.createHash('sha256').update(secret).digest('hex');
    expect(secretMatches(secret, hex)).toBe(true);
    expect(secretMatches('y'.repeat(43), hex)).toBe(false);
    expect(secretMatches(secret, 'abcd')).toBe(false);
  });
});

describe('passwords', () => {
  test('hashed under scrypt with slow parameters and a random salt; verified only with the right password', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('correct horse');
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horse ', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
  });

  test('no stored hash, a malformed one, or absurd cost parameters never verify', async () => {
    expect(await verifyPassword('anything', undefined)).toBe(false);
    expect(await verifyPassword('anything', 'plaintext')).toBe(false);
    expect(await verifyPassword('anything', 'scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAA')).toBe(false);
  });
});
