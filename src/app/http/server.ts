import { randomUUID } from 'node:crypto';
import { Transform } from 'node:stream';
import fastifyCookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import rateLimitPlugin from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import { sha256 } from '../../lib/crypto/index.js';
import { type AppError, commonError, isAppError } from '../../lib/errors.js';
import type { Principal, RouteDef } from '../../lib/http/index.js';
import { maskPiShapes, maskPiText } from '../../lib/pishape.js';
import { publicIssues } from '../../lib/zodissues.js';

/** What the server does before any handler runs: limits, headers, timeouts (docs/security.md). */
export interface HttpLimits {
  /** Requests per minute per client address, before authentication (0: off). */
  ipPerMinute: number;
  /** Body limit in bytes by actor kind, overridden per role; a route's own limit caps it. */
  body: { employee: number; partner: number; service: number; roles?: Record<string, number> };
  /** Event-loop delay (ms) over which requests get 503 + Retry-After (0: off). */
  maxEventLoopDelayMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  ipPerMinute: 1200,
  body: { employee: 64 * 1024 * 1024, partner: 1024 * 1024, service: 256 * 1024 * 1024 },
  maxEventLoopDelayMs: 0,
};

/**
 * Content-Security-Policy by path prefix (longest prefix wins). The API serves JSON only, so it
 * allows nothing; a single-page console served from its own prefix needs its own scripts and styles.
 */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
export const SPA_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
export const DEFAULT_CSP: readonly { prefix: string; policy: string }[] = [
  { prefix: '/', policy: API_CSP },
  { prefix: '/console/', policy: SPA_CSP },
  { prefix: '/portal/', policy: SPA_CSP },
];

/** Something the group-commit queue or another bounded resource refuses for now (503). */
export function isOverloaded(e: unknown): boolean {
  return (e as { code?: string })?.code === 'DB_QUEUE_FULL';
}

export interface HttpRateLimiter {
  (principal: Principal, cost?: number): void;
  wait(actorId: string): number;
  charge?(principal: Principal, cost: number): void;
}

export interface HttpDeps {
  logger: Logger;
  routes: readonly RouteDef<any, any, any, any>[];
  /** Resolves a bearer token to a principal, or undefined when it is not valid. */
  authenticate(token: string): Promise<Principal | undefined>;
  /**
   * Per-actor limiter, in subjects: charges `cost` and throws RATE_LIMITED when the actor's bucket
   * is empty; `wait(actorId)` answers without charging (so a known key over its rate gets its 429
   * without a database round trip); `charge` adds the rest of a batch's cost once it is known.
   */
  rateLimit?: HttpRateLimiter;
  /**
   * For requests without an Authorization header: a session cookie → principal (the console).
   * Throws for a state-changing request whose CSRF header does not match.
   */
  authenticateRequest?(request: FastifyRequest): Promise<Principal | undefined>;
  /** An authenticated actor's attempt refused before any decision (bad shape, rate): recorded. */
  attempt?(a: {
    actor: string;
    route: string;
    status: number;
    code: string;
    purpose?: string;
    subject?: string;
    requestId?: string;
  }): void;
  health(): Promise<Record<string, unknown>>;
  https?: { cert: Buffer; key: Buffer };
  version: string;
  /** Modules' own metric registries (e.g. detection's per-detector counters), served on /metrics too. */
  metrics?: readonly Registry[];
  limits?: Partial<HttpLimits>;
  csp?: readonly { prefix: string; policy: string }[];
  /** Extra Prometheus gauges, read at scrape time. */
  gauges?: readonly { name: string; help: string; value(): Promise<number> | number }[];
}

export interface ErrorBody {
  code: string;
  message: string;
  requestId: string;
  details?: Record<string, unknown>;
}

/**
 * The one HTTP error mapper: stable code, a message without PI, the status; never a stack. Its last
 * step is a guard: any PI shape (mobile, ID number, e-mail) left in the message or details is masked
 * and counted in `masked` (the server exports the count as custodian_http_error_pi_masked_total).
 * The guard is a backstop; an error that needs it is a bug at its source.
 */
