import { credentialOf } from '../../../src/auth/credentials';
import { callerFor } from '../../../src/auth/middleware';
import type { Principal } from '../../../src/auth/principal';
import { BadRequest, Forbidden, Unauthorized } from '../../../src/errors';

const CH = 'Basic realm="occitan", Bearer realm="occitan"';

describe('credentialOf', () => {
  test('X-Auth-Token, Bearer and Basic', () => {
    expect(credentialOf({ 'x-auth-token': ' abc.def ' }, CH)).toEqual({ kind: 'token', token: 'abc.def' });
    expect(credentialOf({ authorization: 'Bearer abc.def' }, CH)).toEqual({ kind: 'token', token: 'abc.def' });
    expect(credentialOf({ authorization: 'bearer abc.def' }, CH)).toEqual({ kind: 'token', token: 'abc.def' });
    const b = Buffer.from('alice:pa:ss wörd').toString('base64');
    expect(credentialOf({ authorization: `Basic ${b}` }, CH)).toEqual({ kind: 'basic', user: 'alice', password: 'pa:ss wörd' });
    expect(credentialOf({}, CH)).toBeUndefined();
  });

  test.each([
    [{ authorization: 'Digest username="a"' }],
    [{ authorization: 'Negotiate abc' }],
    [{ authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` }],
    [{ authorization: `Basic ${Buffer.from(':nouser').toString('base64')}` }],
    [{ authorization: 'Bearer' }],
    [{ 'x-auth-token': ['a.b', 'c.d'] }],
  ])('malformed %j is 401 with the challenge', (headers) => {
    let err: unknown;
    try {
      credentialOf(headers, CH);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Unauthorized);
    expect((err as Unauthorized).headers['WWW-Authenticate']).toBe(CH);
  });
});

describe('callerFor', () => {
  const member: Principal = { user: 'alice', roles: { acme: 'member', beta: 'admin' }, admin: false, defaultTenant: 'acme' };
  const root: Principal = { user: 'root', roles: {}, admin: true };

  test('the default tenant, or a named one where the user holds a role', () => {
    expect(callerFor(member, undefined)).toEqual({ user: 'alice', tenant: 'acme', admin: false, role: 'member' });
    expect(callerFor(member, 'beta')).toEqual({ user: 'alice', tenant: 'beta', admin: false, role: 'admin' });
  });

  test('a tenant without a role is 403; a malformed tenant name is 400', () => {
    expect(() => callerFor(member, 'gamma')).toThrow(Forbidden);
    expect(() => callerFor(member, '../acme')).toThrow(BadRequest);
    expect(() => callerFor({ user: 'nobody', roles: {}, admin: false }, undefined)).toThrow(Forbidden);
  });

  test('a global admin works in tenant default unless it names another', () => {
    expect(callerFor(root, undefined)).toEqual({ user: 'root', tenant: 'default', admin: true, role: 'admin' });
    expect(callerFor(root, 'acme')).toEqual({ user: 'root', tenant: 'acme', admin: true, role: 'admin' });
  });
});
