/**
 * The pyOCNI HowTo flows (§4.2–4.4) and the GFD.185 §3.4 request examples in the two text renderings:
 * text/occi (everything in HTTP headers, body "OK") and text/plain (the same lines in the body).
 * Expected lines are written from GFD.229: resource_rendering = Category+ Link* X-OCCI-Attribute*,
 * collections are X-OCCI-Location lists, only applicable actions are linked. Absolute URLs are compared
 * without their `http://127.0.0.1:<port>` (supertest picks a new port per request).
 */
import type { Response } from 'supertest';
import type Test from 'supertest/lib/test';
import { startHarness, type Harness } from '../support/harness';

type TextType = 'text/occi' | 'text/plain';
type Line = [name: string, value: string];

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const ACT = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
const HOST = /http:\/\/127\.0\.0\.1:\d+/g;
const KIND = `compute; scheme="${INFRA}"; class="kind"`;
const PROVIDER = 'provider; scheme="https://occitan.dev/occi/occitan#"; class="mixin"';
const TAG = 'tag; scheme="http://example.com/occi/tags#"; class="mixin"';
const MEDIUM = 'medium; scheme="http://example.com/template/resource#"; class="mixin"';
const HEADERS: Record<string, string> = { category: 'Category', link: 'Link', 'x-occi-attribute': 'X-OCCI-Attribute', 'x-occi-location': 'X-OCCI-Location' };

