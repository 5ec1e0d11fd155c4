/**
 * Real occitan OS processes for the chaos suite: a private compiled copy of the tree (tsc into
 * node_modules/.cache, as the e2e tests do: a compile and node start-ups beat ts-node start-ups), the
 * standalone store (`occitan store`, which survives every kill) and `occitan serve` processes configured
 * only through OCCITAN_* variables, started and killed by their pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { compiledCli } from '../support/compiled-cli';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface Proc {
  name: string;
  child: ChildProcess;
  /** The first capture group of the stdout line that announced readiness. */
  announced: string;
  output(): string;
  exited: Promise<number | null>;
}

/** The compiled tree (shared by every suite: test/support/compiled-cli.ts) and its cli.js. */
export function compile(): { build: string; cli: string } {
  return compiledCli();
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Starts `node <cli> …args` in `cwd` and resolves once stdout matches `ready` (bounded). */
export function startProcess(name: string, cli: string, args: string[], cwd: string, env: Record<string, string>, ready: RegExp, boundMs = 120_000): Promise<Proc> {
  const clean: NodeJS.ProcessEnv = {};
  // Nothing of the caller's own occitan configuration leaks into the child.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OCCITAN_')) clean[k] = v;
  const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const proc: Proc = { name, child, announced: '', output: () => `--- ${name} stdout:\n${out.slice(-4000)}\n--- ${name} stderr:\n${err.slice(-4000)}`, exited };
  return new Promise<Proc>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not announce itself within ${boundMs} ms\n${proc.output()}`)), boundMs);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m && !proc.announced) {
        clearTimeout(timer);
        proc.announced = m[1]!;
        resolve(proc);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      if (!proc.announced) reject(new Error(`${name} exited with ${code} before it was ready\n${proc.output()}`));
    });
  });
}

export function running(p: Proc): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/** SIGTERM, then SIGKILL after `boundMs`; resolves once it has exited. */
export async function stopProcess(p: Proc, boundMs = 15_000): Promise<void> {
  if (!running(p)) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), boundMs);
  await p.exited;
  clearTimeout(timer);
}

/** The crash: SIGKILL, and wait until it is gone. */
export async function killProcess(p: Proc): Promise<void> {
  if (!running(p)) return;
  p.child.kill('SIGKILL');
  await p.exited;
}

export interface StoreDoc {
  _id: string;
  uid?: string;
  location?: string;
  kind?: string;
  provider?: string;
  status?: string;
  source?: string;
  target?: string;
  attributes?: Record<string, unknown>;
}

/** Every document of `db` on the standalone store (its URL carries credentials; fetch wants a header). */
export async function storeDocs(storeUrl: string, db: string): Promise<StoreDoc[]> {
  const u = new URL(`${storeUrl}/${db}/_all_docs?include_docs=true`);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  u.username = '';
  u.password = '';
  const res = await fetch(u, { headers: { Authorization: auth } });
  if (res.status !== 200) throw new Error(`the store answered ${res.status} to _all_docs`);
  const body = (await res.json()) as { rows: Array<{ doc?: StoreDoc }> };
  return body.rows.map((r) => r.doc).filter((d): d is StoreDoc => d !== undefined);
}
