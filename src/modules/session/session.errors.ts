import { defineErrors } from '../../lib/errors.js';

export const sessionError = defineErrors({
  SESSION_NOT_FOUND: { status: 404, message: 'No such session.' },
  SESSION_CSRF_MISSING: {
    status: 403,
    message: 'A state-changing request with a session cookie must carry the x-csrf-token header.',
  },
  SESSION_LINK_INVALID: { status: 401, message: 'The login link is not valid, used or expired.' },
});
