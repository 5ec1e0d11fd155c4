import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, defaults, loadConfig } from '../../src/config';

function tmpFile(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'occitan-config-'));
  const file = path.join(dir, 'occitan.yaml');
  fs.writeFileSync(file, text);
  return file;
}

describe('configuration', () => {
  test('defaults bind to loopback', () => {
    const c = loadConfig({ env: {} });
    expect(c.bind).toBe('127.0.0.1');
    expect(c.port).toBe(defaults.port);
    expect(c.couchdb.database).toBe('occitan');
  });

  test('file values, then environment overrides with typed coercion', () => {
    const file = tmpFile('port: 9000\ncouchdb:\n  database: fromfile\nlimits:\n  bodyBytes: 4096\n');
    const c = loadConfig({ file, env: { OCCITAN_PORT: '9100', OCCITAN_LIMITS_BODY_BYTES: '8192', OCCITAN_COUCHDB_URL: 'http://u:p@127.0.0.1:5984' } });
    expect(c.port).toBe(9100);
    expect(c.couchdb.database).toBe('fromfile');
    expect(c.couchdb.url).toBe('http://u:p@127.0.0.1:5984');
    expect(c.limits.bodyBytes).toBe(8192);
  });

  test('named timers come from OCCITAN_TIMERS_*', () => {
    const c = loadConfig({ env: { OCCITAN_TIMERS_LEASE_SWEEP: '250', OCCITAN_TIMERS_DOCKER_STOP_TIMEOUT: '1000' } });
    expect(c.timers.leaseSweep).toBe(250);
    expect(c.timers.dockerStopTimeout).toBe(1000);
  });

  test.each([
    [{ OCCITAN_PORT: 'eighty' }, 'port (OCCITAN_PORT) must be integer'],
    [{ OCCITAN_PORT: '70000' }, 'port (OCCITAN_PORT) must be <= 65535'],
    [{ OCCITAN_COUCHDB_URL: 'ftp://x' }, 'couchdb.url (OCCITAN_COUCHDB_URL)'],
    [{ OCCITAN_LIMITS_PAGE_SIZE_MAX: '0' }, 'limits.pageSizeMax (OCCITAN_LIMITS_PAGE_SIZE_MAX) must be >= 1'],
    [{ OCCITAN_LOG_LEVEL: 'loud' }, 'log.level (OCCITAN_LOG_LEVEL) must be equal to one of the allowed values'],
  ])('a bad environment value %j stops start-up naming the key', (env, message) => {
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(message);
  });

  test('an unknown key in the file is named', () => {
    const file = tmpFile('prot: 80\n');
    expect(() => loadConfig({ file, env: {} })).toThrow('configuration key prot (OCCITAN_PROT) is not a known configuration key');
  });

  test('an empty or comment-only file means defaults', () => {
    expect(loadConfig({ file: tmpFile(''), env: {} }).port).toBe(defaults.port);
    expect(loadConfig({ file: tmpFile('# nothing yet\n'), env: {} }).port).toBe(defaults.port);
  });

  test('a file that is not YAML, or not a mapping, is refused', () => {
    expect(() => loadConfig({ file: tmpFile('port: [1,\n'), env: {} })).toThrow(/not valid YAML/);
    expect(() => loadConfig({ file: tmpFile('- 1\n- 2\n'), env: {} })).toThrow(/must hold a mapping/);
  });
});
