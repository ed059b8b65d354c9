import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Notice } from '../../src/modules/consent/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { consentSetup, generalNotice, partnerNotice } from './fixtures.js';

const RCP = { id: 'rcp_imp', name: 'Import Partner Ltd.', contact: 'dpo@import-partner.example' };

describeEachDialect('consent import (CSV)', (dialect) => {
  let s: Awaited<ReturnType<typeof consentSetup>>;
  let general: Notice;
  let referral: Notice;

  beforeAll(async () => {
    s = await consentSetup(dialect);
    general = await s.consent.publishNotice(generalNotice(), null);
    referral = await s.consent.publishNotice(partnerNotice(RCP), null);
  });
  afterAll(async () => s.d.destroy());

  const header =
    'subject_id,purpose,recipient_id,fields,notice,method,given_at,expires_at,withdrawn_at,given_by,sensitive,third_party,cross_border,evidence_ref';

  it('returns a result per row and never stops halfway', async () => {
    const csv = [
      header,
      `sub_1,partner_referral,${RCP.id},name;mobile,${referral.id},web,2023-05-01T10:00:00Z,,,subject,,1,,form-1`,
      `sub_2,marketing,,name|mobile,privacy@1,paper,2022-01-01T00:00:00+08:00,,,,no,no,no,scan-2`,
      `sub_3,partner_referral,${RCP.id},name,${referral.id},fax,2023-05-01T10:00:00Z,,,,,1,,x`, // bad method
      `sub_4,partner_referral,${RCP.id},name,ntc_missing,web,2023-05-01T10:00:00Z,,,,,1,,x`, // unknown notice
      `sub_5,partner_referral,${RCP.id},id_number,${referral.id},web,2023-05-01T10:00:00Z,,,,,1,,x`, // field outside
      `sub_6,partner_referral,${RCP.id},name,${referral.id},web,2031-01-01T00:00:00Z,,,,,1,,x`, // future
      `sub_7,partner_referral,${RCP.id},name`, // malformed: too few columns
      `sub_8,partner_referral,${RCP.id},name,${referral.id},app,2023-06-01T00:00:00Z,,2023-09-01T00:00:00Z,,,yes,,form-8`,
      `sub_1,partner_referral,${RCP.id},name;mobile,${referral.id},web,2023-05-01T10:00:00Z,,,subject,,1,,form-1`, // same row again
    ].join('\n');
    const r = await s.consent.importCsv(`${csv}\n`, 'act_dpo');
    const byLine = Object.fromEntries(r.rows.map((x) => [x.line, x]));
    expect(byLine[2]).toMatchObject({ status: 'imported' });
    expect(byLine[3]).toMatchObject({ status: 'imported' });
    expect(byLine[4]).toMatchObject({ status: 'rejected', code: 'VALIDATION_FAILED', field: 'method' });
    expect(byLine[5]).toMatchObject({ status: 'rejected', code: 'CONSENT_NOTICE_NOT_FOUND' });
    expect(byLine[6]).toMatchObject({ status: 'rejected', code: 'CONSENT_FIELDS_NOT_IN_NOTICE' });
    expect(byLine[7]).toMatchObject({ status: 'rejected', code: 'CONSENT_TIME_INVALID' });
    expect(byLine[8]).toMatchObject({ status: 'rejected', code: 'VALIDATION_FAILED' });
    expect(byLine[9]).toMatchObject({ status: 'imported' });
    expect(byLine[10]).toMatchObject({ status: 'duplicate' });
    expect(r.imported + r.duplicates + r.rejected).toBe(r.total);
    expect(r).toMatchObject({ total: 9, imported: 3, duplicates: 1, rejected: 5 });

    const one = (await s.consent.list({ subjectId: 'sub_1' }))[0]!;
    expect(one).toMatchObject({
      source: 'import',
      importId: r.importId,
      evidenceRef: 'form-1',
      noticeSha256: referral.sha256,
      givenAt: '2023-05-01T10:00:00.000Z',
      separate: { thirdParty: true, sensitive: false, crossBorder: false },
    });
    const two = (await s.consent.list({ subjectId: 'sub_2' }))[0]!;
    expect(two.givenAt).toBe('2021-12-31T16:00:00.000Z');
    expect(two.noticeId).toBe(general.id);
    expect(two.fields).toEqual(['mobile', 'name']);
  });

  it('is idempotent: importing the same file again reports duplicates, writes nothing', async () => {
    const csv = `${header}\nsub_9,partner_referral,${RCP.id},name,${referral.id},web,2023-07-01T00:00:00Z,,,,,1,,f9\n`;
    const first = await s.consent.importCsv(csv, null);
    const second = await s.consent.importCsv(csv, null);
    expect(first.imported).toBe(1);
    expect(second).toMatchObject({ imported: 0, duplicates: 1, rejected: 0 });
    expect(await s.consent.list({ subjectId: 'sub_9' })).toHaveLength(1);
  });

  it('keeps an imported withdrawal: consent held in between, not after', async () => {
    const q = { subjectId: 'sub_8', purpose: 'partner_referral', recipientId: RCP.id };
    expect(await s.consent.hasConsent(s.d.db, { ...q, at: '2023-07-01T00:00:00Z' })).toBe(true);
    expect(await s.consent.hasConsent(s.d.db, { ...q, at: '2023-10-01T00:00:00Z' })).toBe(false);
  });

  it('refuses a file without a subject column, before writing anything', async () => {
    await expect(s.consent.importCsv('purpose,fields\nmarketing,name\n', null)).rejects.toMatchObject({
      code: 'CONSENT_IMPORT_INVALID',
    });
  });

  it('rejects lookup rows when no lookup is wired, naming the column, not the value', async () => {
    const csv = `mobile,purpose,fields,notice,method,given_at\n13800138000,marketing,name,${general.id},web,2023-01-01T00:00:00Z\n`;
    const r = await s.consent.importCsv(csv, null);
    expect(r.rows).toEqual([
      { line: 2, status: 'rejected', code: 'CONSENT_SUBJECT_NOT_FOUND', field: 'mobile' },
    ]);
    expect(JSON.stringify(r)).not.toContain('13800138000');
  });
});
