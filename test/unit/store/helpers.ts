/** Shared bits of the store tests: temp directories, a tiny design doc, bounded polling. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `occitan-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const testDesignDoc = {
  _id: '_design/test',
  views: { by_type: { map: 'function (doc) { if (doc.type) emit(doc.type, null); }' } },
};

/** A couchdb/-like folder holding one design document (and a README that must be ignored). */
export function designDir(parent: string, doc: object = testDesignDoc): string {
  const dir = path.join(parent, 'couchdb');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'test.json'), JSON.stringify(doc, null, 2));
  writeFileSync(path.join(dir, 'README.md'), 'not a design document\n');
  return dir;
}

/** Polls `check` until it returns true or `timeoutMs` passes; the bound makes a hang a clear failure. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Base URL without credentials, plus the Authorization header that carries them. */
export function splitUrl(url: string): { base: string; auth: string; password: string } {
  const u = new URL(url);
  const user = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  return {
    base: `${u.protocol}//${u.host}`,
    auth: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64'),
    password,
  };
}
