import * as fs from 'node:fs'; import * as os from 'node:os'; import * as path from 'node:path'; import * as http from 'node:http';
import { loadConfig } from '../../src/config';
import { startOccitan } from '../../src/server';
const q = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-'));
  const config = loadConfig({ env: {}, overrides: { dataDir: dir, log: { level: 'silent' }, auth: { mode: 'none' } } as never });
  const o = await startOccitan(config, { log: q });
  const s = http.createServer(o.app.callback()); await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as any).port;
  const tok = fs.existsSync(path.join(dir,'tokens.yaml')) ? undefined : undefined;
  const t = Date.now();
  for (let b = 0; b < 2; b++) {
    const resources = Array.from({ length: 200 }, (_, i) => ({ kind: 'http://schemas.ogf.org/occi/infrastructure#compute', attributes: { 'occi.compute.hostname': `h${b}-${i}` } }));
    const r = await fetch(`http://127.0.0.1:${port}/compute/`, { method: 'POST', headers: { 'Content-Type': 'application/occi+json', Accept: 'application/occi+json' }, body: JSON.stringify({ resources }) });
    console.log(r.status, (await r.text()).slice(0, 100));
  }
  console.log('400 in', Date.now() - t);
  s.close(); await o.close();
})();
