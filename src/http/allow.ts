/**
 * Which methods each kind of path accepts (the `Allow` of a 405 and of an OPTIONS answer), OPTIONS itself,
 * and the one `?action` key an action request carries.
 *
 * OPTIONS goes through authentication like every other method: the method list of a path tells whether
 * it is a kind's, a mixin's (user mixins are per tenant) or no collection, which is the caller's to know.
 * occitan serves no CORS, so no credential-less preflight has to pass.
 */
import type { Context } from 'koa';
import { BadRequest } from '../errors';

export const ENTITY_ALLOW = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'] as const;
export const KIND_ALLOW = ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'] as const;
export const MIXIN_ALLOW = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'] as const;
export const UNBOUND_ALLOW = ['GET', 'HEAD', 'DELETE', 'OPTIONS'] as const;
export const QUERY_INTERFACE_ALLOW = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'] as const;
export const PROVIDERS_ALLOW = ['GET', 'HEAD', 'OPTIONS'] as const;

/** OPTIONS: 204, no body, `Allow` naming what the path accepts. */
export function answerOptions(ctx: Context, allow: readonly string[]): void {
  ctx.status = 204;
  ctx.body = null;
  ctx.set('Allow', allow.join(', '));
}

/**
 * The `?action=term` of the request, if any. GFD.223: the query "MUST contain a key-value pair" named
 * action; two action keys would leave which one runs to the query parser's order, so that is a 400.
 */
export function actionParam(ctx: Context): string | undefined {
  const action = ctx.query.action;
  if (Array.isArray(action)) {
    throw new BadRequest(`the query repeats the key "action" (${action.length} times); an action request names one: ?action=term`);
  }
  return action;
}
