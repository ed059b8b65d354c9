/*
 * Scenario over-broad-permissions-2019 (shared/SCENARIOS.md; seed 004), on each dialect.
 *
 * Threat: a role keeps a grant its job does not need (the code-hosting permission mistake) because
 * nobody can see what each role is allowed or which grants are never used.
 */
import { expect, it } from 'vitest';
import { describeEachDialect } from '../helpers/db.js';
import { check, failures, SCENARIO_TIMEOUT, simulate } from './helpers.js';

describeEachDialect('simulate over-broad-permissions-2019', (dialect) => {
  it(
    'the review shows fields and views per role and purpose, flags the grant unused for 30 days, and it can be withdrawn',
    async () => {
      // Three days of workload inside the 30-day window are enough: the grant was used 40 days before.
      const r = await simulate(dialect, 'over-broad-permissions-2019', { subjects: 300, days: 3 });
      expect(failures(r)).toEqual([]);
      expect(check(r, 'which fields it can see and how').status).toBe('held');
      const unused = check(r, 'unused in the last 30 days');
      expect(unused.status).toBe('held');
      expect(unused.evidence?.findings).toEqual(expect.arrayContaining(['UNUSED_GRANT:support/billing']));
      expect(check(r, 'once withdrawn').status).toBe('held');
    },
    SCENARIO_TIMEOUT,
  );
});
