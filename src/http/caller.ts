/**
 * Who is calling. Every "is this caller an admin" and "which tenant" question goes through here, so
 * authentication (its own issue) changes this file and nothing else.
 */
import type { Context } from 'koa';
import { Forbidden } from '../errors';

export interface Caller {
  user: string;
  tenant: string;
  /** May manage kinds, actions, provider mixins and the provider table. */
  admin: boolean;
}

export const DEFAULT_TENANT = 'default';

/** Until authentication is configured, every caller is the loopback admin of the default tenant. */
export function callerOf(ctx: Context): Caller {
  const c = ctx.state.caller as Caller | undefined;
  return c ?? { user: 'anonymous', tenant: DEFAULT_TENANT, admin: true };
}

export function isAdmin(caller: Caller): boolean {
  return caller.admin;
}

export function requireAdmin(caller: Caller, what: string): void {
  if (!isAdmin(caller)) throw new Forbidden(`${what} needs an admin`);
}
