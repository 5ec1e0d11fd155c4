/**
 * The operation matrix (GFD.223 "HTTP Verb Behavior Summary", occi-spec.md §3.4), entity row: GET,
 * POST (partial update), POST ?action, PUT (create), PUT (replace), DELETE, each in text/plain, text/occi
 * and application/occi+json, with the statuses DESIGN.md chose (201 + Location for creates, 200 + the
 * entity otherwise, DELETE 200, errors rendered in the negotiated type). Requests and expectations are
 * written in a neutral form and turned into each rendering by the helpers below.
 */
import type { Response } from 'supertest';
import type Test from 'supertest/lib/test';
import { startHarness, type Harness } from '../support/harness';

type MT = 'text/plain' | 'text/occi' | 'application/occi+json';
type Line = [string, string];
type Attrs = Record<string, string | number | boolean>;
interface Ent { kind?: string; mixins?: string[]; attributes?: Attrs }
interface Seen { kind: string; mixins: string[]; attributes: Record<string, unknown>; actions: string[] }

const TYPES: MT[] = ['text/plain', 'text/occi', 'application/occi+json'];
const J = 'application/occi+json';
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const COMPUTE = INFRA + 'compute';
const ACT = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
const PROVIDER_MIXIN = 'https://occitan.dev/occi/occitan#provider';
const HOST = /http:\/\/127\.0\.0\.1:\d+/g;

