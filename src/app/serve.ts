import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { isLoopback } from '../config.js';
import type { App } from './app.js';
import { buildServer, DEFAULT_HTTP_LIMITS, registerWeb } from './http/index.js';
import { appError } from './infra.js';

export const VERSION = '0.1.0';

export function buildHttp(app: App): FastifyInstance {
  const { tlsCert, tlsKey } = app.config;
  const server = buildServer({
    logger: app.logger,
    routes: app.routes,
    authenticate: (t) => app.authenticate(t),
    authenticateRequest: (r) => app.authenticateRequest(r),
    rateLimit: app.rateLimit,
    attempt: (a) => app.attempts.note(a),
    health: async () => ({ database: app.database.dialect }),
    version: VERSION,
    metrics: [app.detect.registry],
    limits: {
      ipPerMinute: app.config.ipRateLimit,
      maxEventLoopDelayMs: app.config.maxEventLoopDelayMs,
      body: { ...DEFAULT_HTTP_LIMITS.body, ...app.config.bodyLimits },
    },
    gauges: ledgerGauges(app),
    ...(tlsCert && tlsKey ? { https: { cert: readFileSync(tlsCert), key: readFileSync(tlsKey) } } : {}),
  });
  // The console and the portal (web/), served from the built assets with their own CSP.
  registerWeb(server);
  return server;
}

/**
 * How far the published checkpoint trails the log (issue 11, item 9): entries appended but not yet
 * covered by a signed checkpoint, and the checkpoint's age. Read at scrape time.
 */
function ledgerGauges(app: App) {
  return [
    {
      name: 'custodian_ledger_checkpoint_lag_entries',
      help: 'Ledger entries appended but not yet covered by the latest published checkpoint',
      value: async () => {
        const [size, pending, cp] = await Promise.all([
          app.ledger.size(),
          app.ledger.pendingCount(),
          app.ledger.latestCheckpoint(),
        ]);
        return size + pending - (cp?.size ?? 0);
      },
    },
    {
      name: 'custodian_ledger_checkpoint_age_seconds',
      help: 'Seconds since the latest checkpoint was signed',
      value: async () => {
        const cp = await app.ledger.latestCheckpoint();
        return cp ? Math.max(0, (app.clock.now().getTime() - Date.parse(cp.createdAt)) / 1000) : 0;
      },
    },
  ];
}

/**
 * Listens only where it is safe to: loopback by default; anywhere else only with TLS (API keys are
 * always required on /v1). This is the 2022 lesson: a store of PI reachable from outside in clear.
 */
export async function listen(app: App, server: FastifyInstance): Promise<string> {
  const { host, port, tlsCert, tlsKey } = app.config;
  if (!isLoopback(host) && !(tlsCert && tlsKey)) throw appError('APP_UNSAFE_BIND');
  return server.listen({ host, port });
}
