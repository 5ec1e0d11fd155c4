/**
 * Two in-process occitans (each with its own embedded memory store) in one jest file: closing one must
 * leave the other's store whole. It did not (test/http/fuzz-regressions.test.ts ordered its tests around
 * it): pouchdb-adapter-leveldb-core, shared by every store in the process, closes every view index
 * database it holds whenever any database closes, so the first store's view queries then failed with
 * "database is closed" (502) or hung. src/store/embedded.ts now gives each store a leveldown of its own.
 */
import { COMPUTE_CATEGORY, startHarness, type Harness } from '../../support/harness';

const TAG = (name: string): string => `${name}; scheme="http://example.com/tags#"; class="mixin"; location="/tags/${name}/"`;

async function put(h: Harness, location: string): Promise<number> {
  return (await h.http.put(location).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY)).status;
}

async function listing(h: Harness, collection: string): Promise<string[]> {
  const r = await h.http.get(collection).set('Accept', 'text/uri-list');
  expect(r.status).toBe(200);
  return r.text.trim().split('\n').filter(Boolean).map((l) => new URL(l).pathname).sort();
}

describe('closing a second in-process harness leaves the first one working', () => {
  let first: Harness;
  let second: Harness | undefined;

  beforeAll(async () => {
    first = await startHarness();
    expect(await put(first, '/compute/before')).toBe(201);
    // Same database name in both (each embedded store is its own server): what one store's close
    // broadcasts by name must not reach the other. Against an external CouchDB they would share it.
    const external = process.env.OCCITAN_COUCHDB_URL ?? '';
    second = await startHarness(external ? {} : { couchdb: { url: '', database: first.config.couchdb.database } });
    // Give the second store views, a mixin and a feed of its own, so its close has something to undo.
    expect(await put(second, '/compute/other')).toBe(201);
    expect((await second.http.post('/-/').set('Content-Type', 'text/occi').set('Category', TAG('second'))).status).toBe(200);
    expect(await listing(second, '/compute/')).toEqual(['/compute/other']);
    await second.close();
    second = undefined;
  }, 60000);
  afterAll(async () => {
    await second?.close();
    await first.close();
  });

  test('it still reads what it stored before', async () => {
    expect((await first.http.get('/compute/before')).status).toBe(200);
    expect(await listing(first, '/compute/')).toEqual(['/compute/before']);
  });

  test('it still writes, and its views and category feed follow', async () => {
    const seq = await first.seq();
    expect(await put(first, '/compute/after')).toBe(201);
    expect(await first.seq()).not.toBe(seq);
    expect(await listing(first, '/compute/')).toEqual(['/compute/after', '/compute/before']);
    expect((await first.http.post('/-/').set('Content-Type', 'text/occi').set('Category', TAG('first'))).status).toBe(200);
    expect((await first.http.post('/tags/first/').set('Content-Type', 'text/uri-list').send('/compute/after\n')).status).toBe(200);
    expect(await listing(first, '/tags/first/')).toEqual(['/compute/after']);
  });

  test('a third harness starts and closes beside it, and the first still answers', async () => {
    const third = await startHarness();
    expect(await put(third, '/compute/third')).toBe(201);
    await third.close();
    expect(await listing(first, '/compute/')).toEqual(['/compute/after', '/compute/before']);
    expect(await put(first, '/compute/last')).toBe(201);
  });
});