export function toErrorBody(
  e: unknown,
  requestId: string,
): { status: number; body: ErrorBody; masked: number } {
  let err: AppError;
  if (isAppError(e)) err = e;
  else if (e instanceof z.ZodError) {
    err = commonError('VALIDATION_FAILED', {
      details: { issues: publicIssues(e) },
    });
  } else if (isOverloaded(e)) {
    err = commonError('SERVICE_BUSY', { details: { retryAfterMs: 1000 } });
  } else {
    const fe = e as { statusCode?: number; code?: string };
    if (fe?.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fe?.statusCode === 413)
      err = commonError('PAYLOAD_TOO_LARGE');
    else if (fe?.statusCode === 400 || fe?.statusCode === 415 || fe?.code?.startsWith('FST_ERR_CTP'))
      err = commonError('VALIDATION_FAILED');
    else if (fe?.statusCode === 404) err = commonError('NOT_FOUND');
    else err = commonError('INTERNAL', { cause: e });
  }
  // details are only the code's own structured data (counts, ids, positions); never values.
  const message = maskPiText(err.message);
  const body: ErrorBody = { code: err.code, message: message.value, requestId };
  let masked = message.masked;
  if (err.details) {
    const details = maskPiShapes(err.details as Record<string, unknown>);
    body.details = details.value;
    masked += details.masked;
  }
  return { status: err.status, body, masked };
}

/** A caller's X-Request-Id is kept for correlation only when it is a plain token and not PI-shaped. */
export function acceptedRequestId(given: unknown): string | undefined {
  if (typeof given !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(given)) return undefined;
  return maskPiText(given).masked === 0 ? given : undefined;
}

const PURPOSE = /^[a-z][a-z0-9_]{0,63}$/;
const SUBJECT = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The purpose and subject an attempt named, when well-formed (never a value: ids and names only).
 * The attempt goes to the ledger, which is append-only: a PI-shaped "subject id" (a mobile put in
 * the path) is left out rather than written there for good.
 */
function attemptTarget(req: FastifyRequest): { purpose?: string; subject?: string } {
  const q = (req.query ?? {}) as Record<string, unknown>;
  const b = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
  const p = (req.params ?? {}) as Record<string, unknown>;
  const purpose =
    typeof q.purpose === 'string' ? q.purpose : typeof b.purpose === 'string' ? b.purpose : undefined;
  const subject = typeof p.id === 'string' ? p.id : undefined;
  return {
    ...(purpose && PURPOSE.test(purpose) && !maskPiText(purpose).masked ? { purpose } : {}),
    ...(subject && SUBJECT.test(subject) && !maskPiText(subject).masked ? { subject } : {}),
  };
}

