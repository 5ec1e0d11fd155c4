/**
 * The embedded store's view plugin (src/store/view-engine.ts), through the store's HTTP API as nano uses it:
 * CouchDB view semantics hold, and each view function is compiled once however many documents it indexes
 * (pouchdb-mapreduce compiled a new script per document, which the 60 s soak caught as heap growth).
 */
import { startEmbeddedStore, type EmbeddedStore } from '../../../src/store/embedded';
import { viewFunctionsCompiled } from '../../../src/store/view-engine';
import { splitUrl } from './helpers';

interface ViewResult {
  rows: Array<{ id?: string; key: unknown; value: unknown }>;
}

describe('embedded store views', () => {
  let store: EmbeddedStore;
  let base: string;
  let auth: string;
  const logs: string[] = [];
  const call = async (p: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(base + p, { ...init, headers: { authorization: auth, 'content-type': 'application/json', ...init.headers } });
    return { status: res.status, body: await res.json() };
  };
  const view = async (name: string, query = ''): Promise<ViewResult> => {
    const res = await call(`/views/_design/t/_view/${name}${query}`);
    expect(res.status).toBe(200);
    return res.body as ViewResult;
  };
  const bulk = async (docs: object[]) => {
    const res = await call('/views/_bulk_docs', { method: 'POST', body: JSON.stringify({ docs }) });
    expect(res.status).toBe(201);
  };

  beforeAll(async () => {
    store = await startEmbeddedStore({ memory: true, log: (m) => void logs.push(m) });
    ({ base, auth } = splitUrl(store.url));
    expect((await call('/views', { method: 'PUT' })).status).toBe(201);
    const ddoc = {
      views: {
        by_n: { map: 'function (doc) { if (typeof doc.n === "number") emit(doc.n, doc.group); }', reduce: '_count' },
        sum_n: { map: 'function (doc) { if (typeof doc.n === "number") emit(doc.group, doc.n); }', reduce: '_sum' },
        stats_n: { map: 'function (doc) { if (typeof doc.n === "number") emit(null, doc.n); }', reduce: '_stats' },
        js_reduce: {
          map: 'function (doc) { if (typeof doc.n === "number") emit(doc.group, doc.n); }',
          reduce: 'function (keys, values, rereduce) { return Math.max.apply(null, values); }',
        },
        // Throws for one document (PouchDB logs it once): that one is left out, the rest indexed.
        fragile: { map: 'function (doc) { if (doc.n === 7) throw new Error("no seven"); emit(doc.n); }' },
        // Mutates its argument: must change nothing stored.
        mutating: { map: 'function (doc) { doc.group = "changed"; emit(doc.group); }' },
        // What a view can reach: no module system, no process.
        reach: {
          map: 'function (doc) { if (doc._id === "d0") emit([typeof require, typeof process, typeof globalThis.process, isArray([]), typeof toJSON, typeof log]); }',
        },
      },
    };
    expect((await call('/views/_design/t', { method: 'PUT', body: JSON.stringify(ddoc) })).status).toBe(201);
    await bulk(Array.from({ length: 100 }, (_, i) => ({ _id: `d${i}`, n: i, group: i % 2 === 0 ? 'even' : 'odd' })));
  });
  afterAll(() => store.close());

  it('maps with emit and reduces with the built-ins (_count, _sum, _stats)', async () => {
    expect((await view('by_n', '?reduce=false&startkey=3&endkey=5')).rows).toEqual([
      { id: 'd3', key: 3, value: 'odd' },
      { id: 'd4', key: 4, value: 'even' },
      { id: 'd5', key: 5, value: 'odd' },
    ]);
    expect((await view('by_n')).rows).toEqual([{ key: null, value: 100 }]);
    expect((await view('sum_n', '?group=true')).rows).toEqual([
      { key: 'even', value: 2450 },
      { key: 'odd', value: 2500 },
    ]);
    expect((await view('stats_n')).rows).toEqual([{ key: null, value: { sum: 4950, min: 0, max: 99, count: 100, sumsqr: 328350 } }]);
  });

  it('runs JavaScript reduce functions', async () => {
    expect((await view('js_reduce', '?group=true')).rows).toEqual([
      { key: 'even', value: 98 },
      { key: 'odd', value: 99 },
    ]);
  });

  it('leaves out documents whose map throws and indexes the rest', async () => {
    const rows = (await view('fragile')).rows;
    expect(rows).toHaveLength(99);
    expect(rows.some((r) => r.key === 7)).toBe(false);
  });

  it('gives a view no way to change stored documents or reach the process', async () => {
    const mutated = (await view('mutating', '?limit=1')).rows;
    expect(mutated[0]?.key).toBe('changed');
    expect((await call('/views/d0')).body).toMatchObject({ group: 'even' });
    expect((await view('reach')).rows.map((r) => r.key)).toEqual([['undefined', 'undefined', 'undefined', true, 'function', 'function']]);
  });

  it('compiles each view function once, however many documents it indexes', async () => {
    const before = viewFunctionsCompiled();
    expect(before).toBeGreaterThan(0);
    for (let round = 0; round < 5; round += 1) {
      await bulk(Array.from({ length: 40 }, (_, i) => ({ _id: `r${round}-${i}`, n: 1000 + i, group: 'later' })));
      for (const name of ['by_n', 'sum_n', 'stats_n', 'js_reduce', 'fragile', 'mutating', 'reach']) await view(name, '?limit=1');
    }
    expect(viewFunctionsCompiled()).toBe(before);
    expect((await view('by_n')).rows).toEqual([{ key: null, value: 300 }]);
  });
});
