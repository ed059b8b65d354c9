/**
 * What a scenario run reports: each expectation of ../shared/SCENARIOS.md as a check that held,
 * failed, or is not covered by what Custodian has built so far. A capability that does not exist
 * is reported as "not covered", never simulated: the report says what the product does, not what
 * the scenario hopes for.
 */
export type CheckStatus = 'held' | 'failed' | 'not_covered';

/** prevented: the harm did not happen; detected: someone was told; traced: evidence points to who; recorded: evidence exists. */
export type Aspect = 'prevented' | 'detected' | 'traced' | 'recorded';

export type Evidence = Record<string, string | number | boolean | null | readonly (string | number)[]>;

export interface Check {
  aspect: Aspect;
  claim: string;
  status: CheckStatus;
  /** What was observed (counts, codes), or why it is not covered. */
  detail: string;
  /** Ledger indexes and leaf hashes, alert ids, disclosure ids, counts. Never PI. */
  evidence?: Evidence;
}

export interface ScenarioReport {
  scenario: string;
  title: string;
  policy: 'guarded' | 'lax';
  seed: string;
  subjects: number;
  days: number;
  dialect: 'sqlite' | 'postgres';
  database: string;
  dataDir: string;
  kept: boolean;
  /** The simulated period (the instance runs on a simulated clock). */
  simulated: { from: string; to: string };
  elapsedMs: number;
  organisation: Record<string, number>;
  /** Figures beyond the checks (detection: recall, false alerts, per-pattern times). */
  figures?: Record<string, unknown>;
  checks: Check[];
  summary: { held: number; failed: number; notCovered: number };
  /** Every covered expectation held. */
  ok: boolean;
}

export class Checks {
  readonly list: Check[] = [];

  held(aspect: Aspect, claim: string, detail: string, evidence?: Evidence): void {
    this.list.push({ aspect, claim, status: 'held', detail, ...(evidence ? { evidence } : {}) });
  }

  failed(aspect: Aspect, claim: string, detail: string, evidence?: Evidence): void {
    this.list.push({ aspect, claim, status: 'failed', detail, ...(evidence ? { evidence } : {}) });
  }

  /** Held when `ok`, failed otherwise; the detail says what was observed either way. */
  expect(aspect: Aspect, claim: string, ok: boolean, detail: string, evidence?: Evidence): boolean {
    if (ok) this.held(aspect, claim, detail, evidence);
    else this.failed(aspect, claim, detail, evidence);
    return ok;
  }

  notCovered(aspect: Aspect, claim: string, why: string, evidence?: Evidence): void {
    this.list.push({ aspect, claim, status: 'not_covered', detail: why, ...(evidence ? { evidence } : {}) });
  }

  summary(): ScenarioReport['summary'] {
    const n = (s: CheckStatus) => this.list.filter((c) => c.status === s).length;
    return { held: n('held'), failed: n('failed'), notCovered: n('not_covered') };
  }
}

const MARK: Record<CheckStatus, string> = { held: 'HELD', failed: 'FAILED', not_covered: 'NOT COVERED' };
const ASPECTS: readonly Aspect[] = ['prevented', 'detected', 'traced', 'recorded'];

function evidenceLine(e: Evidence): string {
  return Object.entries(e)
    .map(([k, v]) => {
      if (Array.isArray(v)) {
        const shown = v.slice(0, 3).map(String).join(', ');
        return `${k}=[${shown}${v.length > 3 ? `, … ${v.length} in all` : ''}]`;
      }
      return `${k}=${String(v)}`;
    })
    .join('  ');
}

export function formatReport(r: ScenarioReport): string {
  const lines: string[] = [
    `scenario ${r.scenario} — ${r.title}`,
    `policy ${r.policy}, seed "${r.seed}", ${r.subjects} customers, ${r.days} day(s) simulated from ${r.simulated.from.slice(0, 10)}; ${r.database}${r.kept ? ` (kept in ${r.dataDir})` : ''}`,
    `organisation: ${Object.entries(r.organisation)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ];
  for (const aspect of ASPECTS) {
    const cs = r.checks.filter((c) => c.aspect === aspect);
    if (cs.length === 0) continue;
    lines.push('', `${aspect}:`);
    for (const c of cs) {
      lines.push(`  [${MARK[c.status]}] ${c.claim}`, `      ${c.detail}`);
      if (c.evidence && Object.keys(c.evidence).length)
        lines.push(`      evidence: ${evidenceLine(c.evidence)}`);
    }
  }
  const s = r.summary;
  lines.push(
    '',
    `${s.held} held, ${s.failed} failed, ${s.notCovered} not covered — ${r.ok ? 'every covered expectation held' : 'FAILED'} (${(r.elapsedMs / 1000).toFixed(1)} s)`,
  );
  return lines.join('\n');
}
