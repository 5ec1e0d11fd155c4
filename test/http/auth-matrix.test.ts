/**
 * The authorisation matrix (issue 4, acceptance): each verb on each kind of path (entity, action, kind
 * collection, mixin collection, unbound `/`, `/-/`) as a member of tenant A (acme), an admin of tenant A,
 * a member of tenant B (beta), the global admin in its own tenant, the global admin naming tenant A, and
 * an anonymous caller: the exact status of each cell (DESIGN.md error table: 401 without credentials, 403
 * for category management without global admin, another tenant's object a 404, never a 403).
 *
 * Tenant B never learns that A's ids exist: wherever B (or the unnamed global admin) touches one of A's
 * paths, the same request on a truly missing path of the same length gives the same status, headers and
 * body with the path substituted; every refused request leaves the store unchanged; and after every cell
 * by a caller outside A, A's entities, mixin membership and user mixin are intact.
 */
import type { Test } from 'supertest';
import { startTokenHarness, tokenFixture } from '../support/auth';
import { COMPUTE_CATEGORY, INFRA, type Harness } from '../support/harness';

const WHO = ['memberA', 'adminA', 'memberB', 'root', 'rootA', 'anon'] as const;
type Who = (typeof WHO)[number];
type Row = readonly [memberA: number, adminA: number, memberB: number, root: number, rootA: number, anon: number];
type Method = 'get' | 'head' | 'post' | 'put' | 'delete';

let h: Harness;
const headers: Record<Who, Record<string, string>> = { memberA: {}, adminA: {}, memberB: {}, root: {}, rootA: {}, anon: {} };
const CHALLENGE = 'Basic realm="occitan", Bearer realm="occitan"';
const TAGS = 'http://example.com/tags#';
const tag = (term: string, location?: string) => `${term}; scheme="${TAGS}"; class="mixin"${location ? `; location="${location}"` : ''}`;
const ROBOT = 'robot; scheme="http://example.com/robots#"; class="kind"';
const DRONE = 'drone; scheme="http://example.com/robots#"; class="kind"; location="/drone/"; rel="http://schemas.ogf.org/occi/core#resource"';
const PROVIDER_UPDATE = JSON.stringify({ providers: [{ OCCI_ID: `${INFRA}compute`, Provider: { local: ['dummy'], remote: [] } }] });

beforeAll(async () => {
  const t = tokenFixture();
  headers.memberA = { 'X-Auth-Token': t.add('alice', 'acme', 'member') };
  headers.adminA = { 'X-Auth-Token': t.add('carol', 'acme', 'admin') };
  headers.memberB = { 'X-Auth-Token': t.add('bob', 'beta', 'member') };
  const root = t.add('root', 'default', 'admin', true);
  headers.root = { 'X-Auth-Token': root };
  headers.rootA = { 'X-Auth-Token': root, 'X-Tenant-Name': 'acme' };
  h = await startTokenHarness(t);
});
afterAll(async () => h.close());

const send = (method: Method, path: string, who: Who): Test => h.http[method](path).set(headers[who]);
const asRoot = (method: Method, path: string, tenant: string): Test => send(method, path, 'root').set('X-Tenant-Name', tenant);
const occi = (r: Test): Test => r.set('Content-Type', 'text/occi');

