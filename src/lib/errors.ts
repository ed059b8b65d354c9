/**
 * One error type for the whole service. `code` is stable (MODULE_REASON) and documented in
 * docs/errors.md; `message` is what a client may see and never carries personal information;
 * `cause` keeps the original error for the server's logs only.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly message: string;
}

export type ErrorCatalog = Readonly<Record<string, ErrorSpec>>;

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: string,
    status: number,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    // A client's mistake (4xx) gets no stack: nothing ever shows it (CUSTODIAN_DEBUG=1 aside), and
    // under hostile traffic, where most requests end in one, capturing it cost about 4% of the
    // server's CPU (docs/security.md, "Fuzzing").
    const limit = Error.stackTraceLimit;
    if (status < 500 && !process.env.CUSTODIAN_DEBUG) Error.stackTraceLimit = 0;
    super(message, { cause: options.cause });
    Error.stackTraceLimit = limit;
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.details = options.details;
  }
}

const registry = new Map<string, ErrorSpec>();

/**
 * Declares a module's error codes and returns a factory for them. Every catalogue is registered so
 * that a test can check docs/errors.md against the codes the code can raise, both ways.
 */
export function defineErrors<const C extends ErrorCatalog>(catalog: C) {
  for (const [code, spec] of Object.entries(catalog)) {
    const existing = registry.get(code);
    if (existing && existing !== spec) throw new Error(`error code ${code} defined twice`);
    registry.set(code, spec);
  }
  return function fail(
    code: keyof C & string,
    options: { cause?: unknown; details?: Record<string, unknown>; message?: string } = {},
  ): AppError {
    const spec = catalog[code] as ErrorSpec;
    return new AppError(code, spec.status, options.message ?? spec.message, options);
  };
}

export function registeredErrorCodes(): ReadonlyMap<string, ErrorSpec> {
  return registry;
}

export const commonError = defineErrors({
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid.' },
  AUTH_REQUIRED: { status: 401, message: 'Authentication is required.' },
  AUTH_INVALID: { status: 401, message: 'The credentials are not valid.' },
  FORBIDDEN: { status: 403, message: 'This action is not permitted.' },
  NOT_FOUND: { status: 404, message: 'Not found.' },
  CONFLICT: { status: 409, message: 'The request conflicts with the current state.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  SERVICE_BUSY: { status: 503, message: 'The service is busy; retry after the time given.' },
  INTERNAL: { status: 500, message: 'Internal error.' },
  CONFIG_INVALID: { status: 500, message: 'The configuration is not valid.' },
});

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
