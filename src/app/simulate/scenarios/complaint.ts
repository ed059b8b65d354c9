import {
  type HistoryBundle,
  type HistoryPage,
  verifyHistory,
  verifyHistoryPage,
} from '../../../modules/rights/index.js';
import { generateWorkload, TELEPHONY_SERVICE } from '../../../modules/sim/index.js';
import {
  DAY_MS,
  entryMatchesLeaf,
  local,
  principal,
  proveLeaves,
  replayWorkload,
  type ScenarioContext,
  type ScenarioDef,
  setupOrganisation,
} from '../common.js';

/**
 * complaint-li-ming (seed 004): a customer keeps getting sales calls from companies claiming to be
 * partners, and complains. What exists today is the investigation's evidence: every actor and
 * recipient that read or received his record, each with a ledger proof anyone can verify, and a
 * per-subject completeness proof; the complaint, filed from his portal, cannot be closed by staff,
 * and after its deadline is escalated with the regulator's channel shown to him.
 */
const WORKLOAD_SCALE = 0.05;

export const complaintLiMing: ScenarioDef = {
  name: 'complaint-li-ming',
  title: 'a customer complains about sales calls from "partners"',
  seeds: '004',
  policies: ['guarded', 'lax'],
  defaults: { subjects: 500, days: 3 },
  start: local('2019-11-01', '09:00'),
  async run(ctx: ScenarioContext) {
    const { inst, opts, checks } = ctx;
    const { app } = inst;
    const loaded = await setupOrganisation(ctx);
    const { org } = loaded;
    const officer = loaded.employees.get(org.byRole('privacy_officer')[0]!.external_id)!;
    const t0 = inst.clock.now().getTime();
    const tExport = t0 + (opts.days + 1) * DAY_MS + 2 * 3_600_000;

    // "Li Ming": a lead of a telemarketer who agreed to telemarketing and to one distributor.
    let li: { i: number; id: string; owner: string; partner: string } | undefined;
    for (let i = 0; i < org.customerCount && !li; i++) {
      const owner = org.ownerOf(i);
      const partner = org.referralPartnerOf(i);
      const id = loaded.subjects.get(org.customer(i).record.external_id);
      if (
        id &&
        owner &&
        partner &&
        org.employee(owner)?.role === 'telemarketing' &&
        org.consentInForce(i, 'telemarketing', null, t0) &&
        org.consentInForce(i, 'partner_referral', partner, t0) &&
        org.consentInForce(i, 'partner_referral', partner, tExport)
      )
        li = { i, id, owner, partner };
    }
    if (!li) {
      checks.failed(
        'traced',
        'the investigation lists who read his record',
        'no suitable customer in this organisation',
      );
      return;
    }
    const expected = new Set<string>();

    // What happens to his record: the organisation's ordinary work, his telemarketer's call, and
    // the referral export to the distributor he agreed to.
    const stats = await replayWorkload(
      ctx,
      loaded,
      generateWorkload({ org, start: new Date(t0 + DAY_MS), days: opts.days, scale: WORKLOAD_SCALE }),
      new Set([li.id]),
    );
    for (const a of stats.readers.get(li.id) ?? []) expected.add(a);
    const tm = loaded.employees.get(li.owner)!;
    inst.clock.set(new Date(t0 + (opts.days + 1) * DAY_MS + 3_600_000));
    const read = await app.access.read(principal(tm), {
      subjectId: li.id,
      purpose: 'telemarketing',
      fields: ['name', 'mobile', 'company'],
    });
    if (read.allowed) expected.add(tm.actor.id);
    const token = read.fields.mobile?.value;
    const tel = loaded.services.get(TELEPHONY_SERVICE)!;
    if (token && read.fields.mobile?.view === 'token') {
      await app.access.resolveToken(principal(tel), { token });
      expected.add(tel.actor.id);
    }
    const partner = loaded.partners.get(li.partner)!;
    inst.clock.set(new Date(tExport));
    const exported = await inst.request(officer.apiKey, 'POST', '/v1/disclosures', {
      recipientId: partner.recipient.id,
      purpose: 'partner_referral',
      fields: ['name', 'mobile', 'company'],
      allConsented: true,
      format: 'csv',
    });
    // The distributor's own key fetches the file: that is when his record leaves (and is read).
    if (exported.status === 201)
      await inst.request(partner.apiKey, 'GET', `/v1/disclosures/${exported.body.disclosure.id}/delivery`);

    // The investigation: who read it (access history) and who received it (disclosures).
    inst.clock.set(new Date(t0 + (opts.days + 2) * DAY_MS));
    const res = await inst.request(officer.apiKey, 'GET', `/v1/subjects/${li.id}/access-history`);
    const events = (res.body?.events ?? []) as {
      actor: string;
      action: string;
      allowed: boolean;
      leafHash: string;
    }[];
    const readers = new Set(events.filter((e) => e.allowed && e.action !== 'disclose').map((e) => e.actor));
    const received = await app.disclosure.receivedBy(li.id);
    const recipients = new Set(received.map((d) => d.recipientId));
    const missing = [...expected].filter((a) => !readers.has(a));
    const names = new Map<string, string>();
    for (const a of [...loaded.employees.values(), ...loaded.services.values()])
      names.set(a.actor.id, a.actor.name);
    const proof = await proveLeaves(
      inst,
      events.map((e) => e.leafHash),
      officer.apiKey,
    );
    const entryOk =
      proof.indexes.length > 0 && (await entryMatchesLeaf(inst, proof.indexes[0]!, events[0]!.leafHash));
    checks.expect(
      'traced',
      'the investigation lists every actor and recipient that read or received his record',
      res.status === 200 &&
        missing.length === 0 &&
        exported.status === 201 &&
        recipients.has(partner.recipient.id) &&
        events.some((e) => e.action === 'disclose'),
      `GET /v1/subjects/:id/access-history → ${events.length} events: ${readers.size} actor(s) read it (${[...readers].map((a) => names.get(a) ?? a).join(', ')}); ${recipients.size} recipient(s) received it (${partner.partner.external_id}, disclosure ${exported.body?.disclosure?.id ?? '—'}); every actor the simulation had read it is listed (${expected.size - missing.length}/${expected.size})`,
      { events: events.length, readers: readers.size, recipients: recipients.size },
    );
    checks.expect(
      'traced',
      'with ledger proofs he or a regulator can verify independently',
      proof.failed === 0 && proof.verified === events.length && entryOk,
      `${proof.verified} of ${events.length} events proved included in the signed checkpoint (size ${proof.size}) using only the checkpoint, the verifier key and the proofs; the ledger entry hashes to its leaf`,
      { checkpointSize: proof.size, root: proof.root, ledgerIndexes: proof.indexes },
    );
    // The complaint, in his portal: what happened, who called, when.
    const session = await app.rights.createSession(li.id);
    const filed = await inst.request(session.token, 'POST', '/v1/portal/complaints', {
      what: 'I keep getting sales calls from companies that say they are your partners.',
      who: 'callers naming a distributor',
      when: 'for the past weeks',
    });
    const complaintId = (filed.body as { complaint?: { id: string } })?.complaint?.id ?? '';
    // Staff try to mark it resolved, as in the seed: refused, for every way of asking.
    const closeTry = await inst.request(officer.apiKey, 'POST', `/v1/complaints/${complaintId}/close`, {});
    const confirmTry = await inst.request(
      officer.apiKey,
      'POST',
      `/v1/portal/complaints/${complaintId}/confirm`,
      {
        resolved: true,
      },
    );
    const responded = await inst.request(officer.apiKey, 'POST', `/v1/complaints/${complaintId}/respond`, {
      text: 'We looked into the calls and found a referral export you had agreed to.',
    });
    const earlyEscalation = await inst.request(
      officer.apiKey,
      'POST',
      `/v1/complaints/${complaintId}/escalate`,
      {
        text: 'We cannot find the source of the calls and refer you to the regulator.',
      },
    );
    const stillOpen = (await app.rights.complaints.get(complaintId)).status;
    checks.expect(
      'traced',
      'the complaint cannot be closed by staff alone: it closes when he confirms, or is escalated with a written explanation after the deadline',
      filed.status === 201 &&
        closeTry.status === 403 &&
        confirmTry.status === 401 &&
        responded.status === 200 &&
        earlyEscalation.status === 409 &&
        stillOpen === 'responded',
      `filed ${complaintId} from his portal session; POST /v1/complaints/:id/close by the privacy officer → ${closeTry.status} ${(closeTry.body as { code?: string })?.code ?? ''}; his confirm route with a staff key → ${confirmTry.status}; a response leaves it "${stillOpen}"; escalation before the deadline → ${earlyEscalation.status}`,
      {
        complaint: complaintId,
        close: closeTry.status,
        confirm: confirmTry.status,
        escalate: earlyEscalation.status,
      },
    );

    // The investigation, with the proofs, and the same history in his portal.
    await app.access.drain();
    await app.ledger.integrate();
    await app.ledger.checkpoint();
    await app.rights.commitSubjects();
    const inv = await inst.request(officer.apiKey, 'GET', `/v1/complaints/${complaintId}/investigation`);
    const invBody = (inv.body ?? {}) as {
      readers?: { actor: string }[];
      recipients?: { recipient: string }[];
      bundle?: HistoryBundle;
    };
    const invReaders = new Set((invBody.readers ?? []).map((r) => r.actor));
    const invMissing = [...expected].filter((a) => !invReaders.has(a));
    const verified = invBody.bundle ? verifyHistory(invBody.bundle, app.ledger.vkey()) : undefined;
    const portal = await inst.request(session.token, 'GET', '/v1/portal/history/download');
    const portalBundle = (portal.body as { bundle?: HistoryBundle })?.bundle;
    const portalOk = portalBundle ? verifyHistory(portalBundle, app.ledger.vkey()).ok : false;
    const cut = portalBundle ? { ...portalBundle, entries: portalBundle.entries.slice(1) } : undefined;
    const cutCaught = cut ? !verifyHistory(cut, app.ledger.vkey()).ok : false;
    // What his portal page shows first: his newest entries, provably the newest (docs/rights.md, Paging).
    const first = await inst.request(session.token, 'GET', '/v1/portal/history?limit=5');
    const firstPage = (first.body as { page?: HistoryPage })?.page;
    const pageOk = firstPage ? verifyHistoryPage(firstPage, app.ledger.vkey()).newest : false;
    checks.expect(
      'traced',
      'the complaint investigation lists every reader and recipient, with a history that verifies independently and is provably complete',
      inv.status === 200 &&
        invMissing.length === 0 &&
        (invBody.recipients ?? []).some((r) => r.recipient === partner.recipient.id) &&
        verified?.ok === true &&
        portalOk &&
        pageOk &&
        cutCaught,
      `GET /v1/complaints/:id/investigation → ${invReaders.size} reader(s), ${(invBody.recipients ?? []).length} recipient(s); every actor the simulation had read it is listed (${expected.size - invMissing.length}/${expected.size}); ${verified?.entries ?? 0} entries verified against the signed checkpoint (size ${verified?.size ?? 0}) and the signed per-subject commitment with only the verifier key (custodian ledger verify-subject, scripts/verify-subject.mjs); his portal serves the same (download) and its first page of 5 verifies on its own as his newest: ${pageOk}; a copy with one entry left out fails: ${cutCaught}`,
      { readers: invReaders.size, entries: verified?.entries ?? 0, size: verified?.size ?? 0 },
    );

    // After the deadline, unresolved: escalation with a written explanation; he sees the channel.
    inst.clock.set(new Date(inst.clock.now().getTime() + 16 * DAY_MS));
    const esc = await inst.request(officer.apiKey, 'POST', `/v1/complaints/${complaintId}/escalate`, {
      text: 'The distributor refused to say where it got your number; we have suspended the referral export and refer the matter to the regulator.',
    });
    // Sessions last 15 minutes: he signs in again to look.
    const later = await app.rights.createSession(li.id);
    const his = await inst.request(later.token, 'GET', '/v1/portal/complaints');
    const mine = (
      (
        his.body as {
          complaints?: {
            id: string;
            status: string;
            escalation: string | null;
            regulator: { channel: string };
          }[];
        }
      )?.complaints ?? []
    ).find((c) => c.id === complaintId);
    checks.expect(
      'traced',
      'he is told how to escalate to the regulator',
      esc.status === 200 &&
        mine?.status === 'escalated' &&
        Boolean(mine?.escalation) &&
        /12377/.test(mine?.regulator.channel ?? ''),
      `after the 15-day deadline the officer escalated with a written explanation; his portal shows "${mine?.status}" and the channel: ${mine?.regulator.channel ?? '—'}`,
      { status: mine?.status ?? null },
    );
    checks.notCovered(
      'traced',
      'the callers claiming to be partners are traced to their source',
      'leak attribution is not built yet; the export above carries canaries unique to its recipient, which would name it if called',
    );
  },
};
