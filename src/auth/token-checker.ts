/**
 * auth.mode tokens: checks `<id>.<secret>` tokens (one lookup, a constant-time compare) and HTTP Basic
 * passwords (scrypt) against the token file, which is re-read when its size, mtime or inode change (one
 * stat per request, at most every 250 ms). A file that turns unreadable keeps the last good contents.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type { Logger } from '../backends/backend';
import { Unauthorized } from '../errors';
import type { Authenticator, Credential } from './authenticator';
import type { Principal } from './principal';
import { secretMatches, splitToken, verifyPassword } from './secrets';
import { readTokenFile, type TokenFileData, type UserEntry } from './token-file';

export const TOKENS_CHALLENGE = 'Basic realm="occitan", Bearer realm="occitan"';
const STAT_EVERY_MS = 250;
const BASIC_CACHE_MS = 5 * 60 * 1000;

function principalOf(name: string, user: UserEntry, defaultTenant: string | undefined): Principal {
  const tenant = defaultTenant ?? user.tenant ?? Object.keys(user.roles)[0];
  return { user: name, roles: user.roles, admin: user.admin === true, ...(tenant !== undefined ? { defaultTenant: tenant } : {}) };
}

export class TokenFileChecker implements Authenticator {
  readonly challenge = TOKENS_CHALLENGE;
  readonly anonymous = false;
  private data: TokenFileData;
  private stamp: string;
  private checkedAt = 0;
  /** Basic credentials already verified (keyed by a hash of user, password and stored hash), to spare scrypt. */
  private readonly verified = new Map<string, number>();

  constructor(private readonly file: string, private readonly log: Logger) {
    this.data = readTokenFile(file);
    this.stamp = this.statStamp();
  }

  private statStamp(): string {
    try {
      const s = fs.statSync(this.file);
      return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
    } catch {
      return 'missing';
    }
  }

  /** Re-reads the file when it changed on disk. */
  refresh(): void {
    const now = Date.now();
    if (now - this.checkedAt < STAT_EVERY_MS) return;
    this.checkedAt = now;
    const stamp = this.statStamp();
    if (stamp === this.stamp) return;
    try {
      this.data = readTokenFile(this.file);
      this.stamp = stamp;
      this.verified.clear();
      this.log.info(`token file ${this.file} reloaded: ${this.data.tokens.size} tokens, ${this.data.users.size} users`);
    } catch (e) {
      this.stamp = stamp;
      this.log.warn(`token file ${this.file} changed but cannot be used (${(e as Error).message}); keeping the previous contents`);
    }
  }

  async authenticate(credential: Credential | undefined): Promise<Principal> {
    if (!credential) throw new Unauthorized('credentials are required: X-Auth-Token, Authorization: Bearer or HTTP Basic', this.challenge);
    this.refresh();
    if (credential.kind === 'token') {
      const parts = splitToken(credential.token);
      const entry = parts ? this.data.tokens.get(parts.id) : undefined;
      const user = entry ? this.data.users.get(entry.user) : undefined;
      if (!parts || !entry || !user || !secretMatches(parts.secret, entry.sha256)) {
        throw new Unauthorized('the token is not valid', this.challenge);
      }
      return principalOf(entry.user, user, entry.tenant);
    }
    const user = this.data.users.get(credential.user);
    const key = crypto.createHash('sha256').update(`${credential.user}\0${credential.password}\0${user?.password ?? ''}`).digest('hex');
    const until = this.verified.get(key);
    if (user?.password && until !== undefined && until > Date.now()) return principalOf(credential.user, user, undefined);
    if (!(await verifyPassword(credential.password, user?.password)) || !user) {
      throw new Unauthorized('the user name or password is not valid', this.challenge);
    }
    if (this.verified.size > 1000) this.verified.clear();
    this.verified.set(key, Date.now() + BASIC_CACHE_MS);
    return principalOf(credential.user, user, undefined);
  }

  async close(): Promise<void> {
    this.verified.clear();
  }
}
