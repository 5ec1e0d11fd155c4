/**
 * Real occitan OS processes for the suites that need more than one process or a crash (e2e, chaos,
 * reliability): `node <cli> …args` from the shared compiled tree (test/support/compiled-cli.ts), configured
 * only through OCCITAN_* variables, ready once a stdout line matches, and stopped, killed or cleaned up by
 * their pid. Every wait is bounded: a child that never announces itself, or never exits, fails the test
 * with its output instead of hanging the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';

/** How a child ended: its exit code, or the signal that ended it. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface OccitanProcess {
  /** The test's name for it, in every message about it. */
  readonly name: string;
  readonly child: ChildProcess;
  /** The first capture group of the stdout line that announced readiness ('' until then). */
  announced: string;
  stdout(): string;
  stderr(): string;
  /** Both streams, labelled: for failure messages. */
  output(): string;
  /** Settles once the child has exited, however it ended. */
  readonly exited: Promise<ProcessExit>;
  running(): boolean;
}

export interface StartSpec {
  /** The compiled cli.js. */
  cli: string;
  cwd: string;
  args: string[];
  /** OCCITAN_* configuration of the child (anything else is inherited). */
  env: Record<string, string>;
  /** Matched against the whole stdout so far; its first group becomes `announced`. */
  ready: RegExp;
  /** How long the child may take to announce itself. */
  boundMs: number;
  /** Keep only this many trailing characters of each stream in `output()` (long runs log a lot). */
  outputTail?: number;
}

/** `occitan serve`'s readiness line; the group is its base URL. */
export const SERVE_READY = /occitan listening on (http:\/\/\S+)\n/;
/** `occitan store`'s readiness line; the group is its URL (with credentials). */
export const STORE_READY = /occitan store listening on (http:\/\/\S+)\n/;

/** Whether the child has neither exited nor been ended by a signal. */
export function running(p: OccitanProcess): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/**
 * Starts `node <cli> …args` and resolves once stdout matches `ready`; rejects (with the child's output) when
 * it exits first or stays silent past `boundMs`. The test runner's own OCCITAN_* variables are stripped: a
 * developer's shell configuration must not leak into the children and change what a test exercises.
 */
export function startOccitanProcess(name: string, spec: StartSpec): Promise<OccitanProcess> {
  return spawnOccitanProcess(name, spec).ready;
}

/** startOccitanProcess, also handing back the child before it is ready (for a registry that must clean it up). */
function spawnOccitanProcess(name: string, spec: StartSpec): { proc: OccitanProcess; ready: Promise<OccitanProcess> } {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OCCITAN_')) clean[k] = v;
  const child = spawn(process.execPath, [spec.cli, ...spec.args], { cwd: spec.cwd, env: { ...clean, ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const tail = (s: string): string => (spec.outputTail === undefined ? s : s.slice(-spec.outputTail));
  const exited = new Promise<ProcessExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const proc: OccitanProcess = {
    name,
    child,
    announced: '',
    stdout: () => out,
    stderr: () => err,
    output: () => `--- ${name} stdout:\n${tail(out)}\n--- ${name} stderr:\n${tail(err)}`,
    exited,
    running: () => running(proc),
  };
  // Collected from the start, so that an early failure's message shows what the child said.
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const ready = new Promise<OccitanProcess>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not announce itself within ${spec.boundMs} ms\n${proc.output()}`)), spec.boundMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = spec.ready.exec(out);
      if (m && !proc.announced) {
        clearTimeout(timer);
        proc.announced = m[1]!;
        resolve(proc);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (!proc.announced) reject(new Error(`${name} exited (${code ?? signal}) before it was ready\n${proc.output()}`));
    });
  });
  return { proc, ready };
}

/** A loopback port free right now (the OS picks it); a child told to listen there announces it back. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * The graceful stop: SIGTERM, then SIGKILL once `boundMs` have passed (a child that ignores SIGTERM must not
 * hang the suite); resolves with how it ended, so a test can assert a clean exit (code 0).
 */
export async function stopOccitan(p: OccitanProcess, boundMs = 15_000): Promise<ProcessExit> {
  if (!running(p)) return p.exited;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), boundMs);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** The crash: SIGKILL, and wait until it is gone. */
export async function killOccitan(p: OccitanProcess): Promise<ProcessExit> {
  if (running(p)) p.child.kill('SIGKILL');
  return p.exited;
}

/** Common `occitan serve` configuration of the tests: loopback, warn logs, no authentication. */
export interface ServeConfig {
  port: number;
  dataDir: string;
  backendsFile: string;
  /** The standalone store's URL; without it the server keeps its store in `dataDir`. */
  storeUrl?: string;
  database?: string;
}

/**
 * The OCCITAN_* variables every spawned `occitan serve` of the tests shares. Authentication has its own
 * tests: these loopback servers let every caller in as a global admin. Callers spread their own timers
 * (and overrides) after it.
 */
export function serveEnv(c: ServeConfig): Record<string, string> {
  return {
    OCCITAN_PORT: String(c.port),
    OCCITAN_BIND: '127.0.0.1',
    ...(c.storeUrl !== undefined ? { OCCITAN_COUCHDB_URL: c.storeUrl } : {}),
    ...(c.database !== undefined ? { OCCITAN_COUCHDB_DATABASE: c.database } : {}),
    OCCITAN_DATA_DIR: c.dataDir,
    OCCITAN_LOG_LEVEL: 'warn',
    OCCITAN_BACKENDS_FILE: c.backendsFile,
    OCCITAN_AUTH_MODE: 'none',
  };
}

/**
 * The children one suite started, so that its afterAll can end every one of them even when a test failed
 * half-way (a leftover server would keep the store, ports and platform objects busy for the next suite).
 */
export class OccitanChildren {
  readonly all: OccitanProcess[] = [];

  /** `readyBoundMs`: how long a child may take to announce itself unless `start` says otherwise. */
  constructor(
    private readonly cli: string,
    private readonly cwd: string,
    private readonly readyBoundMs = 60_000,
  ) {}

  /** Starts and registers a child (registered before it is ready, so that a failed start is cleaned up too). */
  start(name: string, args: string[], env: Record<string, string>, ready: RegExp, boundMs = this.readyBoundMs): Promise<OccitanProcess> {
    const started = spawnOccitanProcess(name, { cli: this.cli, cwd: this.cwd, args, env, ready, boundMs });
    this.all.push(started.proc);
    return started.ready;
  }

  /** `occitan store --data-dir DIR --port PORT` (0: any free port); `announced` is its URL. */
  store(name: string, dataDir: string, port = 0): Promise<OccitanProcess> {
    return this.start(name, ['store', '--data-dir', dataDir, '--port', String(port)], {}, STORE_READY);
  }

  /**
   * Ends every child still running: SIGCONT (a SIGSTOPped child must be continued to act on SIGTERM), SIGTERM,
   * and SIGKILL for those still there after `boundMs`; resolves once all have exited.
   */
  async stopAll(boundMs = 10_000): Promise<void> {
    for (const p of this.all) {
      if (!running(p)) continue;
      p.child.kill('SIGCONT');
      p.child.kill('SIGTERM');
    }
    const timer = setTimeout(() => {
      for (const p of this.all) if (running(p)) p.child.kill('SIGKILL');
    }, boundMs);
    await Promise.all(this.all.map((p) => p.exited));
    clearTimeout(timer);
  }
}
