import { defineErrors } from '../../lib/errors.js';

/**
 * A denial says that the read was refused and, where the actor can act on it, what to do
 * (request an approval); it never says which rule refused or what the policy grants.
 */
export const accessError = defineErrors({
  ACCESS_DENIED: { status: 403, message: 'Access to this record for this purpose is not permitted.' },
  ACCESS_QUOTA_EXCEEDED: {
    status: 403,
    message: 'Daily quota for this purpose reached; request an approval to continue.',
  },
  ACCESS_ACTOR_SUSPENDED: {
    status: 403,
    message: 'This account is suspended; reads are refused until another approver reinstates it.',
  },
  ACCESS_APPROVAL_REQUIRED: { status: 403, message: 'This read needs an approval; request one.' },
  ACCESS_SUBJECT_NOT_FOUND: { status: 404, message: 'No such subject.' },
  ACCESS_SUBJECT_ERASED: { status: 410, message: 'The subject was erased.' },
  ACCESS_UNKNOWN_FIELD: { status: 400, message: 'A requested field is not in the field catalog.' },
  ACCESS_BATCH_TOO_LARGE: { status: 400, message: 'Too many subjects in one batch.' },
  ACCESS_TOKEN_INVALID: { status: 400, message: 'The contact token is not valid or has expired.' },
});
