/*
 * Scenario partner-without-consent-2019 (shared/SCENARIOS.md; seeds 000, 001), end to end against a
 * fresh deployment on each dialect, through the HTTP API.
 *
 * Threat: provision of customers to a distributor without the separate consent PIPL art. 23
 * requires — silently, or by trimming the list behind the caller's back; a copy that cannot be
 * traced to its recipient and releasing employee; the file handed to the employee instead of the
 * recipient; a recipient that keeps a record after the customer withdrew.
 */
import { expect, it } from 'vitest';
import { describeEachDialect } from '../helpers/db.js';
import { check, failures, SCENARIO_TIMEOUT, simulate } from './helpers.js';

describeEachDialect('simulate partner-without-consent-2019', (dialect) => {
  it(
    'refuses with a count, records the consented export per customer with canaries, honours a withdrawal',
    async () => {
      const r = await simulate(dialect, 'partner-without-consent-2019', { subjects: 400 });
      expect(failures(r)).toEqual([]);
      expect(r.summary).toMatchObject({ failed: 0, notCovered: 0 });
      const refused = check(r, 'is refused, naming how many');
      expect(refused.status).toBe('held');
      expect(refused.evidence?.missing).toBeGreaterThan(0);
      expect(refused.evidence?.leaf).toMatch(/^[0-9a-f]{64}$/);
      expect(check(r, 'recorded as a disclosure per customer').status).toBe('held');
      expect(check(r, 'never to the employee who released it').status).toBe('held');
      expect(check(r, 'canaries unique to that recipient and export').status).toBe('held');
      expect(check(r, 'names that export, the recipient and the releasing employee').status).toBe('held');
      expect(check(r, 'after a withdrawal').status).toBe('held');
    },
    SCENARIO_TIMEOUT,
  );
});
