#!/usr/bin/env node
/**
 * The `occitan` command. Arguments are parsed with node's util.parseArgs (no extra dependency).
 *   occitan serve [--config FILE]                    run the server
 *   occitan store --data-dir DIR [--port N] [--bind A]  run the embedded CouchDB-protocol store on its own
 *   occitan token add --user U --tenant T --role admin|member [--global-admin] [--config FILE]
 *   occitan token revoke --id ID [--config FILE]
 *   occitan user add --user U --tenant T --role admin|member [--global-admin] [--config FILE]   (password on stdin)
 */
import * as http from 'node:http';
import { parseArgs } from 'node:util';
import Koa from 'koa';
import { isRole } from './auth/principal';
import { tokenFilePath } from './auth/startup';
import { TokenFileError, addToken, addUser, revokeToken } from './auth/token-file';
import { ConfigError, loadConfig, type Config } from './config';
import type { Logger } from './backends/backend';
import { ServiceUnavailable } from './errors';
import { auditMiddleware } from './http/audit';
import { errorMiddleware } from './http/error-middleware';
import { createHttpServer, servesTls } from './http/http-server';
import { startOccitan, type Occitan } from './server';
import { runStandaloneStore } from './store/standalone';

function configFrom(file: string | undefined): Config {
  try {
    return loadConfig({ file });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`occitan: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } } });
  const config = configFrom(values.config);
  let occitan: Occitan;
  try {
    occitan = await startOccitan(config);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`occitan: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const tls = servesTls(config);
  const server = createHttpServer(config);
  const stop = drainOnSignal(server, occitan, {
    graceMs: config.timers.shutdownGrace ?? DEFAULT_SHUTDOWN_GRACE_MS,
    closeMs: config.timers.shutdownClose ?? DEFAULT_SHUTDOWN_CLOSE_MS,
  });
  server.on('error', (e: Error) => {
    if (server.listening) return void occitan.log.warn(`HTTP server: ${e.message}`);
    // A port in use or an address not on this host: say so, close the store, exit 1 (not a stack trace).
    process.stderr.write(`occitan: cannot listen on ${config.bind}:${config.port}: ${e.message}\n`);
    void occitan.close().finally(() => process.exit(1));
  });
  server.listen(config.port, config.bind, () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    process.stdout.write(`occitan listening on ${tls ? 'https' : 'http'}://${config.bind.includes(':') ? `[${config.bind}]` : config.bind}:${port}\n`);
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const DEFAULT_SHUTDOWN_GRACE_MS = 8_000;
const DEFAULT_SHUTDOWN_CLOSE_MS = 5_000;

/** Makes a response the last on its connection (and drops the keep-alive hint that would contradict it). */
function closeAfter(res: http.ServerResponse): void {
  res.setHeader('Connection', 'close');
  res.removeHeader('Keep-Alive');
}

/** Answers requests that arrive on kept-alive connections during the drain: 503, rendered like any error. */
function drainingApp(log: Logger): Koa {
  const app = new Koa();
  app.use(auditMiddleware(log));
  app.use(errorMiddleware(log));
  app.use(() => {
    throw new ServiceUnavailable('occitan is shutting down; retry in a moment', 5);
  });
  return app;
}

/**
 * Serves `occitan.app` on `server` and returns the SIGTERM/SIGINT handler: the first signal stops accepting
 * connections (new ones are refused), lets requests in flight finish for up to `graceMs` (each answered with
 * `Connection: close`; a request arriving on a kept-alive connection meanwhile gets 503 with `Retry-After`),
 * cuts whatever still runs after that, then closes occitan (lease sweep, change feed, providers, store) and
 * exits 0, or 1 if closing took longer than `closeMs` or failed. A second signal cuts the requests at once.
 */
function drainOnSignal(server: http.Server, occitan: Occitan, opts: { graceMs: number; closeMs: number }): (signal: NodeJS.Signals) => void {
  const { log } = occitan;
  const handle = occitan.app.callback();
  const refuse = drainingApp(log).callback();
  const active = new Set<http.ServerResponse>();
  let draining = false;
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (draining) {
      closeAfter(res);
      void refuse(req, res);
      return;
    }
    active.add(res);
    res.once('close', () => {
      active.delete(res);
      // A response whose headers went out before the drain kept its connection alive: close it now.
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
    void handle(req, res);
  });
  return (signal) => {
    if (draining) {
      log.warn(`${signal} again: cutting ${active.size} request(s) in flight now`);
      server.closeAllConnections();
      return;
    }
    draining = true;
    log.info(`${signal} received: finishing ${active.size} request(s) in flight (up to ${opts.graceMs} ms), refusing new ones`);
    for (const res of active) if (!res.headersSent) closeAfter(res);
    const cut = setTimeout(() => {
      if (active.size > 0) log.warn(`${active.size} request(s) still running after ${opts.graceMs} ms (timers.shutdownGrace): cutting them`);
      server.closeAllConnections();
    }, opts.graceMs);
    // Stops listening at once (new connections are refused) and calls back once every connection ended.
    server.close(() => {
      clearTimeout(cut);
      const late = setTimeout(() => {
        process.stderr.write(`occitan: closing the store and providers took longer than ${opts.closeMs} ms (timers.shutdownClose)\n`);
        process.exit(1);
      }, opts.closeMs);
      occitan.close().then(
        () => {
          clearTimeout(late);
          log.info('stopped');
          process.exit(0);
        },
        (e: unknown) => {
          process.stderr.write(`occitan: close failed: ${(e as Error).message}\n`);
          process.exit(1);
        },
      );
    });
    server.closeIdleConnections();
  };
}

async function store(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string' }, port: { type: 'string' }, bind: { type: 'string' } },
  });
  if (!values['data-dir']) throw new Error('occitan store needs --data-dir DIR');
  await runStandaloneStore({ dataDir: values['data-dir'], port: Number(values.port ?? '5984'), bind: values.bind });
}

const GRANT_OPTIONS = {
  config: { type: 'string', short: 'c' },
  user: { type: 'string' },
  tenant: { type: 'string' },
  role: { type: 'string' },
  'global-admin': { type: 'boolean' },
} as const;

function grantFrom(values: { user?: string; tenant?: string; role?: string; 'global-admin'?: boolean }, command: string): { user: string; tenant: string; role: 'admin' | 'member'; globalAdmin: boolean } {
  if (!values.user || !values.tenant || !values.role) throw new Error(`occitan ${command} needs --user U --tenant T --role admin|member`);
  if (!isRole(values.role)) throw new Error(`--role must be admin or member, not ${values.role}`);
  return { user: values.user, tenant: values.tenant, role: values.role, globalAdmin: values['global-admin'] === true };
}

/** `occitan token add|revoke`: edits the token file; a running server picks the change up. */
function token(argv: string[]): void {
  const [sub, ...rest] = argv;
  if (sub === 'add') {
    const { values } = parseArgs({ args: rest, options: GRANT_OPTIONS });
    const file = tokenFilePath(configFrom(values.config));
    const { id, token: secret } = addToken(file, grantFrom(values, 'token add'));
    process.stderr.write(`occitan: token ${id} added to ${file}; it is shown only this once:\n`);
    process.stdout.write(`${secret}\n`);
    return;
  }
  if (sub === 'revoke') {
    const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, id: { type: 'string' } } });
    if (!values.id) throw new Error('occitan token revoke needs --id ID (the part of the token before the dot)');
    const file = tokenFilePath(configFrom(values.config));
    if (!revokeToken(file, values.id)) throw new Error(`no token ${values.id} in ${file}`);
    process.stdout.write(`token ${values.id} revoked\n`);
    return;
  }
  throw new Error('usage: occitan token add --user U --tenant T --role admin|member [--global-admin] | occitan token revoke --id ID');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** `occitan user add`: a Basic user; the password is read from stdin (never from the command line). */
async function user(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== 'add') throw new Error('usage: occitan user add --user U --tenant T --role admin|member [--global-admin] < password');
  const { values } = parseArgs({ args: rest, options: GRANT_OPTIONS });
  const file = tokenFilePath(configFrom(values.config));
  const g = grantFrom(values, 'user add');
  if (process.stdin.isTTY) process.stderr.write('password (then Enter and Ctrl-D): ');
  await addUser(file, g, await readStdin());
  process.stdout.write(`user ${g.user} saved in ${file}\n`);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command ?? 'serve') {
    case 'serve':
      return serve(rest);
    case 'store':
      return store(rest);
    case 'token':
      return token(rest);
    case 'user':
      return user(rest);
    default:
      process.stderr.write('usage: occitan serve [--config FILE] | occitan store --data-dir DIR [--port N] [--bind ADDR] | occitan token add|revoke … | occitan user add …\n');
      process.exit(2);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`occitan: ${(e as Error).message}\n`);
  process.exit(e instanceof TokenFileError ? 2 : 1);
});
