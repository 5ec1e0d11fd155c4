/**
 * The node HTTP(S) server occitan is served on, made in one place so `occitan serve`, the benchmark, the soak
 * and the fuzzer run the same server settings.
 *
 * Keep-alive: the server announces one idle time (`Keep-Alive: timeout=N`, `timers.keepAlive`, 5 s as node's
 * default) and keeps idle connections open `timers.keepAliveSlack` (10 s) longer. Clients that follow the hint
 * (node's agent, undici) close a second before it; without the slack, a request written just before the
 * server's idle timer fires, while occitan's event loop is busy, meets a closed socket (the client sees
 * ECONNRESET for a request occitan never read). With it, only a stall longer than the slack can do that.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Config } from '../config';

export const DEFAULT_KEEP_ALIVE_MS = 5_000;
export const DEFAULT_KEEP_ALIVE_SLACK_MS = 10_000;

type RequestListener = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** An HTTPS server when `tls.cert` and `tls.key` are set, HTTP otherwise; `handler`, if given, serves it. */
export function createHttpServer(config: Config, handler?: RequestListener): http.Server {
  const tls = config.tls.cert !== '' && config.tls.key !== '';
  const options = { maxHeaderSize: config.limits.headerBytes };
  const server: http.Server = tls
    ? https.createServer({ ...options, cert: fs.readFileSync(config.tls.cert), key: fs.readFileSync(config.tls.key) })
    : http.createServer(options);
  const announcedMs = config.timers.keepAlive ?? DEFAULT_KEEP_ALIVE_MS;
  const slackMs = config.timers.keepAliveSlack ?? DEFAULT_KEEP_ALIVE_SLACK_MS;
  // 0 announced: no keep-alive hint at all (node's own header then states the real idle time).
  if (announcedMs >= 1000) {
    const hint = `timeout=${Math.floor(announcedMs / 1000)}`;
    // Registered before any handler, so every response carries it unless a handler removes it.
    server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => res.setHeader('Keep-Alive', hint));
  }
  server.keepAliveTimeout = announcedMs + slackMs;
  if (handler) server.on('request', handler);
  return server;
}

/** Whether the server was made for TLS (for the "listening on https://" line). */
export function servesTls(config: Config): boolean {
  return config.tls.cert !== '' && config.tls.key !== '';
}
