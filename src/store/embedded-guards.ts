/**
 * What the embedded store puts around express-pouchdb 4.2 / pouchdb 7: HTTP Basic in front, and fixes for
 * its `_changes` bugs (a `_selector` filter or a missing filter design doc kills the host process; a
 * long-poll ignores `timeout`; a client that goes away leaks a heartbeat interval per feed).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

export interface Credentials {
  user: string;
  password: string;
}

type Handler = (req: Request, res: Response, next: NextFunction) => void;
type Log = (msg: string) => void;

/** HTTP Basic against the generated credentials; nothing reaches express-pouchdb without them. */
export function basicAuthGuard(creds: Credentials): Handler {
  // Hashing both sides gives equal-length buffers, so the comparison time says nothing about the secret.
  const expected = createHash('sha256').update(`${creds.user}:${creds.password}`).digest();
  return (req, res, next) => {
    const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(req.headers.authorization ?? '');
    const given = createHash('sha256')
      .update(m ? Buffer.from(m[1] ?? '', 'base64').toString('utf8') : '')
      .digest();
    if (!m || !timingSafeEqual(given, expected)) {
      res
        .status(401)
        .set('WWW-Authenticate', 'Basic realm="occitan-store"')
        .json({ error: 'unauthorized', reason: 'Name or password is incorrect.' });
      return;
    }
    // express-pouchdb would try these credentials against its own _users db and refuse them; without
    // them it serves the request as its (otherwise unreachable) admin party.
    delete req.headers.authorization;
    next();
  };
}

// Carries the HTTP response from the front guard to the feed wrapper. express-pouchdb hands the very
// `req.query` object to `db.changes()`, so a non-enumerable symbol on it travels along unseen.
const RESPONSE = Symbol('occitan.changes.response');
interface FeedOptions {
  [RESPONSE]?: ServerResponse;
  live?: unknown;
  feed?: unknown;
  since?: unknown;
  timeout?: unknown;
}

/** Refuses `filter=_selector` (pouchdb 7 lacks it) and marks live feeds for `guardChanges`. */
export function changesGuard(req: Request, res: Response, next: NextFunction): void {
  if (!/\/_changes\/?$/.test(req.path)) return next();
  const raw = req.query.filter;
  const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === 'string');
  // express-pouchdb JSON-decodes query values, so `filter="_selector"` must be caught too.
  if (values.some((v) => v.replace(/^"|"$/g, '') === '_selector')) {
    res.status(400).json({
      error: 'bad_request',
      reason: 'filter=_selector is not supported by the embedded store; use filter=_doc_ids or a design-document filter',
    });
    return;
  }
  Object.defineProperty(req.query, RESPONSE, { value: res, enumerable: false });
  next();
}

/** When each response counts as finished for `InFlight`: set by its middleware, called by a tied feed. */
const finishers = new WeakMap<ServerResponse, () => void>();

/**
 * Counts requests express-pouchdb is still working on, so close() can let them settle before closing the
 * databases: a query cut off by a closing LevelDB never settles, and express-pouchdb's heartbeat interval
 * for it would then run forever. A request is done when its response ends or its live feed is cancelled.
 */
export class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];

  readonly middleware: Handler = (_req, res, next) => {
    this.count++;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      if (--this.count === 0) for (const w of this.waiters.splice(0)) w();
    };
    finishers.set(res, finish);
    const end = res.end.bind(res) as (...a: unknown[]) => Response;
    res.end = ((...a: unknown[]) => {
      finish();
      return end(...a);
    }) as Response['end'];
    next();
  };

  /** Resolves when no request is in flight, or after `timeoutMs` (a stuck request must not block close). */
  drained(timeoutMs: number): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

interface Feed {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  emit(event: string, ...args: unknown[]): boolean;
  listenerCount(event: string): number;
  cancel(): void;
}

/** Marks the synthetic error that tells express-pouchdb's continuous feed its client is gone. */
const CLIENT_GONE = Object.assign(new Error('client went away'), { status: 499, occitanClientGone: true });

/**
 * Wraps a database's `changes()` (installed through express-pouchdb's dbWrapper, outermost):
 * - pouchdb-security re-emits a feed's 'error' on an emitter nobody listens to, so a failing `_changes`
 *   throws from a promise callback and kills the process: a listener here logs it instead, and the
 *   request still gets its error answer through the feed's promise;
 * - pouchdb-security's cancel() drops every listener before the feed's 'complete' arrives, so
 *   express-pouchdb never clears its 6 s heartbeat interval: cancel() first sends the event it waits for,
 *   and a closed connection cancels the feed (express-pouchdb never does for `feed=continuous`);
 * - a long-poll answers when its `timeout` runs out, as CouchDB does, instead of heart-beating forever.
 */
export function guardChanges(name: string, db: { changes: (...args: unknown[]) => unknown }, log: Log): void {
  const inner = db.changes;
  db.changes = function guardedChanges(this: unknown, ...args: unknown[]): unknown {
    const feed = inner.apply(this, args);
    if (!isFeed(feed)) return feed;
    if (feed.listenerCount('error') === 0) {
      feed.on('error', (err: unknown) => {
        if (err !== CLIENT_GONE) log(`changes feed of ${name} failed: ${describe(err)}`);
      });
    }
    const opts = (typeof args[0] === 'object' && args[0] !== null ? args[0] : {}) as FeedOptions;
    const res = opts[RESPONSE];
    if (res && opts.live === true) tieToResponse(feed, opts, res);
    return feed;
  };
}

function tieToResponse(feed: Feed, opts: FeedOptions, res: ServerResponse): void {
  const continuous = opts.feed === 'continuous';
  const cancel = feed.cancel.bind(feed);
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  feed.cancel = () => {
    if (done) return;
    done = true;
    if (timer) clearTimeout(timer);
    // express-pouchdb runs its cleanup on 'complete' (long-poll) or 'error' (continuous).
    if (continuous) feed.emit('error', CLIENT_GONE);
    else feed.emit('complete', { status: 'cancelled' });
    cancel();
    finishers.get(res)?.();
  };
  if (res.destroyed) {
    // The client left during the first, non-live check of a long-poll: nobody will see 'close' again.
    // Cancel once express-pouchdb has attached its listeners (synchronously after this call returns).
    setImmediate(() => feed.cancel());
  } else {
    res.once('close', () => {
      if (!res.writableFinished) feed.cancel();
    });
  }
  const since = opts.since ?? 0;
  // With since=now the current seq is unknown here, so such a poll keeps heart-beating instead.
  const sinceKnown = typeof since === 'number' || (typeof since === 'string' && since !== 'now');
  if (!continuous && sinceKnown && typeof opts.timeout === 'number' && opts.timeout > 0) {
    timer = setTimeout(() => {
      if (done || res.writableEnded) return;
      // express-pouchdb has already written `{"results":[`: close it as CouchDB does, nothing changed.
      res.end(`],\n"last_seq":${JSON.stringify(since)}}\n`);
      feed.cancel();
    }, opts.timeout);
  }
}

function isFeed(v: unknown): v is Feed {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as Partial<Feed>;
  return typeof f.on === 'function' && typeof f.emit === 'function' && typeof f.cancel === 'function' && typeof f.listenerCount === 'function';
}

/** A short, credential-free description of a pouchdb error (often a plain object, not an Error). */
export function describe(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  if (typeof e === 'object' && e !== null) {
    const o = e as Record<string, unknown>;
    const parts = [o.status, o.name, o.reason ?? o.message, o.docId].filter((x) => x !== undefined);
    if (parts.length) return parts.map(String).join(' ');
  }
  return String(e);
}
