import { z } from 'zod';
import { commonError } from '../../lib/errors.js';
import { type Permissions, type Principal, type RouteDef, route } from '../../lib/http/index.js';
import type { Permission } from '../policy/index.js';
import { DisclosureRequestSchema, type DisclosureService } from './disclosure.service.js';
import { RecipientInputSchema, RecipientPatchSchema, TRANSFER_MECHANISMS } from './recipients.js';

/**
 * /v1/recipients, /v1/disclosures, /v1/deletion-notices, /v1/canaries/trips.
 *
 * Who may do what is the policy's (`permissions:` in the policy file, else its defaults):
 * - `recipients.manage`: register and change recipients; see every deletion notice.
 * - `disclosures.read` (or `recipients.manage`): read recipients and disclosure records (counts and
 *   hashes, never data).
 * - creating a disclosure: a `disclose:` grant for the role, purpose, recipient and fields, with
 *   its assignment and quota conditions, decided by the service (403 DISCLOSURE_NOT_PERMITTED).
 * - the recipient's own partner actor (recipients.actor_id): fetch its deliveries, pull and
 *   acknowledge its deletion notices. Anyone else (the releasing employee included) gets 404 for
 *   them, as if they did not exist.
 * - `canaries.report_trip` (telephony or mail gateway services): report canary trips.
 * A refusal is a plain 403 that names no rule.
 */
export interface DisclosureRoutesDeps {
  disclosure: DisclosureService;
  /** Who may do what: the policy file's `permissions:` (src/lib/http/permissions.ts). */
  permissions: Permissions;
}

const RecipientOut = z.object({
  id: z.string(),
  name: z.string(),
  contact: z.string(),
  jurisdiction: z.string(),
  purposes: z.array(z.string()),
  contractRef: z.string(),
  retentionDays: z.number(),
  piaRef: z.string().nullable(),
  piaAt: z.string().nullable(),
  transfer: z
    .object({ mechanism: z.enum(TRANSFER_MECHANISMS), ref: z.string(), validUntil: z.string().nullable() })
    .nullable(),
  actorId: z.string().nullable(),
  webhookUrl: z.string().nullable(),
  status: z.enum(['pending', 'enabled', 'disabled']),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
  updatedAt: z.string(),
});

const DisclosureOut = z.object({
  id: z.string(),
  recipientId: z.string(),
  purpose: z.string(),
  basis: z.string(),
  fields: z.array(z.string()),
  format: z.string(),
  jurisdiction: z.string(),
  crossBorder: z.boolean(),
  requested: z.number(),
  subjects: z.number(),
  excluded: z.number(),
  withheld: z.number(),
  canaries: z.number(),
  status: z.string(),
  contentSha256: z.string().nullable(),
  createdAt: z.string(),
  createdBy: z.string(),
  deliveredAt: z.string().nullable(),
});

const NoticeOut = z.object({
  id: z.string(),
  recipientId: z.string(),
  reason: z.string(),
  payload: z.record(z.string(), z.unknown()),
  signature: z.string(),
  status: z.string(),
  attempts: z.number(),
  createdAt: z.string(),
  deliveredAt: z.string().nullable(),
});

const IdParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/) });

