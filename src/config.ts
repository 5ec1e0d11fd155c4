/**
 * Configuration: `occitan.yaml` (js-yaml), then `OCCITAN_*` environment overrides, validated with ajv.
 * Every key has an environment name derived from its path: `couchdb.url` → OCCITAN_COUCHDB_URL,
 * `limits.bodyBytes` → OCCITAN_LIMITS_BODY_BYTES. A bad value stops start-up naming the key.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import * as yaml from 'js-yaml';

export interface Config {
  /** Address to listen on; loopback unless configured otherwise. */
  bind: string;
  port: number;
  /** Public base URL used in rendered locations (e.g. https://occi.example.com); derived from Host when empty. */
  baseUrl: string;
  couchdb: { url: string; database: string };
  dataDir: string;
  categoriesDir: string;
  backendsFile: string;
  limits: {
    bodyBytes: number;
    headerBytes: number;
    headerCount: number;
    pageSizeMax: number;
    pageSizeDefault: number;
  };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  /** Named waits in milliseconds (lease sweep period, graceful-stop timeouts), short in tests. */
  timers: Record<string, number>;
  /** Who may call: a token file (default), OIDC/JWT access tokens, or nobody checked (loopback only). */
  auth: {
    mode: 'tokens' | 'oidc' | 'none';
    /** The token file; empty means `<dataDir>/tokens.yaml`. */
    tokenFile: string;
    oidc: {
      issuer: string;
      audience: string;
      /** Where the signing keys are: a JWKS URL (cached and refreshed) or a local JWKS file. */
      jwksUrl: string;
      jwksFile: string;
      /** Claim names mapped to the caller's user, tenant and role. */
      claims: { user: string; tenant: string; role: string };
    };
  };
  /** PEM files; with both set the server speaks HTTPS. */
  tls: { cert: string; key: string };
  /** Allows a non-loopback bind without TLS (plain HTTP carries credentials in clear). */
  allowInsecureHttp: boolean;
}

/** The folder holding package.json, whether running from src/ (ts-node, jest) or dist/src/ (compiled). */
function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(start, '..');
  }
}
const projectRoot = findProjectRoot(__dirname);

export const defaults: Config = {
  bind: '127.0.0.1',
  port: 8080,
  baseUrl: '',
  couchdb: { url: '', database: 'occitan' },
  dataDir: './data',
  categoriesDir: path.join(projectRoot, 'categories'),
  backendsFile: path.join(projectRoot, 'backends.json'),
  limits: { bodyBytes: 1048576, headerBytes: 65536, headerCount: 200, pageSizeMax: 1000, pageSizeDefault: 1000 },
  log: { level: 'info' },
  timers: { leaseSweep: 5000 },
  auth: {
    mode: 'tokens',
    tokenFile: '',
    oidc: { issuer: '', audience: '', jwksUrl: '', jwksFile: '', claims: { user: 'sub', tenant: 'tenant', role: 'role' } },
  },
  tls: { cert: '', key: '' },
  allowInsecureHttp: false,
};

/** The project's root folder (where categories/, couchdb/ and backends.json live). */
export function projectDir(): string {
  return projectRoot;
}

const positiveInt = { type: 'integer', minimum: 1 };
const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    bind: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    baseUrl: { type: 'string', pattern: '^(https?://[^/\\s]+)?$' },
    couchdb: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: { type: 'string', pattern: '^(https?://\\S+)?$' },
        database: { type: 'string', pattern: '^[a-z][a-z0-9_$()+/-]*$' },
      },
    },
    dataDir: { type: 'string', minLength: 1 },
    categoriesDir: { type: 'string', minLength: 1 },
    backendsFile: { type: 'string', minLength: 1 },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        bodyBytes: positiveInt,
        headerBytes: positiveInt,
        headerCount: positiveInt,
        pageSizeMax: positiveInt,
        pageSizeDefault: positiveInt,
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: { level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] } },
    },
    timers: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
    auth: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mode: { enum: ['tokens', 'oidc', 'none'] },
        tokenFile: { type: 'string' },
        oidc: {
          type: 'object',
          additionalProperties: false,
          properties: {
            issuer: { type: 'string' },
            audience: { type: 'string' },
            jwksUrl: { type: 'string', pattern: '^(https?://\\S+)?$' },
            jwksFile: { type: 'string' },
            claims: {
              type: 'object',
              additionalProperties: false,
              properties: { user: { type: 'string', minLength: 1 }, tenant: { type: 'string', minLength: 1 }, role: { type: 'string', minLength: 1 } },
            },
          },
        },
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: { cert: { type: 'string' }, key: { type: 'string' } },
    },
    allowInsecureHttp: { type: 'boolean' },
  },
} as const;

