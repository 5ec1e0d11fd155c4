/**
 * The query interface (occi-spec.md §3.5, §4.1, §4.6, §5.8; edge cases 4, 14, 15, 19, 21, 30): GET /-/ in
 * every rendering and its /.well-known mirror, hand-written golden Category lines, filters, user mixins
 * (POST / DELETE), and pyOCNI's admin flows of its HowTo §4.1 with the JSON files of its §10.
 *
 * Not covered here: 403 for a non-admin deleting a provider category (test/http/admin-only.test.ts runs
 * occitan with tokens; this harness's caller is the loopback admin).
 */
import { COMPUTE_CATEGORY, INFRA, startHarness, type Harness } from '../support/harness';

const HOST = 'occi.example.com';
const BASE = `http://${HOST}`;
const JSON_TYPE = 'application/occi+json';
const CORE = 'http://schemas.ogf.org/occi/core#';
const COMPUTE_ACTION = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const get = (path: string) => h.http.get(path).set('Host', HOST);

/** Splits a comma-joined header value outside quoted-strings (honouring `\"`), as GFD.185 clients must. */
function splitHeader(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted && c === '\\') {
      cur += c + (value[++i] ?? '');
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** The Category lines of a text/plain body. */
const plainCategories = (body: string): string[] => body.split('\n').filter((l) => l !== '');

interface JsonCategory {
  term: string;
  scheme: string;
  title?: string;
  location?: string;
  parent?: string;
  attributes?: Record<string, { mutable: unknown; required: unknown; type: unknown; default?: unknown }>;
  actions?: string[];
  depends?: string[];
  applies?: string[];
}
interface Model {
  kinds?: JsonCategory[];
  mixins?: JsonCategory[];
  actions?: JsonCategory[];
}
const ids = (list: JsonCategory[] | undefined): string[] => (list ?? []).map((c) => c.scheme + c.term);

// Hand-written from the ABNF (occi-spec.md §4.1: term; scheme; class; title; rel; location; attributes;
// actions) and the shipped categories (categories/infrastructure.yaml).
const COMPUTE_LINE =
  'Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"; title="Compute Resource"; ' +
  'rel="http://schemas.ogf.org/occi/core#resource"; location="http://occi.example.com/compute/"; ' +
  'attributes="occi.compute.architecture occi.compute.cores occi.compute.hostname occi.compute.share occi.compute.memory ' +
  'occi.compute.speed occi.compute.state{immutable} occi.compute.state.message{immutable}"; ' +
  'actions="http://schemas.ogf.org/occi/infrastructure/compute/action#start http://schemas.ogf.org/occi/infrastructure/compute/action#stop ' +
  'http://schemas.ogf.org/occi/infrastructure/compute/action#restart http://schemas.ogf.org/occi/infrastructure/compute/action#suspend ' +
  'http://schemas.ogf.org/occi/infrastructure/compute/action#save"';
const START_LINE = 'Category: start; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"; title="Start the compute instance"';
const STOP_LINE = 'Category: stop; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"; title="Stop the compute instance"; attributes="method"';
// A mixin: no rel (depends is empty) and never `applies` (spec edge case 14).
const IPNETWORK_LINE =
  'Category: ipnetwork; scheme="http://schemas.ogf.org/occi/infrastructure/network#"; class="mixin"; title="IP Networking Mixin"; ' +
  'location="http://occi.example.com/mixins/ipnetwork/"; attributes="occi.network.address occi.network.gateway occi.network.allocation"';
const STORAGE_SIZE_REQUIRED = 'attributes="occi.storage.size{required} occi.storage.state{immutable} occi.storage.state.message{immutable}"';

describe('GET /-/', () => {
  test.each([
    ['no Accept', undefined],
    ['Accept: */*', '*/*'],
    ['Accept: text/plain', 'text/plain'],
  ])('%s: text/plain, one Category line per kind, mixin and action', async (_label, accept) => {
    const req = get('/-/');
    if (accept) req.set('Accept', accept);
    const r = await req;
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain(;|$)/);
    const lines = plainCategories(r.text);
    expect(lines.every((l) => l.startsWith('Category: '))).toBe(true);
    expect(lines).toContain(COMPUTE_LINE);
    expect(lines).toContain(START_LINE);
    expect(lines).toContain(STOP_LINE);
    expect(lines).toContain(IPNETWORK_LINE);
    expect(lines.find((l) => l.startsWith('Category: storage;'))).toContain(STORAGE_SIZE_REQUIRED);
    // core#entity is abstract and bound to no location (GFD.223 §Namespace).
    const entity = lines.find((l) => l.startsWith('Category: entity;'));
    expect(entity).toBe('Category: entity; scheme="http://schemas.ogf.org/occi/core#"; class="kind"; title="Entity"; attributes="occi.core.id{immutable} occi.core.title"');
  });

  test('text/occi: the same categories in Category headers, body exactly OK', async () => {
    const [occi, plain] = await Promise.all([get('/-/').set('Accept', 'text/occi'), get('/-/')]);
    expect(occi.status).toBe(200);
    expect(occi.headers['content-type']).toMatch(/^text\/occi(;|$)/);
    expect(occi.text).toBe('OK');
    const values = splitHeader(occi.headers['category'] as string);
    expect(values).toContain(COMPUTE_LINE.slice('Category: '.length));
    expect(values).toContain(START_LINE.slice('Category: '.length));
    expect(values).toContain(IPNETWORK_LINE.slice('Category: '.length));
    expect(values.map((v) => `Category: ${v}`).sort()).toEqual(plainCategories(plain.text).sort());
  });

  test('application/occi+json: kinds, mixins and actions; every attribute description explicit', async () => {
    const r = await get('/-/').set('Accept', JSON_TYPE);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/occi\+json(;|$)/);
    const model = r.body as Model;
    expect(Object.keys(model).sort()).toEqual(['actions', 'kinds', 'mixins']);
    const all = [...model.kinds!, ...model.mixins!, ...model.actions!];
    for (const c of all) {
      expect(typeof c.term).toBe('string');
      expect(c.scheme).toMatch(/#$/);
      for (const [name, d] of Object.entries(c.attributes ?? {})) {
        expect([name, typeof d.mutable, typeof d.required]).toEqual([name, 'boolean', 'boolean']);
        expect(['string', 'number', 'boolean', 'array', 'object']).toContain(d.type);
      }
    }
    for (const k of model.kinds!) {
      // Empty arrays are omitted (rOCCI-core's minItems: 1): absent, or a non-empty array.
      expect(k.actions === undefined || (Array.isArray(k.actions) && k.actions.length > 0)).toBe(true);
      if (k.scheme + k.term !== CORE + 'entity') {
        expect(k.parent).toMatch(/#/);
        expect(k.location).toMatch(new RegExp(`^${BASE}/.+/$`));
      }
    }
    for (const m of model.mixins!) {
      expect(m.location).toMatch(new RegExp(`^${BASE}/.+/$`));
      for (const a of [m.depends, m.applies, m.actions]) expect(a === undefined || (Array.isArray(a) && a.length > 0)).toBe(true);
    }
    for (const a of model.actions!) expect(a.location).toBeUndefined();
    const compute = model.kinds!.find((k) => k.scheme + k.term === INFRA + 'compute')!;
    expect(compute.title).toBe('Compute Resource');
    expect(compute.parent).toBe(CORE + 'resource');
    expect(compute.location).toBe(`${BASE}/compute/`);
    expect(compute.actions).toEqual(['start', 'stop', 'restart', 'suspend', 'save'].map((t) => COMPUTE_ACTION + t));
    expect(compute.attributes!['occi.compute.state']).toMatchObject({ mutable: false, required: false, type: 'string', default: 'inactive' });
    expect(compute.attributes!['occi.compute.cores']).toMatchObject({ mutable: true, required: false, type: 'number' });
    const storage = model.kinds!.find((k) => k.scheme + k.term === INFRA + 'storage')!;
    expect(storage.attributes!['occi.storage.size']).toMatchObject({ mutable: true, required: true, type: 'number' });
    const stop = model.actions!.find((a) => a.scheme + a.term === COMPUTE_ACTION + 'stop')!;
    expect(stop.attributes!.method).toMatchObject({ mutable: true, required: false, type: 'string' });
    const ipnetwork = model.mixins!.find((m) => m.term === 'ipnetwork')!;
    expect(ipnetwork.applies).toEqual([INFRA + 'network']);
  });

  test.each([
    ['text/plain', 'text/plain'],
    ['text/occi', 'text/occi'],
    ['application/occi+json', JSON_TYPE],
  ])('/.well-known/org/ogf/occi/-/ mirrors /-/ exactly in %s', async (_label, accept) => {
    const [a, b] = await Promise.all([get('/-/').set('Accept', accept), get('/.well-known/org/ogf/occi/-/').set('Accept', accept)]);
    expect(b.status).toBe(200);
    expect(b.headers['content-type']).toBe(a.headers['content-type']);
    expect(b.headers['category']).toBe(a.headers['category']);
    expect(b.text).toBe(a.text);
  });
});

describe('filters on GET /-/', () => {
  test('a Category header returns exactly that category (text/plain)', async () => {
    const r = await get('/-/').set('Category', COMPUTE_CATEGORY);
    expect(r.status).toBe(200);
    expect(plainCategories(r.text)).toEqual([COMPUTE_LINE]);
  });

  test('a Category header without class (the 1.1 compliance test) returns exactly one category (text/occi)', async () => {
    const r = await get('/-/').set('Accept', 'text/occi').set('Category', `compute; scheme="${INFRA}"`);
    expect(r.status).toBe(200);
    expect(splitHeader(r.headers['category'] as string)).toEqual([COMPUTE_LINE.slice('Category: '.length)]);
    expect(r.text).toBe('OK');
  });

  test.each([
    ['a term', '?category=compute'],
    ['a full type id', `?category=${encodeURIComponent(INFRA + 'compute')}`],
  ])('?category= with %s returns exactly compute', async (_label, query) => {
    const r = await get(`/-/${query}`).set('Accept', JSON_TYPE);
    expect(r.status).toBe(200);
    const model = r.body as Model;
    expect([...ids(model.kinds), ...ids(model.mixins), ...ids(model.actions)]).toEqual([INFRA + 'compute']);
  });

  test('the Category filter also works on the /.well-known mirror', async () => {
    const r = await get('/.well-known/org/ogf/occi/-/').set('Category', `start; scheme="${COMPUTE_ACTION}"; class="action"`);
    expect(r.status).toBe(200);
    expect(plainCategories(r.text)).toEqual([START_LINE]);
  });

  test('pyOCNI filter_categories.json on GET: only actions having a method parameter', async () => {
    // pyOCNI HowTo §10 filter_categories.json, verbatim (its line breaks folded into spaces).
    const filter = `{ "actions": [ { "attributes": { "method": { "mutable": true, "required": false, "type": "string", "pattern": "graceful|acpioff|poweroff", "default": "poweroff" } } } ] }`;
    const r = await get('/-/').set('Content-Type', JSON_TYPE).set('Accept', JSON_TYPE).send(filter);
    expect(r.status).toBe(200);
    const model = r.body as Model;
    expect(model.kinds ?? []).toEqual([]);
    expect(model.mixins ?? []).toEqual([]);
    expect(ids(model.actions)).toContain(COMPUTE_ACTION + 'stop');
    expect(ids(model.actions)).not.toContain(COMPUTE_ACTION + 'start');
    for (const a of model.actions!) expect(Object.keys(a.attributes ?? {})).toContain('method');
  });
});

describe('user mixins on /-/', () => {
  const MY_STUFF = 'my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin"; location="/my_stuff/"';
  const MY_STUFF_LINE = `Category: my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin"; location="${BASE}/my_stuff/"`;

  test('POST in text/occi: 200, then listed, and its location is an (empty) mixin collection', async () => {
    const r = await h.http.post('/-/').set('Host', HOST).set('Content-Type', 'text/occi').set('Accept', 'text/occi').set('Category', MY_STUFF);
    expect(r.status).toBe(200);
    expect(r.text).toBe('OK');
    expect(splitHeader(r.headers['category'] as string)).toEqual([MY_STUFF_LINE.slice('Category: '.length)]);
    expect(plainCategories((await get('/-/')).text)).toContain(MY_STUFF_LINE);
    const members = await get('/my_stuff/');
    expect(members.status).toBe(200);
    expect(members.text).toBe('');
    const json = await get('/my_stuff/').set('Accept', JSON_TYPE);
    expect(json.status).toBe(200);
    expect(json.body).toEqual({ resources: [] });
  });

  test('POST in JSON: 200 with the created mixin; its rel in text is its first depends', async () => {
    const body = { mixins: [{ term: 'tagged', scheme: 'http://example.com/occi/tags#', title: 'Tagged', depends: ['http://example.com/occi/my_stuff#my_stuff'], location: '/tags/tagged/' }] };
    const r = await h.http.post('/-/').set('Host', HOST).set('Content-Type', JSON_TYPE).set('Accept', JSON_TYPE).send(JSON.stringify(body));
    expect(r.status).toBe(200);
    const created = (r.body as Model).mixins!;
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ term: 'tagged', scheme: 'http://example.com/occi/tags#', title: 'Tagged', location: `${BASE}/tags/tagged/`, depends: ['http://example.com/occi/my_stuff#my_stuff'] });
    expect(plainCategories((await get('/-/')).text)).toContain(
      `Category: tagged; scheme="http://example.com/occi/tags#"; class="mixin"; title="Tagged"; rel="http://example.com/occi/my_stuff#my_stuff"; location="${BASE}/tags/tagged/"`,
    );
    expect((await get('/tags/tagged/')).status).toBe(200);
  });

  test('the same scheme#term again: 409, nothing stored', async () => {
    const before = await h.seq();
    const r = await h.http.post('/-/').set('Content-Type', 'text/occi').set('Category', 'my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin"; location="/elsewhere/"');
    expect(r.status).toBe(409);
    expect(r.text).toContain('http://example.com/occi/my_stuff#my_stuff');
    expect(await h.seq()).toBe(before);
  });

  test.each([
    ['a kind (/compute/)', '/compute/', INFRA + 'compute'],
    ['another mixin (/my_stuff/)', '/my_stuff/', 'http://example.com/occi/my_stuff#my_stuff'],
  ])('a location clashing with %s: 409 naming the owner, nothing stored', async (_label, location, owner) => {
    const before = await h.seq();
    const r = await h.http.post('/-/').set('Content-Type', 'text/occi').set('Accept', JSON_TYPE).set('Category', `clash; scheme="http://example.com/occi/clash#"; class="mixin"; location="${location}"`);
    expect(r.status).toBe(409);
    expect(r.body).toEqual({ status: 409, error: expect.stringContaining(owner) });
    expect(await h.seq()).toBe(before);
    expect(plainCategories((await get('/-/')).text).some((l) => l.startsWith('Category: clash;'))).toBe(false);
  });

  test('DELETE: 200, gone from /-/, its location unbound, and its entities no longer carry it', async () => {
    const made = await h.http.post('/compute/').set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY);
    expect(made.status).toBe(201);
    const vm = new URL(made.headers.location as string).pathname;
    const assoc = await h.http.post('/my_stuff/').set('Content-Type', 'text/occi').set('X-OCCI-Location', vm);
    expect(assoc.status).toBe(200);
    expect((await get(vm)).text).toContain('Category: my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin"');
    // tagged depends on my_stuff: deleting my_stuff first would leave tagged's rel dangling.
    const before = await h.seq();
    const refused = await h.http.delete('/-/').set('Content-Type', 'text/occi').set('Category', 'my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin"');
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('http://example.com/occi/tags#tagged depends on http://example.com/occi/my_stuff#my_stuff');
    expect(await h.seq()).toBe(before);
    const d1 = await h.http.delete('/-/').set('Content-Type', 'text/occi').set('Category', 'tagged; scheme="http://example.com/occi/tags#"; class="mixin"');
    expect(d1.status).toBe(200);
    const d2 = await h.http.delete('/-/').set('Content-Type', 'text/occi').set('Accept', 'text/occi').set('Category', 'my_stuff; scheme="http://example.com/occi/my_stuff#"; class="mixin"');
    expect(d2.status).toBe(200);
    expect(d2.text).toBe('OK');
    const listing = plainCategories((await get('/-/')).text);
    expect(listing.some((l) => l.startsWith('Category: my_stuff;') || l.startsWith('Category: tagged;'))).toBe(false);
    expect((await get('/my_stuff/')).status).toBe(404);
    const after = await get(vm);
    expect(after.status).toBe(200);
    expect(after.text).not.toContain('my_stuff');
    expect((await h.http.delete(vm)).status).toBe(200);
  });
});

