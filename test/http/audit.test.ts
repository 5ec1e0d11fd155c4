/**
 * The audit trail (issue 4 §5): a captured log holds exactly one `audit` line per mutating request
 * (POST, PUT, DELETE), whatever its outcome (2xx, 401, 403, 404, 400, 500), with the request id, user,
 * tenant, method, path and status; reads write none; and no line anywhere in the log holds a token, a
 * token secret, a token hash, a password, a password hash or a Basic credential.
 */
import * as fs from 'node:fs';
import type { Test } from 'supertest';
import type { Logger } from '../../src/backends/backend';
import { addUser, readTokenFile } from '../../src/auth/token-file';
import { basic, startTokenHarness, tokenFixture } from '../support/auth';
import { COMPUTE_CATEGORY, INFRA, type Harness } from '../support/harness';

interface Captured {
  level: string;
  msg: string;
  extra: Record<string, unknown>;
}

const captured: Captured[] = [];
const record = (level: string) => (msg: string, extra?: Record<string, unknown>): void => {
  captured.push({ level, msg, extra: extra ?? {} });
};
const log: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
/** Every captured line as the text a log file would hold. */
const logText = (): string[] => captured.map((c) => JSON.stringify({ level: c.level, msg: c.msg, ...c.extra }));
const auditLines = (): Record<string, unknown>[] => captured.filter((c) => c.msg === 'audit').map((c) => c.extra);

const PASSWORD = 'correct horse battery staple';
let h: Harness;
let tokenFile: string;
const tok = { alice: '', bob: '', root: '' };

beforeAll(async () => {
  const t = tokenFixture();
  tokenFile = t.file;
  tok.alice = t.add('alice', 'acme', 'member');
  tok.bob = t.add('bob', 'beta', 'member');
  tok.root = t.add('root', 'default', 'admin', true);
  await addUser(t.file, { user: 'carol', tenant: 'acme', role: 'admin' }, PASSWORD);
  h = await startTokenHarness(t, {}, { log });
});
afterAll(async () => h.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TAG = 'tag; scheme="http://example.com/tags#"; class="mixin"; location="/tags/"';
const PROVIDER_UPDATE = JSON.stringify({ providers: [{ OCCI_ID: `${INFRA}compute`, Provider: { local: ['dummy'], remote: [] } }] });

interface Expected {
  user: string | null;
  tenant: string | null;
  method: string;
  path: string;
  action?: string;
  status: number;
  outcome: 'success' | 'denied' | 'refused' | 'failed';
}

/** A mutating request's expected audit line, or a read's expected status (no audit line). */
type Step = readonly [send: () => Test, expected: Expected | number];

const occi = (r: Test): Test => r.set('Content-Type', 'text/occi');
const as = (token: string) => (r: Test): Test => r.set('X-Auth-Token', token);

/** Mutating requests (each expecting one audit line) interleaved with reads (expecting none). */
const STEPS: Step[] = [
  [() => as(tok.alice)(occi(h.http.put('/compute/web1'))).set('Category', COMPUTE_CATEGORY).set('X-OCCI-Attribute', 'occi.core.title="web one"'),
    { user: 'alice', tenant: 'acme', method: 'PUT', path: '/compute/web1', status: 201, outcome: 'success' }],
  [() => as(tok.alice)(h.http.get('/compute/web1')), 200],
  [() => as(tok.alice)(occi(h.http.post('/compute/web1?action=stop'))),
    { user: 'alice', tenant: 'acme', method: 'POST', path: '/compute/web1', action: 'stop', status: 200, outcome: 'success' }],
  [() => as(tok.alice)(occi(h.http.post('/compute/web1'))).set('X-OCCI-Attribute', 'occi.core.title="renamed"'),
    { user: 'alice', tenant: 'acme', method: 'POST', path: '/compute/web1', status: 200, outcome: 'success' }],
  [() => h.http.post('/compute/').set('Authorization', `Bearer ${tok.bob}`).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY),
    { user: 'bob', tenant: 'beta', method: 'POST', path: '/compute/', status: 201, outcome: 'success' }],
  [() => as(tok.bob)(h.http.head('/compute/')), 200],
  // Another tenant's entity: 404.
  [() => as(tok.bob)(h.http.delete('/compute/web1')),
    { user: 'bob', tenant: 'beta', method: 'DELETE', path: '/compute/web1', status: 404, outcome: 'refused' }],
  // A tenant the user holds no role in: the user is known, no tenant was granted.
  [() => as(tok.bob)(h.http.delete('/compute/web1')).set('X-Tenant-Name', 'acme'),
    { user: 'bob', tenant: null, method: 'DELETE', path: '/compute/web1', status: 403, outcome: 'denied' }],
  // No credentials, and a wrong secret: no user.
  [() => occi(h.http.post('/compute/')).set('Category', COMPUTE_CATEGORY),
    { user: null, tenant: null, method: 'POST', path: '/compute/', status: 401, outcome: 'denied' }],
  [() => h.http.delete('/compute/web1').set('X-Auth-Token', `${tok.alice.split('.')[0]}.${'A'.repeat(43)}`),
    { user: null, tenant: null, method: 'DELETE', path: '/compute/web1', status: 401, outcome: 'denied' }],
  [() => as(tok.alice)(h.http.get('/-/')), 200],
  // A member defining a kind: 403.
  [() => as(tok.alice)(occi(h.http.post('/-/'))).set('Category', 'robot; scheme="http://example.com/robots#"; class="kind"; location="/robot/"'),
    { user: 'alice', tenant: 'acme', method: 'POST', path: '/-/', status: 403, outcome: 'denied' }],
  // A bad request body: 400.
  [() => as(tok.alice)(occi(h.http.post('/compute/'))).set('Category', COMPUTE_CATEGORY).set('X-OCCI-Attribute', 'occi.compute.cores="many"'),
    { user: 'alice', tenant: 'acme', method: 'POST', path: '/compute/', status: 400, outcome: 'refused' }],
  // HTTP Basic, a user mixin in its tenant.
  [() => h.http.post('/-/').set('Authorization', basic('carol', PASSWORD)).set('Content-Type', 'text/occi').set('Category', TAG),
    { user: 'carol', tenant: 'acme', method: 'POST', path: '/-/', status: 200, outcome: 'success' }],
  [() => as(tok.alice)(occi(h.http.put('/tags/'))).set('X-OCCI-Location', '/compute/web1'),
    { user: 'alice', tenant: 'acme', method: 'PUT', path: '/tags/', status: 200, outcome: 'success' }],
  // The global admin, in another tenant by naming it, and on the provider table.
  [() => as(tok.root)(h.http.put('/-/')).set('Content-Type', 'application/occi+json').send(PROVIDER_UPDATE),
    { user: 'root', tenant: 'default', method: 'PUT', path: '/-/', status: 200, outcome: 'success' }],
  [() => as(tok.root)(h.http.delete('/compute/')).set('X-Tenant-Name', 'beta'),
    { user: 'root', tenant: 'beta', method: 'DELETE', path: '/compute/', status: 200, outcome: 'success' }],
  [() => as(tok.alice)(h.http.options('/compute/')), 204],
  // A method the path does not allow: 405.
  [() => as(tok.alice)(h.http.post('/vms/')),
    { user: 'alice', tenant: 'acme', method: 'POST', path: '/vms/', status: 405, outcome: 'refused' }],
  [() => as(tok.alice)(h.http.delete('/compute/web1')),
    { user: 'alice', tenant: 'acme', method: 'DELETE', path: '/compute/web1', status: 200, outcome: 'success' }],
];

