import { z } from 'zod';
import { type Permissions, route } from '../../lib/http/index.js';
import { GRADES } from './grading.js';
import { ACTION_KINDS, type Incidents, SCOPE_ACTIONS, SOURCE_KINDS } from './incidents.service.js';
import { renderReport } from './report.js';

/**
 * `incidents.manage` runs incidents (the privacy team), `incidents.read` reads them (and auditors);
 * nobody else sees them (the policy's `permissions:`).
 */

const ID = z.string().min(1).max(128);
const ISO = z.string().datetime({ offset: true });
const TEXT = z.string().trim().max(4000);
const Facts = z
  .object({
    categories: z.array(z.string().trim().min(1).max(200)).max(50),
    cause: TEXT,
    harm: TEXT,
    measures: z.array(z.string().trim().min(1).max(1000)).max(50),
    advice: z.array(z.string().trim().min(1).max(1000)).max(50),
    contact: z.string().trim().max(500),
    description: TEXT,
  })
  .partial();

const Clock = z.object({
  name: z.string(),
  startedAt: z.string(),
  dueAt: z.string(),
  warnAt: z.string(),
  metAt: z.string().nullable(),
  stoppedReason: z.string().nullable(),
  status: z.string(),
  leftMs: z.number(),
});

const Scope = z.object({
  version: z.number(),
  change: z.string(),
  criteria: z.object({
    actors: z.array(z.string()).optional(),
    recipients: z.array(z.string()).optional(),
    suspendedActors: z.boolean().optional(),
    from: z.string().optional(),
    until: z.string().optional(),
    actions: z.array(z.string()).optional(),
    resolvedActors: z.array(z.string()),
  }),
  affected: z.number(),
  events: z.number(),
  fields: z.record(z.string(), z.number()),
  views: z.record(z.string(), z.number()),
  listSha256: z.string(),
  ledgerSize: z.number(),
  signedNote: z.string(),
  added: z.number(),
  removed: z.number(),
  reason: z.string().nullable(),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
});

const IncidentBase = z.object({
  id: z.string(),
  title: z.string(),
  status: z.string(),
  source: z.object({ kind: z.string(), ref: z.string().nullable() }),
  awareBy: z.string().nullable(),
  awareAt: z.string(),
  openedBy: z.string().nullable(),
  openedAt: z.string(),
  criticalInfrastructure: z.boolean(),
  highRisk: z.boolean(),
  grade: z.string(),
  gradeFloor: z.string().nullable(),
  affected: z.number(),
  scopeVersion: z.number(),
  individuals: z.object({ decision: z.string(), reason: z.string().nullable() }),
  handledAt: z.string().nullable(),
  closedAt: z.string().nullable(),
  updatedAt: z.string(),
});

const FactsOut = z.object({
  categories: z.array(z.string()),
  cause: z.string(),
  harm: z.string(),
  measures: z.array(z.string()),
  advice: z.array(z.string()),
  contact: z.string(),
  description: z.string(),
});

const Detail = IncidentBase.extend({
  facts: FactsOut,
  clocks: z.array(Clock),
  warnings: z.array(z.object({ clock: z.string(), status: z.string(), leftMs: z.number() })),
  scope: Scope.nullable(),
  notices: z.array(
    z.object({
      id: z.string(),
      audience: z.string(),
      status: z.string(),
      createdAt: z.string(),
      submittedAt: z.string().nullable(),
      missing: z.array(z.string()),
    }),
  ),
  deliveries: z.record(z.string(), z.number()),
  actions: z.array(
    z.object({
      id: z.string(),
      kind: z.string(),
      target: z.string(),
      outcome: z.string(),
      detail: z.record(z.string(), z.unknown()),
      at: z.string(),
      by: z.string().nullable(),
    }),
  ),
});

const Draft = z.object({
  audience: z.string(),
  incidentId: z.string(),
  pipl57: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
  missing: z.array(z.string()),
  report: z.record(z.string(), z.unknown()).optional(),
  text: z.string().optional(),
});

