import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Serves the built console and portal (web/, built by `npm run build:web` into dist/web) at
 * /console/ and /portal/, with an index.html fallback for the SPA's routes.
 *
 * These responses set their own Content-Security-Policy (whatever a global helmet default says):
 * scripts only from this origin (Vite emits no inline script), no framing, no plugins, fetches
 * only to this origin. Styles allow 'unsafe-inline' because Mantine sets CSS variables in style
 * attributes and one <style> element; see docs/adr/0014-web-console.md.
 */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** dist/web next to dist/app (built layout) or at the repository's dist/web (running from src). */
export function webRoot(): string | undefined {
  for (const rel of ['../../web', '../../../dist/web']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${p}/index.html`)) return p;
  }
  return undefined;
}

function secure(reply: FastifyReply): void {
  reply.header('content-security-policy', WEB_CSP);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
}

export function registerWeb(app: FastifyInstance, root: string | undefined = webRoot()): void {
  if (!root) {
    const missing = async (_req: unknown, reply: FastifyReply) =>
      reply.status(503).type('text/plain').send('The web console is not built: run `npm run build:web`.\n');
    for (const p of ['/console/', '/console/*', '/portal/', '/portal/*']) app.get(p, missing);
    return;
  }
  void app.register(fastifyStatic, {
    root,
    prefix: '/console/',
    // One route per built file (so /console/* stays free for the SPA fallback below).
    wildcard: false,
    index: false,
    setHeaders(res, path) {
      res.header('content-security-policy', WEB_CSP);
      res.header('x-content-type-options', 'nosniff');
      // Vite names assets by content hash: they never change under the same name.
      res.header(
        'cache-control',
        path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
  const index = async (req: FastifyRequest, reply: FastifyReply) => {
    // A missing hashed asset is a 404, not the SPA (a stale tab would otherwise parse HTML as JS).
    if (req.url.startsWith('/console/assets/')) return reply.callNotFound();
    secure(reply);
    reply.header('cache-control', 'no-cache');
    return reply.sendFile('index.html', root);
  };
  app.get('/', async (_req, reply) => reply.redirect('/console/'));
  for (const p of ['/console/', '/console/*', '/portal', '/portal/', '/portal/*']) app.get(p, index);
  app.get('/console', async (_req, reply) => reply.redirect('/console/'));
}
