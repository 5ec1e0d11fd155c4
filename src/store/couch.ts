/**
 * nano plumbing, with no OCCI knowledge: open a database and push the design documents in couchdb/,
 * translate CouchDB/HTTP failures into occitan's errors (the `_changes` follower is in changes.ts).
 * Works the same against Apache CouchDB 3 and the embedded express-pouchdb store.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import nano from 'nano';
import type { DocumentScope, ServerScope } from 'nano';
import { BadGateway, Conflict, NotFound, OcciError, ServiceUnavailable } from '../errors';

/** One CouchDB database. `db.config` holds `{ url, db }`; the url carries the credentials. */
export type Database = DocumentScope<unknown>;
export type Server = ServerScope;

// Hosts of the databases opened so far: connection errors carry no URL, and a deployment has one CouchDB.
const knownHosts = new Set<string>();

/** The part of undici's Agent used here: Node's fetch takes it as `dispatcher` (nano: `agentOptions`). */
export interface Dispatcher {
  close(): Promise<void>;
}
type AgentClass = new (opts: { connect: { timeout: number }; headersTimeout: number; bodyTimeout: number }) => Dispatcher;

/** A nano server scope for `url` (`http://user:pass@host:port`, optionally with a path prefix). */
export function connectServer(url: string, opts: { dispatcher?: Dispatcher } = {}): Server {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`CouchDB URL must be http(s), got ${parsed.protocol}//${parsed.host}`);
  }
  knownHosts.add(parsed.host);
  // nano's requests go through Node's fetch, whose dispatchers keep connections alive.
  return nano({ url: url.replace(/\/+$/, ''), ...(opts.dispatcher ? { agentOptions: opts.dispatcher } : {}) });
}

export interface OpenOptions {
  /**
   * Bound on every CouchDB request, ms (default 20 000): to connect, to receive the answer's headers, and
   * between two chunks of its body. A CouchDB that accepts connections but stops answering (stopped,
   * partitioned, overloaded) then fails requests with 503 instead of holding them for undici's 5 minutes.
   */
  requestTimeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 20_000;

let agentClass: Promise<AgentClass | undefined> | undefined;
/**
 * undici's Agent class, the one Node's fetch uses. Node bundles undici without exporting it, but installs
 * its global dispatcher under undici's cross-copy key (`Symbol.for('undici.globalDispatcher.1')`, what the
 * undici package's getGlobalDispatcher reads) the first time fetch runs; a data: URL touches no network.
 * undefined if a Node release stops doing so: requests then keep undici's default bounds (5 minutes).
 */
function bundledAgentClass(): Promise<AgentClass | undefined> {
  agentClass ??= (async () => {
    const key = Symbol.for('undici.globalDispatcher.1');
    const globals = globalThis as unknown as Record<symbol, unknown>;
    if (globals[key] === undefined) await (await fetch('data:,')).arrayBuffer();
    const ctor = (globals[key] as { constructor?: unknown } | undefined)?.constructor;
    return typeof ctor === 'function' ? (ctor as AgentClass) : undefined;
  })().catch(() => undefined);
  return agentClass;
}

// Each opened database's own dispatcher, closed by releaseDatabase.
const dispatchers = new WeakMap<Database, Dispatcher>();

/**
 * Opens (creating if missing) database `name` and brings every design document in `designDir` (`*.json`,
 * one document per file, `_id` defaulting to `_design/<file name>`) up to date. A document is written only
 * when its content differs from the stored one, so a second call writes nothing. Every request made
 * through the result is bounded (`requestTimeoutMs`), and an answer whose body is cut short is an error.
 */
export async function openDatabase(url: string, name: string, designDir: string, opts: OpenOptions = {}): Promise<Database> {
  const timeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const Agent = await bundledAgentClass();
  const dispatcher = Agent ? new Agent({ connect: { timeout }, headersTimeout: timeout, bodyTimeout: timeout }) : undefined;
  try {
    const db = guardCutAnswers(await openWith(connectServer(url, { dispatcher }), url, name, designDir), url);
    if (dispatcher) dispatchers.set(db, dispatcher);
    return db;
  } catch (e) {
    await dispatcher?.close().catch(() => undefined);
    throw e;
  }
}

/** Closes the connections of a database from openDatabase; requests made through it afterwards fail. */
export async function releaseDatabase(db: Database): Promise<void> {
  const dispatcher = dispatchers.get(db);
  dispatchers.delete(db);
  await dispatcher?.close().catch(() => undefined);
}

/**
 * nano resolves a 2xx answer whose body was cut (CouchDB died while sending it) with '' instead of failing:
 * every promise-returning method of the database fails with 503 instead, so no caller reads '' as a document.
 * (Nothing occitan asks CouchDB for is legitimately an empty string.)
 */
function guardCutAnswers(db: Database, url: string): Database {
  const cut = (): ServiceUnavailable => new ServiceUnavailable(`CouchDB at ${hostOf(url, undefined) ?? 'its URL'} cut its answer short (database ${db.config.db})`);
  return new Proxy(db, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        const out: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        return out instanceof Promise
          ? out.then((res: unknown) => {
              if (res === '') throw cut();
              return res;
            })
          : out;
      };
    },
  });
}

