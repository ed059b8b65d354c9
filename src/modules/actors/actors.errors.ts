import { defineErrors } from '../../lib/errors.js';

/** Messages carry no personal information; details carry only counts, ids and field names. */
export const actorsError = defineErrors({
  ACTORS_NOT_FOUND: { status: 404, message: 'No such actor.' },
  ACTORS_NAME_TAKEN: { status: 409, message: 'An actor with this name already exists.' },
  ACTORS_DISABLED: { status: 409, message: 'The actor is disabled.' },
  ACTORS_LAST_ADMIN: {
    status: 409,
    message: 'This would leave no active administrator; create another administrator first.',
  },
  ACTORS_KEY_NOT_FOUND: { status: 404, message: 'No such API key.' },
  ACTORS_CSV_INVALID: {
    status: 400,
    message: 'The assignment file is not valid CSV with the expected columns.',
  },
  ACTORS_BATCH_TOO_LARGE: { status: 413, message: 'Too many assignments in one request.' },
  ACTORS_FOUR_EYES_REQUIRED: {
    status: 409,
    message:
      'A role that allows plain personal information needs a second administrator: file an actor request and have another administrator approve it.',
  },
  ACTORS_REQUEST_NOT_FOUND: { status: 404, message: 'No such actor request.' },
  ACTORS_REQUEST_SELF: { status: 403, message: 'An administrator cannot approve his own request.' },
  ACTORS_REQUEST_DECIDED: { status: 409, message: 'The actor request was already decided.' },
  ACTORS_REQUEST_NOT_NEEDED: {
    status: 409,
    message: 'No requested role allows plain personal information; make the change directly.',
  },
});
