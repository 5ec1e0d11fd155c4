/**
 * Content negotiation, versions and the shape of errors (occi-spec.md §3.2, §3.3, §3.4, §3.10; edge cases
 * 4, 5, 26, 30): 406 / 415 / 501, text/uri-list only for listings (400 otherwise), the Server header,
 * error bodies in the negotiated media type, 405 with Allow, and empty collections as 200.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { COMPUTE_CATEGORY, startHarness, type Harness } from '../support/harness';

const JSON_TYPE = 'application/occi+json';
const OFFERED = ['text/plain', 'text/occi', 'application/occi+json', 'text/uri-list'];

let h: Harness;
let server: http.Server;
let port: number;
let vm: string;

beforeAll(async () => {
  h = await startHarness();
  server = http.createServer(h.occitan.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  const made = await h.http.post('/compute/').set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY);
  expect(made.status).toBe(201);
  vm = new URL(made.headers.location as string).pathname;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await h.close();
});

/** A request exactly as written: no header added (supertest adds a Content-Type to any string body). */
function raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const allowOf = (header: unknown): string[] => String(header).split(',').map((m) => m.trim()).sort();

describe('406 Not Acceptable', () => {
  test.each(['/-/', '/compute/', 'ENTITY'])('Accept: application/xml on %s: 406 in text/plain naming what is offered', async (path) => {
    const r = await h.http.get(path === 'ENTITY' ? vm : path).set('Accept', 'application/xml');
    expect(r.status).toBe(406);
    expect(r.headers['content-type']).toMatch(/^text\/plain(;|$)/);
    expect(r.text).toContain('application/xml');
    for (const t of OFFERED) expect(r.text).toContain(t);
  });

  test('a weighted Accept falls back to an offered type', async () => {
    const r = await h.http.get('/-/').set('Accept', 'application/xml, text/occi;q=0.5');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/occi(;|$)/);
    expect(r.text).toBe('OK');
  });

  test('every response advertises the offered types in Accept', async () => {
    const r = await h.http.get('/-/');
    for (const t of OFFERED) expect(r.headers['accept']).toContain(t);
  });
});

describe('text/uri-list renders listings only', () => {
  test.each([
    ['the query interface', '/-/'],
    ['an entity', 'ENTITY'],
  ])('on %s: 400 (not 406), message in text/plain', async (_label, path) => {
    const r = await h.http.get(path === 'ENTITY' ? vm : path).set('Accept', 'text/uri-list');
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toMatch(/^text\/plain(;|$)/);
    expect(r.text).toContain('text/uri-list');
  });

  test('on a kind collection: 200, one absolute URI per line', async () => {
    const second = await h.http.post('/compute/').set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY);
    expect(second.status).toBe(201);
    const vm2 = new URL(second.headers.location as string).pathname;
    const r = await h.http.get('/compute/').set('Host', 'occi.example.com').set('Accept', 'text/uri-list');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/uri-list(;|$)/);
    expect(r.text.split('\r\n').filter((l) => l !== '').sort()).toEqual([`http://occi.example.com${vm}`, `http://occi.example.com${vm2}`].sort());
    expect(r.text.endsWith('\r\n')).toBe(true);
    expect((await h.http.delete(vm2)).status).toBe(200);
  });
});

describe('415 Unsupported Media Type', () => {
  test('Content-Type: application/xml with a body: 415 naming it, nothing stored', async () => {
    const before = await h.seq();
    const r = await h.http.post('/compute/').set('Content-Type', 'application/xml').send('<compute cores="2"/>');
    expect(r.status).toBe(415);
    expect(r.text).toContain('application/xml');
    expect(await h.seq()).toBe(before);
  });

  test('a body without Content-Type: 415 asking for one, nothing stored', async () => {
    const before = await h.seq();
    const body = `Category: ${COMPUTE_CATEGORY}\n`;
    const r = await raw('POST', '/compute/', { 'Content-Length': String(Buffer.byteLength(body)) }, body);
    expect(r.status).toBe(415);
    expect(r.text).toContain('Content-Type');
    expect(await h.seq()).toBe(before);
  });

  test('headers only, no body and no Content-Type: read as text/occi (201)', async () => {
    const r = await raw('POST', '/compute/', { Category: COMPUTE_CATEGORY, 'X-OCCI-Attribute': 'occi.compute.cores=3', 'Content-Length': '0' });
    expect(r.status).toBe(201);
    const loc = new URL(r.headers.location!).pathname;
    const got = await h.http.get(loc).set('Accept', JSON_TYPE);
    expect(got.body.attributes['occi.compute.cores']).toBe(3);
    expect((await h.http.delete(loc)).status).toBe(200);
  });
});

