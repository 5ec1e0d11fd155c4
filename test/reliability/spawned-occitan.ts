/**
 * Real occitan OS processes for the reliability suites (couch-outage, graceful-shutdown): the shared compiled
 * CLI (test/support/compiled-cli.ts), `occitan store` and `occitan serve` children configured only through
 * OCCITAN_* variables (test/support/occitan-process.ts), and cleanup that ends whatever is left. Every wait
 * is a bounded poll.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compiledCli } from '../support/compiled-cli';
import { OccitanChildren, freePort, serveEnv, SERVE_READY, type OccitanProcess, type ProcessExit } from '../support/occitan-process';

export { freePort } from '../support/occitan-process';
export type Proc = OccitanProcess;

export interface Processes {
  /** A temporary working folder, removed by cleanup(). */
  work: string;
  start(name: string, args: string[], env: Record<string, string>, ready: RegExp, boundMs?: number): Promise<Proc>;
  /** `occitan store --data-dir DIR --port PORT`; resolves with the URL it prints. */
  store(name: string, dataDir: string, port: number): Promise<Proc>;
  /** `occitan serve` on a free loopback port, dummy provider only, no authentication; `announced` is its base URL. */
  serve(name: string, env: Record<string, string>): Promise<Proc>;
  cleanup(): Promise<void>;
}

/** The shared compiled CLI in a private working folder, and helpers to run it. */
export function compiledOccitan(tag: string): Processes {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `occitan-${tag}-`));
  const children = new OccitanChildren(compiledCli().cli, work, 60_000);

  const backendsFile = path.join(work, 'backends.json');
  const kinds = ['compute', 'storage', 'storagelink', 'network', 'networkinterface'];
  fs.writeFileSync(backendsFile, JSON.stringify({
    providers: { dummy: { backend: 'dummy' } },
    kinds: Object.fromEntries(kinds.map((k) => [`http://schemas.ogf.org/occi/infrastructure#${k}`, { providers: ['dummy'] }])),
  }));

  return {
    work,
    start: (name, args, env, ready, boundMs) => children.start(name, args, env, ready, boundMs),
    store: (name, dataDir, port) => children.store(name, dataDir, port),
    serve: async (name, env) => {
      const port = await freePort();
      // `env` comes last: a suite may override the defaults (its log level, its own store).
      return children.start(name, ['serve'], { ...serveEnv({ port, dataDir: path.join(work, `data-${name}`), backendsFile }), ...env }, SERVE_READY);
    },
    cleanup: async () => {
      await children.stopAll(15_000);
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Waits for `what` by polling `probe` every `everyMs`, at most `boundMs`; the error names what never came. */
export async function eventually(what: string, probe: () => Promise<boolean> | boolean, boundMs = 60_000, everyMs = 100): Promise<void> {
  const end = Date.now() + boundMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > end) throw new Error(`not within ${boundMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The process's exit, or an error naming it if it has not exited within `boundMs`. */
export async function exitOf(p: Proc, boundMs = 60_000): Promise<ProcessExit> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`${p.name} did not exit within ${boundMs} ms\n${p.output()}`)), boundMs);
  });
  try {
    return await Promise.race([p.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}
