/**
 * Providers and which kinds they serve (backends.json), loaded lazily from a plain table (libcloud's
 * habit). An optional provider whose `init` fails is left out with a warning; the default provider of
 * each kind is recorded in CouchDB the first time, so a later outage answers 503 instead of silently
 * landing entities on another provider.
 */
import * as fs from 'node:fs';
import type { DocumentScope } from 'nano';
import Ajv from 'ajv';
import { BadRequest, ServiceUnavailable } from '../errors';
import type { TypeId } from '../model/types';
import { translateCouchError } from '../store/couch';
import type { Backend, BackendContext, Logger } from './backend';

type Factory = (name: string) => Backend;

/** Backend implementations by name; each module is loaded only when a provider uses it. */
const implementations: Record<string, () => Promise<Factory>> = {
  dummy: async () => (await import('./dummy')).createBackend,
  docker: async () => (await import('./docker')).createBackend,
  libvirt: async () => (await import('./libvirt')).createBackend,
  ovs: async () => (await import('./ovs')).createBackend,
};

export interface ProviderEntry {
  backend: string;
  optional?: boolean;
  options?: Record<string, unknown>;
}

export interface BackendsFile {
  providers: Record<string, ProviderEntry>;
  kinds: Record<TypeId, { providers: string[] }>;
}

const fileSchema = {
  type: 'object',
  required: ['providers'],
  additionalProperties: false,
  properties: {
    providers: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['backend'],
        additionalProperties: false,
        properties: { backend: { type: 'string' }, optional: { type: 'boolean' }, options: { type: 'object' } },
      },
    },
    kinds: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['providers'],
        additionalProperties: false,
        properties: { providers: { type: 'array', items: { type: 'string' }, minItems: 1 } },
      },
    },
  },
} as const;

