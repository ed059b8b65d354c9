import { z } from 'zod';
import { commonError } from '../../lib/errors.js';
import { type Principal, type RouteDef, route } from '../../lib/http/index.js';
import { DisclosureRequestSchema, type DisclosureService } from './disclosure.service.js';
import { RecipientInputSchema, RecipientPatchSchema, TRANSFER_MECHANISMS } from './recipients.js';

/**
 * /v1/recipients, /v1/disclosures, /v1/deletion-notices, /v1/canaries/trips.
 *
 * Roles (until the policy grants disclosure per role and purpose):
 * - `privacy_officer`, `admin`: manage recipients; see disclosures and deletion notices.
 * - `privacy_officer`, `partner_manager`, `admin`: create disclosures.
 * - `auditor`: read recipients and disclosures.
 * - the recipient's own partner actor (recipients.actor_id): pick up its API deliveries, pull and
 *   acknowledge its deletion notices. Anyone else gets 404 for them, as if they did not exist.
 * - `canary_gateway`, `contact_service` (telephony or mail gateway services): report canary trips.
 * A refusal is a plain 403 that names no rule.
 */
export const RECIPIENT_MANAGERS = ['privacy_officer', 'admin'] as const;
// Principle 3: administrators read no PI, and an export file is PI; they may see disclosure records.
export const DISCLOSERS = ['privacy_officer', 'partner_manager'] as const;
export const DISCLOSURE_READERS = [...DISCLOSERS, 'auditor', 'admin'] as const;
export const TRIP_REPORTERS = ['canary_gateway', 'contact_service'] as const;

function requireRole(p: Principal, roles: readonly string[]): void {
  if (!roles.some((r) => p.roles.includes(r))) throw commonError('FORBIDDEN');
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

export function disclosureRoutes(deps: { disclosure: DisclosureService }): RouteDef[] {
  const { disclosure } = deps;
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
        requireRole(principal, RECIPIENT_MANAGERS);
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
        requireRole(principal, [...RECIPIENT_MANAGERS, ...DISCLOSURE_READERS]);
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
        requireRole(principal, [...RECIPIENT_MANAGERS, ...DISCLOSURE_READERS]);
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
        requireRole(principal, RECIPIENT_MANAGERS);
        return disclosure.updateRecipient(params.id, body, principal.id);
      },
    }),
    route({
      method: 'POST',
      url: '/v1/disclosures',
      summary:
        'Disclose to a recipient: refused (409 DISCLOSURE_CONSENT_MISSING, with count and ids) unless every subject has separate consent, or consentedOnly is set',
      tags: ['disclosure'],
      auth: 'actor',
      body: DisclosureRequestSchema,
      bodyLimit: 256 * 1024 * 1024,
      status: 201,
      response: z.object({ disclosure: DisclosureOut, content: z.string().optional() }),
      handler: async ({ principal, body }) => {
        requireRole(principal, DISCLOSERS);
        return disclosure.create(body, principal.id);
      },
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
        requireRole(principal, DISCLOSURE_READERS);
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
        requireRole(principal, DISCLOSURE_READERS);
        return disclosure.get(params.id);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/disclosures/:id/delivery',
      summary: "The recipient's own actor picks up an API delivery (once; consent re-checked at pick-up)",
      tags: ['disclosure'],
      auth: 'actor',
      params: IdParams,
      produces: 'application/json',
      handler: async ({ principal, params, reply }) => {
        const r = await disclosure.deliver(params.id, principal.id);
        reply.header('x-content-sha256', r.disclosure.contentSha256 ?? '');
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
        if (RECIPIENT_MANAGERS.some((r) => principal.roles.includes(r)))
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
        requireRole(principal, TRIP_REPORTERS);
        return disclosure.canaries.trip(body, principal.id);
      },
    }),
  ];
}
