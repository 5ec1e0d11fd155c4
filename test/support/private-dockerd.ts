/**
 * A dockerd of a test's own, beside (never instead of) the two of scripts/services.sh: its own socket, data
 * root, exec root and pid file under a temporary directory, `--bridge=none --iptables=false` (no docker0, no
 * firewall changes), and the test image occitan/busybox:test imported from Debian's busybox-static the way
 * services.sh does (nothing is pulled). A test may stop it (SIGTERM, SIGKILL) and start it again on the same
 * data; `remove()` removes every container, stops the daemon and the containerd it started, unmounts what
 * they left mounted and deletes the directory. Everything it touches is under that directory.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
export const TEST_IMAGE = 'occitan/busybox:test';
const DOCKER_CLI = fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether a process exists and is not a zombie (an orphan's zombie may linger until init reaps it). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Processes whose command line names `dir` (the containerd and shims a daemon under `dir` started). */
function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir + '/') && alive(Number(entry))) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Waits (bounded) until a process has exited; true when it did. */
async function gone(pid: number, boundMs: number): Promise<boolean> {
  const until = Date.now() + boundMs;
  while (alive(pid)) {
    if (Date.now() > until) return false;
    await sleep(50);
  }
  return true;
}

export class PrivateDockerd {
  readonly dir: string;
  readonly socket: string;
  /** `unix:///…/docker.sock`: the node endpoint for backends.json. */
  readonly endpoint: string;
  private readonly dataRoot: string;
  private readonly execRoot: string;
  private readonly pidFile: string;
  private readonly logFile: string;
  private child?: ChildProcess;

  constructor(prefix = 'occitan-dockerd-') {
    // Short paths: unix socket names are limited to 107 bytes (containerd's sockets live under the exec root).
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.socket = path.join(this.dir, 'docker.sock');
    this.endpoint = `unix://${this.socket}`;
    this.dataRoot = path.join(this.dir, 'data');
    this.execRoot = path.join(this.dir, 'exec');
    this.pidFile = path.join(this.dir, 'docker.pid');
    this.logFile = path.join(this.dir, 'docker.log');
  }

  /** The daemon's pid while it runs. */
  get pid(): number | undefined {
    const c = this.child;
    return c && c.exitCode === null && c.signalCode === null && c.pid !== undefined ? c.pid : undefined;
  }

  /** `docker -H <our socket> …`; resolves to stdout. */
  async cli(args: readonly string[], timeoutMs = 60_000): Promise<string> {
    const { stdout } = await exec(DOCKER_CLI, ['-H', this.endpoint, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: timeoutMs });
    return stdout;
  }

  async lines(args: readonly string[]): Promise<string[]> {
    return (await this.cli(args)).split('\n').map((l) => l.trim()).filter(Boolean);
  }

  async answers(): Promise<boolean> {
    return this.cli(['version', '--format', '{{.Server.Version}}'], 10_000).then(() => true, () => false);
  }

  /** The last lines of the daemon's log (for failure messages). */
  log(lines = 30): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Starts the daemon (on the same data when it ran before) and waits, bounded, until it answers. */
  async start(boundMs = 90_000): Promise<void> {
    if (this.pid !== undefined) throw new Error(`the private dockerd (pid ${this.pid}) is already running`);
    const dockerd = fs.existsSync('/usr/sbin/dockerd') ? '/usr/sbin/dockerd' : 'dockerd';
    const log = fs.openSync(this.logFile, 'a');
    try {
      this.child = spawn(dockerd, [
        '--host', this.endpoint,
        '--data-root', this.dataRoot,
        '--exec-root', this.execRoot,
        '--pidfile', this.pidFile,
        '--bridge=none', '--iptables=false', '--ip6tables=false',
      ], { detached: true, stdio: ['ignore', log, log] });
    } catch (e) {
      throw new Error(`could not start dockerd (Debian: docker.io; bash scripts/services.sh start docker installs it): ${(e as Error).message}`);
    } finally {
      fs.closeSync(log);
    }
    this.child.on('error', () => undefined);
    const until = Date.now() + boundMs;
    while (!(await this.answers())) {
      if (this.pid === undefined) throw new Error(`the private dockerd exited before it answered (install docker.io with: bash scripts/services.sh start docker)\n${this.log()}`);
      if (Date.now() > until) throw new Error(`the private dockerd did not answer on ${this.endpoint} within ${boundMs} ms\n${this.log()}`);
      await sleep(100);
    }
  }

