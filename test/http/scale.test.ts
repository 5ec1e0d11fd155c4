/**
 * Scale: 1,000 computes in one kind collection. Listing, filtering by mixin and by attribute, and
 * paging (GFD.223 §Pagination: `page`/`number`; totals and neighbours in X-OCCI-Total/Next/Prev, a page
 * past the end is 200 with an empty collection).
 */
import { INFRA, startHarness, type Harness } from '../support/harness';

const N = 1000;
const BATCH = 100;
const WORKERS = 5;
const JSON_TYPE = 'application/occi+json';
const TAG_SCHEME = 'http://example.com/occi/scale#';
const TAG = `${TAG_SCHEME}tag`;

let h: Harness;
/** Location path of compute i, from the 201 responses. */
const byHost = new Map<string, string>();

const hostname = (i: number): string => `h-${String(i).padStart(4, '0')}`;
const pathOf = (url: string): string => new URL(url).pathname;

/** The location paths of a text/plain listing (one `X-OCCI-Location: <url>` line per entity). */
function plainLocations(text: string): string[] {
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const m = /^X-OCCI-Location:\s*(\S+)\s*$/.exec(l);
      if (!m) throw new Error(`not a location line: ${JSON.stringify(l)}`);
      return pathOf(m[1]!);
    });
}

beforeAll(async () => {
  h = await startHarness();
  const mixin = await h.http
    .post('/-/')
    .set('Content-Type', JSON_TYPE)
    .set('Accept', JSON_TYPE)
    .send(JSON.stringify({ mixins: [{ term: 'tag', scheme: TAG_SCHEME, title: 'every tenth compute', location: '/tag/' }] }));
  expect(mixin.status).toBe(200);

  const started = Date.now();
  // Ten batches of 100, sent by WORKERS clients at once (creation is CPU-bound in one process; overlapping
  // requests hide the round trips). Hostname h-NNNN is entity NNNN % 100 of batch NNNN / 100.
  const sendBatch = async (b: number): Promise<void> => {
    const resources = [];
    for (let i = b * BATCH; i < (b + 1) * BATCH; i++) {
      resources.push({
        kind: `${INFRA}compute`,
        ...(i % 10 === 0 ? { mixins: [TAG] } : {}),
        attributes: { 'occi.compute.hostname': hostname(i) },
      });
    }
    // text/plain: one location per entity, in the order of the request (the JSON rendering has no location member).
    const res = await h.http
      .post('/compute/')
      .set('Content-Type', JSON_TYPE)
      .set('Accept', 'text/plain')
      .send(JSON.stringify({ resources }));
    expect(res.status).toBe(201);
    const made = plainLocations(res.text);
    expect(made).toHaveLength(BATCH);
    expect(pathOf(res.headers.location as string)).toBe(made[0]);
    made.forEach((p, k) => byHost.set(hostname(b * BATCH + k), p));
  };
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      for (let b = w; b < N / BATCH; b += WORKERS) await sendBatch(b);
    }),
  );
  // Reported, never asserted: how long 1,000 creates take on this machine.
  process.stdout.write(`scale: ${N} computes created in ${Date.now() - started} ms\n`);
}, 180000);

afterAll(async () => h?.close());

test('every create answered with its own location', () => {
  expect(byHost.size).toBe(N);
  expect(new Set(byHost.values()).size).toBe(N);
  for (const p of byHost.values()) expect(p).toMatch(/^\/compute\/[^/]+$/);
});

test('a sample of the computes reads back with its hostname and mixins', async () => {
  for (const i of [0, 1, 42, 500, 999]) {
    const res = await h.http.get(byHost.get(hostname(i))!).set('Accept', JSON_TYPE);
    expect(res.status).toBe(200);
    expect(res.body.kind).toBe(`${INFRA}compute`);
    expect(res.body.attributes['occi.compute.hostname']).toBe(hostname(i));
    expect((res.body.mixins ?? []).includes(TAG)).toBe(i % 10 === 0);
  }
});

test('the kind collection lists exactly the 1,000 computes', async () => {
  const res = await h.http.get('/compute/').set('Accept', 'text/plain');
  expect(res.status).toBe(200);
  expect(res.headers['x-occi-total']).toBe(String(N));
  const locs = plainLocations(res.text);
  expect(locs).toHaveLength(N);
  expect(new Set(locs)).toEqual(new Set(byHost.values()));
});

test('the kind collection in JSON: 1,000 resources with their hostnames', async () => {
  const res = await h.http.get('/compute/').set('Accept', JSON_TYPE);
  expect(res.status).toBe(200);
  expect(res.headers['x-occi-total']).toBe(String(N));
  const resources = res.body.resources as Array<{ kind: string; attributes: Record<string, unknown> }>;
  expect(resources).toHaveLength(N);
  const hosts = resources.map((r) => r.attributes['occi.compute.hostname']).sort();
  expect(hosts).toEqual(Array.from({ length: N }, (_, i) => hostname(i)));
  for (const r of resources) expect(r.kind).toBe(`${INFRA}compute`);
});

test('the user mixin location lists the 100 tagged computes', async () => {
  const res = await h.http.get('/tag/').set('Accept', 'text/plain');
  expect(res.status).toBe(200);
  expect(res.headers['x-occi-total']).toBe('100');
  const expected = Array.from({ length: N / 10 }, (_, k) => byHost.get(hostname(k * 10))!);
  expect(new Set(plainLocations(res.text))).toEqual(new Set(expected));
  expect(plainLocations(res.text)).toHaveLength(100);
});

