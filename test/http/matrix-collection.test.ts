/**
 * The operation matrix (occi-spec.md §3.4), collection rows: kind collection (GET, POST create, POST
 * ?action, PUT = 405, DELETE), mixin collection (GET, POST associate, POST ?action, PUT replace, DELETE
 * disassociate) and the query interface (GET, POST user mixin, DELETE), each in text/plain, text/occi and
 * application/occi+json, listings also in text/uri-list. Every media type runs on a server of its own.
 */
import type { Response } from 'supertest';
import type Test from 'supertest/lib/test';
import { startHarness, type Harness } from '../support/harness';

type MT = 'text/plain' | 'text/occi' | 'application/occi+json';
type Line = [string, string];
type Attrs = Record<string, string | number | boolean>;

const TYPES: MT[] = ['text/plain', 'text/occi', 'application/occi+json'];
const J = 'application/occi+json';
const URI = 'text/uri-list';
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const COMPUTE = INFRA + 'compute';
const ACT = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
const APP = 'http://example.com/occi/app#';
const TAG = 'http://example.com/occi/tags#tag';
const HOST = /http:\/\/127\.0\.0\.1:\d+/g;

// --- neutral requests → renderings ---------------------------------------------------------------
const quoted = (v: string | number | boolean): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));
const category = (id: string, cls: string, extra = ''): string => `${id.slice(id.lastIndexOf('#') + 1)}; scheme="${id.slice(0, id.lastIndexOf('#') + 1)}"; class="${cls}"${extra}`;
const term = (id: string): string => id.slice(id.lastIndexOf('#') + 1);
const scheme = (id: string): string => id.slice(0, id.lastIndexOf('#') + 1);

function send(req: Test, type: MT, lines: Line[], json: unknown): Test {
  req.set('Content-Type', type).set('Accept', type);
  if (type === J) return req.send(JSON.stringify(json));
  if (type === 'text/plain') return req.send(lines.map(([n, v]) => `${n}: ${v}\n`).join(''));
  const byName = new Map<string, string[]>();
  for (const [n, v] of lines) byName.set(n, [...(byName.get(n) ?? []), v]);
  for (const [n, vs] of byName) req.set(n, vs.join(', '));
  return req;
}
const attrLines = (a: Attrs): Line[] => Object.entries(a).map(([n, v]): Line => ['X-OCCI-Attribute', `${n}=${quoted(v)}`]);
const sendEntity = (req: Test, type: MT, kind: string, attributes: Attrs): Test =>
  send(req, type, [['Category', category(kind, 'kind')], ...attrLines(attributes)], { kind, attributes });
const sendAction = (req: Test, type: MT, action: string, params: Attrs = {}): Test =>
  send(req, type, [['Category', category(action, 'action')], ...attrLines(params)], { action, attributes: params });
const sendLocations = (req: Test, type: MT, locs: string[]): Test =>
  send(req, type, locs.map((l): Line => ['X-OCCI-Location', l]), { 'X-OCCI-Location': locs });

