/**
 * What the HTTP middleware asks of an authentication mode: check one credential, and name the schemes
 * it accepts for `WWW-Authenticate`.
 */
import type { Principal } from './principal';

export type Credential =
  | { kind: 'token'; token: string }
  | { kind: 'basic'; user: string; password: string };

export interface Authenticator {
  /** The `WWW-Authenticate` value sent with a 401. */
  readonly challenge: string;
  /** Whether a request without credentials is accepted (auth: none). */
  readonly anonymous: boolean;
  /** The principal for a credential; throws Unauthorized when it is bad. */
  authenticate(credential: Credential | undefined): Promise<Principal>;
  close(): Promise<void>;
}
