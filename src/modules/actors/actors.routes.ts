import { z } from 'zod';
import { type Permissions, type RouteDef, route } from '../../lib/http/index.js';
import type { Actors } from './actors.service.js';
import {
  ACTOR_KINDS,
  ActorPatchSchema,
  actorName,
  NewActorSchema,
  roleName,
  subjectIdSchema,
} from './model.js';

/**
 * /v1/actors and /v1/assignments. `actors.manage` manages actors, `assignments.manage` assignments;
 * an actor may rotate its own key. A refusal is a plain 403 FORBIDDEN that says nothing about
 * roles or policy.
 */
export interface ActorsRoutesDeps {
  actors: Actors;
  /** Who may do what (the policy's `permissions:`). */
  permissions: Permissions;
}

export const MAX_ASSIGNMENTS_PER_REQUEST = 10_000;

const ActorOut = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(ACTOR_KINDS),
  roles: z.array(z.string()),
  attributes: z.record(z.string(), z.string()),
  status: z.enum(['active', 'disabled']),
  createdAt: z.string(),
  disabledAt: z.string().nullable(),
});

const IdParams = z.object({ id: z.string().min(1).max(128) });

const RequestOut = z.object({
  id: z.string(),
  action: z.enum(['create', 'update']),
  target: z.string().nullable(),
  name: z.string().nullable(),
  kind: z.enum(ACTOR_KINDS).nullable(),
  roles: z.array(z.string()).nullable(),
  privilegedRoles: z.array(z.string()),
  status: z.enum(['pending', 'approved', 'rejected']),
  requestedBy: z.string(),
  requestedAt: z.string(),
  decidedBy: z.string().nullable(),
  decidedAt: z.string().nullable(),
  actor: z.string().nullable(),
});

const RequestIn = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('create'), actor: NewActorSchema }),
  z.strictObject({
    action: z.literal('update'),
    target: z.string().min(1).max(128),
    patch: ActorPatchSchema,
  }),
]);

const Rejected = z.array(z.object({ line: z.number(), code: z.string() }));

const AssignmentIn = z.strictObject({
  /** Actor id or name. */
  actor: z.union([z.string().regex(/^act_[a-z2-7]+$/), actorName]),
  subjectId: subjectIdSchema.optional(),
  /** The organisation's own subject key, resolved by the server's resolver. */
  externalId: z.string().min(1).max(256).optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});

