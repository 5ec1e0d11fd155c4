/**
 * First start: with auth.mode tokens and a missing or empty token file, creates a token for `admin`
 * (global admin, admin of tenant `default`) and prints it once. Only its hash is kept.
 */
import { addToken, readTokenFile } from './token-file';
import { DEFAULT_TENANT } from '../http/caller';

/** Returns the new token, or undefined when the file already has users or tokens. */
export function bootstrapTokenFile(file: string, print: (text: string) => void): string | undefined {
  const data = readTokenFile(file);
  if (data.tokens.size > 0 || data.users.size > 0) return undefined;
  const { token } = addToken(file, { user: 'admin', tenant: DEFAULT_TENANT, role: 'admin', globalAdmin: true });
  print(
    `occitan: created the first admin token (user admin: global admin, admin of tenant ${DEFAULT_TENANT}) in ${file}.\n` +
    'It is shown only this once; send it as X-Auth-Token or Authorization: Bearer:\n' +
    `${token}\n`);
  return token;
}
