/**
 * Graceful shutdown (issue #8, deliver 6) of a real `occitan serve` process (embedded store on disk, dummy
 * provider). The request "in flight" is a create whose body the test sends in two parts: it asks
 * `Expect: 100-continue`, and node writes `100 Continue` in the same tick it hands the request to occitan,
 * so once the test reads it the request is provably being served. No test hook in occitan is needed.
 *
 * - SIGTERM: the request in flight completes (201, `Connection: close`), new connections are refused, idle
 *   kept-alive connections are closed, occitan closes its store and providers and exits 0; the created
 *   entity is there on the next start.
 * - SIGINT twice: the second signal cuts what still runs; still a clean close and exit 0.
 * - `timers.shutdownGrace`: a request outliving it is cut, then the same clean close.
 * Every wait is a bounded poll.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { compiledOccitan, eventually, exitOf, type Proc, type Processes } from './spawned-occitan';

const J = 'application/occi+json';
const COMPUTE = 'http://schemas.ogf.org/occi/infrastructure#compute';

/** A raw HTTP/1.1 connection: the test decides when each byte goes out. */
class RawConnection {
  data = '';
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.data += d;
    });
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  send(text: string): void {
    this.socket.write(text);
  }

  /** The first complete response after `from` (status, lower-cased headers, body), once it has arrived. */
  response(from = 0): { status: number; headers: Record<string, string>; body: string; end: number } | undefined {
    const text = this.data.slice(from);
    const headEnd = text.indexOf('\r\n\r\n');
    if (headEnd < 0) return undefined;
    const [statusLine, ...lines] = text.slice(0, headEnd).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    const length = Number(headers['content-length'] ?? NaN);
    const body = text.slice(headEnd + 4);
    if (!Number.isFinite(length) || Buffer.byteLength(body) < length) return undefined;
    return { status: Number(statusLine!.split(' ')[1]), headers, body: body.slice(0, length), end: from + headEnd + 4 + length };
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Whether a new TCP connection to `port` is refused (the server stopped listening). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

/** Starts a create and returns once occitan is serving it (100 Continue read); the body is still owed. */
async function createInFlight(port: number, title: string): Promise<{ conn: RawConnection; body: string }> {
  const body = JSON.stringify({ kind: COMPUTE, attributes: { 'occi.core.title': title } });
  const conn = await RawConnection.open(port);
  conn.send([
    'POST /compute/ HTTP/1.1', `Host: 127.0.0.1:${port}`, `Accept: ${J}`, `Content-Type: ${J}`,
    `Content-Length: ${Buffer.byteLength(body)}`, 'Expect: 100-continue', '', '',
  ].join('\r\n'));
  await eventually('occitan answers 100 Continue to the create', () => conn.data.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), 30_000, 20);
  // Half the body now: the request is reading it when the signal comes.
  conn.send(body.slice(0, 10));
  return { conn, body };
}

let procs: Processes;
const opened: RawConnection[] = [];

async function serve(name: string, env: Record<string, string> = {}): Promise<{ proc: Proc; port: number }> {
  const proc = await procs.serve(name, { OCCITAN_LOG_LEVEL: 'info', OCCITAN_TIMERS_SHUTDOWN_GRACE: '60000', ...env });
  return { proc, port: Number(new URL(proc.announced).port) };
}

beforeAll(() => {
  procs = compiledOccitan('graceful-shutdown');
});

afterAll(async () => {
  for (const c of opened) c.destroy();
  await procs?.cleanup();
}, 60_000);

test('SIGTERM: the request in flight completes with Connection: close, new connections are refused, idle ones closed, the store closed and the exit 0', async () => {
  const dataDir = path.join(procs.work, 'data-term');
  const { proc, port } = await serve('term', { OCCITAN_DATA_DIR: dataDir });

  const idle = await RawConnection.open(port);
  opened.push(idle);
  idle.send(`GET /-/providers HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: application/json\r\n\r\n`);
  await eventually('the kept-alive connection got its answer', () => idle.response() !== undefined, 30_000, 20);
  expect(idle.response()!.status).toBe(200);
  expect(idle.closed).toBe(false);

  const { conn, body } = await createInFlight(port, 'in-flight');
  opened.push(conn);
  proc.child.kill('SIGTERM');

  await eventually('new connections are refused', () => refused(port), 30_000);
  await eventually('the idle kept-alive connection is closed by occitan', () => idle.closed, 30_000);
  expect(proc.running()).toBe(true);
  expect(conn.closed).toBe(false);

  conn.send(body.slice(10));
  await eventually('the create in flight is answered', () => conn.response(conn.data.indexOf('\r\n\r\n') + 4) !== undefined, 30_000, 20);
  const res = conn.response(conn.data.indexOf('\r\n\r\n') + 4)!;
  expect(res.status).toBe(201);
  expect(res.headers.connection).toBe('close');
  const location = new URL(res.headers.location!).pathname;
  await eventually('occitan closes the connection after the answer', () => conn.closed, 30_000);

  expect(await exitOf(proc)).toEqual({ code: 0, signal: null });
  expect(proc.stderr()).toMatch(/SIGTERM received: finishing 1 request\(s\) in flight/);
  expect(proc.stderr()).toMatch(/"msg":"stopped"/);

  // The acknowledged create is on disk, and the store reopens: the first process released it.
  const again = await serve('term-again', { OCCITAN_DATA_DIR: dataDir });
  const read = await fetch(`${again.proc.announced}${location}`, { headers: { Accept: J } });
  expect(read.status).toBe(200);
  expect(((await read.json()) as { attributes: Record<string, unknown> }).attributes['occi.core.title']).toBe('in-flight');
  again.proc.child.kill('SIGTERM');
  expect(await exitOf(again.proc)).toEqual({ code: 0, signal: null });
}, 240_000);

test('SIGINT twice: the second signal cuts the request still in flight, and occitan still closes and exits 0', async () => {
  const { proc, port } = await serve('int');
  const { conn } = await createInFlight(port, 'cut');
  opened.push(conn);
  proc.child.kill('SIGINT');
  await eventually('new connections are refused', () => refused(port), 30_000);
  expect(conn.closed).toBe(false);
  proc.child.kill('SIGINT');
  await eventually('the request in flight is cut', () => conn.closed, 30_000);
  expect(await exitOf(proc)).toEqual({ code: 0, signal: null });
  expect(proc.stderr()).toMatch(/SIGINT again: cutting 1 request\(s\) in flight now/);
  expect(proc.stderr()).toMatch(/"msg":"stopped"/);
}, 180_000);

test('timers.shutdownGrace: a request outliving it is cut, then occitan closes and exits 0', async () => {
  const { proc, port } = await serve('grace', { OCCITAN_TIMERS_SHUTDOWN_GRACE: '1000' });
  const { conn } = await createInFlight(port, 'too-slow');
  opened.push(conn);
  proc.child.kill('SIGTERM');
  await eventually('the request is cut once the grace ran out', () => conn.closed, 30_000);
  expect(await exitOf(proc)).toEqual({ code: 0, signal: null });
  expect(proc.stderr()).toMatch(/1 request\(s\) still running after 1000 ms \(timers.shutdownGrace\): cutting them/);
  expect(proc.stderr()).toMatch(/"msg":"stopped"/);
}, 180_000);
