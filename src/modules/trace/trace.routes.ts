import { z } from 'zod';
import { type Permissions, route } from '../../lib/http/index.js';
import { canariesNeeded } from './stats.js';
import type { Trace } from './trace.service.js';

/**
 * The privacy team reads traces (`traces.read`: an uploaded leak is PI; a result names staff);
 * uploading a leaked file (`traces.run`) is for the privacy officer only; canary sizing
 * (`canaries.plan`) is arithmetic. Roles come from the policy's `permissions:`.
 */

const Ref = z.object({ key: z.string(), kind: z.enum(['actor', 'recipient']), id: z.string() });
const Evidence = z.object({
  kind: z.enum(['access', 'disclosure']),
  subject: z.string(),
  at: z.string(),
  ref: z.string(),
  actor: z.string().optional(),
  recipient: z.string().optional(),
  views: z.record(z.string(), z.string()).optional(),
  leafHash: z.string().nullable(),
  ledgerIndex: z.number().optional(),
  proof: z.array(z.string()).optional(),
});
const Candidate = z.object({
  rank: z.number(),
  key: z.string(),
  kind: z.enum(['actor', 'recipient', 'pair']),
  pairKind: z.enum(['collusion', 'actor_via_recipient']).optional(),
  members: z.array(Ref),
  llr: z.number(),
  log10P: z.number(),
  p: z.number(),
  matched: z.number(),
  seenTotal: z.number(),
  noise: z.number(),
  exclusive: z.array(z.string()),
  canaryHits: z.array(z.string()),
  guilt: z.number(),
  bestAlternative: z.string().nullable(),
  tested: z.boolean(),
  supported: z.boolean().optional(),
  verdict: z.string(),
  evidence: z.array(Evidence),
});
const Summary = z.object({
  rows: z.number(),
  matched: z.number(),
  unmatched: z.number(),
  ambiguous: z.number(),
  nameOnly: z.number(),
  subjects: z.number(),
  population: z.number(),
  candidates: z.number(),
  fields: z.array(z.object({ field: z.string(), views: z.array(z.string()) })),
  window: z.object({ since: z.string().nullable(), until: z.string() }),
  top: z.object({ key: z.string(), llr: z.number(), log10P: z.number() }).nullable(),
});
const Result = z.object({
  id: z.string(),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
  inputs: z.array(z.string()),
  format: z.string().nullable(),
  summary: Summary,
  candidates: z.array(Candidate),
  checkpoint: z.object({ size: z.number(), note: z.string() }).nullable(),
  inputErased: z.boolean(),
  eraseAfter: z.string(),
});
const ComplaintSchema = z.object({
  externalId: z.string().max(128).optional(),
  mobile: z.string().max(32).optional(),
  email: z.string().max(254).optional(),
  idNumber: z.string().max(32).optional(),
  at: z.iso.datetime({ offset: true }),
  knew: z.array(z.string().max(64)).max(32),
  companyNamed: z.boolean().optional(),
});
export { ComplaintSchema };

const MAX_UPLOAD = 64 * 1024 * 1024;

export function traceRoutes(deps: { trace: Trace; permissions: Permissions }) {
  const { permissions } = deps;
  return [
    route({
      method: 'POST',
      url: '/v1/traces',
      summary: 'Trace a leaked file, complaints or canary trips to ranked sources (privacy team)',
      tags: ['traces'],
      auth: 'actor',
      status: 201,
      bodyLimit: Math.ceil(MAX_UPLOAD * 1.4),
      body: z
        .object({
          /** The leaked file, base64 (CSV, XLSX, JSON or text). */
          file: z
            .base64()
            .max(Math.ceil(MAX_UPLOAD * 1.34))
            .optional(),
          complaints: z.array(ComplaintSchema).max(100_000).optional(),
          trips: z.boolean().optional(),
          since: z.iso.datetime({ offset: true }).optional(),
          until: z.iso.datetime({ offset: true }).optional(),
        })
        .strict(),
      response: Result,
      handler: async ({ principal, body }) => {
        await permissions.require(principal, 'traces.run');
        return deps.trace.run({
          ...(body.file ? { file: Buffer.from(body.file, 'base64') } : {}),
          ...(body.complaints ? { complaints: body.complaints } : {}),
          ...(body.trips ? { trips: true } : {}),
          since: body.since,
          until: body.until,
          by: principal.id,
        });
      },
    }),
    route({
      method: 'GET',
      url: '/v1/traces',
      summary: 'Traces run so far, newest first',
      tags: ['traces'],
      auth: 'actor',
      query: z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() }),
      response: z.object({
        traces: z.array(
          z.object({
            id: z.string(),
            createdAt: z.string(),
            createdBy: z.string().nullable(),
            inputs: z.array(z.string()),
            summary: Summary,
            inputErased: z.boolean(),
          }),
        ),
      }),
      handler: async ({ principal, query }) => {
        await permissions.require(principal, 'traces.read');
        return { traces: await deps.trace.list(query.limit ?? 100) };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/traces/:id',
      summary: 'One trace: ranked candidates with likelihood ratio, p-value and ledger-proved evidence',
      tags: ['traces'],
      auth: 'actor',
      params: z.object({ id: z.string().max(64) }),
      response: Result,
      handler: async ({ principal, params }) => {
        await permissions.require(principal, 'traces.read');
        return deps.trace.getTrace(params.id);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/canaries/sizing',
      summary: 'How many canaries an export or portfolio needs to catch a leak of a given fraction',
      tags: ['traces'],
      auth: 'actor',
      query: z.object({
        fraction: z.coerce.number().gt(0).max(1).optional(),
        confidence: z.coerce.number().gt(0).lt(1).optional(),
        risk: z.enum(['low', 'standard', 'high', 'critical']).optional(),
        size: z.coerce.number().int().min(1).max(1_000_000_000).optional(),
      }),
      response: z.object({
        canaries: z.number(),
        fraction: z.number(),
        confidence: z.number(),
        detection: z.number(),
        model: z.enum(['binomial', 'exact']),
      }),
      handler: async ({ principal, query }) => {
        await permissions.require(principal, 'canaries.plan');
        return canariesNeeded(query);
      },
    }),
  ];
}
