/*
 * Scenario partner-without-consent-2019 (shared/SCENARIOS.md; seeds 000, 001): the organisation
 * exports customers to a distributor for a referral programme.
 *
 * Threat: disclosure to a third party without the separate consent PIPL art. 23 requires (the
 * regulator held the 2019 provision a violation of Cybersecurity Law art. 42), silently or by
 * trimming the list behind the caller's back; a copy that cannot be traced to its recipient; and a
 * recipient that keeps a customer's record after he withdrew.
 */
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sha256 } from '../../src/lib/crypto/index.js';
import type { AppError } from '../../src/lib/errors.js';
import { isValidCnMobile } from '../../src/lib/synthetic/index.js';
import type { Notice } from '../../src/modules/consent/index.js';
import {
  DELETION_FORMAT,
  type OutgoingDeletionNotice,
  type Recipient,
  verifyDeletionNotice,
} from '../../src/modules/disclosure/index.js';
import { openSubjectsFields } from '../../src/modules/vault/index.js';
import { partnerNotice } from '../consent/fixtures.js';
import { describeEachDialect } from '../helpers/db.js';
import { disclosureSetup, OFFICER } from './fixtures.js';

const FIELDS = ['name', 'mobile', 'company'];
/** The distributor's own actor: it fetches its deliveries. */
const PARTNER = 'act_distributor';

