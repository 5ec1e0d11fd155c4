/**
 * Real occitan OS processes for the chaos suite: the shared compiled tree (test/support/compiled-cli.ts), the
 * standalone store (`occitan store`, which survives every kill) and `occitan serve` processes configured
 * only through OCCITAN_* variables, started and killed by their pid (test/support/occitan-process.ts). The
 * chaos runner keeps its own list of children: it stops them one by one, servers before the store.
 */
import { compiledCli } from '../support/compiled-cli';
import { killOccitan, startOccitanProcess, stopOccitan, type OccitanProcess } from '../support/occitan-process';

export { freePort } from '../support/occitan-process';
export { storeDocs, type StoreDoc } from '../support/store-docs';
export type Proc = OccitanProcess;

/** The compiled tree (shared by every suite: test/support/compiled-cli.ts) and its cli.js. */
export function compile(): { build: string; cli: string } {
  return compiledCli();
}

/**
 * Starts `node <cli> …args` in `cwd` and resolves once stdout matches `ready` (bounded). A chaos run logs a
 * lot: failure messages keep the last 4000 characters of each stream.
 */
export function startProcess(name: string, cli: string, args: string[], cwd: string, env: Record<string, string>, ready: RegExp, boundMs = 120_000): Promise<Proc> {
  return startOccitanProcess(name, { cli, cwd, args, env, ready, boundMs, outputTail: 20000 });
}

/** SIGTERM, then SIGKILL after `boundMs`; resolves once it has exited. */
export async function stopProcess(p: Proc, boundMs = 15_000): Promise<void> {
  await stopOccitan(p, boundMs);
}

/** The crash: SIGKILL, and wait until it is gone. */
export async function killProcess(p: Proc): Promise<void> {
  await killOccitan(p);
}
