/**
 * Concurrent writers on one entity. `_rev` is the ETag and `If-Match` maps to it (DESIGN: CouchDB):
 * of many writers holding the same ETag exactly one wins and the others get 412; writers that re-read and
 * retry all land eventually, and no update is lost.
 */
import { INFRA, startHarness, type Harness } from '../support/harness';

const J = 'application/occi+json';
const CLIENTS = 50;
const TAG_SCHEME = 'http://example.com/occi/concurrency#';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

/** The revision number of a CouchDB revision / ETag (`"7-abc…"` → 7). */
function revNumber(etag: string): number {
  const m = /^(?:W\/)?"?(\d+)-[0-9a-f]+"?$/.exec(etag);
  if (!m) throw new Error(`not a CouchDB revision ETag: ${etag}`);
  return Number(m[1]);
}

async function createCompute(path: string, hostname: string): Promise<void> {
  const res = await h.http
    .put(path)
    .set('Content-Type', J)
    .set('Accept', J)
    .send(JSON.stringify({ kind: `${INFRA}compute`, attributes: { 'occi.compute.hostname': hostname } }));
  expect(res.status).toBe(201);
}

/** The dummy provider's record of an entity (`state:dummy:<uid>`), read straight from CouchDB. */
async function dummyRecord(path: string): Promise<{ mixins: string[]; attributes: Record<string, unknown> }> {
  const doc = await h.occitan.service.entities.get('default', path);
  if (!doc) throw new Error(`no document for ${path}`);
  const state = (await h.occitan.db.get(`state:dummy:${doc.uid}`)) as unknown as { value: { mixins: string[]; attributes: Record<string, unknown> } };
  return state.value;
}

describe('50 writers with the same ETag', () => {
  const path = '/compute/contended';
  let winner = -1;
  let winnerEtag = '';

  beforeAll(async () => {
    await createCompute(path, 'initial');
    const got = await h.http.get(path).set('Accept', J);
    expect(got.status).toBe(200);
    const etag = got.headers.etag as string;
    expect(revNumber(etag)).toBeGreaterThan(0);

    const results = await Promise.all(
      Array.from({ length: CLIENTS }, (_, k) =>
        h.http
          .post(path)
          .set('Content-Type', 'text/occi')
          .set('Accept', J)
          .set('If-Match', etag)
          .set('X-OCCI-Attribute', `occi.compute.hostname="c-${k}"`),
      ),
    );
    const statuses = results.map((r) => r.status);
    const ok = statuses.flatMap((s, k) => (s === 200 ? [k] : []));
    expect(ok).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(CLIENTS - 1);
    winner = ok[0]!;

    const won = results[winner]!;
    winnerEtag = won.headers.etag as string;
    expect(won.body.attributes['occi.compute.hostname']).toBe(`c-${winner}`);
    expect(revNumber(won.headers.etag as string)).toBe(revNumber(etag) + 1);
    for (const r of results) {
      if (r.status !== 412) continue;
      expect(r.headers['content-type']).toMatch(/^application\/occi\+json/);
      expect(r.body.status).toBe(412);
      expect(typeof r.body.error).toBe('string');
      expect(r.body.error).toContain(path);
      expect(r.headers.etag).toBeUndefined();
    }
  });

  test('the entity holds the winner\'s value, at the winner\'s revision', async () => {
    const got = await h.http.get(path).set('Accept', J);
    expect(got.status).toBe(200);
    expect(got.body.attributes['occi.compute.hostname']).toBe(`c-${winner}`);
    expect(got.headers.etag).toBe(winnerEtag);
  });

  test('the provider\'s record holds the winner\'s value too (a 412 changed nothing on the platform)', async () => {
    const record = await dummyRecord(path);
    expect(record.attributes['occi.compute.hostname']).toBe(`c-${winner}`);
  });

  test('the stale ETag is still refused afterwards, with the state unchanged', async () => {
    const before = await h.seq();
    const res = await h.http
      .post(path)
      .set('Content-Type', 'text/occi')
      .set('If-Match', '"1-00000000000000000000000000000000"')
      .set('X-OCCI-Attribute', 'occi.compute.hostname="late"');
    expect(res.status).toBe(412);
    expect(await h.seq()).toBe(before);
    const got = await h.http.get(path).set('Accept', J);
    expect(got.body.attributes['occi.compute.hostname']).toBe(`c-${winner}`);
  });
});

