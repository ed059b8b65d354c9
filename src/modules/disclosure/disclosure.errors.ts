import { defineErrors } from '../../lib/errors.js';

/** Messages carry no personal information; details carry only counts, ids and field names. */
export const disclosureError = defineErrors({
  DISCLOSURE_RECIPIENT_NOT_FOUND: { status: 404, message: 'No such recipient.' },
  DISCLOSURE_RECIPIENT_EXISTS: { status: 409, message: 'A recipient with that name already exists.' },
  DISCLOSURE_RECIPIENT_NOT_ENABLED: { status: 409, message: 'The recipient is not enabled.' },
  DISCLOSURE_IMPACT_ASSESSMENT_MISSING: {
    status: 409,
    message:
      'The recipient has no recorded impact assessment (PIPL art. 55); it cannot be enabled or receive data.',
  },
  DISCLOSURE_TRANSFER_ASSESSMENT_MISSING: {
    status: 409,
    message:
      'The recipient is outside the jurisdiction and has no valid transfer mechanism on file (PIPL art. 38–40).',
  },
  DISCLOSURE_TRANSFER_VOLUME_EXCEEDED: {
    status: 409,
    message: 'This transfer would take the year’s count for the destination above what its mechanism covers.',
  },
  DISCLOSURE_PURPOSE_NOT_ALLOWED: {
    status: 409,
    message: 'The purpose is not among those agreed with the recipient.',
  },
  DISCLOSURE_CONSENT_MISSING: {
    status: 409,
    message: 'Some subjects lack the separate consent this disclosure needs; nothing was disclosed.',
  },
  DISCLOSURE_NOTHING_TO_DISCLOSE: { status: 409, message: 'No subject in the request can be disclosed.' },
  DISCLOSURE_NOT_FOUND: { status: 404, message: 'No such disclosure.' },
  DISCLOSURE_ALREADY_DELIVERED: { status: 409, message: 'The delivery was already picked up.' },
  // A refusal names no rule: why (no grant, fields, assignment, quota) goes to the ledger only.
  DISCLOSURE_NOT_PERMITTED: {
    status: 403,
    message: 'This disclosure is not permitted.',
  },
});

export const canaryError = defineErrors({
  CANARY_POOL_EXHAUSTED: { status: 500, message: 'No unused canary identity could be drawn.' },
  CANARY_NOT_CONFIGURED: {
    status: 500,
    message: 'Canaries are not configured (monitored mobile range and e-mail domain).',
  },
  CANARY_CONTACT_INVALID: {
    status: 400,
    message: 'The contact point is neither a mobile number nor an e-mail address.',
  },
});
