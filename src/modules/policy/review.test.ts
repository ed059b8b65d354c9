import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compile.js';
import { review } from './review.js';

const POLICY = compilePolicy(`
name: r
version: "3"
purposes:
  sales: { basis: contract, necessary: true }
  promo: { basis: consent, necessary: false }
  audit: { basis: legal_duty, necessary: true }
grants:
  - role: seller
    purpose: sales
    fields: { name: masked, mobile: token, id_number: deny }
    quota: { daily: 50, approval_unlocks: true }
    hours: { from: "09:00", to: "21:00" }
  - role: promoter
    purpose: promo
    fields: { mobile: plain }
    assignment: false
    consent: false
  - role: admin
    purpose: audit
    fields: { "*": masked }
    assignment: false
    quota: { daily: 10 }
    break_glass: { fields: { "*": plain } }
`);

const PERIOD = { since: '2025-02-09', until: '2025-03-10' };

describe('access review', () => {
  it('lists what each role sees per purpose, and the grants unused in the period', () => {
    const r = review(
      POLICY,
      [
        {
          role: 'seller',
          purpose: 'sales',
          field: 'name',
          view: 'masked',
          via: 'grant',
          lastUsed: '2025-03-09',
        },
        // Used, but before the period: counts as unused.
        {
          role: 'seller',
          purpose: 'sales',
          field: 'mobile',
          view: 'token',
          via: 'grant',
          lastUsed: '2025-01-02',
        },
        {
          role: 'admin',
          purpose: 'audit',
          field: '*',
          view: 'plain',
          via: 'break_glass',
          lastUsed: '2025-03-01',
        },
      ],
      PERIOD,
    );
    const seller = r.grants.find((g) => g.role === 'seller')!;
    expect(seller.fields).toEqual([
      { field: 'mobile', view: 'token', via: 'grant', lastUsed: null, used: false },
      { field: 'name', view: 'masked', via: 'grant', lastUsed: '2025-03-09', used: true },
    ]);
    expect(seller.conditions).toEqual({
      assignment: true,
      approval: false,
      consent: false,
      quota: { daily: 50, approvalUnlocks: true },
      hours: { from: '09:00', to: '21:00' },
      attributes: null,
    });
    expect(seller.unused).toBe(false);
    expect(r.unused).toEqual([
      { role: 'admin', purpose: 'audit', field: '*', view: 'masked', via: 'grant' },
      { role: 'promoter', purpose: 'promo', field: 'mobile', view: 'plain', via: 'grant' },
      { role: 'seller', purpose: 'sales', field: 'mobile', view: 'token', via: 'grant' },
    ]);
    expect(r.policy).toEqual({ name: 'r', version: '3', hash: POLICY.hash });
  });

  it('reports findings: unused grants, consent not checked, administrators reading PI, plain without limits', () => {
    const r = review(POLICY, [], PERIOD);
    expect(r.findings).toEqual([
      { code: 'UNUSED_GRANT', role: 'admin', purpose: 'audit' },
      { code: 'ADMIN_READS_PI', role: 'admin', purpose: 'audit' },
      { code: 'UNUSED_GRANT', role: 'promoter', purpose: 'promo' },
      { code: 'CONSENT_NOT_CHECKED', role: 'promoter', purpose: 'promo' },
      { code: 'PLAIN_WITHOUT_LIMITS', role: 'promoter', purpose: 'promo', field: 'mobile' },
      { code: 'UNUSED_GRANT', role: 'seller', purpose: 'sales' },
    ]);
  });
});
