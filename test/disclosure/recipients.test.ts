/*
 * Threat: PI provided to a recipient nobody assessed (PIPL art. 55), for a purpose it never agreed
 * to, or sent abroad without a transfer mechanism on file (PIPL art. 38–40, the 2024 cross-border
 * provisions) or beyond the yearly volume that mechanism covers.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AppError } from '../../src/lib/errors.js';
import type { Recipient } from '../../src/modules/disclosure/index.js';
import { partnerNotice } from '../consent/fixtures.js';
import { describeEachDialect } from '../helpers/db.js';
import { DEFAULT_POLICY, disclosureSetup, OFFICER } from './fixtures.js';

const FIELDS = ['name', 'company'];

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as AppError).code;
  }
  return 'no error';
}

describeEachDialect('recipients and transfers abroad', (dialect) => {
  let s: Awaited<ReturnType<typeof disclosureSetup>>;
  let ids: string[];

  beforeAll(async () => {
    s = await disclosureSetup(dialect, { transferCaps: { standard_contract: 8 } });
    ({ ids } = await s.customers(12));
  });
  afterAll(async () => s.d.destroy());

  async function consentAll(r: Recipient, crossBorder: string | undefined, subjects = ids) {
    const n = await s.consent.publishNotice(partnerNotice(r, { crossBorder, fields: FIELDS }), null);
    for (const id of subjects)
      await s.consent.grant(
        {
          subjectId: id,
          purpose: 'partner_referral',
          recipientId: r.id,
          fields: FIELDS,
          noticeId: n.id,
          method: 'app',
          separate: { thirdParty: true, crossBorder: Boolean(crossBorder) },
        },
        null,
      );
    s.clock.advance(1000);
  }

  const exportTo = (r: Recipient, subjectIds = ids.slice(0, 3), purpose = 'partner_referral') =>
    s.disclosure.create({ recipientId: r.id, purpose, fields: FIELDS, subjectIds, format: 'json' }, OFFICER);

  it('a recipient is not enabled, and receives nothing, without an impact assessment (PIPL art. 55)', async () => {
    const r = await s.disclosure.addRecipient(
      {
        name: 'Unassessed Ltd.',
        contact: 'dpo@unassessed.example',
        jurisdiction: 'CN',
        purposes: ['partner_referral'],
        contractRef: 'C-1',
        retentionDays: 30,
      },
      null,
    );
    expect(r.status).toBe('pending');
    await consentAll(r, undefined);
    expect(await code(exportTo(r))).toBe('DISCLOSURE_IMPACT_ASSESSMENT_MISSING');
    expect(await code(s.disclosure.updateRecipient(r.id, { status: 'enabled' }, null))).toBe(
      'DISCLOSURE_IMPACT_ASSESSMENT_MISSING',
    );
    const assessed = await s.disclosure.updateRecipient(r.id, { piaRef: 'PIA-77' }, 'act_dpo');
    expect(assessed.status).toBe('enabled');
    expect((await exportTo(r)).disclosure.subjects).toBe(3);
    // The policy decides first: no disclose grant for marketing, a bare refusal.
    expect(await code(exportTo(r, ids.slice(0, 3), 'marketing'))).toBe('DISCLOSURE_NOT_PERMITTED');
    // With a grant, the recipient's own agreed purposes still bound what it receives.
    s.setPolicy(`
name: t
version: "1"
purposes:
  partner_referral: { basis: consent, necessary: false }
  marketing: { basis: consent, necessary: false }
disclose:
  - { role: privacy_officer, purpose: partner_referral, recipients: ["*"], assignment: false }
  - { role: privacy_officer, purpose: marketing, recipients: ["*"], assignment: false }
`);
    expect(await code(exportTo(r, ids.slice(0, 3), 'marketing'))).toBe('DISCLOSURE_PURPOSE_NOT_ALLOWED');
    s.setPolicy(DEFAULT_POLICY.text);
    await s.disclosure.updateRecipient(r.id, { status: 'disabled' }, 'act_dpo');
    expect(await code(exportTo(r))).toBe('DISCLOSURE_RECIPIENT_NOT_ENABLED');
    const again = {
      name: r.name,
      contact: 'x@y.example',
      jurisdiction: 'CN',
      purposes: ['x'],
      contractRef: 'C-2',
      retentionDays: 1,
    };
    expect(await code(s.disclosure.addRecipient(again, null))).toBe('DISCLOSURE_RECIPIENT_EXISTS');
  });

  it('a cross-border recipient without a transfer mechanism is refused, even with consent', async () => {
    const r = await s.disclosure.addRecipient(
      {
        name: 'Singapore Example Pte. Ltd.',
        contact: 'dpo@sg-partner.example',
        jurisdiction: 'SG',
        purposes: ['partner_referral'],
        contractRef: 'C-SG-1',
        retentionDays: 60,
        piaRef: 'PIA-SG-1',
      },
      null,
    );
    expect(r.status).toBe('enabled');
    await consentAll(r, 'SG');
    const before = (await s.disclosure.list({ recipientId: r.id })).length;
    await expect(exportTo(r)).rejects.toMatchObject({
      code: 'DISCLOSURE_TRANSFER_ASSESSMENT_MISSING',
      details: { recipient: r.id, jurisdiction: 'SG' },
    });
    expect(await s.disclosure.list({ recipientId: r.id })).toHaveLength(before);

    // An expired mechanism is no mechanism.
    await s.disclosure.updateRecipient(
      r.id,
      { transfer: { mechanism: 'standard_contract', ref: 'SCC-2023-9', validUntil: '2024-01-01T00:00:00Z' } },
      null,
    );
    expect(await code(exportTo(r))).toBe('DISCLOSURE_TRANSFER_ASSESSMENT_MISSING');

    await s.disclosure.updateRecipient(
      r.id,
      { transfer: { mechanism: 'standard_contract', ref: 'SCC-2024-2', validUntil: '2027-01-01T00:00:00Z' } },
      null,
    );
    const ok = await exportTo(r, ids.slice(0, 5));
    expect(ok.disclosure).toMatchObject({ crossBorder: true, jurisdiction: 'SG', subjects: 5 });

    // The year's count per destination is capped by the mechanism (8 here): 5 + 4 new > 8.
    await expect(exportTo(r, ids.slice(3, 9))).rejects.toMatchObject({
      code: 'DISCLOSURE_TRANSFER_VOLUME_EXCEEDED',
      details: { jurisdiction: 'SG', cap: 8, wouldReach: 9 },
    });
    // People already sent this year are not counted twice.
    expect((await exportTo(r, ids.slice(2, 8))).disclosure.subjects).toBe(6);
  });

  it('a cross-border export needs the cross-border separate consent (PIPL art. 39)', async () => {
    const r = await s.disclosure.addRecipient(
      {
        name: 'Tokyo Example K.K.',
        contact: 'dpo@jp-partner.example',
        jurisdiction: 'JP',
        purposes: ['partner_referral'],
        contractRef: 'C-JP-1',
        retentionDays: 60,
        piaRef: 'PIA-JP-1',
        transfer: { mechanism: 'cac_assessment', ref: 'CAC-2024-001' },
      },
      null,
    );
    // Separate third-party consent, but no cross-border flag.
    await consentAll(r, undefined, ids.slice(0, 2));
    await expect(exportTo(r, ids.slice(0, 2))).rejects.toMatchObject({
      code: 'DISCLOSURE_CONSENT_MISSING',
      details: { missing: 2 },
    });
  });
});
