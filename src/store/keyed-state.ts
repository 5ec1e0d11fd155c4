/**
 * Backends' small conflict-safe documents (reservations, address pools, records) in CouchDB, one
 * namespace per provider. Compare-and-set on `_rev`: a lost race returns false and the caller retries.
 */
import type { DocumentScope } from 'nano';
import type { KeyedState } from '../backends/backend';
import { translateCouchError } from './couch';

interface StateDoc {
  _id: string;
  _rev?: string;
  type: 'state';
  value: unknown;
}

function statusOf(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null ? (e as { statusCode?: number }).statusCode : undefined;
}

export class CouchKeyedState implements KeyedState {
  constructor(
    private readonly db: DocumentScope<unknown>,
    private readonly namespace: string,
  ) {}

  private id(key: string): string {
    return `state:${this.namespace}:${key}`;
  }

  async get<T>(key: string): Promise<{ value: T; rev: string } | undefined> {
    try {
      const doc = (await this.db.get(this.id(key))) as unknown as StateDoc;
      return { value: doc.value as T, rev: doc._rev ?? '' };
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw translateCouchError(e, `state ${key}`);
    }
  }

  async put<T>(key: string, value: T, rev?: string): Promise<boolean> {
    const doc: StateDoc = { _id: this.id(key), type: 'state', value, ...(rev ? { _rev: rev } : {}) };
    try {
      await this.db.insert(doc as never);
      return true;
    } catch (e) {
      if (statusOf(e) === 409) return false;
      throw translateCouchError(e, `state ${key}`);
    }
  }

  async delete(key: string, rev: string): Promise<boolean> {
    try {
      await this.db.destroy(this.id(key), rev);
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return true;
      if (statusOf(e) === 409) return false;
      throw translateCouchError(e, `state ${key}`);
    }
  }

  /** Keys in this namespace (for observers and reconciliation). */
  async keys(): Promise<string[]> {
    const prefix = `state:${this.namespace}:`;
    try {
      const res = await this.db.list({ startkey: prefix, endkey: prefix + '\ufff0' });
      return res.rows.map((r) => r.id.slice(prefix.length));
    } catch (e) {
      throw translateCouchError(e, 'state');
    }
  }
}