describeEachDialect('partner-without-consent-2019', (dialect) => {
  let s: Awaited<ReturnType<typeof disclosureSetup>>;
  let distributor: Recipient;
  let notice: Notice;
  let ids: string[];
  let consented: string[];
  let lacking: string[];
  let firstExport: string;

  beforeAll(async () => {
    s = await disclosureSetup(dialect);
    distributor = await s.disclosure.addRecipient(
      {
        name: 'Shanghai Example Distribution Ltd.',
        contact: 'compliance@distribution.example.cn',
        jurisdiction: 'CN',
        purposes: ['partner_referral'],
        contractRef: 'DPA-2019-117',
        retentionDays: 90,
        piaRef: 'PIA-2019-031',
        actorId: PARTNER,
      },
      'act_dpo',
    );
    notice = await s.consent.publishNotice(partnerNotice(distributor), 'act_dpo');
    ({ ids } = await s.customers(40));
    // 30 gave separate consent for the distributor; 5 only a bundled one; 5 none at all.
    for (const [i, id] of ids.entries()) {
      if (i >= 35) continue;
      await s.consent.grant(
        {
          subjectId: id,
          purpose: 'partner_referral',
          recipientId: distributor.id,
          fields: FIELDS,
          noticeId: notice.id,
          method: 'web',
          separate: { thirdParty: i < 30 },
        },
        'act_portal',
      );
    }
    consented = ids.slice(0, 30);
    lacking = ids.slice(30);
    s.clock.advance(1000);
  });
  afterAll(async () => s.d.destroy());

  /** The officer releases; the distributor's own actor fetches the file (created, then delivered). */
  const request = async (subjectIds: string[], extra: Record<string, unknown> = {}) => {
    const created = await s.disclosure.create(
      {
        recipientId: distributor.id,
        purpose: 'partner_referral',
        fields: FIELDS,
        subjectIds,
        format: 'csv',
        ...extra,
      },
      OFFICER,
    );
    expect(created).toEqual({ disclosure: expect.objectContaining({ status: 'awaiting_pickup' }) });
    const got = await s.disclosure.deliver(created.disclosure.id, PARTNER);
    return { disclosure: got.disclosure, content: got.content };
  };

  async function counts() {
    const n = async (t: string) =>
      Number(
        (
          await s.d.db
            .selectFrom(t)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    return {
      disclosures: await n('disclosures'),
      items: await n('disclosure_items'),
      canaries: await n('canaries'),
      subjects: await n('subjects'),
    };
  }

  it('refuses an export that includes customers without separate consent, naming how many and which', async () => {
    const before = await counts();
    let err: AppError | undefined;
    try {
      await request(ids);
    } catch (e) {
      err = e as AppError;
    }
    expect(err?.code).toBe('DISCLOSURE_CONSENT_MISSING');
    expect(err?.status).toBe(409);
    expect(err?.details).toMatchObject({ requested: 40, missing: 10, truncated: false });
    expect(new Set(err?.details?.subjectIds as string[])).toEqual(new Set(lacking));
    // Nothing was disclosed, recorded as disclosed, or planted.
    expect(await counts()).toEqual(before);
    const refused = (await s.events()).filter((e) => e.kind === 'disclosure.refused');
    expect(refused.at(-1)?.attrs).toMatchObject({
      recipient: distributor.id,
      code: 'DISCLOSURE_CONSENT_MISSING',
      requested: 40,
      missing: 10,
    });
  });

  it('the consented export is recorded per customer and carries canaries unique to it', async () => {
    const { disclosure: d, content } = await request(consented);
    firstExport = d.id;
    expect(d).toMatchObject({
      subjects: 30,
      excluded: 0,
      withheld: 0,
      status: 'delivered',
      basis: 'consent',
    });
    expect(d.canaries).toBeGreaterThanOrEqual(1);
    expect(d.canaries).toBeLessThanOrEqual(3);
    expect(sha256(Buffer.from(content!, 'utf8')).toString('hex')).toBe(d.contentSha256);

    // One item per customer (and per canary); the canaries are this export's and nobody else's.
    const items = await s.disclosure.items(d.id);
    const canaryIds = await s.disclosure.canaries.canaryIds(
      s.d.db,
      items.map((i) => i.subject_id),
    );
    expect(
      items
        .filter((i) => !canaryIds.has(i.subject_id))
        .map((i) => i.subject_id)
        .sort(),
    ).toEqual([...consented].sort());
    expect(canaryIds.size).toBe(d.canaries);
    expect(items.every((i) => i.delivered_at !== null)).toBe(true);
    const mine = await s.disclosure.canaries.uniqueTo('disclosure', d.id);
    expect(new Set(mine.map((c) => c.subjectId))).toEqual(canaryIds);
    expect(mine.every((c) => c.uniqueTo.recipientId === distributor.id)).toBe(true);

    // The file: a ref and the fields, real customers' values, canaries in the same form.
    // Cells starting with '+' (mobiles) carry the spreadsheet-safety quote (exportfile.ts); unquote.
    const rows = (parse(content!, { columns: true }) as Record<string, string>[]).map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.replace(/^'(?=[=+\-@\t\r])/, '')])),
    );
    expect(content!).toContain(",'+86");
    expect(Object.keys(rows[0]!)).toEqual(['ref', ...FIELDS]);
    expect(rows).toHaveLength(30 + d.canaries);
    expect(new Set(rows.map((r) => r.ref)).size).toBe(rows.length);
    const opened = await openSubjectsFields(s.vault, s.d.db, consented, FIELDS);
    const realMobiles = new Set([...opened.values.values()].map((v) => v.mobile));
    const canaryRows = rows.filter((r) => !realMobiles.has(r.mobile!));
    expect(canaryRows).toHaveLength(d.canaries);
    for (const r of canaryRows) {
      expect(isValidCnMobile(r.mobile!.replace(/^\+86/, ''))).toBe(true);
      expect(r.name).toMatch(/^\p{Script=Han}{2,4}$/u);
    }
    expect(rows.map((r) => r.ref)).toContain(s.disclosure.refFor(distributor.id, consented[0]!));

    // The ledger commits to the exact item list.
    const created = (await s.events()).find(
      (e) => e.kind === 'disclosure.created' && e.attrs.disclosure === d.id,
    )!;
    const sorted = items.map((i) => i.subject_id).sort();
    expect(created.attrs).toMatchObject({
      recipient: distributor.id,
      subjects: 30,
      canaries: d.canaries,
      items_sha256: sha256(Buffer.from(sorted.join('\n'), 'utf8')).toString('hex'),
    });
    expect(created.actor).toBe(OFFICER.id);
    // The fetch commits to the file the recipient got and names who released it.
    const delivered = (await s.events()).find(
      (e) => e.kind === 'disclosure.delivered' && e.attrs.disclosure === d.id,
    )!;
    expect(delivered.actor).toBe(PARTNER);
    expect(delivered.attrs).toMatchObject({
      released_by: OFFICER.id,
      content_sha256: d.contentSha256,
      items_sha256: sha256(Buffer.from(sorted.join('\n'), 'utf8')).toString('hex'),
    });
    expect(JSON.stringify(created)).not.toContain(rows[0]!.mobile!);
    expect(JSON.stringify(delivered)).not.toContain(rows[0]!.mobile!);
  });

  it('discloses the consented subset only when asked to, counting the rest', async () => {
    const { disclosure: d } = await request(ids, { consentedOnly: true });
    expect(d).toMatchObject({ requested: 40, subjects: 30, excluded: 10 });
    const items = (await s.disclosure.items(d.id)).map((i) => i.subject_id);
    for (const id of lacking) expect(items).not.toContain(id);
  });

  it('after a withdrawal the next export leaves the customer out and the recipient is told to delete', async () => {
    const leaver = consented[3]!;
    await s.consent.withdraw(
      { subjectId: leaver, purpose: 'partner_referral' },
      { by: 'act_portal', method: 'app' },
    );
    s.clock.advance(1000);

    const notices = await s.disclosure.deletionNotices({ recipientId: distributor.id });
    expect(notices).toHaveLength(1);
    const n = notices[0]!;
    expect(n.payload).toMatchObject({
      format: DELETION_FORMAT,
      recipient: distributor.id,
      reason: 'consent_withdrawn',
      purposes: ['partner_referral'],
    });
    const records = n.payload.records as { ref: string; disclosures: string[] }[];
    expect(records).toHaveLength(1);
    expect(records[0]!.ref).toBe(s.disclosure.refFor(distributor.id, leaver));
    expect(records[0]!.disclosures).toContain(firstExport);
    expect(records[0]!.disclosures).toHaveLength(2);
    // Ids only: no value of the customer's record is in the notice.
    const values = (await openSubjectsFields(s.vault, s.d.db, [leaver], FIELDS)).values.get(leaver)!;
    const raw = JSON.stringify(n);
    for (const v of Object.values(values)) expect(raw).not.toContain(v);

    // The later exports leave him out: by list (refused unless subset), and "all consented".
    await expect(request(consented)).rejects.toMatchObject({
      code: 'DISCLOSURE_CONSENT_MISSING',
      details: { missing: 1, subjectIds: [leaver] },
    });
    const all = await s.disclosure.create(
      {
        recipientId: distributor.id,
        purpose: 'partner_referral',
        fields: FIELDS,
        allConsented: true,
        format: 'json',
      },
      OFFICER,
    );
    expect(all.disclosure.subjects).toBe(29);
    const items = (await s.disclosure.items(all.disclosure.id)).map((i) => i.subject_id);
    expect(items).not.toContain(leaver);
    const doc = JSON.parse((await s.disclosure.deliver(all.disclosure.id, PARTNER)).content);
    expect(doc.records.map((r: { ref: string }) => r.ref)).not.toContain(
      s.disclosure.refFor(distributor.id, leaver),
    );
  });

  it('delivers deletion notices signed, retrying failures, each once', async () => {
    const failing = async () => {
      throw Object.assign(new Error('connection refused'), { name: 'FetchError' });
    };
    expect(await s.disclosure.deliverDeletionNotices(failing)).toEqual({ delivered: 0, failed: 1 });
    const [pending] = await s.disclosure.deletionNotices({ recipientId: distributor.id });
    expect(pending).toMatchObject({ status: 'pending', attempts: 1 });

    const sent: OutgoingDeletionNotice[] = [];
    expect(await s.disclosure.deliverDeletionNotices(async (n) => void sent.push(n))).toEqual({
      delivered: 1,
      failed: 0,
    });
    expect(await s.disclosure.deliverDeletionNotices(async (n) => void sent.push(n))).toEqual({
      delivered: 0,
      failed: 0,
    });
    expect(sent).toHaveLength(1);
    const n = sent[0]!;
    expect(verifyDeletionNotice(n.body, n.signature, s.keyring.publicKeyRaw.toString('base64'))).toBe(true);
    expect(verifyDeletionNotice(n.body.replace('consent_withdrawn', 'other'), n.signature, n.publicKey)).toBe(
      false,
    );
    expect(JSON.parse(n.body).recipient).toBe(distributor.id);
    expect(
      (await s.events()).some((e) => e.kind === 'deletion_notice.delivered' && e.attrs.notice === n.id),
    ).toBe(true);
  });

  it('a call to one of the export’s canaries names that export and recipient', async () => {
    const [canary] = await s.disclosure.canaries.uniqueTo('disclosure', firstExport);
    const { values } = await openSubjectsFields(s.vault, s.d.db, [canary!.subjectId], ['mobile']);
    const mobile = values.get(canary!.subjectId)!.mobile!;
    const trip = await s.disclosure.canaries.trip(
      { channel: 'call', contact: mobile, at: s.clock.now().toISOString(), from: '13912345678' },
      'act_telephony',
    );
    expect(trip).toMatchObject({
      matched: true,
      uniqueTo: { kind: 'disclosure', id: firstExport, recipientId: distributor.id },
    });
    const alert = (await s.detect.list({ kind: 'canary.tripped' })).find((a) => a.id === trip.alertId)!;
    expect(alert.attrs).toMatchObject({
      disclosure: firstExport,
      recipient: distributor.id,
      unique_to_kind: 'disclosure',
    });
  });
  it('withdrawing only a general consent leaves a standing separate consent, and sends no notice', async () => {
    const subject = consented[5]!;
    const general = await s.consent.grant(
      {
        subjectId: subject,
        purpose: 'partner_referral',
        fields: ['name'],
        noticeId: notice.id,
        method: 'web',
      },
      null,
    );
    const before = (await s.disclosure.deletionNotices({ recipientId: distributor.id })).length;
    await s.consent.withdraw({ consentId: general.consent.id }, { by: null, method: 'web' });
    expect(await s.disclosure.deletionNotices({ recipientId: distributor.id })).toHaveLength(before);
    const [separate] = (await s.consent.list({ subjectId: subject })).filter(
      (c) => c.recipientId === distributor.id && c.withdrawnAt === null,
    );
    await s.consent.withdraw({ consentId: separate!.id }, { by: null, method: 'web' });
    const after = await s.disclosure.deletionNotices({ recipientId: distributor.id });
    expect(after).toHaveLength(before + 1);
    expect((after.at(-1)!.payload.records as { ref: string }[]).map((r) => r.ref)).toEqual([
      s.disclosure.refFor(distributor.id, subject),
    ]);
  });
});