export function actorsRoutes(deps: ActorsRoutesDeps): RouteDef[] {
  const { actors, permissions } = deps;
  return [
    // Four-eyes: an actor (or a role grant) whose policy allows plain PI waits for a second admin.
    route({
      method: 'POST',
      url: '/v1/actor-requests',
      summary:
        'Request an actor, or a role grant, whose policy allows plain PI (a second administrator approves)',
      tags: ['actors'],
      auth: 'actor',
      status: 201,
      body: RequestIn,
      response: z.object({ request: RequestOut }),
      async handler({ body, principal }) {
        await permissions.require(principal, 'actors.manage');
        return { request: await actors.request(body, { by: principal.id }) };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/actor-requests',
      summary: 'List four-eyes actor requests',
      tags: ['actors'],
      auth: 'actor',
      query: z.object({ status: z.enum(['pending', 'approved', 'rejected']).optional() }),
      response: z.object({ requests: z.array(RequestOut) }),
      async handler({ query, principal }) {
        await permissions.require(principal, 'actors.manage');
        return { requests: await actors.requests(query.status ? { status: query.status } : {}) };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/actor-requests/:id/approve',
      summary: "Approve another administrator's actor request; a new actor's key is returned once",
      tags: ['actors'],
      auth: 'actor',
      params: IdParams,
      response: z.object({ request: RequestOut, actor: ActorOut, apiKey: z.string().optional() }),
      async handler({ params, principal, reply }) {
        await permissions.require(principal, 'actors.manage');
        reply.header('cache-control', 'no-store');
        return actors.approveRequest(params.id, { by: principal.id });
      },
    }),
    route({
      method: 'POST',
      url: '/v1/actor-requests/:id/reject',
      summary: 'Reject (or withdraw) a pending actor request',
      tags: ['actors'],
      auth: 'actor',
      params: IdParams,
      response: z.object({ request: RequestOut }),
      async handler({ params, principal }) {
        await permissions.require(principal, 'actors.manage');
        return { request: await actors.rejectRequest(params.id, { by: principal.id }) };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/actors',
      summary: 'Create an actor; returns its API key once',
      tags: ['actors'],
      auth: 'actor',
      status: 201,
      body: NewActorSchema,
      response: z.object({ actor: ActorOut, apiKey: z.string() }),
      async handler({ body, principal, reply }) {
        await permissions.require(principal, 'actors.manage');
        reply.header('cache-control', 'no-store');
        return actors.create(body, { by: principal.id });
      },
    }),
    route({
      method: 'GET',
      url: '/v1/actors',
      summary: 'List actors',
      tags: ['actors'],
      auth: 'actor',
      query: z.object({
        status: z.enum(['active', 'disabled']).optional(),
        kind: z.enum(ACTOR_KINDS).optional(),
        role: roleName.optional(),
      }),
      response: z.object({ actors: z.array(ActorOut) }),
      async handler({ query, principal }) {
        await permissions.require(principal, 'actors.manage');
        return { actors: await actors.list(query) };
      },
    }),
    route({
      method: 'PATCH',
      url: '/v1/actors/:id',
      summary: "Replace an actor's roles and/or attributes",
      tags: ['actors'],
      auth: 'actor',
      params: IdParams,
      body: ActorPatchSchema,
      response: z.object({ actor: ActorOut }),
      async handler({ params, body, principal }) {
        await permissions.require(principal, 'actors.manage');
        return { actor: await actors.update(params.id, body, { by: principal.id }) };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/actors/:id/disable',
      summary: 'Disable an actor (its keys stop working at once)',
      tags: ['actors'],
      auth: 'actor',
      params: IdParams,
      response: z.object({ actor: ActorOut }),
      async handler({ params, principal }) {
        await permissions.require(principal, 'actors.manage');
        return { actor: await actors.disable(params.id, { by: principal.id }) };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/actors/:id/rotate-key',
      summary: 'Issue a new API key and retire the old ones (an administrator, or the actor itself)',
      tags: ['actors'],
      auth: 'actor',
      params: IdParams,
      body: z.strictObject({
        graceSeconds: z
          .number()
          .int()
          .min(0)
          .max(7 * 86_400)
          .optional(),
      }),
      response: z.object({
        keyId: z.string(),
        apiKey: z.string(),
        retired: z.number(),
        oldKeysExpireAt: z.string().nullable(),
      }),
      async handler({ params, body, principal, reply }) {
        if (params.id !== principal.id) await permissions.require(principal, 'actors.manage');
        reply.header('cache-control', 'no-store');
        return actors.rotateKey(params.id, {
          by: principal.id,
          ...(body.graceSeconds !== undefined ? { graceSeconds: body.graceSeconds } : {}),
        });
      },
    }),
    route({
      method: 'POST',
      url: '/v1/assignments',
      summary: 'Assign subjects to actors (bulk); rows that cannot be applied are reported by index',
      tags: ['actors'],
      auth: 'actor',
      body: z.strictObject({ assignments: z.array(AssignmentIn).min(1).max(MAX_ASSIGNMENTS_PER_REQUEST) }),
      response: z.object({ assigned: z.number(), rejected: Rejected }),
      async handler({ body, principal }) {
        await permissions.require(principal, 'assignments.manage');
        return actors.assign(
          body.assignments.map((a, i) => ({ line: i, ...a })),
          { by: principal.id },
        );
      },
    }),
    route({
      method: 'DELETE',
      url: '/v1/assignments',
      summary: 'Remove assignments (bulk)',
      tags: ['actors'],
      auth: 'actor',
      body: z.strictObject({
        assignments: z
          .array(AssignmentIn.omit({ expiresAt: true }))
          .min(1)
          .max(MAX_ASSIGNMENTS_PER_REQUEST),
      }),
      response: z.object({ removed: z.number(), rejected: Rejected }),
      async handler({ body, principal }) {
        await permissions.require(principal, 'assignments.manage');
        return actors.unassign(
          body.assignments.map((a, i) => ({ line: i, ...a })),
          { by: principal.id },
        );
      },
    }),
    route({
      method: 'GET',
      url: '/v1/assignments',
      summary: 'List live assignments of an actor or a subject',
      tags: ['actors'],
      auth: 'actor',
      query: z
        .object({
          actor: z.string().min(1).max(128).optional(),
          subjectId: subjectIdSchema.optional(),
          limit: z.coerce.number().int().min(1).max(10_000).optional(),
        })
        .refine((q) => q.actor !== undefined || q.subjectId !== undefined, 'name an actor or a subject'),
      response: z.object({
        assignments: z.array(
          z.object({
            actorId: z.string(),
            subjectId: z.string(),
            assignedAt: z.string(),
            expiresAt: z.string().nullable(),
          }),
        ),
      }),
      async handler({ query, principal }) {
        await permissions.require(principal, 'assignments.manage');
        return { assignments: await actors.assignments(query) };
      },
    }),
  ];
}
