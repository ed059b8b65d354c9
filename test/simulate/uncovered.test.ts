/*
 * Scenarios complaint-li-ming and bulk-scrape-2020 (shared/SCENARIOS.md; seed 004) through the CLI
 * entry point: what exists is checked, what is not built yet (complaint workflow, portal, anomaly
 * detection, suspension, incidents) is reported "not covered" — a run must never pass them silently.
 *
 * Threat: a simulation that reports protection the product does not have.
 */
import { afterEach, expect, it, vi } from 'vitest';
import type { ScenarioReport } from '../../src/app/simulate/index.js';
import { enabledDialects } from '../helpers/db.js';
import { check, cliOnSqlite, failures, SCENARIO_TIMEOUT, simulate } from './helpers.js';

const sqlite = enabledDialects().includes('sqlite');

afterEach(() => {
  vi.restoreAllMocks();
});

it.runIf(sqlite)(
  'complaint-li-ming: the investigation lists readers and recipients with proofs; the workflow is not covered',
  async () => {
    const r = await simulate('sqlite', 'complaint-li-ming', { subjects: 300, days: 2 });
    expect(failures(r)).toEqual([]);
    expect(check(r, 'every actor and recipient').status).toBe('held');
    expect(check(r, 'verify independently').status).toBe('held');
    expect(check(r, 'cannot be closed by staff alone').status).toBe('not_covered');
    expect(check(r, 'escalate to the regulator').status).toBe('not_covered');
    expect(r.summary.notCovered).toBeGreaterThanOrEqual(3);
  },
  SCENARIO_TIMEOUT,
);

it.runIf(sqlite)(
  'bulk-scrape-2020 via `custodian simulate --json`: rate limit and ledger scope hold; detector and suspension not covered',
  async () => {
    const { code, out } = await cliOnSqlite([
      'simulate',
      '--scenario',
      'bulk-scrape-2020',
      '--subjects',
      '300',
      '--json',
    ]);
    const r = JSON.parse(out) as ScenarioReport;
    expect(failures(r)).toEqual([]);
    expect(code).toBe(0);
    expect(r.scenario).toBe('bulk-scrape-2020');
    expect(check(r, 'rate limits stop the account').status).toBe('held');
    expect(check(r, 'exactly the records read').status).toBe('held');
    expect(check(r, 'the detector stops the account').status).toBe('not_covered');
    expect(check(r, 'the account is suspended').status).toBe('not_covered');
  },
  SCENARIO_TIMEOUT,
);
