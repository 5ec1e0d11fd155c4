import * as fs from 'node:fs'; import * as os from 'node:os'; import * as path from 'node:path';
import { startEmbeddedStore } from '../../src/store/embedded';
import nano from 'nano';
(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-'));
  const st = await startEmbeddedStore({ dataDir: dir, log: () => undefined });
  const s = nano(st.url); await s.db.create('x'); const db = s.use('x');
  await db.insert({ _id: 'a', v: 1 } as never);
  for (let i = 0; i < 50; i++) await db.get('a');
  const t = Date.now(); for (let i = 0; i < 500; i++) await db.get('a'); console.log('get', (Date.now() - t) / 500);
  const t2 = Date.now(); for (let i = 0; i < 200; i++) await fetch(st.url.replace(/\/\/.*@/, '//') + '/x/a', { headers: { authorization: 'Basic ' + Buffer.from(decodeURIComponent(new URL(st.url).username) + ':' + decodeURIComponent(new URL(st.url).password)).toString('base64') } }).then((r) => r.text()); console.log('raw fetch get', (Date.now() - t2) / 200);
  await st.close();
})();
