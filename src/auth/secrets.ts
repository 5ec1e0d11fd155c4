/**
 * The secrets of the token file: token generation and hashing (SHA-256, one lookup and a constant-time
 * compare), and passwords under scrypt (a slow KDF). node:crypto only.
 */
import * as crypto from 'node:crypto';

/** A token is `<id>.<secret>`: the id names its entry in the token file, the secret is 256 random bits. */
export interface NewToken {
  id: string;
  token: string;
  sha256: string;
}

export function generateToken(): NewToken {
  const id = crypto.randomBytes(9).toString('base64url');
  const secret = crypto.randomBytes(32).toString('base64url');
  return { id, token: `${id}.${secret}`, sha256: sha256Hex(secret) };
}

export function sha256Hex(text: string): string {
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Splits `<id>.<secret>`; undefined when the text does not have that shape. */
export function splitToken(token: string): { id: string; secret: string } | undefined {
  const m = /^([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{16,128})$/.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** Constant-time comparison of a secret with its stored SHA-256 (hex). */
export function secretMatches(secret: string, storedHex: string): boolean {
  const expected = Buffer.from(storedHex, 'hex');
  const actual = crypto.createHash('sha256').update(secret, 'utf8').digest();
  return expected.length === actual.length && crypto.timingSafeEqual(expected, actual);
}

/** scrypt cost: N=2^15, r=8, p=1 (about 32 MiB and tens of milliseconds per check). */
const SCRYPT = { N: 32768, r: 8, p: 1 };
const KEY_LENGTH = 32;

function scrypt(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    crypto.scrypt(password, salt, KEY_LENGTH, { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key));
  });
}

/** `scrypt$N$r$p$<salt>$<hash>` (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export function isPasswordHash(v: unknown): v is string {
  return typeof v === 'string' && /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/.test(v);
}

/** A hash of a password nobody has: checking an unknown user costs as much as checking a known one. */
let decoy: Promise<string> | undefined;

export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const target = stored !== undefined && isPasswordHash(stored) ? stored : await (decoy ??= hashPassword(crypto.randomBytes(16).toString('hex')));
  const [, n, r, p, salt, hash] = target.split('$');
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  // Refuse parameters that would let an edited file make every check hang or exhaust memory.
  if (!(N >= 1024 && N <= 1048576 && R >= 1 && R <= 32 && P >= 1 && P <= 16)) return false;
  const expected = Buffer.from(hash!, 'base64url');
  const actual = await scrypt(password, Buffer.from(salt!, 'base64url'), { N, r: R, p: P });
  const ok = expected.length === actual.length && crypto.timingSafeEqual(expected, actual);
  return ok && target === stored;
}
