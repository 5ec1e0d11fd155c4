/**
 * HTTP deviations an OCCI compliance audit found (occi-spec.md §3): a location without its trailing '/'
 * (curl users type `/compute`), OPTIONS with Allow on every path (and OPTIONS in every 405's Allow), no
 * action on the query interface and one `action` key only, no Link header / `links` in a request on a link,
 * and a resource template's defaults applied when the template is added or replaces another (§2.6).
 */
import { tokenFixture, startTokenHarness } from '../support/auth';
import { COMPUTE_CATEGORY, INFRA, startHarness, type Harness } from '../support/harness';

const J = 'application/occi+json';
const COMPUTE = INFRA + 'compute';
const TPL = 'http://example.com/tpl#';
const TAG = 'tag; scheme="http://example.com/tags#"; class="mixin"; location="/tags/"';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  for (const path of ['/network/n1', '/compute/c1', '/compute/c2']) {
    const kind = path.split('/')[1]!;
    const r = await h.http.put(path).set('Content-Type', J).send(JSON.stringify({ kind: INFRA + kind, id: path.split('/')[2] }));
    expect(r.status).toBe(201);
  }
  expect((await h.http.post('/-/').set('Content-Type', 'text/occi').set('Category', TAG)).status).toBe(200);
  expect((await h.http.post('/tags/').set('Content-Type', 'text/occi').set('X-OCCI-Location', '/compute/c1')).status).toBe(200);
});
afterAll(async () => h.close());

const getJson = (path: string) => h.http.get(path).set('Accept', J);
const postJson = (path: string, body: unknown) => h.http.post(path).set('Content-Type', J).set('Accept', J).send(JSON.stringify(body));
const allowOf = (header: unknown): string[] => String(header).split(',').map((m) => m.trim()).sort();
const pathOf = (url: unknown): string => new URL(String(url)).pathname;
const ids = (body: { resources?: Array<{ id: string }> }): string[] => (body.resources ?? []).map((r) => r.id).sort();

