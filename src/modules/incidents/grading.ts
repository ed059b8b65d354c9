/**
 * Grades and legal clocks, as pure functions of the incident's facts and a set of rules. The
 * defaults are ../shared/REGULATION.md's figures; every one is configuration, since some are marked
 * "to confirm" there.
 *
 * - CAC incident-reporting measures (in force 2025-11-01): a leak touching 1,000,000 people or more
 *   is at least "relatively major" (较大); 10,000,000 "major" (重大); 100,000,000 "especially major"
 *   (特别重大). Relatively major and above: report to the provincial CAC within 4 hours (1 hour for
 *   critical information infrastructure); a final report within 30 days of the end of handling.
 * - GDPR art. 33(1): the supervisory authority within 72 hours of becoming aware; art. 34: the
 *   individuals without undue delay when the risk to them is high (here a configurable target).
 */
export const GRADES = ['general', 'relatively_major', 'major', 'especially_major'] as const;
export type Grade = (typeof GRADES)[number];

export const CLOCKS = ['cac_initial', 'gdpr_authority', 'gdpr_individuals', 'cac_final'] as const;
export type ClockName = (typeof CLOCKS)[number];

export interface IncidentRules {
  /** Affected people at or above which each grade applies. */
  thresholds: { relatively_major: number; major: number; especially_major: number };
  /** CAC initial report, hours from awareness, for relatively major and above. */
  cacInitialHours: number;
  /** The same for critical information infrastructure operators. */
  cacInitialHoursCritical: number;
  /** CAC final report, days from the end of handling. */
  cacFinalDays: number;
  /** GDPR art. 33: hours from awareness to the supervisory authority. */
  gdprAuthorityHours: number;
  /** GDPR art. 34 "without undue delay" when the risk is high: the organisation's own target. */
  individualsHours: number;
  /** A clock warns once this fraction of its span or less is left. */
  warnFraction: number;
}

export const DEFAULT_RULES: IncidentRules = {
  thresholds: { relatively_major: 1_000_000, major: 10_000_000, especially_major: 100_000_000 },
  cacInitialHours: 4,
  cacInitialHoursCritical: 1,
  cacFinalDays: 30,
  gdprAuthorityHours: 72,
  individualsHours: 72,
  warnFraction: 0.25,
};

export function rulesWith(patch: Partial<IncidentRules> = {}): IncidentRules {
  return {
    ...DEFAULT_RULES,
    ...patch,
    thresholds: { ...DEFAULT_RULES.thresholds, ...(patch.thresholds ?? {}) },
  };
}

const rank = (g: Grade) => GRADES.indexOf(g);
export const maxGrade = (a: Grade, b: Grade): Grade => (rank(a) >= rank(b) ? a : b);

/** The grade the affected count alone gives ("at least": a person may raise it, never lower it). */
export function gradeFor(affected: number, rules: IncidentRules = DEFAULT_RULES): Grade {
  const t = rules.thresholds;
  if (affected >= t.especially_major) return 'especially_major';
  if (affected >= t.major) return 'major';
  if (affected >= t.relatively_major) return 'relatively_major';
  return 'general';
}

export interface ClockFacts {
  awareAt: string;
  grade: Grade;
  criticalInfrastructure: boolean;
  highRisk: boolean;
  handledAt: string | null;
}

export interface PlannedClock {
  name: ClockName;
  startedAt: string;
  dueAt: string;
  warnAt: string;
}

const HOUR = 3_600_000;

function plan(name: ClockName, start: string, spanMs: number, rules: IncidentRules): PlannedClock {
  const s = Date.parse(start);
  return {
    name,
    startedAt: start,
    dueAt: new Date(s + spanMs).toISOString(),
    warnAt: new Date(s + Math.round(spanMs * (1 - rules.warnFraction))).toISOString(),
  };
}

/** Which clocks run for these facts, and when each is due. */
export function planClocks(f: ClockFacts, rules: IncidentRules = DEFAULT_RULES): PlannedClock[] {
  const out: PlannedClock[] = [];
  if (rank(f.grade) >= rank('relatively_major')) {
    const h = f.criticalInfrastructure ? rules.cacInitialHoursCritical : rules.cacInitialHours;
    out.push(plan('cac_initial', f.awareAt, h * HOUR, rules));
  }
  out.push(plan('gdpr_authority', f.awareAt, rules.gdprAuthorityHours * HOUR, rules));
  if (f.highRisk) out.push(plan('gdpr_individuals', f.awareAt, rules.individualsHours * HOUR, rules));
  if (f.handledAt && rank(f.grade) >= rank('relatively_major'))
    out.push(plan('cac_final', f.handledAt, rules.cacFinalDays * 24 * HOUR, rules));
  return out;
}

export type ClockStatus = 'running' | 'warning' | 'breached' | 'met' | 'met_late' | 'stopped';

export interface ClockState {
  name: ClockName;
  startedAt: string;
  dueAt: string;
  warnAt: string;
  metAt: string | null;
  stoppedReason: string | null;
  status: ClockStatus;
  /** Milliseconds to the deadline (negative once past); at the moment it was met, when met. */
  leftMs: number;
}

export function clockState(
  c: PlannedClock & { metAt: string | null; stoppedReason?: string | null },
  now: Date,
): ClockState {
  const due = Date.parse(c.dueAt);
  const base = { ...c, metAt: c.metAt, stoppedReason: c.stoppedReason ?? null };
  if (c.stoppedReason) return { ...base, status: 'stopped', leftMs: due - now.getTime() };
  if (c.metAt) {
    const left = due - Date.parse(c.metAt);
    return { ...base, status: left >= 0 ? 'met' : 'met_late', leftMs: left };
  }
  const t = now.getTime();
  const status: ClockStatus = t >= due ? 'breached' : t >= Date.parse(c.warnAt) ? 'warning' : 'running';
  return { ...base, status, leftMs: due - t };
}

export function formatLeft(ms: number): string {
  const neg = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  const txt = d > 0 ? `${d}d ${h}h ${m}m` : `${h}h ${m}m`;
  return neg ? `${txt} overdue` : `${txt} left`;
}
