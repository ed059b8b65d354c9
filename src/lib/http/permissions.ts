import { commonError } from '../errors.js';
import type { Principal } from '../principal.js';

/**
 * Who may do what outside the read path. A route names the action it needs ('subjects.write',
 * 'alerts.read', …); the composition root answers from the active policy file's `permissions:`
 * section (its defaults when the file has none), so one place says who may do what
 * (docs/policy.md). The route never sees a role list.
 */
export interface Permissions {
  /** Whether one of the principal's roles holds `action`. */
  can(principal: Principal, action: string): Promise<boolean>;
  /** Throws 403 FORBIDDEN, which says nothing about roles or policy, unless the principal holds `action`. */
  require(principal: Principal, action: string): Promise<void>;
}

/**
 * Roles × action → allowed. Throws on an action the policy does not know (a programming error,
 * never a silent deny). Asynchronous so the answer can come from a freshly checked policy.
 */
export type PermissionCheck = (roles: readonly string[], action: string) => boolean | Promise<boolean>;

export function permissionsFrom(check: PermissionCheck): Permissions {
  return {
    can: async (principal, action) => check(principal.roles, action),
    async require(principal, action) {
      if (!(await check(principal.roles, action))) throw commonError('FORBIDDEN');
    },
  };
}
