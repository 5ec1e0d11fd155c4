/**
 * Who the current request acts as, for rules the service enforces itself (kinds only admins manage).
 * The HTTP layer runs each authenticated request inside `actingAs`; work with no request behind it
 * (start-up declarations, lease expiry, reconciliation) runs outside, as the system, and passes.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface Acting {
  user: string;
  /** Global admin. */
  admin: boolean;
}

const scope = new AsyncLocalStorage<Acting>();

export function actingAs<T>(who: Acting, work: () => T): T {
  return scope.run(who, work);
}

/** The request's caller; undefined for the system's own work. */
export function acting(): Acting | undefined {
  return scope.getStore();
}
