import { z } from 'zod';
import { commonError } from '../../lib/errors.js';
import { type Permissions, route } from '../../lib/http/index.js';
import { detectError } from './detect.errors.js';
import { type AlertAction, type Detect, MIN_REASON } from './detect.service.js';

const AlertSchema = z.object({
  id: z.string(),
  kind: z.string(),
  severity: z.string(),
  detector: z.string().nullable(),
  actor: z.string().nullable(),
  subject: z.string().nullable(),
  attrs: z.record(z.string(), z.unknown()),
  status: z.string(),
  assignee: z.string().nullable(),
  reason: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string().nullable(),
  closedAt: z.string().nullable(),
});

const EvidenceSchema = z.object({
  leafHash: z.string(),
  index: z.number().nullable(),
  treeSize: z.number().nullable(),
  proof: z.array(z.string()).nullable(),
});

const SuspensionSchema = z.object({
  id: z.string(),
  actor: z.string(),
  mode: z.string(),
  status: z.string(),
  alert: z.string().nullable(),
  reason: z.string(),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  liftedBy: z.string().nullable(),
  liftedAt: z.string().nullable(),
  liftReason: z.string().nullable(),
});

const reason = z.string().trim().min(MIN_REASON).max(2000);
const STATUSES = ['open', 'acknowledged', 'true_positive', 'false_positive', 'resolved', 'closed'] as const;

export interface DetectRoutesDeps {
  detect: Detect;
  /** Ledger index and inclusion proof of a leaf (undefined before integration). */
  prove: (leafHash: string) => Promise<{ index: number; size: number; proof: string[] } | undefined>;
  actorExists: (id: string) => Promise<boolean>;
  /** Who may do what: `alerts.read`, `alerts.manage` (the queue), `suspensions.manage`. */
  permissions: Permissions;
}

