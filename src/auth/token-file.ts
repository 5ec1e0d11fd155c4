/**
 * The token file (YAML): users with their per-tenant roles, an optional global `admin` and an optional
 * scrypt password (HTTP Basic), and tokens stored as the SHA-256 of their secret under their id.
 *
 *   users:
 *     alice:
 *       tenant: acme               # used when a request names no X-Tenant-Name
 *       roles: { acme: admin, beta: member }
 *       admin: false               # global admin: category management, provider table
 *       password: scrypt$32768$8$1$<salt>$<hash>
 *   tokens:
 *     <id>: { user: alice, tenant: acme, sha256: <hex>, created: <ISO date> }
 *
 * Written atomically (temporary file, then rename) with mode 0600: it holds hashes, not secrets, but
 * nobody else needs to read them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { TENANT_NAME, USER_NAME, isRole, type TenantRole } from './principal';
import { generateToken, hashPassword, isPasswordHash } from './secrets';

export interface UserEntry {
  tenant?: string;
  roles: Record<string, TenantRole>;
  admin?: boolean;
  password?: string;
}

export interface TokenEntry {
  user: string;
  tenant?: string;
  sha256: string;
  created?: string;
}

export interface TokenFileData {
  users: Map<string, UserEntry>;
  tokens: Map<string, TokenEntry>;
}

export class TokenFileError extends Error {}

export function emptyTokenFile(): TokenFileData {
  return { users: new Map(), tokens: new Map() };
}

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses the file's text; throws TokenFileError naming the first bad entry. */
export function parseTokenFile(text: string, file = 'token file'): TokenFileData {
  // An empty file (or one holding only comments) has no users and no tokens yet.
  if (text.replace(/^\s*#.*$/gm, '').trim() === '') return emptyTokenFile();
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (e) {
    throw new TokenFileError(`${file} is not valid YAML: ${(e as Error).message}`);
  }
  const out = emptyTokenFile();
  if (doc === undefined || doc === null) return out;
  if (!isPlain(doc)) throw new TokenFileError(`${file} must hold a mapping with users and tokens`);
  const users = doc.users ?? {};
  const tokens = doc.tokens ?? {};
  if (!isPlain(users)) throw new TokenFileError(`${file}: users must be a mapping of user names`);
  if (!isPlain(tokens)) throw new TokenFileError(`${file}: tokens must be a mapping of token ids`);
  for (const [name, raw] of Object.entries(users)) {
    if (!USER_NAME.test(name)) throw new TokenFileError(`${file}: user name ${JSON.stringify(name)} is not allowed`);
    if (!isPlain(raw)) throw new TokenFileError(`${file}: user ${name} must be a mapping`);
    const roles: Record<string, TenantRole> = {};
    const rawRoles = raw.roles ?? {};
    if (!isPlain(rawRoles)) throw new TokenFileError(`${file}: roles of user ${name} must map tenants to admin or member`);
    for (const [tenant, role] of Object.entries(rawRoles)) {
      if (!TENANT_NAME.test(tenant)) throw new TokenFileError(`${file}: user ${name} names tenant ${JSON.stringify(tenant)}, which is not a valid tenant name`);
      if (!isRole(role)) throw new TokenFileError(`${file}: user ${name} has role ${JSON.stringify(role)} in ${tenant}; expected admin or member`);
      roles[tenant] = role;
    }
    if (raw.password !== undefined && !isPasswordHash(raw.password)) throw new TokenFileError(`${file}: password of user ${name} is not an scrypt hash (use occitan user add)`);
    if (raw.admin !== undefined && typeof raw.admin !== 'boolean') throw new TokenFileError(`${file}: admin of user ${name} must be true or false`);
    if (raw.tenant !== undefined && (typeof raw.tenant !== 'string' || !TENANT_NAME.test(raw.tenant))) throw new TokenFileError(`${file}: tenant of user ${name} is not a valid tenant name`);
    out.users.set(name, {
      roles,
      ...(raw.tenant !== undefined ? { tenant: raw.tenant as string } : {}),
      ...(raw.admin !== undefined ? { admin: raw.admin } : {}),
      ...(raw.password !== undefined ? { password: raw.password } : {}),
    });
  }
  for (const [id, raw] of Object.entries(tokens)) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new TokenFileError(`${file}: token id ${JSON.stringify(id)} is not allowed`);
    if (!isPlain(raw) || typeof raw.user !== 'string' || typeof raw.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(raw.sha256)) {
      throw new TokenFileError(`${file}: token ${id} needs user and sha256 (64 hex digits)`);
    }
    if (raw.tenant !== undefined && (typeof raw.tenant !== 'string' || !TENANT_NAME.test(raw.tenant))) throw new TokenFileError(`${file}: tenant of token ${id} is not a valid tenant name`);
    out.tokens.set(id, {
      user: raw.user,
      sha256: raw.sha256,
      ...(raw.tenant !== undefined ? { tenant: raw.tenant as string } : {}),
      ...(typeof raw.created === 'string' ? { created: raw.created } : raw.created instanceof Date ? { created: raw.created.toISOString() } : {}),
    });
  }
  return out;
}

export function readTokenFile(file: string): TokenFileData {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyTokenFile();
    throw new TokenFileError(`cannot read token file ${file}: ${(e as Error).message}`);
  }
  return parseTokenFile(text, file);
}

