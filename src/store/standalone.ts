/**
 * `occitan store --data-dir DIR --port N`: the embedded CouchDB-protocol server as a process of its own,
 * so several occitan processes can share one database (a LevelDB directory cannot be opened twice).
 */
import { startEmbeddedStore, type EmbeddedStore } from './embedded';

export interface StandaloneStoreOptions {
  dataDir: string;
  port: number;
  /** Interface to listen on (default 127.0.0.1). Anything else exposes Basic credentials over plain HTTP. */
  bind?: string;
}

/**
 * Starts the store, prints `occitan store listening on <url with credentials>` as one line on stdout
 * (scripts read it to learn the URL), and closes cleanly on SIGTERM/SIGINT before exiting 0.
 */
export async function runStandaloneStore(opts: StandaloneStoreOptions): Promise<EmbeddedStore> {
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new Error(`--port must be an integer between 0 and 65535, got ${opts.port}`);
  }
  const bind = opts.bind ?? '127.0.0.1';
  const log = (m: string): void => {
    process.stderr.write(`occitan store: ${m}\n`);
  };
  if (!/^(127\.|::1$|localhost$)/.test(bind)) {
    log(`listening on ${bind}: the credentials travel in clear text, put TLS in front for other hosts`);
  }
  const store = await startEmbeddedStore({ dataDir: opts.dataDir, port: opts.port, host: bind, log });
  process.stdout.write(`occitan store listening on ${store.url}\n`);

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal} received, closing`);
    store.close().then(
      () => process.exit(0),
      (e: unknown) => {
        log(`close failed: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  return {
    url: store.url,
    close: async () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      await store.close();
    },
  };
}
