import { requireRecorder } from '../../lib/audit.js';
import { createPolicyApprovals } from './policy.approvals.js';
import type { PolicyServiceDeps } from './policy.deps.js';
import { createPolicyReview } from './policy.review.js';
import { createPolicyUsage } from './policy.usage.js';
import { createPolicyVersions } from './policy.versions.js';

export {
  APPROVAL_DEFAULT_HOURS,
  APPROVAL_MAX_HOURS,
  APPROVAL_MAX_SUBJECTS,
  APPROVAL_MIN_REASON,
  APPROVER_ROLE,
  type Approval,
  type ApprovalState,
} from './policy.approvals.js';
export type { PolicyServiceDeps } from './policy.deps.js';
export type { ContextQuery, UseRecord } from './policy.usage.js';
export {
  defaultPolicyFile,
  type LoadResult,
  type PolicyVersionInfo,
  readPolicyFile,
} from './policy.versions.js';

export type PolicyService = ReturnType<typeof createPolicyService>;

/**
 * The policy module's service, one object made of four jobs, each in its own file:
 * - versions (policy.versions.ts): load, history, and the cached active policy that decide(),
 *   permits() and plainRoles() read;
 * - usage (policy.usage.ts): the read path's contexts() and recordUses() (quotas, approvals
 *   consumed, grant usage);
 * - approvals (policy.approvals.ts): request, decide, list;
 * - review (policy.review.ts): the access review.
 */
export function createPolicyService(deps: PolicyServiceDeps) {
  requireRecorder(deps.record, 'createPolicyService');
  const versions = createPolicyVersions(deps);
  return {
    ...versions,
    ...createPolicyUsage(deps, versions),
    ...createPolicyApprovals(deps, versions),
    ...createPolicyReview(deps, versions),
  };
}
