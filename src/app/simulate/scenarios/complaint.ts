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
 * recipient that read or received his record, each with a ledger proof anyone can verify. The
 * complaint workflow itself (rights module) is not built, and is reported so.
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
    checks.notCovered(
      'traced',
      'the complaint cannot be closed by staff alone: it closes when he confirms, or is escalated with a written explanation after the deadline',
      'complaints and rights requests (rights module) are not built yet',
    );
    checks.notCovered(
      'traced',
      'he is told how to escalate to the regulator',
      'complaints and rights requests (rights module) are not built yet',
    );
    checks.notCovered(
      'traced',
      'the callers claiming to be partners are traced to their source',
      'leak attribution is not built yet; the export above carries canaries unique to its recipient, which would name it if called',
    );
    checks.notCovered(
      'traced',
      'he sees this himself in a portal',
      'the subject portal is not built; the history is served to the privacy team',
    );
  },
};