// --- renderings → neutral reading ----------------------------------------------------------------
function splitList(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = false;
  let angle = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (quote && c === '\\') { cur += c + (v[++i] ?? ''); continue; }
    if (c === '"') quote = !quote;
    else if (!quote && (c === '<' || c === '>')) angle = c === '<';
    else if (!quote && !angle && c === ',') { out.push(cur.trim()); cur = ''; continue; }
    cur += c;
  }
  return cur.trim() === '' ? out : [...out, cur.trim()];
}
function linesOf(res: Response, type: MT): Line[] {
  if (type === 'text/plain') return res.text.split('\n').filter((l) => l.trim() !== '').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim().replace(HOST, '')]);
  expect(res.text).toBe('OK');
  const out: Line[] = [];
  for (const name of ['Category', 'Link', 'X-OCCI-Attribute', 'X-OCCI-Location']) {
    const v = res.headers[name.toLowerCase()] as string | undefined;
    if (v !== undefined) for (const p of splitList(v)) out.push([name, p.replace(HOST, '')]);
  }
  return out;
}
/** The entities of a listing, by name: JSON ids (locations are /kind/<id> here), else the last path segment. */
function names(res: Response, type: MT | typeof URI): string[] {
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe(type);
  if (type === J) return [...(res.body.resources ?? []), ...(res.body.links ?? [])].map((e: { id: string }) => e.id).sort();
  if (type === URI) return res.text.split('\r\n').filter((l) => l !== '').map((l) => l.slice(l.lastIndexOf('/') + 1)).sort();
  const lines = linesOf(res, type);
  expect(lines.every(([n]) => n === 'X-OCCI-Location')).toBe(true);
  return lines.map(([, v]) => v.slice(v.lastIndexOf('/') + 1)).sort();
}
/** The categories of a category collection rendering: `id class location`. */
function categories(res: Response, type: MT): string[] {
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe(type);
  if (type === J) {
    const b = JSON.parse(res.text.replace(HOST, ''));
    // Empty kinds/mixins/actions arrays are omitted (rOCCI-core's minItems: 1).
    return [...(b.kinds ?? []).map((c: { scheme: string; term: string; location?: string }) => `${c.scheme}${c.term} kind ${c.location ?? ''}`),
      ...(b.mixins ?? []).map((c: { scheme: string; term: string; location: string }) => `${c.scheme}${c.term} mixin ${c.location}`),
      ...(b.actions ?? []).map((c: { scheme: string; term: string }) => `${c.scheme}${c.term} action `)].sort();
  }
  return linesOf(res, type).map(([n, v]) => {
    expect(n).toBe('Category');
    const m = /^([^;]+); scheme="([^"]+)"; class="(\w+)"/.exec(v)!;
    return `${m[2]}${m[1]} ${m[3]} ${/location="([^"]+)"/.exec(v)?.[1] ?? ''}`;
  }).sort();
}
function errorOf(res: Response, type: MT): string {
  expect(res.headers['content-type']).toBe(type);
  if (type === J) {
    expect(res.body.status).toBe(res.status);
    return res.body.error;
  }
  if (type === 'text/occi') expect(res.headers['x-occi-error']).toBe(res.text);
  return res.text;
}
function expectOk(res: Response, type: MT): void {
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe(type);
  expect(res.text).toBe(type === J ? '{}' : type === 'text/occi' ? 'OK' : '');
}

