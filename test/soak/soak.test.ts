/**
 * The short soak inside the normal test command (issue 8, Deliver 5): 64 clients for 15 s through the
 * same runner as `npm run soak` (test/soak/run.ts → soak.ts, which states the checks): no 5xx, no lost
 * update, no transport error or unexpected answer, heap after a forced GC within HEAP_MARGIN_MIB of the
 * start. Latency is reported, never asserted (the machine is shared).
 *
 * It runs in a node process of its own: a jest worker is reused across suites, so its heap holds what
 * earlier suites left (a CI run measured 183 → 339 MiB in a worker that had run other suites first),
 * which says nothing about occitan.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { HEAP_MARGIN_MIB } from './soak';

const ROOT = path.resolve(__dirname, '..', '..');

interface Run { code: number | null; stdout: string; stderr: string }

function runSoakProcess(args: string[], boundMs: number): Promise<Run> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OCCITAN_') && !k.startsWith('SOAK_')) env[k] = v;
  const child = spawn(process.execPath, ['--expose-gc', '-r', 'ts-node/register/transpile-only', 'test/soak/run.ts', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const bound = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the soak did not end within ${boundMs} ms\n${stdout}\n${stderr}`));
    }, boundMs);
    child.once('exit', (code) => {
      clearTimeout(bound);
      resolve({ code, stdout, stderr });
    });
  });
}

test('64 clients for 15 s: zero 5xx, zero lost updates, heap within the margin', async () => {
  const run = await runSoakProcess(['--clients', '64', '--seconds', '15', '--seed', '7'], 540_000);
  const summary = run.stdout.split('\n').find((l) => l.startsWith('soak: cases=')) ?? '';
  process.stdout.write(`${summary}\n`);
  expect(summary).not.toBe('');
  const field = (name: string): string => new RegExp(`(?:^| )${name}=(\\S+)`).exec(summary)?.[1] ?? '';
  expect({ fivexx: field('5xx'), lost: field('lost'), errors: field('errors'), unexpected: field('unexpected') })
    .toEqual({ fivexx: '0', lost: '0', errors: '0', unexpected: '0' });
  // Every kind of operation ran and wrote: creates, acknowledged updates.
  const statuses = JSON.parse(/soak: statuses (\{.*\})/.exec(run.stderr)?.[1] ?? '{}') as Record<string, number>;
  expect(statuses['201'] ?? 0).toBeGreaterThan(0);
  expect(statuses['200'] ?? 0).toBeGreaterThan(0);
  const heap = /heap=([\d.]+)->([\d.]+)MiB/.exec(summary);
  expect(heap).not.toBeNull();
  expect(Number(heap![2]) - Number(heap![1])).toBeLessThanOrEqual(HEAP_MARGIN_MIB);
  expect({ exit: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ exit: 0, stderr: '' });
}, 600_000);