describe('a location without its trailing slash is the collection', () => {
  test('GET /compute: the listing of /compute/, with Content-Location naming it; HEAD too', async () => {
    const slash = await getJson('/compute/');
    const bare = await getJson('/compute');
    expect(bare.status).toBe(200);
    expect(ids(bare.body)).toEqual(ids(slash.body));
    expect(ids(bare.body)).toEqual(['c1', 'c2']);
    expect(pathOf(bare.headers['content-location'])).toBe('/compute/');
    expect(slash.headers['content-location']).toBeUndefined();
    const head = await h.http.head('/compute').set('Accept', J);
    expect(head.status).toBe(200);
  });

  test('text/uri-list on /compute lists like /compute/', async () => {
    const r = await h.http.get('/compute').set('Accept', 'text/uri-list');
    expect(r.status).toBe(200);
    expect(r.text.trim().split(/\r?\n/).map(pathOf).sort()).toEqual(['/compute/c1', '/compute/c2']);
  });

  test('a user mixin location without its slash: the members', async () => {
    const r = await getJson('/tags');
    expect(r.status).toBe(200);
    expect(ids(r.body)).toEqual(['c1']);
  });

  test('POST /compute creates in the compute collection; PUT /compute is the kind collection\'s 405', async () => {
    const made = await postJson('/compute', { kind: COMPUTE, id: 'bare' });
    expect(made.status).toBe(201);
    expect(pathOf(made.headers.location)).toBe('/compute/bare');
    const before = await h.seq();
    const put = await h.http.put('/compute').set('Content-Type', J).set('Accept', J).send(JSON.stringify({ kind: COMPUTE }));
    expect(put.status).toBe(405);
    expect(allowOf(put.headers.allow)).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST']);
    expect(await h.seq()).toBe(before);
    expect((await h.http.delete('/compute/bare')).status).toBe(200);
  });

  test('no entity can be made at a location without its slash (an inline link at /network): 400, nothing made', async () => {
    const before = await h.seq();
    const r = await postJson('/compute/', {
      kind: COMPUTE, id: 'hides',
      links: [{ kind: INFRA + 'networkinterface', location: '/network', target: { location: '/network/n1', kind: INFRA + 'network' } }],
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toContain('/network/');
    expect(await h.seq()).toBe(before);
  });

  test('an entity made before a location bound its path stays the entity; the collection keeps its slash form', async () => {
    expect((await h.http.put('/early').set('Content-Type', J).send(JSON.stringify({ kind: COMPUTE, id: 'early' }))).status).toBe(201);
    const mixin = await postJson('/-/', { mixins: [{ scheme: 'http://example.com/tags#', term: 'early', location: '/early/' }] });
    expect(mixin.status).toBe(200);
    const entity = await getJson('/early');
    expect(entity.status).toBe(200);
    expect(entity.body).toMatchObject({ kind: COMPUTE, id: 'early' });
    expect(entity.headers['content-location']).toBeUndefined();
    expect(allowOf((await h.http.options('/early')).headers.allow)).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
    const members = await getJson('/early/');
    expect(members.status).toBe(200);
    expect(ids(members.body)).toEqual([]);
  });

  test('a path that is no location without its slash is still an entity path: 404', async () => {
    expect((await getJson('/vms')).status).toBe(404);
  });
});

describe('OPTIONS: 204 with Allow on every path', () => {
  test.each([
    ['/compute/', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST']],
    ['/compute', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST']],
    ['/compute/c1', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']],
    ['/compute/absent', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']],
    ['/tags/', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']],
    ['/vms/', ['DELETE', 'GET', 'HEAD', 'OPTIONS']],
    ['/', ['DELETE', 'GET', 'HEAD', 'OPTIONS']],
    ['/-/', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']],
    ['/-', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']],
    ['/.well-known/org/ogf/occi/-/', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']],
    ['/-/providers', ['GET', 'HEAD', 'OPTIONS']],
  ])('OPTIONS %s', async (path, allow) => {
    const before = await h.seq();
    // An Accept no rendering offers does not matter: OPTIONS renders nothing.
    const r = await h.http.options(path).set('Accept', 'application/xml');
    expect(r.status).toBe(204);
    expect(r.text ?? '').toBe('');
    expect(r.headers['content-length'] ?? '0').toBe('0');
    expect(allowOf(r.headers.allow)).toEqual(allow);
    expect(await h.seq()).toBe(before);
  });

  test.each([
    ['patch', '/compute/c1', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']],
    ['put', '/compute/', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST']],
    ['patch', '/tags/', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']],
    ['post', '/vms/', ['DELETE', 'GET', 'HEAD', 'OPTIONS']],
    ['patch', '/-/', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']],
    ['post', '/-/providers', ['GET', 'HEAD', 'OPTIONS']],
  ] as const)('every 405 lists OPTIONS: %s %s', async (method, path, allow) => {
    const before = await h.seq();
    const r = await h.http[method](path).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY);
    expect(r.status).toBe(405);
    expect(allowOf(r.headers.allow)).toEqual(allow);
    expect(await h.seq()).toBe(before);
  });

  test('OPTIONS needs credentials like every method (no CORS; the method list tells what a path is)', async () => {
    const t = tokenFixture();
    const alice = t.add('alice', 'acme', 'member');
    const authed = await startTokenHarness(t);
    try {
      const anon = await authed.http.options('/compute/');
      expect(anon.status).toBe(401);
      expect(anon.headers.allow).toBeUndefined();
      const r = await authed.http.options('/compute/').set('X-Auth-Token', alice);
      expect(r.status).toBe(204);
      expect(allowOf(r.headers.allow)).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST']);
    } finally {
      await authed.close();
    }
  });
});

describe('?action where it is not defined, or named twice', () => {
  test('POST /-/?action=start: 400 naming that the query interface has no actions, no mixin made', async () => {
    const before = await h.seq();
    const r = await h.http.post('/-/?action=start').set('Content-Type', 'text/occi')
      .set('Category', 'start2; scheme="http://example.com/tags#"; class="mixin"; location="/start2/"');
    expect(r.status).toBe(400);
    expect(r.text).toContain('has no actions');
    expect(await h.seq()).toBe(before);
    expect((await getJson('/start2/')).status).toBe(404);
  });

  test.each(['/compute/c2', '/compute/', '/tags/'])('POST %s?action=start&action=stop: 400 naming the repeated key, nothing run', async (path) => {
    const before = await h.seq();
    const r = await h.http.post(`${path}?action=start&action=stop`).set('Accept', J);
    expect(r.status).toBe(400);
    expect(r.body.error).toContain('repeats the key "action"');
    expect(await h.seq()).toBe(before);
  });
});

describe('a link has no links', () => {
  let link = '';
  beforeAll(async () => {
    const r = await postJson('/networkinterface/', { kind: INFRA + 'networkinterface', source: { location: '/compute/c1' }, target: { location: '/network/n1', kind: INFRA + 'network' } });
    expect(r.status).toBe(201);
    link = new URL(r.headers.location as string).pathname;
  });

  test('POST on a link with a Link header: 400 naming it, nothing changed', async () => {
    const before = await h.seq();
    const r = await h.http.post(link).set('Content-Type', 'text/occi').set('X-OCCI-Attribute', 'occi.core.title="x"')
      .set('Link', `</network/n1>; rel="${INFRA}network"; category="${INFRA}networkinterface"`);
    expect(r.status).toBe(400);
    expect(r.text).toContain('Link header');
    expect(await h.seq()).toBe(before);
  });

  test('POST on a link with a JSON links member: 400 naming it, nothing changed', async () => {
    const before = await h.seq();
    const r = await postJson(link, { attributes: { 'occi.core.title': 'x' }, links: [{ kind: INFRA + 'networkinterface', target: { location: '/network/n1', kind: INFRA + 'network' } }] });
    expect(r.status).toBe(400);
    expect(r.body.error).toContain('"links"');
    expect(await h.seq()).toBe(before);
  });

  test('creating a link with a Link header: 400, nothing made', async () => {
    const before = await h.seq();
    const r = await h.http.post('/networkinterface/').set('Content-Type', 'text/occi')
      .set('Category', `networkinterface; scheme="${INFRA}"; class="kind"`)
      .set('X-OCCI-Attribute', 'occi.core.source="/compute/c2", occi.core.target="/network/n1"')
      .set('Link', `</network/n1>; rel="${INFRA}network"; category="${INFRA}networkinterface"`);
    expect(r.status).toBe(400);
    expect(r.text).toContain('a link has no links');
    expect(await h.seq()).toBe(before);
  });

  test('a POST on the link without links still works', async () => {
    const r = await postJson(link, { attributes: { 'occi.core.title': 'eth' } });
    expect(r.status).toBe(200);
    expect(r.body.title).toBe('eth');
  });
});

describe('resource templates set their attributes when added or swapped (occi-spec §2.6)', () => {
  const num = (def: number) => ({ type: 'number', mutable: true, default: def });
  beforeAll(async () => {
    const r = await postJson('/-/?scope=provider', {
      mixins: [
        { term: 'small', scheme: TPL, location: '/tpl/small/', depends: [INFRA + 'resource_tpl'], applies: [COMPUTE], attributes: { 'occi.compute.cores': num(1), 'occi.compute.memory': num(2) } },
        { term: 'large', scheme: TPL, location: '/tpl/large/', depends: [INFRA + 'resource_tpl'], applies: [COMPUTE], attributes: { 'occi.compute.cores': num(8), 'occi.compute.memory': num(32) } },
      ],
    });
    expect(r.status).toBe(200);
  });
  const attrs = async (path: string): Promise<{ mixins: string[]; cores: unknown; memory: unknown }> => {
    const b = (await getJson(path)).body;
    return { mixins: (b.mixins as string[]).filter((m) => m.startsWith(TPL)), cores: b.attributes['occi.compute.cores'], memory: b.attributes['occi.compute.memory'] };
  };

  test('small to large on the entity: large replaces small and sets cores and memory', async () => {
    expect((await postJson('/compute/', { kind: COMPUTE, id: 't1', mixins: [TPL + 'small'] })).status).toBe(201);
    expect(await attrs('/compute/t1')).toEqual({ mixins: [TPL + 'small'], cores: 1, memory: 2 });
    const r = await postJson('/compute/t1', { mixins: [TPL + 'large'] });
    expect(r.status).toBe(200);
    expect(await attrs('/compute/t1')).toEqual({ mixins: [TPL + 'large'], cores: 8, memory: 32 });
  });

  test('values the same request gives win over the template\'s', async () => {
    const r = await postJson('/compute/t1', { mixins: [TPL + 'small'], attributes: { 'occi.compute.cores': 3 } });
    expect(r.status).toBe(200);
    expect(await attrs('/compute/t1')).toEqual({ mixins: [TPL + 'small'], cores: 3, memory: 2 });
  });

  test('a template the entity keeps resets nothing', async () => {
    expect((await postJson('/compute/t1', { attributes: { 'occi.compute.memory': 4 } })).status).toBe(200);
    expect((await postJson('/compute/t1', { mixins: [TPL + 'small'] })).status).toBe(200);
    expect(await attrs('/compute/t1')).toEqual({ mixins: [TPL + 'small'], cores: 3, memory: 4 });
  });

  test('via the mixin collection (POST /tpl/large/ with the entity): the same', async () => {
    const r = await h.http.post('/tpl/large/').set('Content-Type', 'text/occi').set('X-OCCI-Location', '/compute/t1');
    expect(r.status).toBe(200);
    expect(await attrs('/compute/t1')).toEqual({ mixins: [TPL + 'large'], cores: 8, memory: 32 });
  });

  test('removing the template leaves the values', async () => {
    expect((await h.http.delete('/tpl/large/').set('Content-Type', 'text/occi').set('X-OCCI-Location', '/compute/t1')).status).toBe(200);
    expect(await attrs('/compute/t1')).toEqual({ mixins: [], cores: 8, memory: 32 });
  });

  test('a template added to a compute that had none sets its values', async () => {
    expect((await postJson('/compute/c2', { attributes: { 'occi.compute.cores': 2 } })).status).toBe(200);
    expect((await postJson('/compute/c2', { mixins: [TPL + 'small'] })).status).toBe(200);
    expect(await attrs('/compute/c2')).toEqual({ mixins: [TPL + 'small'], cores: 1, memory: 2 });
  });
});

test('the query interface without its slash (/-) is the query interface', async () => {
  const r = await getJson('/-');
  expect(r.status).toBe(200);
  expect(r.body.kinds.some((k: { term: string }) => k.term === 'compute')).toBe(true);
});

test('no entity at /- (PUT there is the query interface\'s, an inline link there is refused)', async () => {
  const before = await h.seq();
  const r = await postJson('/compute/', {
    kind: COMPUTE, id: 'dash',
    links: [{ kind: INFRA + 'networkinterface', location: '/-', target: { location: '/network/n1', kind: INFRA + 'network' } }],
  });
  expect(r.status).toBe(400);
  expect(r.body.error).toContain('reserved for the query interface');
  expect(await h.seq()).toBe(before);
});
