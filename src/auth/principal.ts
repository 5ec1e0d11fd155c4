/**
 * What an authentication check proves about a caller, before a tenant is chosen for the request.
 */
export type TenantRole = 'admin' | 'member';

export interface Principal {
  user: string;
  /** Per-tenant roles; "admin" is the IMS "admin for the tenant". */
  roles: Readonly<Record<string, TenantRole>>;
  /** Global admin: kinds, actions, provider mixins and the provider table. */
  admin: boolean;
  /** The tenant used when the request names none (X-Tenant-Name). */
  defaultTenant?: string;
}

/** Tenant names end up in document ids and log lines: a conservative alphabet. */
export const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** User names as the token file and `occitan token add` accept them. */
export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

export function isRole(v: unknown): v is TenantRole {
  return v === 'admin' || v === 'member';
}
