import type { ReadResult } from '../../../modules/access/index.js';
import { type HistoryBundle, verifyHistory } from '../../../modules/rights/index.js';
import { type CustomerRecord, TELEPHONY_SERVICE, telemarketerLeak } from '../../../modules/sim/index.js';
import {
  countsOf,
  DAY_MS,
  ledgerEntriesOfKind,
  local,
  localDate,
  principal,
  proveLeaves,
  type ScenarioDef,
  setupOrganisation,
} from '../common.js';
import { incidentFromLedger } from '../incident.js';

/**
 * telemarketer-2019 (seeds 000, 001, 002, 004): a telemarketer reads contact details beyond his
 * portfolio over several days around Singles' Day and hands a list to a distributor's staff member,
 * who cold-calls the customers naming them and their company; some complain.
 */
const QUOTA = 200;
const LEAD_FIELDS = ['name', 'mobile', 'company'];

const digits = (s: string) => s.replace(/\D/g, '').replace(/^86(?=1\d{10}$)/, '');

export const telemarketer2019: ScenarioDef = {
  name: 'telemarketer-2019',
  title: 'a telemarketer reads beyond his portfolio and hands a list to a distributor',
  seeds: '000, 001, 002, 004',
  policies: ['guarded', 'lax'],
  defaults: { subjects: 1000, days: 4 },
  // One telemarketer per 1,000 customers leaves him about 360 consented leads: enough to go past
  // the guarded policy's daily quota of 200 in one day.
  minSubjects: 800,
  start: local('2019-11-01', '09:00'),
  async run(ctx) {
    const { inst, opts, checks } = ctx;
    const { app } = inst;
    const n = opts.subjects;
    const loaded = await setupOrganisation(ctx, {
      staff: { telemarketing: Math.max(1, Math.floor(n / 1000)) },
    });
    const { org } = loaded;
    const admin = loaded.admin;
    const start = local('2019-11-08');
    const days = opts.days;
    const maxOwn = Math.max(...org.byRole('telemarketing').map((e) => org.portfolioSize(e.external_id)));
    const perDay = Math.max(1, Math.min(250, Math.floor(((org.customerCount - maxOwn) * 0.5) / days)));
    const chosen = telemarketerLeak({ org, start, days, perDay }).telemarketer;
    const T = loaded.employees.get(chosen.external_id)!;
    const tel = loaded.services.get(TELEPHONY_SERVICE)!;
    const approver = loaded.employees.get(org.byRole('approver')[0]!.external_id)!;
    const officer = loaded.employees.get(org.byRole('privacy_officer')[0]!.external_id)!;
    const me = principal(T);
    ctx.organisation.telemarketerPortfolio = org.portfolioSize(T.employee.external_id);

    // Every attempt he makes, through HTTP or the services, to compare with the ledger at the end.
    const attempts = { total: 0, denied: 0 };
    let plainMobiles = 0;
    const count = (allowed: boolean, fields?: ReadResult['fields']) => {
      attempts.total++;
      if (!allowed) attempts.denied++;
      if (fields?.mobile?.view === 'plain') plainMobiles++;
    };
    // Every record his reads returned, from the answers themselves (the incident's scope must equal it).
    const recordsRead = new Set<string>();
    const readAs = async (subjectId: string, at: string | Date) => {
      inst.clock.set(at);
      const r = await app.access.read(me, { subjectId, purpose: 'telemarketing', fields: LEAD_FIELDS });
      count(r.allowed, r.fields);
      if (r.allowed) recordsRead.add(subjectId);
      return r;
    };
    const httpRead = async (
      key: string,
      subjectId: string,
      purpose = 'telemarketing',
      fields = LEAD_FIELDS,
    ) => {
      const res = await inst.request(
        key,
        'GET',
        `/v1/subjects/${subjectId}?purpose=${purpose}&fields=${fields.join(',')}`,
      );
      if (key === T.apiKey && res.status === 200) recordsRead.add(subjectId);
      return res;
    };

    /** His consented leads at `t` (sim's record of consent), as subject ids with their index. */
    const consentedLeads = (t: Date) => {
      const out: { i: number; id: string }[] = [];
      for (const i of org.portfolio(T.employee.external_id)) {
        const id = loaded.subjects.get(org.customer(i).record.external_id);
        if (id && org.consentInForce(i, 'telemarketing', null, t.getTime())) out.push({ i, id });
      }
      return out;
    };

    // --- lax: canaries in his portfolio (they look like any lead; their numbers are monitored) ---
    const canaryRecords: CustomerRecord[] = [];
    const canarySubjects = new Map<string, string>();
    // Everything runs in time order on the simulated clock (the day before the leak, then the leak).
    const dayBefore = start.getTime() - DAY_MS;
    if (opts.policy === 'lax') {
      inst.clock.set(new Date(dayBefore + 9 * 3_600_000));
      const ids = await app.disclosure.canaries.plantPortfolioCanaries(T.actor.id, 2);
      await app.actors.assign(
        ids.map((subjectId) => ({ actor: T.actor.id, subjectId })),
        { by: admin.actor.id },
      );
      // He works his leads, the canaries among them (plain under "lax").
      for (const [k, id] of ids.entries()) {
        const r = await readAs(id, new Date(dayBefore + 16 * 3_600_000 + k * 60_000));
        const v = Object.fromEntries(Object.entries(r.fields).map(([f, x]) => [f, x.value ?? '']));
        const externalId = (await app.vault.get(id)).externalId;
        canarySubjects.set(externalId, id);
        canaryRecords.push({
          external_id: externalId,
          name: v.name ?? '',
          mobile: v.mobile ?? '',
          company: v.company ?? '',
          email: '',
          id_number: '',
          address: '',
        });
      }
    }
    const leak = telemarketerLeak({
      org,
      start,
      days,
      perDay,
      telemarketer: T.employee.external_id,
      ...(canaryRecords.length ? { canaries: canaryRecords } : {}),
    });

    // --- guarded: a read of his own lead, and the call through the contact token ----------------
    const day1 = new Date(dayBefore + 10 * 3_600_000);
    if (opts.policy === 'guarded') {
      const lead = consentedLeads(day1)[0];
      if (!lead) {
        checks.failed(
          'prevented',
          'he sees masked names and a contact token',
          'no consented lead in his portfolio',
        );
      } else {
        const truth = org.customer(lead.i).record;
        inst.clock.set(day1);
        const res = await httpRead(T.apiKey, lead.id);
        const f = res.body?.fields ?? {};
        count(res.status === 200, f);
        const token: string | undefined = f.mobile?.value;
        checks.expect(
          'prevented',
          'he sees masked names and the phone number only as a contact token',
          res.status === 200 &&
            f.name?.view === 'masked' &&
            f.name?.value !== truth.name &&
            f.mobile?.view === 'token' &&
            typeof token === 'string' &&
            token.startsWith('ctt_') &&
            !token.includes(truth.mobile) &&
            (f.company?.view ?? 'masked') === 'masked',
          `GET /v1/subjects/:id as ${T.actor.name} → ${res.status}: name ${f.name?.view}, mobile ${f.mobile?.view}, company ${f.company?.view}`,
          { leaf: res.body?.evidence ?? null },
        );
        if (token) {
          inst.clock.set(new Date(day1.getTime() + 30_000));
          const dial = await inst.request(tel.apiKey, 'POST', '/v1/contact/resolve', { token });
          const own = await inst.request(T.apiKey, 'POST', '/v1/contact/resolve', { token });
          count(own.status === 200);
          checks.expect(
            'prevented',
            'he calls through the token: the telephony integration resolves it, he cannot',
            dial.status === 200 &&
              digits(String(dial.body?.value)) === digits(truth.mobile) &&
              own.status === 403,
            `telephony POST /v1/contact/resolve → ${dial.status} (the number, dialled); the telemarketer → ${own.status} ${own.body?.code ?? ''}`,
            { leaf: dial.body?.evidence ?? null },
          );
        }
      }
    }

    // --- his reads beyond the portfolio, replayed at sim's times ---------------------------------
    // (A customer the vault refused at import is not in the deployment, so not among the reads.)
    const outside = leak.reads.filter(
      (r) => !canarySubjects.has(r.subject) && loaded.subjects.has(r.subject),
    );
    let allowed = 0;
    let denied = 0;
    let viaHttp = 0;
    let httpDenied = 0;
    const reasons = new Map<string, number>();
    const sampleLeaves: string[] = [];
    // What he actually obtained: the list he hands over holds only these (and the canaries).
    const obtained = new Set<string>(canarySubjects.keys());
    for (const ev of leak.reads) {
      const subjectId = canarySubjects.get(ev.subject) ?? loaded.subjects.get(ev.subject);
      if (!subjectId) continue;
      if (viaHttp < 3 && !canarySubjects.has(ev.subject)) {
        // A few through the API, as he would make them.
        viaHttp++;
        inst.clock.set(ev.at);
        const res = await httpRead(T.apiKey, subjectId);
        count(res.status === 200, res.body?.fields);
        if (res.status === 200) {
          allowed++;
          obtained.add(ev.subject);
        } else {
          denied++;
          httpDenied++;
        }
        continue;
      }
      const r = await readAs(subjectId, ev.at);
      if (canarySubjects.has(ev.subject)) continue;
      if (r.allowed) {
        allowed++;
        obtained.add(ev.subject);
      } else {
        denied++;
        for (const x of r.reasons) reasons.set(x, (reasons.get(x) ?? 0) + 1);
      }
      if (sampleLeaves.length < 5) sampleLeaves.push(r.evidence);
    }
    const firstRead = outside[0]?.at ?? start.toISOString();
    if (opts.policy === 'guarded') {
      checks.expect(
        'prevented',
        'reading outside his portfolio is denied',
        // Denied by the assignment condition, or earlier by detection's approval ladder.
        allowed === 0 && denied === outside.length,
        `${denied} of ${outside.length} out-of-portfolio reads over ${days} day(s) denied (${httpDenied} of them through HTTP, 403); reasons: ${countsOf(reasons)}`,
        { attempts: outside.length, denied, leaves: sampleLeaves },
      );
      checks.expect(
        'prevented',
        'the list he could hand over holds no phone number',
        plainMobiles === 0,
        `${plainMobiles} plain mobile numbers in all of his responses; what he got were masked names and contact tokens`,
      );
    } else {
      checks.expect(
        'recorded',
        'under "lax" his out-of-portfolio reads succeed (prevention is off), each one recorded',
        // Prevention is off; what stops him is detection (approval required, then suspension).
        allowed > 0 &&
          allowed + (reasons.get('DETECT_APPROVAL_REQUIRED') ?? 0) + (reasons.get('ACTOR_SUSPENDED') ?? 0) >=
            outside.length,
        `${allowed} of ${outside.length} out-of-portfolio reads allowed over ${days} day(s); the rest stopped by detection (${countsOf(reasons)})`,
        { allowed, leaves: sampleLeaves },
      );
      const alerts = (await app.detect.list({ actorId: T.actor.id, limit: 1000 })).filter(
        (a) =>
          a.kind !== 'canary.tripped' && localDate(new Date(a.createdAt)) === localDate(new Date(firstRead)),
      );
      if (alerts.length > 0)
        checks.held('detected', 'an alert names him the same day', `${alerts.length} alert(s)`, {
          alerts: alerts.map((a) => a.id),
        });
      else
        checks.notCovered(
          'detected',
          'an alert names him the same day',
          `no anomaly rule for out-of-portfolio reads exists yet (detect raises alerts for canary trips and break-glass only); ${allowed} reads beyond his portfolio raised no alert`,
        );
    }

    ctx.log(`replayed ${outside.length} reads beyond his portfolio`);

    // --- guarded: past the daily quota only with an approval --------------------------------------
    if (opts.policy === 'guarded') {
      const qday = new Date(start.getTime() + days * DAY_MS + 9.5 * 3_600_000);
      // Detection put him under approval for the reads above; an investigator reviews and lifts it,
      // so this leg shows the quota's own gate.
      await app.detect
        .reinstate(T.actor.id, approver.actor.id, 'reviewed: quota leg of the scenario')
        .catch(() => 0);
      const leads = consentedLeads(qday);
      let ok = 0;
      let unexpected = 0;
      let stop: ReadResult | undefined;
      let k = 0;
      for (; k < leads.length && !stop; k++) {
        const r = await readAs(leads[k]!.id, new Date(qday.getTime() + k * 15_000));
        if (r.allowed) ok++;
        else if (r.reasons.includes('QUOTA_EXCEEDED')) stop = r;
        else unexpected++;
      }
      const next = leads[k];
      const after = leads[k + 1];
      if (!stop || !next || !after) {
        checks.failed(
          'prevented',
          'going past his daily quota needs an approval',
          `quota not reached: ${leads.length} consented leads, ${ok} reads allowed, ${unexpected} denied for another reason`,
        );
      } else {
        inst.clock.set(new Date(qday.getTime() + k * 15_000));
        const over = await httpRead(T.apiKey, next.id);
        count(over.status === 200);
        const req = await inst.request(T.apiKey, 'POST', '/v1/approvals', {
          purpose: 'telemarketing',
          subjects: 20,
          reason: "Singles' Day follow-up calls to my own leads",
        });
        inst.clock.set(new Date(qday.getTime() + k * 15_000 + 600_000));
        const decision = await inst.request(
          approver.apiKey,
          'POST',
          `/v1/approvals/${req.body?.id}/decision`,
          {
            approve: true,
          },
        );
        inst.clock.set(new Date(qday.getTime() + k * 15_000 + 660_000));
        const again = await httpRead(T.apiKey, next.id);
        count(again.status === 200, again.body?.fields);
        checks.expect(
          'prevented',
          'going past his daily quota needs an approval',
          ok === QUOTA &&
            unexpected === 0 &&
            stop.remedy === 'request_approval' &&
            over.status === 403 &&
            over.body?.code === 'ACCESS_QUOTA_EXCEEDED' &&
            req.status === 201 &&
            decision.status === 200 &&
            decision.body?.status === 'approved' &&
            again.status === 200 &&
            (again.body?.reasons ?? []).includes('APPROVAL_USED'),
          `${ok} leads read, the next denied (QUOTA_EXCEEDED, remedy request_approval; HTTP ${over.status} ${over.body?.code}); approval ${req.body?.id} requested by him, granted by ${approver.actor.name} (${decision.body?.status}); the read then went through (${again.status}, ${(again.body?.reasons ?? []).join(',')})`,
          {
            quota: QUOTA,
            approval: req.body?.id ?? null,
            denialLeaf: stop.evidence,
            approvedLeaf: again.body?.evidence ?? null,
          },
        );
      }
    }

    // --- lax: the distributor calls the list; calls to canaries trip -------------------------------
    if (opts.policy === 'lax') {
      // The organisation holds the canaries' lines (their numbers look like anyone's); its
      // telephony gateway reports the calls that reach them.
      const held = new Set(canaryRecords.map((r) => digits(r.mobile)));
      // Detection stops him part-way: the distributor calls only the customers he obtained.
      const calls = leak.calls.filter((c) => obtained.has(c.external_id));
      const complaintsFiled = leak.complaints.filter((c) => obtained.has(c.external_id));
      const trips: string[] = [];
      for (const c of calls) {
        if (!held.has(digits(c.mobile))) continue;
        inst.clock.set(c.at);
        const from = org.partner(c.partner)?.staff.find((s) => s.id === c.caller)?.mobile;
        const res = await inst.request(tel.apiKey, 'POST', '/v1/canaries/trips', {
          channel: 'call',
          contact: c.mobile,
          at: c.at,
          ...(from ? { from } : {}),
        });
        if (res.status === 202 && res.body?.matched) trips.push(res.body.tripId);
      }
      const alerts = (await app.detect.list({ kind: 'canary.tripped', limit: 1000 })).filter((a) =>
        trips.includes(String(a.attrs.trip)),
      );
      const raised = await ledgerEntriesOfKind(inst, 'alert.raised');
      const alertLeaves = raised.filter((e) => alerts.some((a) => a.id === e.attrs.alert));
      checks.expect(
        'traced',
        'the canaries in his view are called by the distributor, which trips them and names him outright',
        canaryRecords.length > 0 &&
          trips.length > 0 &&
          alerts.length === trips.length &&
          alerts.every((a) => a.actor === T.actor.id && a.attrs.unique_to_kind === 'actor'),
        `${canaryRecords.length} canaries planted in his portfolio went onto his list; ${trips.length} call(s) to them tripped; every alert names ${T.actor.name} (${T.actor.id})`,
        {
          alerts: alerts.map((a) => a.id),
          trips,
          ledgerIndexes: alertLeaves.map((e) => e.index),
          leaves: alertLeaves.map((e) => e.leafHash),
        },
      );

      // Complaints: the trace would rank him; what exists is each complainant's access history.
      const complainants = complaintsFiled.length
        ? complaintsFiled.map((c) => c.external_id)
        : calls
            .filter((c) => !canarySubjects.has(c.external_id))
            .map((c) => c.external_id)
            .slice(0, 3);
      let named = 0;
      const historyLeaves: string[] = [];
      /** Per complainant, the leaf of a read of his by the telemarketer (for the portal check). */
      const theirs = new Map<string, string>();
      for (const ext of complainants) {
        const id = loaded.subjects.get(ext);
        if (!id) continue;
        const res = await inst.request(officer.apiKey, 'GET', `/v1/subjects/${id}/access-history`);
        const mine = (
          (res.body?.events ?? []) as { actor: string; allowed: boolean; leafHash: string }[]
        ).filter((e) => e.actor === T.actor.id && e.allowed);
        if (mine.length) {
          named++;
          historyLeaves.push(mine[0]!.leafHash);
          theirs.set(id, mine[0]!.leafHash);
        }
      }
      const proof = await proveLeaves(inst, historyLeaves, officer.apiKey);
      checks.expect(
        'traced',
        "each complainant's access history names him, with ledger proofs",
        complainants.length > 0 && named === complainants.length && proof.failed === 0,
        `${complaintsFiled.length} complaint(s)${complaintsFiled.length ? '' : ' in this run (3% of those called complain); the first 3 customers called stand in'}; ${named} of ${complainants.length} histories (GET /v1/subjects/:id/access-history) list a read by ${T.actor.name}; ${proof.verified} inclusion proof(s) verified against the signed checkpoint of size ${proof.size}`,
        { ledgerIndexes: proof.indexes, checkpointSize: proof.size },
      );
      // Each complainant, in his portal: the read by the telemarketer is in his own history, which
      // verifies with the log's public key alone and is provably complete.
      await app.access.drain();
      await app.ledger.integrate();
      await app.ledger.checkpoint();
      await app.rights.commitSubjects();
      let seen = 0;
      let complete = 0;
      for (const [id, leaf] of theirs) {
        const session = await app.rights.createSession(id);
        const res = await inst.request(session.token, 'GET', '/v1/portal/history/download');
        const body = res.body as { events?: { leafHash: string }[]; bundle?: HistoryBundle } | undefined;
        if (body?.events?.some((e) => e.leafHash === leaf)) seen++;
        if (body?.bundle && verifyHistory(body.bundle, app.ledger.vkey()).ok) complete++;
      }
      checks.expect(
        'traced',
        'the complainants can see in the portal who read their record and when',
        theirs.size > 0 && seen === theirs.size && complete === theirs.size,
        `${seen} of ${theirs.size} complainants find his read in their own portal history (GET /v1/portal/history/download, a subject session); ${complete} of those histories verify as complete against the signed checkpoint and per-subject commitment with the log's public key alone`,
        { complainants: theirs.size, seen, complete },
      );
      // The trace: the complaints (who was called, when, what the caller knew) rank the readers.
      const byExt = new Map(calls.map((c) => [c.external_id, c]));
      const complaints = complainants.map((ext) => {
        const call = byExt.get(ext);
        return {
          externalId: ext,
          at: call?.at ?? inst.clock.now().toISOString(),
          knew: ['name', 'mobile', ...(call?.mentions.includes('company') ? ['company'] : [])],
          companyNamed: call?.mentions.includes('company') ?? false,
        };
      });
      const traced = await app.trace.run({ complaints, by: officer.actor.id });
      const first = traced.candidates[0];
      checks.expect(
        'traced',
        'the trace ranks him first with a stated confidence',
        first?.key === `actor:${T.actor.id}`,
        `trace ${traced.id} from ${complaints.length} complaint(s): #1 ${first?.key ?? 'nobody'}, LLR ${first?.llr.toFixed(1) ?? '-'} nats, p = 10^${first?.log10P.toFixed(1) ?? '0'} (${first?.verdict ?? ''}); ${traced.summary.candidates} candidate(s) read a complainant`,
        { trace: traced.id, log10P: first?.log10P ?? null, llr: first?.llr ?? null },
      );
      const byTrips = await app.trace.run({ trips: true, by: officer.actor.id });
      const tripTop = byTrips.candidates[0];
      checks.expect(
        'traced',
        'the trace from the canary trips names him outright',
        tripTop?.key === `actor:${T.actor.id}` && tripTop.canaryHits.length > 0 && tripTop.log10P < -6,
        `trace ${byTrips.id} from the canary trips: #1 ${tripTop?.key ?? 'nobody'} with ${tripTop?.canaryHits.length ?? 0} canary hit(s), p = 10^${tripTop?.log10P.toFixed(1) ?? '0'}`,
        { trace: byTrips.id, log10P: tripTop?.log10P ?? null },
      );
    }

    // --- always -------------------------------------------------------------------------------------
    ctx.log('checking the ledger');
    await app.access.drain();
    const events = await app.access.actorEvents(T.actor.id, { limit: 100_000 });
    const deniedEvents = events.filter((e) => !e.allowed).length;
    const proof = await proveLeaves(
      inst,
      events.map((e) => e.leafHash),
      officer.apiKey,
    );
    checks.expect(
      'recorded',
      'every attempt is in the ledger, denied ones included',
      events.length === attempts.total &&
        deniedEvents === attempts.denied &&
        proof.verified === events.length,
      `${attempts.total} attempts by ${T.actor.name} (${attempts.denied} denied) → ${events.length} access events (${deniedEvents} denied), ${proof.verified} of them proved included in the signed checkpoint of size ${proof.size}`,
      {
        checkpointSize: proof.size,
        root: proof.root,
        firstIndexes: proof.indexes.slice(0, 5),
        lastLeaf: events.at(-1)?.leafHash ?? null,
      },
    );
    const assignedOutside = new Set<string>();
    for (const e of events)
      if (e.allowed && e.subject && !(await app.actors.isAssigned(T.actor.id, e.subject, new Date(e.at))))
        assignedOutside.add(e.subject);
    checks.expect(
      'traced',
      'the affected customers can be counted from the ledger',
      opts.policy === 'guarded' ? assignedOutside.size === 0 : assignedOutside.size === allowed,
      `${assignedOutside.size} distinct customers outside his portfolio were read by him (access events, each with its leaf hash)`,
      { affected: assignedOutside.size },
    );
    const named = (await app.detect.list({ actorId: T.actor.id, limit: 1000 }))[0];
    await incidentFromLedger(ctx, loaded, {
      title: 'Telemarketing employee passed customer contact details to a distributor',
      actorId: T.actor.id,
      expected: recordsRead,
      alert: named ? { id: named.id, kind: named.kind } : undefined,
    });
  },
};
