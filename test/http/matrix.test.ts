/**
 * What the operation matrix leaves to the server, as DESIGN.md chose it: preconditions (If-None-Match,
 * If-Match, ETag = CouchDB _rev), client-chosen ids (409), links (inline at creation in text and JSON,
 * standalone, removed with their resource), OS template replacement (GFD.224 §templates), immutable
 * attributes (equal: ignored; different: 403) and action links (only the applicable ones, GFD.185 §3.4.2).
 */
import type { Response } from 'supertest';
import { startHarness, type Harness } from '../support/harness';

const J = 'application/occi+json';
const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const ACT = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
const OS = 'http://example.com/occi/os#';
const HOST = /http:\/\/127\.0\.0\.1:\d+/g;
const KIND = (term: string): string => `${term}; scheme="${INFRA}"; class="kind"`;
const NI_CATEGORY = `category="${INFRA}networkinterface"`;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  for (const id of ['n1', 'n2']) {
    const net = await h.http.post('/network/').set('Content-Type', J).send(JSON.stringify({ kind: INFRA + 'network', id }));
    expect(net.status).toBe(201);
  }
});
afterAll(async () => h.close());

const json = (res: Response): Record<string, any> => JSON.parse(res.text.replace(HOST, ''));
const getJson = async (path: string): Promise<Response> => h.http.get(path).set('Accept', J);
const create = (id: string, extra: Record<string, unknown> = {}) =>
  h.http.post('/compute/').set('Content-Type', J).set('Accept', J).send(JSON.stringify({ kind: INFRA + 'compute', id, ...extra }));
const textLines = (res: Response): string[] => res.text.split('\n').filter((l) => l !== '').map((l) => l.replace(HOST, ''));

describe('preconditions and ids', () => {
  test('PUT with If-None-Match: * creates a new path (201) and never replaces (412)', async () => {
    const first = await h.http.put('/pre/once').set('Content-Type', 'text/occi').set('If-None-Match', '*').set('Category', KIND('compute'));
    expect(first.status).toBe(201);
    const before = await h.seq();
    const again = await h.http.put('/pre/once').set('Content-Type', 'text/occi').set('Accept', 'text/occi').set('If-None-Match', '*')
      .set('Category', KIND('compute')).set('X-OCCI-Attribute', 'occi.compute.cores=8');
    expect(again.status).toBe(412);
    expect(again.headers['x-occi-error']).toContain('/pre/once');
    expect(await h.seq()).toBe(before);
    expect(json(await getJson('/pre/once')).attributes['occi.compute.cores']).toBeUndefined();
  });

  test('POST with a client-chosen id that exists: 409, nothing changed', async () => {
    expect((await create('dup', { attributes: { 'occi.compute.cores': 1 } })).status).toBe(201);
    const before = await h.seq();
    const json409 = await create('dup', { attributes: { 'occi.compute.cores': 2 } });
    expect(json409.status).toBe(409);
    expect(json409.body).toEqual({ status: 409, error: expect.stringContaining('dup') });
    const text409 = await h.http.post('/compute/').set('Content-Type', 'text/plain').send(`Category: ${KIND('compute')}\nX-OCCI-Attribute: occi.core.id="dup"\n`);
    expect(text409.status).toBe(409);
    expect(text409.text).toContain('dup');
    expect(await h.seq()).toBe(before);
    expect(json(await getJson('/compute/dup')).attributes['occi.compute.cores']).toBe(1);
  });

  test('the ETag of every write is the ETag a GET then shows, and changes with each write', async () => {
    const made = await create('tagged');
    const seen = [made.headers.etag as string];
    const writes = [
      () => h.http.post('/compute/tagged').set('Content-Type', J).send(JSON.stringify({ attributes: { 'occi.compute.cores': 3 } })),
      () => h.http.put('/compute/tagged').set('Content-Type', J).send(JSON.stringify({ kind: INFRA + 'compute', attributes: { 'occi.compute.cores': 4 } })),
      () => h.http.post('/compute/tagged?action=stop').set('Content-Type', J).send(JSON.stringify({ action: ACT + 'stop' })),
    ];
    for (const write of writes) {
      const res = await write();
      expect(res.status).toBe(200);
      expect((await getJson('/compute/tagged')).headers.etag).toBe(res.headers.etag);
      seen.push(res.headers.etag as string);
    }
    expect(new Set(seen).size).toBe(4);
    for (const e of seen) expect(e).toMatch(/^"\d+-[0-9a-f]+"$/);
  });

  test('If-Match with a stale ETag: 412 on PUT, POST, POST ?action and DELETE; the current one passes', async () => {
    const stale = (await create('guarded')).headers.etag as string;
    const fresh = (await h.http.post('/compute/guarded').set('Content-Type', J).send(JSON.stringify({ attributes: { 'occi.compute.cores': 2 } }))).headers.etag as string;
    const before = await h.seq();
    const attempts = [
      h.http.put('/compute/guarded').set('Content-Type', J).send(JSON.stringify({ kind: INFRA + 'compute' })),
      h.http.post('/compute/guarded').set('Content-Type', J).send(JSON.stringify({ attributes: { 'occi.compute.cores': 9 } })),
      h.http.post('/compute/guarded?action=stop').set('Content-Type', J).send(JSON.stringify({ action: ACT + 'stop' })),
      h.http.delete('/compute/guarded'),
    ];
    for (const attempt of attempts) {
      const res = await attempt.set('If-Match', stale).set('Accept', J);
      expect(res.status).toBe(412);
      expect(res.body).toEqual({ status: 412, error: expect.stringContaining('/compute/guarded') });
    }
    expect(await h.seq()).toBe(before);
    const ok = await h.http.post('/compute/guarded').set('Content-Type', J).set('If-Match', fresh).send(JSON.stringify({ attributes: { 'occi.compute.cores': 9 } }));
    expect(ok.status).toBe(200);
    expect((await h.http.delete('/compute/guarded').set('If-Match', ok.headers.etag as string)).status).toBe(200);
    const noEntity = await h.http.put('/compute/guarded').set('Content-Type', J).set('If-Match', fresh).send(JSON.stringify({ kind: INFRA + 'compute' }));
    expect(noEntity.status).toBe(412);
  });
});