// --- neutral requests → renderings ---------------------------------------------------------------
const quoted = (v: string | number | boolean): string => (typeof v === 'string' ? `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : String(v));
const category = (id: string, cls: string): string => `${id.slice(id.lastIndexOf('#') + 1)}; scheme="${id.slice(0, id.lastIndexOf('#') + 1)}"; class="${cls}"`;

function send(req: Test, type: MT, lines: Line[], json: unknown): Test {
  req.set('Content-Type', type).set('Accept', type);
  if (type === J) return req.send(JSON.stringify(json));
  if (type === 'text/plain') return req.send(lines.map(([n, v]) => `${n}: ${v}\n`).join(''));
  const byName = new Map<string, string[]>();
  for (const [n, v] of lines) byName.set(n, [...(byName.get(n) ?? []), v]);
  for (const [n, vs] of byName) req.set(n, vs.join(', '));
  return req;
}
const sendEntity = (req: Test, type: MT, e: Ent): Test =>
  send(req, type, [
    ...(e.kind ? [['Category', category(e.kind, 'kind')] as Line] : []),
    ...(e.mixins ?? []).map((m): Line => ['Category', category(m, 'mixin')]),
    ...Object.entries(e.attributes ?? {}).map(([n, v]): Line => ['X-OCCI-Attribute', `${n}=${quoted(v)}`]),
  ], { ...(e.kind ? { kind: e.kind } : {}), ...(e.mixins ? { mixins: e.mixins } : {}), attributes: e.attributes ?? {} });
const sendAction = (req: Test, type: MT, action: string, params: Attrs): Test =>
  send(req, type, [['Category', category(action, 'action')], ...Object.entries(params).map(([n, v]): Line => ['X-OCCI-Attribute', `${n}=${quoted(v)}`])], { action, attributes: params });

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
  const out: Line[] = [];
  for (const name of ['Category', 'Link', 'X-OCCI-Attribute', 'X-OCCI-Location']) {
    const v = res.headers[name.toLowerCase()] as string | undefined;
    if (v !== undefined) for (const p of splitList(v)) out.push([name, p.replace(HOST, '')]);
  }
  return out;
}
function value(text: string): unknown {
  if (text.startsWith('"')) return JSON.parse(text);
  return text === 'true' ? true : text === 'false' ? false : Number(text);
}
function readEntity(res: Response, type: MT): Seen {
  expect(res.headers['content-type']).toBe(type);
  if (type === J) {
    const b = JSON.parse(res.text.replace(HOST, ''));
    return { kind: b.kind, mixins: [...b.mixins].sort(), attributes: b.attributes, actions: [...b.actions].sort() };
  }
  if (type === 'text/occi') expect(res.text).toBe('OK');
  const seen: Seen = { kind: '', mixins: [], attributes: {}, actions: [] };
  for (const [name, v] of linesOf(res, type)) {
    const cat = /^([^;]+); scheme="([^"]+)"; class="(kind|mixin)"$/.exec(v);
    if (name === 'Category' && cat) {
      if (cat[3] === 'kind') seen.kind = cat[2]! + cat[1]!;
      else seen.mixins.push(cat[2]! + cat[1]!);
    } else if (name === 'Link' && /\?action=/.test(v)) seen.actions.push(/rel="([^"]+)"/.exec(v)![1]!);
    else if (name === 'X-OCCI-Attribute') seen.attributes[v.slice(0, v.indexOf('='))] = value(v.slice(v.indexOf('=') + 1));
  }
  return { ...seen, mixins: seen.mixins.sort(), actions: seen.actions.sort() };
}
function errorOf(res: Response, type: MT): string {
  if (type === J) {
    expect(res.body.status).toBe(res.status);
    return res.body.error;
  }
  if (type === 'text/occi') {
    expect(res.text).toBe(res.headers['x-occi-error']);
    return res.text;
  }
  return res.text;
}
function expectOk(res: Response, type: MT): void {
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe(type);
  expect(res.text).toBe(type === J ? '{}' : type === 'text/occi' ? 'OK' : '');
}
/** A dummy compute as created with `attributes`: state active, so stop/restart/suspend apply and start does not. */
function compute(id: string, attributes: Attrs, state = 'active', mixins: string[] = []): Seen {
  return {
    kind: COMPUTE,
    mixins: [...mixins, PROVIDER_MIXIN].sort(),
    attributes: { 'occi.core.id': id, ...attributes, 'occi.compute.state': state, 'occitan.provider': 'dummy' },
    actions: (state === 'active' ? ['stop', 'restart', 'suspend'] : ['start']).map((a) => ACT + a).sort(),
  };
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  for (const [i, type] of TYPES.entries()) {
    const res = await sendEntity(h.http.post('/compute/'), type, { kind: COMPUTE, attributes: { 'occi.core.id': `e${i}`, 'occi.compute.cores': 2, 'occi.core.title': 'web' } });
    expect(res.status).toBe(201);
  }
});
afterAll(async () => h.close());
const name = (type: MT): string => `e${TYPES.indexOf(type)}`;

describe.each(TYPES)('entity in %s', (type) => {
  test('GET: 200, the entity with its ETag', async () => {
    const res = await h.http.get(`/compute/${name(type)}`).set('Accept', type);
    expect(res.status).toBe(200);
    expect(res.headers.etag).toMatch(/^"\d+-[0-9a-f]+"$/);
    expect(readEntity(res, type)).toEqual(compute(name(type), { 'occi.core.title': 'web', 'occi.compute.cores': 2 }));
  });

  test('GET of an unknown entity: 404 in the same rendering', async () => {
    const res = await h.http.get('/compute/none-such').set('Accept', type);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe(type);
    expect(errorOf(res, type)).toContain('/compute/none-such');
  });

  test('POST (partial update): 200, the entity with only the attributes sent changed', async () => {
    const res = await sendEntity(h.http.post(`/compute/${name(type)}`), type, { attributes: { 'occi.compute.memory': 4 } });
    expect(res.status).toBe(200);
    expect(readEntity(res, type)).toEqual(compute(name(type), { 'occi.core.title': 'web', 'occi.compute.cores': 2, 'occi.compute.memory': 4 }));
    const bad = await sendEntity(h.http.post(`/compute/${name(type)}`), type, { attributes: { 'occi.compute.colour': 'red' } });
    expect(bad.status).toBe(400);
    expect(errorOf(bad, type)).toContain('occi.compute.colour');
  });

  test('POST ?action=stop: 200, the entity in its new state', async () => {
    const res = await sendAction(h.http.post(`/compute/${name(type)}?action=stop`), type, ACT + 'stop', { method: 'acpioff' });
    expect(res.status).toBe(200);
    expect(readEntity(res, type)).toEqual(compute(name(type), { 'occi.core.title': 'web', 'occi.compute.cores': 2, 'occi.compute.memory': 4 }, 'inactive'));
    const unknown = await sendAction(h.http.post(`/compute/${name(type)}?action=fly`), type, ACT + 'fly', {});
    expect(unknown.status).toBe(400);
    expect(errorOf(unknown, type)).toContain('fly');
    // A known action the current state forbids: 400 (GFD.185 §3.4.2, occi-spec.md edge case 22), nothing changed.
    const before = await h.seq();
    const restart = await sendAction(h.http.post(`/compute/${name(type)}?action=restart`), type, ACT + 'restart', {});
    expect(restart.status).toBe(400);
    expect(errorOf(restart, type)).toContain('restart');
    expect(await h.seq()).toBe(before);
    // save is a compute action (GFD.224) but the dummy provider cannot make an OS template: 501.
    const save = await sendAction(h.http.post(`/compute/${name(type)}?action=save`), type, ACT + 'save', {});
    expect(save.status).toBe(501);
    expect(errorOf(save, type)).toContain('save');
  });

  test('PUT to a new path (create): 201, Location, the entity', async () => {
    const path = `/matrix/${type.replace(/\W/g, '-')}/put1`;
    const res = await sendEntity(h.http.put(path), type, { kind: COMPUTE, attributes: { 'occi.core.id': `p-${name(type)}`, 'occi.compute.cores': 1 } });
    expect(res.status).toBe(201);
    expect(res.headers.location).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+${path}$`));
    if (type !== J) expect(res.headers['x-occi-location']).toBe(res.headers.location);
    expect(readEntity(res, type)).toEqual(compute(`p-${name(type)}`, { 'occi.compute.cores': 1 }));
    expect((await h.http.get(path).set('Accept', type)).headers.etag).toBe(res.headers.etag);
  });

  test('PUT to an existing path (replace): 200, the entity; mutable attributes not sent are reset', async () => {
    const path = `/matrix/${type.replace(/\W/g, '-')}/put1`;
    const res = await sendEntity(h.http.put(path), type, { kind: COMPUTE, attributes: { 'occi.compute.memory': 2, 'occi.core.title': 'replaced' } });
    expect(res.status).toBe(200);
    expect(res.headers.location).toBeUndefined();
    expect(readEntity(res, type)).toEqual(compute(`p-${name(type)}`, { 'occi.core.title': 'replaced', 'occi.compute.memory': 2 }));
    // A kind cannot change (GFD.185 §3.4.2).
    const other = await sendEntity(h.http.put(path), type, { kind: INFRA + 'storage', attributes: { 'occi.storage.size': 1 } });
    expect(other.status).toBe(400);
    expect(errorOf(other, type)).toContain(INFRA + 'storage');
  });

  test('DELETE: 200 with the rendering\'s empty success, then 404', async () => {
    const path = `/matrix/${type.replace(/\W/g, '-')}/put1`;
    const res = await h.http.delete(path).set('Accept', type);
    expectOk(res, type);
    const gone = await h.http.get(path).set('Accept', type);
    expect(gone.status).toBe(404);
    const again = await h.http.delete(path).set('Accept', type);
    expect(again.status).toBe(404);
    expect(errorOf(again, type)).toContain(path);
  });
});