export function disclosureRoutes(deps: DisclosureRoutesDeps): RouteDef[] {
  const { disclosure } = deps;
  const allowed = async (p: Principal, ...actions: Permission[]) => {
    for (const a of actions) if (await deps.permissions.can(p, a)) return true;
    return false;
  };
  const require = async (p: Principal, ...actions: Permission[]) => {
    if (!(await allowed(p, ...actions))) throw commonError('FORBIDDEN');
  };
  return [
    route({
      method: 'POST',
      url: '/v1/recipients',
      summary: 'Register a third-party recipient (enabled only with an impact assessment, PIPL art. 55)',
      tags: ['disclosure'],
      auth: 'actor',
      body: RecipientInputSchema,
      status: 201,
      response: RecipientOut,
      handler: async ({ principal, body }) => {
        await require(principal, 'recipients.manage');
        return disclosure.addRecipient(body, principal.id);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/recipients',
      summary: 'Recipients',
      tags: ['disclosure'],
      auth: 'actor',
      response: z.object({ recipients: z.array(RecipientOut) }),
      handler: async ({ principal }) => {
        await require(principal, 'recipients.manage', 'disclosures.read');
        return { recipients: await disclosure.listRecipients() };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/recipients/:id',
      summary: 'One recipient',
      tags: ['disclosure'],
      auth: 'actor',
      params: IdParams,
      response: RecipientOut,
      handler: async ({ principal, params }) => {
        await require(principal, 'recipients.manage', 'disclosures.read');
        return disclosure.getRecipient(params.id);
      },
    }),
    route({
      method: 'PATCH',
      url: '/v1/recipients/:id',
      summary: 'Record an assessment or transfer mechanism, enable or disable a recipient',
      tags: ['disclosure'],
      auth: 'actor',
      params: IdParams,
      body: RecipientPatchSchema,
      response: RecipientOut,
      handler: async ({ principal, params, body }) => {
        await require(principal, 'recipients.manage');
        return disclosure.updateRecipient(params.id, body, principal.id);
      },
    }),
    route({
      method: 'POST',
      url: '/v1/disclosures',
      summary:
        "Disclose to a recipient under a disclose grant (else 403 DISCLOSURE_NOT_PERMITTED): refused (409 DISCLOSURE_CONSENT_MISSING, with count and ids) unless every subject has separate consent, or consentedOnly is set. Returns the record only; the recipient's actor fetches the file",
      tags: ['disclosure'],
      auth: 'actor',
      body: DisclosureRequestSchema,
      bodyLimit: 256 * 1024 * 1024,
      status: 201,
      response: z.object({ disclosure: DisclosureOut }),
      handler: async ({ principal, body }) =>
        disclosure.create(body, { id: principal.id, roles: principal.roles }),
    }),
    route({
      method: 'GET',
      url: '/v1/disclosures',
      summary: 'Disclosures, newest first',
      tags: ['disclosure'],
      auth: 'actor',
      query: z.object({
        recipient: z.string().max(128).optional(),
        limit: z.coerce.number().int().min(1).max(1000).optional(),
      }),
      response: z.object({ disclosures: z.array(DisclosureOut) }),
      handler: async ({ principal, query }) => {
        await require(principal, 'disclosures.read');
        return {
          disclosures: await disclosure.list({
            ...(query.recipient ? { recipientId: query.recipient } : {}),
            ...(query.limit ? { limit: query.limit } : {}),
          }),
        };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/disclosures/:id',
      summary: 'One disclosure (counts and hashes; no data)',
      tags: ['disclosure'],
      auth: 'actor',
      params: IdParams,
      response: DisclosureOut,
      handler: async ({ principal, params }) => {
        await require(principal, 'disclosures.read');
        return disclosure.get(params.id);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/disclosures/:id/delivery',
      summary:
        "The recipient's own actor fetches a delivery, CSV or JSON as created (once; decrypted and consent re-checked at the fetch; 404 for anyone else)",
      tags: ['disclosure'],
      auth: 'actor',
      params: IdParams,
      // The content type is the delivery's (text/csv or application/json), set by the handler.
      handler: async ({ principal, params, reply }) => {
        const r = await disclosure.deliver(params.id, principal.id);
        reply.header('x-content-sha256', r.disclosure.contentSha256 ?? '');
        reply.header('x-disclosure-id', r.disclosure.id);
        reply.type(r.contentType);
        return r.content;
      },
    }),
    route({
      method: 'GET',
      url: '/v1/deletion-notices',
      summary: "Pending deletion notices: a partner actor's own, or all for the privacy officer",
      tags: ['disclosure'],
      auth: 'actor',
      query: z.object({
        recipient: z.string().max(128).optional(),
        status: z.enum(['pending', 'delivered']).optional(),
      }),
      response: z.object({ notices: z.array(NoticeOut) }),
      handler: async ({ principal, query }) => {
        if (await allowed(principal, 'recipients.manage'))
          return {
            notices: await disclosure.deletionNotices({
              ...(query.recipient ? { recipientId: query.recipient } : {}),
              ...(query.status ? { status: query.status } : {}),
            }),
          };
        return { notices: await disclosure.deletionNoticesForActor(principal.id) };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/deletion-notices/:id/ack',
      summary: 'The recipient acknowledges a deletion notice it pulled',
      tags: ['disclosure'],
      auth: 'actor',
      params: IdParams,
      response: z.object({ acknowledged: z.literal(true) }),
      handler: async ({ principal, params }) => {
        await disclosure.acknowledgeDeletionNotice(params.id, principal.id);
        return { acknowledged: true as const };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/canaries/trips',
      summary: 'A telephony or mail gateway reports a call, message or mail to a monitored contact point',
      tags: ['disclosure'],
      auth: 'actor',
      body: z.object({
        channel: z.enum(['call', 'sms', 'email', 'other']),
        contact: z.string().min(3).max(320),
        at: z.iso.datetime({ offset: true }),
        from: z.string().min(1).max(320).optional(),
      }),
      status: 202,
      // The gateway learns only that the report was taken and whether it matched; what the canary
      // was unique to goes to the privacy and security team as an alert.
      response: z.object({ tripId: z.string(), matched: z.boolean() }),
      handler: async ({ principal, body }) => {
        await require(principal, 'canaries.report_trip');
        return disclosure.canaries.trip(body, principal.id);
      },
    }),
  ];
}
