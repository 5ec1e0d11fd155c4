import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import nano from 'nano';
import { runStandaloneStore } from '../../../src/store/standalone';
import { tempDir } from './helpers';

const root = path.resolve(__dirname, '../../..');
const LINE = /^occitan store listening on (http:\/\/\S+)$/m;

/** Runs runStandaloneStore in a child process, as `occitan store --data-dir DIR --port N` does. */
function startChild(dataDir: string, port: number): { child: ChildProcess; url: Promise<string>; exit: Promise<number | null> } {
  const script = `require('./src/store/standalone').runStandaloneStore({ dataDir: process.argv[1], port: Number(process.argv[2]) })
    .catch((e) => { console.error(e); process.exit(2); });`;
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script, dataDir, String(port)], {
    cwd: root,
    // The project tsconfig may carry TS 6 deprecations that ts-node treats as errors.
    env: { ...process.env, TS_NODE_COMPILER_OPTIONS: JSON.stringify({ ignoreDeprecations: '6.0' }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL line within 20 s; stderr: ${err}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = LINE.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before printing its URL; stderr: ${err}`));
    });
  });
  return { child, url, exit };
}

async function stopChild(c: { child: ChildProcess; exit: Promise<number | null> }, signal: NodeJS.Signals): Promise<number | null> {
  c.child.kill(signal);
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000).unref());
  const result = await Promise.race([c.exit, timeout]);
  if (result === 'timeout') {
    c.child.kill('SIGKILL');
    throw new Error(`the store did not exit within 10 s of ${signal}`);
  }
  return result;
}

describe('occitan store (standalone)', () => {
  const tmp = tempDir('standalone');
  afterAll(() => tmp.remove());

  it('prints its URL, serves, closes cleanly on SIGTERM and comes back with the same data and credentials', async () => {
    const first = startChild(tmp.dir, 0);
    const url = await first.url;
    expect(url).toMatch(/^http:\/\/occitan:[^@]+@127\.0\.0\.1:\d+$/);
    const port = Number(new URL(url).port);
    await nano(url).db.create('shared');
    await nano(url).use('shared').insert({ _id: 'one', v: 1 } as object);
    expect(await stopChild(first, 'SIGTERM')).toBe(0);

    // A second process opens the same LevelDB: the first released its lock.
    const second = startChild(tmp.dir, port);
    expect(await second.url).toBe(url);
    expect(await nano(url).use('shared').get('one')).toMatchObject({ v: 1 });
    expect(await stopChild(second, 'SIGINT')).toBe(0);
  }, 60_000);

  it('rejects a port out of range', async () => {
    await expect(runStandaloneStore({ dataDir: tmp.dir, port: 70000 })).rejects.toThrow(/--port/);
  });
});