export class ConfigError extends Error {}

function envName(keyPath: string[]): string {
  return 'OCCITAN_' + keyPath.map((k) => k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isPlain(v) && isPlain(base[k]) ? merge(base[k] as Plain, v) : v;
  }
  return out;
}

/** Applies OCCITAN_* variables for every leaf key of the defaults (and timers.NAME). */
function envOverrides(env: NodeJS.ProcessEnv): Plain {
  const out: Plain = {};
  const visit = (node: Plain, keyPath: string[], target: Plain): void => {
    for (const [k, v] of Object.entries(node)) {
      const p = [...keyPath, k];
      if (isPlain(v) && k !== 'timers') {
        const sub: Plain = {};
        visit(v, p, sub);
        if (Object.keys(sub).length) target[k] = sub;
        continue;
      }
      if (k === 'timers') {
        const prefix = envName(p) + '_';
        const timers: Plain = {};
        for (const [name, value] of Object.entries(env)) {
          if (name.startsWith(prefix) && value !== undefined) {
            const timer = name.slice(prefix.length).toLowerCase().replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
            timers[timer] = value;
          }
        }
        if (Object.keys(timers).length) target[k] = timers;
        continue;
      }
      const value = env[envName(p)];
      if (value !== undefined) target[k] = value;
    }
  };
  visit(defaults as unknown as Plain, [], out);
  return out;
}

/**
 * Reads the configuration: `file` (or ./occitan.yaml when present), then the environment.
 * Throws ConfigError naming the key (and its environment variable) and what was expected.
 */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; overrides?: Plain } = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.OCCITAN_CONFIG ?? (fs.existsSync('occitan.yaml') ? 'occitan.yaml' : undefined);
  let fromFile: Plain = {};
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read configuration file ${file}: ${(e as Error).message}`);
    }
    let parsed: unknown;
    try {
      // js-yaml 5 refuses an empty document; an empty or comment-only file means "no settings".
      parsed = text.replace(/#.*$/gm, '').trim() === '' ? {} : yaml.load(text);
    } catch (e) {
      throw new ConfigError(`configuration file ${file} is not valid YAML: ${(e as Error).message}`);
    }
    if (parsed !== undefined && parsed !== null && !isPlain(parsed)) {
      throw new ConfigError(`configuration file ${file} must hold a mapping of keys`);
    }
    fromFile = (parsed as Plain | null) ?? {};
  }
  const merged = merge(merge(merge(defaults as unknown as Plain, fromFile), envOverrides(env)), opts.overrides ?? {});
  const ajv = new Ajv({ coerceTypes: true, allErrors: false });
  const validate = ajv.compile(schema);
  if (!validate(merged)) {
    const err = validate.errors?.[0];
    const keyPath = (err?.instancePath ?? '').split('/').filter(Boolean);
    if (err?.keyword === 'additionalProperties') keyPath.push(String(err.params.additionalProperty));
    const key = keyPath.join('.') || '(root)';
    const expected =
      err?.keyword === 'additionalProperties' ? 'is not a known configuration key' : (err?.message ?? 'is invalid');
    throw new ConfigError(`configuration key ${key} (${envName(keyPath)}) ${expected}`);
  }
  return merged as unknown as Config;
}
