import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/app/http/index.js';
import { fixedClock } from '../../src/lib/clock.js';
import { isAppError } from '../../src/lib/errors.js';
import { type Actors, createActors, toPrincipal } from '../../src/modules/actors/index.js';
import {
  type ContextQuery,
  createPolicyService,
  type Decision,
  type PolicyService,
  type UseRecord,
} from '../../src/modules/policy/index.js';
import { tableRecorder } from '../actors/support.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../helpers/db.js';

/**
 * The read path as the access module drives it: contexts() → decide() → recordUses(), in one
 * transaction, against real tables: assignment, distinct-subject quotas per local day, approvals
 * that lift a quota and run out, consent through the batch hooks, and the grant usage the review
 * reads. A single read is a batch of one (the access module's group commit may make it one).
 */
const POLICY = `name: usage
version: "1"
timezone: Asia/Shanghai
purposes:
  telemarketing: { basis: consent, necessary: false }
  gated: { basis: contract, necessary: true }
  partner_referral: { basis: consent, necessary: false }
grants:
  - role: telemarketing
    purpose: telemarketing
    fields: { name: masked, mobile: token, company: masked }
    quota: { daily: 2, approval_unlocks: true }
    hours: { from: "09:00", to: "21:00" }
  - role: analyst
    purpose: gated
    fields: { "*": masked }
    assignment: false
    approval: true
  - role: partner
    purpose: partner_referral
    fields: { name: plain }
    assignment: false
  - role: burst
    purpose: telemarketing
    fields: { name: masked }
    assignment: false
    consent: false
    quota: { daily: 5 }
`;

type Executor = Parameters<PolicyService['contexts']>[0];

/** One read through the batch forms the access module runs: a batch of one. */
function single(s: PolicyService) {
  return {
    context: async (ex: Executor, q: ContextQuery) => (await s.contexts(ex, [q]))[0]!,
    /** Throws the refusal recordUses() reports for the read (it left no trace). */
    async recordUse(ex: Executor, u: UseRecord): Promise<void> {
      const [refused] = await s.recordUses(ex, [u]);
      if (refused) throw refused;
    },
  };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isAppError(e) ? e.code : `not an AppError: ${String(e)}`;
  }
  return 'resolved';
}

