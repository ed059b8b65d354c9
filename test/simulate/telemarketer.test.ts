/*
 * Scenario telemarketer-2019 (shared/SCENARIOS.md; seeds 000, 001, 002, 004), end to end against a
 * fresh deployment on each dialect.
 *
 * Threat: an insider whose job gives him customers' contact details reads beyond his portfolio and
 * hands a list of names, numbers and companies to a distributor. Under the default policy he must
 * never see a number (masked names, contact tokens), be denied outside his portfolio, need an
 * approval past his quota, and every attempt must be in the ledger; under a lax policy the canaries
 * in his view must still name him when the distributor calls them.
 */
import { expect, it } from 'vitest';
import { describeEachDialect, enabledDialects } from '../helpers/db.js';
import { check, failures, SCENARIO_TIMEOUT, simulate } from './helpers.js';

describeEachDialect('simulate telemarketer-2019 (guarded)', (dialect) => {
  it(
    'masks, tokenises, denies outside the portfolio, gates the quota, and records every attempt',
    async () => {
      const r = await simulate(dialect, 'telemarketer-2019', { subjects: 800, days: 2 });
      expect(failures(r)).toEqual([]);
      expect(r.ok).toBe(true);
      expect(r.dialect).toBe(dialect);
      for (const claim of [
        'masked names and the phone number only as a contact token',
        'telephony integration resolves it, he cannot',
        'reading outside his portfolio is denied',
        'holds no phone number',
        'past his daily quota needs an approval',
        'every attempt is in the ledger',
      ])
        expect(check(r, claim).status).toBe('held');
      const ledger = check(r, 'every attempt is in the ledger');
      expect(ledger.evidence?.checkpointSize).toBeGreaterThan(0);
      expect(String(ledger.evidence?.root)).toMatch(/^[0-9a-f]{64}$/);
      expect(check(r, 'incident opens').status).toBe('held');
    },
    SCENARIO_TIMEOUT,
  );
});

it.runIf(enabledDialects().includes('sqlite'))(
  'telemarketer-2019 (lax): the reads succeed until detection stops him, an alert and the trace name him, the canaries name him outright',
  async () => {
    const r = await simulate('sqlite', 'telemarketer-2019', { subjects: 800, days: 2, policy: 'lax' });
    expect(failures(r)).toEqual([]);
    expect(check(r, 'out-of-portfolio reads succeed').status).toBe('held');
    const canary = check(r, 'which trips them and names him outright');
    expect(canary.status).toBe('held');
    expect((canary.evidence?.alerts as string[] | undefined)?.length).toBeGreaterThan(0);
    expect(check(r, 'access history names him').status).toBe('held');
    // Each complainant finds the read in his own portal history, which verifies as complete.
    const portal = check(r, 'can see in the portal who read their record');
    expect(portal.status).toBe('held');
    expect(portal.evidence?.seen).toBe(portal.evidence?.complainants);
    expect(check(r, 'an alert names him the same day').status).toBe('held');
    expect(check(r, 'ranks him first').status).toBe('held');
    expect(check(r, 'the trace from the canary trips names him outright').status).toBe('held');
  },
  SCENARIO_TIMEOUT,
);