test('exactly one audit line per mutating request, in order, with its fields; none for reads', async () => {
  const before = auditLines().length;
  expect(before).toBe(0);
  const ids: string[] = [];
  for (const [send, expected] of STEPS) {
    const r = await send();
    if (typeof expected === 'object') {
      expect({ method: expected.method, path: expected.path, status: r.status }).toEqual({ method: expected.method, path: expected.path, status: expected.status });
      expect(r.headers['x-request-id']).toMatch(UUID);
      ids.push(r.headers['x-request-id'] as string);
    } else {
      expect(r.status).toBe(expected);
      expect(r.headers['x-request-id']).toBeUndefined();
    }
  }
  const expected = STEPS.flatMap(([, e]) => (typeof e === 'object' ? [e] : []));
  expect(expected.length).toBe(16);
  const lines = auditLines();
  expect(lines).toEqual(expected.map((e, i) => ({ requestId: ids[i], ...e })));
  expect(new Set(ids).size).toBe(ids.length);
  // Each audit line is logged at info level.
  expect(captured.filter((c) => c.msg === 'audit').every((c) => c.level === 'info')).toBe(true);
});

test('a request that fails inside (500) is audited once, and its error line carries the same request id', async () => {
  const made = await h.http.put('/compute/fragile').set('X-Auth-Token', tok.alice).set('Content-Type', 'text/occi').set('Category', COMPUTE_CATEGORY);
  expect(made.status).toBe(201);
  const spy = jest.spyOn(h.occitan.service, 'delete').mockRejectedValueOnce(new Error('the disk caught fire'));
  try {
    const from = captured.length;
    const r = await h.http.delete('/compute/fragile').set('X-Auth-Token', tok.alice);
    expect(r.status).toBe(500);
    const id = r.headers['x-request-id'] as string;
    expect(id).toMatch(UUID);
    expect(r.text).toBe(`internal error (request id ${id})\n`);
    const after = captured.slice(from);
    expect(after.filter((c) => c.msg === 'audit').map((c) => c.extra)).toEqual([
      { requestId: id, user: 'alice', tenant: 'acme', method: 'DELETE', path: '/compute/fragile', status: 500, outcome: 'failed' },
    ]);
    const errors = after.filter((c) => c.msg === 'request failed');
    expect(errors.map((c) => c.extra.id)).toEqual([id]);
  } finally {
    spy.mockRestore();
  }
});

test('no log line holds a token, its secret, its hash, a password, a password hash or a Basic credential', () => {
  const data = readTokenFile(tokenFile);
  const secrets: string[] = [];
  for (const token of Object.values(tok)) secrets.push(token, token.split('.')[1]!);
  for (const entry of data.tokens.values()) secrets.push(entry.sha256);
  const hash = data.users.get('carol')?.password;
  expect(hash).toMatch(/^scrypt\$/);
  secrets.push(hash!, ...hash!.split('$').slice(-2), PASSWORD, basic('carol', PASSWORD).slice('Basic '.length));
  secrets.push(`${tok.alice.split('.')[0]}.${'A'.repeat(43)}`);
  expect(secrets.length).toBe(3 * 2 + 3 + 3 + 1 + 1 + 1);
  for (const s of secrets) expect(s.length).toBeGreaterThanOrEqual(16);
  const text = logText();
  expect(text.length).toBeGreaterThan(16);
  for (const s of secrets) {
    const hits = text.filter((l) => l.includes(s));
    expect({ secret: s, hits }).toEqual({ secret: s, hits: [] });
  }
  // Nor does the token file itself leak any secret part (it holds hashes only).
  const file = fs.readFileSync(tokenFile, 'utf8');
  for (const token of Object.values(tok)) expect(file).not.toContain(token.split('.')[1]!);
  expect(file).not.toContain(PASSWORD);
});
