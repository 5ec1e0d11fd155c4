/**
 * Who is calling: checks the request's credential with the configured mode and sets
 * `ctx.state.caller = { user, tenant, admin, role }` for src/http/caller.ts. The tenant is the one named in
 * `X-Tenant-Name` (a global admin may name any tenant, others only one where they hold a role), else the
 * principal's default tenant. 401 (with `WWW-Authenticate`) for missing or bad credentials; 403 for good
 * credentials that give no access to the tenant asked for.
 */
import type { Context, Next } from 'koa';
import { BadRequest, Forbidden, Unauthorized } from '../errors';
import { DEFAULT_TENANT, type Caller } from '../http/caller';
import type { Authenticator } from './authenticator';
import { credentialOf } from './credentials';
import { TENANT_NAME, type Principal } from './principal';

/** The caller a principal becomes for a request naming `asked` (or no) tenant. */
export function callerFor(p: Principal, asked: string | undefined): Caller {
  if (asked !== undefined) {
    if (!TENANT_NAME.test(asked)) throw new BadRequest(`X-Tenant-Name ${JSON.stringify(asked)} is not a tenant name (letters, digits and ._-, at most 64)`);
    const role = p.roles[asked];
    if (role) return { user: p.user, tenant: asked, admin: p.admin, role };
    if (p.admin) return { user: p.user, tenant: asked, admin: true, role: 'admin' };
    throw new Forbidden(`${p.user} holds no role in tenant ${asked}`);
  }
  const tenant = p.defaultTenant ?? (p.admin ? DEFAULT_TENANT : undefined);
  if (tenant === undefined) throw new Forbidden(`${p.user} holds no role in any tenant`);
  return { user: p.user, tenant, admin: p.admin, role: p.roles[tenant] ?? (p.admin ? 'admin' : 'member') };
}

/**
 * Node keeps only the first of two Authorization headers and joins X-Auth-Token ones: a request that
 * carries a credential header twice is refused, never half-read (a proxy may have read the other one).
 */
function refuseRepeatedCredentials(rawHeaders: readonly string[], challenge: string): void {
  for (const name of ['authorization', 'x-auth-token']) {
    let n = 0;
    for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) n++;
    if (n > 1) throw new Unauthorized(`send one ${name} header, not ${n}`, challenge);
  }
}

export function authMiddleware(auth: Authenticator) {
  return async function authenticate(ctx: Context, next: Next): Promise<void> {
    const tenantHeader = ctx.get('X-Tenant-Name').trim();
    const asked = tenantHeader === '' ? undefined : tenantHeader;
    if (auth.anonymous) {
      ctx.state.caller = callerFor({ user: 'anonymous', roles: {}, admin: true }, asked);
    } else {
      refuseRepeatedCredentials(ctx.req.rawHeaders, auth.challenge);
      const credential = credentialOf(ctx.headers, auth.challenge);
      if (!credential) throw new Unauthorized('credentials are required', auth.challenge);
      const principal = await auth.authenticate(credential);
      // For the audit line when the tenant asked for is then refused (src/http/audit.ts).
      ctx.state.authenticatedUser = principal.user;
      ctx.state.caller = callerFor(principal, asked);
    }
    await next();
  };
}
