import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type Permissions, route } from '../../lib/http/index.js';
import { rightsError } from './rights.errors.js';
import { PAGE_DEFAULT, PAGE_MAX, REQUEST_KINDS, type Rights } from './rights.service.js';

/** The cookie the web portal keeps the session in (httpOnly, set by the web layer). */
export const PORTAL_COOKIE = 'custodian_portal';

const Id = z.string().regex(/^[a-z]{2,8}_[a-z2-7]{10,40}$/);
const Text = (max: number) => z.string().trim().min(1).max(max);

const RequestSchema = z.object({
  id: z.string(),
  subjectId: z.string(),
  kind: z.string(),
  requester: z.string(),
  filedBy: z.string().nullable(),
  evidenceRef: z.string().nullable(),
  details: z.string().nullable(),
  jurisdiction: z.string(),
  status: z.string(),
  assignee: z.string().nullable(),
  receivedAt: z.string(),
  dueAt: z.string(),
  pausedAt: z.string().nullable(),
  extensions: z.number(),
  refusalReason: z.string().nullable(),
  outcome: z
    .object({
      summary: z.string().optional(),
      remedies: z.string().optional(),
      extensionReason: z.string().optional(),
      pauseReason: z.string().optional(),
    })
    .nullable(),
  closedAt: z.string().nullable(),
  late: z.boolean(),
  recipients: z.array(
    z.object({
      recipientId: z.string(),
      status: z.string(),
      notifiedAt: z.string(),
      confirmedAt: z.string().nullable(),
    }),
  ),
});

const ComplaintSchema = z.object({
  id: z.string(),
  subjectId: z.string(),
  filedBy: z.string(),
  details: z.object({ what: z.string(), who: z.string().optional(), when: z.string().optional() }),
  links: z.object({ traces: z.array(z.string()), incidents: z.array(z.string()) }),
  status: z.string(),
  assignee: z.string().nullable(),
  receivedAt: z.string(),
  dueAt: z.string(),
  response: z.string().nullable(),
  respondedAt: z.string().nullable(),
  escalation: z.string().nullable(),
  escalatedAt: z.string().nullable(),
  closedAt: z.string().nullable(),
  regulator: z.object({ name: z.string(), channel: z.string() }),
});

const HistoryEventSchema = z.object({
  index: z.number(),
  at: z.string(),
  kind: z.string(),
  roles: z.array(z.string()),
  staffRef: z.string().nullable(),
  purpose: z.string().nullable(),
  fields: z.array(z.string()),
  views: z.array(z.string()),
  reasons: z.array(z.string()),
  allowedBecause: z.string(),
  recipient: z.string().nullable(),
  leafHash: z.string(),
});

const BundleSchema = z.object({
  format: z.string(),
  subject: z.string(),
  origin: z.string(),
  vkey: z.string(),
  checkpoint: z.string(),
  commitment: z.object({
    note: z.string(),
    size: z.number(),
    bucket: z.number(),
    members: z.array(z.object({ key: z.string(), count: z.number(), head: z.string() })),
    path: z.array(z.string()),
  }),
  entries: z.array(z.object({ index: z.number(), entry: z.string(), proof: z.array(z.string()) })),
  consistency: z.object({ checkpoint: z.string(), proof: z.array(z.string()) }).optional(),
});

const EntrySchema = z.object({ index: z.number(), entry: z.string(), proof: z.array(z.string()) });
const MemberSchema = z.object({ key: z.string(), count: z.number(), head: z.string() });

const PageSchema = z.object({
  format: z.string(),
  subject: z.string(),
  origin: z.string(),
  vkey: z.string(),
  checkpoint: z.string(),
  commitment: z.object({ note: z.string(), size: z.number() }),
  count: z.number(),
  from: z.number(),
  to: z.number(),
  prevHead: z.string(),
  head: z.string(),
  entries: z.array(EntrySchema),
  completeness: z
    .object({ bucket: z.number(), members: z.array(MemberSchema), path: z.array(z.string()) })
    .optional(),
});

const ConsentSchema = z.object({
  id: z.string(),
  purpose: z.string(),
  recipientId: z.string().nullable(),
  fields: z.array(z.string()),
  givenAt: z.string(),
  expiresAt: z.string().nullable(),
  withdrawnAt: z.string().nullable(),
});

