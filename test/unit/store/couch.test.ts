import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import nano from 'nano';
import { BadGateway, Conflict, NotFound, ServiceUnavailable } from '../../../src/errors';
import { startEmbeddedStore, type EmbeddedStore } from '../../../src/store/embedded';
import {
  openDatabase,
  translateCouchError,
  updateSeq,
  type Database,
} from '../../../src/store/couch';
import { followChanges, type Change } from '../../../src/store/changes';
import { designDir, splitUrl, tempDir, testDesignDoc, waitFor } from './helpers';

const silent = () => undefined;

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

describe('openDatabase', () => {
  const tmp = tempDir('couch-open');
  let store: EmbeddedStore;
  beforeAll(async () => {
    store = await startEmbeddedStore({ memory: true, log: silent });
  });
  afterAll(async () => {
    await store.close();
    tmp.remove();
  });

  it('creates the database and pushes the design documents, then is idempotent', async () => {
    const dir = designDir(tmp.dir);
    const db = await openDatabase(store.url, 'occitan_open', dir);
    const ddoc = (await db.get('_design/test')) as unknown as typeof testDesignDoc & { _rev: string };
    expect(ddoc.views).toEqual(testDesignDoc.views);
    const seq = await updateSeq(db);
    expect(typeof seq).toBe('string');

    const again = await openDatabase(store.url, 'occitan_open', dir);
    expect(await updateSeq(again)).toBe(seq);
    expect(((await again.get('_design/test')) as { _rev: string })._rev).toBe(ddoc._rev);
  });

  it('rewrites a design document whose content changed, and only that', async () => {
    const dir = designDir(path.join(tmp.dir, 'changed'));
    const db = await openDatabase(store.url, 'occitan_changed', dir);
    const before = await updateSeq(db);
    const changed = { ...testDesignDoc, views: { ...testDesignDoc.views, all: { map: 'function (doc) { emit(doc._id, null); }' } } };
    writeFileSync(path.join(dir, 'test.json'), JSON.stringify(changed));
    await openDatabase(store.url, 'occitan_changed', dir);
    expect(await updateSeq(db)).not.toBe(before);
    expect(((await db.get('_design/test')) as unknown as typeof changed).views.all).toEqual(changed.views.all);
  });

  it('survives two processes pushing at once', async () => {
    const dir = designDir(path.join(tmp.dir, 'race'));
    await Promise.all([
      openDatabase(store.url, 'occitan_race', dir),
      openDatabase(store.url, 'occitan_race', dir),
      openDatabase(store.url, 'occitan_race', dir),
    ]);
    const db = nano(store.url).use('occitan_race');
    expect(((await db.get('_design/test')) as { _rev: string })._rev).toMatch(/^1-/);
  });

  it('rejects a design document file whose _id is not a design id', async () => {
    const dir = designDir(path.join(tmp.dir, 'bad'), { _id: 'plain', views: {} });
    await expect(openDatabase(store.url, 'occitan_bad', dir)).rejects.toThrow(/_design\//);
  });

  it('reports bad credentials as ServiceUnavailable without the password', async () => {
    const { base, password } = splitUrl(store.url);
    const wrong = base.replace('//', '//occitan:not-the-password@');
    const err = await openDatabase(wrong, 'occitan_open', designDir(tmp.dir)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnavailable);
    expect((err as Error).message).toMatch(/refused occitan's credentials/);
    expect((err as Error).message).not.toContain('not-the-password');
    expect((err as Error).message).not.toContain(password);
  });
});

describe('translateCouchError', () => {
  it('turns a closed port into ServiceUnavailable naming the host, never the password', async () => {
    const port = await closedPort();
    const url = `http://occitan:s3cret-pass@127.0.0.1:${port}`;
    const e = await nano(url).use('x').get('y').catch((x: unknown) => x);
    for (const err of [translateCouchError(e, 'entity /compute/a', url), translateCouchError(e, 'entity /compute/a')]) {
      expect(err).toBeInstanceOf(ServiceUnavailable);
      expect((err as ServiceUnavailable).status).toBe(503);
      expect(err.message).toContain(`CouchDB at 127.0.0.1:${port} is unreachable`);
      expect(err.message).not.toContain('s3cret-pass');
    }
    const viaOpen = await openDatabase(url, 'x', '/nonexistent-but-unused').catch((x: unknown) => x);
    expect(viaOpen).toBeInstanceOf(Error);
    expect((viaOpen as Error).message).not.toContain('s3cret-pass');
  });

  it('maps CouchDB statuses to occitan errors', () => {
    const couch = (statusCode: number, reason: string) => Object.assign(new Error(reason), { statusCode, reason });
    expect(translateCouchError(couch(404, 'missing'), 'entity /a')).toEqual(new NotFound('entity /a not found'));
    expect(translateCouchError(couch(409, 'Document update conflict.'), 'entity /a')).toBeInstanceOf(Conflict);
    expect(translateCouchError(couch(500, 'boom'), 'entity /a')).toBeInstanceOf(BadGateway);
    expect(translateCouchError(couch(403, 'forbidden'), 'entity /a')).toBeInstanceOf(ServiceUnavailable);
    const other = couch(400, 'bad request');
    expect(translateCouchError(other, 'entity /a')).toBe(other);
    const plain = new TypeError('not couch at all');
    expect(translateCouchError(plain, 'x')).toBe(plain);
  });
});

describe('followChanges', () => {
  const tmp = tempDir('couch-follow');
  afterAll(() => tmp.remove());

  it('delivers writes in order and survives the store restarting on the same port and dataDir', async () => {
    const logs: string[] = [];
    let store = await startEmbeddedStore({ dataDir: tmp.dir, log: silent });
    const port = Number(new URL(store.url).port);
    const db: Database = await openDatabase(store.url, 'follow', designDir(tmp.dir));
    const seen: Change[] = [];
    const follower = followChanges(db, {
      since: await updateSeq(db),
      includeDocs: true,
      timeoutMs: 2_000,
      log: (m) => void logs.push(m),
      onChange: async (c) => {
        // a slow handler must not let later changes overtake it
        if (c.id === 'a') await new Promise((r) => setTimeout(r, 50));
        seen.push(c);
      },
    });
    try {
      for (const id of ['a', 'b', 'c']) await db.insert({ _id: id, n: id } as object);
      await waitFor('a, b, c', () => seen.length >= 3);
      expect(seen.map((c) => c.id)).toEqual(['a', 'b', 'c']);
      expect(seen[2]?.doc).toMatchObject({ _id: 'c', n: 'c' });
      expect(typeof seen[0]?.seq).toBe('string');

      await store.close();
      await waitFor('the follower to notice the outage', () => logs.some((l) => /failed, retrying/.test(l)));
      store = await startEmbeddedStore({ dataDir: tmp.dir, port, log: silent });

      const d = await db.get('a');
      await db.destroy('a', d._rev);
      await db.insert({ _id: 'd', n: 'd' } as object);
      await waitFor('the deletion of a and d', () => seen.length >= 5);
      expect(seen.slice(3).map((c) => [c.id, c.deleted === true])).toEqual([
        ['a', true],
        ['d', false],
      ]);
      expect(logs.some((l) => /is back/.test(l))).toBe(true);
      expect(logs.join('\n')).not.toContain(splitUrl(store.url).password);
    } finally {
      await follower.stop();
      await store.close();
    }
  });

  it('starts from "now", skips nothing after it, and keeps going when a handler throws', async () => {
    const store = await startEmbeddedStore({ memory: true, log: silent });
    const db = await openDatabase(store.url, 'follow_now', designDir(tmp.dir));
    await db.insert({ _id: 'old' });
    const seen: string[] = [];
    const logs: string[] = [];
    const follower = followChanges(db, {
      since: 'now',
      log: (m) => void logs.push(m),
      onChange: (c) => {
        if (c.id === 'bad') throw new Error('handler bug');
        seen.push(c.id);
      },
    });
    try {
      // 'now' is resolved by the loop, asynchronously: write markers until one is seen
      let i = 0;
      await waitFor('a marker', async () => {
        await db.insert({ _id: `marker${i++}` });
        return seen.length > 0;
      });
      seen.length = 0;
      await db.insert({ _id: 'bad' });
      await db.insert({ _id: 'new' });
      await waitFor('new', () => seen.includes('new'));
      expect(seen.filter((id) => !id.startsWith('marker'))).toEqual(['new']);
      expect(seen).not.toContain('old');
      expect(logs.some((l) => l.includes('handler failed on bad'))).toBe(true);
    } finally {
      await follower.stop();
      await store.close();
    }
  });

  it('stops promptly while a long-poll is pending', async () => {
    const store = await startEmbeddedStore({ memory: true, log: silent });
    const db = await openDatabase(store.url, 'follow_stop', designDir(tmp.dir));
    const follower = followChanges(db, { since: await updateSeq(db), onChange: () => undefined, log: silent });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await follower.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
    await store.close();
  });
});