export function detectRoutes(deps: DetectRoutesDeps) {
  const { detect, permissions } = deps;
  const transition = (action: AlertAction, url: string, summary: string, needsReason: boolean) =>
    route({
      method: 'POST',
      url: `/v1/alerts/:id/${url}`,
      summary,
      tags: ['alerts'],
      auth: 'actor',
      params: z.object({ id: z.string().max(64) }),
      body: needsReason
        ? z.strictObject({ reason, suppressDays: z.number().int().min(1).max(365).optional() })
        : z.strictObject({ reason: reason.optional() }).optional(),
      response: z.object({ alert: AlertSchema }),
      handler: async ({ principal, params, body }) => {
        await permissions.require(principal, 'alerts.manage');
        const b = (body ?? {}) as { reason?: string; suppressDays?: number };
        return {
          alert: await detect.transition(params.id, action, principal.id, {
            ...(b.reason ? { reason: b.reason } : {}),
            ...(b.suppressDays ? { suppressDays: b.suppressDays } : {}),
          }),
        };
      },
    });
  return [
    route({
      method: 'GET',
      url: '/v1/alerts',
      summary: 'Alerts for the privacy and security team (newest first; page with `before`)',
      tags: ['alerts'],
      auth: 'actor',
      query: z.object({
        status: z.enum(STATUSES).optional(),
        actor: z.string().max(64).optional(),
        kind: z.string().max(64).optional(),
        detector: z.string().max(64).optional(),
        assignee: z.string().max(64).optional(),
        since: z.iso.datetime().optional(),
        /** The `next` cursor of the previous page. */
        before: z.string().max(200).optional(),
        limit: z.coerce.number().int().min(1).max(1000).optional(),
      }),
      response: z.object({ alerts: z.array(AlertSchema), next: z.string().nullable() }),
      handler: async ({ principal, query }) => {
        await permissions.require(principal, 'alerts.read');
        const limit = query.limit ?? 100;
        let before: { at: string; id: string } | undefined;
        if (query.before) {
          const [at, id] = query.before.split('|');
          if (!at || !id) throw commonError('VALIDATION_FAILED', { details: { fields: ['before'] } });
          before = { at, id };
        }
        const alerts = await detect.list({
          ...(query.status ? { status: query.status } : {}),
          ...(query.actor ? { actorId: query.actor } : {}),
          ...(query.kind ? { kind: query.kind } : {}),
          ...(query.detector ? { detector: query.detector } : {}),
          ...(query.assignee ? { assignee: query.assignee } : {}),
          ...(query.since ? { since: query.since } : {}),
          ...(before ? { before } : {}),
          limit,
        });
        const last = alerts.at(-1);
        return { alerts, next: alerts.length === limit && last ? `${last.createdAt}|${last.id}` : null };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/alerts/:id',
      summary: 'One alert with its evidence: ledger indexes and inclusion proofs',
      tags: ['alerts'],
      auth: 'actor',
      params: z.object({ id: z.string().max(64) }),
      response: z.object({ alert: AlertSchema, evidence: z.array(EvidenceSchema) }),
      handler: async ({ principal, params }) => {
        await permissions.require(principal, 'alerts.read');
        const alert = await detect.get(params.id);
        return { alert, evidence: await detect.evidence(alert, deps.prove) };
      },
    }),
    transition('ack', 'ack', 'Acknowledge an alert', false),
    transition('true_positive', 'true-positive', 'Confirm an alert (reason required)', true),
    transition(
      'false_positive',
      'false-positive',
      'Dismiss an alert as a false positive (reason required; suppressDays mutes its detector for the actor)',
      true,
    ),
    transition('resolve', 'resolve', 'Resolve an alert (reason required)', true),
    route({
      method: 'POST',
      url: '/v1/alerts/:id/assign',
      summary: 'Assign an alert to an investigator',
      tags: ['alerts'],
      auth: 'actor',
      params: z.object({ id: z.string().max(64) }),
      body: z.strictObject({ assignee: z.string().min(1).max(64) }),
      response: z.object({ alert: AlertSchema }),
      handler: async ({ principal, params, body }) => {
        await permissions.require(principal, 'alerts.manage');
        if (!(await deps.actorExists(body.assignee))) throw detectError('DETECT_ALERT_NOT_FOUND');
        return { alert: await detect.assign(params.id, body.assignee, principal.id) };
      },
    }),
    // Kept from the first alerts API: close = resolve.
    route({
      method: 'POST',
      url: '/v1/alerts/:id/close',
      summary: 'Close an alert (same as resolve)',
      tags: ['alerts'],
      auth: 'actor',
      params: z.object({ id: z.string().max(64) }),
      response: z.object({ closed: z.literal(true) }),
      handler: async ({ principal, params }) => {
        await permissions.require(principal, 'alerts.manage');
        await detect.close(params.id, principal.id);
        return { closed: true as const };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/detect/summary',
      summary: 'Dashboard figures: share of reads explained, alerts per detector, actors suspended',
      tags: ['alerts'],
      auth: 'actor',
      query: z.object({ days: z.coerce.number().int().min(1).max(365).optional() }),
      response: z.object({
        from: z.string(),
        reads: z.number(),
        explained: z.number(),
        explainedShare: z.number().nullable(),
        alerts: z.array(z.object({ detector: z.string(), open: z.number(), total: z.number() })),
        suspended: z.number(),
      }),
      handler: async ({ principal, query }) => {
        await permissions.require(principal, 'alerts.read');
        return detect.summary(query.days ?? 30);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/detect/suspensions',
      summary: 'Actors suspended (or under approval) by detection or by hand',
      tags: ['alerts'],
      auth: 'actor',
      query: z.object({ all: z.enum(['true', 'false']).optional() }),
      response: z.object({ suspensions: z.array(SuspensionSchema) }),
      handler: async ({ principal, query }) => {
        await permissions.require(principal, 'suspensions.manage');
        return { suspensions: await detect.suspensions(query.all !== 'true') };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/actors/:id/suspend',
      summary: 'Suspend an actor: refused from its very next read until reinstated',
      tags: ['alerts'],
      auth: 'actor',
      params: z.object({ id: z.string().max(64) }),
      body: z.strictObject({ reason, alert: z.string().max(64).optional() }),
      response: z.object({ suspension: SuspensionSchema }),
      handler: async ({ principal, params, body }) => {
        await permissions.require(principal, 'suspensions.manage');
        if (!(await deps.actorExists(params.id))) throw commonError('NOT_FOUND');
        return { suspension: await detect.suspend(params.id, principal.id, body.reason, body.alert) };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/actors/:id/reinstate',
      summary: 'Lift an actor’s suspension (another person than the actor, with a reason)',
      tags: ['alerts'],
      auth: 'actor',
      params: z.object({ id: z.string().max(64) }),
      body: z.strictObject({ reason }),
      response: z.object({ reinstated: z.literal(true), lifted: z.number() }),
      handler: async ({ principal, params, body }) => {
        await permissions.require(principal, 'suspensions.manage');
        const lifted = await detect.reinstate(params.id, principal.id, body.reason);
        return { reinstated: true as const, lifted };
      },
    }),
  ];
}
