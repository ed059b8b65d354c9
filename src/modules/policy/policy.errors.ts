import { defineErrors } from '../../lib/errors.js';

/** Messages carry no personal information; details carry only paths, counts and ids. */
export const policyError = defineErrors({
  POLICY_INVALID: { status: 400, message: 'The policy is not valid.' },
  POLICY_VERSION_REUSED: {
    status: 409,
    message: 'This policy version was already loaded with a different text; give the new text a new version.',
  },
  POLICY_NOT_LOADED: { status: 503, message: 'No access policy is loaded.' },
  POLICY_FILE_UNREADABLE: { status: 500, message: 'The policy file cannot be read.' },
  POLICY_UNKNOWN_PURPOSE: { status: 400, message: 'The purpose is not declared.' },
  POLICY_APPROVAL_NOT_FOUND: { status: 404, message: 'No such approval request.' },
  POLICY_APPROVAL_SELF: { status: 403, message: 'An approver cannot decide his own request.' },
  POLICY_APPROVAL_DECIDED: { status: 409, message: 'The approval request was already decided.' },
  POLICY_APPROVAL_EXHAUSTED: { status: 409, message: 'The approval is used up or expired.' },
  POLICY_QUOTA_EXCEEDED: { status: 429, message: 'The daily quota for this purpose is used up.' },
});
