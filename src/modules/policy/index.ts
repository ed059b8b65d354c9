// The policy module's only door: purposes, grants, decisions, quotas, approvals, access review.
// Who may do what outside the read path (the policy file's `permissions:`).
export {
  type CompiledDisclose,
  type CompiledGrant,
  type CompiledPolicy,
  compilePolicy,
  type DisclosureDecision,
  type DisclosureDecisionInput,
  decideDisclosure,
  type FieldViews,
  type Purpose,
  permissionsByRole,
  permits,
  permitsAction,
  policyHash,
  VIEW_RANK,
} from './compile.js';
export {
  type ApprovalContext,
  BREAK_GLASS_MIN_REASON,
  type Decision,
  type DecisionContext,
  type DecisionInput,
  decide,
  type GrantUse,
  OBLIGATIONS,
  type Obligation,
  REASONS,
  type ReasonCode,
} from './decide.js';
export { type LocalTime, localTime } from './localtime.js';
export { formatReview, registerPolicyCommands } from './policy.commands.js';
export { policyError } from './policy.errors.js';
export { type PolicyRoutesDeps, policyRoutes } from './policy.routes.js';
export {
  APPROVAL_DEFAULT_HOURS,
  APPROVER_ROLE,
  type Approval,
  type ApprovalState,
  type ContextQuery,
  createPolicyService,
  defaultPolicyFile,
  type LoadResult,
  type PolicyService,
  type PolicyServiceDeps,
  type PolicyVersionInfo,
  readPolicyFile,
  type UseRecord,
} from './policy.service.js';
export {
  type AccessReview,
  FINDINGS,
  type Finding,
  type FindingCode,
  type GrantUsage,
  type ReviewedField,
  type ReviewedGrant,
  review,
} from './review.js';
export {
  DEFAULT_PERMISSIONS,
  DEFAULT_TIMEZONE,
  isPermission,
  LEGAL_BASES,
  type LegalBasis,
  PERMISSIONS,
  type Permission,
  type PolicyDoc,
  type PolicyIssue,
  parsePolicy,
  VIEWS,
  type View,
} from './schema.js';
