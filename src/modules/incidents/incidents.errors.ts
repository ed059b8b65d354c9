import { defineErrors } from '../../lib/errors.js';

export const incidentsError = defineErrors({
  INCIDENTS_NOT_FOUND: { status: 404, message: 'No such incident.' },
  INCIDENTS_CLOSED: { status: 409, message: 'The incident is closed.' },
  INCIDENTS_SOURCE_NOT_FOUND: {
    status: 404,
    message: 'The alert, trace or complaint named as the source was not found.',
  },
  INCIDENTS_SCOPE_EMPTY_CRITERIA: {
    status: 400,
    message: 'A scope names at least one actor, recipient, or the suspended accounts.',
  },
  INCIDENTS_NOT_SCOPED: { status: 409, message: 'The incident has no scope yet.' },
  INCIDENTS_GRADE_LOWER: {
    status: 409,
    message: 'A grade can be raised, never set below what the affected count gives.',
  },
  INCIDENTS_NOTICE_NOT_FOUND: { status: 404, message: 'No such notice for this incident.' },
  INCIDENTS_NOTICE_INCOMPLETE: {
    status: 409,
    message: 'The notice lacks content the law requires; complete the incident facts first.',
  },
  INCIDENTS_NOTICE_SUBMITTED: { status: 409, message: 'The notice was already submitted.' },
  INCIDENTS_REASON_REQUIRED: {
    status: 400,
    message: 'Not notifying the individuals needs a recorded reason.',
  },
  INCIDENTS_DECISION_PENDING: {
    status: 409,
    message: 'Decide whether the individuals are notified (or record why not) before closing.',
  },
  INCIDENTS_ACTION_UNAVAILABLE: { status: 501, message: 'That action is not available in this deployment.' },
  INCIDENTS_ACTION_FAILED: {
    status: 502,
    message: 'The action failed in the module that carries it out; the failure is recorded.',
  },
});
