/*
 * Scenarios complaint-li-ming and bulk-scrape-2020 (shared/SCENARIOS.md; seed 004) through the CLI
 * entry point: what exists is checked, and what a scenario does not exercise is reported "not
 * covered" — a run must never pass it silently.
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
  'complaint-li-ming: the investigation lists readers and recipients with proofs; staff cannot close the complaint; he is told how to escalate',
  async () => {
    const r = await simulate('sqlite', 'complaint-li-ming', { subjects: 300, days: 2 });
    expect(failures(r)).toEqual([]);
    expect(check(r, 'every actor and recipient').status).toBe('held');
    expect(check(r, 'verify independently').status).toBe('held');
    expect(check(r, 'cannot be closed by staff alone').status).toBe('held');
    expect(check(r, 'escalate to the regulator').status).toBe('held');
    // Tracing the callers to their source is not part of this scenario's run: said so, not passed.
    expect(check(r, 'traced to their source').status).toBe('not_covered');
  },
  SCENARIO_TIMEOUT,
);

it.runIf(sqlite)(
  'bulk-scrape-2020 via `custodian simulate --json`: rate limit and ledger scope hold; the detector flags and suspends the account',
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
    expect(check(r, 'the detector flags the account').status).toBe('held');
    expect(check(r, 'the account is suspended').status).toBe('held');
  },
  SCENARIO_TIMEOUT,
);
