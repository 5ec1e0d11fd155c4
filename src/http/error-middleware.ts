/**
 * The outermost middleware: owns every error status code. OcciErrors keep their status and, for 4xx
 * (and the honest 501/502/503), their message; anything else is a 500 whose details are logged with a
 * request id and never shown. Bodies are rendered in the negotiated media type.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from '../backends/backend';
import { OcciError } from '../errors';
import { errorRenderer } from './negotiate';
import { send } from './respond';

export function errorMiddleware(log: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (e) {
      let status = 500;
      let message = 'internal error';
      let headers: Record<string, string> = {};
      if (e instanceof OcciError) {
        status = e.status;
        headers = e.headers;
        if (e.expose) message = e.message;
      } else if (typeof e === 'object' && e !== null && typeof (e as { status?: unknown }).status === 'number' && (e as { expose?: boolean }).expose) {
        // koa's own client errors (ctx.throw, malformed URLs).
        status = (e as { status: number }).status;
        message = (e as Error).message;
      }
      if (status >= 500 && !(e instanceof OcciError && e.expose)) {
        // The audit middleware's id for this request when it has one, so the two log lines join.
        const id = typeof ctx.state.requestId === 'string' ? ctx.state.requestId : randomUUID();
        log.error('request failed', { id, method: ctx.method, path: ctx.path, error: e instanceof Error ? e.stack ?? e.message : String(e) });
        message = `internal error (request id ${id})`;
      }
      ctx.res.removeHeader('ETag');
      const renderer = errorRenderer(ctx);
      send(ctx, status, renderer, renderer.renderError(status, message), headers);
    }
  };
}
