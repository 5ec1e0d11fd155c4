/**
 * Start-up: open the store (embedded unless a CouchDB URL is given), load categories, start backends,
 * build the service and the app. `main.ts` listens; tests call `startOccitan` and use `app.callback()`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Koa from 'koa';
import { buildApp } from './app';
import { createAuthenticator } from './auth';
import type { BackendContext, BackendEntity, Logger } from './backends/backend';
import { BackendRegistry, readBackendsFile } from './backends/registry';
import type { Config } from './config';
import { projectDir } from './config';
import { loadBuiltinCategories } from './category-manager/builtin';
import { CategoryManager } from './category-manager/manager';
import { ServiceUnavailable } from './errors';
import { createLogger } from './log';
import { applyDeclared, type Declaration } from './service/declared';
import { Maintenance } from './service/maintenance';
import { OcciService } from './service/occi-service';
import { PROVIDER_ATTR } from './service/validate';
import { DEFAULT_REQUEST_TIMEOUT_MS, openDatabase, releaseDatabase, type Database } from './store/couch';
import { startEmbeddedStore, type EmbeddedStore } from './store/embedded';
import { EntityStore, type EntityDoc } from './store/entity-store';
import { CouchKeyedState } from './store/keyed-state';

export interface Occitan {
  app: Koa;
  service: OcciService;
  db: Database;
  /** The CouchDB URL in use (with credentials). */
  couchUrl: string;
  log: Logger;
  maintenance: Maintenance;
  /**
   * Stops background work (lease sweep, the category feed, the providers' watchers), closes the providers,
   * the CouchDB connections and the embedded store. Idempotent: later calls return the first call's promise.
   * Requests still running afterwards fail (503 where they reach CouchDB): drain the HTTP server first.
   */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Use an in-memory embedded store (tests). */
  memoryStore?: boolean;
  log?: Logger;
  /** Where the first-start admin token is printed (stdout by default). */
  print?: (text: string) => void;
}

export async function startOccitan(config: Config, opts: StartOptions = {}): Promise<Occitan> {
  const log = opts.log ?? createLogger(config.log.level);
  // Refuses unsafe configurations (auth none off loopback, clear-text bind) before anything starts.
  const auth = createAuthenticator(config, log, { print: opts.print });
  let embedded: EmbeddedStore | undefined;
  let couchUrl = config.couchdb.url;
  if (!couchUrl) {
    if (!opts.memoryStore) fs.mkdirSync(config.dataDir, { recursive: true });
    embedded = await startEmbeddedStore(opts.memoryStore ? { memory: true } : { dataDir: path.resolve(config.dataDir), log: (m) => log.debug(m) });
    couchUrl = embedded.url;
  }
  const closers: Array<() => Promise<void>> = [];
  try {
    const db = await openDatabase(couchUrl, config.couchdb.database, path.join(projectDir(), 'couchdb'), {
      requestTimeoutMs: config.timers.couchRequest ?? DEFAULT_REQUEST_TIMEOUT_MS,
    });
    closers.push(() => releaseDatabase(db));
    const categories = new CategoryManager(db, loadBuiltinCategories(config.categoriesDir));
    await categories.start();
    closers.push(() => categories.stop());
    const entities = new EntityStore(db);
    const backends = new BackendRegistry(readBackendsFile(config.backendsFile), db, log);
    const toBackend = (d: EntityDoc): BackendEntity => ({
      id: d.uid, tenant: d.tenant, location: d.location, kind: d.kind, mixins: d.mixins, attributes: d.attributes,
      ...(d.ref !== undefined ? { ref: d.ref } : {}),
    });
    // Entities providers declare from their configuration, made once every provider has started.
    const declared: Declaration[] = [];
    // Made once every provider has started; spawn and dispose are only called after that (by requests).
    let service: OcciService | undefined;
    const started = (): OcciService => {
      if (!service) throw new ServiceUnavailable('occitan is still starting');
      return service;
    };
    const context = (provider: string, options: Record<string, unknown>): BackendContext => ({
      declare: (list) => {
        for (const entity of list) declared.push({ provider, entity });
      },
      spawn: async (e) => {
        const svc = started();
        const req = { categories: [{ id: e.kind, class: 'kind' as const }, ...e.mixins.map((id) => ({ id, class: 'mixin' as const }))], attributes: {}, links: [] };
        const doc = svc.prepare(e.tenant, req, { path: e.location });
        doc.provider = provider;
        Object.assign(doc.attributes, e.attributes, { [PROVIDER_ATTR]: provider });
        const [made] = await svc.create([{ resource: doc, links: [] }], { createOnly: false });
        return toBackend(made!);
      },
      dispose: async (tenant, location) => {
        const doc = await entities.get(tenant, location);
        if (doc) await started().destroy(doc);
      },
      provider,
      options,
      log,
      resolve: async (tenant, id) => {
        const d = await entities.byUid(id);
        return d && d.tenant === tenant ? toBackend(d) : undefined;
      },
      owned: async function* () {
        for await (const d of entities.byProvider(provider)) {
          if (d.source === undefined) {
            yield toBackend(d);
            continue;
          }
          // A link comes with its ends' ids and refs, as create gets it: reconciliation may realise it again.
          const end = (e: EntityDoc | undefined) => (e ? { id: e.uid, kind: e.kind, ...(e.ref !== undefined ? { ref: e.ref } : {}) } : undefined);
          const source = end(await entities.get(d.tenant, d.source));
          const target = end(d.target?.startsWith('/') ? await entities.get(d.tenant, d.target) : undefined);
          yield { ...toBackend(d), ...(source ? { source } : {}), ...(target ? { target } : {}) };
        }
      },
      report: async (id, realised) => {
        const d = await entities.byUid(id);
        if (!d) return;
        // Only a settled entity: one being created, changed or deleted gets its state from that request.
        await entities.modify(d.tenant, d.location, (cur) => cur.status !== 'ready' || cur.uid !== id ? undefined : ({
          ...cur,
          attributes: { ...cur.attributes, ...realised.attributes },
          ...(realised.ref !== undefined ? { ref: realised.ref } : {}),
        }));
      },
      state: new CouchKeyedState(db, provider),
      clock: { now: () => Date.now(), duration: (name, fallback) => config.timers[name] ?? fallback },
    });
    await backends.start(context);
    closers.push(() => backends.close());
    for (const line of backends.describe()) log.info(`provider: ${line}`);
    service = new OcciService({ categories, entities, backends, leaseHourMs: config.timers.leaseHour ?? 3_600_000 });
    await applyDeclared(service, declared, log);
    const maintenance = new Maintenance(service, log, { periodMs: config.timers.leaseSweep ?? 5000, graceMs: config.timers.recoveryGrace ?? 60000 });
    maintenance.start();
    closers.push(() => maintenance.stop());
    const app = buildApp({ config, service, log, auth });
    closers.push(() => auth.close());
    let closing: Promise<void> | undefined;
    return {
      app, service, db, couchUrl, log, maintenance,
      close: () => {
        // In reverse start order: background work stops before the providers and the store it uses.
        closing ??= (async () => {
          for (const c of closers.reverse()) await c().catch((e: unknown) => log.warn(`close: ${(e as Error).message}`));
          await embedded?.close();
        })();
        return closing;
      },
    };
  } catch (e) {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await embedded?.close();
    throw e;
  }
}
