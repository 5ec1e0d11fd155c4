/**
 * The embedded CouchDB-protocol server: express-pouchdb in-process on LevelDB (or memory), listening on a
 * loopback port, reached by occitan through nano exactly like an Apache CouchDB. embedded-guards.ts puts
 * HTTP Basic (generated credentials) in front and steers around express-pouchdb's `_changes` bugs.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import expressPouchDB from 'express-pouchdb';
import PouchDBCore from 'pouchdb-core';
import adapterHttp from 'pouchdb-adapter-http';
import adapterLevel from 'pouchdb-adapter-leveldb';
import adapterMemory from 'pouchdb-adapter-memory';
import pouchFind from 'pouchdb-find';
import replication from 'pouchdb-replication';
import { viewEngine } from './view-engine';
import { InFlight, basicAuthGuard, changesGuard, describe, guardChanges, type Credentials } from './embedded-guards';

export interface EmbeddedStoreOptions {
  /** Where the LevelDB files (`couch/`), the credentials and the log live. Required unless `memory`. */
  dataDir?: string;
  /** Keep everything in memory (tests); credentials are fresh on every start. */
  memory?: boolean;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Interface to listen on; loopback unless the standalone command is told otherwise. */
  host?: string;
  log?: (msg: string) => void;
}

export interface EmbeddedStore {
  /** `http://user:pass@127.0.0.1:PORT`: hand it to nano as is. */
  url: string;
  close(): Promise<void>;
}

// The slice of the PouchDB and express-pouchdb APIs used here.
interface PouchInstance {
  changes: (...args: unknown[]) => unknown;
  close(): Promise<unknown>;
}
type PouchCtor = new (name: string, opts?: object) => PouchInstance;
type Listener = (...args: unknown[]) => void;
/** pouchdb-core binds these statics to ONE module-level EventEmitter shared by every PouchDB class. */
type ListenerMethod = 'on' | 'addListener' | 'once' | 'prependListener' | 'prependOnceListener';
type StaticEmitter = Record<ListenerMethod | 'removeListener', (event: string | symbol, fn: Listener) => unknown>;
interface PouchStatic {
  plugin(p: unknown): PouchStatic;
  defaults(opts: object): PouchCtor;
}
interface ExpressPouchApp {
  (req: Request, res: Response, next: NextFunction): void;
  setPouchDB(P: unknown): Promise<unknown>;
  dbWrapper: { registerWrapper(w: (name: string, db: PouchInstance, next: () => unknown) => unknown): void };
  couchLogger?: { _stream?: { end(cb?: () => void): void } };
}
type ExpressPouchFactory = (opts: object) => ExpressPouchApp;

const CREDENTIALS_FILE = 'couch-credentials.json';

/** A leveldown (or memdown) factory, as the LevelDB adapters take it in their `db` option. */
type LevelDown = ((location: string) => unknown) & { destroy?: (location: string, cb: (err?: unknown) => void) => void };

/**
 * The leveldown `adapter` would use, under a name of this store's own. pouchdb-adapter-leveldb-core keeps
 * open databases in a module-level map keyed by the leveldown function's name, and closing any of them
 * also closes every `-mrview-` (view index) database under that name: closing one store used to break
 * the view queries of every other store in the process ("database is closed").
 */
function ownLevelDown(adapter: string, leveldown: string, storeId: string): LevelDown {
  const base = createRequire(require.resolve(adapter))(leveldown) as LevelDown;
  const own: LevelDown = (location) => base(location);
  if (base.destroy) own.destroy = base.destroy.bind(base);
  Object.defineProperty(own, 'name', { value: `${base.name}-${storeId}` });
  return own;
}

// pouchdb-core is a module-level singleton: plugins are installed once and shared by every store.
let pouchBase: PouchStatic | undefined;
function basePouch(): PouchStatic {
  if (!pouchBase) {
    pouchBase = (PouchDBCore as PouchStatic)
      .plugin(adapterHttp)
      .plugin(viewEngine)
      .plugin(replication)
      .plugin(adapterLevel)
      .plugin(adapterMemory)
      .plugin(pouchFind);
  }
  return pouchBase;
}