function sessionToken(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  const m = h ? /^Bearer (pss_[A-Za-z0-9_-]{20,80})$/.exec(h) : null;
  if (m) return m[1];
  const cookie = request.headers.cookie;
  if (!cookie) return undefined;
  for (const part of cookie.split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === PORTAL_COOKIE && v) return decodeURIComponent(v);
  }
  return undefined;
}

type CookieReply = FastifyReply & {
  setCookie?(name: string, value: string, opts: Record<string, unknown>): FastifyReply;
  clearCookie?(name: string, opts: Record<string, unknown>): FastifyReply;
};

const portalCookieBase = (request: FastifyRequest) => ({
  path: '/v1/portal',
  sameSite: 'strict',
  secure: request.protocol === 'https',
});

export function rightsRoutes(deps: {
  rights: Rights;
  /** Recipients whose partner actor this is (a partner confirms deletions it carried out). */
  recipientsOfActor?: (actorId: string) => Promise<{ id: string }[]>;
  /** Who may do what: `rights.handle` (requests and complaints), `rights.read` (and auditors). */
  permissions: Permissions;
}) {
  const { rights, permissions } = deps;
  const subject = async (request: FastifyRequest) => {
    const s = await rights.validateSession(sessionToken(request));
    if (!s) throw rightsError('RIGHTS_SESSION_REQUIRED');
    return s;
  };
  const tags = ['portal'];
  const staffTags = ['rights'];

  return [
    // --- portal (subject session) ----------------------------------------------------------------
    route({
      method: 'POST',
      url: '/v1/portal/login',
      summary: 'Send a one-time code to the mobile or e-mail on file (same answer whether on file or not)',
      tags,
      auth: 'none',
      body: z.object({ address: z.string().trim().min(3).max(254) }),
      response: z.object({ challenge: z.string(), expiresAt: z.string(), sent: z.literal('if-on-file') }),
      status: 202,
      handler: async ({ body }) => ({
        ...(await rights.requestCode(body.address)),
        sent: 'if-on-file' as const,
      }),
    }),
    route({
      method: 'POST',
      url: '/v1/portal/verify',
      summary: 'Exchange the code for a short-lived subject session',
      tags,
      auth: 'none',
      body: z.object({ challenge: z.string().max(64), code: z.string().max(12) }),
      response: z.object({ token: z.string(), expiresAt: z.string() }),
      handler: async ({ request, reply, body }) => {
        const s = await rights.verifyCode(body.challenge, body.code);
        // The web portal keeps the session in an httpOnly cookie (its script never holds it);
        // SameSite=Strict is the CSRF defence for these cookie-authenticated portal calls.
        (reply as CookieReply).setCookie?.(PORTAL_COOKIE, s.token, {
          ...portalCookieBase(request),
          httpOnly: true,
          expires: new Date(s.expiresAt),
        });
        return { token: s.token, expiresAt: s.expiresAt };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/portal/logout',
      summary: 'End the subject session',
      tags,
      auth: 'none',
      response: z.object({ ended: z.literal(true) }),
      handler: async ({ request, reply }) => {
        const t = sessionToken(request);
        if (t) await rights.endSession(t);
        (reply as CookieReply).clearCookie?.(PORTAL_COOKIE, portalCookieBase(request));
        return { ended: true as const };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/portal/me',
      summary: 'His own data, decrypted for him alone (the view is recorded)',
      tags,
      auth: 'none',
      response: z.object({
        subject: z.string(),
        fields: z.record(z.string(), z.string()),
        evidence: z.string(),
      }),
      handler: async ({ request, reply }) => {
        const s = await subject(request);
        reply.header('cache-control', 'no-store');
        return rights.myData(s.subjectId, s.sessionId);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/portal/history',
      summary:
        'One page of every read and disclosure of his record, newest first, each with its inclusion proof; the page verifies on its own (docs/rights.md, Paging)',
      tags,
      auth: 'none',
      query: z.object({
        limit: z.coerce.number().int().min(1).max(PAGE_MAX).default(PAGE_DEFAULT),
        // Checked by the service (RIGHTS_CURSOR_INVALID): opaque, base64url of a position.
        cursor: z.string().max(64).optional(),
      }),
      response: z.object({
        subject: z.string(),
        size: z.number(),
        events: z.array(HistoryEventSchema),
        page: PageSchema,
        next: z.string().nullable(),
      }),
      handler: async ({ request, reply, query }) => {
        const s = await subject(request);
        const h = await rights.historyPage(
          s.subjectId,
          query.cursor === undefined ? { limit: query.limit } : { limit: query.limit, cursor: query.cursor },
        );
        reply.header('cache-control', 'no-store');
        return { subject: h.subjectId, size: h.size, events: h.events, page: h.page, next: h.next };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/portal/history/download',
      summary:
        'His whole history with every inclusion proof and the completeness proof, for `custodian ledger verify-subject` and scripts/verify-subject.mjs',
      tags,
      auth: 'none',
      query: z.object({ since: z.coerce.number().int().min(1).optional() }),
      response: z.object({
        subject: z.string(),
        size: z.number(),
        events: z.array(HistoryEventSchema),
        bundle: BundleSchema,
      }),
      handler: async ({ request, reply, query }) => {
        const s = await subject(request);
        const h = await rights.history(s.subjectId, query.since ? { since: query.since } : {});
        reply.header('cache-control', 'no-store');
        return { subject: h.subjectId, size: h.size, events: h.events, bundle: h.bundle };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/portal/consents',
      summary: 'His consents',
      tags,
      auth: 'none',
      response: z.object({ consents: z.array(ConsentSchema) }),
      handler: async ({ request }) => {
        const s = await subject(request);
        return { consents: await rights.myConsents(s.subjectId) };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/portal/consents/:id/withdraw',
      summary: 'Withdraw a consent: one call, as easy as giving it (PIPL art. 15)',
      tags,
      auth: 'none',
      params: z.object({ id: Id }),
      response: z.object({ withdrawn: z.number() }),
      handler: async ({ request, params }) => {
        const s = await subject(request);
        return { withdrawn: (await rights.withdrawMyConsent(s.subjectId, params.id)).length };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/portal/requests',
      summary: 'His rights requests',
      tags,
      auth: 'none',
      response: z.object({ requests: z.array(RequestSchema) }),
      handler: async ({ request }) => {
        const s = await subject(request);
        return { requests: await rights.requests.list({ subjectId: s.subjectId }) };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/portal/requests',
      summary:
        'File a rights request (access, copy, portability, correction, deletion, restriction, explanation, withdrawal)',
      tags,
      auth: 'none',
      body: z.object({ kind: z.enum(REQUEST_KINDS), details: Text(4000).optional() }),
      response: z.object({ request: RequestSchema }),
      status: 201,
      handler: async ({ request, body }) => {
        const s = await subject(request);
        return {
          request: await rights.requests.file({
            subjectId: s.subjectId,
            kind: body.kind,
            requester: 'subject',
            filedBy: null,
            details: body.details,
          }),
        };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/portal/complaints',
      summary: 'His complaints, with the regulator he can escalate to',
      tags,
      auth: 'none',
      response: z.object({ complaints: z.array(ComplaintSchema) }),
      handler: async ({ request }) => {
        const s = await subject(request);
        return { complaints: await rights.complaints.list({ subjectId: s.subjectId }) };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/portal/complaints',
      summary: 'File a complaint: what happened, who called, when',
      tags,
      auth: 'none',
      body: z.object({ what: Text(4000), who: Text(500).optional(), when: Text(200).optional() }),
      response: z.object({ complaint: ComplaintSchema }),
      status: 201,
      handler: async ({ request, body }) => {
        const s = await subject(request);
        return {
          complaint: await rights.complaints.file({ subjectId: s.subjectId, filedBy: 'subject', ...body }),
        };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/portal/complaints/:id/confirm',
      summary: 'He confirms the complaint is resolved (closes it) or not (reopens it)',
      tags,
      auth: 'none',
      params: z.object({ id: Id }),
      body: z.object({ resolved: z.boolean() }),
      response: z.object({ complaint: ComplaintSchema }),
      handler: async ({ request, params, body }) => {
        const s = await subject(request);
        return { complaint: await rights.complaints.confirm(params.id, s.subjectId, body.resolved) };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/portal/notices',
      summary: 'Notices to him (incident notices, escalations)',
      tags,
      auth: 'none',
      response: z.object({
        notices: z.array(
          z.object({
            id: z.string(),
            source: z.string(),
            ref: z.string().nullable(),
            title: z.string(),
            body: z.string(),
            createdAt: z.string(),
          }),
        ),
      }),
      handler: async ({ request }) => {
        const s = await subject(request);
        return { notices: await rights.notices.list(s.subjectId) };
      },
    }),

    // --- staff: requests -------------------------------------------------------------------------
    route({
      method: 'GET',
      url: '/v1/requests',
      summary: 'Rights requests (privacy team)',
      tags: staffTags,
      auth: 'actor',
      query: z.object({
        status: z.string().max(100).optional(),
        subject: z.string().max(64).optional(),
        assignee: z.string().max(64).optional(),
        limit: z.coerce.number().int().min(1).max(1000).optional(),
      }),
      response: z.object({ requests: z.array(RequestSchema) }),
      handler: async ({ principal, query }) => {
        await permissions.require(principal, 'rights.read');
        return {
          requests: await rights.requests.list({
            ...(query.status ? { status: query.status.split(',') } : {}),
            ...(query.subject ? { subjectId: query.subject } : {}),
            ...(query.assignee ? { assignee: query.assignee } : {}),
            ...(query.limit ? { limit: query.limit } : {}),
          }),
        };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/requests/due',
      summary: 'What is due: open requests due within `days`, and those waiting for the subject',
      tags: staffTags,
      auth: 'actor',
      query: z.object({ days: z.coerce.number().int().min(0).max(90).optional() }),
      response: z.object({ due: z.array(RequestSchema), waiting: z.array(RequestSchema) }),
      handler: async ({ principal, query }) => {
        await permissions.require(principal, 'rights.read');
        return rights.requests.due(new Date(rights.now().getTime() + (query.days ?? 3) * 86_400_000));
      },
    }),
    route({
      method: 'POST',
      url: '/v1/requests',
      summary: 'File a request on a subject’s behalf, or for a relative of a deceased person (PIPL art. 49)',
      tags: staffTags,
      auth: 'actor',
      body: z.object({
        subjectId: Id,
        kind: z.enum(REQUEST_KINDS),
        requester: z.enum(['staff', 'relative']),
        evidenceRef: Text(200).optional(),
        details: Text(4000).optional(),
        jurisdiction: z
          .string()
          .regex(/^[A-Z]{2,4}$/)
          .optional(),
      }),
      response: z.object({ request: RequestSchema }),
      status: 201,
      handler: async ({ principal, body }) => {
        await permissions.require(principal, 'rights.handle');
        return { request: await rights.requests.file({ ...body, filedBy: principal.id }) };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/requests/:id',
      summary: 'One request',
      tags: staffTags,
      auth: 'actor',
      params: z.object({ id: Id }),
      response: z.object({ request: RequestSchema }),
      handler: async ({ principal, params }) => {
        await permissions.require(principal, 'rights.read');
        return { request: await rights.requests.get(params.id) };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/requests/:id/:action',
      summary: 'Change a request: assign, pause, resume, extend, refuse, complete',
      tags: staffTags,
      auth: 'actor',
      params: z.object({
        id: Id,
        action: z.enum(['assign', 'pause', 'resume', 'extend', 'refuse', 'complete']),
      }),
      body: z
        .object({
          assignee: z.string().max(64).optional(),
          reason: Text(2000).optional(),
          remedies: Text(2000).optional(),
          summary: Text(4000).optional(),
          erase: z.boolean().optional(),
        })
        .optional(),
      response: z.object({ request: RequestSchema }),
      handler: async ({ principal, params, body }) => {
        await permissions.require(principal, 'rights.handle');
        const b = body ?? {};
        const by = principal.id;
        const r = rights.requests;
        const reason = b.reason ?? '';
        switch (params.action) {
          case 'assign':
            return { request: await r.assign(params.id, b.assignee ?? by, by) };
          case 'pause':
            return { request: await r.pause(params.id, reason, by) };
          case 'resume':
            return { request: await r.resume(params.id, by) };
          case 'extend':
            return { request: await r.extend(params.id, reason, by) };
          case 'refuse':
            return { request: await r.refuse(params.id, reason, by, b.remedies) };
          default:
            return {
              request: await r.complete(params.id, by, {
                ...(b.summary ? { summary: b.summary } : {}),
                ...(b.erase ? { erase: true } : {}),
              }),
            };
        }
      },
    }),
    route({
      method: 'POST',
      url: '/v1/requests/:id/recipients/:recipient/confirm',
      summary: 'A recipient confirms it carried out a correction or deletion passed on to it (GDPR art. 19)',
      tags: staffTags,
      auth: 'actor',
      params: z.object({ id: Id, recipient: Id }),
      response: z.object({ request: RequestSchema }),
      handler: async ({ principal, params }) => {
        const own = deps.recipientsOfActor ? await deps.recipientsOfActor(principal.id) : [];
        if (!own.some((r) => r.id === params.recipient))
          await permissions.require(principal, 'rights.handle');
        return { request: await rights.requests.confirmRecipient(params.id, params.recipient, principal.id) };
      },
    }),

    // --- staff: complaints -----------------------------------------------------------------------
    route({
      method: 'GET',
      url: '/v1/complaints',
      summary: 'Complaints (privacy team)',
      tags: staffTags,
      auth: 'actor',
      query: z.object({ status: z.string().max(100).optional(), subject: z.string().max(64).optional() }),
      response: z.object({ complaints: z.array(ComplaintSchema) }),
      handler: async ({ principal, query }) => {
        await permissions.require(principal, 'rights.read');
        return {
          complaints: await rights.complaints.list({
            ...(query.status ? { status: query.status.split(',') } : {}),
            ...(query.subject ? { subjectId: query.subject } : {}),
          }),
        };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/complaints',
      summary: 'File a complaint on a subject’s behalf',
      tags: staffTags,
      auth: 'actor',
      body: z.object({
        subjectId: Id,
        what: Text(4000),
        who: Text(500).optional(),
        when: Text(200).optional(),
        traces: z.array(z.string().max(64)).max(50).optional(),
        incidents: z.array(z.string().max(64)).max(50).optional(),
      }),
      response: z.object({ complaint: ComplaintSchema }),
      status: 201,
      handler: async ({ principal, body }) => {
        await permissions.require(principal, 'rights.handle');
        return { complaint: await rights.complaints.file({ ...body, filedBy: principal.id }) };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/complaints/:id',
      summary: 'One complaint',
      tags: staffTags,
      auth: 'actor',
      params: z.object({ id: Id }),
      response: z.object({ complaint: ComplaintSchema }),
      handler: async ({ principal, params }) => {
        await permissions.require(principal, 'rights.read');
        return { complaint: await rights.complaints.get(params.id) };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/complaints/:id/investigation',
      summary:
        'Every reader and recipient of the complainant’s record, with proofs anyone can verify (recorded)',
      tags: staffTags,
      auth: 'actor',
      params: z.object({ id: Id }),
      response: z.object({
        readers: z.array(
          z.object({
            actor: z.string(),
            staffRef: z.string().nullable(),
            roles: z.array(z.string()),
            reads: z.number(),
            first: z.string(),
            last: z.string(),
            purposes: z.array(z.string()),
          }),
        ),
        recipients: z.array(
          z.object({ recipient: z.string(), disclosures: z.number(), first: z.string(), last: z.string() }),
        ),
        bundle: BundleSchema,
      }),
      handler: async ({ principal, params }) => {
        await permissions.require(principal, 'rights.handle');
        const inv = await rights.complaints.investigation(params.id, principal.id);
        return { readers: inv.readers, recipients: inv.recipients, bundle: inv.history.bundle };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/complaints/:id/:action',
      summary:
        'Work a complaint: assign, link, respond, escalate (after the deadline). `close` is always refused.',
      tags: staffTags,
      auth: 'actor',
      params: z.object({ id: Id, action: z.enum(['assign', 'link', 'respond', 'escalate', 'close']) }),
      body: z
        .object({
          assignee: z.string().max(64).optional(),
          text: Text(4000).optional(),
          traces: z.array(z.string().max(64)).max(50).optional(),
          incidents: z.array(z.string().max(64)).max(50).optional(),
        })
        .optional(),
      response: z.object({ complaint: ComplaintSchema }),
      handler: async ({ principal, params, body }) => {
        await permissions.require(principal, 'rights.handle');
        const b = body ?? {};
        const c = rights.complaints;
        switch (params.action) {
          case 'assign':
            return { complaint: await c.assign(params.id, b.assignee ?? principal.id, principal.id) };
          case 'link':
            return {
              complaint: await c.link(params.id, principal.id, {
                ...(b.traces ? { traces: b.traces } : {}),
                ...(b.incidents ? { incidents: b.incidents } : {}),
              }),
            };
          case 'respond':
            return { complaint: await c.respond(params.id, principal.id, b.text ?? '') };
          case 'escalate':
            return { complaint: await c.escalate(params.id, principal.id, b.text ?? '') };
          default:
            return c.staffClose(params.id, principal.id);
        }
      },
    }),
  ];
}
