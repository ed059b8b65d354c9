import { z } from 'zod';
import { type Permissions, route } from '../../lib/http/index.js';
import { clearSessionCookies, sessionOf, setSessionCookies } from './session.http.js';
import { SessionView, SignInBody } from './session.schemas.js';
import type { Sessions } from './session.service.js';

const SessionRow = z.object({
  id: z.string(),
  actor: z.string(),
  method: z.string(),
  createdAt: z.string(),
  lastSeenAt: z.string(),
  expiresAt: z.string(),
  revokedAt: z.string().nullable(),
});

/** Listing and revoking other actors' sessions needs `sessions.manage` (the policy's `permissions:`). */
export function sessionRoutes(deps: { sessions: Sessions; secure: boolean; permissions: Permissions }) {
  const { sessions, secure, permissions } = deps;
  const idleSeconds = Math.round(sessions.idleMs / 1000);
  return [
    route({
      method: 'POST',
      url: '/v1/session',
      summary: 'Sign in to the console: exchange an API key or a one-time login link for a session cookie',
      tags: ['session'],
      auth: 'none',
      body: SignInBody,
      response: SessionView,
      handler: async ({ body, reply }) => {
        const started =
          'apiKey' in body
            ? await sessions.startWithKey(body.apiKey)
            : await sessions.startWithLink(body.link);
        setSessionCookies(reply, started, secure);
        reply.header('cache-control', 'no-store');
        const p = started.principal;
        return {
          actor: { id: p.id, kind: p.kind, roles: [...p.roles] },
          via: 'session' as const,
          session: {
            id: started.session.id,
            expiresAt: started.session.expiresAt,
            lastSeenAt: started.session.lastSeenAt,
            idleSeconds,
          },
        };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/session',
      summary: 'Who is signed in (session cookie or API key)',
      tags: ['session'],
      auth: 'actor',
      response: SessionView,
      handler: async ({ principal, request }) => {
        const s = sessionOf(request);
        return {
          actor: { id: principal.id, kind: principal.kind, roles: [...principal.roles] },
          via: s ? ('session' as const) : ('api_key' as const),
          ...(s
            ? {
                session: {
                  id: s.session.id,
                  expiresAt: s.session.expiresAt,
                  lastSeenAt: s.session.lastSeenAt,
                  idleSeconds,
                },
              }
            : {}),
        };
      },
    }),
    route({
      method: 'DELETE',
      url: '/v1/session',
      summary: 'Sign out: revoke the current session and clear its cookies',
      tags: ['session'],
      auth: 'actor',
      response: z.object({ signedOut: z.literal(true) }),
      handler: async ({ principal, request, reply }) => {
        const s = sessionOf(request);
        if (s) await sessions.revoke(s.session.id, principal.id);
        clearSessionCookies(reply, secure);
        return { signedOut: true as const };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/sessions',
      summary: 'Console sessions (administrators)',
      tags: ['session'],
      auth: 'actor',
      query: z.object({
        actor: z.string().max(64).optional(),
        active: z.enum(['true', 'false']).optional(),
        limit: z.coerce.number().int().min(1).max(500).optional(),
      }),
      response: z.object({ sessions: z.array(SessionRow) }),
      handler: async ({ principal, query }) => {
        await permissions.require(principal, 'sessions.manage');
        return {
          sessions: await sessions.list({
            ...(query.actor ? { actorId: query.actor } : {}),
            active: query.active === 'true',
            ...(query.limit ? { limit: query.limit } : {}),
          }),
        };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/sessions/:id/revoke',
      summary: 'Revoke a console session (administrators)',
      tags: ['session'],
      auth: 'actor',
      params: z.object({ id: z.string().max(64) }),
      response: z.object({ revoked: z.literal(true) }),
      handler: async ({ principal, params }) => {
        await permissions.require(principal, 'sessions.manage');
        await sessions.revoke(params.id, principal.id);
        return { revoked: true as const };
      },
    }),
  ];
}
