import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compile.js';
import { type DecisionContext, decide } from './decide.js';
import { review } from './review.js';

/**
 * The shipped policies, against the telemarketer-2019 scenario: under "guarded" the telemarketer
 * sees masked names and a contact token, only for his portfolio, in office hours, and past his
 * quota only with an approval; under "lax" (the legacy policy) the same reads return plain numbers.
 */
const load = (name: string) =>
  compilePolicy(
    readFileSync(fileURLToPath(new URL(`../../../policies/${name}.yaml`, import.meta.url)), 'utf8'),
  );
const guarded = load('default');
const lax = load('lax');

const FIELDS = ['name', 'mobile', 'company', 'email', 'address', 'id_number'];
const AT = new Date('2025-03-10T03:00:00Z'); // 11:00 in Shanghai
const ctx = (c: Partial<DecisionContext> = {}): DecisionContext => ({
  at: AT,
  assigned: true,
  usedToday: 0,
  alreadyReadToday: false,
  consent: true,
  ...c,
});
const who = (role: string, kind: 'employee' | 'service' | 'partner' = 'employee') => ({
  id: `act_${role}`,
  kind,
  roles: [role],
  attributes: {},
});

describe('shipped policies', () => {
  it('are valid, and named as SCENARIOS.md names them', () => {
    expect(guarded.name).toBe('guarded');
    expect(lax.name).toBe('lax');
    expect(guarded.timezone).toBe('Asia/Shanghai');
  });

  describe('guarded (telemarketer-2019)', () => {
    const tm = who('telemarketing');
    const read = (c: Partial<DecisionContext> = {}) =>
      decide(guarded, {
        principal: tm,
        purpose: 'telemarketing',
        subjectId: 'sub_1',
        fields: FIELDS,
        context: ctx(c),
      });

    it('a lead in his portfolio: masked name and company, a contact token, nothing else', () => {
      const d = read();
      expect(d.allowed).toBe(true);
      expect({ ...d.views }).toEqual({
        name: 'masked',
        mobile: 'token',
        company: 'masked',
        email: 'deny',
        address: 'deny',
        id_number: 'deny',
      });
      expect(d.obligations).toContain('count_quota');
    });
    it('outside his portfolio: denied', () => {
      expect(read({ assigned: false }).reasons).toEqual(['ASSIGNMENT_REQUIRED']);
    });
    it('past the daily quota: denied, an approval would lift it; with one, allowed', () => {
      const over = read({ usedToday: 200 });
      expect(over).toMatchObject({ allowed: false, reasons: ['QUOTA_EXCEEDED'], remedy: 'request_approval' });
      const approved = read({
        usedToday: 200,
        approval: { id: 'apr_1', remaining: 20, expiresAt: new Date(AT.getTime() + 3_600_000) },
      });
      expect(approved).toMatchObject({ allowed: true, approvalId: 'apr_1' });
    });
    it('at night: denied', () => {
      expect(read({ at: new Date('2025-03-10T14:30:00Z') }).reasons).toEqual(['OUTSIDE_HOURS']);
    });
    it("without the lead's consent: denied (telemarketing rests on consent)", () => {
      expect(read({ consent: undefined }).reasons).toEqual(['CONSENT_REQUIRED']);
    });
    it('only the telephony integration sees the number, only for the contact purpose, only through a token', () => {
      const svc = decide(guarded, {
        principal: who('contact_service', 'service'),
        purpose: 'contact',
        subjectId: 'sub_1',
        fields: ['mobile', 'name'],
        context: ctx({ assigned: false, viaToken: true }),
      });
      expect({ ...svc.views }).toEqual({ mobile: 'plain', name: 'deny' });
      // The same service reading by subject id (no token): denied.
      const byId = decide(guarded, {
        principal: who('contact_service', 'service'),
        purpose: 'contact',
        subjectId: 'sub_1',
        fields: ['mobile'],
        context: ctx({ assigned: false }),
      });
      expect(byId.allowed).toBe(false);
      expect(byId.reasons).toEqual(['TOKEN_REQUIRED']);
      const tmContact = decide(guarded, {
        principal: tm,
        purpose: 'contact',
        subjectId: 'sub_1',
        fields: ['mobile'],
        context: ctx(),
      });
      expect(tmContact.reasons).toEqual(['NO_GRANT']);
    });
  });

  it('guarded: administrators, approvers and auditors read no personal information', () => {
    for (const role of ['admin', 'approver', 'auditor']) {
      for (const purpose of guarded.purposes.keys()) {
        const d = decide(guarded, {
          principal: who(role),
          purpose,
          subjectId: 'sub_1',
          fields: FIELDS,
          context: ctx(),
        });
        expect(d.allowed, `${role}/${purpose}`).toBe(false);
      }
    }
  });

  it('guarded: support masked, billing plain address without assignment, partner needs consent', () => {
    const support = decide(guarded, {
      principal: who('support'),
      purpose: 'customer_support',
      subjectId: 's',
      fields: ['mobile', 'email'],
      context: ctx(),
    });
    expect({ ...support.views }).toEqual({ mobile: 'masked', email: 'masked' });
    const billing = decide(guarded, {
      principal: who('billing'),
      purpose: 'billing',
      subjectId: 's',
      fields: ['name', 'address', 'mobile'],
      context: ctx({ assigned: false }),
    });
    expect({ ...billing.views }).toEqual({ name: 'plain', address: 'plain', mobile: 'deny' });
    const partner = decide(guarded, {
      principal: who('partner', 'partner'),
      purpose: 'partner_referral',
      subjectId: 's',
      fields: ['name'],
      context: ctx({ consent: false }),
    });
    expect(partner.reasons).toEqual(['CONSENT_REQUIRED']);
  });

  it('guarded: the privacy officer sees masked, and plain only by break-glass with a reason and an alert', () => {
    const po = who('privacy_officer');
    const normal = decide(guarded, {
      principal: po,
      purpose: 'investigation',
      subjectId: 's',
      fields: ['mobile'],
      context: ctx({ assigned: false }),
    });
    expect(normal.views.mobile).toBe('masked');
    const bg = decide(guarded, {
      principal: po,
      purpose: 'investigation',
      subjectId: 's',
      fields: ['mobile'],
      context: ctx({ assigned: false, breakGlass: { reason: 'complaint C-2019-044 investigation' } }),
    });
    expect(bg).toMatchObject({ allowed: true, obligations: ['alert:break_glass'] });
    expect(bg.views.mobile).toBe('plain');
  });

  it('lax: the telemarketer reads plain numbers of anyone, any time, past any count', () => {
    const d = decide(lax, {
      principal: who('telemarketing'),
      purpose: 'telemarketing',
      subjectId: 'sub_1',
      fields: FIELDS,
      context: ctx({
        assigned: false,
        usedToday: 100_000,
        consent: undefined,
        at: new Date('2025-03-10T18:00:00Z'),
      }),
    });
    expect(d.allowed).toBe(true);
    expect(d.views.mobile).toBe('plain');
    expect(d.obligations).toEqual([]);
  });

  it('the access review flags lax and not guarded', () => {
    const codes = (p: typeof lax) =>
      review(p, [], { since: '2025-01-01', until: '2025-01-30' })
        .findings.map((f) => f.code)
        .filter((c) => c !== 'UNUSED_GRANT');
    expect(codes(guarded)).toEqual([]);
    expect(codes(lax)).toEqual(expect.arrayContaining(['CONSENT_NOT_CHECKED', 'PLAIN_WITHOUT_LIMITS']));
  });
});