test('filtering the kind collection by the mixin (Category header) gives the same 100', async () => {
  const res = await h.http
    .get('/compute/')
    .set('Accept', 'text/plain')
    .set('Category', `tag; scheme="${TAG_SCHEME}"; class="mixin"`);
  expect(res.status).toBe(200);
  expect(res.headers['x-occi-total']).toBe('100');
  const locs = plainLocations(res.text);
  expect(locs).toHaveLength(100);
  expect(new Set(locs)).toEqual(new Set(Array.from({ length: N / 10 }, (_, k) => byHost.get(hostname(k * 10))!)));
});

test('filtering by attribute in an X-OCCI-Attribute header finds exactly one', async () => {
  const res = await h.http.get('/compute/').set('Accept', 'text/plain').set('X-OCCI-Attribute', 'occi.compute.hostname="h-0042"');
  expect(res.status).toBe(200);
  expect(res.headers['x-occi-total']).toBe('1');
  expect(plainLocations(res.text)).toEqual([byHost.get('h-0042')]);
});

test('filtering by ?attribute=&value= finds exactly one', async () => {
  const plain = await h.http.get('/compute/?attribute=occi.compute.hostname&value=h-0042').set('Accept', 'text/plain');
  expect(plain.status).toBe(200);
  expect(plain.headers['x-occi-total']).toBe('1');
  expect(plainLocations(plain.text)).toEqual([byHost.get('h-0042')]);
  const json = await h.http.get('/compute/?attribute=occi.compute.hostname&value=h-0042').set('Accept', JSON_TYPE);
  expect(json.status).toBe(200);
  expect(json.headers['x-occi-total']).toBe('1');
  const resources = json.body.resources as Array<{ attributes: Record<string, unknown> }>;
  expect(resources).toHaveLength(1);
  expect(resources[0]!.attributes['occi.compute.hostname']).toBe('h-0042');
});

test('an attribute filter that matches nothing is 200 with an empty listing', async () => {
  const res = await h.http.get('/compute/?attribute=occi.compute.hostname&value=h-9999').set('Accept', 'text/plain');
  expect(res.status).toBe(200);
  expect(res.headers['x-occi-total']).toBe('0');
  expect(plainLocations(res.text)).toEqual([]);
});

test('paging by 150 covers all 1,000 exactly once, with correct totals and neighbours', async () => {
  const number = 150;
  const pages = Math.ceil(N / number); // 7: six full pages and one of 100
  const seen: string[] = [];
  for (let page = 1; page <= pages + 1; page++) {
    const res = await h.http.get(`/compute/?page=${page}&number=${number}`).set('Accept', 'text/plain');
    expect(res.status).toBe(200);
    expect(res.headers['x-occi-total']).toBe(String(N));
    const locs = plainLocations(res.text);
    const expectedSize = page < pages ? number : page === pages ? N - (pages - 1) * number : 0;
    expect(locs).toHaveLength(expectedSize);
    seen.push(...locs);

    const next = res.headers['x-occi-next'] as string | undefined;
    const prev = res.headers['x-occi-prev'] as string | undefined;
    if (page < pages) {
      expect(next).toBeDefined();
      const u = new URL(next!);
      expect(u.pathname).toBe('/compute/');
      expect(u.searchParams.get('page')).toBe(String(page + 1));
      expect(u.searchParams.get('number')).toBe(String(number));
    } else {
      expect(next).toBeUndefined();
    }
    if (page > 1) {
      expect(prev).toBeDefined();
      const u = new URL(prev!);
      expect(u.pathname).toBe('/compute/');
      expect(u.searchParams.get('page')).toBe(String(page - 1));
      expect(u.searchParams.get('number')).toBe(String(number));
    } else {
      expect(prev).toBeUndefined();
    }
  }
  expect(seen).toHaveLength(N);
  expect(new Set(seen).size).toBe(N);
  expect(new Set(seen)).toEqual(new Set(byHost.values()));
});

test('paging a filtered collection: the mixin\'s 100 in pages of 30', async () => {
  const seen: string[] = [];
  const sizes: number[] = [];
  for (let page = 1; page <= 5; page++) {
    const res = await h.http.get(`/tag/?page=${page}&number=30`).set('Accept', 'text/plain');
    expect(res.status).toBe(200);
    expect(res.headers['x-occi-total']).toBe('100');
    const locs = plainLocations(res.text);
    sizes.push(locs.length);
    seen.push(...locs);
    if (page < 4) expect(new URL(res.headers['x-occi-next'] as string).searchParams.get('page')).toBe(String(page + 1));
    else expect(res.headers['x-occi-next']).toBeUndefined();
  }
  expect(sizes).toEqual([30, 30, 30, 10, 0]);
  expect(new Set(seen).size).toBe(100);
});

test('the page past the end in JSON is 200 with an empty collection', async () => {
  const res = await h.http.get('/compute/?page=8&number=150').set('Accept', JSON_TYPE);
  expect(res.status).toBe(200);
  expect(res.headers['x-occi-total']).toBe(String(N));
  expect(res.headers['x-occi-next']).toBeUndefined();
  expect(new URL(res.headers['x-occi-prev'] as string).searchParams.get('page')).toBe('7');
  expect(res.body.resources ?? []).toEqual([]);
});
