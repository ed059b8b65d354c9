/*
 * Threat: a route that answers without a valid key, answers a role it should refuse, or answers a
 * refusal that teaches the caller the policy (which rule refused, which grants exist) or carries
 * personal information. The 2019 code-hosting mistake (over-broad-permissions-2019) and the 2022
 * exposed database both began with "this endpoint was reachable by more than it should be".
 *
 * The route list is data: every route in app.routes × every role (none, telemarketing, support,
 * billing, contact_service, privacy_officer, admin, partner), and × every purpose where a purpose
 * is asked. Subjects are seeded with known PI values; no error body anywhere in the matrix may
 * contain any of them, the administrator's responses may contain none at all, and only the routes
 * that exist to return PI may return it.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RouteDef } from '../../src/app/http/index.js';
import { describeEachDialect } from '../helpers/db.js';
import {
  type Actor,
  createWorld,
  GUARDED,
  OWN_PURPOSE,
  PURPOSES,
  piIn,
  ROLES,
  type Role,
  referralNotice,
  type World,
} from './fixtures.js';

/** Reason codes and grant vocabulary of the policy engine: never in a refusal. */
const REASON_CODES = [
  'UNKNOWN_PURPOSE',
  'NO_GRANT',
  'ATTRIBUTE_MISMATCH',
  'ASSIGNMENT_REQUIRED',
  'OUTSIDE_HOURS',
  'CONSENT_REQUIRED',
  'APPROVAL_REQUIRED"',
  'BREAK_GLASS_NOT_ALLOWED',
  'BREAK_GLASS_REASON_REQUIRED',
  'FIELDS_DENIED',
  'SUBJECT_NOT_FOUND"',
];
const GRANT_WORDS = [
  'grant',
  'assignment',
  'quota',
  'hours',
  'consent',
  'role',
  'telemarketing',
  'masked',
  'token',
  'plain',
];

/** The routes that exist to hand PI to their caller (when the policy allows). */
const PI_ROUTES = new Set([
  'GET /v1/subjects/:id',
  'POST /v1/subjects/:id/break-glass',
  'POST /v1/subjects/read-batch',
  'POST /v1/contact/resolve',
  // The recipient's own actor fetches its delivery; the create returns the record only (item 3).
  'GET /v1/disclosures/:id/delivery',
]);

type Who = Role | 'none';
const WHO: Who[] = ['none', ...ROLES];

interface Probe {
  url: string;
  body?: unknown;
}

/** Expected statuses for the access module's own routes, and the ledger's public/private split. */
const ACCESS_EXPECT: Record<string, Partial<Record<Who, number>>> = {
  'GET /v1/subjects/:id': {
    none: 401,
    telemarketing: 200,
    support: 200,
    billing: 200,
    contact_service: 403, // token_only: the telephony integration never reads by subject id
    privacy_officer: 200,
    admin: 403,
    partner: 403, // assigned, but without the subject's consent for this partner
  },
  'POST /v1/subjects/:id/break-glass': {
    none: 401,
    telemarketing: 403,
    support: 403,
    billing: 403,
    contact_service: 403,
    privacy_officer: 200,
    admin: 403,
    partner: 403,
  },
  'POST /v1/subjects/read-batch': Object.fromEntries(WHO.map((w) => [w, w === 'none' ? 401 : 200])),
  'POST /v1/subjects/lookup': Object.fromEntries(WHO.map((w) => [w, w === 'none' ? 401 : 200])),
  'POST /v1/subjects': {
    none: 401,
    admin: 201,
    ...Object.fromEntries(ROLES.filter((r) => r !== 'admin').map((r) => [r, 403])),
  },
  'PATCH /v1/subjects/:id': {
    none: 401,
    admin: 200,
    ...Object.fromEntries(ROLES.filter((r) => r !== 'admin').map((r) => [r, 403])),
  },
  'DELETE /v1/subjects/:id': {
    none: 401,
    ...Object.fromEntries(ROLES.map((r) => [r, r === 'admin' || r === 'privacy_officer' ? 200 : 403])),
  },
  'GET /v1/subjects/:id/access-history': {
    none: 401,
    ...Object.fromEntries(ROLES.map((r) => [r, r === 'admin' || r === 'privacy_officer' ? 200 : 403])),
  },
  'POST /v1/contact/resolve': {
    none: 401,
    ...Object.fromEntries(ROLES.map((r) => [r, r === 'contact_service' ? 200 : 403])),
  },
  'GET /v1/me/assignments': Object.fromEntries(WHO.map((w) => [w, w === 'none' ? 401 : 200])),
  // A disclosure is a policy decision (issue 11 item 3): only a role with a disclose grant for the
  // purpose and recipient (the privacy officer, in the guarded policy) creates one; the others get
  // a bare 403. A delivery that is not the caller's own is 404 for everyone, as if it did not exist.
  'POST /v1/disclosures': {
    none: 401,
    ...Object.fromEntries(ROLES.map((r) => [r, r === 'privacy_officer' ? 201 : 403])),
  },
  'GET /v1/disclosures/:id/delivery': Object.fromEntries(WHO.map((w) => [w, w === 'none' ? 401 : 404])),
  // The ledger's public tree and private entries (issue 11 item 5, docs/adr/0006): hash tiles and
  // proofs to anyone with no key, entry bundles only to the privacy, audit and security roles.
  'GET /v1/ledger/tile/*': Object.fromEntries(WHO.map((w) => [w, 200])),
  'GET /v1/ledger/proof/inclusion': Object.fromEntries(WHO.map((w) => [w, 200])),
  'GET /v1/ledger/tile/entries/*': {
    none: 401,
    ...Object.fromEntries(ROLES.map((r) => [r, r === 'admin' || r === 'privacy_officer' ? 200 : 403])),
  },
};

