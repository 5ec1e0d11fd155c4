/**
 * libvirt through `virsh` (no maintained Node binding exists): execFile with an argument array, never a
 * shell string, always `-c <uri>`. virsh exits 1 on every failure and says why only in `error:` lines on
 * stderr; this edge turns them into occitan's errors, so nothing raw leaves the backend:
 *
 * | virsh says                                                           | occitan error          |
 * |----------------------------------------------------------------------|------------------------|
 * | failed to connect to the hypervisor, socket refused, virsh missing   | ServiceUnavailable 503 |
 * | failed to get domain / pool / vol, … not found                       | NotFound 404           |
 * | already exists, already active, is not running, operation invalid   | Conflict 409           |
 * | Cannot allocate memory (the host has not the memory asked for)       | Conflict 409           |
 * | XML error, invalid argument, unsupported configuration              | BadRequest 400         |
 * | anything else                                                        | BadGateway 502         |
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { BadGateway, BadRequest, Conflict, NotFound, OcciError, ServiceUnavailable } from '../../errors';

export interface VirshFailure {
  /** The `error:` lines of stderr, without the prefix. */
  errors: string[];
  code?: string | number | null;
  killed?: boolean;
}

/** A virsh failure before translation: what it printed. */
export class VirshError extends Error {
  constructor(readonly failure: VirshFailure, readonly args: readonly string[]) {
    super(failure.errors.join('; ') || `virsh ${args[0] ?? ''} failed (${String(failure.code)})`);
  }
}

export class Virsh {
  constructor(readonly uri: string, private readonly timeoutMs: number) {}

  describe(): string {
    return `libvirt at ${this.uri}`;
  }

  /** Runs `virsh -c <uri> args…`; resolves to stdout, rejects with VirshError. */
  run(args: readonly string[], timeoutMs = this.timeoutMs): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('virsh', ['-q', '-c', this.uri, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number | null };
        const errors = String(stderr)
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l.startsWith('error:'))
          .map((l) => l.slice('error:'.length).trim())
          .filter(Boolean);
        reject(new VirshError({ errors, code: e.code ?? null, ...(e.killed ? { killed: true } : {}) }, args));
      });
    });
  }

  /** Like run, translating failures; `what` says what occitan was doing ("start the domain of /compute/x"). */
  async call(args: readonly string[], what: string, timeoutMs?: number): Promise<string> {
    try {
      return await this.run(args, timeoutMs);
    } catch (e) {
      throw translateVirshError(e, this, what);
    }
  }

  /** Runs a command that reads an XML file (define, attach-device …): the XML goes through a private temporary file. */
  async withXmlFile<T>(xml: string, f: (file: string) => Promise<T>): Promise<T> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'occitan-virsh-'));
    const file = path.join(dir, 'input.xml');
    try {
      await fs.writeFile(file, xml, { mode: 0o600 });
      return await f(file);
    } finally {
      await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

const UNREACHABLE = /failed to connect to the hypervisor|failed to connect socket|connection refused|cannot recv data|end of file while reading data|no connection driver available|unable to connect to server|Cannot write data: Broken pipe|client socket is closed/i;
const MISSING = /failed to get (domain|pool|vol)|not found|no domain with matching|no storage (vol|pool) with matching|Storage volume not found/i;
const CONFLICT = /already exists|already active|is already (running|in use|paused)|is not running|domain is not running|not (currently )?active|Requested operation is not valid|operation is not valid|Failed to get ".*" lock|already in use|has managed save image/i;
const NO_CAPACITY = /Cannot allocate memory|cannot set up guest memory|not enough (memory|space)|No space left on device/i;
const INVALID = /XML error|invalid argument|unsupported configuration|Invalid value|failed to validate|XML document|unknown (OS type|architecture)|expected integer|cannot parse/i;

/** Translates anything the runner threw. */
export function translateVirshError(e: unknown, virsh: Pick<Virsh, 'describe'>, what: string): OcciError {
  if (e instanceof OcciError) return e;
  if (!(e instanceof VirshError)) return new BadGateway(`${virsh.describe()}: could not ${what}: ${String(e)}`);
  const { errors, code, killed } = e.failure;
  const msg = errors.join(': ') || `virsh exited ${String(code)}`;
  if (code === 'ENOENT') return new ServiceUnavailable(`virsh is not installed (Debian: libvirt-clients), so occitan cannot ${what}`);
  if (killed || code === 'ETIMEDOUT') return new ServiceUnavailable(`${virsh.describe()} did not answer in time while trying to ${what}`);
  if (UNREACHABLE.test(msg)) return new ServiceUnavailable(`${virsh.describe()} is unreachable while trying to ${what}: ${msg}`);
  if (NO_CAPACITY.test(msg)) return new Conflict(`the host has no capacity to ${what}: ${msg}`);
  if (MISSING.test(msg)) return new NotFound(`${virsh.describe()}: could not ${what}: ${msg}`);
  if (CONFLICT.test(msg)) return new Conflict(`could not ${what}: ${msg}`);
  if (INVALID.test(msg)) return new BadRequest(`could not ${what}: ${msg}`);
  return new BadGateway(`${virsh.describe()} refused to ${what}: ${msg}`);
}

/** True when the failure says the object (domain, volume, pool) does not exist. */
export function isMissing(e: unknown): boolean {
  if (e instanceof NotFound) return true;
  return e instanceof VirshError && MISSING.test(e.failure.errors.join(': ')) && !UNREACHABLE.test(e.failure.errors.join(': '));
}
