/*
 * Threat: a disclosure that leaves unmarked (no canary configured, or the monitored range used up),
 * which would make a leak of that copy untraceable.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../helpers/db.js';
import { disclosureSetup, OFFICER } from './fixtures.js';

describeEachDialect('canary pool limits', (dialect) => {
  let s: Awaited<ReturnType<typeof disclosureSetup>>;

  beforeAll(async () => {
    // Five monitored numbers in all.
    s = await disclosureSetup(dialect, {
      canaries: { mobilePool: { ranges: [['17000000000', '17000000004']] } },
    });
  });
  afterAll(async () => s.d.destroy());

  it('plants up to the size of the monitored range, then refuses', async () => {
    const got = await s.disclosure.canaries.plantPortfolioCanaries('act_a', 5);
    expect(new Set(got).size).toBe(5);
    await expect(s.disclosure.canaries.plantPortfolioCanaries('act_b', 1)).rejects.toMatchObject({
      code: 'CANARY_POOL_EXHAUSTED',
    });
    expect(await s.disclosure.canaries.count()).toBe(5);
  });

  it('no canaries configured, no disclosure', async () => {
    const bare = s.make({ canaries: undefined });
    await expect(
      bare.create(
        {
          recipientId: 'rcp_x',
          purpose: 'partner_referral',
          fields: ['name'],
          subjectIds: ['sub_x'],
          format: 'csv',
        },
        OFFICER,
      ),
    ).rejects.toMatchObject({ code: 'CANARY_NOT_CONFIGURED' });
  });
});
