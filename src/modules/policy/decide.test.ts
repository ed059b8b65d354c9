import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compile.js';
import {
  type Decision,
  type DecisionContext,
  type DecisionInput,
  decide,
  type ReasonCode,
} from './decide.js';

/**
 * Policy decisions as a table of cases: every view, every condition, the reasons and obligations
 * each one produces, and the default deny. Times are UTC; the policy's zone is Asia/Shanghai (+08).
 */
const POLICY = `
name: table
version: "1"
timezone: Asia/Shanghai
purposes:
  sales: { basis: contract, necessary: true }
  promo: { basis: consent, necessary: false }
  audit: { basis: legal_duty, necessary: true }
  gated: { basis: contract, necessary: true }
grants:
  - role: seller
    purpose: sales
    fields: { name: masked, mobile: token, address: plain, "*": deny }
    quota: { daily: 3, approval_unlocks: true }
    hours: { from: "09:00", to: "21:00" }
  - role: capped
    purpose: sales
    fields: { name: plain }
    assignment: false
    quota: { daily: 2 }
  - role: east_seller
    purpose: sales
    fields: { company: plain }
    assignment: false
    attributes: { region: [east, north] }
  - role: promoter
    purpose: promo
    fields: { mobile: masked }
    assignment: false
  - role: promo_officer
    purpose: promo
    fields: { "*": deny }
    assignment: false
    break_glass: { fields: { mobile: plain } }
  - role: officer
    purpose: audit
    fields: { "*": masked }
    assignment: false
    break_glass: { fields: { "*": plain } }
  - role: night
    purpose: audit
    fields: { name: masked }
    assignment: false
    hours: { from: "22:00", to: "06:00" }
  - role: gatekeeper
    purpose: gated
    fields: { name: plain }
    assignment: false
    approval: true
`;
const policy = compilePolicy(POLICY);

const DAY = '2025-03-10';
/** Local (Asia/Shanghai) HH:MM on DAY, as a UTC Date. */
function local(hhmm: string): Date {
  return new Date(new Date(`${DAY}T${hhmm}:00+08:00`).getTime());
}
const AT = local('10:00');
const approval = (remaining: number | null, expiresAt = local('18:00')) => ({
  id: 'apr_1',
  remaining,
  expiresAt,
});

interface Case {
  name: string;
  roles: string[];
  purpose?: string;
  fields?: string[];
  attributes?: Record<string, string>;
  ctx?: Partial<DecisionContext>;
  allowed: boolean;
  reasons?: ReasonCode[];
  views?: Record<string, string>;
  obligations?: string[];
  remedy?: 'request_approval';
  quota?: Decision['quota'];
  approvalId?: string;
}

const SALES_FIELDS = ['name', 'mobile', 'address', 'id_number'];

