/**
 * Who is calling. Every "is this caller an admin" and "which tenant" question goes through here; the
 * authentication middleware (src/auth/middleware.ts) sets `ctx.state.caller` on every request.
 */
import type { Context } from 'koa';
import { Forbidden, Unauthorized } from '../errors';

export interface Caller {
  user: string;
  /** The tenant this request acts in: every entity and user mixin it sees or touches is this tenant's. */
  tenant: string;
  /** Global admin: may manage kinds, actions, provider mixins and the provider table. */
  admin: boolean;
  /** The caller's role in `tenant` ("admin for the tenant" in IMS terms); global admins count as admin. */
  role?: 'admin' | 'member';
}

export const DEFAULT_TENANT = 'default';

/** The authenticated caller; a request that did not pass authentication has none (fail closed). */
export function callerOf(ctx: Context): Caller {
  const c = ctx.state.caller as Caller | undefined;
  if (!c) throw new Unauthorized('the request was not authenticated');
  return c;
}

export function isAdmin(caller: Caller): boolean {
  return caller.admin;
}

export function requireAdmin(caller: Caller, what: string): void {
  if (!isAdmin(caller)) throw new Forbidden(`${what} needs a global admin`);
}