export function readBackendsFile(file: string): BackendsFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read backends file ${file}: ${(e as Error).message}`);
  }
  const validate = new Ajv().compile(fileSchema);
  if (!validate(parsed)) {
    const err = validate.errors?.[0];
    throw new Error(`backends file ${file}: ${err?.instancePath || '(root)'} ${err?.message ?? 'is invalid'}`);
  }
  const out = parsed as unknown as BackendsFile;
  out.kinds ??= {};
  for (const [kind, k] of Object.entries(out.kinds)) {
    for (const p of k.providers) if (!out.providers[p]) throw new Error(`backends file ${file}: kind ${kind} names unknown provider ${p}`);
  }
  for (const [name, p] of Object.entries(out.providers)) {
    if (!implementations[p.backend]) throw new Error(`backends file ${file}: provider ${name} uses unknown backend ${p.backend} (known: ${Object.keys(implementations).join(', ')})`);
  }
  return out;
}

/** The provider table as stored in CouchDB and shown to clients. */
export interface ProviderTable {
  kinds: Record<TypeId, { providers: string[]; default?: string; remote?: string[] }>;
}

interface ProviderTableDoc extends ProviderTable {
  _id: 'provider-table';
  _rev?: string;
  type: 'provider-table';
}

export const FALLBACK_PROVIDER = 'dummy';

export class BackendRegistry {
  private readonly available = new Map<string, Backend>();
  private readonly unavailable = new Map<string, string>();
  /** The kinds providers that failed to start would have realised. */
  private readonly unavailableKinds = new Map<string, readonly TypeId[]>();
  private table: ProviderTable = { kinds: {} };

  constructor(
    private readonly file: BackendsFile,
    private readonly db: DocumentScope<unknown>,
    private readonly log: Logger,
  ) {}

  /** Instantiates and initialises every provider; then records each kind's default provider. */
  async start(makeContext: (provider: string, options: Record<string, unknown>) => BackendContext): Promise<void> {
    for (const [name, entry] of Object.entries(this.file.providers)) {
      const factory = await implementations[entry.backend]!();
      const backend = factory(name);
      try {
        await backend.init(makeContext(name, entry.options ?? {}));
        this.available.set(name, backend);
      } catch (e) {
        const why = (e as Error).message;
        if (!entry.optional) throw new Error(`provider ${name} (${entry.backend}) failed to start: ${why}`);
        this.unavailable.set(name, why);
        this.unavailableKinds.set(name, backend.kinds);
        this.log.warn(`provider ${name} left out: ${why}`);
      }
    }
    await this.loadTable();
  }

  async close(): Promise<void> {
    for (const b of this.available.values()) await b.close().catch(() => undefined);
  }

  private async loadTable(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      let doc: ProviderTableDoc;
      try {
        doc = (await this.db.get('provider-table')) as unknown as ProviderTableDoc;
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode !== 404) throw translateCouchError(e, 'provider table');
        doc = { _id: 'provider-table', type: 'provider-table', kinds: {} };
      }
      let changed = false;
      for (const [kind, k] of Object.entries(this.file.kinds)) {
        const row = doc.kinds[kind] ?? { providers: k.providers };
        if (JSON.stringify(row.providers) !== JSON.stringify(k.providers)) row.providers = k.providers;
        if (!row.default) {
          const first = k.providers.find((p) => this.available.has(p));
          if (first) row.default = first;
        }
        if (JSON.stringify(doc.kinds[kind]) !== JSON.stringify(row)) {
          doc.kinds[kind] = row;
          changed = true;
        }
      }
      if (!changed) {
        this.table = { kinds: doc.kinds };
        return;
      }
      try {
        await this.db.insert(doc as never);
        this.table = { kinds: doc.kinds };
        return;
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode !== 409) throw translateCouchError(e, 'provider table');
      }
    }
    throw new ServiceUnavailable('the provider table keeps changing; retry');
  }

  /** The running backend of a provider; 503 when it is configured but unreachable. */
  get(provider: string): Backend {
    const b = this.available.get(provider);
    if (b) return b;
    const why = this.unavailable.get(provider);
    throw new ServiceUnavailable(`provider ${provider} is unavailable${why ? `: ${why}` : ''}`);
  }

  has(provider: string): boolean {
    return this.available.has(provider) || this.unavailable.has(provider);
  }

  /** Providers that failed to start, with the reason. */
  failures(): Map<string, string> {
    return this.unavailable;
  }

  /**
   * The provider for a new entity of `kind`: the recorded default; else, for a kind the table does not
   * list, the first provider (in backends.json order) whose backend realises that very kind (the docker
   * provider's services and nodes); else the default of a parent kind; else (a kind nobody configured,
   * such as an admin-defined one) the dummy recorder.
   */
  defaultFor(kind: TypeId, kindChain: readonly TypeId[]): string {
    if (!this.table.kinds[kind]) {
      for (const name of Object.keys(this.file.providers)) if (this.available.get(name)?.kinds.includes(kind)) return name;
      for (const name of Object.keys(this.file.providers)) {
        if (this.unavailableKinds.get(name)?.includes(kind)) {
          throw new ServiceUnavailable(`provider ${name}, which realises ${kind}, is unavailable: ${this.unavailable.get(name) ?? 'it did not start'}`);
        }
      }
    }
    for (const k of [kind, ...kindChain]) {
      const row = this.table.kinds[k];
      if (row) {
        if (!row.default) throw new ServiceUnavailable(`no provider of ${k} is available (${row.providers.join(', ')})`);
        return row.default;
      }
    }
    return FALLBACK_PROVIDER;
  }

  /** Whether `provider` serves `kind` (a link kind, when its source's provider is asked). */
  serves(provider: string, kind: TypeId): boolean {
    const b = this.available.get(provider);
    if (b) return b.kinds.includes(kind);
    return this.table.kinds[kind]?.providers.includes(provider) ?? false;
  }

  providerTable(): ProviderTable {
    return this.table;
  }

  /** pyOCNI "update provider": sets the default (first local) provider of kinds. Admin only (checked by the caller). */
  async updateProviders(changes: ReadonlyArray<{ kind: TypeId; local: string[]; remote: string[] }>): Promise<ProviderTable> {
    for (const c of changes) {
      if (c.local.length === 0) throw new BadRequest(`provider update for ${c.kind}: name at least one local provider`);
      for (const p of c.local) if (!this.has(p)) throw new BadRequest(`provider update for ${c.kind}: unknown provider ${p} (known: ${[...this.available.keys(), ...this.unavailable.keys()].join(', ')})`);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      let doc: ProviderTableDoc;
      try {
        doc = (await this.db.get('provider-table')) as unknown as ProviderTableDoc;
      } catch (e) {
        throw translateCouchError(e, 'provider table');
      }
      for (const c of changes) {
        // Remote providers (delegating a kind to another OCCI server) come in a later round: recorded, not used.
        doc.kinds[c.kind] = { providers: c.local, default: c.local[0]!, ...(c.remote.length ? { remote: c.remote } : {}) };
      }
      try {
        await this.db.insert(doc as never);
        this.table = { kinds: doc.kinds };
        return this.table;
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode !== 409) throw translateCouchError(e, 'provider table');
      }
    }
    throw new ServiceUnavailable('the provider table keeps changing; retry');
  }

  /** Re-reads the table (another process changed it). */
  async refresh(): Promise<void> {
    await this.loadTable();
  }

  /** Start-up summary: which provider serves each kind. */
  describe(): string[] {
    return Object.entries(this.table.kinds).map(([k, row]) => `${k} → ${row.default ?? 'none available'}${row.default && !this.available.has(row.default) ? ' (unavailable: creates answer 503)' : ''}`);
  }
}
