import { defineErrors } from '../../lib/errors.js';

export const detectError = defineErrors({
  DETECT_ALERT_NOT_FOUND: { status: 404, message: 'No such alert.' },
  DETECT_ALERT_CLOSED: { status: 409, message: 'The alert is not in a state that allows this.' },
  DETECT_REASON_REQUIRED: { status: 400, message: 'A reason of at least 5 characters is required.' },
  DETECT_SELF_ACTION: { status: 403, message: 'Another person must do this.' },
  DETECT_ALREADY_SUSPENDED: { status: 409, message: 'The actor is already suspended.' },
  DETECT_NOT_SUSPENDED: { status: 409, message: 'The actor is not suspended.' },
});
