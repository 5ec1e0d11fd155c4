/**
 * One OCCI JSON request to a spawned occitan server over real HTTP (the e2e, crash and chaos suites talk to
 * OS processes, not to an in-process app: supertest does not apply there).
 */

const OCCI_JSON = 'application/occi+json';

export interface OcciAnswer {
  status: number;
  /**
   * The parsed body, or its text when it is not JSON (an error page must still show in a failed assertion),
   * or undefined when empty. Callers read it through the accessors below, which fail on a different shape.
   */
  json: unknown;
  headers: Headers;
}

/** `method base+url` with an OCCI JSON body (when given), accepting `accept` (OCCI JSON unless told). */
export async function occiCall(base: string, method: string, url: string, body?: unknown, accept = OCCI_JSON): Promise<OcciAnswer> {
  const res = await fetch(base + url, {
    method,
    headers: { Accept: accept, ...(body !== undefined ? { 'Content-Type': OCCI_JSON } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/**
 * The value at `path` in a parsed body (object keys, array indexes), or undefined where the body has no
 * such path (an error page, a different rendering): an assertion on it then fails with the value it got.
 */
export function field(json: unknown, ...path: Array<string | number>): unknown {
  let cur = json;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}
