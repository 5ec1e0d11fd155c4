import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { startEmbeddedStore, type EmbeddedStore } from '../../../src/store/embedded';
import { splitUrl, tempDir } from './helpers';

const quiet = (lines: string[]) => (m: string) => void lines.push(m);

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

describe('embedded store, memory mode', () => {
  let store: EmbeddedStore;
  let base: string;
  let auth: string;
  const logs: string[] = [];
  const get = (p: string, init: RequestInit = {}) =>
    fetch(base + p, { ...init, headers: { authorization: auth, 'content-type': 'application/json', ...init.headers } });

  beforeAll(async () => {
    const t0 = performance.now();
    store = await startEmbeddedStore({ memory: true, log: quiet(logs) });
    // Reported, not asserted: start-up time is machine-dependent.
    process.stdout.write(`embedded memory store started in ${Math.round(performance.now() - t0)} ms\n`);
    ({ base, auth } = splitUrl(store.url));
  });
  afterAll(() => store.close());

  it('listens on loopback with generated credentials in the URL', async () => {
    expect(store.url).toMatch(/^http:\/\/occitan:[A-Za-z0-9_-]{32}@127\.0\.0\.1:\d+$/);
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(await json(res)).toHaveProperty('express-pouchdb');
  });

  it('answers 401 JSON without credentials or with wrong ones, and serves nothing', async () => {
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: 'Basic ' + Buffer.from('occitan:wrong').toString('base64') },
      { authorization: 'Bearer x' },
    ];
    for (const headers of attempts) {
      const res = await fetch(base + '/_all_dbs', { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(await json(res)).toMatchObject({ error: 'unauthorized' });
    }
  });

  it('serves documents and Mango queries', async () => {
    expect((await get('/things', { method: 'PUT' })).status).toBe(201);
    expect((await get('/things/a', { method: 'PUT', body: JSON.stringify({ type: 'x', n: 1 }) })).status).toBe(201);
    const found = await json(await get('/things/_find', { method: 'POST', body: JSON.stringify({ selector: { n: 1 } }) }));
    expect(found.docs).toEqual([expect.objectContaining({ _id: 'a', n: 1 })]);
  });

  it('refuses filter=_selector with 400 and stays alive', async () => {
    await get('/things', { method: 'PUT' });
    for (const q of ['filter=_selector', 'filter=%22_selector%22', 'feed=longpoll&filter=_selector']) {
      const res = await get(`/things/_changes?${q}`, { method: 'POST', body: JSON.stringify({ selector: { n: 1 } }) });
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({ error: 'bad_request' });
    }
    expect((await get('/things')).status).toBe(200);
  });

  it('answers a filter naming a missing design doc with 404 instead of crashing', async () => {
    for (const q of ['filter=nope/nothing', 'filter=plain', 'feed=longpoll&filter=nope/nothing']) {
      const res = await get(`/things/_changes?${q}`);
      expect(res.status).toBe(404);
      await res.arrayBuffer();
    }
    expect((await get('/things')).status).toBe(200);
    expect(logs.some((l) => l.includes('changes feed of things failed'))).toBe(true);
  });

  it('ends a quiet long-poll when its timeout runs out, as CouchDB does', async () => {
    await get('/quiet', { method: 'PUT' });
    const seq = (await json(await get('/quiet'))).update_seq;
    const t0 = Date.now();
    const res = await get(`/quiet/_changes?feed=longpoll&since=${String(seq)}&timeout=300`);
    expect(res.status).toBe(200);
    expect(JSON.parse(await res.text())).toEqual({ results: [], last_seq: seq });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('serves feed=continuous uncompressed, and lets its client go', async () => {
    await get('/cont', { method: 'PUT' });
    // express-pouchdb sends the headers with the first change (or heartbeat, 6 s): have one waiting
    await get('/cont/x', { method: 'PUT', body: '{}' });
    const ac = new AbortController();
    // fetch asks for gzip by default: the feed must still flow
    const res = await get('/cont/_changes?feed=continuous&since=0', { signal: ac.signal });
    expect(res.headers.get('content-encoding')).toBeNull();
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('"id":"x"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    expect(text).toContain('"id":"x"');
    ac.abort();
    await reader.closed.catch(() => undefined);
  });

  it('keeps two in-process memory stores apart', async () => {
    const other = await startEmbeddedStore({ memory: true, log: quiet(logs) });
    try {
      const o = splitUrl(other.url);
      expect(o.password).not.toBe(splitUrl(store.url).password);
      await fetch(o.base + '/things', { method: 'PUT', headers: { authorization: o.auth } });
      const res = await fetch(o.base + '/things/a', { headers: { authorization: o.auth } });
      expect(res.status).toBe(404);
      await res.arrayBuffer();
    } finally {
      await other.close();
    }
    // closing the other store left this one working
    expect((await get('/things/a')).status).toBe(200);
  });

  it('writes no log file into the working directory', () => {
    expect(existsSync(path.join(process.cwd(), 'log.txt'))).toBe(false);
    expect(existsSync(path.join(process.cwd(), 'config.json'))).toBe(false);
  });
});

describe('embedded store on LevelDB', () => {
  const tmp = tempDir('embedded');
  afterAll(() => tmp.remove());

  it('requires a dataDir unless in memory', async () => {
    await expect(startEmbeddedStore({})).rejects.toThrow(/dataDir/);
  });

  it('keeps its credentials (mode 0600) and its data across restarts', async () => {
    const logs: string[] = [];
    const t0 = performance.now();
    const first = await startEmbeddedStore({ dataDir: tmp.dir, log: quiet(logs) });
    process.stdout.write(`embedded leveldb store started in ${Math.round(performance.now() - t0)} ms\n`);
    const { base, auth, password } = splitUrl(first.url);
    const port = Number(new URL(first.url).port);
    const headers = { authorization: auth, 'content-type': 'application/json' };
    try {
      await fetch(`${base}/keep`, { method: 'PUT', headers });
      const put = await fetch(`${base}/keep/doc1`, { method: 'PUT', headers, body: JSON.stringify({ v: 42 }) });
      expect(put.status).toBe(201);
      await put.arrayBuffer();
    } finally {
      await first.close();
    }

    const credFile = path.join(tmp.dir, 'couch-credentials.json');
    expect(statSync(credFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(credFile, 'utf8'))).toEqual({ user: 'occitan', password });
    expect(existsSync(path.join(tmp.dir, 'couch'))).toBe(true);
    expect(existsSync(path.join(tmp.dir, 'couch.log'))).toBe(true);

    const second = await startEmbeddedStore({ dataDir: tmp.dir, port, log: quiet(logs) });
    try {
      expect(second.url).toBe(first.url);
      const res = await fetch(`${base}/keep/doc1`, { headers });
      expect(res.status).toBe(200);
      expect(await json(res)).toMatchObject({ _id: 'doc1', v: 42 });
    } finally {
      await second.close();
    }
  });

  it('refuses to start on a port in use, leaving nothing behind', async () => {
    const a = await startEmbeddedStore({ memory: true, log: () => undefined });
    try {
      const port = Number(new URL(a.url).port);
      await expect(startEmbeddedStore({ dataDir: tmp.dir, port, log: () => undefined })).rejects.toThrow(/EADDRINUSE/);
      // the LevelDB it opened was released: the same dataDir starts fine now
      const b = await startEmbeddedStore({ dataDir: tmp.dir, log: () => undefined });
      await b.close();
    } finally {
      await a.close();
    }
  });
});
