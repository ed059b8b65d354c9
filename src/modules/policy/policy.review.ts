import type { PolicyServiceDeps } from './policy.deps.js';
import { grantUsage } from './policy.repo.js';
import type { PolicyVersions } from './policy.versions.js';
import { type AccessReview, review } from './review.js';

/** The access review of the active policy, from the grant usage the read path recorded (review.ts decides). */
export function createPolicyReview(deps: PolicyServiceDeps, versions: PolicyVersions) {
  return {
    /** Access review of the active policy over the last `days` days (default 30). */
    async review(opts: { days?: number } = {}): Promise<AccessReview> {
      const p = await versions.active();
      const days = opts.days ?? 30;
      const now = deps.clock.now();
      const since = p.local.day(new Date(now.getTime() - (days - 1) * 86_400_000));
      const until = p.local.day(now);
      const rows = await grantUsage.since(deps.db, since);
      return review(
        p,
        rows.map((r) => ({
          role: r.role,
          purpose: r.purpose,
          field: r.field,
          view: r.view as any,
          via: r.via as 'grant' | 'break_glass',
          lastUsed: r.last_day,
        })),
        { since, until },
      );
    },
  };
}
