import { z } from 'zod';
import { type Permissions, type RouteDef, route } from '../../lib/http/index.js';
import type { PolicyService } from './policy.service.js';
import { MAX_POLICY_BYTES, VIEWS } from './schema.js';

/**
 * /v1/policy and /v1/approvals. `policy.read` reads the policy, its versions and its access review;
 * `policy.load` replaces it; any actor may request an approval, `approvals.decide` decides them
 * and sees every request. A refusal is a plain 403 FORBIDDEN that reveals nothing of the policy.
 */
export interface PolicyRoutesDeps {
  policy: PolicyService;
  /** Who may do what (the policy's `permissions:`). */
  permissions: Permissions;
}

const ApprovalOut = z.object({
  id: z.string(),
  requestedBy: z.string(),
  purpose: z.string(),
  requestedSubjects: z.number().nullable(),
  requestedHours: z.number().nullable(),
  reason: z.string(),
  status: z.enum(['pending', 'approved', 'rejected', 'expired', 'exhausted']),
  requestedAt: z.string(),
  decidedBy: z.string().nullable(),
  decidedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  remaining: z.number().nullable(),
});

const LoadOut = z.object({
  changed: z.boolean(),
  name: z.string(),
  version: z.string(),
  hash: z.string(),
  previous: z.object({ version: z.string(), hash: z.string() }).nullable(),
});

const View = z.enum(VIEWS);
const ReviewOut = z.object({
  policy: z.object({ name: z.string(), version: z.string(), hash: z.string() }),
  since: z.string(),
  until: z.string(),
  grants: z.array(
    z.object({
      role: z.string(),
      purpose: z.string(),
      basis: z.string(),
      necessary: z.boolean(),
      conditions: z.object({
        assignment: z.boolean(),
        approval: z.boolean(),
        consent: z.boolean(),
        quota: z.object({ daily: z.number(), approvalUnlocks: z.boolean() }).nullable(),
        hours: z.object({ from: z.string(), to: z.string() }).nullable(),
        attributes: z.record(z.string(), z.array(z.string())).nullable(),
      }),
      fields: z.array(
        z.object({
          field: z.string(),
          view: View,
          via: z.enum(['grant', 'break_glass']),
          lastUsed: z.string().nullable(),
          used: z.boolean(),
        }),
      ),
      unused: z.boolean(),
    }),
  ),
  unused: z.array(
    z.object({
      role: z.string(),
      purpose: z.string(),
      field: z.string(),
      view: View,
      via: z.enum(['grant', 'break_glass']),
    }),
  ),
  findings: z.array(
    z.object({ code: z.string(), role: z.string(), purpose: z.string(), field: z.string().optional() }),
  ),
  permissions: z.array(z.object({ role: z.string(), actions: z.array(z.string()) })),
});

export function policyRoutes(deps: PolicyRoutesDeps): RouteDef[] {
  const { policy, permissions } = deps;
  return [
    route({
      method: 'GET',
      url: '/v1/policy',
      summary: 'The active access policy (text, version, hash)',
      tags: ['policy'],
      auth: 'actor',
      response: z.object({
        name: z.string(),
        version: z.string(),
        hash: z.string(),
        timezone: z.string(),
        loadedAt: z.string(),
        loadedBy: z.string().nullable(),
        text: z.string(),
      }),
      async handler({ principal }) {
        await permissions.require(principal, 'policy.read');
        return policy.show();
      },
    }),
    route({
      method: 'PUT',
      url: '/v1/policy',
      summary: 'Replace the access policy (YAML text as text/plain, or JSON {"text": …})',
      tags: ['policy'],
      auth: 'actor',
      bodyLimit: MAX_POLICY_BYTES + 4096,
      body: z.union([z.string(), z.strictObject({ text: z.string() })]),
      response: LoadOut,
      async handler({ body, principal }) {
        await permissions.require(principal, 'policy.load');
        return policy.load(typeof body === 'string' ? body : body.text, { by: principal.id });
      },
    }),
    route({
      method: 'GET',
      url: '/v1/policy/versions',
      summary: 'Every policy version loaded, oldest first',
      tags: ['policy'],
      auth: 'actor',
      response: z.object({
        versions: z.array(
          z.object({
            seq: z.number(),
            name: z.string(),
            version: z.string(),
            hash: z.string(),
            loadedAt: z.string(),
            loadedBy: z.string().nullable(),
          }),
        ),
      }),
      async handler({ principal }) {
        await permissions.require(principal, 'policy.read');
        return { versions: await policy.versions() };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/policy/review',
      summary:
        'Access review: what each role sees per purpose, grants unused in the period, and who may do what',
      tags: ['policy'],
      auth: 'actor',
      query: z.object({ days: z.coerce.number().int().min(1).max(365).optional() }),
      response: ReviewOut,
      async handler({ query, principal }) {
        await permissions.require(principal, 'policy.read');
        return policy.review(query.days !== undefined ? { days: query.days } : {});
      },
    }),
    route({
      method: 'POST',
      url: '/v1/approvals',
      summary: 'Request an approval to go past a quota or read where the policy requires one',
      tags: ['approvals'],
      auth: 'actor',
      status: 201,
      body: z
        .strictObject({
          purpose: z.string().min(1).max(64),
          subjects: z.number().int().min(1).optional(),
          hours: z.number().int().min(1).optional(),
          reason: z.string().min(1).max(2000),
        })
        .refine((b) => b.subjects !== undefined || b.hours !== undefined, 'name subjects or hours'),
      response: ApprovalOut,
      async handler({ body, principal }) {
        return policy.requestApproval(principal, body);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/approvals',
      summary: "Approval requests: all for approvers, one's own otherwise",
      tags: ['approvals'],
      auth: 'actor',
      query: z.object({
        status: z.enum(['pending', 'approved', 'rejected']).optional(),
        limit: z.coerce.number().int().min(1).max(1000).optional(),
      }),
      response: z.object({ approvals: z.array(ApprovalOut) }),
      async handler({ query, principal }) {
        const own = !(await permissions.can(principal, 'approvals.decide'));
        return {
          approvals: await policy.listApprovals({ ...query, ...(own ? { requestedBy: principal.id } : {}) }),
        };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/approvals/:id/decision',
      summary: 'Grant (for at most the subjects/hours requested) or reject an approval request',
      tags: ['approvals'],
      auth: 'actor',
      params: z.object({ id: z.string().min(1).max(128) }),
      body: z.strictObject({
        approve: z.boolean(),
        subjects: z.number().int().min(1).optional(),
        hours: z.number().int().min(1).optional(),
      }),
      response: ApprovalOut,
      async handler({ params, body, principal }) {
        await permissions.require(principal, 'approvals.decide');
        return policy.decideApproval(principal, params.id, body);
      },
    }),
  ];
}
