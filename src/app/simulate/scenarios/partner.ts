import { parse } from 'csv-parse/sync';
import { sha256 } from '../../../lib/crypto/index.js';
import {
  ledgerEntriesOfKind,
  local,
  proveLeaves,
  type ScenarioContext,
  type ScenarioDef,
  setupOrganisation,
} from '../common.js';

/**
 * partner-without-consent-2019 (seeds 000, 001): the organisation exports customers to a
 * distributor for its referral programme. PIPL art. 23: separate consent for that recipient first.
 */
const FIELDS = ['name', 'mobile', 'company'];

export const partnerWithoutConsent2019: ScenarioDef = {
  name: 'partner-without-consent-2019',
  title: 'customers exported to a distributor without their separate consent',
  seeds: '000, 001',
  policies: ['guarded', 'lax'],
  defaults: { subjects: 1000, days: 1 },
  start: local('2019-11-01', '10:00'),
  async run(ctx: ScenarioContext) {
    const { inst, checks } = ctx;
    const { app } = inst;
    const loaded = await setupOrganisation(ctx);
    const { org } = loaded;
    const officer = loaded.employees.get(org.byRole('privacy_officer')[0]!.external_id)!;
    const telephony = [...loaded.services.values()][0]!;
    const now = inst.clock.now().getTime();

    // The distributor with the most customers who agreed to be referred to it.
    const referred = new Map<string, number[]>();
    for (let i = 0; i < org.customerCount; i++) {
      const p = org.referralPartnerOf(i);
      if (p) referred.set(p, [...(referred.get(p) ?? []), i]);
    }
    const [pid, indexes] = [...referred].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
    const partner = pid ? loaded.partners.get(pid) : undefined;
    if (!partner || !indexes) {
      checks.failed(
        'prevented',
        'an export without separate consent is refused',
        'no referral consents in this organisation',
      );
      return;
    }
    const rcp = partner.recipient.id;
    ctx.organisation.referredToDistributor = indexes.length;

    // The marketing team's list: everyone ever referred to the distributor, plus as many customers
    // who never agreed to it (the 2019 list was the registration data, consent or not).
    const others: number[] = [];
    for (let i = 0; i < org.customerCount && others.length < indexes.length; i++)
      if (org.referralPartnerOf(i) !== pid) others.push(i);
    const wanted = [...indexes, ...others].flatMap((i) => {
      const id = loaded.subjects.get(org.customer(i).record.external_id);
      return id ? [{ i, id }] : [];
    });
    const consented = wanted.filter((w) => org.consentInForce(w.i, 'partner_referral', pid!, now));
    const lacking = wanted.length - consented.length;
    const request = (extra: Record<string, unknown>) =>
      inst.request(officer.apiKey, 'POST', '/v1/disclosures', {
        recipientId: rcp,
        purpose: 'partner_referral',
        fields: FIELDS,
        format: 'csv',
        ...extra,
      });

    // 1. Refused, naming how many lack consent; nothing leaves and nothing is recorded as disclosed.
    const refused = await request({ subjectIds: wanted.map((w) => w.id) });
    const after = await app.disclosure.list({ recipientId: rcp });
    const refusal = (await ledgerEntriesOfKind(inst, 'disclosure.refused')).at(-1);
    checks.expect(
      'prevented',
      'an export including customers without separate consent for that distributor and purpose is refused, naming how many',
      refused.status === 409 &&
        refused.body?.code === 'DISCLOSURE_CONSENT_MISSING' &&
        refused.body?.details?.missing === lacking &&
        refused.body?.details?.requested === wanted.length &&
        after.length === 0,
      `POST /v1/disclosures with ${wanted.length} customers → ${refused.status} ${refused.body?.code}: ${refused.body?.details?.missing} lack consent (sim says ${lacking}); ${after.length} disclosures recorded`,
      {
        requested: wanted.length,
        missing: refused.body?.details?.missing ?? null,
        ledgerIndex: refusal?.index ?? null,
        leaf: refusal?.leafHash ?? null,
      },
    );

    // 2. The consented subset, only when asked for, counting the rest.
    const subset = await request({
      subjectIds: wanted.map((w) => w.id),
      consentedOnly: true,
      format: 'json',
    });
    checks.expect(
      'prevented',
      'never silently trimmed: the consented subset only when the caller asks for it, counting the rest',
      subset.status === 201 &&
        subset.body?.disclosure?.subjects === consented.length &&
        subset.body?.disclosure?.excluded === lacking,
      `with consentedOnly → ${subset.status}: ${subset.body?.disclosure?.subjects} disclosed, ${subset.body?.disclosure?.excluded} left out and counted`,
      { disclosure: subset.body?.disclosure?.id ?? null },
    );

    // 3. With consent: recorded per customer, carrying canaries unique to the recipient and export.
    inst.clock.set(new Date(now + 3_600_000));
    const ok = await request({ subjectIds: consented.map((c) => c.id) });
    const d = ok.body?.disclosure;
    if (ok.status !== 201 || !d) {
      checks.failed('recorded', 'the consented export succeeds', `→ ${ok.status} ${ok.body?.code ?? ''}`);
      return;
    }
    // The officer gets the record; only the partner's own key fetches the file (read at the fetch).
    const byOfficer = await inst.request(officer.apiKey, 'GET', `/v1/disclosures/${d.id}/delivery`);
    const fetched = await inst.request(partner.apiKey, 'GET', `/v1/disclosures/${d.id}/delivery`);
    checks.expect(
      'prevented',
      'the file goes to the recipient, never to the employee who released it',
      ok.body?.content === undefined &&
        d.status === 'awaiting_pickup' &&
        byOfficer.status === 404 &&
        fetched.status === 200,
      `create → the record only (${d.status}); the officer's fetch → ${byOfficer.status}; the partner's own key → ${fetched.status}`,
      { disclosure: d.id },
    );
    const items = await app.disclosure.items(d.id);
    const itemIds = items.map((x) => x.subject_id);
    const canaryIds = await app.disclosure.canaries.canaryIds(app.database.db, itemIds);
    const real = new Set(itemIds.filter((s) => !canaryIds.has(s)));
    const mine = await app.disclosure.canaries.uniqueTo('disclosure', d.id);
    const sample = consented.slice(0, 5);
    let discloseEvents = 0;
    const discloseLeaves: string[] = [];
    for (const c of sample) {
      const ev = (await app.access.history(c.id)).find((e) => e.action === 'disclose');
      if (ev) {
        discloseEvents++;
        discloseLeaves.push(ev.leafHash);
      }
    }
    const created = (await ledgerEntriesOfKind(inst, 'disclosure.created')).find(
      (e) => e.attrs.disclosure === d.id,
    );
    // The ledger entry commits to the exact list: SHA-256 over the sorted item ids, one per line.
    const digest = sha256(Buffer.from([...itemIds].sort().join('\n'), 'utf8')).toString('hex');
    const proof = await proveLeaves(
      inst,
      [...discloseLeaves, ...(created ? [created.leafHash] : [])],
      officer.apiKey,
    );
    checks.expect(
      'recorded',
      'with consent the export succeeds and is recorded as a disclosure per customer',
      real.size === consented.length &&
        consented.every((c) => real.has(c.id)) &&
        discloseEvents === sample.length &&
        created !== undefined &&
        created.attrs.items_sha256 === digest &&
        proof.failed === 0,
      `disclosure ${d.id}: ${d.subjects} customers, one item each; each customer's access history shows the 'disclose' event (${discloseEvents}/${sample.length} checked); the ledger entry commits to the item list (items_sha256 ${created?.attrs.items_sha256 === digest ? 'matches' : 'does NOT match'} the items)`,
      {
        disclosure: d.id,
        subjects: d.subjects,
        ledgerIndex: created?.index ?? null,
        leaf: created?.leafHash ?? null,
        proofsVerified: proof.verified,
      },
    );
    checks.expect(
      'traced',
      'the export carries canaries unique to that recipient and export',
      d.canaries >= 1 &&
        canaryIds.size === d.canaries &&
        mine.length === d.canaries &&
        mine.every((c) => c.uniqueTo.recipientId === rcp && c.uniqueTo.id === d.id),
      `${d.canaries} canary row(s) among ${itemIds.length}, registered as unique to ${d.id} for ${partner.partner.external_id}`,
      { canaries: d.canaries },
    );

    // 4. The distributor calls the list; calls to monitored numbers trip and name the export.
    const rows = parse(String(fetched.body ?? ''), { columns: true }) as Record<string, string>[];
    // The organisation holds the canaries' lines, whose numbers look like anyone's: the simulated
    // distributor calls every row and the gateway reports each call; only the canaries' match.
    const trips: string[] = [];
    for (const row of rows) {
      // Exported cells that could start a spreadsheet formula carry a leading quote (CSV escaping).
      const mobile = (row.mobile ?? '').replace(/^'/, '');
      if (!mobile) continue;
      inst.clock.set(new Date(now + 2 * 86_400_000));
      const res = await inst.request(telephony.apiKey, 'POST', '/v1/canaries/trips', {
        channel: 'call',
        contact: mobile,
        at: inst.clock.now().toISOString(),
        from: partner.partner.staff[0]?.mobile,
      });
      if (res.status === 202 && res.body?.matched) trips.push(res.body.tripId);
    }
    const alerts = (await app.detect.list({ kind: 'canary.tripped', limit: 1000 })).filter((a) =>
      trips.includes(String(a.attrs.trip)),
    );
    checks.expect(
      'traced',
      'a call to one of its canaries names that export, the recipient and the releasing employee',
      trips.length === d.canaries &&
        alerts.every(
          (a) =>
            a.attrs.disclosure === d.id &&
            a.attrs.recipient === rcp &&
            a.attrs.released_by === officer.actor.id,
        ),
      `${trips.length} call(s) to monitored numbers in the file tripped; every alert names ${d.id}, ${partner.partner.external_id} and the officer who released it`,
      { alerts: alerts.map((a) => a.id) },
    );

    // 5. A withdrawal: later exports leave the customer out; the recipient is told to delete.
    const leaver = consented[0]!;
    inst.clock.set(new Date(now + 3 * 86_400_000));
    const w = await app.consent.withdraw(
      { subjectId: leaver.id, purpose: 'partner_referral', recipientId: rcp },
      { by: null, method: 'app' },
    );
    const pulled = await inst.request(partner.apiKey, 'GET', '/v1/deletion-notices');
    const notices = (pulled.body?.notices ?? []) as {
      id: string;
      payload: { records?: { ref: string }[] };
    }[];
    const ref = app.disclosure.refFor(rcp, leaver.id);
    const told = notices.find((n) => n.payload.records?.some((r) => r.ref === ref));
    const laterAt = now + 3 * 86_400_000 + 3_600_000;
    inst.clock.set(new Date(laterAt));
    const stillConsented = wanted.filter(
      (x) => x.id !== leaver.id && org.consentInForce(x.i, 'partner_referral', pid!, laterAt),
    ).length;
    const later = await request({ allConsented: true });
    const laterItems = later.status === 201 ? await app.disclosure.items(later.body.disclosure.id) : [];
    const queued = (await ledgerEntriesOfKind(inst, 'deletion_notice.queued')).filter(
      (e) => e.attrs.notice === told?.id,
    );
    checks.expect(
      'prevented',
      'after a withdrawal later exports leave the customer out, and the recipient is told to delete the record',
      w.length > 0 &&
        told !== undefined &&
        later.status === 201 &&
        later.body.disclosure.subjects === stillConsented &&
        !laterItems.some((x) => x.subject_id === leaver.id),
      `withdrawal recorded; the distributor's own key pulls deletion notice ${told?.id ?? '(none)'} quoting its ref for him; the next export (all consented) holds ${later.body?.disclosure?.subjects} customers (sim: ${stillConsented}), without him`,
      {
        notice: told?.id ?? null,
        ledgerIndex: queued[0]?.index ?? null,
        nextDisclosure: later.body?.disclosure?.id ?? null,
      },
    );
  },
};
