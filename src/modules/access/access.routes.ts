import { z } from 'zod';
import { commonError } from '../../lib/errors.js';
import { type Permissions, type RouteDef, route } from '../../lib/http/index.js';
import type { Vault } from '../vault/index.js';
import { type Access, denialError, MAX_BATCH, type ReadResult } from './access.service.js';

/**
 * /v1 subject routes. Every PI read names a purpose and goes through the access service; values
 * used to look a subject up travel in request bodies, never in URLs (which end up in logs).
 * Writes, erasure and access history need `subjects.write`, `subjects.erase`, `subjects.history`.
 */

const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/);
const purpose = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/);
const fieldName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/);
const fieldsParam = z
  .string()
  .max(1024)
  .transform((s) =>
    s
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean),
  )
  .pipe(z.array(fieldName).min(1).max(64));

const FieldResult = z.object({
  view: z.enum(['deny', 'masked', 'token', 'plain']),
  value: z.string().optional(),
});
const ReadResponse = z.object({
  subject: z.string(),
  purpose: z.string(),
  fields: z.record(z.string(), FieldResult),
  reasons: z.array(z.string()),
  evidence: z.string(),
});
const BatchResponse = z.object({
  results: z.array(
    z.object({
      subject: z.string(),
      allowed: z.boolean(),
      /** For a subject not read: the same code a single read would have failed with. */
      code: z.string().optional(),
      fields: z.record(z.string(), FieldResult),
      evidence: z.string(),
    }),
  ),
});

function okOrThrow(r: ReadResult): ReadResult {
  if (!r.allowed) throw denialError(r);
  return r;
}

export interface AccessRoutesDeps {
  access: Access;
  vault: Vault;
  /** The caller's live assignments (subject ids). */
  myAssignments(actorId: string, limit: number): Promise<string[]>;
  /** Who may do what (the policy's `permissions:`). */
  permissions: Permissions;
}