describe('links', () => {
  test('inline at creation in text/occi: a Link header with category=networkinterface to a network', async () => {
    const res = await h.http.post('/compute/').set('Content-Type', 'text/occi').set('Accept', 'text/plain')
      .set('Category', KIND('compute')).set('X-OCCI-Attribute', 'occi.core.id="withlink"')
      .set('Link', `</network/n1>; rel="${INFRA}network"; ${NI_CATEGORY}; occi.networkinterface.mac="00:11:22:33:44:55"`);
    expect(res.status).toBe(201);
    expect(res.headers.location).toMatch(/\/compute\/withlink$/); // only the resource's location (GFD.185 §3.4.5)
    const link = textLines(res).find((l) => l.startsWith('Link: </network/n1>'));
    expect(link).toMatch(new RegExp(`^Link: </network/n1>; rel="${INFRA}network"; self="/networkinterface/[^"]+"; category="${INFRA}networkinterface[^"]*";.* occi\\.networkinterface\\.mac="00:11:22:33:44:55"`));
    const self = /self="([^"]+)"/.exec(link!)![1]!;
    const got = await h.http.get(self).set('Accept', 'text/plain');
    expect(got.status).toBe(200);
    expect(textLines(got)).toEqual(expect.arrayContaining([
      `Category: ${KIND('networkinterface')}`,
      'X-OCCI-Attribute: occi.core.source="/compute/withlink"',
      'X-OCCI-Attribute: occi.core.target="/network/n1"',
      `X-OCCI-Attribute: occi.core.target.kind="${INFRA}network"`,
    ]));
  });

  test('inline at creation in text/plain and JSON; a missing target makes nothing (400)', async () => {
    const plain = await h.http.post('/compute/').set('Content-Type', 'text/plain')
      .send(`Category: ${KIND('compute')}\nLink: </network/n2>; rel="${INFRA}network"; ${NI_CATEGORY}\nX-OCCI-Attribute: occi.core.id="plainlink"\n`);
    expect(plain.status).toBe(201);
    const viaJson = await create('jsonlink', { links: [{ kind: INFRA + 'networkinterface', id: 'jl1', target: { location: '/network/n1', kind: INFRA + 'network' } }] });
    expect(viaJson.status).toBe(201);
    const body = json(await getJson('/compute/jsonlink'));
    expect(body.links).toEqual([expect.objectContaining({
      kind: INFRA + 'networkinterface', id: 'jl1',
      source: { location: '/compute/jsonlink' }, target: { location: '/network/n1', kind: INFRA + 'network' },
    })]);
    expect(json(await getJson('/compute/plainlink')).links.map((l: { target: { location: string } }) => l.target.location)).toEqual(['/network/n2']);
    const before = await h.seq();
    const bad = await create('badlink', { links: [{ kind: INFRA + 'networkinterface', id: 'bl1', target: { location: '/network/absent' } }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain('/network/absent');
    expect(await h.seq()).toBe(before);
    expect((await getJson('/compute/badlink')).status).toBe(404);
  });

  test('a standalone link: POST /networkinterface/ with source and target', async () => {
    expect((await create('standalone')).status).toBe(201);
    const text = await h.http.post('/networkinterface/').set('Content-Type', 'text/occi')
      .set('Category', KIND('networkinterface')).set('X-OCCI-Attribute', 'occi.core.id="sl1", occi.core.source="/compute/standalone", occi.core.target="/network/n1"');
    expect(text.status).toBe(201);
    expect(text.headers.location).toMatch(/\/networkinterface\/sl1$/);
    const viaJson = await h.http.post('/networkinterface/').set('Content-Type', J).set('Accept', J).send(JSON.stringify({
      kind: INFRA + 'networkinterface', id: 'sl2', source: { location: '/compute/standalone' }, target: { location: '/network/n2' },
    }));
    expect(viaJson.status).toBe(201);
    expect(json(viaJson)).toEqual(expect.objectContaining({ id: 'sl2', source: { location: '/compute/standalone' }, target: { location: '/network/n2', kind: INFRA + 'network' } }));
    expect(json(await getJson('/compute/standalone')).links.map((l: { id: string }) => l.id).sort()).toEqual(['sl1', 'sl2']);
    const orphan = await h.http.post('/networkinterface/').set('Content-Type', J).send(JSON.stringify({
      kind: INFRA + 'networkinterface', source: { location: '/compute/none' }, target: { location: '/network/n1' },
    }));
    expect(orphan.status).toBe(400);
  });

  test('a link added by POST to its resource, and deleted on its own: the resource renders the change', async () => {
    expect((await create('later')).status).toBe(201);
    const add = await h.http.post('/compute/later').set('Content-Type', 'text/occi').set('Accept', J)
      .set('Link', `</network/n1>; rel="${INFRA}network"; ${NI_CATEGORY}; occi.core.id="ll1"`);
    expect(add.status).toBe(200);
    expect(json(add).links.map((l: { id: string }) => l.id)).toEqual(['ll1']);
    expect((await h.http.delete('/networkinterface/ll1')).status).toBe(200);
    // No links left: the member is omitted (empty arrays are not rendered, rOCCI-core's minItems: 1).
    expect(json(await getJson('/compute/later'))).not.toHaveProperty('links');
    expect((await getJson('/network/n1')).status).toBe(200);
  });

  test('DELETE of a resource removes its links; DELETE of a network removes the links to it', async () => {
    expect((await h.http.delete('/compute/standalone')).status).toBe(200);
    for (const l of ['sl1', 'sl2']) expect((await getJson(`/networkinterface/${l}`)).status).toBe(404);
    expect((await getJson('/network/n1')).status).toBe(200);
    expect((await h.http.delete('/network/n2')).status).toBe(200);
    expect(json(await getJson('/compute/plainlink'))).not.toHaveProperty('links');
    const left = await h.http.get('/networkinterface/').set('Accept', 'text/uri-list');
    expect(left.text.split('\r\n').filter(Boolean).map((u) => new URL(u).pathname)).toEqual(expect.arrayContaining(['/networkinterface/jl1']));
    expect(left.text).not.toContain('sl1');
  });
});

describe('OS templates', () => {
  beforeAll(async () => {
    const res = await h.http.post('/-/?scope=provider').set('Content-Type', 'text/plain').send(
      `Category: debian; scheme="${OS}"; class="mixin"; title="Debian 12"; rel="${INFRA}os_tpl"; location="/os_tpl/debian/"\n` +
      `Category: ubuntu; scheme="${OS}"; class="mixin"; title="Ubuntu 24.04"; rel="${INFRA}os_tpl"; location="/os_tpl/ubuntu/"\n`,
    );
    expect(res.status).toBe(200);
  });

  test('associating a second os_tpl removes the first at once (entity POST and mixin collection POST)', async () => {
    expect((await create('os1', { mixins: [OS + 'debian'] })).status).toBe(201);
    const swap = await h.http.post('/compute/os1').set('Content-Type', 'text/occi').set('Accept', J).set('Category', `ubuntu; scheme="${OS}"; class="mixin"`);
    expect(swap.status).toBe(200);
    expect(swap.body.mixins).toContain(OS + 'ubuntu');
    expect(swap.body.mixins).not.toContain(OS + 'debian');
    const back = await h.http.post('/os_tpl/debian/').set('Content-Type', J).send(JSON.stringify({ 'X-OCCI-Location': ['/compute/os1'] }));
    expect(back.status).toBe(200);
    const mixins = json(await getJson('/compute/os1')).mixins;
    expect(mixins).toContain(OS + 'debian');
    expect(mixins).not.toContain(OS + 'ubuntu');
    expect((await h.http.get('/os_tpl/ubuntu/').set('Accept', 'text/uri-list')).text).toBe('');
  });

  test('two OS templates in one request: 400', async () => {
    const res = await create('os2', { mixins: [OS + 'debian', OS + 'ubuntu'] });
    expect(res.status).toBe(400);
    expect(res.body.error).toContain('os_tpl');
  });
});

describe('immutable attributes', () => {
  test('sent equal to the current value: ignored (200); different: 403 naming it, nothing changed', async () => {
    const made = await create('imm');
    const same = await h.http.post('/compute/imm').set('Content-Type', 'text/occi').set('Accept', J).set('X-OCCI-Attribute', 'occi.compute.state="active"');
    expect(same.status).toBe(200);
    expect(same.headers.etag).toBe(made.headers.etag);
    const before = await h.seq();
    for (const attr of ['occi.compute.state="inactive"', 'occi.core.id="other"', 'occitan.provider="docker"']) {
      const res = await h.http.post('/compute/imm').set('Content-Type', 'text/occi').set('Accept', 'text/occi').set('X-OCCI-Attribute', attr);
      expect(res.status).toBe(403);
      expect(res.headers['x-occi-error']).toContain(attr.split('=')[0]);
    }
    expect(await h.seq()).toBe(before);
  });

  test('a client PUTs back exactly what it GOT: 200, nothing changes', async () => {
    const got = await getJson('/compute/imm');
    const res = await h.http.put('/compute/imm').set('Content-Type', J).set('Accept', J).send(got.text);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(got.body);
    const plain = await h.http.get('/compute/imm').set('Accept', 'text/plain');
    const lines = textLines(plain).filter((l) => !l.startsWith('Link: ')).join('\n');
    const put = await h.http.put('/compute/imm').set('Content-Type', 'text/plain').send(lines + '\n');
    expect(put.status).toBe(200);
    expect(put.headers.etag).toBe(got.headers.etag);
  });
});

describe('action links', () => {
  test('only the applicable actions are rendered: an active compute shows stop, not start', async () => {
    await create('acts');
    const links = async (): Promise<string[]> => textLines(await h.http.get('/compute/acts').set('Accept', 'text/plain')).filter((l) => l.includes('?action='));
    expect(await links()).toEqual(expect.arrayContaining([`Link: </compute/acts?action=stop>; rel="${ACT}stop"`]));
    expect((await links()).join('\n')).not.toContain('?action=start');
    expect(json(await getJson('/compute/acts')).actions).toContain(ACT + 'stop');
    expect(json(await getJson('/compute/acts')).actions).not.toContain(ACT + 'start');
    await h.http.post('/compute/acts?action=stop');
    expect(await links()).toEqual([`Link: </compute/acts?action=start>; rel="${ACT}start"`]);
    expect(json(await getJson('/compute/acts')).actions).toEqual([ACT + 'start']);
    const occi = await h.http.get('/network/n1').set('Accept', 'text/occi');
    // An active network links `down`, not `up`; incoming links are not rendered on their target (GFD.185 §3.4.2).
    expect(String(occi.headers.link).replace(HOST, '')).toBe('</network/n1?action=down>; rel="http://schemas.ogf.org/occi/infrastructure/network/action#down"');
  });
});
