import type { Principal } from '../../lib/principal.js';
import { type CompiledGrant, type CompiledPolicy, VIEW_RANK } from './compile.js';
import { withinHours } from './localtime.js';
import type { View } from './schema.js';

/**
 * The decision engine: pure (no I/O, no clock), over a compiled policy and a context the caller
 * gathered (assignment, quota counts, approval, consent). Default deny: no grant for the actor's
 * roles and the purpose, or no condition-passing grant, or no visible field, is a denial.
 *
 * Semantics, in order:
 * - The grants considered are those of the principal's roles for the purpose (one per role).
 * - Break-glass (a reason of at least BREAK_GLASS_MIN_REASON characters) uses only grants that
 *   declare `break_glass`; it bypasses assignment, hours, quota and approval, never attributes or
 *   consent; the view of each field is the better of the grant's and the break-glass view; it
 *   always carries the obligation `alert:break_glass`.
 * - Otherwise each grant's conditions are checked (all of them, so the reasons are complete).
 *   Grants that pass without using an approval win; only when none does are grants that pass
 *   thanks to an approval used (and the approval is then consumed, once per new subject).
 * - A field's view is the best (deny < masked < token < plain) among the winning grants.
 */
export type { View };

export const REASONS = [
  'UNKNOWN_PURPOSE',
  'NO_GRANT',
  'ATTRIBUTE_MISMATCH',
  'ASSIGNMENT_REQUIRED',
  'OUTSIDE_HOURS',
  'CONSENT_REQUIRED',
  'APPROVAL_REQUIRED',
  'QUOTA_EXCEEDED',
  'BREAK_GLASS_NOT_ALLOWED',
  'BREAK_GLASS_REASON_REQUIRED',
  'FIELDS_DENIED',
  'TOKEN_REQUIRED',
  // Informational, on allowed decisions:
  'BREAK_GLASS',
  'APPROVAL_USED',
] as const;
export type ReasonCode = (typeof REASONS)[number];

export const OBLIGATIONS = ['count_quota', 'consume_approval', 'alert:break_glass'] as const;
export type Obligation = (typeof OBLIGATIONS)[number];

export const BREAK_GLASS_MIN_REASON = 10;

export interface ApprovalContext {
  id: string;
  /** Subjects the approval still covers; null when it is limited by time only. */
  remaining: number | null;
  expiresAt: Date;
}

export interface DecisionContext {
  at: Date;
  /** The actor is assigned the subject at `at`. */
  assigned: boolean;
  /** Distinct subjects this actor read for this purpose today (policy time zone), not counting this one. */
  usedToday: number;
  /** This actor already read this subject for this purpose today (a re-read uses no quota). */
  alreadyReadToday: boolean;
  /** A granted, unexpired approval of this actor for this purpose, if any. */
  approval?: ApprovalContext | undefined;
  breakGlass?: { reason: string } | undefined;
  /** The subject's consent for the purpose (and recipient); undefined counts as no consent. */
  consent?: boolean | undefined;
  /**
   * The read resolves a contact token (set by the access module's token path only). A `token_only`
   * grant passes only then: its holder can never read by subject id.
   */
  viaToken?: boolean | undefined;
}

export interface DecisionInput {
  principal: Pick<Principal, 'id' | 'roles' | 'attributes'>;
  purpose: string;
  subjectId: string;
  fields: readonly string[];
  context: DecisionContext;
}

/** One (role, purpose, field, view) grant a decision relied on; `field` is the policy key ("*" or the field). */
export interface GrantUse {
  role: string;
  field: string;
  view: View;
  via: 'grant' | 'break_glass';
}

export interface Decision {
  allowed: boolean;
  /** One entry per requested field. */
  views: Record<string, View>;
  /** Stable codes: why it was denied (all failing conditions), or BREAK_GLASS / APPROVAL_USED. */
  reasons: ReasonCode[];
  obligations: Obligation[];
  purpose: string;
  policy: { version: string; hash: string };
  /** Set with `count_quota`: the limit (null when an approval lifted it) and the count before this read. */
  quota?: { limit: number | null; used: number };
  /** The approval the decision relied on. */
  approvalId?: string;
  /** A denial that an approval would lift: the actor may request one. */
  remedy?: 'request_approval';
  /** The grants relied on, for the access review (empty when denied). */
  uses: GrantUse[];
}

interface Check {
  grant: CompiledGrant;
  failures: ReasonCode[];
  /** Passed only thanks to the approval. */
  usedApproval: boolean;
  /** Would pass with an approval. */
  approvable: boolean;
}

