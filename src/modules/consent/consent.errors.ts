import { defineErrors } from '../../lib/errors.js';

/** Messages carry no personal information; details carry only counts, ids and field names. */
export const consentError = defineErrors({
  CONSENT_NOTICE_INVALID: {
    status: 400,
    message: 'The notice does not declare what PIPL art. 17 (and art. 23 for a third party) requires.',
  },
  CONSENT_NOTICE_NOT_FOUND: { status: 404, message: 'No such notice.' },
  CONSENT_NOT_FOUND: { status: 404, message: 'No such consent record.' },
  CONSENT_PURPOSE_NOT_IN_NOTICE: { status: 400, message: 'The notice shown does not declare this purpose.' },
  CONSENT_FIELDS_NOT_IN_NOTICE: {
    status: 400,
    message: 'The consent covers fields that the notice shown does not declare.',
  },
  CONSENT_RECIPIENT_NOT_IN_NOTICE: {
    status: 400,
    message: 'Consent to provision to a third party needs a notice naming that recipient (PIPL art. 23).',
  },
  CONSENT_CROSS_BORDER_NOT_IN_NOTICE: {
    status: 400,
    message: 'Separate consent to a cross-border transfer needs a notice declaring it (PIPL art. 39).',
  },
  CONSENT_SENSITIVE_NOT_IN_NOTICE: {
    status: 400,
    message: 'Separate consent to sensitive PI needs a notice stating necessity and impact (PIPL art. 30).',
  },
  CONSENT_TIME_INVALID: {
    status: 400,
    message: 'The consent times are not consistent (given in the future, or expiry before given).',
  },
  CONSENT_NOT_ACTIVE: { status: 409, message: 'There is no active consent to withdraw.' },
  CONSENT_SUBJECT_NOT_FOUND: { status: 404, message: 'No subject matches the identifier given.' },
  CONSENT_SUBJECT_AMBIGUOUS: { status: 409, message: 'More than one subject matches the identifier given.' },
  CONSENT_IMPORT_INVALID: { status: 400, message: 'The consent import file has no usable header.' },
});