const cases: Case[] = [
  // Views
  {
    name: 'each view: masked, token, plain, and deny for an unnamed field',
    roles: ['seller'],
    fields: SALES_FIELDS,
    allowed: true,
    views: { name: 'masked', mobile: 'token', address: 'plain', id_number: 'deny' },
    reasons: [],
    obligations: ['count_quota'],
    quota: { limit: 3, used: 0 },
  },
  {
    name: 'every requested field denied',
    roles: ['seller'],
    fields: ['id_number'],
    allowed: false,
    reasons: ['FIELDS_DENIED'],
  },
  { name: 'no field requested', roles: ['seller'], fields: [], allowed: false, reasons: ['FIELDS_DENIED'] },
  // Default deny
  {
    name: 'undeclared purpose',
    roles: ['seller'],
    purpose: 'marketing',
    allowed: false,
    reasons: ['UNKNOWN_PURPOSE'],
  },
  { name: 'role without a grant (admin)', roles: ['admin'], allowed: false, reasons: ['NO_GRANT'] },
  { name: 'no roles at all', roles: [], allowed: false, reasons: ['NO_GRANT'] },
  {
    name: 'role granted another purpose only',
    roles: ['officer'],
    purpose: 'sales',
    allowed: false,
    reasons: ['NO_GRANT'],
  },
  // Assignment
  {
    name: 'assignment required, not assigned',
    roles: ['seller'],
    ctx: { assigned: false },
    allowed: false,
    reasons: ['ASSIGNMENT_REQUIRED'],
  },
  {
    name: 'assignment not required',
    roles: ['capped'],
    fields: ['name'],
    ctx: { assigned: false },
    allowed: true,
  },
  // Hours
  {
    name: 'before hours (08:59)',
    roles: ['seller'],
    ctx: { at: local('08:59') },
    allowed: false,
    reasons: ['OUTSIDE_HOURS'],
  },
  { name: 'start of hours (09:00)', roles: ['seller'], ctx: { at: local('09:00') }, allowed: true },
  { name: 'last minute (20:59)', roles: ['seller'], ctx: { at: local('20:59') }, allowed: true },
  {
    name: 'end of hours is exclusive (21:00)',
    roles: ['seller'],
    ctx: { at: local('21:00') },
    allowed: false,
    reasons: ['OUTSIDE_HOURS'],
  },
  {
    name: 'overnight window, 23:30',
    roles: ['night'],
    purpose: 'audit',
    fields: ['name'],
    ctx: { at: local('23:30') },
    allowed: true,
  },
  {
    name: 'overnight window, 05:59',
    roles: ['night'],
    purpose: 'audit',
    fields: ['name'],
    ctx: { at: local('05:59') },
    allowed: true,
  },
  {
    name: 'overnight window, 06:00',
    roles: ['night'],
    purpose: 'audit',
    fields: ['name'],
    ctx: { at: local('06:00') },
    allowed: false,
    reasons: ['OUTSIDE_HOURS'],
  },
  {
    name: 'all failing conditions are reported, in a stable order',
    roles: ['seller'],
    ctx: { assigned: false, at: local('22:00'), usedToday: 3 },
    allowed: false,
    reasons: ['ASSIGNMENT_REQUIRED', 'OUTSIDE_HOURS', 'QUOTA_EXCEEDED'],
  },
  // Quota
  {
    name: 'under quota counts the read',
    roles: ['seller'],
    ctx: { usedToday: 2 },
    allowed: true,
    obligations: ['count_quota'],
    quota: { limit: 3, used: 2 },
  },
  {
    name: 'quota reached, unlockable: denied with a remedy',
    roles: ['seller'],
    ctx: { usedToday: 3 },
    allowed: false,
    reasons: ['QUOTA_EXCEEDED'],
    remedy: 'request_approval',
  },
  {
    name: 'quota reached but a re-read of a subject read today',
    roles: ['seller'],
    ctx: { usedToday: 3, alreadyReadToday: true },
    allowed: true,
    obligations: ['count_quota'],
  },
  {
    name: 'quota reached, counted approval unlocks and is consumed',
    roles: ['seller'],
    ctx: { usedToday: 3, approval: approval(5) },
    allowed: true,
    reasons: ['APPROVAL_USED'],
    obligations: ['count_quota', 'consume_approval'],
    quota: { limit: null, used: 3 },
    approvalId: 'apr_1',
  },
  {
    name: 'quota reached, time-only approval unlocks without a count',
    roles: ['seller'],
    ctx: { usedToday: 3, approval: approval(null) },
    allowed: true,
    reasons: ['APPROVAL_USED'],
    obligations: ['count_quota'],
  },
  {
    name: 'quota reached, expired approval',
    roles: ['seller'],
    ctx: { usedToday: 3, approval: approval(5, local('09:59')) },
    allowed: false,
    reasons: ['QUOTA_EXCEEDED'],
    remedy: 'request_approval',
  },
  {
    name: 'quota reached, used-up approval',
    roles: ['seller'],
    ctx: { usedToday: 3, approval: approval(0) },
    allowed: false,
    reasons: ['QUOTA_EXCEEDED'],
    remedy: 'request_approval',
  },
  {
    name: 'quota not unlockable: an approval does not help, and no remedy is offered',
    roles: ['capped'],
    fields: ['name'],
    ctx: { usedToday: 2, approval: approval(5) },
    allowed: false,
    reasons: ['QUOTA_EXCEEDED'],
  },
  {
    name: 'remedy is not offered when another condition fails too',
    roles: ['seller'],
    ctx: { usedToday: 3, assigned: false },
    allowed: false,
    reasons: ['ASSIGNMENT_REQUIRED', 'QUOTA_EXCEEDED'],
  },
  // Approval required
  {
    name: 'approval required, none',
    roles: ['gatekeeper'],
    purpose: 'gated',
    fields: ['name'],
    allowed: false,
    reasons: ['APPROVAL_REQUIRED'],
    remedy: 'request_approval',
  },
  {
    name: 'approval required and present',
    roles: ['gatekeeper'],
    purpose: 'gated',
    fields: ['name'],
    ctx: { approval: approval(2) },
    allowed: true,
    views: { name: 'plain' },
    reasons: ['APPROVAL_USED'],
    obligations: ['consume_approval'],
    approvalId: 'apr_1',
  },
  {
    name: 'approval required, re-read today does not consume',
    roles: ['gatekeeper'],
    purpose: 'gated',
    fields: ['name'],
    ctx: { approval: approval(0), alreadyReadToday: true },
    allowed: true,
    obligations: [],
  },
  // Consent
  {
    name: 'consent basis, consent unknown',
    roles: ['promoter'],
    purpose: 'promo',
    fields: ['mobile'],
    allowed: false,
    reasons: ['CONSENT_REQUIRED'],
  },
  {
    name: 'consent basis, consent refused',
    roles: ['promoter'],
    purpose: 'promo',
    fields: ['mobile'],
    ctx: { consent: false },
    allowed: false,
    reasons: ['CONSENT_REQUIRED'],
  },
  {
    name: 'consent basis, consent given',
    roles: ['promoter'],
    purpose: 'promo',
    fields: ['mobile'],
    ctx: { consent: true },
    allowed: true,
    views: { mobile: 'masked' },
  },
  // Attributes
  {
    name: 'attribute matches',
    roles: ['east_seller'],
    fields: ['company', 'name'],
    attributes: { region: 'north' },
    allowed: true,
    views: { company: 'plain', name: 'deny' },
  },
  {
    name: 'attribute differs',
    roles: ['east_seller'],
    fields: ['company'],
    attributes: { region: 'west' },
    allowed: false,
    reasons: ['ATTRIBUTE_MISMATCH'],
  },
  {
    name: 'attribute missing',
    roles: ['east_seller'],
    fields: ['company'],
    allowed: false,
    reasons: ['ATTRIBUTE_MISMATCH'],
  },
  // Several roles
  {
    name: 'two roles: views merge, the best view wins; no quota when one grant has none',
    roles: ['seller', 'east_seller'],
    fields: ['name', 'company', 'id_number'],
    attributes: { region: 'east' },
    allowed: true,
    views: { name: 'masked', company: 'plain', id_number: 'deny' },
    obligations: [],
  },
  {
    name: 'two roles: a failing grant contributes nothing',
    roles: ['seller', 'east_seller'],
    fields: ['name', 'company'],
    attributes: { region: 'east' },
    ctx: { assigned: false },
    allowed: true,
    views: { name: 'deny', company: 'plain' },
  },
  {
    name: 'two roles: a grant passing freely wins over spending an approval',
    roles: ['seller', 'east_seller'],
    fields: ['name', 'company'],
    attributes: { region: 'east' },
    ctx: { usedToday: 3, approval: approval(5) },
    allowed: true,
    views: { name: 'deny', company: 'plain' },
    reasons: [],
    obligations: [],
  },
  {
    name: 'two roles: both deny, reasons of both',
    roles: ['seller', 'east_seller'],
    fields: ['name'],
    ctx: { assigned: false },
    allowed: false,
    reasons: ['ATTRIBUTE_MISMATCH', 'ASSIGNMENT_REQUIRED'],
  },
  // Break-glass
  {
    name: 'break-glass: plain views, an alert, regardless of hours',
    roles: ['officer'],
    purpose: 'audit',
    fields: ['name', 'mobile'],
    ctx: { breakGlass: { reason: 'complaint C-1043 under investigation' }, at: local('03:00') },
    allowed: true,
    views: { name: 'plain', mobile: 'plain' },
    reasons: ['BREAK_GLASS'],
    obligations: ['alert:break_glass'],
  },
  {
    name: 'without break-glass the officer sees masked',
    roles: ['officer'],
    purpose: 'audit',
    fields: ['name'],
    allowed: true,
    views: { name: 'masked' },
    obligations: [],
  },
  {
    name: 'break-glass needs a real reason',
    roles: ['officer'],
    purpose: 'audit',
    fields: ['name'],
    ctx: { breakGlass: { reason: '   because  ' } },
    allowed: false,
    reasons: ['BREAK_GLASS_REASON_REQUIRED'],
  },
  {
    name: 'break-glass where the grant does not allow it',
    roles: ['seller'],
    ctx: { breakGlass: { reason: 'customer on the phone, urgent' } },
    allowed: false,
    reasons: ['BREAK_GLASS_NOT_ALLOWED'],
  },
  {
    name: 'break-glass does not bypass consent',
    roles: ['promo_officer'],
    purpose: 'promo',
    fields: ['mobile'],
    ctx: { breakGlass: { reason: 'fraud report from the carrier' } },
    allowed: false,
    reasons: ['CONSENT_REQUIRED'],
  },
  {
    name: 'break-glass with consent',
    roles: ['promo_officer'],
    purpose: 'promo',
    fields: ['mobile', 'name'],
    ctx: { breakGlass: { reason: 'fraud report from the carrier' }, consent: true },
    allowed: true,
    views: { mobile: 'plain', name: 'deny' },
  },
];