/**
 * Field names come from callers: "__proto__" must become an own property, not the prototype. A
 * plain object stays in V8's fast mode (a null-prototype one does not, and costs microseconds).
 */
function setView(views: Record<string, View>, field: string, view: View): void {
  if (field === '__proto__') {
    Object.defineProperty(views, field, {
      value: view,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else views[field] = view;
}

function emptyViews(fields: readonly string[]): Record<string, View> {
  const views: Record<string, View> = {};
  for (const f of fields) setView(views, f, 'deny');
  return views;
}

function denial(
  policy: CompiledPolicy,
  input: DecisionInput,
  reasons: ReasonCode[],
  remedy?: boolean,
): Decision {
  const d: Decision = {
    allowed: false,
    views: emptyViews(input.fields),
    reasons: sortReasons(reasons),
    obligations: [],
    purpose: input.purpose,
    policy: { version: policy.version, hash: policy.hash },
    uses: [],
  };
  if (remedy) d.remedy = 'request_approval';
  return d;
}

const REASON_ORDER = new Map<ReasonCode, number>(REASONS.map((r, i) => [r, i]));
function sortReasons(rs: ReasonCode[]): ReasonCode[] {
  return [...new Set(rs)].sort((a, b) => REASON_ORDER.get(a)! - REASON_ORDER.get(b)!);
}

function attributesMatch(g: CompiledGrant, attrs: Readonly<Record<string, string>>): boolean {
  if (!g.attributes) return true;
  for (const [k, allowed] of g.attributes) {
    const v = Object.hasOwn(attrs, k) ? attrs[k] : undefined;
    if (v === undefined || !allowed.has(v)) return false;
  }
  return true;
}

function approvalValid(ctx: DecisionContext): boolean {
  const a = ctx.approval;
  if (!a) return false;
  if (a.expiresAt.getTime() <= ctx.at.getTime()) return false;
  // A re-read of a subject already read today costs the approval nothing.
  return a.remaining === null || a.remaining > 0 || ctx.alreadyReadToday;
}

function check(policy: CompiledPolicy, g: CompiledGrant, input: DecisionInput, hasApproval: boolean): Check {
  const ctx = input.context;
  const failures: ReasonCode[] = [];
  let usedApproval = false;
  let needsApproval = false;
  if (!attributesMatch(g, input.principal.attributes)) failures.push('ATTRIBUTE_MISMATCH');
  if (g.tokenOnly && ctx.viaToken !== true) failures.push('TOKEN_REQUIRED');
  if (g.assignment && !ctx.assigned) failures.push('ASSIGNMENT_REQUIRED');
  if (g.hours && !withinHours(policy.local.minuteOfDay(ctx.at), g.hours.from, g.hours.to)) {
    failures.push('OUTSIDE_HOURS');
  }
  if (g.consent && ctx.consent !== true) failures.push('CONSENT_REQUIRED');
  const hardFailures = failures.length;
  if (g.approval) {
    needsApproval = true;
    if (hasApproval) usedApproval = true;
    else failures.push('APPROVAL_REQUIRED');
  }
  let quotaLocked = false;
  if (g.quota && !ctx.alreadyReadToday && ctx.usedToday >= g.quota.daily) {
    if (g.quota.approvalUnlocks) {
      needsApproval = true;
      if (hasApproval) usedApproval = true;
      else failures.push('QUOTA_EXCEEDED');
    } else {
      quotaLocked = true;
      failures.push('QUOTA_EXCEEDED');
    }
  }
  return {
    grant: g,
    failures,
    usedApproval: usedApproval && failures.length === 0,
    approvable: !hasApproval && needsApproval && hardFailures === 0 && !quotaLocked,
  };
}

function bestViews(
  input: DecisionInput,
  grants: readonly CompiledGrant[],
  breakGlass: boolean,
): { views: Record<string, View>; uses: GrantUse[]; visible: number } {
  const views: Record<string, View> = {};
  const uses: GrantUse[] = [];
  let visible = 0;
  for (const field of input.fields) {
    let best: View = 'deny';
    let rank = 0;
    let role = '';
    let key = '';
    let via: GrantUse['via'] = 'grant';
    for (const g of grants) {
      let named = g.views.get(field);
      let v = named ?? g.defaultView;
      if (VIEW_RANK[v] > rank) {
        best = v;
        rank = VIEW_RANK[v];
        role = g.role;
        key = named === undefined ? '*' : field;
        via = 'grant';
      }
      if (breakGlass && g.breakGlass) {
        named = g.breakGlass.views.get(field);
        v = named ?? g.breakGlass.defaultView;
        if (VIEW_RANK[v] > rank) {
          best = v;
          rank = VIEW_RANK[v];
          role = g.role;
          key = named === undefined ? '*' : field;
          via = 'break_glass';
        }
      }
    }
    setView(views, field, best);
    if (rank > 0) {
      visible++;
      // Few distinct uses per decision: a linear scan beats hashing a composite key.
      let seen = false;
      for (const u of uses) {
        if (u.role === role && u.field === key && u.view === best && u.via === via) {
          seen = true;
          break;
        }
      }
      if (!seen) uses.push({ role, field: key, view: best, via });
    }
  }
  return { views, uses, visible };
}

export function decide(policy: CompiledPolicy, input: DecisionInput): Decision {
  const { principal, purpose, context } = input;
  if (!policy.purposes.has(purpose)) return denial(policy, input, ['UNKNOWN_PURPOSE']);
  const forPurpose = policy.byPurpose.get(purpose);
  const grants: CompiledGrant[] = [];
  if (forPurpose) {
    for (const role of principal.roles) {
      const g = forPurpose.get(role);
      if (g && !grants.includes(g)) grants.push(g);
    }
  }
  if (grants.length === 0) return denial(policy, input, ['NO_GRANT']);

  if (context.breakGlass) return breakGlass(policy, input, grants);

  const hasApproval = approvalValid(context);
  const free: CompiledGrant[] = [];
  const viaApproval: CompiledGrant[] = [];
  const reasons: ReasonCode[] = [];
  let approvable = false;
  for (const g of grants) {
    const c = check(policy, g, input, hasApproval);
    if (c.failures.length === 0) (c.usedApproval ? viaApproval : free).push(g);
    else reasons.push(...c.failures);
    if (c.approvable) approvable = true;
  }
  const winners = free.length > 0 ? free : viaApproval;
  if (winners.length === 0) return denial(policy, input, reasons, approvable);
  const usingApproval = free.length === 0;

  const { views, uses, visible } = bestViews(input, winners, false);
  if (visible === 0) return denial(policy, input, ['FIELDS_DENIED']);

  const decision: Decision = {
    allowed: true,
    views,
    reasons: [],
    obligations: [],
    purpose,
    policy: { version: policy.version, hash: policy.hash },
    uses,
  };
  // Quota counting applies when every winning grant is quota-bound; the most generous limit holds
  // (each winning grant justifies the read on its own). An approval that got past the quota lifts it.
  let limit = 0;
  let quotaBound = true;
  for (const g of winners) {
    if (!g.quota) quotaBound = false;
    else limit = Math.max(limit, g.quota.daily);
  }
  if (quotaBound) {
    decision.obligations.push('count_quota');
    const overQuota = !context.alreadyReadToday && context.usedToday >= limit;
    decision.quota = { limit: usingApproval && overQuota ? null : limit, used: context.usedToday };
  }
  if (usingApproval && context.approval) {
    decision.reasons.push('APPROVAL_USED');
    decision.approvalId = context.approval.id;
    if (context.approval.remaining !== null && !context.alreadyReadToday) {
      decision.obligations.push('consume_approval');
    }
  }
  return decision;
}

function breakGlass(
  policy: CompiledPolicy,
  input: DecisionInput,
  grants: readonly CompiledGrant[],
): Decision {
  const reason = input.context.breakGlass?.reason.trim() ?? '';
  if (reason.length < BREAK_GLASS_MIN_REASON) return denial(policy, input, ['BREAK_GLASS_REASON_REQUIRED']);
  const eligible = grants.filter((g) => g.breakGlass);
  if (eligible.length === 0) return denial(policy, input, ['BREAK_GLASS_NOT_ALLOWED']);
  const winners: CompiledGrant[] = [];
  const reasons: ReasonCode[] = [];
  for (const g of eligible) {
    const failures: ReasonCode[] = [];
    if (!attributesMatch(g, input.principal.attributes)) failures.push('ATTRIBUTE_MISMATCH');
    if (g.tokenOnly && input.context.viaToken !== true) failures.push('TOKEN_REQUIRED');
    if (g.consent && input.context.consent !== true) failures.push('CONSENT_REQUIRED');
    if (failures.length === 0) winners.push(g);
    else reasons.push(...failures);
  }
  if (winners.length === 0) return denial(policy, input, reasons);
  const { views, uses, visible } = bestViews(input, winners, true);
  if (visible === 0) return denial(policy, input, ['FIELDS_DENIED']);
  return {
    allowed: true,
    views,
    reasons: ['BREAK_GLASS'],
    obligations: ['alert:break_glass'],
    purpose: input.purpose,
    policy: { version: policy.version, hash: policy.hash },
    uses,
  };
}