describe('50 writers that re-read and retry until they win: no update lost', () => {
  const path = '/compute/chain';
  const mixinId = (k: number): string => `${TAG_SCHEME}m${k}`;
  const wins: number[] = [];
  const refused: number[] = Array.from({ length: CLIENTS }, () => 0);
  let startRev = 0;

  beforeAll(async () => {
    // One user mixin per client: each client's update adds its own, so a lost update is a missing mixin.
    const mixins = await h.http
      .post('/-/')
      .set('Content-Type', J)
      .set('Accept', J)
      .send(JSON.stringify({ mixins: Array.from({ length: CLIENTS }, (_, k) => ({ term: `m${k}`, scheme: TAG_SCHEME, location: `/chain-m${k}/` })) }));
    expect(mixins.status).toBe(200);
    await createCompute(path, 'chain');
    const got = await h.http.get(path);
    expect(got.status).toBe(200);
    startRev = revNumber(got.headers.etag as string);

    // Each client: GET (ETag), POST its mixin and summary with If-Match; on 412 read again. Bounded: a client
    // needs at most CLIENTS rounds, since every round somebody wins.
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, k) => {
        for (let round = 0; round <= CLIENTS * 2; round++) {
          const cur = await h.http.get(path).set('Accept', J);
          expect(cur.status).toBe(200);
          const res = await h.http
            .post(path)
            .set('Content-Type', J)
            .set('Accept', J)
            .set('If-Match', cur.headers.etag as string)
            .send(JSON.stringify({ mixins: [mixinId(k)], attributes: { 'occi.core.summary': `written by ${k}` } }));
          if (res.status === 200) {
            wins.push(k);
            return;
          }
          expect(res.status).toBe(412);
          refused[k]!++;
        }
        throw new Error(`client ${k} never won`);
      }),
    );
  }, 120000);

  test('every client won exactly once', () => {
    expect(wins).toHaveLength(CLIENTS);
    expect([...wins].sort((a, b) => a - b)).toEqual(Array.from({ length: CLIENTS }, (_, k) => k));
  });

  test('the revision moved by exactly 50: one write per success, none for a 412', async () => {
    const got = await h.http.get(path);
    expect(got.status).toBe(200);
    expect(revNumber(got.headers.etag as string)).toBe(startRev + CLIENTS);
  });

  test('the entity carries all 50 mixins and the last winner\'s summary', async () => {
    const got = await h.http.get(path).set('Accept', J);
    expect(got.status).toBe(200);
    const mixins = got.body.mixins as string[];
    for (let k = 0; k < CLIENTS; k++) expect(mixins).toContain(mixinId(k));
    const last = `written by ${wins[wins.length - 1]}`;
    expect(got.body.summary).toBe(last);
    expect(got.body.attributes['occi.core.summary']).toBe(last);
  });

  test('each mixin collection lists the entity', async () => {
    for (const k of [0, 17, 49]) {
      const res = await h.http.get(`/chain-m${k}/`).set('Accept', 'text/uri-list');
      expect(res.status).toBe(200);
      expect(res.headers['x-occi-total']).toBe('1');
      expect(res.text.split(/\r?\n/).filter(Boolean).map((u) => new URL(u).pathname)).toEqual([path]);
    }
  });

  test('the provider\'s record has all 50 mixins', async () => {
    const record = await dummyRecord(path);
    for (let k = 0; k < CLIENTS; k++) expect(record.mixins).toContain(mixinId(k));
  });
});
