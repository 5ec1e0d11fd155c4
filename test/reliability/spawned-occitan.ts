/**
 * Real occitan OS processes for the reliability suites (couch-outage, graceful-shutdown): a private compiled
 * copy of the CLI (tsc into node_modules/.cache/…, as test/e2e/two-processes.test.ts does, leaving dist/
 * alone), `occitan store` and `occitan serve` children configured only through OCCITAN_* variables, and
 * cleanup that kills whatever is left. Every wait is a bounded poll.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { compiledCli } from '../support/compiled-cli';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';


export interface Proc {
  name: string;
  child: ChildProcess;
  /** The first capture group of the line that announced readiness. */
  announced: string;
  stdout(): string;
  stderr(): string;
  /** Both streams, labelled: for failure messages. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
}

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

/** Compiles the CLI once into a private folder and returns helpers to run it. */
export function compiledOccitan(tag: string): Processes {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `occitan-${tag}-`));
  const children: Proc[] = [];
  const compile = (): string => compiledCli().cli;

  const backendsFile = path.join(work, 'backends.json');
  const kinds = ['compute', 'storage', 'storagelink', 'network', 'networkinterface'];
  fs.writeFileSync(backendsFile, JSON.stringify({
    providers: { dummy: { backend: 'dummy' } },
    kinds: Object.fromEntries(kinds.map((k) => [`http://schemas.ogf.org/occi/infrastructure#${k}`, { providers: ['dummy'] }])),
  }));

  const start = (name: string, args: string[], env: Record<string, string>, ready: RegExp, boundMs = 60_000): Promise<Proc> => {
    const clean: NodeJS.ProcessEnv = {};
    // Nothing of the test runner's own occitan configuration leaks into the child.
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OCCITAN_')) clean[k] = v;
    const child = spawn(process.execPath, [compile(), ...args], { cwd: work, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const proc: Proc = {
      name, child, announced: '',
      stdout: () => out,
      stderr: () => err,
      output: () => `--- ${name} stdout:\n${out}\n--- ${name} stderr:\n${err}`,
      exited,
      running: () => child.exitCode === null && child.signalCode === null,
    };
    children.push(proc);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    return new Promise<Proc>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not announce itself within ${boundMs} ms\n${proc.output()}`)), boundMs);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = ready.exec(out);
        if (m && !proc.announced) {
          clearTimeout(timer);
          proc.announced = m[1]!;
          resolve(proc);
        }
      });
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code ?? signal}) before it was ready\n${proc.output()}`));
      });
    });
  };

  return {
    work,
    start,
    store: (name, dataDir, port) =>
      start(name, ['store', '--data-dir', dataDir, '--port', String(port)], {}, /occitan store listening on (http:\/\/\S+)\n/),
    serve: async (name, env) => {
      const port = await freePort();
      return start(name, ['serve'], {
        OCCITAN_PORT: String(port),
        OCCITAN_BIND: '127.0.0.1',
        OCCITAN_DATA_DIR: path.join(work, `data-${name}`),
        OCCITAN_LOG_LEVEL: 'warn',
        OCCITAN_BACKENDS_FILE: backendsFile,
        // Authentication has its own tests: these loopback servers let every caller in as admin.
        OCCITAN_AUTH_MODE: 'none',
        ...env,
      }, /occitan listening on (http:\/\/\S+)\n/);
    },
    cleanup: async () => {
      for (const p of children) {
        if (!p.running()) continue;
        // A stopped (SIGSTOP) child must be continued to act on SIGTERM.
        p.child.kill('SIGCONT');
        p.child.kill('SIGTERM');
      }
      const timer = setTimeout(() => {
        for (const p of children) if (p.running()) p.child.kill('SIGKILL');
      }, 15_000);
      await Promise.all(children.map((p) => p.exited));
      clearTimeout(timer);
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
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
export async function exitOf(p: Proc, boundMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
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
