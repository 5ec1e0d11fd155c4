/**
 * Builds the koa app from its parts (no listen), so tests drive `app.callback()` with supertest.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import { authMiddleware, type Authenticator } from './auth';
import type { Logger } from './backends/backend';
import { projectDir, type Config } from './config';
import { MethodNotAllowed, RequestHeaderFieldsTooLarge } from './errors';
import { PROVIDERS_ALLOW, QUERY_INTERFACE_ALLOW, answerOptions } from './http/allow';
import { auditMiddleware } from './http/audit';
import { allowOf, decodePath, entityRoutes, resolveTarget } from './http/entity-routes';
import { errorMiddleware } from './http/error-middleware';
import { ACCEPTED_TYPES, OCCI_VERSION, checkVersion } from './http/negotiate';
import { queryInterface } from './http/query-interface';
import { requestContext } from './http/request';
import { actingAs } from './service/acting';
import { Collections } from './service/collections';
import type { OcciService } from './service/occi-service';

const VERSION: string = (JSON.parse(fs.readFileSync(path.join(projectDir(), 'package.json'), 'utf8')) as { version: string }).version;

export interface AppDeps {
  config: Config;
  service: OcciService;
  log: Logger;
  /** Who may call (src/auth): every request passes it right after the error middleware. */
  auth: Authenticator;
}

export function buildApp(deps: AppDeps): Koa {
  const { config, service, log, auth } = deps;
  const app = new Koa();
  app.proxy = false;
  // Errors koa sees outside the middleware chain (the client broke the connection, or sent bytes after
  // `Connection: close` and Node answered 400 itself): logged structured, instead of koa's default raw
  // console.error line per such request (found by the fuzz suite).
  app.on('error', (e: unknown) => log.debug('connection error', { error: e instanceof Error ? e.message : String(e) }));
  const collections = new Collections(service, config.limits);
  const opts = { bodyBytes: config.limits.bodyBytes, baseUrl: config.baseUrl };

  // Outermost: the audit line is written once the error middleware has set the final status.
  app.use(auditMiddleware(log));
  app.use(async (ctx, next) => {
    ctx.set('Server', `occitan/${VERSION} OCCI/${OCCI_VERSION}`);
    ctx.set('Accept', ACCEPTED_TYPES);
    await next();
  });
  app.use(errorMiddleware(log));
  app.use(authMiddleware(auth));
  // The service enforces some rules itself (kinds only admins manage): it learns who calls from here.
  app.use(async (ctx, next) => {
    const caller = ctx.state.caller as { user: string; admin: boolean } | undefined;
    if (!caller) return next();
    await actingAs({ user: caller.user, admin: caller.admin }, next);
  });
  app.use(async (ctx, next) => {
    if (ctx.req.rawHeaders.length / 2 > config.limits.headerCount) {
      throw new RequestHeaderFieldsTooLarge(`the request has ${ctx.req.rawHeaders.length / 2} header lines; the limit is ${config.limits.headerCount}`);
    }
    checkVersion(ctx);
    await next();
  });

  const router = new Router();
  // A documented extension: the provider table (which provider serves each kind), readable by every
  // caller; admins change it with pyOCNI's "update provider" request on PUT /-/.
  router.get('/-/providers', (ctx) => {
    ctx.type = 'application/json; charset=utf-8';
    ctx.body = JSON.stringify(service.backends.providerTable());
  });
  router.all('/-/providers', (ctx) => {
    if (ctx.method !== 'OPTIONS') throw new MethodNotAllowed(ctx.method, ctx.path, PROVIDERS_ALLOW);
    answerOptions(ctx, PROVIDERS_ALLOW);
  });
  // With or without the trailing '/', as every location (src/http/entity-routes.ts resolveTarget).
  for (const path of ['/-/', '/-', '/.well-known/org/ogf/occi/-/', '/.well-known/org/ogf/occi/-']) {
    router.all(path, async (ctx) => {
      // OPTIONS reads no body and negotiates nothing: it only names the methods.
      if (ctx.method === 'OPTIONS') return answerOptions(ctx, QUERY_INTERFACE_ALLOW);
      return queryInterface(ctx, await requestContext(ctx, opts), service, collections);
    });
  }
  app.use(router.routes());
  // Reached only when no query-interface route matched (the router calls next() then).
  app.use(async (ctx) => {
    const deps = { service, collections };
    if (ctx.method === 'OPTIONS') return answerOptions(ctx, allowOf(await resolveTarget(ctx, deps, decodePath(ctx.path))));
    await entityRoutes(ctx, await requestContext(ctx, opts), deps);
  });
  return app;
}
