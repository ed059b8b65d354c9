import pino, { type Logger } from 'pino';

/**
 * Logs never carry personal information. Request bodies and query strings are not logged at all;
 * the paths below are redacted as a second line of defence in case a caller logs an object that
 * holds field values.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.fields',
  '*.values',
  '*.value',
  '*.mobile',
  '*.email',
  '*.name',
  '*.id_number',
  '*.address',
  '*.company',
  'fields',
  'values',
  'value',
];

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: 'custodian' },
    },
    options.destination,
  );
}

export type { Logger };
