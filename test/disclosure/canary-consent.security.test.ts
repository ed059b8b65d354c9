/*
 * Canaries are indistinguishable from real customers by their consent state and by counts (issue
 * 11 item 4, ADR 0008).
 *
 * Threat: a recipient's buyer or an insider (a releasing employee, a consent recorder, an admin
 * reading consents) tells an export's canaries apart from the customers around them: the canaries
 * hold no consent record for the recipient (a listing or a consent check shows it), a request that
 * names a canary comes back with a count no customer would give (it used to be dropped silently),
 * or withdrawing a suspected canary's consent changes nothing at delivery. Each canary must hold a
 * copy of a disclosed customer's consent (normal records and ledger entries, marked only in the
 * canary registry); named later, it is refused or excluded exactly as a customer without matching
 * consent; its consent lapses like a customer's. What is canary-specific is an internal alert only.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AppError } from '../../src/lib/errors.js';
import type { ConsentRecord, Notice } from '../../src/modules/consent/index.js';
import type { Recipient } from '../../src/modules/disclosure/index.js';
import { partnerNotice } from '../consent/fixtures.js';
import { describeEachDialect } from '../helpers/db.js';
import { disclosureSetup, OFFICER } from './fixtures.js';

const FIELDS = ['name', 'mobile', 'company'];
const PARTNER = 'act_partner';

describeEachDialect('canaries by consent state and counts', (dialect) => {
  let s: Awaited<ReturnType<typeof disclosureSetup>>;
  let rcp: Recipient;
  let notice: Notice;
  let consented: string[];
  let lacking: string[];
  let firstId: string;
  let firstCanaries: string[];

  beforeAll(async () => {
    s = await disclosureSetup(dialect);
    rcp = await s.disclosure.addRecipient(
      {
        name: 'Example Referral Partner Ltd.',
        contact: 'dpo@referral.example.cn',
        jurisdiction: 'CN',
        purposes: ['partner_referral'],
        contractRef: 'DPA-1',
        retentionDays: 90,
        piaRef: 'PIA-1',
        actorId: PARTNER,
      },
      'act_dpo',
    );
    notice = await s.consent.publishNotice(partnerNotice(rcp), 'act_dpo');
    const { ids } = await s.customers(30);
    // 24 with a separate consent for the partner, given over several days (evidence references in
    // their own shape); 6 without any.
    for (const [i, id] of ids.entries()) {
      if (i >= 24) continue;
      s.clock.advance(3_600_000);
      await s.consent.grant(
        {
          subjectId: id,
          purpose: 'partner_referral',
          recipientId: rcp.id,
          fields: FIELDS,
          noticeId: notice.id,
          method: i % 2 ? 'web' : 'paper',
          separate: { thirdParty: true },
          evidenceRef: `REC-2024-${String(1000 + i)}`,
        },
        'act_portal',
      );
    }
    consented = ids.slice(0, 24);
    lacking = ids.slice(24);
    s.clock.advance(60_000);
    const d = await s.disclosure.create(
      {
        recipientId: rcp.id,
        purpose: 'partner_referral',
        fields: FIELDS,
        subjectIds: consented.slice(0, 12),
        format: 'csv',
      },
      OFFICER,
    );
    firstId = d.disclosure.id;
    firstCanaries = (await s.disclosure.canaries.uniqueTo('disclosure', firstId)).map((c) => c.subjectId);
    expect(firstCanaries.length).toBeGreaterThan(0);
  });
  afterAll(async () => s.d.destroy());

  /** What a record says, without who it is about and its own id. */
  const said = (c: ConsentRecord) => ({
    purpose: c.purpose,
    recipientId: c.recipientId,
    fields: c.fields,
    noticeId: c.noticeId,
    noticeSha256: c.noticeSha256,
    method: c.method,
    givenBy: c.givenBy,
    givenAt: c.givenAt,
    expiresAt: c.expiresAt,
    withdrawnAt: c.withdrawnAt,
    separate: c.separate,
    source: c.source,
  });

  it("each canary holds a copy of a disclosed customer's consent for the purpose and recipient", async () => {
    const real = new Map<string, ConsentRecord>();
    for (const id of consented.slice(0, 12)) real.set(id, (await s.consent.list({ subjectId: id }))[0]!);
    const shapes = new Set([...real.values()].map((c) => JSON.stringify(said(c))));
    for (const c of firstCanaries) {
      const mine = await s.consent.list({ subjectId: c });
      expect(mine).toHaveLength(1);
      // What it says is what one of the disclosed customers' records says, given at the same time.
      expect(shapes.has(JSON.stringify(said(mine[0]!)))).toBe(true);
      expect(Object.keys(mine[0]!).sort()).toEqual(Object.keys(real.get(consented[0]!)!).sort());
      // The evidence reference keeps the shape and is no customer's.
      expect(mine[0]!.evidenceRef).toMatch(/^[A-Z]{3}-\d{4}-\d{4}$/);
      expect([...real.values()].map((r) => r.evidenceRef)).not.toContain(mine[0]!.evidenceRef);
      expect(JSON.stringify(mine)).not.toMatch(/canary/i);
    }
    // The consent check (what the policy engine and the disclosure module ask) counts them alike.
    const ok = await s.consent.consentedSubjects(
      s.d.db,
      firstCanaries,
      'partner_referral',
      rcp.id,
      s.clock.now(),
      {
        fields: FIELDS,
      },
    );
    expect([...ok].sort()).toEqual([...firstCanaries].sort());
    // Normal ledger entries, the same attributes as a customer's, nothing marking a canary.
    const events = await s.events();
    const given = (subject: string) =>
      events.find((e) => e.kind === 'consent.given' && e.subject === subject)!;
    for (const c of firstCanaries) {
      expect(given(c)).toBeDefined();
      expect(Object.keys(given(c).attrs ?? {}).sort()).toEqual(
        Object.keys(given(consented[0]!).attrs ?? {}).sort(),
      );
      expect(JSON.stringify(given(c))).not.toMatch(/canary/i);
    }
  });

  /** Runs a request; the error's code and details, or the created disclosure's counts. */
  const outcome = async (subjectIds: string[], extra: Record<string, unknown> = {}) => {
    try {
      const r = await s.disclosure.create(
        {
          recipientId: rcp.id,
          purpose: 'partner_referral',
          fields: FIELDS,
          subjectIds,
          format: 'csv',
          ...extra,
        },
        OFFICER,
      );
      const d = r.disclosure;
      const items = (await s.disclosure.items(d.id)).map((i) => i.subject_id);
      return { ok: { requested: d.requested, subjects: d.subjects, excluded: d.excluded }, items };
    } catch (e) {
      const err = e as AppError;
      return { code: err.code, status: err.status, message: err.message, details: err.details };
    }
  };

  it('a canary named in a later request is refused exactly as a customer without consent', async () => {
    const canary = firstCanaries[0]!;
    const base = consented.slice(12, 15);
    const withCanary = await outcome([...base, canary]);
    const withLacking = await outcome([...base, lacking[0]!]);
    expect(withCanary).toEqual({
      ...withLacking,
      details: { ...(withLacking as { details: Record<string, unknown> }).details, subjectIds: [canary] },
    });
    expect(withLacking).toMatchObject({
      code: 'DISCLOSURE_CONSENT_MISSING',
      details: { requested: 4, missing: 1, subjectIds: [lacking[0]], truncated: false },
    });
    expect(JSON.stringify(withCanary)).not.toMatch(/canar/i);
    // Internally: an alert naming the actor and the canary; the refusal entry is a customer's.
    const alerts = await s.detect.list({ kind: 'canary_named_in_disclosure' });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ actor: OFFICER.id, subject: canary });
    const refusals = (await s.events()).filter((e) => e.kind === 'disclosure.refused');
    expect(JSON.stringify(refusals)).not.toMatch(/canar/i);
  });

  it('with consentedOnly it is excluded as such a customer is, and never leaves', async () => {
    const canary = firstCanaries[0]!;
    const a = await outcome([...consented.slice(15, 18), canary], { consentedOnly: true });
    const b = await outcome([...consented.slice(18, 21), lacking[1]!], { consentedOnly: true });
    expect(a.ok).toEqual({ requested: 4, subjects: 3, excluded: 1 });
    expect(b.ok).toEqual(a.ok);
    expect(a.items).not.toContain(canary);
    // Only canaries named: nothing to disclose, the same answer as customers without consent.
    const c = await outcome([canary], { consentedOnly: true });
    const d = await outcome([lacking[2]!], { consentedOnly: true });
    expect(c).toEqual(d);
    expect(d).toMatchObject({
      code: 'DISCLOSURE_NOTHING_TO_DISCLOSE',
      details: { requested: 1, missing: 1 },
    });
  });

  it('"everyone consented" counts the customers only (earlier canaries hold a consent too)', async () => {
    const r = await outcome([], {});
    expect(r.code).toBeDefined(); // an empty list is nothing to disclose
    const all = await s.disclosure.create(
      {
        recipientId: rcp.id,
        purpose: 'partner_referral',
        fields: FIELDS,
        allConsented: true,
        format: 'json',
      },
      OFFICER,
    );
    expect(all.disclosure).toMatchObject({
      requested: consented.length,
      subjects: consented.length,
      excluded: 0,
    });
    const items = (await s.disclosure.items(all.disclosure.id)).map((i) => i.subject_id);
    const own = (await s.disclosure.canaries.uniqueTo('disclosure', all.disclosure.id)).map(
      (c) => c.subjectId,
    );
    expect(new Set(items)).toEqual(new Set([...consented, ...own]));
  });

  it("a canary's consent lapses like a customer's: withheld at the fetch, counted alike; alerted", async () => {
    const d = await s.disclosure.create(
      {
        recipientId: rcp.id,
        purpose: 'partner_referral',
        fields: FIELDS,
        subjectIds: consented.slice(0, 6),
        format: 'csv',
      },
      OFFICER,
    );
    const [canary] = (await s.disclosure.canaries.uniqueTo('disclosure', d.disclosure.id)).map(
      (c) => c.subjectId,
    );
    s.clock.advance(1000);
    // Someone probing withdraws a suspected canary's consent and a customer's.
    await s.consent.withdraw(
      { subjectId: canary!, purpose: 'partner_referral', recipientId: rcp.id },
      { by: 'act_admin', method: 'web' },
    );
    await s.consent.withdraw(
      { subjectId: consented[0]!, purpose: 'partner_referral', recipientId: rcp.id },
      { by: 'act_admin', method: 'web' },
    );
    s.clock.advance(1000);
    const got = await s.disclosure.deliver(d.disclosure.id, PARTNER);
    // Both are withheld and counted: the count moved by two, as for two customers.
    expect(got.disclosure.withheld).toBe(2);
    expect(got.content).not.toContain(s.disclosure.refFor(rcp.id, canary!));
    expect(got.content).not.toContain(s.disclosure.refFor(rcp.id, consented[0]!));
    const alerts = await s.detect.list({ kind: 'canary_consent_withdrawn' });
    expect(alerts.map((a) => a.subject)).toEqual([canary]);
  });
});
