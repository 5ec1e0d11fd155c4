/**
 * One OCCI JSON request to a spawned occitan server over real HTTP (the e2e, crash and chaos suites talk to
 * OS processes, not to an in-process app: supertest does not apply there).
 */

const OCCI_JSON = 'application/occi+json';

export interface OcciAnswer {
  status: number;
  /**
   * The parsed body, or its text when it is not JSON (an error page must still show in a failed assertion),
   * or undefined when empty. Loosely typed on purpose: the tests probe renderings structurally and assert
   * the shapes they read.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
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
