/**
 * The README's run command, as a user types it: `bash scripts/serve.sh` on a fresh data directory.
 * It must serve GET /-/ with every core and infrastructure category in text/plain, text/occi and JSON,
 * with the admin token it prints on first start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const KINDS = ['entity', 'resource', 'link', 'compute', 'storage', 'network', 'networkinterface', 'storagelink'];
const MIXINS = ['ipnetwork', 'ipnetworkinterface', 'os_tpl', 'resource_tpl', 'ssh_key', 'user_data'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

let child: ChildProcess | undefined;
let base = '';
let token = '';
let dataDir = '';

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-readme-'));
  const port = await freePort();
  child = spawn('bash', ['scripts/serve.sh'], {
    cwd: ROOT,
    env: { ...process.env, OCCITAN_PORT: String(port), OCCITAN_DATA_DIR: dataDir, OCCITAN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve.sh did not start within 120 s:\n${out}\n${err}`)), 120_000);
    child!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const listening = /occitan listening on (http:\/\/\S+)/.exec(out);
      const printed = /X-Auth-Token or Authorization: Bearer:\n(\S+)\n/.exec(out);
      if (listening && printed) {
        clearTimeout(timer);
        base = listening[1]!;
        token = printed[1]!;
        resolve();
      }
    });
    child!.once('exit', (code) => reject(new Error(`serve.sh exited with ${code}:\n${out}\n${err}`)));
  });
}, 150_000);

afterAll(async () => {
  if (child?.pid) {
    const exited = new Promise((r) => child!.once('exit', r));
    process.kill(-child.pid, 'SIGTERM');
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (bound = setTimeout(r, 10_000)))]);
    // A pending bound would keep the jest worker alive after the suite.
    clearTimeout(bound);
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function get(accept?: string, withToken = true): Promise<Response> {
  const headers: Record<string, string> = {};
  if (accept) headers.Accept = accept;
  if (withToken) headers['X-Auth-Token'] = token;
  return fetch(`${base}/-/`, { headers });
}

test('without the printed token the server answers 401', async () => {
  const res = await get(undefined, false);
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toBeTruthy();
});

test('text/plain (the default) lists every core and infrastructure category', async () => {
  const res = await get();
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  expect(res.headers.get('server')).toMatch(/OCCI\/1\.2/);
  const body = await res.text();
  for (const k of KINDS) expect(body).toMatch(new RegExp(`^Category: ${k}; scheme="http://schemas\\.ogf\\.org/occi/(core|infrastructure)#"; class="kind"`, 'm'));
  for (const m of MIXINS) expect(body).toMatch(new RegExp(`^Category: ${m}; scheme="[^"]+"; class="mixin"`, 'm'));
  expect(body).toContain('Category: start; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"');
});

test('text/occi carries the same categories in headers, body OK', async () => {
  const res = await get('text/occi');
  expect(res.status).toBe(200);
  expect(await res.text()).toBe('OK');
  const header = res.headers.get('category') ?? '';
  for (const k of KINDS) expect(header).toContain(`${k}; scheme="http://schemas.ogf.org/occi/`);
});

test('application/occi+json lists them as kinds, mixins and actions', async () => {
  const res = await get('application/occi+json');
  expect(res.status).toBe(200);
  const body = (await res.json()) as { kinds: Array<{ term: string }>; mixins: Array<{ term: string }>; actions: Array<{ term: string }> };
  expect(body.kinds.map((k) => k.term)).toEqual(expect.arrayContaining(KINDS));
  expect(body.mixins.map((m) => m.term)).toEqual(expect.arrayContaining(MIXINS));
  expect(body.actions.map((a) => a.term)).toEqual(expect.arrayContaining(['start', 'stop', 'restart', 'suspend', 'up', 'down', 'online', 'offline']));
});