export function incidentsRoutes(deps: { incidents: Incidents; permissions: Permissions }) {
  const { incidents: inc, permissions } = deps;
  const params = z.object({ id: ID });
  return [
    route({
      method: 'GET',
      url: '/v1/incidents',
      summary: 'The register of incidents, notified or not (GDPR 33(5)), newest first',
      tags: ['incidents'],
      auth: 'actor',
      query: z.object({
        status: z.enum(['open', 'closed']).optional(),
        limit: z.coerce.number().int().min(1).max(500).optional(),
        cursor: z.string().max(400).optional(),
      }),
      response: z.object({
        incidents: z.array(IncidentBase),
        total: z.number(),
        nextCursor: z.string().nullable(),
      }),
      handler: async ({ principal, query }) => {
        await permissions.require(principal, 'incidents.read');
        return inc.list({
          ...(query.status ? { status: query.status } : {}),
          ...(query.limit ? { limit: query.limit } : {}),
          ...(query.cursor ? { cursor: query.cursor } : {}),
        });
      },
    }),
    route({
      method: 'POST',
      url: '/v1/incidents',
      summary: 'Open an incident (the clocks start when someone became aware)',
      tags: ['incidents'],
      auth: 'actor',
      status: 201,
      body: z.object({
        title: z.string().trim().min(1).max(200),
        source: z.enum(SOURCE_KINDS),
        sourceRef: ID.optional(),
        awareBy: ID.optional(),
        awareAt: ISO.optional(),
        criticalInfrastructure: z.boolean().optional(),
        highRisk: z.boolean().optional(),
        facts: Facts.optional(),
      }),
      response: Detail,
      handler: async ({ principal, body }) => {
        await permissions.require(principal, 'incidents.manage');
        return inc.open(body, principal.id);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/incidents/:id',
      summary: 'An incident with its clocks (time left, warnings), scope, notices and actions',
      tags: ['incidents'],
      auth: 'actor',
      params,
      response: Detail,
      handler: async ({ principal, params: p }) => {
        await permissions.require(principal, 'incidents.read');
        return inc.get(p.id);
      },
    }),
    route({
      method: 'POST',
      url: '/v1/incidents/:id/facts',
      summary: 'Set the facts the notices are built from (PIPL 57 items)',
      tags: ['incidents'],
      auth: 'actor',
      params,
      body: Facts,
      response: Detail,
      handler: async ({ principal, params: p, body }) => {
        await permissions.require(principal, 'incidents.manage');
        return inc.setFacts(p.id, body, principal.id);
      },
    }),
    route({
      method: 'POST',
      url: '/v1/incidents/:id/scope',
      summary: 'Scope (or widen, narrow) from the access events; returns the signed statement',
      tags: ['incidents'],
      auth: 'actor',
      params,
      body: z.object({
        actors: z.array(ID).max(1000).optional(),
        recipients: z.array(ID).max(1000).optional(),
        suspendedActors: z.boolean().optional(),
        from: ISO.optional(),
        until: ISO.optional(),
        actions: z.array(z.enum(SCOPE_ACTIONS)).max(3).optional(),
        reason: z.string().trim().max(1000).optional(),
      }),
      response: Scope,
      handler: async ({ principal, params: p, body }) => {
        await permissions.require(principal, 'incidents.manage');
        const { reason, ...criteria } = body;
        return inc.scope(p.id, criteria, principal.id, reason);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/incidents/:id/affected',
      summary: 'The signed list of affected customers, one page (lines hash to list-sha256)',
      tags: ['incidents'],
      auth: 'actor',
      params,
      query: z.object({
        version: z.coerce.number().int().min(1).optional(),
        after: ID.optional(),
        limit: z.coerce.number().int().min(1).max(100_000).optional(),
      }),
      response: z.object({
        version: z.number(),
        subjects: z.array(
          z.object({
            subject: z.string(),
            events: z.number(),
            firstAt: z.string(),
            lastAt: z.string(),
            fields: z.array(z.string()),
            line: z.string(),
          }),
        ),
      }),
      handler: async ({ principal, params: p, query }) => {
        await permissions.require(principal, 'incidents.read');
        return inc.affected(p.id, query);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/incidents/:id/proofs/:subject',
      summary: "One affected customer's events in the scope, each with its ledger inclusion proof",
      tags: ['incidents'],
      auth: 'actor',
      params: z.object({ id: ID, subject: ID }),
      response: z.object({
        events: z.array(
          z.object({
            event: z.string(),
            at: z.string(),
            actor: z.string(),
            action: z.string(),
            fields: z.array(z.string()),
            leafHash: z.string(),
            proof: z
              .object({ index: z.number(), size: z.number(), root: z.string(), proof: z.array(z.string()) })
              .nullable(),
          }),
        ),
      }),
      handler: async ({ principal, params: p }) => {
        await permissions.require(principal, 'incidents.read');
        return { events: await inc.proofs(p.id, p.subject) };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/incidents/:id/grade',
      summary: 'Raise the grade, mark critical infrastructure or high risk, record the end of handling',
      tags: ['incidents'],
      auth: 'actor',
      params,
      body: z.object({
        floor: z.enum(GRADES).optional(),
        criticalInfrastructure: z.boolean().optional(),
        highRisk: z.boolean().optional(),
        handledAt: ISO.optional(),
      }),
      response: Detail,
      handler: async ({ principal, params: p, body }) => {
        await permissions.require(principal, 'incidents.manage');
        return inc.grade(p.id, body, principal.id);
      },
    }),
    route({
      method: 'POST',
      url: '/v1/incidents/:id/notify',
      summary:
        'Draft a notice, record a regulator submission, send the individuals’ notices, or record why not',
      tags: ['incidents'],
      auth: 'actor',
      params,
      body: z.discriminatedUnion('action', [
        z.object({
          action: z.literal('draft'),
          audience: z.enum(['regulator', 'individuals', 'regulator_final']),
        }),
        z.object({ action: z.literal('submit'), noticeId: ID }),
        z.object({ action: z.literal('send'), batchSize: z.number().int().min(1).max(1000).optional() }),
        z.object({ action: z.literal('not_notify'), reason: z.string().trim().min(1).max(2000) }),
      ]),
      response: z.object({
        notice: z.object({ id: z.string(), draft: Draft }).optional(),
        delivery: z
          .object({
            notice: z.string(),
            batches: z.number(),
            sent: z.number(),
            failed: z.number(),
            no_contact: z.number(),
          })
          .optional(),
        incident: Detail.optional(),
      }),
      handler: async ({ principal, params: p, body }) => {
        await permissions.require(principal, 'incidents.manage');
        switch (body.action) {
          case 'draft':
            return { notice: await inc.draft(p.id, body.audience, principal.id) };
          case 'submit':
            return { incident: await inc.submit(p.id, body.noticeId, principal.id) };
          case 'send': {
            const r = await inc.notifyIndividuals(
              p.id,
              principal.id,
              body.batchSize ? { batchSize: body.batchSize } : {},
            );
            return { delivery: r };
          }
          case 'not_notify':
            return { incident: await inc.notToNotify(p.id, body.reason, principal.id) };
        }
      },
    }),
    route({
      method: 'POST',
      url: '/v1/incidents/:id/actions',
      summary:
        'Take an action from the incident (suspend, revoke or rotate keys, disable a recipient, request deletion)',
      tags: ['incidents'],
      auth: 'actor',
      params,
      body: z.object({
        kind: z.enum(ACTION_KINDS),
        target: ID,
        note: z.string().trim().max(1000).optional(),
      }),
      response: z.object({
        id: z.string(),
        kind: z.string(),
        target: z.string(),
        outcome: z.string(),
        result: z.record(z.string(), z.union([z.string(), z.number()])),
      }),
      handler: async ({ principal, params: p, body }) => {
        await permissions.require(principal, 'incidents.manage');
        return inc.act(p.id, body.kind, body.target, principal.id, body.note);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/incidents/:id/timeline',
      summary: 'The incident’s timeline, each entry with its ledger leaf hash',
      tags: ['incidents'],
      auth: 'actor',
      params,
      response: z.object({
        timeline: z.array(
          z.object({
            seq: z.number(),
            at: z.string(),
            kind: z.string(),
            actor: z.string().nullable(),
            detail: z.record(z.string(), z.unknown()),
            leafHash: z.string(),
          }),
        ),
      }),
      handler: async ({ principal, params: p }) => {
        await permissions.require(principal, 'incidents.read');
        return { timeline: await inc.timeline(p.id) };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/incidents/:id/close',
      summary: 'Close the incident (the individuals’ decision must be made; starts the final-report clock)',
      tags: ['incidents'],
      auth: 'actor',
      params,
      body: z.object({ summary: z.string().trim().max(4000).optional() }),
      response: Detail,
      handler: async ({ principal, params: p, body }) => {
        await permissions.require(principal, 'incidents.manage');
        return inc.close(p.id, principal.id, body.summary);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/incidents/:id/report',
      summary: 'The printable report of the whole incident (HTML with print styles)',
      tags: ['incidents'],
      auth: 'actor',
      params,
      produces: 'text/html; charset=utf-8',
      handler: async ({ principal, params: p, reply }) => {
        await permissions.require(principal, 'incidents.read');
        reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
        return renderReport(await inc.reportData(p.id));
      },
    }),
  ];
}
