/**
 * Credentials as OCCI clients send them: `X-Auth-Token` (OpenStack style, as the IMS orchestrator does),
 * `Authorization: Bearer <token>` and `Authorization: Basic <base64 user:password>` (GFD.185's SHOULD).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Unauthorized } from '../errors';
import type { Credential } from './authenticator';

function one(headers: IncomingHttpHeaders, name: string, challenge: string): string | undefined {
  const v = headers[name];
  if (Array.isArray(v)) {
    if (v.length > 1) throw new Unauthorized(`send one ${name} header, not ${v.length}`, challenge);
    return v[0];
  }
  return v;
}

/** The request's credential, undefined when it carries none; Unauthorized when it is malformed. */
export function credentialOf(headers: IncomingHttpHeaders, challenge: string): Credential | undefined {
  const authorization = one(headers, 'authorization', challenge)?.trim();
  const xAuth = one(headers, 'x-auth-token', challenge)?.trim();
  if (authorization) {
    const m = /^(\S+)\s+(\S+)$/.exec(authorization);
    const scheme = m?.[1]?.toLowerCase();
    // Two different credentials in one request: which one a proxy checked is anyone's guess.
    if (xAuth && !(scheme === 'bearer' && m?.[2] === xAuth)) {
      throw new Unauthorized('the request carries two different credentials (Authorization and X-Auth-Token); send one', challenge);
    }
    if (m && scheme === 'bearer') return { kind: 'token', token: m[2]! };
    if (m && scheme === 'basic') {
      const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) throw new Unauthorized('the Basic credentials are not user:password in base64', challenge);
      return { kind: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    throw new Unauthorized(`the Authorization header's scheme is not accepted; use one of: ${challenge}`, challenge);
  }
  if (xAuth) return { kind: 'token', token: xAuth };
  return undefined;
}
