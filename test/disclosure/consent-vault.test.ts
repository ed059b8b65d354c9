import { afterAll, beforeAll, expect, it } from 'vitest';
import { createConsent } from '../../src/modules/consent/index.js';
import { generalNotice } from '../consent/fixtures.js';
import { describeEachDialect } from '../helpers/db.js';
import { disclosureSetup } from './fixtures.js';

// Consent wired to the real vault as the composition root wires it: imports resolve subjects by a
// blind-index lookup (the value is never stored or echoed), and unknown subjects are refused.
describeEachDialect('consent over the vault', (dialect) => {
  let s: Awaited<ReturnType<typeof disclosureSetup>>;
  let consent: ReturnType<typeof createConsent>;

  beforeAll(async () => {
    s = await disclosureSetup(dialect);
    consent = createConsent({
      db: s.d.db,
      dialect,
      clock: s.clock,
      keyring: s.keyring,
      record: s.record,
      lookup: (field, value) => s.vault.lookup(field, value),
      knownSubjects: (ex, ids) => s.vault.knownSubjects(ex, ids),
    });
  });
  afterAll(async () => s.d.destroy());

  it('imports by mobile number and refuses subjects the vault does not hold', async () => {
    const { ids, records } = await s.customers(3);
    const n = await consent.publishNotice(generalNotice(), null);
    const mobile = records.get(ids[1]!)!.mobile;
    const spaced = `+86 ${mobile.slice(0, 3)} ${mobile.slice(3, 7)} ${mobile.slice(7)}`;
    const csv = [
      'mobile,purpose,fields,notice,method,given_at,evidence_ref',
      `${spaced},marketing,name;mobile,${n.id},phone,2023-02-01T00:00:00Z,rec-1`,
      `13800000000,marketing,name,${n.id},phone,2023-02-01T00:00:00Z,rec-2`,
      `not-a-number,marketing,name,${n.id},phone,2023-02-01T00:00:00Z,rec-3`,
    ].join('\n');
    const r = await consent.importCsv(csv, null);
    expect(r.rows).toEqual([
      { line: 2, status: 'imported', consentId: expect.any(String) },
      { line: 3, status: 'rejected', code: 'CONSENT_SUBJECT_NOT_FOUND', field: 'mobile' },
      { line: 4, status: 'rejected', code: 'VALIDATION_FAILED', field: 'mobile' },
    ]);
    expect(JSON.stringify(r)).not.toContain(mobile);
    expect((await consent.list({ subjectId: ids[1]! }))[0]?.evidenceRef).toBe('rec-1');

    await expect(
      consent.grant(
        { subjectId: 'sub_nobody', purpose: 'marketing', fields: ['name'], noticeId: n.id, method: 'web' },
        null,
      ),
    ).rejects.toMatchObject({ code: 'CONSENT_SUBJECT_NOT_FOUND' });
    const ok = await consent.grant(
      { subjectId: ids[0]!, purpose: 'marketing', fields: ['name'], noticeId: n.id, method: 'web' },
      null,
    );
    expect(ok.consent.subjectId).toBe(ids[0]);
  });
});
