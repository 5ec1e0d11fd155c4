/**
 * The occitan CLI compiled once for every test that spawns real occitan processes (e2e, crash, chaos,
 * outage suites). A compile costs seconds on 2 vCPU; nine suites compiling the same tree each cost
 * minutes of the test command. The build is keyed by a hash of what it is made from (src/, the
 * tsconfigs), so an edited tree builds afresh and an unchanged one is reused across suites, jest
 * workers and runs. Workers that race build into temporary folders and rename: the first rename wins.
 * Suites must not delete the folder: it is shared (stale builds of other hashes are pruned here).
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const CACHE = path.join(ROOT, 'node_modules', '.cache');
const PREFIX = 'occitan-cli-';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

function treeHash(): string {
  const hash = createHash('sha256');
  const files = [...filesUnder(path.join(ROOT, 'src')), path.join(ROOT, 'tsconfig.json'), path.join(ROOT, 'tsconfig.build.json')].sort();
  for (const f of files) {
    hash.update(path.relative(ROOT, f));
    hash.update('\0');
    hash.update(fs.readFileSync(f));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** Removes builds of other trees that nobody has touched for an hour. */
function pruneStale(keep: string): void {
  const hourAgo = Date.now() - 3_600_000;
  for (const name of fs.readdirSync(CACHE)) {
    if (!name.startsWith(PREFIX) || name === keep) continue;
    const p = path.join(CACHE, name);
    try {
      if (fs.statSync(p).mtimeMs < hourAgo) fs.rmSync(p, { recursive: true, force: true });
    } catch {
      // Another worker pruned it first.
    }
  }
}

/** The compiled tree (`build`) and its `cli.js`, compiling when this tree was not built yet. */
export function compiledCli(): { build: string; cli: string } {
  fs.mkdirSync(CACHE, { recursive: true });
  const name = PREFIX + treeHash();
  const build = path.join(CACHE, name);
  const cli = path.join(build, 'src', 'cli.js');
  if (fs.existsSync(cli)) return { build, cli };
  const scratch = fs.mkdtempSync(path.join(CACHE, 'occitan-building-'));
  // tsc emits even when another part of the tree has a type error (the type-check is a separate step);
  // a missing cli.js is what stops the caller.
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', scratch], { cwd: ROOT, encoding: 'utf8' });
  if (!fs.existsSync(path.join(scratch, 'src', 'cli.js'))) {
    fs.rmSync(scratch, { recursive: true, force: true });
    throw new Error(`tsc did not produce src/cli.js:\n${tsc.stdout}\n${tsc.stderr}`);
  }
  try {
    fs.renameSync(scratch, build);
  } catch {
    // Another worker renamed its identical build first.
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  if (!fs.existsSync(cli)) throw new Error(`no ${cli} after compiling`);
  pruneStale(name);
  return { build, cli };
}