describeEachDialect('authorization matrix over every route', (dialect) => {
  let w: World;
  let ctx: Record<string, string>;
  let token: string;
  const results = new Map<string, { who: Who; status: number; body: string }[]>();

  beforeAll(async () => {
    w = await createWorld(dialect);
    const app = w.app;
    // A recipient for the partner, with its notice and separate consents, so the disclosure routes
    // have something real to answer about; an approval, an alert, a consent, a notice.
    const recipient = await app.disclosure.addRecipient(
      {
        name: 'Shanghai Example Distribution Ltd.',
        contact: 'compliance@distribution.example.cn',
        jurisdiction: 'CN',
        purposes: ['partner_referral'],
        contractRef: 'DPA-2019-117',
        retentionDays: 90,
        piaRef: 'PIA-2019-031',
        actorId: w.partner.id,
      },
      w.dpo.id,
    );
    const notices = await app.consent.listNotices();
    // Separate consent to the partner for two customers (not the matrix's subject, which stays unconsented).
    const partnerNotice = await app.consent.publishNotice(
      referralNotice(recipient.id, 'provision by file transfer'),
      w.dpo.id,
    );
    for (const s of w.subjects.slice(1, 3)) {
      await app.consent.grant(
        {
          subjectId: s,
          purpose: 'partner_referral',
          recipientId: recipient.id,
          fields: ['name', 'mobile'],
          noticeId: partnerNotice.id,
          method: 'web',
          separate: { thirdParty: true },
        },
        w.dpo.id,
      );
    }
    const approval = await app.policy.requestApproval(w.tm.principal, {
      purpose: 'telemarketing',
      subjects: 5,
      reason: 'Campaign follow-up on leads today',
    });
    const r = await app.access.read(w.tm.principal, {
      subjectId: w.subjects[0]!,
      purpose: 'telemarketing',
      fields: ['mobile'],
    });
    token = r.fields.mobile!.value!;
    await app.access.read(w.dpo.principal, {
      subjectId: w.subjects[1]!,
      purpose: 'investigation',
      fields: ['name'],
      breakGlassReason: 'Complaint C-2025-031 about distributor calls',
    });
    const [alert] = await app.detect.list({ kind: 'break_glass' });
    await app.access.drain();
    await app.ledger.integrate();
    const consents = await app.consent.list({ subjectId: w.subjects[0]! });
    ctx = {
      subject: w.subjects[0]!,
      other: w.subjects[w.subjects.length - 1]!,
      consented: w.subjects[1]!,
      sacrificial: w.subjects[w.subjects.length - 2]!,
      recipient: recipient.id,
      notice: notices[0]!.id,
      approval: approval.id,
      alert: alert!.id,
      consent: consents[0]!.id,
      dummyActor: (
        await app.actors.create(
          { name: 'matrix.dummy', kind: 'employee', roles: ['support'] },
          { by: w.admin.id },
        )
      ).actor.id,
    };
  });
  afterAll(async () => w?.destroy());

  /** A plausible request for `route` as `who` (purposes are the role's own). */
  function probe(route: RouteDef, who: Who): Probe {
    const purpose = (who !== 'none' && OWN_PURPOSE[who]) || 'customer_support';
    const key = `${route.method} ${route.url}`;
    const sub = ctx.subject!;
    const rec = w.records.get(sub)!;
    const fill = (url: string, id: string) => url.replace(':id', id);
    switch (key) {
      case 'GET /v1/subjects/:id':
        return { url: `/v1/subjects/${sub}?purpose=${purpose}&fields=name,mobile` };
      case 'POST /v1/subjects/:id/break-glass':
        return {
          url: fill(route.url, sub),
          body: { purpose, fields: ['name'], reason: 'Complaint C-2025-031 investigation' },
        };
      case 'POST /v1/subjects/read-batch':
        return { url: route.url, body: { purpose, fields: ['name', 'mobile'], subjects: [sub, ctx.other] } };
      case 'POST /v1/subjects/lookup':
        return { url: route.url, body: { purpose, field: 'mobile', value: rec.mobile } };
      case 'POST /v1/subjects':
        return { url: route.url, body: { fields: { name: '测试', company: 'Matrix Probe Co.' } } };
      case 'PATCH /v1/subjects/:id':
        return {
          url: fill(route.url, ctx.sacrificial!),
          body: { fields: { company: 'Matrix Patched Co.' } },
        };
      case 'DELETE /v1/subjects/:id':
        return { url: fill(route.url, ctx.sacrificial!) };
      case 'GET /v1/subjects/:id/access-history':
        return { url: fill(route.url, sub) };
      case 'POST /v1/contact/resolve':
        return { url: route.url, body: { token } };
      case 'POST /v1/actor-requests':
        return {
          url: route.url,
          body: {
            action: 'create',
            actor: { name: `probe.billing.${who}`, kind: 'employee', roles: ['billing'] },
          },
        };
      case 'POST /v1/actor-requests/:id/approve':
      case 'POST /v1/actor-requests/:id/reject':
        return { url: fill(route.url, 'areq_matrix_unknown'), body: {} };
      case 'POST /v1/actors':
        return { url: route.url, body: { name: `probe.${who}`, kind: 'employee', roles: ['support'] } };
      case 'PATCH /v1/actors/:id':
        return { url: fill(route.url, ctx.dummyActor!), body: { attributes: { region: 'east' } } };
      case 'POST /v1/actors/:id/disable':
      case 'POST /v1/actors/:id/rotate-key':
        return { url: fill(route.url, ctx.dummyActor!), body: {} };
      case 'POST /v1/assignments':
      case 'DELETE /v1/assignments':
        return { url: route.url, body: { assignments: [{ actor: ctx.dummyActor, subjectId: ctx.other }] } };
      case 'PUT /v1/policy':
        return { url: route.url, body: { text: GUARDED } };
      case 'POST /v1/approvals':
        return { url: route.url, body: { purpose, subjects: 1, reason: 'Matrix probe: one more lead' } };
      case 'POST /v1/approvals/:id/decision':
        return { url: fill(route.url, ctx.approval!), body: { approve: false } };
      case 'GET /v1/assignments':
        return { url: `${route.url}?actor=${ctx.dummyActor}` };
      case 'POST /v1/notices':
        return {
          url: route.url,
          body: {
            key: `matrix-${who}`,
            language: 'en',
            text: 'Example Cloud Co. (contact: privacy@example-cloud.cn) uses your name to answer your tickets. Kept 1 year. Rights: privacy portal.',
            declarations: {
              processor: { name: 'Example Cloud Co.', contact: 'privacy@example-cloud.cn' },
              purposes: [{ purpose: 'customer_support', necessary: true }],
              methods: ['use'],
              categories: ['identity'],
              fields: ['name'],
              retention: '1 year',
              rights: 'privacy portal',
            },
          },
        };
      case 'POST /v1/recipients':
        return {
          url: route.url,
          body: {
            name: `Matrix Partner ${who}`,
            contact: 'office@partner.example.cn',
            jurisdiction: 'CN',
            purposes: ['partner_referral'],
            contractRef: 'DPA-1',
            retentionDays: 30,
          },
        };
      case 'GET /v1/ledger/proof/inclusion':
        return { url: `${route.url}?index=0` };
      case 'GET /v1/ledger/proof/consistency':
        return { url: `${route.url}?from=1&to=2` };
      case 'GET /v1/ledger/tile/*':
        return { url: '/v1/ledger/tile/0/000.p/1' };
      case 'GET /v1/ledger/tile/entries/*':
        return { url: '/v1/ledger/tile/entries/000.p/1' };
      case 'GET /v1/notices/:id':
        return { url: fill(route.url, ctx.notice!) };
      case 'POST /v1/consents':
        return {
          url: route.url,
          body: {
            subjectId: ctx.other,
            purpose: 'telemarketing',
            fields: ['name'],
            noticeId: ctx.notice,
            method: 'web',
          },
        };
      case 'POST /v1/consents/withdraw':
        return { url: route.url, body: { subjectId: ctx.other, purpose: 'partner_referral', method: 'web' } };
      case 'GET /v1/consents':
        return { url: `${route.url}?subject=${sub}` };
      case 'GET /v1/consents/:id/receipt':
        return { url: fill(route.url, ctx.consent!) };
      case 'POST /v1/consents/import':
        return { url: route.url, body: { csv: 'subject_id,purpose\n' } };
      case 'POST /v1/consent-receipts/verify':
        return { url: route.url, body: { receipt: { forged: true } } };
      case 'GET /v1/recipients/:id':
      case 'PATCH /v1/recipients/:id':
        return { url: fill(route.url, ctx.recipient!), body: { retentionDays: 90 } };
      case 'POST /v1/disclosures':
        return {
          url: route.url,
          body: {
            recipientId: ctx.recipient,
            purpose: 'partner_referral',
            fields: ['name', 'mobile'],
            subjectIds: [ctx.consented],
            format: 'csv',
          },
        };
      case 'GET /v1/disclosures/:id':
      case 'GET /v1/disclosures/:id/delivery':
      case 'POST /v1/deletion-notices/:id/ack':
        return { url: fill(route.url, 'dsc_matrix_unknown') };
      case 'POST /v1/canaries/trips':
        return {
          url: route.url,
          body: { channel: 'call', contact: '17000000001', at: '2025-03-10T02:00:00Z' },
        };
      case 'POST /v1/alerts/:id/close':
        return { url: fill(route.url, ctx.alert!) };
      default:
        return {
          url: route.url.replace(/:([A-Za-z_]+)/g, 'x_probe'),
          ...(route.method === 'GET' ? {} : { body: {} }),
        };
    }
  }

  function send(route: RouteDef, p: Probe, headers: Record<string, string>): Promise<LightMyRequestResponse> {
    // Employees have a small request bucket; a second of clock per request keeps the matrix under it.
    w.clock.advance(1000);
    return w.http.inject({
      method: route.method,
      url: p.url,
      headers,
      ...(p.body !== undefined ? { payload: p.body as object } : {}),
    });
  }

  it('every route is in the matrix (the route list is data)', () => {
    const keys = w.app.routes.map((r) => `${r.method} ${r.url}`);
    expect(new Set(keys).size).toBe(keys.length);
    // Every access route has its expected statuses, and every other route is probed below.
    for (const k of Object.keys(ACCESS_EXPECT)) expect(keys).toContain(k);
    expect(keys.length).toBeGreaterThanOrEqual(40);
  });

  it('unauthenticated, bad, revoked and disabled credentials get 401 on every actor route', async () => {
    const revoked = await w.app.actors.create(
      { name: 'revoked.key', kind: 'employee', roles: ['billing'] },
      { by: null },
    );
    const keyId = (await w.app.actors.keys(revoked.actor.id))[0]!.id;
    await w.app.actors.revokeKey(keyId, { by: w.admin.id });
    const disabled = await w.app.actors.create(
      { name: 'disabled.actor', kind: 'employee', roles: ['billing'] },
      { by: null },
    );
    await w.app.actors.disable(disabled.actor.id, { by: w.admin.id });
    const creds: [string, Record<string, string>, string][] = [
      ['none', {}, 'AUTH_REQUIRED'],
      ['malformed', { authorization: 'Basic dXNlcjpwYXNz' }, 'AUTH_INVALID'],
      ['bad key', { authorization: 'Bearer ctk_notarealkey_0000000000000000000000000000' }, 'AUTH_INVALID'],
      ['revoked', { authorization: `Bearer ${revoked.apiKey}` }, 'AUTH_INVALID'],
      ['disabled', { authorization: `Bearer ${disabled.apiKey}` }, 'AUTH_INVALID'],
    ];
    let checked = 0;
    for (const route of w.app.routes) {
      const p = probe(route, 'billing');
      for (const [name, headers, code] of creds) {
        const res = await send(route, p, headers);
        if (route.auth === 'actor') {
          expect(res.statusCode, `${name} ${route.method} ${route.url}`).toBe(401);
          expect(res.json().code).toBe(code);
          expect(piIn(res.body, w.piNeedles)).toEqual([]);
          checked++;
        } else if (route.url.startsWith('/v1/portal/') && !/\/(login|verify|logout)$/.test(route.url)) {
          // Subject routes (rights portal): an API key is never a subject session (a probe that
          // fails the route's schema is refused before that, with 400).
          expect([400, 401], `${name} ${route.method} ${route.url}`).toContain(res.statusCode);
          if (res.statusCode === 401) expect(res.json().code).toBe('RIGHTS_SESSION_REQUIRED');
        } else {
          expect(res.statusCode, `${name} ${route.method} ${route.url}`).not.toBe(401);
        }
      }
    }
    expect(checked).toBeGreaterThan(40 * creds.length);
  });

  it('every route × every role: no 5xx, no PI in errors or non-PI routes, no policy internals in refusals', async () => {
    const problems: string[] = [];
    for (const route of w.app.routes) {
      const key = `${route.method} ${route.url}`;
      const rows: { who: Who; status: number; body: string }[] = [];
      for (const who of WHO) {
        const p = probe(route, who);
        const headers: Record<string, string> =
          who === 'none' ? {} : { authorization: `Bearer ${w.byRole[who].key}` };
        const res = await send(route, p, headers);
        rows.push({ who, status: res.statusCode, body: res.body });
        const where = `${key} as ${who} → ${res.statusCode}`;
        if (res.statusCode >= 500) problems.push(`${where}: server error ${res.body}`);
        const expected = ACCESS_EXPECT[key]?.[who];
        if (expected !== undefined && res.statusCode !== expected)
          problems.push(`${where}: expected ${expected} (${res.body.slice(0, 200)})`);
        if (res.statusCode >= 400) {
          const body = res.json() as Record<string, unknown>;
          if (typeof body.code !== 'string' || typeof body.message !== 'string')
            problems.push(`${where}: not an error body`);
          const pi = piIn(res.body, w.piNeedles);
          if (pi.length) problems.push(`${where}: PI in error body: ${pi.length} value(s)`);
          const reasons = REASON_CODES.filter((c) => res.body.includes(c));
          if (reasons.length) problems.push(`${where}: policy reason codes in error body: ${reasons}`);
          if (res.statusCode === 403) {
            const words = GRANT_WORDS.filter((g) =>
              JSON.stringify({ message: body.message, details: body.details ?? null })
                .toLowerCase()
                .includes(g),
            );
            // A quota refusal may say "quota" (it tells the actor to request an approval).
            const allowedWords = body.code === 'ACCESS_QUOTA_EXCEEDED' ? ['quota'] : [];
            const leaked = words.filter((x) => !allowedWords.includes(x));
            if (leaked.length) problems.push(`${where}: policy vocabulary in refusal: ${leaked}`);
          }
        } else if (!PI_ROUTES.has(key)) {
          const pi = piIn(res.body, w.piNeedles);
          if (pi.length) problems.push(`${where}: PI in a non-PI route's response: ${pi.length} value(s)`);
        }
      }
      results.set(key, rows);
    }
    if (process.env.MATRIX_PRINT)
      for (const [k, rows] of results)
        console.log(k.padEnd(42), rows.map((r) => `${r.who}:${r.status}`).join(' '));
    expect(problems).toEqual([]);
  });

  it('the administrator reads no PI on any route (DESIGN principle 3)', () => {
    // Threat: an administrator account (the most phished, the most shared) as a way around the
    // read path. Admin manages actors, assignments and the policy; no response to it carries PI.
    expect(results.size).toBe(w.app.routes.length);
    const leaks = [...results].flatMap(([key, rows]) =>
      rows
        .filter((r) => r.who === 'admin' && piIn(r.body, w.piNeedles).length > 0)
        .map((r) => `${key} → ${r.status}`),
    );
    expect(leaks).toEqual([]);
  });

  it('× purpose: a subject read for any purpose but the role’s own is a bare 403 ACCESS_DENIED', async () => {
    const route = w.app.routes.find((r) => r.method === 'GET' && r.url === '/v1/subjects/:id')!;
    const batch = w.app.routes.find((r) => r.url === '/v1/subjects/read-batch')!;
    const bodies = new Set<string>();
    for (const role of ROLES) {
      const actor: Actor = w.byRole[role];
      for (const purpose of [...PURPOSES, 'no_such_purpose']) {
        if (purpose === OWN_PURPOSE[role]) continue;
        const res = await send(
          route,
          { url: `/v1/subjects/${ctx.subject}?purpose=${purpose}&fields=name,mobile,id_number` },
          { authorization: `Bearer ${actor.key}` },
        );
        expect(res.statusCode, `${role} × ${purpose}`).toBe(403);
        const { requestId, ...rest } = res.json();
        expect(typeof requestId).toBe('string');
        // Exactly the code and the fixed message: no reason, no grant, no field name, no value.
        expect(rest, `${role} × ${purpose}`).toEqual({
          code: 'ACCESS_DENIED',
          message: 'Access to this record for this purpose is not permitted.',
        });
        bodies.add(JSON.stringify(rest));
        // In a batch, the same subject is refused with the same code and nothing else.
        const b = await send(
          batch,
          { url: batch.url, body: { purpose, fields: ['name'], subjects: [ctx.subject] } },
          { authorization: `Bearer ${actor.key}` },
        );
        expect(b.statusCode).toBe(200);
        expect(b.json().results[0]).toMatchObject({ allowed: false, code: 'ACCESS_DENIED', fields: {} });
        expect(piIn(b.body, w.piNeedles)).toEqual([]);
      }
    }
    // Every refusal looks the same whatever the reason (no grant, unknown purpose, wrong purpose).
    expect(bodies.size).toBe(1);
  });

  it('lookup answers only with subjects the caller may read, and never with values', async () => {
    const route = w.app.routes.find((r) => r.url === '/v1/subjects/lookup')!;
    const expectFound: Record<Role, boolean> = {
      telemarketing: true,
      support: true,
      billing: false, // billing sees no mobile: a lookup by a field one cannot see finds nothing
      contact_service: false, // token_only: no lookup either
      privacy_officer: true,
      admin: false,
      partner: false,
    };
    for (const role of ROLES) {
      const res = await send(route, probe(route, role), { authorization: `Bearer ${w.byRole[role].key}` });
      expect(res.statusCode).toBe(200);
      expect(res.json().subjects, role).toEqual(expectFound[role] ? [ctx.subject] : []);
      expect(piIn(res.body, w.piNeedles)).toEqual([]);
    }
  });

  it('a disclosure × every role: the record to its releaser, the file only to the recipient’s own key', async () => {
    // Threat (issue 11 item 3): an employee exfiltrates an export through the disclosure API, or
    // another actor than the recipient's (the releaser included) fetches the delivery.
    const create = w.app.routes.find((r) => r.method === 'POST' && r.url === '/v1/disclosures')!;
    const made = await send(create, probe(create, 'privacy_officer'), {
      authorization: `Bearer ${w.byRole.privacy_officer.key}`,
    });
    expect(made.statusCode).toBe(201);
    expect(Object.keys(made.json())).toEqual(['disclosure']);
    expect(piIn(made.body, w.piNeedles)).toEqual([]);
    const id = made.json().disclosure.id as string;
    const fetch = w.app.routes.find((r) => r.url === '/v1/disclosures/:id/delivery')!;
    const url = `/v1/disclosures/${id}/delivery`;
    for (const who of WHO.filter((x) => x !== 'partner')) {
      const res = await send(
        fetch,
        { url },
        who === 'none' ? {} : { authorization: `Bearer ${w.byRole[who].key}` },
      );
      expect([who, res.statusCode]).toEqual([who, who === 'none' ? 401 : 404]);
      expect(piIn(res.body, w.piNeedles)).toEqual([]);
    }
    const got = await send(fetch, { url }, { authorization: `Bearer ${w.byRole.partner.key}` });
    expect(got.statusCode).toBe(200);
    expect(got.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(piIn(got.body, w.piNeedles).length).toBeGreaterThan(0);
  });
});