/** A fresh world: tenant A owns /compute/a1 (in /tags/, A's user mixin) and /compute/a2; the admin kind robot exists. */
async function reset(): Promise<void> {
  for (const tenant of ['acme', 'beta', 'default']) {
    expect((await asRoot('delete', '/', tenant)).status).toBe(200);
    for (const term of ['tag', 'mine']) {
      const r = await occi(asRoot('delete', '/-/', tenant)).set('Category', tag(term));
      expect([200, 404]).toContain(r.status);
    }
  }
  expect([200, 404]).toContain((await occi(asRoot('delete', '/-/', 'default')).set('Category', 'drone; scheme="http://example.com/robots#"; class="kind"')).status);
  expect([200, 409]).toContain((await occi(asRoot('post', '/-/', 'default')).set('Category', `${ROBOT}; location="/robot/"; rel="http://schemas.ogf.org/occi/core#resource"`)).status);
  for (const id of ['a1', 'a2']) {
    const r = await occi(send('put', `/compute/${id}`, 'memberA')).set('Category', COMPUTE_CATEGORY).set('X-OCCI-Attribute', `occi.core.title="A ${id}"`);
    expect(r.status).toBe(201);
  }
  expect((await occi(send('post', '/-/', 'memberA')).set('Category', tag('tag', '/tags/'))).status).toBe(200);
  expect((await occi(send('post', '/tags/', 'memberA')).set('X-OCCI-Location', '/compute/a1')).status).toBe(200);
}

const uriList = async (path: string, who: Who): Promise<string[]> => {
  const r = await send('get', path, who).set('Accept', 'text/uri-list');
  expect(r.status).toBe(200);
  return r.text.split(/\r?\n/).filter(Boolean).map((u) => new URL(u).pathname).sort();
};

/** A's world as reset() left it, seen by A. */
async function expectAIntact(): Promise<void> {
  const a1 = await send('get', '/compute/a1', 'memberA').set('Accept', 'application/occi+json');
  expect(a1.status).toBe(200);
  expect(a1.body.attributes['occi.core.title']).toBe('A a1');
  expect(a1.body.attributes['occi.compute.state']).toBe('active');
  expect(await uriList('/compute/', 'memberA')).toEqual(['/compute/a1', '/compute/a2']);
  expect(await uriList('/tags/', 'memberA')).toEqual(['/compute/a1']);
}

interface Cell {
  name: string;
  method: Method;
  path: string;
  /** Headers and body of the request. */
  prep?: (r: Test) => Test;
  expected: Row;
  /** The same request on something that exists for nobody, and the [missing, A's] strings to swap. */
  twin?: { path?: string; prep?: (r: Test) => Test; swap: readonly [string, string] };
  /** The 403's message, when not "… needs a global admin". */
  denied?: RegExp;
  /** What a 2xx shows (listings as the caller sees them). */
  check?: (who: Who) => Promise<void>;
}

const aSees = (who: Who): boolean => who === 'memberA' || who === 'adminA' || who === 'rootA';
const listsA = (path: string, ofA: string[]) => async (who: Who): Promise<void> => {
  expect(await uriList(path, who)).toEqual(aSees(who) ? ofA : []);
};
const ENTITY_TWIN = { path: '/compute/zz', swap: ['/compute/zz', '/compute/a1'] } as const;
const TAGS_TWIN = { path: '/nope/', swap: ['/nope/', '/tags/'] } as const;
const title = (r: Test): Test => occi(r).set('X-OCCI-Attribute', 'occi.core.title="changed"');
const put = (r: Test): Test => occi(r).set('Category', COMPUTE_CATEGORY).set('X-OCCI-Attribute', 'occi.core.title="put"');

