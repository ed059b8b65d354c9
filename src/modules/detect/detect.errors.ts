import { defineErrors } from '../../lib/errors.js';

export const detectError = defineErrors({
  DETECT_ALERT_NOT_FOUND: { status: 404, message: 'No such alert.' },
  DETECT_ALERT_CLOSED: { status: 409, message: 'The alert is already closed.' },
});