function retryAfterSeconds(body: ErrorBody): string {
  const ms = Number((body.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs ?? 1000);
  return String(Math.max(1, Math.ceil((Number.isFinite(ms) ? ms : 1000) / 1000)));
}

export function buildServer(deps: HttpDeps): FastifyInstance {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...deps.limits };
  const registry = new Registry();
  const piMasked = new Counter({
    name: 'custodian_http_error_pi_masked_total',
    help: 'PI-shaped values the error mapper had to mask in an error body (should stay 0: a rise is an error echoing input)',
    registers: [registry],
  });
  piMasked.inc(0);
  const errorBody = (e: unknown, requestId: string) => {
    const r = toErrorBody(e, requestId);
    if (r.masked > 0) piMasked.inc(r.masked);
    return r;
  };
  const csp = [...(deps.csp ?? DEFAULT_CSP)].sort((a, b) => b.prefix.length - a.prefix.length);
  const options: FastifyServerOptions & { https?: unknown } = {
    loggerInstance: deps.logger,
    // Request logs carry method, route and status; never bodies or query strings (they may hold PI).
    logController: new LogController({ disableRequestLogging: true }),
    // A caller's request id is echoed in every answer: a PI-shaped one is replaced, not echoed.
    genReqId: (req) => acceptedRequestId(req.headers['x-request-id']) ?? randomUUID(),
    bodyLimit: 1024 * 1024,
    // A stalled client cannot hold a connection (and its buffers) forever.
    requestTimeout: 120_000,
    keepAliveTimeout: 5_000,
    // On close: answer 503 to new requests on kept-alive sockets and drop idle ones.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // A bad URL or an over-long path parameter would otherwise get Fastify's own body, which
    // echoes the path (and any value in it): the one mapper answers instead.
    frameworkErrors: (_e, req, reply) => {
      const { status, body } = errorBody(commonError('VALIDATION_FAILED'), String(req.id));
      void (reply as FastifyReply).code(status).type('application/json').send(body);
    },
    ...(deps.https ? { https: deps.https } : {}),
  };
  const app = Fastify(options as FastifyServerOptions) as unknown as FastifyInstance;
  // Cookies are parsed only for the console's session (see src/modules/session).
  void app.register(fastifyCookie);

  collectDefaultMetrics({ register: registry, prefix: 'custodian_' });
  const requests = new Counter({
    name: 'custodian_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'custodian_http_request_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  for (const g of deps.gauges ?? []) {
    new Gauge({
      name: g.name,
      help: g.help,
      registers: [registry],
      async collect() {
        this.set(await g.value());
      },
    });
  }

  // Security headers on every response: nosniff, no framing, no referrer; HSTS only over TLS (a
  // plain-HTTP loopback listener must not pin browsers to HTTPS). CSP is set per prefix below.
  app.register(helmet, {
    global: true,
    contentSecurityPolicy: false,
    hsts: deps.https ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  });
  // Before authentication (which costs a database lookup): a per-address budget.
  if (limits.ipPerMinute > 0) {
    app.register(rateLimitPlugin, {
      global: true,
      max: limits.ipPerMinute,
      timeWindow: 60_000,
      hook: 'onRequest',
      errorResponseBuilder: (_req, ctx) =>
        commonError('RATE_LIMITED', { details: { retryAfterMs: Math.max(1000, ctx.ttl) } }),
    });
  }
  if (limits.maxEventLoopDelayMs > 0) {
    app.register(underPressure, {
      maxEventLoopDelay: limits.maxEventLoopDelayMs,
      retryAfter: 5,
      pressureHandler: (_req, reply) => {
        reply.header('retry-after', '5');
        return Promise.reject(commonError('SERVICE_BUSY', { details: { retryAfterMs: 5000 } }));
      },
    });
  }

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-request-id', req.id);
    // Every /v1 answer may carry PI or who-read-whom: never stored by a browser or a proxy. Routes
    // that set their own policy (immutable ledger tiles) keep it.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    const path = req.url.split('?', 1)[0] ?? '/';
    const policy = csp.find((c) => path.startsWith(c.prefix))?.policy ?? API_CSP;
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', policy);
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    // A body we answered without reading (401, 413, 429): drop the connection instead of letting
    // Node read and discard the rest of it.
    if (!req.raw.complete) req.raw.socket?.destroy();
    const routeUrl = req.routeOptions.url ?? 'unmatched';
    requests.inc({ method: req.method, route: routeUrl, status: String(reply.statusCode) });
    latency.observe({ method: req.method, route: routeUrl }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500)
      req.log.error({ route: routeUrl, status: reply.statusCode }, 'request failed');
  });

  const principals = new WeakMap<FastifyRequest, Principal>();
  // token hash → actor id, to answer a known key over its rate without a database round trip.
  const known = new Map<string, string>();
  const KNOWN_MAX = 10_000;

  function noteAttempt(req: FastifyRequest, actor: string, status: number, code: string): void {
    if (!deps.attempt) return;
    if (status !== 400 && status !== 413 && status !== 429) return;
    deps.attempt({
      actor,
      route: `${req.method} ${req.routeOptions.url ?? 'unmatched'}`,
      status,
      code,
      requestId: String(req.id),
      ...attemptTarget(req),
    });
  }

  app.setErrorHandler(async (e, req, reply) => {
    const { status, body } = errorBody(e, String(req.id));
    if (status >= 500 && status !== 503)
      req.log.error({ code: body.code, err: (e as Error)?.name }, 'internal error');
    if (status === 429 || status === 503) reply.header('retry-after', retryAfterSeconds(body));
    const p = principals.get(req);
    if (p) noteAttempt(req, p.id, status, body.code);
    // Answered before the body was read (401, 413, 429): close the connection rather than read and
    // discard a body nobody will use.
    if (!req.raw.complete) reply.header('connection', 'close');
    return reply.status(status).type('application/json').send(body);
  });
  app.setNotFoundHandler(async (req, reply) => {
    const { status, body } = errorBody(commonError('NOT_FOUND'), String(req.id));
    if (!req.raw.complete) reply.header('connection', 'close');
    return reply.status(status).send(body);
  });

  function bodyLimitFor(p: Principal, def: RouteDef<any, any, any, any>): number {
    let byRole: number | undefined;
    for (const r of p.roles) {
      const l = limits.body.roles?.[r];
      if (l !== undefined && (byRole === undefined || l > byRole)) byRole = l;
    }
    return Math.min(byRole ?? limits.body[p.kind], def.bodyLimit ?? 1024 * 1024);
  }

  /**
   * Authentication runs before the body is read or validated (preParsing): a caller without a
   * valid key gets 401 whatever it sends, and never makes the server hold its body. A known key
   * over its rate gets 429 from memory. An authenticated body is capped by the actor's role, by
   * Content-Length up front and by counting bytes as they stream in.
   */
  async function bearer(req: FastifyRequest, header: string): Promise<Principal> {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw commonError('AUTH_INVALID');
    const token = m[1]!;
    const th = sha256(Buffer.from(token)).toString('hex');
    const actorId = known.get(th);
    if (actorId && deps.rateLimit) {
      const wait = deps.rateLimit.wait(actorId);
      if (wait > 0) {
        noteAttempt(req, actorId, 429, 'RATE_LIMITED');
        throw commonError('RATE_LIMITED', { details: { retryAfterMs: wait } });
      }
    }
    const principal = await deps.authenticate(token);
    if (!principal) {
      known.delete(th);
      throw commonError('AUTH_INVALID');
    }
    if (known.size >= KNOWN_MAX) known.clear();
    known.set(th, principal.id);
    return principal;
  }

  async function authenticate(
    def: RouteDef<any, any, any, any>,
    req: FastifyRequest,
    payload: NodeJS.ReadableStream,
  ): Promise<NodeJS.ReadableStream> {
    const header = req.headers.authorization;
    const principal = header ? await bearer(req, header) : await deps.authenticateRequest?.(req);
    if (!principal) throw commonError('AUTH_REQUIRED');
    principals.set(req, principal);
    deps.rateLimit?.(principal, 1);
    const limit = bodyLimitFor(principal, def);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) throw commonError('PAYLOAD_TOO_LARGE', { details: { limit } });
    let seen = 0;
    const cap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        if (seen > limit) cb(commonError('PAYLOAD_TOO_LARGE', { details: { limit } }));
        else cb(null, chunk);
      },
    });
    return payload.pipe(cap);
  }

  app.register(async (api) => {
    api.get('/healthz', { config: { rateLimit: false } }, async () => ({
      status: 'ok',
      version: deps.version,
      ...(await deps.health()),
    }));
    api.get('/metrics', { config: { rateLimit: false } }, async (_req, reply) => {
      reply.type(registry.contentType);
      if (!deps.metrics?.length) return registry.metrics();
      return Registry.merge([registry, ...deps.metrics]).metrics();
    });
    // Built once (the routes do not change): building it is ~40 ms of synchronous CPU (zod to JSON
    // Schema for every route), which an unauthenticated caller could otherwise repeat at will.
    let openapi: string | undefined;
    api.get('/openapi.json', async (_req, reply) => {
      openapi ??= JSON.stringify(openApiDocument(deps.routes, deps.version));
      return reply.type('application/json; charset=utf-8').send(openapi);
    });

    for (const def of deps.routes) {
      api.route({
        method: def.method,
        url: def.url,
        ...(def.bodyLimit ? { bodyLimit: def.bodyLimit } : {}),
        ...(def.auth === 'actor'
          ? {
              preParsing: (req: FastifyRequest, _reply: FastifyReply, payload: NodeJS.ReadableStream) =>
                authenticate(def, req, payload),
            }
          : {}),
        handler: async (request, reply) => {
          const principal = principals.get(request);
          const body = def.body ? parse(def.body, request.body ?? {}) : undefined;
          const query = def.query ? parse(def.query, request.query ?? {}) : undefined;
          const params = def.params ? parse(def.params, request.params ?? {}) : undefined;
          // Rate limits count subjects (a batch of 1,000 costs 1,000): the first was charged above.
          if (principal && def.cost && deps.rateLimit?.charge) {
            const cost = def.cost({ body, query, params });
            if (cost > 1) deps.rateLimit.charge(principal, cost - 1);
          }
          const result = await def.handler({
            body,
            query,
            params,
            principal: principal as Principal,
            request,
            reply,
          });
          if (def.status) reply.status(def.status);
          if (def.produces) {
            reply.type(def.produces);
            return result;
          }
          return def.response ? def.response.parse(result) : result;
        },
      });
    }
  });
  return app;
}