describe.each(TYPES)('collections in %s', (type) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    // A kind with no backend (the dummy records its actions) and a provider mixin defining an action.
    const defs = await h.http.post('/-/').set('Content-Type', J).set('Accept', J).send(JSON.stringify({
      kinds: [{ term: 'app', scheme: APP, parent: 'http://schemas.ogf.org/occi/core#resource', location: '/app/', attributes: {}, actions: [] }],
      mixins: [{ term: 'monitored', scheme: APP, location: '/monitored/', depends: [], applies: [], attributes: {}, actions: [APP + 'ping'] }],
      actions: [{ term: 'ping', scheme: APP, attributes: { count: { type: 'number', mutable: true, required: false } } }],
    }));
    expect(defs.status).toBe(200);
  });
  afterAll(async () => h.close());
  const get = (path: string, accept: string = type) => h.http.get(path).set('Accept', accept);
  const state = async (id: string): Promise<string> => (await get(`/compute/${id}`, J)).body.attributes['occi.compute.state'];
  const history = async (path: string): Promise<string[]> => {
    const { uid } = (await h.occitan.db.get(`entity:default:${path}`)) as unknown as { uid: string };
    const doc = (await h.occitan.db.get(`state:dummy:${uid}`)) as unknown as { value: { history: Array<{ action: string }> } };
    return doc.value.history.map((e) => e.action);
  };

  describe('kind collection /compute/', () => {
    test('GET of an empty collection: 200 with an empty rendering', async () => {
      expect(names(await get('/compute/'), type)).toEqual([]);
      expect(names(await get('/compute/', URI), URI)).toEqual([]);
      if (type === J) expect((await get('/compute/')).text).toBe('{"resources":[]}');
    });

    test('POST: 201, Location, the new entity', async () => {
      for (const id of ['c1', 'c2']) {
        const res = await sendEntity(h.http.post('/compute/'), type, COMPUTE, { 'occi.core.id': id, 'occi.compute.cores': 2 });
        expect(res.status).toBe(201);
        expect(res.headers.location).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/compute/${id}$`));
        const attrs = type === J ? res.body.attributes : Object.fromEntries(linesOf(res, type).filter(([n]) => n === 'X-OCCI-Attribute').map(([, v]) => v.split('=')));
        expect(attrs['occi.core.id']).toBe(type === J ? id : `"${id}"`);
        expect(attrs['occi.compute.cores']).toBe(type === J ? 2 : '2');
      }
      const wrong = await sendEntity(h.http.post('/compute/'), type, INFRA + 'network', {});
      expect(wrong.status).toBe(400);
      expect(errorOf(wrong, type)).toContain(INFRA + 'network');
    });

    test('GET: 200, every member (and in text/uri-list)', async () => {
      expect(names(await get('/compute/'), type)).toEqual(['c1', 'c2']);
      expect(names(await get('/compute/', URI), URI)).toEqual(['c1', 'c2']);
    });

    test('POST ?action=stop: 200, every member acted on', async () => {
      expectOk(await sendAction(h.http.post('/compute/?action=stop'), type, ACT + 'stop', { method: 'graceful' }), type);
      expect([await state('c1'), await state('c2')]).toEqual(['inactive', 'inactive']);
      const unknown = await sendAction(h.http.post('/compute/?action=dance'), type, ACT + 'dance');
      expect(unknown.status).toBe(400);
      expect(errorOf(unknown, type)).toContain('dance');
    });

    test('PUT: 405 with Allow (not defined for a kind collection)', async () => {
      const before = await h.seq();
      const res = await sendEntity(h.http.put('/compute/'), type, COMPUTE, {});
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD, POST, DELETE, OPTIONS');
      expect(errorOf(res, type)).toContain('PUT');
      expect(await h.seq()).toBe(before);
    });
  });

  describe('mixin collections', () => {
    test('query interface POST: 200, the user mixin with its location', async () => {
      const res = await send(h.http.post('/-/'), type, [['Category', category(TAG, 'mixin', '; location="/tags/"')]], {
        mixins: [{ term: term(TAG), scheme: scheme(TAG), location: '/tags/' }],
      });
      expect(categories(res, type)).toEqual([`${TAG} mixin /tags/`]);
    });

    test('POST (associate): 200, the collection', async () => {
      const res = await sendLocations(h.http.post('/tags/'), type, ['/compute/c1']);
      expect(names(res, type)).toEqual(['c1']);
      const err = await sendLocations(h.http.post('/tags/'), type, ['/compute/c9']);
      expect(err.status).toBe(404);
      expect(errorOf(err, type)).toContain('/compute/c9');
    });

    test('GET: 200, the members (and in text/uri-list)', async () => {
      expect(names(await get('/tags/'), type)).toEqual(['c1']);
      expect(names(await get('/tags/', URI), URI)).toEqual(['c1']);
    });

    test('PUT (replace membership): 200, the collection', async () => {
      expect(names(await sendLocations(h.http.put('/tags/'), type, ['/compute/c2']), type)).toEqual(['c2']);
      expect((await get('/compute/c1', J)).body.mixins).not.toContain(TAG);
      expect((await get('/compute/c2', J)).body.mixins).toContain(TAG);
    });

    test('POST with a text/uri-list body (and, in JSON, a plain array of locations): 200, the collection', async () => {
      const uri = await h.http.post('/tags/').set('Content-Type', URI).set('Accept', type).send('# the first compute\r\n/compute/c1\r\n');
      expect(names(uri, type)).toEqual(['c1', 'c2']);
      expect(names(await sendLocations(h.http.put('/tags/'), type, ['/compute/c2']), type)).toEqual(['c2']);
      if (type === J) {
        const array = await h.http.post('/tags/').set('Content-Type', J).set('Accept', J).send(JSON.stringify(['/compute/c1']));
        expect(names(array, type)).toEqual(['c1', 'c2']);
      }
    });

    test('POST ?action on a mixin collection: the mixin\'s action on every member', async () => {
      for (const id of ['a1', 'a2']) expect((await sendEntity(h.http.post('/app/'), type, APP + 'app', { 'occi.core.id': id })).status).toBe(201);
      expect(names(await sendLocations(h.http.post('/monitored/'), type, ['/app/a1', '/app/a2']), type)).toEqual(['a1', 'a2']);
      expectOk(await sendAction(h.http.post('/monitored/?action=ping'), type, APP + 'ping', { count: 3 }), type);
      expect([await history('/app/a1'), await history('/app/a2')]).toEqual([[APP + 'ping'], [APP + 'ping']]);
      // A kind action is not the mixin's: 400.
      const stop = await sendAction(h.http.post('/monitored/?action=stop'), type, ACT + 'stop');
      expect(stop.status).toBe(400);
      expect(errorOf(stop, type)).toContain('stop');
      // A compute member whose provider cannot ping: 501 and no member is acted on (all checked first).
      expect(names(await sendLocations(h.http.post('/monitored/'), type, ['/compute/c2']), type)).toEqual(['a1', 'a2', 'c2']);
      const refused = await sendAction(h.http.post('/monitored/?action=ping'), type, APP + 'ping');
      expect(refused.status).toBe(501);
      expect(errorOf(refused, type)).toContain(APP + 'ping');
      expect([await history('/app/a1'), await history('/app/a2')]).toEqual([[APP + 'ping'], [APP + 'ping']]);
    });

    test('DELETE (disassociate the named entities, or all): 200', async () => {
      expectOk(await sendLocations(h.http.delete('/monitored/'), type, ['/compute/c2']), type);
      expect(names(await get('/monitored/'), type)).toEqual(['a1', 'a2']);
      expectOk(await h.http.delete('/monitored/').set('Accept', type), type);
      expect(names(await get('/monitored/'), type)).toEqual([]);
      expect((await get('/app/a1', J)).body.mixins).not.toContain(APP + 'monitored');
    });
  });

  describe('query interface /-/', () => {
    test('GET: 200, the category collection; text/uri-list is 400', async () => {
      const all = categories(await get('/-/'), type);
      expect(all).toEqual(expect.arrayContaining([`${COMPUTE} kind /compute/`, `${ACT}stop action `, `${TAG} mixin /tags/`, `${INFRA}os_tpl mixin /os_tpl/`, `${APP}app kind /app/`]));
      const filter = await send(h.http.get('/-/'), type, [['Category', category(COMPUTE, 'kind')]], { kinds: [{ term: 'compute', scheme: INFRA }] });
      expect(categories(filter, type)).toEqual([`${COMPUTE} kind /compute/`]);
      const uri = await get('/-/', URI);
      expect(uri.status).toBe(400);
    });

    test('DELETE: 200; the user mixin is gone and its members lose it', async () => {
      expectOk(await send(h.http.delete('/-/'), type, [['Category', category(TAG, 'mixin')]], { mixins: [{ term: term(TAG), scheme: scheme(TAG), location: '/tags/' }] }), type);
      expect(categories(await get('/-/'), type)).not.toContain(`${TAG} mixin /tags/`);
      expect((await get('/compute/c2', J)).body.mixins).not.toContain(TAG);
      expect((await get('/tags/')).status).toBe(404);
      const unknown = await send(h.http.delete('/-/'), type, [['Category', category(TAG, 'mixin')]], { mixins: [{ term: term(TAG), scheme: scheme(TAG), location: '/tags/' }] });
      expect(unknown.status).toBe(404);
      expect(errorOf(unknown, type)).toContain(TAG);
    });
  });

  test('kind collection DELETE: 200, every member gone, other kinds untouched', async () => {
    expectOk(await h.http.delete('/compute/').set('Accept', type), type);
    expect(names(await get('/compute/'), type)).toEqual([]);
    expect(names(await get('/app/'), type)).toEqual(['a1', 'a2']);
  });
});