  /** Imports the test image when absent, as scripts/services.sh does (busybox-static, `docker import`). */
  async importImage(): Promise<void> {
    if (await this.cli(['image', 'inspect', TEST_IMAGE]).then(() => true, () => false)) return;
    if (!fs.existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing (Debian: busybox-static); run: bash scripts/services.sh start docker');
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-image-'));
    try {
      for (const d of ['bin', 'tmp', 'etc', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(root, d));
      fs.copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'));
      fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
      const { stdout } = await exec('/bin/busybox', ['--list']);
      for (const applet of stdout.split('\n').map((l) => l.trim()).filter((l) => l && l !== 'busybox')) fs.symlinkSync('busybox', path.join(root, 'bin', applet));
      fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
      fs.writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\n');
      await new Promise<void>((resolve, reject) => {
        const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
        const imp = spawn(DOCKER_CLI, ['-H', this.endpoint, 'import', '-c', 'CMD ["/bin/sh"]', '-c', 'ENV PATH=/bin', '-', TEST_IMAGE], { stdio: ['pipe', 'ignore', 'pipe'] });
        let err = '';
        imp.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        tar.stdout!.pipe(imp.stdin!);
        imp.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker import exited ${code}: ${err}`))));
        imp.once('error', reject);
        tar.once('error', reject);
      });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }

  /**
   * Stops the daemon with `signal` and waits (bounded) until it has exited. SIGKILL is the crash: the
   * containerd it started and the containers' shims live on, as after a real crash.
   */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', boundMs = 60_000): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    const exited = new Promise<void>((resolve) => this.child!.once('exit', () => resolve()));
    process.kill(pid, signal);
    const bound = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), boundMs).unref());
    if ((await Promise.race([exited, bound])) === 'late') {
      process.kill(pid, 'SIGKILL');
      await exited;
    }
    // Its containerd dies with it (parent-death signal); a new daemon must not find the old one's pid alive.
    const containerd = this.containerdPid();
    if (containerd !== undefined && !(await gone(containerd, 30_000))) process.kill(containerd, 'SIGKILL');
    // Its zombie may linger until init reaps it, and dockerd takes a pid that answers kill(0) for a live
    // containerd: without the stale pid file, the next start starts a containerd of its own.
    if (this.containerdPid() === undefined) fs.rmSync(path.join(this.execRoot, 'containerd', 'containerd.pid'), { force: true });
  }

  /** The containerd this daemon started (its pid file under the exec root), while it runs. */
  private containerdPid(): number | undefined {
    try {
      const pid = Number(fs.readFileSync(path.join(this.execRoot, 'containerd', 'containerd.pid'), 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmd.includes(this.execRoot) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Removes every container (all are the test's), stops the daemon and its containerd, deletes the directory. */
  async remove(): Promise<void> {
    if (this.pid === undefined && fs.existsSync(this.dataRoot)) await this.start().catch(() => undefined);
    if (this.pid !== undefined) {
      const ids = await this.lines(['ps', '-aq']).catch(() => []);
      if (ids.length) await this.cli(['rm', '-f', ...ids]).catch(() => undefined);
      await this.stop('SIGTERM');
    }
    // A containerd or shims left by a crash: only processes naming our own directory.
    for (const pid of processesUnder(this.dir)) {
      process.kill(pid, 'SIGTERM');
      if (!(await gone(pid, 10_000))) process.kill(pid, 'SIGKILL');
    }
    // Whatever is still mounted under our directory (overlay layers, netns, shm), deepest first.
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(this.dir + '/'));
    for (const m of mounts.sort((a, b) => b.length - a.length)) await exec('umount', ['-l', m]).catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A private dockerd, started, with the test image: the caller removes it (`remove()`) in its teardown. */
export async function startPrivateDockerd(prefix?: string): Promise<PrivateDockerd> {
  const d = new PrivateDockerd(prefix);
  try {
    await d.start();
    await d.importImage();
    return d;
  } catch (e) {
    await d.remove().catch(() => undefined);
    throw e;
  }
}
