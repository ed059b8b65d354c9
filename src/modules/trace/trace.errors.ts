import { defineErrors } from '../../lib/errors.js';

export const TRACE_ERRORS = {
  TRACE_FILE_EMPTY: { status: 400, message: 'The file holds no recognisable rows.' },
  TRACE_FILE_UNREADABLE: { status: 400, message: 'The file could not be read in any supported format.' },
  TRACE_FILE_TOO_LARGE: { status: 413, message: 'The file has more rows than one trace reads.' },
  TRACE_COMPLAINTS_INVALID: { status: 400, message: 'The complaints could not be read.' },
  TRACE_NO_INPUT: { status: 400, message: 'A trace needs a leaked file, complaints or canary trips.' },
  TRACE_NOT_FOUND: { status: 404, message: 'No such trace.' },
} as const;

export const traceError = defineErrors(TRACE_ERRORS);
export type TraceErrorCode = keyof typeof TRACE_ERRORS;
