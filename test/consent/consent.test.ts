import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AppError } from '../../src/lib/errors.js';
import type { ConsentRecord, GrantInput, Notice } from '../../src/modules/consent/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { consentSetup, generalNotice, PROCESSOR, partnerNotice } from './fixtures.js';

const DISTRIBUTOR = {
  id: 'rcp_distributor',
  name: 'Shanghai Example Distribution Ltd.',
  contact: '+86 21 5555 0100',
};
const OTHER = { id: 'rcp_other', name: 'Other Partner Ltd.', contact: 'dpo@other.example' };

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as AppError).code;
  }
  return 'no error';
}

describeEachDialect('consent records', (dialect) => {
  let s: Awaited<ReturnType<typeof consentSetup>>;
  let general: Notice;
  let referral: Notice;
  let abroad: Notice;

  beforeAll(async () => {
    s = await consentSetup(dialect);
    general = await s.consent.publishNotice(generalNotice(), null);
    referral = await s.consent.publishNotice(partnerNotice(DISTRIBUTOR), null);
    abroad = await s.consent.publishNotice(
      partnerNotice(OTHER, { crossBorder: 'SG', key: 'referral-abroad' }),
      null,
    );
  });
  afterAll(async () => s.d.destroy());

  const grant = (over: Partial<GrantInput>) =>
    s.consent.grant(
      {
        subjectId: 'sub_a',
        purpose: 'partner_referral',
        recipientId: DISTRIBUTOR.id,
        fields: ['name', 'mobile', 'company'],
        noticeId: referral.id,
        method: 'web',
        separate: { thirdParty: true },
        ...over,
      },
      'act_portal',
    );

  it('publishes versioned notices carrying the SHA-256 of the text shown', async () => {
    const v2 = await s.consent.publishNotice(
      generalNotice({ text: `${generalNotice().text} Updated.` }),
      'act_dpo',
    );
    expect(general.version).toBe(1);
    expect(v2.version).toBe(2);
    expect(v2.key).toBe('privacy');
    expect(general.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(v2.sha256).not.toBe(general.sha256);
    const { createHash } = await import('node:crypto');
    expect(general.sha256).toBe(createHash('sha256').update(general.text, 'utf8').digest('hex'));
    expect((await s.consent.getNotice('privacy@2')).id).toBe(v2.id);
    expect(referral.recipientId).toBe(DISTRIBUTOR.id);
  });

  it('refuses a notice that does not declare what PIPL art. 17 and 23 require', async () => {
    const g = generalNotice();
    const p = partnerNotice(DISTRIBUTOR);
    const cases: [string, unknown][] = [
      ['processor contact not shown', { ...g, text: g.text.replace(PROCESSOR.contact, 'us') }],
      ['no retention', { ...g, declarations: { ...g.declarations, retention: '' } }],
      ['no rights', { ...g, declarations: { ...g.declarations, rights: undefined } }],
      ['no purposes', { ...g, declarations: { ...g.declarations, purposes: [] } }],
      ['recipient contact not shown', { ...p, text: p.text.replace(DISTRIBUTOR.contact, 'them') }],
      [
        'recipient purpose not declared',
        {
          ...p,
          declarations: {
            ...p.declarations,
            thirdParty: { ...p.declarations.thirdParty!, purposes: ['marketing'] },
          },
        },
      ],
      [
        'cross-border without a recipient',
        { ...g, declarations: { ...g.declarations, crossBorder: { jurisdiction: 'SG', rights: 'x' } } },
      ],
    ];
    for (const [why, input] of cases)
      expect([why, await code(s.consent.publishNotice(input as never, null))]).toEqual([
        why,
        'CONSENT_NOTICE_INVALID',
      ]);
  });

  it('counts only a given, unwithdrawn, unexpired record, and for a recipient only a separate one', async () => {
    const t0 = s.clock.now();
    await grant({ subjectId: 'sub_sep' });
    await grant({ subjectId: 'sub_bundled', separate: { thirdParty: false } });
    await s.consent.grant(
      {
        subjectId: 'sub_general',
        purpose: 'marketing',
        fields: ['name', 'mobile'],
        noticeId: general.id,
        method: 'app',
      },
      null,
    );
    s.clock.advance(1000);
    const at = s.clock.now();
    const cases: [string, Parameters<typeof s.consent.hasConsent>[1], boolean][] = [
      [
        'separate consent for the recipient',
        { subjectId: 'sub_sep', purpose: 'partner_referral', recipientId: DISTRIBUTOR.id, at },
        true,
      ],
      [
        'bundled consent is not separate (art. 23)',
        { subjectId: 'sub_bundled', purpose: 'partner_referral', recipientId: DISTRIBUTOR.id, at },
        false,
      ],
      [
        'another recipient',
        { subjectId: 'sub_sep', purpose: 'partner_referral', recipientId: OTHER.id, at },
        false,
      ],
      [
        'another purpose',
        { subjectId: 'sub_sep', purpose: 'marketing', recipientId: DISTRIBUTOR.id, at },
        false,
      ],
      ['general consent for the purpose', { subjectId: 'sub_general', purpose: 'marketing', at }, true],
      [
        'general consent is no basis for a recipient',
        { subjectId: 'sub_general', purpose: 'marketing', recipientId: DISTRIBUTOR.id, at },
        false,
      ],
      [
        'before it was given',
        {
          subjectId: 'sub_sep',
          purpose: 'partner_referral',
          recipientId: DISTRIBUTOR.id,
          at: new Date(t0.getTime() - 1),
        },
        false,
      ],
      [
        'fields covered',
        {
          subjectId: 'sub_sep',
          purpose: 'partner_referral',
          recipientId: DISTRIBUTOR.id,
          at,
          fields: ['name', 'company'],
        },
        true,
      ],
      [
        'a field not covered',
        {
          subjectId: 'sub_sep',
          purpose: 'partner_referral',
          recipientId: DISTRIBUTOR.id,
          at,
          fields: ['email'],
        },
        false,
      ],
      [
        'cross-border flag asked for, not given',
        {
          subjectId: 'sub_sep',
          purpose: 'partner_referral',
          recipientId: DISTRIBUTOR.id,
          at,
          crossBorder: true,
        },
        false,
      ],
      [
        'unknown subject',
        { subjectId: 'sub_nobody', purpose: 'partner_referral', recipientId: DISTRIBUTOR.id, at },
        false,
      ],
    ];
    for (const [why, q, want] of cases)
      expect([why, await s.consent.hasConsent(s.d.db, q)]).toEqual([why, want]);
  });

  it('withdrawal stops future processing, not past (PIPL art. 15), and tells listeners in its transaction', async () => {
    const heard: ConsentRecord[] = [];
    s.consent.onWithdrawal(async (_trx, ws) => {
      heard.push(...ws);
    });
    const { consent } = await grant({ subjectId: 'sub_w' });
    s.clock.advance(60_000);
    const before = s.clock.now();
    s.clock.advance(60_000);
    const withdrawn = await s.consent.withdraw(
      { subjectId: 'sub_w', purpose: 'partner_referral' },
      { by: 'act_portal', method: 'app' },
    );
    expect(withdrawn.map((w) => w.id)).toEqual([consent.id]);
    expect(heard.map((w) => w.id)).toContain(consent.id);
    s.clock.advance(1);
    const q = { subjectId: 'sub_w', purpose: 'partner_referral', recipientId: DISTRIBUTOR.id };
    expect(await s.consent.hasConsent(s.d.db, { ...q, at: before })).toBe(true);
    expect(await s.consent.hasConsent(s.d.db, { ...q, at: s.clock.now() })).toBe(false);
    expect(await code(s.consent.withdraw({ consentId: consent.id }, { by: null, method: 'web' }))).toBe(
      'CONSENT_NOT_ACTIVE',
    );
    expect((await s.consent.get(consent.id)).withdrawalMethod).toBe('app');
  });

  it('an expired consent is no basis', async () => {
    const exp = new Date(s.clock.now().getTime() + 3_600_000).toISOString();
    await grant({ subjectId: 'sub_exp', expiresAt: exp });
    const q = { subjectId: 'sub_exp', purpose: 'partner_referral', recipientId: DISTRIBUTOR.id };
    expect(await s.consent.hasConsent(s.d.db, { ...q, at: s.clock.now() })).toBe(true);
    expect(await s.consent.hasConsent(s.d.db, { ...q, at: exp })).toBe(false);
  });

  it('the batch check agrees with the point check', async () => {
    const kinds = ['separate', 'bundled', 'none', 'withdrawn', 'other'] as const;
    const subjects = Array.from({ length: 100 }, (_, i) => ({ id: `sub_b${i}`, kind: kinds[(i * 7) % 5]! }));
    for (const x of subjects) {
      if (x.kind === 'none') continue;
      await grant({
        subjectId: x.id,
        ...(x.kind === 'bundled' ? { separate: { thirdParty: false } } : {}),
        ...(x.kind === 'other'
          ? { recipientId: OTHER.id, noticeId: abroad.id, separate: { thirdParty: true, crossBorder: true } }
          : {}),
      });
      if (x.kind === 'withdrawn')
        await s.consent.withdraw(
          { subjectId: x.id, purpose: 'partner_referral' },
          { by: null, method: 'web' },
        );
    }
    s.clock.advance(1);
    const at = s.clock.now();
    const ids = subjects.map((x) => x.id);
    for (const [recipientId, opts] of [
      [DISTRIBUTOR.id, {}],
      [OTHER.id, { crossBorder: true }],
      [DISTRIBUTOR.id, { fields: ['mobile'] }],
      [DISTRIBUTOR.id, { fields: ['email'] }],
    ] as const) {
      const batch = await s.consent.consentedSubjects(s.d.db, ids, 'partner_referral', recipientId, at, opts);
      const point = new Set<string>();
      for (const id of ids)
        if (
          await s.consent.hasConsent(s.d.db, {
            subjectId: id,
            purpose: 'partner_referral',
            recipientId,
            at,
            ...opts,
          })
        )
          point.add(id);
      expect([...batch].sort()).toEqual([...point].sort());
      const all = await s.consent.allConsentedSubjects(s.d.db, 'partner_referral', recipientId, at, opts);
      expect(new Set(all.filter((x) => x.startsWith('sub_b')))).toEqual(batch);
    }
    const separate = subjects.filter((x) => x.kind === 'separate').map((x) => x.id);
    expect(
      [...(await s.consent.consentedSubjects(s.d.db, ids, 'partner_referral', DISTRIBUTOR.id, at))].sort(),
    ).toEqual(separate.sort());
    expect(
      await s.consent.consentedSubjects(s.d.db, ids, 'partner_referral', DISTRIBUTOR.id, at, {
        fields: ['email'],
      }),
    ).toEqual(new Set());
  });

  it('refuses a consent the notice shown does not cover', async () => {
    const future = new Date(s.clock.now().getTime() + 60_000).toISOString();
    const cases: [string, Partial<GrantInput>, string][] = [
      ['purpose not in notice', { purpose: 'marketing' }, 'CONSENT_PURPOSE_NOT_IN_NOTICE'],
      ['field not in notice', { fields: ['name', 'id_number'] }, 'CONSENT_FIELDS_NOT_IN_NOTICE'],
      ['recipient not named by the notice', { recipientId: OTHER.id }, 'CONSENT_RECIPIENT_NOT_IN_NOTICE'],
      ['third-party flag without recipient', { recipientId: null }, 'CONSENT_RECIPIENT_NOT_IN_NOTICE'],
      [
        'cross-border not declared',
        { separate: { thirdParty: true, crossBorder: true } },
        'CONSENT_CROSS_BORDER_NOT_IN_NOTICE',
      ],
      [
        'sensitive not declared',
        { separate: { thirdParty: true, sensitive: true } },
        'CONSENT_SENSITIVE_NOT_IN_NOTICE',
      ],
      ['given in the future', { givenAt: future }, 'CONSENT_TIME_INVALID'],
      ['expires before given', { expiresAt: '2000-01-01T00:00:00Z' }, 'CONSENT_TIME_INVALID'],
      ['unknown notice', { noticeId: 'ntc_nope' }, 'CONSENT_NOTICE_NOT_FOUND'],
    ];
    const before = (await s.consent.list({ subjectId: 'sub_bad' })).length;
    for (const [why, over, want] of cases)
      expect([why, await code(grant({ subjectId: 'sub_bad', ...over }))]).toEqual([why, want]);
    expect((await s.consent.list({ subjectId: 'sub_bad' })).length).toBe(before);
  });

  it('records every change in the ledger with ids only, in the same transaction', async () => {
    const before = (await s.events()).length;
    const { consent } = await grant({ subjectId: 'sub_ledger', evidenceRef: 'form-2024-0001' });
    await code(grant({ subjectId: 'sub_ledger', purpose: 'marketing' })); // refused: no entry
    await s.consent.withdraw({ consentId: consent.id }, { by: 'act_portal', method: 'phone' });
    const evs = (await s.events()).slice(before);
    expect(evs.map((e) => [e.kind, e.subject, e.attrs.consent])).toEqual([
      ['consent.given', 'sub_ledger', consent.id],
      ['consent.withdrawn', 'sub_ledger', consent.id],
    ]);
    expect(evs[0]!.attrs).toMatchObject({
      recipient: DISTRIBUTOR.id,
      notice: referral.id,
      notice_sha256: referral.sha256,
      third_party: true,
      fields: ['company', 'mobile', 'name'],
    });
  });
});