/** Starts the server and resolves once it is listening and express-pouchdb's daemons are up. */
export async function startEmbeddedStore(opts: EmbeddedStoreOptions): Promise<EmbeddedStore> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`occitan store: ${m}\n`));
  const memory = opts.memory === true;
  if (!memory && !opts.dataDir) throw new Error('the embedded store needs a dataDir (or memory: true)');
  const dataDir = opts.dataDir ? path.resolve(opts.dataDir) : undefined;

  const storeId = randomBytes(6).toString('hex');
  let creds: Credentials;
  let pouchDefaults: object;
  let logPath: string;
  if (dataDir && !memory) {
    const couchDir = path.join(dataDir, 'couch');
    await fs.mkdir(couchDir, { recursive: true, mode: 0o700 });
    creds = await loadOrCreateCredentials(dataDir, log);
    pouchDefaults = { adapter: 'leveldb', prefix: couchDir + path.sep, db: ownLevelDown('pouchdb-adapter-leveldb', 'leveldown', storeId) };
    logPath = path.join(dataDir, 'couch.log');
  } else {
    creds = newCredentials();
    // memdown keeps one global store per name: a random prefix keeps two in-process stores apart.
    pouchDefaults = { adapter: 'memory', prefix: `mem-${storeId}-`, db: ownLevelDown('pouchdb-adapter-memory', 'memdown', storeId) };
    logPath = path.join(dataDir ?? os.tmpdir(), 'occitan-embedded-couch.log');
  }

  // Track every PouchDB object express-pouchdb and its plugins create, so close() releases the LevelDB
  // locks instead of leaving them to process exit. (Memory-mode data stays in memdown's module-level map
  // until the process, or jest's module registry, ends.)
  const open = new Set<PouchInstance>();
  const Base = basePouch().defaults(pouchDefaults);
  class Tracked extends Base {
    constructor(name: string, o?: object) {
      super(name, o);
      open.add(this);
    }
  }
  // express-pouchdb's daemons subscribe to that shared emitter (`PouchDB.on('destroyed', …)`) and never
  // unsubscribe (its DaemonManager.stop halts at the first daemon without a stop()). Record what this
  // store subscribes so close() can remove it: otherwise a closed store reacts to another one's events.
  const subscribed: Array<[string | symbol, Listener]> = [];
  const statics = Tracked as unknown as StaticEmitter;
  for (const m of ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener'] as const) {
    const shared = statics[m];
    statics[m] = (event, fn) => {
      subscribed.push([event, fn]);
      return shared(event, fn);
    };
  }

  const epApp = (expressPouchDB as ExpressPouchFactory)({
    mode: 'fullCouchDB',
    inMemoryConfig: true, // no config.json in the CWD
    logPath, // express-pouchdb's default is ./log.txt in the CWD
    // compression buffers feed=continuous until it ends; http-log writes one line per request to logPath
    // disk-size walks the LevelDB folder on every info() (each view query); fauxton is a UI we never serve.
    overrideMode: { exclude: ['compression', 'routes/http-log', 'disk-size', 'routes/fauxton'] },
  });
  epApp.dbWrapper.registerWrapper((name, db, next) => {
    guardChanges(name, db, log);
    return next();
  });

  const app = express();
  app.disable('x-powered-by');
  app.use(basicAuthGuard(creds));
  app.use(changesGuard);
  const inFlight = new InFlight();
  app.use(inFlight.middleware);
  app.use(epApp);
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    log(`request failed: ${describe(err)}`);
    if (!res.headersSent) res.status(500).json({ error: 'internal_server_error', reason: 'embedded store error' });
    else res.end();
  });

  const server = http.createServer(app);
  // Let nano's keep-alive sockets live well beyond node's 5 s default: fewer reconnects under load.
  server.keepAliveTimeout = 30_000;
  server.on('error', (e) => log(`server error: ${describe(e)}`));

  /** Undoes everything start-up did to the process: shared listeners, open LevelDBs, the log stream. */
  const release = async (): Promise<void> => {
    await inFlight.drained(2_000);
    for (const [event, fn] of subscribed.splice(0)) statics.removeListener(event, fn);
    const dbs = [...open];
    open.clear();
    // close, never destroy: destroy() broadcasts 'destroyed' by unprefixed name to every store in the
    // process. Several objects may share one LevelDB: the second close answers "not open", which is fine.
    await Promise.allSettled(dbs.map((db) => db.close()));
    await new Promise<void>((resolve) => {
      const stream = epApp.couchLogger?._stream;
      if (stream) stream.end(() => resolve());
      else resolve();
    });
  };

  const host = opts.host ?? '127.0.0.1';
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let url: string;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Only now open the databases: a failed listen (port in use) must not leave LevelDB work in flight.
    await epApp.setPouchDB(Tracked);
    const port = (server.address() as AddressInfo).port;
    url = `http://${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@${urlHost}:${port}`;
    // One request through the whole stack: express-pouchdb sets up its _users db lazily, and closing
    // before that settles leaves a write failing on a closed db.
    const probe = await fetch(`http://${urlHost}:${port}/`, { headers: { authorization: basicHeader(creds) } });
    await probe.arrayBuffer();
    if (!probe.ok) throw new Error(`the embedded store answered its start-up probe with HTTP ${probe.status}`);
  } catch (e) {
    if (server.listening) await new Promise((resolve) => server.close(resolve));
    await release();
    throw e;
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Long-polls and idle keep-alive sockets would hold close() open for their whole timeout.
        server.closeAllConnections();
      });
      await release();
    })();
    return closing;
  };
  return { url, close };
}

/** Reads `<dataDir>/couch-credentials.json`, creating it (mode 0600) on first start. */
async function loadOrCreateCredentials(dataDir: string, log: (m: string) => void): Promise<Credentials> {
  const file = path.join(dataDir, CREDENTIALS_FILE);
  try {
    const text = await fs.readFile(file, 'utf8');
    const parsed: unknown = JSON.parse(text);
    if (!isCredentials(parsed)) throw new Error(`${file} must hold {"user": string, "password": string}`);
    const st = await fs.stat(file);
    if ((st.mode & 0o077) !== 0) {
      log(`${file} was readable by others; restricting it to mode 0600`);
      await fs.chmod(file, 0o600);
    }
    return parsed;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`cannot read the embedded store's credentials: ${describe(e)}`);
    }
  }
  const creds = newCredentials();
  // A random name: a pid (always 1 in a container) could meet the leftover of a crashed start.
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  try {
    // link() fails if another process created the file meanwhile: then both use the first one's.
    await fs.link(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    await fs.unlink(tmp);
    return loadOrCreateCredentials(dataDir, log);
  }
  await fs.unlink(tmp);
  return creds;
}

function basicHeader(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.user}:${c.password}`).toString('base64');
}

function newCredentials(): Credentials {
  return { user: 'occitan', password: randomBytes(24).toString('base64url') };
}

function isCredentials(v: unknown): v is Credentials {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.user === 'string' && o.user !== '' && typeof o.password === 'string' && o.password !== '';
}
