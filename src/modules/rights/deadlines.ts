import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { rightsError } from './rights.errors.js';

/**
 * Deadlines of rights requests and complaints, per jurisdiction. Pure functions of the recorded
 * times, so every rule is tested with a fixed clock.
 *
 * - CN: PIPL arts. 44–50 say "promptly" (及时); GB/T 35273-2020 §8.7 uses 30 days (to confirm), the
 *   default here, with no extension. Complaints: 15 days (to confirm). Both are configuration.
 * - EU: GDPR art. 12(3): one month from receipt, extendable by two further months where necessary
 *   (the subject is told why within the first month). A month ends on the same date of the next
 *   month, or its last day when there is none (Regulation 1182/71 art. 3(2)(c)).
 * - A pause (waiting for the subject: identity, a missing detail) stops the clock; resuming adds
 *   the paused time to the due date.
 */
const PeriodSchema = z.strictObject({
  months: z.number().int().min(0).max(24).optional(),
  days: z.number().int().min(0).max(730).optional(),
});
export type Period = z.infer<typeof PeriodSchema>;

const RuleSchema = z.strictObject({
  period: PeriodSchema,
  /** One extension of this length, or none (null). */
  extension: PeriodSchema.nullable(),
  complaintDays: z.number().int().min(1).max(365),
  regulator: z.strictObject({ name: z.string().min(1).max(200), channel: z.string().min(1).max(500) }),
  basis: z.string().min(1).max(300),
});
export type JurisdictionRule = z.infer<typeof RuleSchema>;

export const RulesSchema = z.record(z.string().regex(/^[A-Z]{2,4}$/), RuleSchema);
export type Rules = Record<string, JurisdictionRule>;

export const DEFAULT_RULES: Rules = {
  CN: {
    period: { days: 30 },
    extension: null,
    complaintDays: 15,
    regulator: {
      name: 'Cyberspace Administration of China (国家互联网信息办公室) or its provincial office',
      channel: 'Report centre 12377: telephone 12377, https://www.12377.cn',
    },
    basis: 'PIPL arts. 44–50 ("promptly"); GB/T 35273-2020 §8.7: 30 days (to confirm)',
  },
  EU: {
    period: { months: 1 },
    extension: { months: 2 },
    complaintDays: 30,
    regulator: {
      name: 'the data protection supervisory authority of your member state (GDPR art. 77)',
      channel: 'https://www.edpb.europa.eu/about-edpb/about-edpb/members_en',
    },
    basis: 'GDPR art. 12(3): one month, extendable by two further months',
  },
};

/** Default rules, with a JSON file's rules (CUSTODIAN_RIGHTS_RULES_FILE) laid over them. */
export function loadRules(file?: string): Rules {
  if (!file) return DEFAULT_RULES;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw rightsError('RIGHTS_RULES_INVALID', { cause: e });
  }
  const r = RulesSchema.safeParse(parsed);
  if (!r.success)
    throw rightsError('RIGHTS_RULES_INVALID', { details: { path: r.error.issues[0]?.path.join('.') } });
  return { ...DEFAULT_RULES, ...r.data };
}

export function ruleFor(rules: Rules, jurisdiction: string): JurisdictionRule {
  const r = rules[jurisdiction];
  if (!r) throw rightsError('RIGHTS_RULES_INVALID', { details: { jurisdiction } });
  return r;
}

const DAY_MS = 86_400_000;

/** `from` plus a period, in UTC; months clamp to the last day of a shorter month. */
export function addPeriod(from: Date, p: Period): Date {
  let t = new Date(from.getTime());
  if (p.months) {
    const y = t.getUTCFullYear();
    const m = t.getUTCMonth() + p.months;
    const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
    const d = Math.min(t.getUTCDate(), lastDay);
    t = new Date(
      Date.UTC(y, m, d, t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds(), t.getUTCMilliseconds()),
    );
  }
  if (p.days) t = new Date(t.getTime() + p.days * DAY_MS);
  return t;
}

export interface ClockState {
  receivedAt: Date;
  /** Time the clock was stopped before (completed pauses). */
  pausedMs: number;
  /** Set while paused. */
  pausedAt: Date | null;
  /** Extensions taken (0 or 1). */
  extensions: number;
}

/**
 * The due date now: receipt + period (+ the extension) + time paused. While paused the clock is
 * stopped, so the due date moves with `now`.
 */
export function dueDate(rule: JurisdictionRule, s: ClockState, now: Date): Date {
  let due = addPeriod(s.receivedAt, rule.period);
  if (s.extensions > 0 && rule.extension) due = addPeriod(due, rule.extension);
  let paused = s.pausedMs;
  if (s.pausedAt) paused += Math.max(0, now.getTime() - s.pausedAt.getTime());
  return new Date(due.getTime() + paused);
}

export function canExtend(rule: JurisdictionRule, s: ClockState): boolean {
  return rule.extension !== null && s.extensions === 0;
}

/** Complaint response deadline. */
export function complaintDue(rule: JurisdictionRule, receivedAt: Date): Date {
  return addPeriod(receivedAt, { days: rule.complaintDays });
}

/** Whole days left (negative once overdue), by UTC midnight boundaries of the instants. */
export function daysLeft(due: Date, now: Date): number {
  return Math.ceil((due.getTime() - now.getTime()) / DAY_MS);
}
