import { z } from 'zod';
import { type Permissions, type RouteDef, route } from '../../lib/http/index.js';
import {
  type Consent,
  type ConsentRecord,
  GrantInputSchema,
  WithdrawInputSchema,
} from './consent.service.js';
import { METHODS } from './importcsv.js';
import { ID_RE, NOTICE_REF_RE, NoticeDeclarationsSchema, PURPOSE_RE } from './notice.js';

/**
 * /v1/notices, /v1/consents, /v1/consent-receipts.
 *
 * Permissions (the policy's `permissions:`): `notices.manage` publishes notices and imports
 * consents (by default `privacy_officer`, `admin`); `consents.write` records and withdraws consents
 * (a service or portal actor with `consent_recorder` or `portal`, the privacy officer, `admin`);
 * `consents.read` lists them (those and `auditor`). Verifying a receipt needs no key: anyone
 * holding one may check it. A refusal is a plain 403 that names no rule.
 */

const NoticeOut = z.object({
  id: z.string(),
  key: z.string(),
  version: z.number(),
  language: z.string(),
  text: z.string(),
  sha256: z.string(),
  declarations: NoticeDeclarationsSchema,
  recipientId: z.string().nullable(),
  publishedAt: z.string(),
  publishedBy: z.string().nullable(),
});

export const ConsentOut = z.object({
  id: z.string(),
  subjectId: z.string(),
  purpose: z.string(),
  recipientId: z.string().nullable(),
  fields: z.array(z.string()),
  noticeId: z.string(),
  noticeSha256: z.string(),
  method: z.string(),
  givenBy: z.string(),
  givenAt: z.string(),
  expiresAt: z.string().nullable(),
  withdrawnAt: z.string().nullable(),
  withdrawalMethod: z.string().nullable(),
  separate: z.object({ sensitive: z.boolean(), thirdParty: z.boolean(), crossBorder: z.boolean() }),
  evidenceRef: z.string().nullable(),
  source: z.string(),
  importId: z.string().nullable(),
  recordedAt: z.string(),
  recordedBy: z.string().nullable(),
});

const ReceiptOut = z.object({
  receipt: z.object({
    format: z.string(),
    consentId: z.string(),
    subjectId: z.string(),
    purpose: z.string(),
    recipientId: z.string().nullable(),
    fields: z.array(z.string()),
    notice: z.object({ id: z.string(), key: z.string(), version: z.number(), sha256: z.string() }),
    method: z.string(),
    givenBy: z.string(),
    givenAt: z.string(),
    expiresAt: z.string().nullable(),
    withdrawnAt: z.string().nullable(),
    separate: z.object({ sensitive: z.boolean(), thirdParty: z.boolean(), crossBorder: z.boolean() }),
    evidenceRef: z.string().nullable(),
    processor: z.object({ name: z.string(), contact: z.string() }),
    issuedAt: z.string(),
  }),
  alg: z.literal('Ed25519'),
  publicKey: z.string(),
  signature: z.string(),
});

const IdParams = z.object({ id: z.string().regex(ID_RE) });

