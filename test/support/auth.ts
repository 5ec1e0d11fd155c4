/**
 * Token files for HTTP tests: a temporary file written with the same code `occitan token add` uses, and
 * a harness in auth.mode tokens reading it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addToken } from '../../src/auth/token-file';
import type { Logger } from '../../src/backends/backend';
import { startHarness, type Harness } from './harness';

export interface TokenFixture {
  file: string;
  /** Grants the role and returns a fresh `<id>.<secret>` token for the user. */
  add(user: string, tenant: string, role: 'admin' | 'member', globalAdmin?: boolean): string;
}

export function tokenFixture(): TokenFixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-tokens-'));
  const file = path.join(dir, 'tokens.yaml');
  return {
    file,
    add: (user, tenant, role, globalAdmin = false) => addToken(file, { user, tenant, role, globalAdmin }).token,
  };
}

/** A whole occitan in auth.mode tokens on the fixture's file. */
export function startTokenHarness(tokens: TokenFixture, overrides: Record<string, unknown> = {}, opts: { log?: Logger } = {}): Promise<Harness> {
  return startHarness({ auth: { mode: 'tokens', tokenFile: tokens.file }, ...overrides }, opts);
}

/** `Authorization: Basic` for a user and password. */
export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}
