/*
 * Threats: (1) a disclosure that leaves unmarked (no canaries configured), which would make a leak
 * of that copy untraceable; (2) a canary that shares a mobile, e-mail or ID number with a real
 * subject or an earlier canary, so that a call to it would be ambiguous (two exports named, or a
 * real customer's contact taken for a trip) and a buyer could spot it as a duplicate.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deriveKey } from '../../src/lib/crypto/index.js';
import { Rng, randomIdentity, streamKey } from '../../src/lib/synthetic/index.js';
import { createCanaries } from '../../src/modules/disclosure/index.js';
import { openSubjectsFields } from '../../src/modules/vault/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { canaryVaultOf, disclosureSetup, OFFICER } from './fixtures.js';

describeEachDialect('canary uniqueness', (dialect) => {
  let s: Awaited<ReturnType<typeof disclosureSetup>>;

  beforeAll(async () => {
    s = await disclosureSetup(dialect);
  });
  afterAll(async () => s.d.destroy());

  // A seeded source makes the first draw known in advance; production uses the CSPRNG.
  const key = streamKey('canary-uniqueness', 'draws');
  const companyKey = () =>
    streamKey(deriveKey(s.keyring, 'canaries/companies/v1').toString('hex'), 'company');
  const canariesWith = (random: Rng) =>
    createCanaries({
      db: s.d.db,
      clock: s.clock,
      keyring: s.keyring,
      record: s.record,
      detect: s.detect,
      vault: canaryVaultOf(s.vault),
      config: {},
      random,
    });

  it('a draw that collides with a subject or an earlier canary is drawn again', async () => {
    const first = randomIdentity(new Rng(key, 0), companyKey());
    // A real subject already holds the first draw's mobile.
    const [held] = await s.d.db
      .transaction()
      .execute((trx) =>
        s.vault.createMany([{ externalId: 'X1', fields: { name: '王伟', mobile: first.mobile } }], { trx }),
      );
    const a = await canariesWith(new Rng(key, 0)).plantPortfolioCanaries('act_a', 1);
    const va = (await openSubjectsFields(s.vault, s.d.db, a, ['mobile', 'id_number'])).values.get(a[0]!)!;
    expect(va.mobile).not.toBe(first.mobile);
    expect(held).toBeDefined();
    // The same seeded sequence again: its second draw is now an earlier canary's, so it is skipped.
    const b = await canariesWith(new Rng(key, 0)).plantPortfolioCanaries('act_b', 1);
    const vb = (await openSubjectsFields(s.vault, s.d.db, b, ['mobile', 'id_number'])).values.get(b[0]!)!;
    expect([vb.mobile, vb.id_number]).not.toContain(va.mobile);
    expect(vb.mobile).not.toBe(va.mobile);
    expect(vb.mobile).not.toBe(first.mobile);
    expect(vb.id_number).not.toBe(va.id_number);
    expect(await s.disclosure.canaries.count()).toBe(2);
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