/**
 * Whether a parsed request part holds a NUL character in a string or a key. PostgreSQL cannot store
 * one in text (it answered 500 to `?key=%00` before this check); no field of Custodian's means one.
 */
function holdsNul(v: unknown, depth = 0): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (depth > 64 || v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.some((x) => holdsNul(x, depth + 1));
  for (const [k, x] of Object.entries(v)) if (k.includes('\u0000') || holdsNul(x, depth + 1)) return true;
  return false;
}

/** Parses with a route's schema; its issues name only the schema's own fields and positions. */
function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  if (holdsNul(input))
    throw commonError('VALIDATION_FAILED', { details: { issues: [{ path: '', problem: 'nul_character' }] } });
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw commonError('VALIDATION_FAILED', { details: { issues: publicIssues(r.error, schema) } });
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): unknown {
  try {
    return z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  } catch {
    return {};
  }
}

export function openApiDocument(routes: readonly RouteDef<any, any, any, any>[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: r.tags ?? [],
      responses: {
        [String(r.status ?? 200)]: r.produces
          ? { description: 'OK', content: { [r.produces]: {} } }
          : {
              description: 'OK',
              content: { 'application/json': { schema: r.response ? jsonSchema(r.response, 'output') : {} } },
            },
        default: {
          description: 'Error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    };
    if (r.auth === 'actor') op.security = [{ apiKey: [] }];
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', r.params],
      ['query', r.query],
    ] as const) {
      if (!schema) continue;
      const js = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, s] of Object.entries(js.properties ?? {})) {
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (js.required ?? []).includes(name),
          schema: s,
        });
      }
    }
    if (parameters.length) op.parameters = parameters;
    if (r.body)
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: jsonSchema(r.body, 'input') } },
      };
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Custodian', version, description: 'Personal-information custody service.' },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'Custodian API key (ctk_…)' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['code', 'message', 'requestId'],
          properties: {
            code: { type: 'string' },
            message: { type: 'string' },
            requestId: { type: 'string' },
            details: { type: 'object' },
          },
        },
      },
    },
    paths,
  };
}
