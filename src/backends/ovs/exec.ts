/**
 * The programs the ovs provider runs, always through execFile with argument arrays (never a shell):
 * `ovs-vsctl` for the switch, `ip` (iproute2) for veth pairs, `nsenter --net=<path> ip …` (and `sysctl`,
 * to give one interface IPv6) inside a container's network namespace. Their failures are translated here, at the edge:
 *
 * | failure                                                     | occitan error          |
 * |-------------------------------------------------------------|------------------------|
 * | program missing (ENOENT)                                    | ServiceUnavailable 503 |
 * | ovs-vsctl cannot reach the database, or times out           | ServiceUnavailable 503 |
 * | a container's namespace is gone (its process exited)        | Conflict 409           |
 * | any other refusal                                           | BadGateway 502         |
 */
import { execFile } from 'node:child_process';
import { BadGateway, Conflict, OcciError, ServiceUnavailable } from '../../errors';

export interface ExecFailure {
  code?: string | number;
  signal?: string | null;
  killed?: boolean;
  stderr?: string;
  stdout?: string;
  message?: string;
}

/** Runs a program; resolves to stdout, rejects with the raw failure (stderr attached). */
export function run(file: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args as string[], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (err) {
        const failure = err as ExecFailure & Error;
        failure.stderr = String(stderr ?? '').trim();
        failure.stdout = String(stdout ?? '');
        reject(failure);
      } else resolve(String(stdout));
    });
  });
}

export function stderrOf(e: unknown): string {
  const f = (e ?? {}) as ExecFailure;
  return (f.stderr || f.message || String(e)).trim();
}

/** ovs-vsctl's and ip's failure, as occitan's error; `what` says what occitan was doing. */
export function translate(e: unknown, program: string, what: string): OcciError {
  if (e instanceof OcciError) return e;
  const f = (e ?? {}) as ExecFailure;
  const text = stderrOf(e);
  if (f.code === 'ENOENT') return new ServiceUnavailable(`${program} is not installed (needed to ${what}); install openvswitch-switch and iproute2`);
  if (f.killed || f.signal === 'SIGALRM' || /timed out|timeout/i.test(text)) {
    return new ServiceUnavailable(`${program} did not answer in time while trying to ${what}`);
  }
  if (program === 'ovs-vsctl' && /database connection failed|No such file or directory|Connection refused/i.test(text)) {
    return new ServiceUnavailable(`Open vSwitch does not answer (ovsdb-server not running?) while trying to ${what}: ${text}`);
  }
  if (/nsenter: .*(No such file|cannot open)|Cannot open network namespace|Invalid "netns" value/i.test(text)) {
    return new Conflict(`the container's network namespace is gone (is the container running?) while trying to ${what}`);
  }
  return new BadGateway(`${program} refused to ${what}: ${text}`);
}