describeEachDialect('policy state: quotas, approvals, grant usage', (dialect) => {
  let d: TestDatabase;
  let actors: Actors;
  let policy: PolicyService;
  let audit: Awaited<ReturnType<typeof tableRecorder>>;
  const clock = fixedClock('2025-03-10T02:00:00Z'); // 10:00 in Shanghai
  const consents = new Set<string>();
  const consentCalls: (string | undefined)[][] = [];
  let tm: Principal;
  let approver: Principal;

  /** One read as the access module does it (a batch of one). */
  async function read(
    p: Principal,
    purpose: string,
    subjectId: string,
    fields = ['name', 'mobile', 'email'],
    extra: { breakGlass?: { reason: string } } = {},
  ): Promise<Decision> {
    return d.db.transaction().execute(async (trx) => {
      const at = clock.now();
      const context = {
        ...(await single(policy).context(trx, { principal: p, purpose, subjectId, at })),
        ...extra,
      };
      const decision = policy.decide({ principal: p, purpose, subjectId, fields, context });
      await single(policy).recordUse(trx, { principal: p, subjectId, at, decision });
      return decision;
    });
  }

  beforeAll(async () => {
    d = await createTestDatabase(dialect, { poolSize: 8 });
    audit = await tableRecorder(d.db);
    actors = createActors({ db: d.db, dialect, clock, record: audit.record });
    policy = createPolicyService({
      db: d.db,
      dialect,
      clock,
      record: audit.record,
      // The batch hooks the composition root passes (one query per batch in production).
      assignedAmong: actors.assignedAmong,
      consentedAmong: async (subjectIds, purpose, recipient) => {
        const ok = new Set<string>();
        for (const subjectId of subjectIds) {
          consentCalls.push([subjectId, purpose, recipient]);
          if (consents.has(`${subjectId}/${purpose}/${recipient ?? ''}`)) ok.add(subjectId);
        }
        return ok;
      },
    });
    await policy.load(POLICY, { by: null });
    const t = await actors.create({ name: 'tm', kind: 'employee', roles: ['telemarketing'] }, { by: null });
    const a = await actors.create({ name: 'boss', kind: 'employee', roles: ['approver'] }, { by: null });
    tm = toPrincipal(t.actor);
    approver = toPrincipal(a.actor);
    await actors.assign(
      ['s1', 's2', 's3', 's4', 's5'].map((s) => ({ actor: tm.id, subjectId: s })),
      { by: null },
    );
    for (const s of ['s1', 's2', 's3', 's4', 's5', 'out']) consents.add(`${s}/telemarketing/`);
  });
  afterAll(async () => {
    await d?.destroy();
  });

  describe('telemarketer over a day', () => {
    it('context reports assignment, consent and counts', async () => {
      const ctx = await single(policy).context(d.db, {
        principal: tm,
        purpose: 'telemarketing',
        subjectId: 's1',
        at: clock.now(),
      });
      expect(ctx).toEqual({
        at: clock.now(),
        assigned: true,
        usedToday: 0,
        alreadyReadToday: false,
        consent: true,
      });
      const out = await single(policy).context(d.db, {
        principal: tm,
        purpose: 'telemarketing',
        subjectId: 'out',
        at: clock.now(),
      });
      expect(out.assigned).toBe(false);
    });

    it('reads in his portfolio count distinct subjects; a re-read is free', async () => {
      const a = await read(tm, 'telemarketing', 's1');
      expect(a).toMatchObject({ allowed: true, quota: { limit: 2, used: 0 } });
      expect({ ...a.views }).toEqual({ name: 'masked', mobile: 'token', email: 'deny' });
      const again = await read(tm, 'telemarketing', 's1');
      expect(again).toMatchObject({ allowed: true, quota: { limit: 2, used: 0 } });
      const b = await read(tm, 'telemarketing', 's2');
      expect(b).toMatchObject({ allowed: true, quota: { limit: 2, used: 1 } });
      const ctx = await single(policy).context(d.db, {
        principal: tm,
        purpose: 'telemarketing',
        subjectId: 's1',
        at: clock.now(),
      });
      expect(ctx).toMatchObject({ usedToday: 1, alreadyReadToday: true });
    });

    it('outside the portfolio: denied, and nothing is counted', async () => {
      const r = await read(tm, 'telemarketing', 'out');
      // Every failing condition is reported: he is also at his quota by now.
      expect(r).toMatchObject({ allowed: false, reasons: ['ASSIGNMENT_REQUIRED', 'QUOTA_EXCEEDED'] });
      expect(r.remedy).toBeUndefined();
      const ctx = await single(policy).context(d.db, {
        principal: tm,
        purpose: 'telemarketing',
        subjectId: 's3',
        at: clock.now(),
      });
      expect(ctx.usedToday).toBe(2);
    });

    it('past the quota: denied with a remedy; an approval for one subject lifts it once', async () => {
      const over = await read(tm, 'telemarketing', 's3');
      expect(over).toMatchObject({ allowed: false, reasons: ['QUOTA_EXCEEDED'], remedy: 'request_approval' });

      const req = await policy.requestApproval(tm, {
        purpose: 'telemarketing',
        subjects: 5,
        reason: 'campaign follow-up list 12',
      });
      expect(req.status).toBe('pending');
      expect(await code(policy.decideApproval(tm, req.id, { approve: true }))).toBe('FORBIDDEN');
      const granted = await policy.decideApproval(approver, req.id, { approve: true, subjects: 1 });
      expect(granted).toMatchObject({
        status: 'approved',
        remaining: 1,
        decidedBy: approver.id,
        expiresAt: '2025-03-11T02:00:00.000Z',
      });

      const ok = await read(tm, 'telemarketing', 's3');
      expect(ok).toMatchObject({
        allowed: true,
        reasons: ['APPROVAL_USED'],
        approvalId: req.id,
        quota: { limit: null, used: 2 },
      });
      expect(ok.obligations).toEqual(['count_quota', 'consume_approval']);
      expect((await policy.getApproval(req.id)).status).toBe('exhausted');
      // Re-reading s3 today costs nothing; s4 needs a new approval.
      expect((await read(tm, 'telemarketing', 's3')).allowed).toBe(true);
      expect(await read(tm, 'telemarketing', 's4')).toMatchObject({
        allowed: false,
        reasons: ['QUOTA_EXCEEDED'],
      });
    });

    it('the quota resets at local midnight (16:00 UTC), not UTC midnight', async () => {
      clock.set('2025-03-10T15:59:00Z'); // 23:59 local: outside hours anyway
      expect(
        (
          await single(policy).context(d.db, {
            principal: tm,
            purpose: 'telemarketing',
            subjectId: 's4',
            at: clock.now(),
          })
        ).usedToday,
      ).toBe(3);
      clock.set('2025-03-11T01:00:00Z'); // 09:00 local, next day
      expect(
        (
          await single(policy).context(d.db, {
            principal: tm,
            purpose: 'telemarketing',
            subjectId: 's4',
            at: clock.now(),
          })
        ).usedToday,
      ).toBe(0);
      expect((await read(tm, 'telemarketing', 's4')).allowed).toBe(true);
    });

    it('approval events name ids and counts, never the free-text reason', async () => {
      const events = [
        ...(await audit.events('approval.requested')),
        ...(await audit.events('approval.granted')),
      ];
      expect(events.length).toBe(2);
      expect(JSON.stringify(events)).not.toContain('campaign');
      expect(events[1]).toMatchObject({
        actor: approver.id,
        purpose: 'telemarketing',
        attrs: { requestedBy: tm.id, subjects: 1 },
      });
    });
  });

  describe('approvals', () => {
    let analyst: Principal;
    beforeAll(async () => {
      analyst = toPrincipal(
        (
          await actors.create(
            { name: 'analyst', kind: 'employee', roles: ['analyst', 'approver'] },
            { by: null },
          )
        ).actor,
      );
    });

    it('validate requests', async () => {
      expect(
        await code(
          policy.requestApproval(analyst, { purpose: 'nope', hours: 1, reason: 'a long enough reason' }),
        ),
      ).toBe('POLICY_UNKNOWN_PURPOSE');
      expect(
        await code(policy.requestApproval(analyst, { purpose: 'gated', hours: 1, reason: 'short' })),
      ).toBe('VALIDATION_FAILED');
      expect(
        await code(policy.requestApproval(analyst, { purpose: 'gated', reason: 'a long enough reason' })),
      ).toBe('VALIDATION_FAILED');
      expect(
        await code(
          policy.requestApproval(analyst, {
            purpose: 'gated',
            hours: 10_000,
            reason: 'a long enough reason',
          }),
        ),
      ).toBe('VALIDATION_FAILED');
    });

    it('an approver cannot approve his own request; another can; a decision is final', async () => {
      const req = await policy.requestApproval(analyst, {
        purpose: 'gated',
        hours: 2,
        reason: 'quarterly data check',
      });
      expect(await code(policy.decideApproval(analyst, req.id, { approve: true }))).toBe(
        'POLICY_APPROVAL_SELF',
      );
      expect((await read(analyst, 'gated', 'x1')).reasons).toEqual(['APPROVAL_REQUIRED']);
      // The approver may narrow, not widen.
      const g = await policy.decideApproval(approver, req.id, { approve: true, hours: 5 });
      expect(g).toMatchObject({
        remaining: null,
        expiresAt: new Date(clock.now().getTime() + 2 * 3_600_000).toISOString(),
      });
      expect(await code(policy.decideApproval(approver, req.id, { approve: false }))).toBe(
        'POLICY_APPROVAL_DECIDED',
      );
      expect(await code(policy.decideApproval(approver, 'apr_nope', { approve: true }))).toBe(
        'POLICY_APPROVAL_NOT_FOUND',
      );

      const ok = await read(analyst, 'gated', 'x1');
      expect(ok).toMatchObject({
        allowed: true,
        reasons: ['APPROVAL_USED'],
        approvalId: req.id,
        obligations: [],
      });
      clock.advance(2 * 3_600_000);
      expect((await read(analyst, 'gated', 'x2')).reasons).toEqual(['APPROVAL_REQUIRED']);
      expect((await policy.getApproval(req.id)).status).toBe('expired');
    });

    it('rejections and listings', async () => {
      const req = await policy.requestApproval(analyst, {
        purpose: 'gated',
        subjects: 3,
        reason: 'second data check',
      });
      const r = await policy.decideApproval(approver, req.id, { approve: false });
      expect(r).toMatchObject({ status: 'rejected', remaining: null, expiresAt: null });
      expect((await read(analyst, 'gated', 'x3')).allowed).toBe(false);
      expect((await policy.listApprovals({ requestedBy: analyst.id })).map((a) => a.status)).toEqual([
        'rejected',
        'expired',
      ]);
      expect((await policy.listApprovals({ status: 'rejected' })).map((a) => a.id)).toEqual([req.id]);
      expect((await audit.events('approval.rejected')).at(-1)).toMatchObject({ attrs: { approval: req.id } });
    });

    it('a counted approval cannot be spent twice by concurrent reads', async () => {
      const req = await policy.requestApproval(analyst, {
        purpose: 'gated',
        subjects: 1,
        reason: 'one record please',
      });
      await policy.decideApproval(approver, req.id, { approve: true });
      // Two decisions taken on the same context, then committed one after the other.
      const ctx = await single(policy).context(d.db, {
        principal: analyst,
        purpose: 'gated',
        subjectId: 'y1',
        at: clock.now(),
      });
      const dec = (s: string) =>
        policy.decide({ principal: analyst, purpose: 'gated', subjectId: s, fields: ['name'], context: ctx });
      await d.db.transaction().execute((trx) =>
        single(policy).recordUse(trx, {
          principal: analyst,
          subjectId: 'y1',
          at: clock.now(),
          decision: dec('y1'),
        }),
      );
      // The second is refused, and leaves no trace even when its transaction commits (the access
      // module records the refused read as denied in the same transaction).
      const refused = await d.db.transaction().execute((trx) =>
        code(
          single(policy).recordUse(trx, {
            principal: analyst,
            subjectId: 'y2',
            at: clock.now(),
            decision: dec('y2'),
          }),
        ),
      );
      expect(refused).toBe('POLICY_APPROVAL_EXHAUSTED');
      const rows = await d.db
        .selectFrom('quota_usage')
        .select('subject_id')
        .where('actor_id', '=', analyst.id)
        .where('subject_id', 'in', ['y1', 'y2'])
        .execute();
      expect(rows.map((r) => r.subject_id)).toEqual(['y1']);
      expect((await policy.getApproval(req.id)).remaining).toBe(0);
    });
  });

  describe('concurrency and consent', () => {
    it('concurrent reads of different subjects never exceed the quota', async () => {
      const b = toPrincipal(
        (await actors.create({ name: 'burst', kind: 'employee', roles: ['burst'] }, { by: null })).actor,
      );
      // As the access module does it: a read refused by recordUse is recorded as denied and the
      // transaction commits, so the refusal must leave no trace of its own.
      const attempt = (s: string) =>
        d.db.transaction().execute(async (trx) => {
          const at = clock.now();
          const context = await single(policy).context(trx, {
            principal: b,
            purpose: 'telemarketing',
            subjectId: s,
            at,
          });
          const decision = policy.decide({
            principal: b,
            purpose: 'telemarketing',
            subjectId: s,
            fields: ['name'],
            context,
          });
          if (!decision.allowed) return 'denied';
          const refused = await code(
            single(policy).recordUse(trx, { principal: b, subjectId: s, at, decision }),
          );
          return refused === 'resolved' ? 'allowed' : refused;
        });
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => attempt(`c${i}`)));
      const allowed = results.filter((r) => r === 'allowed').length;
      expect(
        results.filter((r) => r !== 'allowed' && r !== 'denied').every((r) => r === 'POLICY_QUOTA_EXCEEDED'),
      ).toBe(true);
      expect(allowed).toBe(5);
      const ctx = await single(policy).context(d.db, {
        principal: b,
        purpose: 'telemarketing',
        subjectId: 'c-new',
        at: clock.now(),
      });
      expect(ctx.usedToday).toBe(5);
      const rows = await d.db
        .selectFrom('quota_usage')
        .select('subject_id')
        .where('actor_id', '=', b.id)
        .execute();
      expect(rows.length).toBe(5);
    });

    it('a partner is asked about consent as the recipient; no consent, no read', async () => {
      const p = toPrincipal(
        (await actors.create({ name: 'acme', kind: 'partner', roles: ['partner'] }, { by: null })).actor,
      );
      expect((await read(p, 'partner_referral', 'z1', ['name'])).reasons).toEqual(['CONSENT_REQUIRED']);
      expect(consentCalls.at(-1)).toEqual(['z1', 'partner_referral', p.id]);
      consents.add(`z1/partner_referral/${p.id}`);
      expect((await read(p, 'partner_referral', 'z1', ['name'])).views.name).toBe('plain');
    });

    it('without a consent hook, consent is never assumed', async () => {
      const bare = createPolicyService({ db: d.db, dialect, clock, record: audit.record });
      const ctx = await single(bare).context(d.db, {
        principal: tm,
        purpose: 'telemarketing',
        subjectId: 's1',
        at: clock.now(),
      });
      expect(ctx.consent).toBe(false);
      expect(ctx.assigned).toBe(false);
    });
  });

  describe('access review from recorded use', () => {
    it('shows what was used and what was not in the last 30 days', async () => {
      const r = await policy.review({ days: 30 });
      const tmGrant = r.grants.find((g) => g.role === 'telemarketing')!;
      expect(tmGrant.fields.map((f) => [f.field, f.view, f.used])).toEqual([
        ['company', 'masked', false],
        ['mobile', 'token', true],
        ['name', 'masked', true],
      ]);
      expect(r.unused).toContainEqual({
        role: 'telemarketing',
        purpose: 'telemarketing',
        field: 'company',
        view: 'masked',
        via: 'grant',
      });
      // 31 days later, nothing has been used in the period.
      clock.advance(31 * 86_400_000);
      const later = await policy.review();
      expect(later.grants.every((g) => g.unused)).toBe(true);
      expect(await policy.pruneQuotaUsage(30)).toBeGreaterThan(0);
      const left = await d.db.selectFrom('quota_usage').select('day').execute();
      expect(left.length).toBe(0);
    });
  });
});