/** Splits a header value on commas outside quoted strings and `<…>` (GFD.185 §3.5 list rule). */
function splitList(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let angle = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (quoted && c === '\\') {
      cur += c + (v[++i] ?? '');
      continue;
    }
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '<') angle = true;
    else if (!quoted && c === '>') angle = false;
    else if (!quoted && !angle && c === ',') {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** The OCCI lines of a response where its rendering puts them: headers (text/occi) or body (text/plain). */
function linesOf(res: Response, type: TextType): string[] {
  if (type === 'text/plain') return res.text.split('\n').filter((l) => l.trim() !== '').map((l) => l.replace(HOST, ''));
  expect(res.text).toBe('OK');
  const out: string[] = [];
  for (const [h, name] of Object.entries(HEADERS)) {
    const v = res.headers[h] as string | undefined;
    if (v !== undefined) for (const part of splitList(v)) out.push(`${name}: ${part.replace(HOST, '')}`);
  }
  return out;
}

/** Sends OCCI lines the way the rendering carries them. */
function send(req: Test, type: TextType, lines: readonly Line[]): Test {
  req.set('Content-Type', type).set('Accept', type);
  if (type === 'text/plain') return req.send(lines.map(([n, v]) => `${n}: ${v}\n`).join(''));
  const byName = new Map<string, string[]>();
  for (const [n, v] of lines) byName.set(n, [...(byName.get(n) ?? []), v]);
  for (const [n, vs] of byName) req.set(n, vs.join(', '));
  return req;
}

const sortLines = (l: string[]): string[] => [...l].sort();

/** GFD.229 composition: Category lines, then Links, then attributes; exact sets of categories and attributes. */
function expectEntity(lines: string[], want: { categories: string[]; attributes: string[]; can: string[]; cannot: string[] }): void {
  const group = (l: string): number => (l.startsWith('Category: ') ? 0 : l.startsWith('Link: ') ? 1 : l.startsWith('X-OCCI-Attribute: ') ? 2 : 9);
  expect(lines.map(group)).toEqual([...lines.map(group)].sort());
  expect(sortLines(lines.filter((l) => group(l) === 0))).toEqual(sortLines(want.categories.map((c) => `Category: ${c}`)));
  expect(sortLines(lines.filter((l) => group(l) === 2))).toEqual(sortLines(want.attributes.map((a) => `X-OCCI-Attribute: ${a}`)));
  const links = lines.filter((l) => group(l) === 1);
  for (const a of want.can) expect(links).toContainEqual(expect.stringMatching(new RegExp(`^Link: <[^>]*\\?action=${a}>; rel="${ACT.replace(/[/.]/g, '\\$&')}${a}"$`)));
  for (const a of want.cannot) expect(links.join('\n')).not.toContain(`?action=${a}>`);
}

const locationsOf = (lines: string[]): string[] => sortLines(lines.filter((l) => l.startsWith('X-OCCI-Location: ')).map((l) => l.slice('X-OCCI-Location: '.length)));

describe.each<[TextType]>([['text/occi'], ['text/plain']])('%s', (type) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());
  const get = (path: string) => h.http.get(path).set('Accept', type);
  const stateOf = async (path: string): Promise<string | undefined> =>
    linesOf(await get(path), type).find((l) => l.startsWith('X-OCCI-Attribute: occi.compute.state='))?.split('=')[1];

  test('a user mixin (POST /-/) and an admin resource template (?scope=provider): 200 with their rendering', async () => {
    const tag = await send(h.http.post('/-/'), type, [['Category', `${TAG}; location="/tags/"`]]);
    expect(tag.status).toBe(200);
    expect(linesOf(tag, type)).toEqual([`Category: ${TAG}; location="/tags/"`]);
    const tpl = await send(h.http.post('/-/?scope=provider'), type, [['Category', `${MEDIUM}; rel="${INFRA}resource_tpl"; location="/template/resource/medium/"`]]);
    expect(tpl.status).toBe(200);
    expect(linesOf(tpl, type)).toEqual([`Category: ${MEDIUM}; rel="${INFRA}resource_tpl"; location="/template/resource/medium/"`]);
  });

  test('§4.3 create (POST /compute/): 201, Location and X-OCCI-Location, the entity', async () => {
    for (const [id, cores, memory] of [['vm1', 2, 4], ['vm2', 2, 4], ['vm3', 4, 8]] as const) {
      const res = await send(h.http.post('/compute/'), type, [
        ['Category', KIND],
        ['Category', TAG],
        ['X-OCCI-Attribute', `occi.core.id="${id}"`],
        ['X-OCCI-Attribute', `occi.compute.cores=${cores}`],
        ['X-OCCI-Attribute', `occi.compute.memory=${memory}`],
      ]);
      expect(res.status).toBe(201);
      expect(res.headers.location).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/compute/${id}$`));
      expect(res.headers['x-occi-location']).toBe(res.headers.location);
      expectEntity(linesOf(res, type).filter((l) => !l.startsWith('X-OCCI-Location: ')), {
        categories: [KIND, TAG, PROVIDER],
        attributes: [`occi.core.id="${id}"`, `occi.compute.cores=${cores}`, `occi.compute.memory=${memory}`, 'occi.compute.state="active"', 'occitan.provider="dummy"'],
        can: ['stop'],
        cannot: ['start'],
      });
    }
  });

  test('§4.3.1 GET the kind collection: one X-OCCI-Location per entity', async () => {
    const res = await get('/compute/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(type);
    expect(locationsOf(linesOf(res, type))).toEqual(['/compute/vm1', '/compute/vm2', '/compute/vm3']);
  });

  test('§4.3.2 filter with X-OCCI-Attribute and with Category (GFD.185 §3.4.3)', async () => {
    const byAttr = await send(h.http.get('/compute/'), type, [['X-OCCI-Attribute', 'occi.compute.cores=2'], ['X-OCCI-Attribute', 'occi.compute.memory=4']]);
    expect(byAttr.status).toBe(200);
    expect(locationsOf(linesOf(byAttr, type))).toEqual(['/compute/vm1', '/compute/vm2']);
    const byBoth = await send(h.http.get('/compute/'), type, [['Category', TAG], ['X-OCCI-Attribute', 'occi.compute.cores=4']]);
    expect(byBoth.status).toBe(200);
    expect(locationsOf(linesOf(byBoth, type))).toEqual(['/compute/vm3']);
    const untemplated = await send(h.http.get('/compute/'), type, [['Category', MEDIUM]]);
    expect(untemplated.status).toBe(200);
    expect(linesOf(untemplated, type)).toEqual([]);
    const none = await send(h.http.get('/compute/'), type, [['X-OCCI-Attribute', 'occi.compute.cores=16']]);
    expect(none.status).toBe(200);
    expect(linesOf(none, type)).toEqual([]);
  });

  test('§4.3.4 an action on the kind collection applies to every member', async () => {
    const stop = await send(h.http.post('/compute/?action=stop'), type, [
      ['Category', `stop; scheme="${ACT}"; class="action"`],
      ['X-OCCI-Attribute', 'method="poweroff"'],
    ]);
    expect(stop.status).toBe(200);
    expect(linesOf(stop, type)).toEqual([]);
    for (const vm of ['vm1', 'vm2', 'vm3']) expect(await stateOf(`/compute/${vm}`)).toBe('"inactive"');
    const bad = await send(h.http.post('/compute/?action=stop'), type, [['Category', `stop; scheme="${ACT}"; class="action"`], ['X-OCCI-Attribute', 'method="yank"']]);
    expect(bad.status).toBe(400);
    const start = await send(h.http.post('/compute/?action=start'), type, []);
    expect(start.status).toBe(200);
    for (const vm of ['vm1', 'vm2', 'vm3']) expect(await stateOf(`/compute/${vm}`)).toBe('"active"');
  });

  test('§4.3.5–6 associate, replace and dissociate with X-OCCI-Location (GFD.185 §3.4.4)', async () => {
    await send(h.http.delete('/tags/'), type, []); // the creates above tagged all three
    const assoc = await send(h.http.post('/tags/'), type, [['X-OCCI-Location', '/compute/vm1'], ['X-OCCI-Location', '/compute/vm2']]);
    expect(assoc.status).toBe(200);
    expect(locationsOf(linesOf(assoc, type))).toEqual(['/compute/vm1', '/compute/vm2']);
    const replace = await send(h.http.put('/tags/'), type, [['X-OCCI-Location', '/compute/vm3']]);
    expect(replace.status).toBe(200);
    expect(locationsOf(linesOf(replace, type))).toEqual(['/compute/vm3']);
    expect(linesOf(await get('/compute/vm1'), type)).not.toContain(`Category: ${TAG}`);
    expect(linesOf(await get('/compute/vm3'), type)).toContain(`Category: ${TAG}`);
    const dissoc = await send(h.http.delete('/tags/'), type, [['X-OCCI-Location', '/compute/vm3']]);
    expect(dissoc.status).toBe(200);
    expect(linesOf(dissoc, type)).toEqual([]);
    expect(linesOf(await get('/tags/'), type)).toEqual([]);
  });

  const custom = '/vms/foo/vm9';
  const body: Line[] = [
    ['Category', KIND],
    ['Category', MEDIUM],
    ['X-OCCI-Attribute', 'occi.core.title="Compute resource"'],
    ['X-OCCI-Attribute', 'occi.compute.cores=12'],
    ['X-OCCI-Attribute', 'occi.compute.memory=4'],
    ['X-OCCI-Attribute', 'occi.compute.speed=2'],
  ];

  test('§4.4.1–2 PUT at a custom path: 201 there; GET renders it with the same ETag', async () => {
    const res = await send(h.http.put(custom), type, body);
    expect(res.status).toBe(201);
    expect(res.headers.location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/vms\/foo\/vm9$/);
    const got = await get(custom);
    expect(got.status).toBe(200);
    expect(got.headers.etag).toBe(res.headers.etag);
    const lines = linesOf(got, type);
    expectEntity(lines, {
      categories: [KIND, MEDIUM, PROVIDER],
      attributes: attributesWithId(lines, [
        'occi.core.title="Compute resource"', 'occi.compute.cores=12', 'occi.compute.memory=4', 'occi.compute.speed=2',
        'occi.compute.state="active"', 'occitan.provider="dummy"',
      ]),
      can: ['stop'],
      cannot: ['start'],
    });
  });

  test('§4.4.3 full update (PUT): 200, mixins and mutable attributes replaced', async () => {
    const tagged = await send(h.http.post(custom), type, [['Category', TAG], ['X-OCCI-Attribute', 'occi.compute.hostname="web"']]);
    expect(tagged.status).toBe(200);
    expect(linesOf(tagged, type)).toContain('X-OCCI-Attribute: occi.compute.hostname="web"');
    const res = await send(h.http.put(custom), type, body);
    expect(res.status).toBe(200);
    expect(res.headers.location).toBeUndefined();
    const lines = linesOf(res, type);
    expect(lines).not.toContain(`Category: ${TAG}`);
    expect(lines.join('\n')).not.toContain('occi.compute.hostname');
    expect(lines).toContain(`Category: ${MEDIUM}`);
  });

  test('§4.4.4 partial update (POST): 200, only the attributes sent change', async () => {
    const before = linesOf(await get(custom), type);
    const res = await send(h.http.post(custom), type, [['X-OCCI-Attribute', 'occi.compute.speed=5'], ['X-OCCI-Attribute', 'occi.compute.cores=2']]);
    expect(res.status).toBe(200);
    const after = linesOf(res, type);
    const changed = (l: string[]): string[] => l.filter((x) => !before.includes(x));
    expect(sortLines(changed(after))).toEqual(['X-OCCI-Attribute: occi.compute.cores=2', 'X-OCCI-Attribute: occi.compute.speed=5']);
    expect(sortLines(before.filter((x) => !after.includes(x)))).toEqual(['X-OCCI-Attribute: occi.compute.cores=12', 'X-OCCI-Attribute: occi.compute.speed=2']);
  });

  test('§4.4.5 action on the resource: 200 with the entity; unknown action 400', async () => {
    const res = await send(h.http.post(`${custom}?action=stop`), type, [['Category', `stop; scheme="${ACT}"; class="action"`], ['X-OCCI-Attribute', 'method="graceful"']]);
    expect(res.status).toBe(200);
    const lines = linesOf(res, type);
    expect(lines).toContain('X-OCCI-Attribute: occi.compute.state="inactive"');
    expectEntity(lines, { categories: [KIND, MEDIUM, PROVIDER], attributes: lines.filter((l) => l.startsWith('X-OCCI-Attribute: ')).map((l) => l.slice(18)), can: ['start'], cannot: ['stop'] });
    const bad = await send(h.http.post(`${custom}?action=explode`), type, []);
    expect(bad.status).toBe(400);
    expect(type === 'text/occi' ? bad.headers['x-occi-error'] : bad.text).toContain('explode');
  });

  test('§4.2 paths: GET / and GET /vms/foo/ list what is below; DELETE /vms/foo/ removes it all', async () => {
    await send(h.http.put('/vms/bar/vm1'), type, [['Category', KIND]]);
    const root = await get('/');
    expect(root.status).toBe(200);
    expect(locationsOf(linesOf(root, type))).toEqual(['/compute/vm1', '/compute/vm2', '/compute/vm3', '/vms/bar/vm1', '/vms/foo/vm9']);
    const foo = await h.http.get('/vms/').set('Accept', 'text/uri-list');
    expect(foo.text.replace(HOST, '')).toBe('/vms/bar/vm1\r\n/vms/foo/vm9\r\n');
    const del = await h.http.delete('/vms/foo/').set('Accept', type);
    expect(del.status).toBe(200);
    expect(linesOf(del, type)).toEqual([]);
    expect((await get(custom)).status).toBe(404);
    expect((await get('/vms/bar/vm1')).status).toBe(200);
  });

  test('§4.4.6 DELETE a resource: 200, then 404', async () => {
    const res = await h.http.delete('/compute/vm3').set('Accept', type);
    expect(res.status).toBe(200);
    expect(linesOf(res, type)).toEqual([]);
    const gone = await get('/compute/vm3');
    expect(gone.status).toBe(404);
    expect(type === 'text/occi' ? gone.headers['x-occi-error'] : gone.text).toContain('/compute/vm3');
  });
});

/** The expected attribute lines plus the server-chosen occi.core.id line, checked for URN form. */
function attributesWithId(lines: string[], rest: string[]): string[] {
  const id = lines.find((l) => l.startsWith('X-OCCI-Attribute: occi.core.id='));
  expect(id).toMatch(/^X-OCCI-Attribute: occi\.core\.id="urn:uuid:[0-9a-f-]{36}"$/);
  return [id!.slice('X-OCCI-Attribute: '.length), ...rest];
}