const CELLS: Cell[] = [
  // --- an entity of tenant A ---
  { name: 'GET entity', method: 'get', path: '/compute/a1', expected: [200, 200, 404, 404, 200, 401], twin: ENTITY_TWIN },
  { name: 'HEAD entity', method: 'head', path: '/compute/a1', expected: [200, 200, 404, 404, 200, 401], twin: ENTITY_TWIN },
  { name: 'POST entity (partial update)', method: 'post', path: '/compute/a1', prep: title, expected: [200, 200, 404, 404, 200, 401], twin: ENTITY_TWIN },
  // Outside A, a PUT creates the caller's own /compute/a1, exactly as on a free path.
  { name: 'PUT entity', method: 'put', path: '/compute/a1', prep: put, expected: [200, 200, 201, 201, 200, 401] },
  { name: 'DELETE entity', method: 'delete', path: '/compute/a1', expected: [200, 200, 404, 404, 200, 401], twin: ENTITY_TWIN },
  // --- an action on it ---
  { name: 'POST action on the entity', method: 'post', path: '/compute/a1?action=stop', prep: occi, expected: [200, 200, 404, 404, 200, 401], twin: { path: '/compute/zz?action=stop', swap: ENTITY_TWIN.swap } },
  // --- a kind collection ---
  { name: 'GET kind collection', method: 'get', path: '/compute/', expected: [200, 200, 200, 200, 200, 401], check: listsA('/compute/', ['/compute/a1', '/compute/a2']) },
  { name: 'HEAD kind collection', method: 'head', path: '/compute/', expected: [200, 200, 200, 200, 200, 401] },
  { name: 'POST kind collection (create)', method: 'post', path: '/compute/', prep: (r) => occi(r).set('Category', COMPUTE_CATEGORY), expected: [201, 201, 201, 201, 201, 401] },
  { name: 'PUT kind collection', method: 'put', path: '/compute/', prep: put, expected: [405, 405, 405, 405, 405, 401] },
  { name: 'DELETE kind collection', method: 'delete', path: '/compute/', expected: [200, 200, 200, 200, 200, 401] },
  { name: 'POST action on the kind collection', method: 'post', path: '/compute/?action=stop', prep: occi, expected: [200, 200, 200, 200, 200, 401] },
  // --- tenant A's user mixin collection ---
  { name: 'GET mixin collection', method: 'get', path: '/tags/', expected: [200, 200, 404, 404, 200, 401], twin: TAGS_TWIN, check: listsA('/tags/', ['/compute/a1']) },
  { name: 'HEAD mixin collection', method: 'head', path: '/tags/', expected: [200, 200, 404, 404, 200, 401], twin: TAGS_TWIN },
  // Outside A, /tags/ is an unbound path, where POST and PUT are not allowed: as on any free path.
  { name: 'POST mixin collection (associate)', method: 'post', path: '/tags/', prep: (r) => occi(r).set('X-OCCI-Location', '/compute/a2'), expected: [200, 200, 405, 405, 200, 401], twin: TAGS_TWIN },
  { name: 'PUT mixin collection (replace members)', method: 'put', path: '/tags/', prep: (r) => occi(r).set('X-OCCI-Location', '/compute/a2'), expected: [200, 200, 405, 405, 200, 401], twin: TAGS_TWIN },
  // Outside A, DELETE /tags/ deletes the caller's own entities below /tags/: none.
  { name: 'DELETE mixin collection (disassociate)', method: 'delete', path: '/tags/', expected: [200, 200, 200, 200, 200, 401], twin: TAGS_TWIN },
  // --- the unbound root ---
  { name: 'GET /', method: 'get', path: '/', expected: [200, 200, 200, 200, 200, 401], check: listsA('/', ['/compute/a1', '/compute/a2']) },
  { name: 'DELETE /', method: 'delete', path: '/', expected: [200, 200, 200, 200, 200, 401] },
  // --- the query interface ---
  { name: 'GET /-/', method: 'get', path: '/-/', expected: [200, 200, 200, 200, 200, 401], check: async (who) => {
    const r = await send('get', '/-/', who).set('Accept', 'application/occi+json');
    const ids = (r.body.mixins as Array<{ scheme: string; term: string }>).map((m) => m.scheme + m.term);
    expect(ids.includes(`${TAGS}tag`)).toBe(aSees(who));
    expect(ids).toContain(`${INFRA}os_tpl`);
  } },
  { name: 'HEAD /-/', method: 'head', path: '/-/', expected: [200, 200, 200, 200, 200, 401] },
  { name: 'POST /-/ a user mixin', method: 'post', path: '/-/', prep: (r) => occi(r).set('Category', tag('mine', '/mine/')), expected: [200, 200, 200, 200, 200, 401] },
  { name: 'POST /-/ a kind', method: 'post', path: '/-/', prep: (r) => occi(r).set('Category', DRONE), expected: [403, 403, 403, 200, 200, 401] },
  { name: 'PUT /-/ the provider table', method: 'put', path: '/-/', prep: (r) => r.set('Content-Type', 'application/occi+json').send(PROVIDER_UPDATE), expected: [403, 403, 403, 200, 200, 401] },
  { name: "DELETE /-/ tenant A's user mixin", method: 'delete', path: '/-/', prep: (r) => occi(r).set('Category', tag('tag')), expected: [200, 200, 404, 404, 200, 401],
    twin: { prep: (r) => occi(r).set('Category', tag('gho')), swap: [`${TAGS}gho`, `${TAGS}tag`] } },
  { name: 'DELETE /-/ an admin-defined kind', method: 'delete', path: '/-/', prep: (r) => occi(r).set('Category', ROBOT), expected: [403, 403, 403, 200, 200, 401],
    denied: /^http:\/\/example\.com\/robots#robot is a provider-defined kind; only user mixins can be deleted here$/m },
];

test('the matrix covers every kind of path with every verb it has', () => {
  expect(CELLS.length).toBe(26);
  expect(CELLS.length * WHO.length).toBe(156);
});

const SAFE = new Set<Method>(['get', 'head']);
let dirty = true;

const cases = CELLS.flatMap((cell) => WHO.map((who, i) => [cell.name, who, cell, cell.expected[i]!] as const));

test.each(cases)('%s as %s', async (_name, who, cell, status) => {
  if (dirty) await reset();
  dirty = false;
  const before = await h.seq();
  const prep = cell.prep ?? ((r: Test) => r);
  const r = await prep(send(cell.method, cell.path, who));
  expect({ status: r.status, body: r.status === status ? '' : r.text }).toEqual({ status, body: '' });
  if (status >= 400 || SAFE.has(cell.method)) {
    expect(await h.seq()).toBe(before);
  } else {
    dirty = true;
  }
  if (status === 401) {
    expect(r.headers['www-authenticate']).toBe(CHALLENGE);
    if (cell.method !== 'head') expect(r.text).toBe('credentials are required\n');
  }
  if (status === 403) expect(r.text).toMatch(cell.denied ?? /needs a global admin$/m);
  if (status === 403 || status === 404) expect(r.text ?? '').not.toMatch(/A a1|A a2/);
  if (r.status < 300 && cell.check) await cell.check(who);
  if (cell.twin && (who === 'memberB' || who === 'root')) {
    // The same request on something that exists for nobody: indistinguishable but for the name.
    const twinPrep = cell.twin.prep ?? prep;
    const t = await twinPrep(send(cell.method, cell.twin.path ?? cell.path, who));
    const [missing, real] = cell.twin.swap;
    const shape = (x: typeof r, swap: boolean) => ({
      status: x.status,
      type: x.headers['content-type'],
      length: x.headers['content-length'],
      allow: x.headers.allow,
      text: swap ? (x.text ?? '').split(missing).join(real) : x.text ?? '',
    });
    expect(shape(t, true)).toEqual(shape(r, false));
  }
  if (who === 'memberB' || who === 'root' || who === 'anon') await expectAIntact();
});

test('outside tenant A, a PUT at one of its paths made the caller its own entity, and A kept its own', async () => {
  await reset();
  const b = await put(send('put', '/compute/a1', 'memberB'));
  expect(b.status).toBe(201);
  expect(new URL(b.headers.location as string).pathname).toBe('/compute/a1');
  expect(await uriList('/compute/', 'memberB')).toEqual(['/compute/a1']);
  const mine = await send('get', '/compute/a1', 'memberB').set('Accept', 'application/occi+json');
  expect(mine.body.attributes['occi.core.title']).toBe('put');
  await expectAIntact();
  dirty = true;
});
