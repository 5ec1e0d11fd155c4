/**
 * The soak (issue 8) found listings of one collection queueing behind each other in the store's per-view
 * queue for 5-20 s (p99 stalls, and store requests past their 20 s bound: 503). Identical listings now
 * share a query, but only one that starts after they arrived: a listing never misses a write acknowledged
 * before it was asked for.
 */
import type { DocumentScope } from 'nano';
import { EntityStore } from '../../../src/store/entity-store';

interface Pending {
  opts: { reduce?: boolean };
  answered: boolean;
  answer: (rows: unknown[]) => void;
}

/** A store whose view queries wait until the test answers them. */
function fakeDb(): { db: DocumentScope<unknown>; queries: Pending[] } {
  const queries: Pending[] = [];
  const db = {
    view: (_ddoc: string, _view: string, opts: { reduce?: boolean }) =>
      new Promise((resolve) => {
        const q: Pending = { opts, answered: false, answer: (rows) => ((q.answered = true), resolve({ rows })) };
        queries.push(q);
      }),
  };
  return { db: db as unknown as DocumentScope<unknown>, queries };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Answers every query not answered yet: a count of `total`, an empty page. */
async function answerOpen(queries: Pending[], total: number): Promise<void> {
  await flush();
  for (const q of queries.filter((x) => !x.answered)) q.answer(q.opts.reduce ? [{ value: total }] : []);
  await flush();
}

describe('identical listings queued behind each other in the store for seconds (soak p99 stalls)', () => {
  const page = { skip: 0, limit: 20 };

  test('listings asked while one runs share one later query instead of one query each', async () => {
    const { db, queries } = fakeDb();
    const store = new EntityStore(db);
    const first = store.collection('by_kind', 't', 'k#compute', page);
    await flush();
    expect(queries).toHaveLength(2); // the count and the page
    const later = Array.from({ length: 10 }, () => store.collection('by_kind', 't', 'k#compute', page));
    await flush();
    expect(queries).toHaveLength(2); // none starts while the first runs
    await answerOpen(queries, 1);
    expect((await first).total).toBe(1);
    expect(queries).toHaveLength(4); // one shared query for all ten
    await answerOpen(queries, 2);
    expect((await Promise.all(later)).map((l) => l.total)).toEqual(Array(10).fill(2));
  });

  test('a listing never takes the answer of a query that started before it was asked (it could miss a write)', async () => {
    const { db, queries } = fakeDb();
    const store = new EntityStore(db);
    const before = store.collection('by_kind', 't', 'k#compute', page);
    await flush();
    // A write is acknowledged now, then a listing is asked: it must get a query started after this point.
    const after = store.collection('by_kind', 't', 'k#compute', page);
    await answerOpen(queries, 0);
    expect((await before).total).toBe(0);
    await answerOpen(queries, 1);
    expect((await after).total).toBe(1);
    expect(queries).toHaveLength(4);
  });

  test('a listing asked after the previous one ended starts its own query', async () => {
    const { db, queries } = fakeDb();
    const store = new EntityStore(db);
    const one = store.collection('by_kind', 't', 'k#compute', page);
    await answerOpen(queries, 5);
    expect((await one).total).toBe(5);
    const two = store.collection('by_kind', 't', 'k#compute', page);
    await answerOpen(queries, 6);
    expect((await two).total).toBe(6);
    expect(queries).toHaveLength(4);
  });

  test('different collections and pages never share a page query', async () => {
    const { db, queries } = fakeDb();
    const store = new EntityStore(db);
    const all = [
      store.collection('by_kind', 't', 'k#compute', { skip: 0, limit: 20 }),
      store.collection('by_kind', 't', 'k#compute', { skip: 20, limit: 20 }),
      store.collection('by_kind', 'u', 'k#compute', { skip: 0, limit: 20 }),
      store.collection('by_mixin', 't', 'k#compute', { skip: 0, limit: 20 }),
    ];
    await flush();
    // One count per collection (the two pages of one collection join the same next count) and a page each.
    expect(queries.filter((q) => !q.opts.reduce)).toHaveLength(4);
    await answerOpen(queries, 3);
    await answerOpen(queries, 3);
    expect((await Promise.all(all)).map((l) => l.total)).toEqual([3, 3, 3, 3]);
  });
});
