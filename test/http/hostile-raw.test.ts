/**
 * Hostile requests as bytes on a socket (issue 4, acceptance; the rest of the hostile inputs are in
 * hostile.test.ts): what an HTTP client library would refuse to send. occitan is served as `occitan serve`
 * serves it, `http.createServer({ maxHeaderSize: limits.headerBytes }, app.callback())`, on 127.0.0.1:0.
 * Each request is refused with its exact 4xx (Node's parser answers some before occitan sees them) or
 * stored inertly; the store is unchanged where refused, and the server keeps answering.
 *
 * Limits (issue 4 §6): header size over `limits.headerBytes`, in one header, in many, or in the request
 * line, is a 431; half the limit is served.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { startTokenHarness, tokenFixture } from '../support/auth';
import { COMPUTE_CATEGORY, type Harness } from '../support/harness';

const HEADER_BYTES = 16384;
let h: Harness;
let server: http.Server;
let port = 0;
let alice: string;
let bob: string;

beforeAll(async () => {
  const t = tokenFixture();
  alice = t.add('alice', 'acme', 'member');
  bob = t.add('bob', 'beta', 'member');
  h = await startTokenHarness(t, { limits: { bodyBytes: 1048576, headerBytes: HEADER_BYTES, headerCount: 200, pageSizeMax: 1000, pageSizeDefault: 1000 } });
  expect(h.config.limits.headerBytes).toBe(HEADER_BYTES);
  server = http.createServer({ maxHeaderSize: h.config.limits.headerBytes }, h.occitan.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
  const made = await h.http.put('/compute/web1').set('X-Auth-Token', alice).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY)
    .set('X-OCCI-Attribute', 'occi.core.title="web one"');
  expect(made.status).toBe(201);
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await h.close();
});

interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/** Writes bytes to the server and reads until it closes the connection (bounded). */
function raw(bytes: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(10000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const at = text.indexOf('\r\n\r\n');
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      if (!m) return reject(new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 200))}`));
      resolve({ status: Number(m[1]), head: text.slice(0, at), body: Buffer.from(text.slice(at + 4), 'latin1').toString('utf8') });
    });
    socket.write(bytes);
  });
}

/** A request from its request line and header lines (each given as bytes, CRLF added), with `Connection: close`. */
function request(line: string, headers: string[], body = ''): Buffer {
  const length = body ? [`Content-Length: ${Buffer.byteLength(body)}`] : [];
  const text = [line, 'Host: 127.0.0.1', 'Connection: close', ...headers, ...length, '', body].join('\r\n');
  return Buffer.from(text, 'latin1');
}
/** UTF-8 text as the latin1 "bytes" request() writes. */
const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const auth = (): string => `X-Auth-Token: ${alice}`;

type Case = readonly [name: string, bytes: () => Buffer, status: number, body: string];

const CASES: Case[] = [
  ['a raw NUL in the path', () => request('GET /compute/web\u00001 HTTP/1.1', [auth()]), 400, ''],
  ['raw UTF-8 in the path', () => request(`PUT /compute/${utf8('\u202eexe')} HTTP/1.1`, [auth(), 'Content-Type: text/occi', `Category: ${COMPUTE_CATEGORY}`]), 400, ''],
  ['a CR inside a header value', () => request('PUT /compute/x1 HTTP/1.1', [auth(), 'Content-Type: text/occi', `Category: ${COMPUTE_CATEGORY}`, 'X-OCCI-Attribute: occi.core.title="a\rX-Injected: 1"']), 400, ''],
  ['a bare LF starting a new header inside a value', () => request('PUT /compute/x2 HTTP/1.1', [auth(), 'Content-Type: text/occi', `Category: ${COMPUTE_CATEGORY}\nX-OCCI-Attribute: occi.core.title="x"`]), 400, ''],
  ['a NUL inside a header value', () => request('PUT /compute/x3 HTTP/1.1', [auth(), 'Content-Type: text/occi', `Category: ${COMPUTE_CATEGORY}`, 'X-OCCI-Attribute: occi.core.title="a\u0000b"']), 400, ''],
  ['an obsolete folded header line', () => request('PUT /compute/x4 HTTP/1.1', [auth(), 'Content-Type: text/occi', `Category: ${COMPUTE_CATEGORY}`, 'X-OCCI-Attribute: occi.core.title="a"', ' X-Injected: 1']), 400, ''],
  ['Content-Length with Transfer-Encoding (smuggling)', () => request('POST /compute/ HTTP/1.1', [auth(), 'Content-Type: text/plain', 'Transfer-Encoding: chunked', 'Content-Length: 4'], '0\r\n\r\n'), 400, ''],
  ['two different Content-Length headers', () => request('POST /compute/ HTTP/1.1', [auth(), 'Content-Type: text/plain', 'Content-Length: 1', 'Content-Length: 2', '', 'xx']), 400, ''],
  ['two Authorization headers (Node would read the first)', () => request('DELETE /compute/web1 HTTP/1.1', [`Authorization: Bearer ${alice}`, `Authorization: Bearer ${bob}`]), 401, 'send one authorization header, not 2\n'],
  ['two Authorization headers, a bad one first', () => request('DELETE /compute/web1 HTTP/1.1', ['Authorization: Bearer nope.nope', `Authorization: Bearer ${alice}`]), 401, 'send one authorization header, not 2\n'],
  ['two X-Auth-Token headers', () => request('DELETE /compute/web1 HTTP/1.1', [auth(), `X-Auth-Token: ${bob}`]), 401, 'send one x-auth-token header, not 2\n'],
  ['two X-Tenant-Name headers', () => request('DELETE /compute/web1 HTTP/1.1', [auth(), 'X-Tenant-Name: acme', 'X-Tenant-Name: beta']), 400, 'X-Tenant-Name "acme, beta" is not a tenant name (letters, digits and ._-, at most 64)\n'],
  ['X-Tenant-Name in Cyrillic confusables (UTF-8)', () => request('DELETE /compute/web1 HTTP/1.1', [auth(), `X-Tenant-Name: ${utf8('\u0430cme')}`]), 400, 'is not a tenant name'],
  ['X-Tenant-Name with a right-to-left override (UTF-8)', () => request('DELETE /compute/web1 HTTP/1.1', [auth(), `X-Tenant-Name: ${utf8('acme\u202e')}`]), 400, 'is not a tenant name'],
  // --- header size (limits.headerBytes) ---
  ['one header over limits.headerBytes', () => request('GET /compute/ HTTP/1.1', [auth(), `X-Filler: ${'y'.repeat(HEADER_BYTES)}`]), 431, ''],
  ['many headers together over limits.headerBytes', () => request('GET /compute/ HTTP/1.1', [auth(), ...Array.from({ length: 20 }, (_, i) => `X-Filler-${i}: ${'y'.repeat(HEADER_BYTES / 16)}`)]), 431, ''],
  ['a request line over limits.headerBytes', () => request(`GET /compute/${'x'.repeat(HEADER_BYTES + 1)} HTTP/1.1`, [auth()]), 431, ''],
  ['a Category header over limits.headerBytes', () => request('POST /compute/ HTTP/1.1', [auth(), 'Content-Type: text/occi', `Category: ${COMPUTE_CATEGORY}${', x; scheme="http://e.com/x#"; class="mixin"'.repeat(HEADER_BYTES / 40)}`]), 431, ''],
];

async function web1(): Promise<unknown> {
  const r = await h.http.get('/compute/web1').set('X-Auth-Token', alice).set('Accept', 'application/occi+json');
  return [r.status, r.headers.etag, r.body];
}

describe.each(CASES)('%s', (_name, bytes, status, body) => {
  test(`${status}, nothing stored or changed, and the server keeps answering`, async () => {
    const before = await web1();
    const seq = await h.seq();
    const r = await raw(bytes());
    expect({ status: r.status, body: r.body }).toEqual({ status, body: body === '' ? expect.any(String) : expect.stringContaining(body) });
    expect(await h.seq()).toBe(seq);
    expect(await web1()).toEqual(before);
    const after = await raw(request('GET /compute/web1 HTTP/1.1', [auth()]));
    expect(after.status).toBe(200);
  });
});

test('headers of half limits.headerBytes are served', async () => {
  const r = await raw(request('GET /compute/web1 HTTP/1.1', [auth(), `X-Filler: ${'y'.repeat(HEADER_BYTES / 2)}`]));
  expect(r.status).toBe(200);
  expect(r.body).toContain('X-OCCI-Attribute: occi.core.title="web one"');
});

test('UTF-8 bytes in a text/occi attribute header are stored inertly and read back as the same text', async () => {
  const title = '\u202egnp.exe \u0430dmin $(reboot);|&`id`';
  const r = await raw(request('PUT /compute/utf8 HTTP/1.1', [auth(), 'Content-Type: text/occi', `Category: ${COMPUTE_CATEGORY}`,
    `X-OCCI-Attribute: occi.core.title="${utf8(title)}"`]));
  expect(r.status).toBe(201);
  const back = await h.http.get('/compute/utf8').set('X-Auth-Token', alice).set('Accept', 'application/occi+json');
  expect(back.status).toBe(200);
  expect(back.body.attributes['occi.core.title']).toBe(title);
  // bob's tenant has no such entity.
  expect((await h.http.get('/compute/utf8').set('X-Auth-Token', bob)).status).toBe(404);
});