export function consentRoutes(deps: { consent: Consent; permissions: Permissions }): RouteDef[] {
  const { consent, permissions } = deps;
  return [
    route({
      method: 'POST',
      url: '/v1/notices',
      summary: 'Publish the next version of a notice (PIPL art. 17; art. 23 for a third party)',
      tags: ['consent'],
      auth: 'actor',
      body: z.object({
        key: z.string(),
        language: z.string().optional(),
        text: z.string(),
        declarations: z.unknown(),
      }),
      bodyLimit: 1024 * 1024,
      status: 201,
      response: NoticeOut,
      handler: async ({ principal, body }) => {
        await permissions.require(principal, 'notices.manage');
        return consent.publishNotice(body as Parameters<Consent['publishNotice']>[0], principal.id);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/notices',
      summary: 'Notices, newest version first',
      tags: ['consent'],
      auth: 'actor',
      query: z.object({ key: z.string().max(64).optional() }),
      response: z.object({ notices: z.array(NoticeOut) }),
      handler: async ({ query }) => ({ notices: await consent.listNotices(query.key) }),
    }),
    route({
      method: 'GET',
      url: '/v1/notices/:id',
      summary: 'One notice (by id, or key@version)',
      tags: ['consent'],
      auth: 'actor',
      params: z.object({ id: z.string().regex(NOTICE_REF_RE) }),
      response: NoticeOut,
      handler: async ({ params }) => consent.getNotice(params.id),
    }),
    route({
      method: 'POST',
      url: '/v1/consents',
      summary: 'Record a consent; returns it with a signed receipt for the person',
      tags: ['consent'],
      auth: 'actor',
      body: GrantInputSchema,
      status: 201,
      response: z.object({ consent: ConsentOut, receipt: ReceiptOut }),
      handler: async ({ principal, body }) => {
        await permissions.require(principal, 'consents.write');
        return consent.grant(body, principal.id, { source: 'api' });
      },
    }),
    route({
      method: 'POST',
      url: '/v1/consents/withdraw',
      summary: 'Withdraw consent (PIPL art. 15): by consent id, or subject and purpose [and recipient]',
      tags: ['consent'],
      auth: 'actor',
      body: z.intersection(WithdrawInputSchema, z.object({ method: z.enum(METHODS) })),
      response: z.object({ withdrawn: z.array(ConsentOut) }),
      handler: async ({ principal, body }) => {
        await permissions.require(principal, 'consents.write');
        const { method, ...input } = body as z.infer<typeof WithdrawInputSchema> & {
          method: (typeof METHODS)[number];
        };
        return { withdrawn: await consent.withdraw(input, { by: principal.id, method }) };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/consents',
      summary: 'Consent records of a subject (or of a purpose and recipient)',
      tags: ['consent'],
      auth: 'actor',
      query: z
        .object({
          subject: z.string().regex(ID_RE).optional(),
          purpose: z.string().regex(PURPOSE_RE).optional(),
          recipient: z.string().regex(ID_RE).optional(),
          after: z.string().regex(ID_RE).optional(),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
        })
        .refine((q) => q.subject || q.purpose, 'name a subject or a purpose'),
      response: z.object({ consents: z.array(ConsentOut) }),
      handler: async ({ principal, query }) => {
        await permissions.require(principal, 'consents.read');
        const consents: ConsentRecord[] = await consent.list({
          ...(query.subject ? { subjectId: query.subject } : {}),
          ...(query.purpose ? { purpose: query.purpose } : {}),
          ...(query.recipient ? { recipientId: query.recipient } : {}),
          ...(query.after ? { after: query.after } : {}),
          ...(query.limit ? { limit: query.limit } : {}),
        });
        return { consents };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/consents/:id/receipt',
      summary: 'A freshly signed receipt of a consent record',
      tags: ['consent'],
      auth: 'actor',
      params: IdParams,
      response: ReceiptOut,
      handler: async ({ principal, params }) => {
        await permissions.require(principal, 'consents.read');
        return consent.receipt(params.id);
      },
    }),
    route({
      method: 'POST',
      url: '/v1/consents/import',
      summary: 'Import existing consents (CSV) with their evidence; a result per row',
      tags: ['consent'],
      auth: 'actor',
      body: z.object({ csv: z.string().min(1) }),
      bodyLimit: 64 * 1024 * 1024,
      response: z.object({
        importId: z.string(),
        total: z.number(),
        imported: z.number(),
        duplicates: z.number(),
        rejected: z.number(),
        rows: z.array(
          z.object({
            line: z.number(),
            status: z.enum(['imported', 'duplicate', 'rejected']),
            consentId: z.string().optional(),
            code: z.string().optional(),
            field: z.string().optional(),
          }),
        ),
      }),
      handler: async ({ principal, body }) => {
        await permissions.require(principal, 'notices.manage');
        return consent.importCsv(body.csv, principal.id);
      },
    }),
    route({
      method: 'POST',
      url: '/v1/consent-receipts/verify',
      summary: "Check a consent receipt against this deployment's signing key",
      tags: ['consent'],
      auth: 'none',
      body: z.object({ receipt: z.unknown() }),
      response: z.object({ valid: z.boolean(), publicKey: z.string() }),
      handler: async ({ body }) => ({
        valid: consent.verifyReceipt(body.receipt),
        publicKey: consent.publicKey,
      }),
    }),
  ];
}
