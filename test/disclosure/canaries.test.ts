/*
 * Threat: a leaked list that cannot be traced. Canaries only name a leaker if each one sits in
 * exactly one view — one export to one recipient, or one actor's portfolio — and if a call or mail
 * to it maps back to that one view and nothing else. A canary reused across exports, handed to two
 * recipients, counted as a customer or contacted by the organisation itself would make a trip
 * ambiguous or false.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EMAIL_DOMAINS, isValidCnIdNumber, isValidCnMobile } from '../../src/lib/synthetic/index.js';
import type { Recipient } from '../../src/modules/disclosure/index.js';
import { openSubjectsFields } from '../../src/modules/vault/index.js';
import { partnerNotice } from '../consent/fixtures.js';
import { describeEachDialect } from '../helpers/db.js';
import { disclosureSetup, OFFICER } from './fixtures.js';

const EXPORTS = 1000;
const PORTFOLIOS = 1000;
const FIELDS = ['name', 'mobile'];

describeEachDialect('canaries', (dialect) => {
  let s: Awaited<ReturnType<typeof disclosureSetup>>;
  let customers: string[];
  const recipients: Recipient[] = [];
  const exportCanaries = new Map<string, { recipientId: string; canaries: string[] }>();
  const portfolioCanaries = new Map<string, string[]>();

  beforeAll(async () => {
    s = await disclosureSetup(dialect);
    ({ ids: customers } = await s.customers(8));
    for (let r = 0; r < 4; r++) {
      const rcp = await s.disclosure.addRecipient(
        {
          name: `Partner ${r} Ltd.`,
          contact: `dpo@partner${r}.example`,
          jurisdiction: 'CN',
          purposes: ['partner_referral'],
          contractRef: `C-${r}`,
          retentionDays: 30,
          piaRef: `PIA-${r}`,
        },
        null,
      );
      recipients.push(rcp);
      const n = await s.consent.publishNotice(partnerNotice(rcp, { fields: FIELDS }), null);
      for (const id of customers)
        await s.consent.grant(
          {
            subjectId: id,
            purpose: 'partner_referral',
            recipientId: rcp.id,
            fields: FIELDS,
            noticeId: n.id,
            method: 'web',
            separate: { thirdParty: true },
          },
          null,
        );
    }
    s.clock.advance(1000);
  }, 120_000);
  afterAll(async () => s.d.destroy());

  it(`${EXPORTS} exports and ${PORTFOLIOS} portfolios each get canaries of their own`, async () => {
    // Eight at a time: uniqueness must hold under concurrent exports too.
    const one = async (i: number) => {
      const rcp = recipients[i % recipients.length]!;
      const { disclosure } = await s.disclosure.create(
        {
          recipientId: rcp.id,
          purpose: 'partner_referral',
          fields: FIELDS,
          subjectIds: [customers[i % customers.length]!],
          format: i % 10 === 0 ? 'csv' : 'api',
        },
        OFFICER,
      );
      const mine = await s.disclosure.canaries.uniqueTo('disclosure', disclosure.id);
      expect(mine.length).toBe(disclosure.canaries);
      exportCanaries.set(disclosure.id, { recipientId: rcp.id, canaries: mine.map((c) => c.subjectId) });
    };
    for (let i = 0; i < EXPORTS; i += 8)
      await Promise.all(Array.from({ length: Math.min(8, EXPORTS - i) }, (_, k) => one(i + k)));
    expect(exportCanaries.size).toBe(EXPORTS);
    // The first portfolios one by one, the rest in batches of 100 (one transaction each).
    for (let i = 0; i < 50; i++) {
      const actor = `act_seller${i}`;
      portfolioCanaries.set(actor, await s.disclosure.canaries.plantPortfolioCanaries(actor, 1 + (i % 2)));
    }
    for (let i = 50; i < PORTFOLIOS; i += 100) {
      const batch = Array.from({ length: Math.min(100, PORTFOLIOS - i) }, (_, j) => ({
        actorId: `act_seller${i + j}`,
        n: 1 + ((i + j) % 2),
      }));
      for (const [actor, cs] of await s.disclosure.canaries.plantPortfolioCanariesMany(batch))
        portfolioCanaries.set(actor, cs);
    }
    expect(portfolioCanaries.size).toBe(PORTFOLIOS);

    const all = [
      ...[...exportCanaries.values()].flatMap((e) => e.canaries),
      ...[...portfolioCanaries.values()].flat(),
    ];
    expect(new Set(all).size).toBe(all.length);
    const perExport = [...exportCanaries.values()].map((e) => e.canaries.length);
    expect(Math.min(...perExport)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...perExport)).toBeLessThanOrEqual(3);
    expect(new Set(perExport).size).toBe(3); // 1, 2 and 3 all occur
    expect(await s.disclosure.canaries.count()).toBe(all.length);

    // Each export canary is an item of its own disclosure and of no other.
    const rows = await s.d.db
      .selectFrom('disclosure_items')
      .innerJoin('canaries', 'canaries.subject_id', 'disclosure_items.subject_id')
      .select(['disclosure_items.disclosure_id as d', 'disclosure_items.subject_id as s'])
      .execute();
    const holder = new Map<string, string[]>();
    for (const r of rows) holder.set(r.s, [...(holder.get(r.s) ?? []), r.d]);
    for (const [id, e] of exportCanaries) for (const c of e.canaries) expect(holder.get(c)).toEqual([id]);
    for (const cs of portfolioCanaries.values()) for (const c of cs) expect(holder.get(c)).toBeUndefined();

    // Distinct contact points, shaped like customers': real carrier segments, common providers,
    // valid ID numbers, and none a customer's.
    const opened = await openSubjectsFields(s.vault, s.d.db, all, ['mobile', 'email', 'id_number', 'name']);
    const mobiles = all.map((c) => opened.values.get(c)!.mobile!);
    const emails = all.map((c) => opened.values.get(c)!.email!);
    expect(new Set(mobiles).size).toBe(all.length);
    expect(new Set(emails).size).toBe(all.length);
    const providers = new Set(EMAIL_DOMAINS.map(([d]) => d));
    for (const m of mobiles) expect(isValidCnMobile(m.replace(/^\+86/, ''))).toBe(true);
    for (const e of emails) expect(providers.has(e.split('@')[1]!)).toBe(true);
    for (const c of all) expect(isValidCnIdNumber(opened.values.get(c)!.id_number!)).toBe(true);
    const real = await openSubjectsFields(s.vault, s.d.db, customers, ['mobile', 'email', 'id_number']);
    const realMobiles = new Set([...real.values.values()].map((v) => v.mobile));
    expect(mobiles.filter((m) => realMobiles.has(m))).toEqual([]);

    // Never counted as customers, never contacted by the organisation's own workflows.
    expect(await s.disclosure.canaries.isCanary(s.d.db, all[0]!)).toBe(true);
    expect(await s.disclosure.canaries.isCanary(s.d.db, customers[0]!)).toBe(false);
    expect((await s.disclosure.canaries.canaryIds(s.d.db, [...customers, ...all.slice(0, 5)])).size).toBe(5);

    // A trip names exactly one export (and its recipient) or one actor.
    const expected = new Map<string, { kind: string; id: string; recipientId: string | null }>();
    for (const [id, e] of exportCanaries)
      for (const c of e.canaries) expected.set(c, { kind: 'disclosure', id, recipientId: e.recipientId });
    for (const [actor, cs] of portfolioCanaries)
      for (const c of cs) expected.set(c, { kind: 'actor', id: actor, recipientId: null });
    const sample = all.filter((_, i) => i % Math.ceil(all.length / 150) === 0);
    for (const [k, c] of sample.entries()) {
      const v = opened.values.get(c)!;
      const trip = await s.disclosure.canaries.trip(
        k % 2 === 0
          ? {
              channel: 'call',
              contact: v.mobile!,
              at: s.clock.now().toISOString(),
              from: '+86 139 0000 0000',
            }
          : { channel: 'email', contact: v.email!.toUpperCase(), at: s.clock.now().toISOString() },
        'act_gateway',
      );
      expect([c, trip.matched, trip.uniqueTo]).toEqual([c, true, expected.get(c)]);
      const alert = await s.detect.get(trip.alertId!);
      const want = expected.get(c)!;
      expect(alert.attrs.unique_to_id).toBe(want.id);
      expect(alert.actor).toBe(want.kind === 'actor' ? want.id : null);
      expect(alert.attrs.disclosure).toBe(want.kind === 'disclosure' ? want.id : null);
    }
    expect(await s.detect.list({ kind: 'canary.tripped', limit: 1000 })).toHaveLength(sample.length);

    // An unknown contact point is recorded as a non-match and raises nothing.
    const taken = new Set(mobiles.map((m) => m.replace(/^\+86/, '')));
    let free = 17000000000;
    while (taken.has(String(free))) free++;
    for (const contact of [String(free), '13800138000', 'someone@canary-mail.example.cn']) {
      const t = await s.disclosure.canaries.trip(
        { channel: 'sms', contact, at: s.clock.now().toISOString() },
        'act_gateway',
      );
      expect([contact, t.matched, t.alertId]).toEqual([contact, false, null]);
    }
    const unmatched = await s.d.db.selectFrom('canary_trips').selectAll().where('matched', '=', 0).execute();
    expect(unmatched).toHaveLength(3);
    expect(await s.detect.list({ kind: 'canary.tripped', limit: 1000 })).toHaveLength(sample.length);
  }, 180_000);

  it('stores no contact point in clear', async () => {
    const [c] = [...portfolioCanaries.values()][0]!;
    const v = (await openSubjectsFields(s.vault, s.d.db, [c!], ['mobile', 'email'])).values.get(c!)!;
    const rows = await s.d.db.selectFrom('canaries').selectAll().where('subject_id', '=', c!).execute();
    const trips = await s.d.db.selectFrom('canary_trips').selectAll().execute();
    const text = JSON.stringify([rows, trips], (_k, x) =>
      x && typeof x === 'object' && x.type === 'Buffer' ? Buffer.from(x.data).toString('latin1') : x,
    );
    for (const needle of [v.mobile!, v.mobile!.replace(/^\+86/, ''), v.email!, '13900000000'])
      expect(text).not.toContain(needle);
  });
});