function input(c: Case): DecisionInput {
  return {
    principal: { id: 'act_x', roles: c.roles, attributes: c.attributes ?? {} },
    purpose: c.purpose ?? 'sales',
    subjectId: 'sub_1',
    fields: c.fields ?? SALES_FIELDS,
    context: { at: AT, assigned: true, usedToday: 0, alreadyReadToday: false, ...c.ctx },
  };
}

describe('decide', () => {
  it.each(cases)('$name', (c) => {
    const d = decide(policy, input(c));
    expect(d.allowed).toBe(c.allowed);
    if (c.reasons) expect(d.reasons).toEqual(c.reasons);
    if (c.views) expect({ ...d.views }).toEqual(c.views);
    if (c.obligations) expect(d.obligations).toEqual(c.obligations);
    expect(d.remedy).toBe(c.remedy);
    if (c.quota !== undefined) expect(d.quota).toEqual(c.quota);
    if (c.approvalId) expect(d.approvalId).toBe(c.approvalId);
    expect(d.policy).toEqual({ version: '1', hash: policy.hash });
    if (!d.allowed) {
      // A denial shows nothing and relies on no grant.
      expect(Object.values(d.views).every((v) => v === 'deny')).toBe(true);
      expect(d.uses).toEqual([]);
      expect(d.obligations).toEqual([]);
    } else {
      expect(d.uses.length).toBeGreaterThan(0);
    }
  });

  it('default deny: a role gets nothing for a purpose it has no grant for', () => {
    const roles = [...new Set(policy.grants.map((g) => g.role))];
    for (const role of roles) {
      for (const purpose of policy.purposes.keys()) {
        const granted = policy.byPurpose.get(purpose)?.has(role) ?? false;
        const d = decide(
          policy,
          input({ name: '', roles: [role], purpose, allowed: false, fields: ['name', 'mobile'] }),
        );
        if (!granted) expect(d.reasons, `${role}/${purpose}`).toEqual(['NO_GRANT']);
      }
    }
  });

  it('records which grant each visible field came from, with the policy key', () => {
    const d = decide(
      policy,
      input({
        name: '',
        roles: ['seller', 'east_seller'],
        fields: ['name', 'company'],
        attributes: { region: 'east' },
        allowed: true,
      }),
    );
    expect(d.uses).toEqual([
      { role: 'seller', field: 'name', view: 'masked', via: 'grant' },
      { role: 'east_seller', field: 'company', view: 'plain', via: 'grant' },
    ]);
    const bg = decide(
      policy,
      input({
        name: '',
        roles: ['officer'],
        purpose: 'audit',
        fields: ['name', 'email'],
        ctx: { breakGlass: { reason: 'regulator request 2025-17' } },
        allowed: true,
      }),
    );
    expect(bg.uses).toEqual([{ role: 'officer', field: '*', view: 'plain', via: 'break_glass' }]);
  });

  it('is pure: same input, same output, input untouched', () => {
    const i = input({
      name: '',
      roles: ['seller'],
      ctx: { usedToday: 3, approval: approval(5) },
      allowed: true,
    });
    const snapshot = JSON.stringify(i);
    const a = decide(policy, i);
    const b = decide(policy, i);
    expect(a).toEqual(b);
    expect(JSON.stringify(i)).toBe(snapshot);
  });

  it('field names cannot reach the prototype of the views object', () => {
    const d = decide(
      policy,
      input({
        name: '',
        roles: ['officer'],
        purpose: 'audit',
        fields: ['__proto__', 'constructor'],
        allowed: true,
      }),
    );
    expect(Object.getOwnPropertyDescriptor(d.views, '__proto__')?.value).toBe('masked');
    expect(Object.keys(d.views)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(d.views)).toBe(Object.prototype);
    expect(Object.keys(Object.prototype)).toEqual([]);
  });
});