async function openWith(server: Server, url: string, name: string, designDir: string): Promise<Database> {
  const designs = await readDesignDocs(designDir);
  try {
    // Ask first: a non-admin account (Apache CouchDB) may use an existing database but not PUT it.
    await server.db.get(name);
  } catch (e) {
    if (couchStatus(e) !== 404) throw translateCouchError(e, `database ${name}`, url);
    try {
      await server.db.create(name);
    } catch (e2) {
      // 412 file_exists: another occitan process created it meanwhile.
      if (couchStatus(e2) !== 412) throw translateCouchError(e2, `database ${name}`, url);
    }
  }
  const db = server.use<unknown>(name);
  for (const doc of designs) await pushDesignDoc(db, doc, url);
  return db;
}

type DesignDoc = Record<string, unknown> & { _id: string };

async function readDesignDocs(dir: string): Promise<DesignDoc[]> {
  let files: string[];
  try {
    files = (await fs.readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  } catch (e) {
    throw new Error(`cannot read the design documents in ${dir}: ${(e as Error).message}`);
  }
  const docs: DesignDoc[] = [];
  for (const f of files) {
    const file = path.join(dir, f);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await fs.readFile(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`${file}: a design document must be a JSON object`);
    }
    const { _rev: _ignored, ...content } = parsed as Record<string, unknown>;
    const id = content._id ?? `_design/${path.basename(f, '.json')}`;
    if (typeof id !== 'string' || !id.startsWith('_design/')) {
      throw new Error(`${file}: _id must start with "_design/", got ${JSON.stringify(id)}`);
    }
    docs.push({ ...content, _id: id });
  }
  return docs;
}

async function pushDesignDoc(db: Database, doc: DesignDoc, url: string): Promise<void> {
  const what = `design document ${doc._id}`;
  // A concurrent start of another occitan process may write the same document: re-read and compare again.
  for (let attempt = 1; ; attempt++) {
    let current: Record<string, unknown> | undefined;
    try {
      current = (await db.get(doc._id)) as unknown as Record<string, unknown>;
    } catch (e) {
      if (couchStatus(e) !== 404) throw translateCouchError(e, what, url);
    }
    if (current && canonical(withoutRev(current)) === canonical(doc)) return;
    try {
      await db.insert(current ? { ...doc, _rev: current._rev } : doc);
      return;
    } catch (e) {
      if (couchStatus(e) !== 409 || attempt >= 5) throw translateCouchError(e, what, url);
    }
  }
}

function withoutRev(doc: Record<string, unknown>): Record<string, unknown> {
  const { _rev: _r, _revisions: _rs, _conflicts: _c, ...rest } = doc;
  return rest;
}

