import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import { type AppError, commonError, isAppError } from '../../lib/errors.js';
import type { Principal, RouteDef } from '../../lib/http/index.js';

export interface HttpDeps {
  logger: Logger;
  routes: readonly RouteDef<any, any, any, any>[];
  /** Resolves a bearer token to a principal, or undefined when it is not valid. */
  authenticate(token: string): Promise<Principal | undefined>;
  /** Called for every authenticated request; throws RATE_LIMITED when the actor is over its rate. */
  rateLimit?(principal: Principal): void;
  health(): Promise<Record<string, unknown>>;
  https?: { cert: Buffer; key: Buffer };
  version: string;
  /** Modules' own metric registries (e.g. detection's per-detector counters), served on /metrics too. */
  metrics?: readonly Registry[];
}

export interface ErrorBody {
  code: string;
  message: string;
  requestId: string;
  details?: Record<string, unknown>;
}

/** The one HTTP error mapper: stable code, a message without PI, the status; never a stack. */
export function toErrorBody(e: unknown, requestId: string): { status: number; body: ErrorBody } {
  let err: AppError;
  if (isAppError(e)) err = e;
  else if (e instanceof z.ZodError) {
    err = commonError('VALIDATION_FAILED', {
      details: { issues: e.issues.map((i) => ({ path: i.path.join('.'), problem: i.code })) },
    });
  } else {
    const fe = e as { statusCode?: number; code?: string };
    if (fe?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') err = commonError('PAYLOAD_TOO_LARGE');
    else if (fe?.statusCode === 400 || fe?.code?.startsWith('FST_ERR_CTP'))
      err = commonError('VALIDATION_FAILED');
    else if (fe?.statusCode === 404) err = commonError('NOT_FOUND');
    else err = commonError('INTERNAL', { cause: e });
  }
  // details are only the code's own structured data (counts, ids, field names); never values.
  const body: ErrorBody = { code: err.code, message: err.message, requestId };
  if (err.details) body.details = err.details as Record<string, unknown>;
  return { status: err.status, body };
}

export function buildServer(deps: HttpDeps): FastifyInstance {
  const options: FastifyServerOptions & { https?: unknown } = {
    loggerInstance: deps.logger,
    // Request logs carry method, route and status; never bodies or query strings (they may hold PI).
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: 1024 * 1024,
    ...(deps.https ? { https: deps.https } : {}),
  };
  const app = Fastify(options as FastifyServerOptions) as unknown as FastifyInstance;

  const registry = new Registry();
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

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-request-id', req.id);
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    const routeUrl = req.routeOptions.url ?? 'unmatched';
    requests.inc({ method: req.method, route: routeUrl, status: String(reply.statusCode) });
    latency.observe({ method: req.method, route: routeUrl }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500)
      req.log.error({ route: routeUrl, status: reply.statusCode }, 'request failed');
  });

  app.setErrorHandler(async (e, req, reply) => {
    const { status, body } = toErrorBody(e, String(req.id));
    if (status >= 500) req.log.error({ code: body.code, err: (e as Error)?.name }, 'internal error');
    return reply.status(status).type('application/json').send(body);
  });
  app.setNotFoundHandler(async (req, reply) => {
    const { status, body } = toErrorBody(commonError('NOT_FOUND'), String(req.id));
    return reply.status(status).send(body);
  });

  app.get('/healthz', async () => ({ status: 'ok', version: deps.version, ...(await deps.health()) }));
  app.get('/metrics', async (_req, reply) => {
    reply.type(registry.contentType);
    if (!deps.metrics?.length) return registry.metrics();
    return Registry.merge([registry, ...deps.metrics]).metrics();
  });
  app.get('/openapi.json', async () => openApiDocument(deps.routes, deps.version));

  for (const def of deps.routes) {
    app.route({
      method: def.method,
      url: def.url,
      ...(def.bodyLimit ? { bodyLimit: def.bodyLimit } : {}),
      handler: async (request, reply) => {
        let principal: Principal | undefined;
        if (def.auth === 'actor') {
          const header = request.headers.authorization;
          if (!header) throw commonError('AUTH_REQUIRED');
          const m = /^Bearer\s+(\S+)$/i.exec(header);
          if (!m) throw commonError('AUTH_INVALID');
          principal = await deps.authenticate(m[1]!);
          if (!principal) throw commonError('AUTH_INVALID');
          deps.rateLimit?.(principal);
        }
        const body = def.body ? def.body.parse(request.body ?? {}) : undefined;
        const query = def.query ? def.query.parse(request.query ?? {}) : undefined;
        const params = def.params ? def.params.parse(request.params ?? {}) : undefined;
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
  return app;
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