const HEADER = '# occitan token file: edit with `occitan token add|revoke` and `occitan user add`; reloaded when it changes.\n';

export function writeTokenFile(file: string, data: TokenFileData): void {
  const doc = {
    users: Object.fromEntries(data.users),
    tokens: Object.fromEntries(data.tokens),
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, HEADER + yaml.dump(doc), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export interface Grant {
  user: string;
  tenant: string;
  role: TenantRole;
  globalAdmin?: boolean;
}

function grant(data: TokenFileData, g: Grant): void {
  if (!USER_NAME.test(g.user)) throw new TokenFileError(`user name ${JSON.stringify(g.user)} is not allowed (letters, digits and ._@+-)`);
  if (!TENANT_NAME.test(g.tenant)) throw new TokenFileError(`tenant name ${JSON.stringify(g.tenant)} is not allowed (letters, digits and ._-, at most 64)`);
  if (!isRole(g.role)) throw new TokenFileError(`role ${JSON.stringify(g.role)} is not admin or member`);
  const user = data.users.get(g.user) ?? { roles: {} };
  user.roles = { ...user.roles, [g.tenant]: g.role };
  user.tenant ??= g.tenant;
  if (g.globalAdmin) user.admin = true;
  data.users.set(g.user, user);
}

/** Grants the role and adds a token for the user; returns the token, which is shown once and never stored. */
export function addToken(file: string, g: Grant): { id: string; token: string } {
  const data = readTokenFile(file);
  grant(data, g);
  const t = generateToken();
  data.tokens.set(t.id, { user: g.user, tenant: g.tenant, sha256: t.sha256, created: new Date().toISOString() });
  writeTokenFile(file, data);
  return { id: t.id, token: t.token };
}

/** Removes a token; false when no token has that id. */
export function revokeToken(file: string, id: string): boolean {
  const data = readTokenFile(file);
  if (!data.tokens.delete(id)) return false;
  writeTokenFile(file, data);
  return true;
}

/** Grants the role and sets the user's password (HTTP Basic), stored under scrypt. */
export async function addUser(file: string, g: Grant, password: string): Promise<void> {
  if (password.length < 8) throw new TokenFileError('the password must have at least 8 characters');
  const hash = await hashPassword(password);
  const data = readTokenFile(file);
  grant(data, g);
  data.users.get(g.user)!.password = hash;
  writeTokenFile(file, data);
}
