/**
 * auth.mode oidc: Bearer access tokens (JWTs) verified in-process with jose against a JWKS, from a URL
 * (fetched on demand, cached, refetched when a token names an unknown key id, at most once per cooldown)
 * or a local file (re-read when it changes). Issuer and audience are checked; the configured claims give
 * the user, the tenant(s) and the role (`member`, `admin` for the tenant, `global-admin` for category
 * management), e.g. Keycloak's `realm_access.roles` as a dotted path.
 */
import * as fs from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config';
import { ServiceUnavailable, Unauthorized } from '../errors';
import type { Authenticator, Credential } from './authenticator';
import { TENANT_NAME, type Principal, type TenantRole } from './principal';

export const OIDC_CHALLENGE = 'Bearer realm="occitan"';
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
export const GLOBAL_ADMIN_ROLE = 'global-admin';

/** `a.b.c` looks inside nested claims; a claim whose own name has dots is found first. */
function claim(payload: JWTPayload, name: string): unknown {
  if (name in payload) return payload[name];
  let node: unknown = payload;
  for (const part of name.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function strings(v: unknown): string[] {
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

type OidcConfig = Config['auth']['oidc'];

/** Maps a verified payload to a principal: every tenant in the tenant claim gets the role from the role claim. */
export function principalFromClaims(payload: JWTPayload, claims: OidcConfig['claims']): Principal {
  const user = claim(payload, claims.user);
  if (typeof user !== 'string' || user === '') throw new Unauthorized(`the token has no ${claims.user} claim naming the user`, OIDC_CHALLENGE);
  const roleValues = strings(claim(payload, claims.role));
  const admin = roleValues.includes(GLOBAL_ADMIN_ROLE);
  const role: TenantRole = admin || roleValues.includes('admin') ? 'admin' : 'member';
  const tenants = strings(claim(payload, claims.tenant)).filter((t) => TENANT_NAME.test(t));
  const roles: Record<string, TenantRole> = {};
  for (const t of tenants) roles[t] = role;
  return { user, roles, admin, ...(tenants[0] !== undefined ? { defaultTenant: tenants[0] } : {}) };
}

/** A JWKS file, re-read when its mtime changes. */
function fileKeys(file: string): JWTVerifyGetKey {
  let stamp = '';
  let keys: JWTVerifyGetKey | undefined;
  return async (header, token) => {
    const s = fs.statSync(file);
    const now = `${s.mtimeMs}:${s.size}`;
    if (!keys || now !== stamp) {
      keys = createLocalJWKSet(JSON.parse(fs.readFileSync(file, 'utf8')) as Parameters<typeof createLocalJWKSet>[0]);
      stamp = now;
    }
    return keys(header, token);
  };
}

export class OidcChecker implements Authenticator {
  readonly challenge = OIDC_CHALLENGE;
  readonly anonymous = false;
  private readonly keys: JWTVerifyGetKey;

  constructor(private readonly config: OidcConfig, opts: { cooldownMs?: number; cacheMaxAgeMs?: number } = {}) {
    if (config.jwksUrl) {
      this.keys = createRemoteJWKSet(new URL(config.jwksUrl), {
        cooldownDuration: opts.cooldownMs ?? 30_000,
        cacheMaxAge: opts.cacheMaxAgeMs ?? 600_000,
        timeoutDuration: 5_000,
      });
    } else {
      this.keys = fileKeys(config.jwksFile);
    }
  }

  async authenticate(credential: Credential | undefined): Promise<Principal> {
    if (!credential) throw new Unauthorized('a Bearer access token is required (Authorization: Bearer or X-Auth-Token)', this.challenge);
    if (credential.kind !== 'token') throw new Unauthorized('this server accepts Bearer access tokens, not passwords', this.challenge);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(credential.token, this.keys, {
        issuer: this.config.issuer,
        audience: this.config.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp'],
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid || !(e instanceof joseErrors.JOSEError)) {
        throw new ServiceUnavailable('the signing keys (JWKS) cannot be fetched right now');
      }
      const why = e instanceof joseErrors.JWTExpired ? 'it has expired'
        : e instanceof joseErrors.JWTClaimValidationFailed ? `${e.message} (${e.claim})`
        : e instanceof joseErrors.JWKSNoMatchingKey ? 'no known key matches its key id'
        : e instanceof joseErrors.JWSSignatureVerificationFailed ? 'its signature does not verify'
        : e instanceof joseErrors.JOSEAlgNotAllowed ? 'its algorithm is not accepted'
        : 'it is not a valid signed JWT';
      throw new Unauthorized(`the access token was refused: ${why}`, `${this.challenge}, error="invalid_token"`);
    }
    return principalFromClaims(payload, this.config.claims);
  }

  async close(): Promise<void> {
    return undefined;
  }
}
