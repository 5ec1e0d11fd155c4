/**
 * The audit trail (issue 4 §5): one structured log line per mutating request (POST, PUT, DELETE, PATCH),
 * written through the app's Logger as `audit` with
 *
 *   { requestId, user, tenant, method, path, action?, status, outcome }
 *
 * `user` and `tenant` are the authenticated caller's (null when authentication failed; `user` is still
 * named when the credential was good but the tenant asked for was refused). `path` is the request path as
 * sent (still percent-encoded, no query string); `action` is the `?action=` term when there is one. Never
 * a header value, body, token, password or hash.
 *
 * Mounted outermost, outside the error middleware, so `ctx.status` is final when the line is written,
 * errors included. The request id is also answered in `X-Request-Id` and reused by the error middleware
 * for a 500's log line, so the two can be joined.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from '../backends/backend';
import type { Caller } from './caller';

export const MUTATING_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

export type AuditOutcome = 'success' | 'denied' | 'refused' | 'failed';

export interface AuditLine {
  requestId: string;
  user: string | null;
  tenant: string | null;
  method: string;
  path: string;
  action?: string;
  status: number;
  outcome: AuditOutcome;
}

export function outcomeOf(status: number): AuditOutcome {
  if (status < 400) return 'success';
  if (status === 401 || status === 403) return 'denied';
  if (status < 500) return 'refused';
  return 'failed';
}

/** Keeps a logged value to one printable line of bounded size (the logger escapes it as JSON anyway). */
function bounded(s: string, max = 2048): string {
  return s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s;
}

export function auditMiddleware(log: Logger) {
  return async function audit(ctx: Context, next: Next): Promise<void> {
    if (!MUTATING_METHODS.has(ctx.method)) return next();
    const requestId = randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    let status = 500;
    try {
      await next();
      status = ctx.status;
    } finally {
      const caller = ctx.state.caller as Caller | undefined;
      const authenticated = ctx.state.authenticatedUser as string | undefined;
      const action = ctx.query.action;
      const line: AuditLine = {
        requestId,
        user: caller?.user ?? authenticated ?? null,
        tenant: caller?.tenant ?? null,
        method: ctx.method,
        path: bounded(ctx.path),
        ...(typeof action === 'string' ? { action: bounded(action, 256) } : {}),
        status,
        outcome: outcomeOf(status),
      };
      log.info('audit', { ...line });
    }
  };
}
