/*
 * A partner (a third-party recipient with its own credentials) reading through the API under the
 * guarded policy's partner_referral grant: assignment plus the subject's separate consent for that
 * partner (PIPL art. 23). Threat on one side: a partner reading customers who never agreed to it;
 * on the other, a consent that can never be honoured, so the organisation falls back to file
 * exports (which the recipient keeps) instead of audited reads.
 *
 * Known failure (cross-module wiring, not the access module): consents name the disclosure
 * recipient (rcp_…), while the policy asks the consent hook about the partner's actor id
 * (policy.service.ts context(): `recipient = principal.id` for a partner). No consent ever matches,
 * so the partner is denied CONSENT_REQUIRED even with a valid separate consent.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../helpers/db.js';
import { createWorld, referralNotice, type World } from './fixtures.js';

describeEachDialect('partner reads under partner_referral', (dialect) => {
  let w: World;
  let consented: string;
  let unconsented: string;

  beforeAll(async () => {
    w = await createWorld(dialect);
    const recipient = await w.app.disclosure.addRecipient(
      {
        name: 'Shanghai Example Distribution Ltd.',
        contact: 'compliance@distribution.example.cn',
        jurisdiction: 'CN',
        purposes: ['partner_referral'],
        contractRef: 'DPA-2019-117',
        retentionDays: 90,
        piaRef: 'PIA-2019-031',
        actorId: w.partner.id,
      },
      w.dpo.id,
    );
    const notice = await w.app.consent.publishNotice(
      referralNotice(recipient.id, 'provision by API'),
      w.dpo.id,
    );
    // Both are assigned to the partner (fixtures); only the first gave separate consent.
    consented = w.subjects[0]!;
    unconsented = w.subjects[1]!;
    await w.app.consent.grant(
      {
        subjectId: consented,
        purpose: 'partner_referral',
        recipientId: recipient.id,
        fields: ['name', 'mobile'],
        noticeId: notice.id,
        method: 'web',
        separate: { thirdParty: true },
      },
      w.dpo.id,
    );
  });
  afterAll(async () => w?.destroy());

  const read = (subjectId: string) =>
    w.app.access.read(w.partner.principal, {
      subjectId,
      purpose: 'partner_referral',
      fields: ['name', 'mobile'],
    });

  it('without the subject’s separate consent the partner is denied', async () => {
    const r = await read(unconsented);
    expect(r.allowed).toBe(false);
    expect(r.reasons).toContain('CONSENT_REQUIRED');
  });

  it('with the subject’s separate consent for this partner, the partner reads the granted fields', async () => {
    const r = await read(consented);
    expect(r.reasons).not.toContain('CONSENT_REQUIRED');
    expect(r.allowed).toBe(true);
    expect(r.fields.name).toEqual({ view: 'plain', value: w.records.get(consented)!.name });
  });
});
