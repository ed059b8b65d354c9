import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { isLoopback } from '../config.js';
import type { App } from './app.js';
import { buildServer } from './http/index.js';
import { appError } from './infra.js';

export const VERSION = '0.1.0';

export function buildHttp(app: App): FastifyInstance {
  const { tlsCert, tlsKey } = app.config;
  return buildServer({
    logger: app.logger,
    routes: app.routes,
    authenticate: (t) => app.authenticate(t),
    rateLimit: (p) => app.rateLimit(p),
    health: async () => ({ database: app.database.dialect }),
    version: VERSION,
    metrics: [app.detect.registry],
    ...(tlsCert && tlsKey ? { https: { cert: readFileSync(tlsCert), key: readFileSync(tlsKey) } } : {}),
  });
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
