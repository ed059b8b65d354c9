import { defineErrors } from '../../lib/errors.js';

export const rightsError = defineErrors({
  RIGHTS_SESSION_REQUIRED: {
    status: 401,
    message: 'A portal session is required: sign in with a one-time code.',
  },
  RIGHTS_CODE_INVALID: { status: 401, message: 'The code is not valid or has expired; request a new one.' },
  RIGHTS_RATE_LIMITED: { status: 429, message: 'Too many attempts; try again later.' },
  RIGHTS_REQUEST_NOT_FOUND: { status: 404, message: 'No such request.' },
  RIGHTS_COMPLAINT_NOT_FOUND: { status: 404, message: 'No such complaint.' },
  RIGHTS_STATE_INVALID: {
    status: 409,
    message: 'The request or complaint is not in a state that allows this.',
  },
  RIGHTS_EXTENSION_NOT_ALLOWED: {
    status: 409,
    message: 'The jurisdiction rule allows no (further) extension.',
  },
  RIGHTS_EVIDENCE_REQUIRED: {
    status: 400,
    message: 'A relative of a deceased person must give a reference to the evidence (PIPL art. 49).',
  },
  RIGHTS_REASON_REQUIRED: { status: 400, message: 'A written reason is required.' },
  RIGHTS_COMPLAINT_STAFF_CANNOT_CLOSE: {
    status: 403,
    message:
      'A complaint closes only when the complainant confirms it, or by escalation after its response deadline.',
  },
  RIGHTS_COMPLAINT_NOT_DUE: {
    status: 409,
    message: 'A complaint can be escalated only once its response deadline has passed.',
  },
  RIGHTS_PORTAL_READ_DENIED: { status: 403, message: 'Your data cannot be shown right now.' },
  RIGHTS_CURSOR_INVALID: {
    status: 400,
    message: 'The page cursor is not valid: pass the `next` of the page before, or none for the newest page.',
  },
  RIGHTS_NO_COMMITMENT: { status: 503, message: 'No completeness commitment has been published yet.' },
  RIGHTS_RECIPIENT_NOT_FOUND: {
    status: 404,
    message: 'The recipient has nothing to confirm for this request.',
  },
  RIGHTS_RULES_INVALID: { status: 500, message: 'The rights rules file is not valid.' },
});