describe('pyOCNI category management (HowTo §4.1, files of §10)', () => {
  // post_categories.json, verbatim. The other files below keep every token (even "http: //") with line breaks folded.
  const POST_CATEGORIES = String.raw`{
    "kinds": [
        {
            "term": "compute",
            "scheme": "http://schemas.ogf.org/occi/infrastructure#",
            "title": "Compute Resource",
            "related": [
                "http://schemas.ogf.org/occi/core#resource"
            ],
            "attributes": {
                "occi": {
                    "compute": {
                        "hostname": {
                            "mutable": true,
                            "required": false,
                            "type": "string",
                            "pattern": "(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\\\-]*[a-zA-Z0-9])\\\\.)*",
                            "minimum": "1",
                            "maximum": "255"
                        },
                        "state": {
                            "mutable": false,
                            "required": false,
                            "type": "string",
                            "pattern": "inactive|active|suspended|failed",
                            "default": "inactive"
                        }
                    }
                }
            },
            "actions": [
                "http://schemas.ogf.org/occi/infrastructure/compute/action#start",
                "http://schemas.ogf.org/occi/infrastructure/compute/action#stop",
                "http://schemas.ogf.org/occi/infrastructure/compute/action#restart"
            ],
            "location": "/compute/"
        }
    ]
}`;
  const send = (method: 'post' | 'put' | 'delete', body: string) =>
    h.http[method]('/-/').set('Host', HOST).set('Content-Type', JSON_TYPE).set('Accept', JSON_TYPE).send(body);
  const model = async (): Promise<Model> => (await get('/-/').set('Accept', JSON_TYPE)).body as Model;

  test('post_categories.json verbatim: 409, compute already exists, nothing stored', async () => {
    const before = await h.seq();
    const r = await send('post', POST_CATEGORIES);
    expect(r.status).toBe(409);
    expect(r.body).toEqual({ status: 409, error: expect.stringContaining(`${INFRA}compute already exists`) });
    expect(await h.seq()).toBe(before);
  });

  test('the same file with a new term and location: 200, listed, and instantiable', async () => {
    const body = POST_CATEGORIES.replace('"term": "compute"', '"term": "orchestrator"').replace('"location": "/compute/"', '"location": "/orchestrator/"');
    const r = await send('post', body);
    expect(r.status).toBe(200);
    const kind = (await model()).kinds!.find((k) => k.scheme + k.term === INFRA + 'orchestrator')!;
    expect(kind).toMatchObject({ title: 'Compute Resource', parent: CORE + 'resource', location: `${BASE}/orchestrator/` });
    expect(kind.actions).toEqual(['start', 'stop', 'restart'].map((t) => COMPUTE_ACTION + t));
    expect(kind.attributes!['occi.compute.state']).toMatchObject({ mutable: false, required: false, type: 'string', default: 'inactive' });
    expect(kind.attributes!['occi.compute.hostname']).toMatchObject({ mutable: true, required: false, type: 'string' });
    const made = await h.http.post('/orchestrator/').set('Content-Type', 'text/occi').set('Category', `orchestrator; scheme="${INFRA}"; class="kind"`);
    expect(made.status).toBe(201);
    expect(new URL(made.headers.location as string).pathname).toMatch(/^\/orchestrator\/[^/]+$/);
    expect((await h.http.delete(new URL(made.headers.location as string).pathname)).status).toBe(200);
  });

  test('put_categories.json verbatim updates resource_tpl', async () => {
    const body = `{ "mixins": [ { "term": "resource_tpl", "scheme": "http: //schemas.ogf.org/occi/infrastructure#", "title": "MediumVM", "related": [], "attributes": { "occi": { "compute": { "speed": { "type": "number", "default": 2.8 } } } }, "location": "/template/resource/resource_tpl/" } ] }`;
    const r = await send('put', body);
    expect(r.status).toBe(200);
    const tpl = (await model()).mixins!.find((m) => m.scheme + m.term === INFRA + 'resource_tpl')!;
    expect(tpl).toMatchObject({ title: 'MediumVM', location: `${BASE}/template/resource/resource_tpl/` });
    expect(tpl).not.toHaveProperty('depends'); // none, and an empty array is omitted
    // GFD.226 defaults (mutable false, required false) made explicit.
    expect(tpl.attributes).toEqual({ 'occi.compute.speed': { mutable: false, required: false, type: 'number', default: 2.8 } });
    expect((await get('/template/resource/resource_tpl/')).status).toBe(200);
    expect((await get('/resource_tpl/')).status).toBe(404);
  });

  test('delete_categories.json verbatim: 403, storage is a provider-defined kind the spec requires (OCCI 1.1)', async () => {
    const body = `{ "kinds": [ { "term": "storage", "scheme": "http: //schemas.ogf.org/occi/infrastructure#" } ] }`;
    const made = await h.http.post('/storage/').set('Content-Type', 'text/occi').set('Category', `storage; scheme="${INFRA}"; class="kind"`).set('X-OCCI-Attribute', 'occi.storage.size=1');
    expect(made.status).toBe(201);
    const before = await h.seq();
    const refused = await send('delete', body);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ status: 403, error: expect.stringContaining(`${INFRA}storage`) });
    expect(await h.seq()).toBe(before);
    expect(ids((await model()).kinds)).toContain(INFRA + 'storage');

    // Unused, it is still refused.
    expect((await h.http.delete(new URL(made.headers.location as string).pathname)).status).toBe(200);
    const again = await send('delete', body);
    expect(again.status).toBe(403);
    expect(ids((await model()).kinds)).toContain(INFRA + 'storage');
    expect((await get('/storage/')).status).toBe(200);
  });

  test('deleting an admin-defined category: 409 while an entity uses it, then 200 and its collection is gone', async () => {
    const gold = { term: 'gold', scheme: 'http://example.com/flavours#', location: '/gold/', applies: [INFRA + 'compute'] };
    expect((await h.http.post('/-/?scope=provider').set('Host', HOST).set('Content-Type', JSON_TYPE).send(JSON.stringify({ mixins: [gold] }))).status).toBe(200);
    const made = await h.http.post('/compute/').set('Content-Type', 'text/occi')
      .set('Category', `compute; scheme="${INFRA}"; class="kind", gold; scheme="http://example.com/flavours#"; class="mixin"`);
    expect(made.status).toBe(201);
    const body = JSON.stringify({ mixins: [{ term: 'gold', scheme: 'http://example.com/flavours#' }] });
    const before = await h.seq();
    const refused = await send('delete', body);
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({ status: 409, error: expect.stringContaining('http://example.com/flavours#gold') });
    expect(await h.seq()).toBe(before);
    expect(ids((await model()).mixins)).toContain('http://example.com/flavours#gold');

    expect((await h.http.delete(new URL(made.headers.location as string).pathname)).status).toBe(200);
    const r = await send('delete', body);
    expect(r.status).toBe(200);
    expect(ids((await model()).mixins)).not.toContain('http://example.com/flavours#gold');
    expect((await get('/gold/')).status).toBe(404);
  });

  test('update_provider.json verbatim (PUT /-/): 200 and compute is served by dummy', async () => {
    const body = `{ "providers": [ { "Provider": { "local": [ "dummy" ], "remote": [ "Bilel" ] }, "OCCI_ID": "http://schemas.ogf.org/occi/infrastructure#compute" } ] }`;
    const r = await send('put', body);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/json/);
    const row = (r.body as { kinds: Record<string, { providers: string[]; default?: string }> }).kinds[INFRA + 'compute']!;
    expect(row.default).toBe('dummy');
    expect(row.providers).toEqual(['dummy']);
  });

  test('a provider update naming an unknown local provider: 400 naming it, table unchanged', async () => {
    const before = await h.seq();
    const body = JSON.stringify({ providers: [{ Provider: { local: ['openstack'], remote: [] }, OCCI_ID: INFRA + 'compute' }] });
    const r = await send('put', body);
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ status: 400, error: expect.stringContaining('openstack') });
    expect(await h.seq()).toBe(before);
  });
});
