import { type CompiledGrant, type CompiledPolicy, type FieldViews, permissionsByRole } from './compile.js';
import type { GrantUse } from './decide.js';
import type { LegalBasis, View } from './schema.js';

/**
 * Access review (over-broad-permissions-2019): for each role and purpose, which fields it can see
 * and how, and which of those grants no actor used since a date, so they can be withdrawn; and for
 * each role, the actions outside the read path it may take (the `permissions:` section). Pure:
 * the usage comes from the caller (PolicyService reads it from grant_usage).
 */
export interface GrantUsage extends GrantUse {
  purpose: string;
  /** Last local day (YYYY-MM-DD) the grant was used. */
  lastUsed: string;
}

export interface ReviewedField {
  /** A field name, or "*" for every field the grant does not name. */
  field: string;
  view: Exclude<View, 'deny'>;
  via: 'grant' | 'break_glass';
  lastUsed: string | null;
  used: boolean;
}

export interface ReviewedGrant {
  role: string;
  purpose: string;
  basis: LegalBasis;
  necessary: boolean;
  conditions: {
    assignment: boolean;
    approval: boolean;
    consent: boolean;
    quota: { daily: number; approvalUnlocks: boolean } | null;
    hours: { from: string; to: string } | null;
    attributes: Record<string, string[]> | null;
  };
  fields: ReviewedField[];
  /** Nothing visible through this grant was used in the period. */
  unused: boolean;
}

export const FINDINGS = [
  'UNUSED_GRANT',
  'CONSENT_NOT_CHECKED',
  'ADMIN_READS_PI',
  'PLAIN_WITHOUT_LIMITS',
] as const;
export type FindingCode = (typeof FINDINGS)[number];

export interface Finding {
  code: FindingCode;
  role: string;
  purpose: string;
  field?: string;
}

export interface AccessReview {
  policy: { name: string; version: string; hash: string };
  /** Period start (local day, inclusive) and end. */
  since: string;
  until: string;
  grants: ReviewedGrant[];
  /** Grants (role, purpose, field, view) not used in the period: candidates for withdrawal. */
  unused: { role: string; purpose: string; field: string; view: View; via: 'grant' | 'break_glass' }[];
  findings: Finding[];
  /** Who may do what outside the read path: each role with the actions it holds (`permissions:`). */
  permissions: { role: string; actions: string[] }[];
}

/** Roles that administer the system; a grant to them is reported (administrators read no PI by default). */
export const ADMIN_ROLES: readonly string[] = ['admin'];

function hhmm(m: number): string {
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

function visible(fv: FieldViews): { field: string; view: Exclude<View, 'deny'> }[] {
  const out: { field: string; view: Exclude<View, 'deny'> }[] = [];
  for (const [field, view] of [...fv.views].sort(([a], [b]) => a.localeCompare(b))) {
    if (view !== 'deny') out.push({ field, view });
  }
  if (fv.defaultView !== 'deny') out.push({ field: '*', view: fv.defaultView });
  return out;
}

export function review(
  policy: CompiledPolicy,
  usage: readonly GrantUsage[],
  period: { since: string; until: string },
): AccessReview {
  const last = new Map<string, string>();
  for (const u of usage) {
    if (u.lastUsed < period.since) continue;
    const k = `${u.role}\0${u.purpose}\0${u.field}\0${u.view}\0${u.via}`;
    const prev = last.get(k);
    if (!prev || prev < u.lastUsed) last.set(k, u.lastUsed);
  }
  const grants: ReviewedGrant[] = [];
  const unused: AccessReview['unused'] = [];
  const findings: Finding[] = [];
  const sorted = [...policy.grants].sort(
    (a, b) => a.role.localeCompare(b.role) || a.purpose.localeCompare(b.purpose),
  );
  for (const g of sorted) {
    const purpose = policy.purposes.get(g.purpose)!;
    const fields: ReviewedField[] = [];
    const add = (fv: FieldViews, via: ReviewedField['via']) => {
      for (const { field, view } of visible(fv)) {
        const lastUsed = last.get(`${g.role}\0${g.purpose}\0${field}\0${view}\0${via}`) ?? null;
        fields.push({ field, view, via, lastUsed, used: lastUsed !== null });
        if (lastUsed === null) unused.push({ role: g.role, purpose: g.purpose, field, view, via });
      }
    };
    add(g, 'grant');
    if (g.breakGlass) add(g.breakGlass, 'break_glass');
    const grantUnused = fields.length > 0 && fields.every((f) => !f.used);
    grants.push({
      role: g.role,
      purpose: g.purpose,
      basis: purpose.basis,
      necessary: purpose.necessary,
      conditions: conditionsOf(g),
      fields,
      unused: grantUnused,
    });
    if (grantUnused) findings.push({ code: 'UNUSED_GRANT', role: g.role, purpose: g.purpose });
    if (g.consentWaived) findings.push({ code: 'CONSENT_NOT_CHECKED', role: g.role, purpose: g.purpose });
    if (ADMIN_ROLES.includes(g.role) && fields.length > 0) {
      findings.push({ code: 'ADMIN_READS_PI', role: g.role, purpose: g.purpose });
    }
    if (!g.assignment && !g.quota && !g.approval) {
      for (const f of fields) {
        if (f.view === 'plain' && f.via === 'grant') {
          findings.push({ code: 'PLAIN_WITHOUT_LIMITS', role: g.role, purpose: g.purpose, field: f.field });
        }
      }
    }
  }
  return {
    policy: { name: policy.name, version: policy.version, hash: policy.hash },
    since: period.since,
    until: period.until,
    grants,
    unused,
    findings,
    permissions: [...permissionsByRole(policy)].map(([role, actions]) => ({ role, actions })),
  };
}

function conditionsOf(g: CompiledGrant): ReviewedGrant['conditions'] {
  return {
    assignment: g.assignment,
    approval: g.approval,
    consent: g.consent,
    quota: g.quota ? { daily: g.quota.daily, approvalUnlocks: g.quota.approvalUnlocks } : null,
    hours: g.hours ? { from: hhmm(g.hours.from), to: hhmm(g.hours.to) } : null,
    attributes: g.attributes ? Object.fromEntries([...g.attributes].map(([k, v]) => [k, [...v]])) : null,
  };
}