export function accessRoutes(deps: AccessRoutesDeps): RouteDef[] {
  const { access, vault, permissions } = deps;
  return [
    route({
      method: 'GET',
      url: '/v1/subjects/:id',
      summary: 'Read one subject for a purpose; each field comes back in the view the policy grants',
      tags: ['subjects'],
      auth: 'actor',
      params: z.object({ id }),
      query: z.object({ purpose, fields: fieldsParam }),
      response: ReadResponse,
      handler: async ({ principal, params, query, request }) =>
        okOrThrow(
          await access.read(principal, {
            subjectId: params.id,
            purpose: query.purpose,
            fields: query.fields,
            requestId: String(request.id),
          }),
        ),
    }),
    route({
      method: 'POST',
      url: '/v1/subjects/:id/break-glass',
      summary: 'Emergency read with a mandatory reason; raises an alert',
      tags: ['subjects'],
      auth: 'actor',
      params: z.object({ id }),
      body: z.object({
        purpose,
        fields: z.array(fieldName).min(1).max(64),
        reason: z.string().min(1).max(1000),
      }),
      response: ReadResponse,
      handler: async ({ principal, params, body, request }) =>
        okOrThrow(
          await access.read(principal, {
            subjectId: params.id,
            purpose: body.purpose,
            fields: body.fields,
            breakGlassReason: body.reason,
            requestId: String(request.id),
          }),
        ),
    }),
    route({
      method: 'POST',
      url: '/v1/subjects/read-batch',
      summary: `Read up to ${MAX_BATCH} subjects for one purpose (no bulk listing)`,
      tags: ['subjects'],
      auth: 'actor',
      body: z.object({
        purpose,
        fields: z.array(fieldName).min(1).max(64),
        subjects: z.array(id).min(1).max(MAX_BATCH),
      }),
      response: BatchResponse,
      bodyLimit: 256 * 1024,
      // The per-actor rate limit counts subjects: a batch of 1,000 costs 1,000.
      cost: ({ body }) => body.subjects.length,
      handler: async ({ principal, body, request }) => ({
        results: (
          await access.readBatch(principal, {
            subjectIds: body.subjects,
            purpose: body.purpose,
            fields: body.fields,
            requestId: String(request.id),
          })
        ).map((r) => ({
          subject: r.subject,
          allowed: r.allowed,
          ...(r.allowed ? {} : { code: denialError(r).code }),
          fields: r.fields,
          evidence: r.evidence,
        })),
      }),
    }),
    route({
      method: 'POST',
      url: '/v1/subjects/lookup',
      summary: 'Find subjects by mobile, e-mail or ID number (blind index; only subjects you may read)',
      tags: ['subjects'],
      auth: 'actor',
      body: z.object({ purpose, field: fieldName, value: z.string().min(1).max(256) }),
      response: z.object({ subjects: z.array(z.string()), evidence: z.string() }),
      handler: async ({ principal, body, request }) =>
        access.lookup(principal, { ...body, requestId: String(request.id) }),
    }),
    route({
      method: 'POST',
      url: '/v1/subjects',
      summary: 'Create a subject (fields validated and normalised per the field catalog)',
      tags: ['subjects'],
      auth: 'actor',
      status: 201,
      body: z.object({
        externalId: z.string().min(1).max(128).optional(),
        fields: z.record(fieldName, z.string().max(65_536)),
      }),
      response: z.object({ id: z.string() }),
      handler: async ({ principal, body }) => {
        await permissions.require(principal, 'subjects.write');
        return vault.create({ externalId: body.externalId, fields: body.fields }, { by: principal.id });
      },
    }),
    route({
      method: 'PATCH',
      url: '/v1/subjects/:id',
      summary: 'Update fields of a subject',
      tags: ['subjects'],
      auth: 'actor',
      params: z.object({ id }),
      body: z.object({ fields: z.record(fieldName, z.string().max(65_536)) }),
      response: z.object({ id: z.string(), updated: z.array(z.string()) }),
      handler: async ({ principal, params, body }) => {
        await permissions.require(principal, 'subjects.write');
        await vault.update(params.id, body.fields, { by: principal.id });
        return { id: params.id, updated: Object.keys(body.fields) };
      },
    }),
    route({
      method: 'DELETE',
      url: '/v1/subjects/:id',
      summary: 'Erase a subject by crypto-shredding its data key (the ledger keeps pseudonymous events)',
      tags: ['subjects'],
      auth: 'actor',
      params: z.object({ id }),
      response: z.object({ id: z.string(), erased: z.literal(true) }),
      handler: async ({ principal, params }) => {
        await permissions.require(principal, 'subjects.erase');
        await vault.erase(params.id, { by: principal.id });
        return { id: params.id, erased: true as const };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/subjects/:id/access-history',
      summary: "Who read this subject's record, when and for what, with ledger evidence",
      tags: ['subjects'],
      auth: 'actor',
      params: z.object({ id }),
      query: z.object({
        limit: z.coerce.number().int().min(1).max(5000).optional(),
        since: z.string().max(40).optional(),
        /** The `nextCursor` of the previous page (keyset paging over (at, id)). */
        cursor: z.string().max(200).optional(),
        /** Only `at` (time) orders this history; newest first unless `order=asc`. */
        sort: z.literal('at').optional(),
        order: z.enum(['asc', 'desc']).optional(),
        /** Filter: one actor's events (exact actor id). */
        q: z.string().max(64).optional(),
      }),
      response: z.object({
        nextCursor: z.string().nullable(),
        events: z.array(
          z.object({
            at: z.string(),
            actor: z.string(),
            purpose: z.string(),
            action: z.string(),
            fields: z.array(z.string()),
            views: z.record(z.string(), z.string()),
            allowed: z.boolean(),
            reasons: z.array(z.string()),
            leafHash: z.string(),
          }),
        ),
      }),
      handler: async ({ principal, params, query }) => {
        await permissions.require(principal, 'subjects.history');
        let after: { at: string; id: string } | undefined;
        if (query.cursor) {
          const [at, id] = query.cursor.split('|');
          if (!at || !id) throw commonError('VALIDATION_FAILED', { details: { fields: ['cursor'] } });
          after = { at, id };
        }
        const limit = Math.min(query.limit ?? 200, 5000);
        const events = await access.history(params.id, {
          limit,
          ...(query.since ? { since: query.since } : {}),
          ...(after ? { after } : {}),
          ...(query.order ? { order: query.order } : {}),
          ...(query.q ? { actor: query.q } : {}),
        });
        const last = events.at(-1);
        return { events, nextCursor: events.length === limit && last ? `${last.at}|${last.id}` : null };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/contact/resolve',
      summary: 'Resolve a contact token at dial time (telephony or mail integration, purpose contact)',
      tags: ['contact'],
      auth: 'actor',
      body: z.object({ token: z.string().min(1).max(512) }),
      response: z.object({ value: z.string(), evidence: z.string() }),
      handler: async ({ principal, body, request }) =>
        access.resolveToken(principal, { token: body.token, requestId: String(request.id) }),
    }),
    route({
      method: 'GET',
      url: '/v1/me/assignments',
      summary: 'The subjects assigned to the calling actor (its portfolio)',
      tags: ['subjects'],
      auth: 'actor',
      query: z.object({ limit: z.coerce.number().int().min(1).max(10_000).optional() }),
      response: z.object({ subjects: z.array(z.string()) }),
      handler: async ({ principal, query }) => ({
        subjects: await deps.myAssignments(principal.id, query.limit ?? 1000),
      }),
    }),
  ];
}