describe('OCCI versions', () => {
  test.each(['foo OCCI/1.3', 'foo OCCI/2.0'])('User-Agent: %s: 501 naming both versions, nothing stored', async (ua) => {
    const before = await h.seq();
    const r = await h.http.post('/compute/').set('User-Agent', ua).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY);
    expect(r.status).toBe(501);
    expect(r.text).toContain('OCCI/1.2');
    expect(r.text).toContain(ua.split(' ')[1]!);
    expect(await h.seq()).toBe(before);
  });

  test.each(['foo OCCI/1.1', 'foo OCCI/1.2', 'curl/8.0'])('User-Agent: %s is served', async (ua) => {
    const r = await h.http.get('/-/').set('User-Agent', ua);
    expect(r.status).toBe(200);
  });

  test.each([
    ['a success', () => h.http.get('/-/')],
    ['a 404', () => h.http.get('/compute/nope')],
    ['a 406', () => h.http.get('/-/').set('Accept', 'application/xml')],
    ['a 501', () => h.http.get('/-/').set('User-Agent', 'foo OCCI/1.3')],
  ])('the Server header names OCCI/1.2 on %s', async (_label, send) => {
    const r = await send();
    expect(r.headers['server']).toMatch(/(^|\s)OCCI\/1\.2(\s|$)/);
  });
});

describe('error bodies in the negotiated media type', () => {
  test('application/occi+json: {"status", "error"}', async () => {
    const r = await h.http.get('/compute/nope').set('Accept', JSON_TYPE);
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toMatch(/^application\/occi\+json(;|$)/);
    expect(r.body).toEqual({ status: 404, error: expect.stringContaining('/compute/nope') });
  });

  test('text/occi: the message in X-OCCI-Error', async () => {
    const r = await h.http.get('/compute/nope').set('Accept', 'text/occi');
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toMatch(/^text\/occi(;|$)/);
    expect(r.headers['x-occi-error']).toContain('/compute/nope');
  });

  test('text/plain: the message in the body', async () => {
    const r = await h.http.get('/compute/nope');
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toMatch(/^text\/plain(;|$)/);
    expect(r.text).toContain('/compute/nope');
  });

  test('a 400 in JSON names the offending attribute', async () => {
    const r = await h.http.post('/compute/').set('Accept', JSON_TYPE).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY).set('X-OCCI-Attribute', 'occi.compute.cores="many"');
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ status: 400, error: expect.stringContaining('occi.compute.cores') });
  });
});

describe('405 Method Not Allowed, with Allow', () => {
  test.each([
    ['PUT on a kind collection', 'put', '/compute/', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST']],
    ['PATCH on a kind collection', 'patch', '/compute/', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST']],
    ['PATCH on an entity', 'patch', 'ENTITY', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']],
    ['POST on an unbound path', 'post', '/vms/', ['DELETE', 'GET', 'HEAD', 'OPTIONS']],
    ['PATCH on the query interface', 'patch', '/-/', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']],
  ] as const)('%s', async (_label, method, path, allow) => {
    const before = await h.seq();
    const target = path === 'ENTITY' ? vm : path;
    const r = await h.http[method](target).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY);
    expect(r.status).toBe(405);
    expect(allowOf(r.headers['allow'])).toEqual([...allow]);
    expect(r.text).toContain(method.toUpperCase());
    expect(await h.seq()).toBe(before);
  });
});

describe('an empty collection is 200 with an empty rendering (never 204)', () => {
  test.each([
    ['text/plain', undefined, ''],
    ['text/uri-list', 'text/uri-list', ''],
    ['text/occi', 'text/occi', 'OK'],
  ])('%s', async (_label, accept, body) => {
    const req = h.http.get('/network/');
    if (accept) req.set('Accept', accept);
    const r = await req;
    expect(r.status).toBe(200);
    expect(r.text).toBe(body);
    expect(r.headers['x-occi-location']).toBeUndefined();
    expect(r.headers['x-occi-total']).toBe('0');
  });

  test('application/occi+json: {"resources": []}', async () => {
    const r = await h.http.get('/network/').set('Accept', JSON_TYPE);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ resources: [] });
  });

  test('an empty mixin collection and a page past the end are 200 too', async () => {
    const mixin = await h.http.get('/mixins/ssh_key/').set('Accept', JSON_TYPE);
    expect(mixin.status).toBe(200);
    expect(mixin.body).toEqual({ resources: [] });
    const page = await h.http.get('/compute/?page=5&number=10').set('Accept', 'text/occi');
    expect(page.status).toBe(200);
    expect(page.text).toBe('OK');
    expect(page.headers['x-occi-location']).toBeUndefined();
    expect(page.headers['x-occi-total']).toBe('1');
  });
});