/** JSON with object keys sorted, so equal documents compare equal whatever their key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    val !== null && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : val,
  );
}

/** The HTTP status of a nano error, if CouchDB answered at all. */
export function couchStatus(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

// What fetch/undici (wrapped by nano) report when CouchDB is down, went away, or stopped answering in time.
const CONNECTION_FAILURE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up|other side closed|UND_ERR_SOCKET|UND_ERR_CONNECT_TIMEOUT|Connect Timeout|UND_ERR_HEADERS_TIMEOUT|Headers Timeout|UND_ERR_BODY_TIMEOUT|Body Timeout|UND_ERR_CLOSED|fetch failed|terminated/i;

/**
 * CouchDB failures as occitan errors. `what` names the thing being read or written ("entity /compute/a");
 * `url`, when known, names the server in messages (its credentials never appear). Anything that is not a
 * CouchDB or connection failure is returned unchanged.
 */
export function translateCouchError(e: unknown, what: string, url?: string): Error {
  if (e instanceof OcciError) return e;
  const status = couchStatus(e);
  const host = hostOf(url, e);
  if (status === undefined) {
    const text = errorText(e);
    const code = CONNECTION_FAILURE.exec(text)?.[0];
    if (code) {
      const where = host ? `CouchDB at ${host}` : 'CouchDB';
      return new ServiceUnavailable(`${where} is unreachable (${code}) while accessing ${what}`);
    }
    return e instanceof Error ? e : new Error(scrub(text));
  }
  const at = host ? ` at ${host}` : '';
  const reason = scrub(String((e as { reason?: unknown }).reason ?? (e as Error).message ?? ''));
  if (status === 401 || status === 403) {
    return new ServiceUnavailable(`CouchDB${at} refused occitan's credentials (HTTP ${status}) for ${what}`);
  }
  if (status === 404) return new NotFound(`${what} not found`);
  if (status === 409) return new Conflict(`${what} was changed concurrently (CouchDB update conflict)`);
  // CouchDB (or a proxy in front of it) saying it cannot serve now: the client may retry, as for an outage.
  if (status === 503) return new ServiceUnavailable(`CouchDB${at} is unavailable (HTTP 503) while accessing ${what}`);
  if (status >= 500) return new BadGateway(`CouchDB${at} failed on ${what}: HTTP ${status} ${reason}`.trim());
  return e instanceof Error ? e : new Error(scrub(String(e)));
}

/** The message and codes of an error and its causes (nano wraps fetch's error in its own message). */
export function errorText(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    const o = cur as { message?: unknown; code?: unknown; cause?: unknown };
    if (typeof o.message === 'string') parts.push(o.message);
    if (typeof o.code === 'string') parts.push(o.code);
    if (typeof cur === 'string') parts.push(cur);
    cur = o.cause;
  }
  return parts.join(' ');
}

function hostOf(url: string | undefined, e: unknown): string | undefined {
  if (url) {
    try {
      return new URL(url).host;
    } catch {
      return undefined;
    }
  }
  // "connect ECONNREFUSED 127.0.0.1:5984" names the address; otherwise fall back on the one known server.
  const m = /(?:ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)\s+(\S+:\d+)/.exec(errorText(e));
  if (m?.[1]) return m[1];
  return knownHosts.size === 1 ? [...knownHosts][0] : undefined;
}

/** Removes `user:password@` from anything URL-shaped. */
export function scrub(s: string): string {
  return s.replace(/\/\/[^/\s@]*@/g, '//');
}

/** The database's `update_seq`, as a string (express-pouchdb gives a number, CouchDB an opaque string). */
export async function updateSeq(db: Database): Promise<string> {
  try {
    return String((await db.info()).update_seq);
  } catch (e) {
    throw translateCouchError(e, `database ${db.config.db}`, db.config.url);
  }
}
