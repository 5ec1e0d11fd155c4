/**
 * Following a database's `_changes` feed resiliently: long polls with a bounded client wait, backoff
 * from 200 ms to 5 s while the store is away, resuming from the last change handled, and a handler
 * failure during an outage retried rather than skipped. No OCCI knowledge.
 */
import nano from 'nano';
import type { RequestOptions } from 'nano';
import { ServiceUnavailable } from '../errors';
import { type Database, translateCouchError, scrub, errorText } from './couch';

export interface Change {
  id: string;
  /** Opaque: a number on express-pouchdb, a string on CouchDB; always handed out as a string. */
  seq: string;
  deleted?: boolean;
  doc?: unknown;
}

export interface FollowOptions {
  /** Where to start: a seq from `updateSeq`/an earlier change, or 'now' (resolved when the loop starts). */
  since: string | 'now';
  /** Called once per change, in feed order; the next change waits for the returned promise. */
  onChange: (change: Change) => void | Promise<void>;
  includeDocs?: boolean;
  /** Not supported: the embedded store's `_doc_ids`/`_selector` filters are unreliable. Filter in onChange. */
  filterDocIds?: never;
  /** Long-poll timeout asked of the server, ms (default 25 000); the client gives up 10 s after it. */
  timeoutMs?: number;
  /**
   * Pause after a poll that brought changes (ms, default 0): under a steady write load, changes then
   * arrive in batches instead of one poll per write.
   */
  settleMs?: number;
  /** Where failures and reconnections are reported (default: stderr). */
  log?: (msg: string) => void;
}

export interface Follower {
  /** Ends the loop (aborting the pending poll) and resolves once the current change handler returned. */
  stop(): Promise<void>;
}

interface ChangesBody {
  results?: Array<{ id: string; seq: unknown; deleted?: boolean; doc?: unknown }>;
  last_seq?: unknown;
}

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5_000;

/**
 * Follows `db`'s `_changes` with a long-poll loop that survives the server going away: failures are
 * logged (once per outage) and retried with backoff (200 ms doubling to 5 s, jittered), never thrown; the
 * feed resumes from the last change handled, so nothing written during the outage is missed. A handler
 * that throws is logged and its change skipped, so one bad document cannot stall the feed, except when
 * what it threw is a CouchDB outage (ServiceUnavailable once translated): that change is retried.
 */
export function followChanges(db: Database, opts: FollowOptions): Follower {
  const name = db.config.db;
  // A separate nano for the feed: identity encoding, because a compressing server may buffer a feed.
  const feed = nano({ url: db.config.url, headers: { 'Accept-Encoding': 'identity' } });
  const log = opts.log ?? ((m: string) => process.stderr.write(`occitan: ${m}\n`));
  const timeoutMs = opts.timeoutMs ?? 25_000;
  const stopper = new AbortController();
  let since = opts.since;

  const request = async <T>(req: RequestOptions, signal: AbortSignal): Promise<T> =>
    // nano forwards `signal` to fetch although its typings do not declare it.
    (await feed.request({ ...req, signal } as RequestOptions)) as T;

  const loop = async (): Promise<void> => {
    let backoff = MIN_BACKOFF_MS;
    let failing = false;
    while (!stopper.signal.aborted) {
      const poll = new AbortController();
      const abortPoll = (): void => poll.abort();
      stopper.signal.addEventListener('abort', abortPoll, { once: true });
      // The embedded store ignores `timeout` and only sends heartbeats, so the client bounds each poll.
      const timer = setTimeout(abortPoll, timeoutMs + 10_000);
      try {
        if (since === 'now') {
          since = String((await request<{ update_seq: unknown }>({ db: name }, poll.signal)).update_seq);
        }
        const qs = { feed: 'longpoll', since, timeout: timeoutMs, include_docs: opts.includeDocs === true };
        const body = await request<ChangesBody>({ db: name, path: '_changes', qs }, poll.signal);
        // nano answers '' when the connection drops after the headers (the server went away mid-poll).
        if (!body || !Array.isArray(body.results)) throw new Error('the _changes response was cut short');
        if (failing) log(`changes feed of ${name} is back`);
        failing = false;
        backoff = MIN_BACKOFF_MS;
        for (const r of body.results) {
          try {
            const change: Change = { id: r.id, seq: String(r.seq) };
            if (r.deleted) change.deleted = true;
            if (r.doc !== undefined) change.doc = r.doc;
            await opts.onChange(change);
          } catch (e) {
            // CouchDB out of reach while handling it: retry this change after the backoff, never skip it
            // (a skipped change is missing from every cache built on the feed until a restart).
            if (translateCouchError(e, `change ${r.id}`, db.config.url) instanceof ServiceUnavailable) throw e;
            log(`change handler failed on ${r.id} in ${name}: ${scrub(errorText(e))}`);
          }
          since = String(r.seq);
          if (stopper.signal.aborted) return;
        }
        if (body.last_seq !== undefined && body.last_seq !== null) since = String(body.last_seq);
        if (opts.settleMs && body.results.length > 0) await sleep(opts.settleMs, stopper.signal);
      } catch (e) {
        if (stopper.signal.aborted) return;
        if (poll.signal.aborted) continue; // our own bound on a quiet poll: simply poll again
        if (!failing) log(`changes feed of ${name} failed, retrying: ${scrub(translateCouchError(e, `changes of ${name}`, db.config.url).message)}`);
        failing = true;
        await sleep(backoff * (0.8 + Math.random() * 0.4), stopper.signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      } finally {
        clearTimeout(timer);
        stopper.signal.removeEventListener('abort', abortPoll);
      }
    }
  };

  const running = loop().catch((e: unknown) => log(`changes feed of ${name} stopped: ${scrub(errorText(e))}`));
  return {
    stop: async () => {
      stopper.abort();
      await running;
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
