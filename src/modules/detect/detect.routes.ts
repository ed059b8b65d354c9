import { z } from 'zod';
import { commonError } from '../../lib/errors.js';
import { route } from '../../lib/http/index.js';
import type { Detect } from './detect.service.js';

const TEAM = ['privacy_officer', 'security', 'auditor', 'admin'];

const AlertSchema = z.object({
  id: z.string(),
  kind: z.string(),
  severity: z.string(),
  actor: z.string().nullable(),
  subject: z.string().nullable(),
  attrs: z.record(z.string(), z.unknown()),
  status: z.string(),
  createdAt: z.string(),
  closedAt: z.string().nullable(),
});

export function detectRoutes(deps: { detect: Detect }) {
  const guard = (roles: readonly string[]) => {
    if (!roles.some((r) => TEAM.includes(r))) throw commonError('FORBIDDEN');
  };
  return [
    route({
      method: 'GET',
      url: '/v1/alerts',
      summary: 'Alerts for the privacy and security team',
      tags: ['alerts'],
      auth: 'actor',
      query: z.object({
        status: z.enum(['open', 'closed']).optional(),
        actor: z.string().max(64).optional(),
        kind: z.string().max(64).optional(),
        limit: z.coerce.number().int().min(1).max(1000).optional(),
      }),
      response: z.object({ alerts: z.array(AlertSchema) }),
      handler: async ({ principal, query }) => {
        guard(principal.roles);
        return {
          alerts: await deps.detect.list({
            ...(query.status ? { status: query.status } : {}),
            ...(query.actor ? { actorId: query.actor } : {}),
            ...(query.kind ? { kind: query.kind } : {}),
            ...(query.limit ? { limit: query.limit } : {}),
          }),
        };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/alerts/:id/close',
      summary: 'Close an alert',
      tags: ['alerts'],
      auth: 'actor',
      params: z.object({ id: z.string().max(64) }),
      response: z.object({ closed: z.literal(true) }),
      handler: async ({ principal, params }) => {
        guard(principal.roles);
        await deps.detect.close(params.id, principal.id);
        return { closed: true as const };
      },
    }),
  ];
}
