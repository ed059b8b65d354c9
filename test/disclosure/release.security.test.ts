/*
 * Threat (issue 11, item 3): an employee exfiltrates a full export through the disclosure API —
 * before, `POST /v1/disclosures` handed the whole file, plaintext, to whoever asked, with no policy
 * decision, quota or assignment check. Here:
 * - an employee without a `disclose` grant (or with one for other fields) gets a bare 403 that names
 *   no rule, learns nothing about the recipient or anyone's consent, and the refusal is in the
 *   ledger with its reasons;
 * - a partner manager discloses customers not assigned to him: refused;
 * - the daily quota is bypassed by firing creates concurrently: at most the quota passes;
 * - the file reaches the employee: the create returns the record only, and the delivery is
 *   fetched only by the recipient's own actor — another recipient's actor, and the releasing
 *   employee, get 404 as if it did not exist; the fetch is read (and recorded) per subject;
 * - a canary from the export trips: the alert names the export, the recipient and the releaser.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AppError } from '../../src/lib/errors.js';
import type { Recipient } from '../../src/modules/disclosure/index.js';
import { openSubjectsFields } from '../../src/modules/vault/index.js';
import { partnerNotice } from '../consent/fixtures.js';
import { describeEachDialect } from '../helpers/db.js';
import { DEFAULT_POLICY, disclosureSetup } from './fixtures.js';

const FIELDS = ['name', 'mobile'];
const PURPOSE = 'partner_referral';

describeEachDialect('disclosure is a policy decision, delivered to the recipient', (dialect) => {
  let s: Awaited<ReturnType<typeof disclosureSetup>>;
  let rcp: Recipient;
  let other: Recipient;
  let ids: string[];
  const actor: Record<string, { id: string; roles: string[] }> = {};
  /** Every read the disclosure service makes through its reader (the access module in the app). */
  const reads: { actorId: string; n: number }[] = [];

  beforeAll(async () => {
    s = await disclosureSetup(dialect);
    const read = s.read;
    s.disclosure = s.make({
      read: async (trx, r) => {
        reads.push({ actorId: r.actorId, n: r.subjectIds.length });
        return read(trx, r);
      },
    });
    for (const [name, kind, roles] of [
      ['dpo', 'employee', ['privacy_officer']],
      ['pm', 'employee', ['partner_manager']],
      ['seller', 'employee', ['telemarketing']],
      ['distributor', 'partner', ['partner']],
      ['rival', 'partner', ['partner']],
    ] as const) {
      const r = await s.actors.create({ name, kind, roles: [...roles] }, { by: null });
      actor[name] = { id: r.actor.id, roles: [...roles] };
    }
    const recipient = (name: string, actorId: string) =>
      s.disclosure.addRecipient(
        {
          name,
          contact: `dpo@${name.toLowerCase().replace(/\W/g, '')}.example`,
          jurisdiction: 'CN',
          purposes: [PURPOSE],
          contractRef: 'DPA-1',
          retentionDays: 30,
          piaRef: 'PIA-1',
          actorId,
        },
        null,
      );
    rcp = await recipient('Distributor Ltd', actor.distributor!.id);
    other = await recipient('Rival Ltd', actor.rival!.id);
    ({ ids } = await s.customers(12));
    for (const r of [rcp, other]) {
      const n = await s.consent.publishNotice(partnerNotice(r), null);
      for (const id of ids)
        await s.consent.grant(
          {
            subjectId: id,
            purpose: PURPOSE,
            recipientId: r.id,
            fields: ['name', 'mobile', 'company'],
            noticeId: n.id,
            method: 'web',
            separate: { thirdParty: true },
          },
          null,
        );
    }
    // The partner manager's portfolio: the first six customers.
    await s.actors.assign(
      ids.slice(0, 6).map((subjectId) => ({ actor: actor.pm!.id, subjectId })),
      { by: null },
    );
    s.clock.advance(1000);
  }, 120_000);
  afterAll(async () => s?.d.destroy());

  const req = (subjectIds: string[], extra: Record<string, unknown> = {}) => ({
    recipientId: rcp.id,
    purpose: PURPOSE,
    fields: FIELDS,
    subjectIds,
    format: 'csv' as const,
    ...extra,
  });
  const refusal = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      return e as AppError;
    }
    throw new Error('not refused');
  };
  const lastRefusal = async () => (await s.events()).filter((e) => e.kind === 'disclosure.refused').at(-1);
  const count = async (t: string) =>
    Number(
      (
        await s.d.db
          .selectFrom(t)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('no disclose grant: a bare 403 before any consent or recipient work; the reasons only in the ledger', async () => {
    const before = { d: await count('disclosures'), c: await count('canaries') };
    // Even for a recipient that does not exist and customers without consent: nothing is revealed.
    for (const body of [req(ids), req(['sub_nobody'], { recipientId: 'rcp_nonexistent' })]) {
      const e = await refusal(s.disclosure.create(body, actor.seller!));
      expect(e.code).toBe('DISCLOSURE_NOT_PERMITTED');
      expect(e.status).toBe(403);
      expect(e.details).toBeUndefined();
      expect(e.message).not.toMatch(/grant|quota|assign|role|consent|recipient/i);
    }
    expect(await lastRefusal()).toMatchObject({
      actor: actor.seller!.id,
      attrs: { code: 'DISCLOSURE_NOT_PERMITTED', reasons: ['NO_GRANT'] },
    });
    // Fields outside the grant (id_number): refused the same way.
    const e = await refusal(s.disclosure.create(req(ids, { fields: ['name', 'id_number'] }), actor.pm!));
    expect(e.code).toBe('DISCLOSURE_NOT_PERMITTED');
    expect((await lastRefusal())?.attrs.reasons).toEqual(['FIELDS_DENIED']);
    expect({ d: await count('disclosures'), c: await count('canaries') }).toEqual(before);
  });

  it('a partner manager discloses only customers assigned to him', async () => {
    const e = await refusal(s.disclosure.create(req(ids.slice(4, 8)), actor.pm!));
    expect(e.code).toBe('DISCLOSURE_NOT_PERMITTED');
    expect((await lastRefusal())?.attrs.reasons).toEqual(['ASSIGNMENT_REQUIRED']);
    // Not even "which of those lack consent" leaks for someone else's customers.
    expect(e.details).toBeUndefined();
    const ok = await s.disclosure.create(req(ids.slice(0, 6)), actor.pm!);
    expect(ok.disclosure).toMatchObject({ subjects: 6, status: 'awaiting_pickup', createdBy: actor.pm!.id });
  });

  it('the create returns the record only; only the recipient’s own actor fetches the file, once', async () => {
    reads.length = 0;
    const created = await s.disclosure.create(req(ids.slice(0, 4)), actor.dpo!);
    expect(Object.keys(created)).toEqual(['disclosure']);
    expect(created.disclosure).toMatchObject({ status: 'awaiting_pickup', contentSha256: null });
    const id = created.disclosure.id;
    // Nothing was read at the create: the file does not exist until the recipient fetches it.
    expect(reads).toEqual([]);
    for (const who of [actor.dpo!.id, actor.pm!.id, actor.rival!.id, 'act_unknown'])
      expect((await refusal(s.disclosure.deliver(id, who))).code).toBe('DISCLOSURE_NOT_FOUND');
    // The rival's actor gets the same answer for a disclosure that does not exist at all.
    expect((await refusal(s.disclosure.deliver('dsc_nope', actor.rival!.id))).code).toBe(
      'DISCLOSURE_NOT_FOUND',
    );
    const got = await s.disclosure.deliver(id, actor.distributor!.id);
    expect(got.contentType).toBe('text/csv; charset=utf-8');
    expect(got.content.split('\r\n')[0]).toBe('ref,name,mobile');
    expect(got.disclosure).toMatchObject({ status: 'delivered', withheld: 0 });
    expect(got.content.trim().split('\r\n')).toHaveLength(1 + 4 + created.disclosure.canaries);
    // The reader ran at the fetch, for the recipient's actor (through the access module in the
    // app: an access event per subject; the simulate partner scenario checks those end to end).
    expect(reads).toEqual([{ actorId: actor.distributor!.id, n: 4 + created.disclosure.canaries }]);
    expect((await refusal(s.disclosure.deliver(id, actor.distributor!.id))).code).toBe(
      'DISCLOSURE_ALREADY_DELIVERED',
    );
    const delivered = (await s.events()).find(
      (e) => e.kind === 'disclosure.delivered' && e.attrs.disclosure === id,
    );
    expect(delivered).toMatchObject({ actor: actor.distributor!.id, attrs: { released_by: actor.dpo!.id } });
    // JSON deliveries too (and the API format, folded in).
    for (const format of ['json', 'api'] as const) {
      const d = (await s.disclosure.create(req(ids.slice(0, 2), { format }), actor.dpo!)).disclosure;
      expect((await refusal(s.disclosure.deliver(d.id, actor.dpo!.id))).code).toBe('DISCLOSURE_NOT_FOUND');
      const j = await s.disclosure.deliver(d.id, actor.distributor!.id);
      expect(j.contentType).toBe('application/json; charset=utf-8');
      expect(JSON.parse(j.content).records).toHaveLength(2 + d.canaries);
    }
  });

  it('a canary of the export names the export, the recipient and the releasing employee', async () => {
    const d = (await s.disclosure.create(req(ids.slice(0, 3), { format: 'json' }), actor.dpo!)).disclosure;
    await s.disclosure.deliver(d.id, actor.distributor!.id);
    const [canary] = await s.disclosure.canaries.uniqueTo('disclosure', d.id);
    const mobile = (await openSubjectsFields(s.vault, s.d.db, [canary!.subjectId], ['mobile'])).values.get(
      canary!.subjectId,
    )!.mobile!;
    const trip = await s.disclosure.canaries.trip(
      { channel: 'call', contact: mobile, at: s.clock.now().toISOString() },
      'act_gateway',
    );
    expect(trip.matched).toBe(true);
    const alert = (await s.detect.list({ kind: 'canary.tripped' })).find((a) => a.id === trip.alertId);
    expect(alert?.attrs).toMatchObject({ disclosure: d.id, recipient: rcp.id, released_by: actor.dpo!.id });
    const row = await s.d.db
      .selectFrom('canaries')
      .select('released_by')
      .where('subject_id', '=', canary!.subjectId)
      .executeTakeFirstOrThrow();
    expect(row.released_by).toBe(actor.dpo!.id);
  });

  it('concurrent creates cannot together pass the daily quota (subjects per actor and purpose, policy day)', async () => {
    s.setPolicy(`
name: quota-test
version: "1"
timezone: Asia/Shanghai
purposes:
  ${PURPOSE}: { basis: consent, necessary: false }
disclose:
  - role: privacy_officer
    purpose: ${PURPOSE}
    recipients: ["*"]
    assignment: false
    quota: { daily: 10 }
`);
    try {
      // A new policy day (Asia/Shanghai): 16:30 UTC is 00:30 local.
      const now = s.clock.now();
      s.clock.set(new Date(`${now.toISOString().slice(0, 10)}T16:30:00.000Z`));
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => s.disclosure.create(req(ids.slice(0, 3)), actor.dpo!)),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter(
        (r) => r.status === 'rejected' && (r.reason as AppError).code === 'DISCLOSURE_NOT_PERMITTED',
      );
      // 3 subjects each against 10 a day: exactly three pass, whatever the interleaving.
      expect(ok).toHaveLength(3);
      expect(refused).toHaveLength(5);
      expect((await lastRefusal())?.attrs.reasons).toEqual(['QUOTA_EXCEEDED']);
      // One more subject fits; the next local day starts afresh.
      expect((await s.disclosure.create(req(ids.slice(0, 1)), actor.dpo!)).disclosure.subjects).toBe(1);
      s.clock.advance(24 * 3_600_000);
      expect((await s.disclosure.create(req(ids.slice(0, 3)), actor.dpo!)).disclosure.subjects).toBe(3);
    } finally {
      s.setPolicy(DEFAULT_POLICY.text);
    }
  });
});