test('text/uri-list cannot render an entity: 400 (GFD.185 §3.6.6), refused before anything is done', async () => {
  const res = await h.http.get('/compute/e0').set('Accept', 'text/uri-list');
  expect(res.status).toBe(400);
  expect(res.text).toMatch(/uri-list/);
  const before = await h.seq();
  const writes = [
    h.http.post('/compute/').set('Content-Type', J).send(JSON.stringify({ kind: COMPUTE, id: 'uri1' })),
    h.http.put('/compute/uri2').set('Content-Type', J).send(JSON.stringify({ kind: COMPUTE })),
    h.http.put('/compute/e0').set('Content-Type', J).send(JSON.stringify({ kind: COMPUTE })),
    h.http.post('/compute/e0').set('Content-Type', J).send(JSON.stringify({ attributes: { 'occi.compute.cores': 7 } })),
    h.http.post('/compute/e0?action=stop').set('Content-Type', J).send(JSON.stringify({ action: ACT + 'stop' })),
    h.http.post('/-/').set('Content-Type', 'text/plain').send('Category: u; scheme="http://example.com/u#"; class="mixin"; location="/u/"\n'),
  ];
  for (const write of writes) {
    const w = await write.set('Accept', 'text/uri-list');
    expect(w.status).toBe(400);
    expect(w.text).toMatch(/uri-list/);
  }
  expect(await h.seq()).toBe(before);
});

test('an unsupported method on an entity: 405 with Allow', async () => {
  const res = await h.http.patch('/compute/e0').set('Accept', J);
  expect(res.status).toBe(405);
  expect(res.headers.allow).toBe('GET, HEAD, POST, PUT, DELETE, OPTIONS');
  expect(res.body).toEqual({ status: 405, error: expect.stringContaining('PATCH') });
});

test('PUT with a Link header: 400 (GFD.185 §3.4.2: a full update leaves links intact)', async () => {
  const res = await h.http.put('/compute/e1').set('Content-Type', 'text/occi')
    .set('Category', category(COMPUTE, 'kind'))
    .set('Link', `</network/x>; rel="${INFRA}network"; category="${INFRA}networkinterface"`);
  expect(res.status).toBe(400);
  expect(res.text).toMatch(/link/i);
});
