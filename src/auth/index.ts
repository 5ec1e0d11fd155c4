/**
 * The configured authentication: start-up checks, first-start bootstrap, and the checker the HTTP
 * middleware uses.
 */
import type { Logger } from '../backends/backend';
import type { Config } from '../config';
import type { Authenticator } from './authenticator';
import { bootstrapTokenFile } from './bootstrap';
import { OidcChecker } from './oidc';
import { checkStartup, tokenFilePath } from './startup';
import { TokenFileChecker } from './token-checker';

export type { Authenticator } from './authenticator';
export { authMiddleware } from './middleware';

/** Everyone is the admin, of the default tenant unless X-Tenant-Name names another (loopback only). */
export const noAuth: Authenticator = {
  challenge: 'Basic realm="occitan", Bearer realm="occitan"',
  anonymous: true,
  authenticate: async () => ({ user: 'anonymous', roles: {}, admin: true }),
  close: async () => undefined,
};

export function createAuthenticator(config: Config, log: Logger, opts: { print?: (text: string) => void } = {}): Authenticator {
  checkStartup(config);
  switch (config.auth.mode) {
    case 'none':
      log.warn('auth.mode is none: every caller is an admin (loopback only)');
      return noAuth;
    case 'oidc':
      return new OidcChecker(config.auth.oidc, { cooldownMs: config.timers.jwksCooldown, cacheMaxAgeMs: config.timers.jwksMaxAge });
    case 'tokens': {
      const file = tokenFilePath(config);
      bootstrapTokenFile(file, opts.print ?? ((t) => void process.stdout.write(t)));
      return new TokenFileChecker(file, log);
    }
  }
}
