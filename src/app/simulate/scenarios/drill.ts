import { formatLeft } from '../../../modules/incidents/index.js';
import { local, principal, type ScenarioContext, type ScenarioDef, setupOrganisation } from '../common.js';
import { incidentFromLedger, officerOf } from '../incident.js';

/**
 * incident-drill: from an alert to a regulator-ready draft, on the simulated clock. A support
 * account reads customers it has no ticket for; the drill injects the alert a detector would raise
 * (a drill's signal, like a fire drill's bell); the privacy officer then works the incident through
 * the API — open from the alert, scope, grade, draft, submit, notify, suspend — and the report
 * gives each clock's margin. Each step a person takes is counted at an assumed 2 minutes of the
 * officer's time (stated, not measured), so the drill shows whether the 15-minute goal holds.
 */
const STEP_MS = 2 * 60_000;

export const incidentDrill: ScenarioDef = {
  name: 'incident-drill',
  title: 'from an alert to a regulator-ready draft, with each clock’s margin',
  seeds: '000, 003, 004',
  policies: ['guarded', 'lax'],
  defaults: { subjects: 500, days: 1 },
  start: local('2025-11-12', '09:00'),
  async run(ctx: ScenarioContext) {
    const { inst, checks } = ctx;
    const { app } = inst;
    const loaded = await setupOrganisation(ctx);
    const officer = officerOf(loaded)!;
    const agentEmp = loaded.org.byRole('support')[0]!;
    const agent = loaded.employees.get(agentEmp.external_id)!;
    const subjects = [...loaded.subjects.values()].slice(0, 120);
    const read = new Set<string>();
    let t = local('2025-11-12', '20:00').getTime();
    for (const s of subjects) {
      t += 5_000;
      inst.clock.set(new Date(t));
      const r = await app.access.read(principal(agent), {
        subjectId: s,
        purpose: 'customer_support',
        fields: ['name', 'mobile'],
      });
      if (r.allowed) read.add(s);
    }
    await app.access.drain();
    t += 60_000;
    inst.clock.set(new Date(t));
    const alertId = await app.database.db.transaction().execute((trx) =>
      app.detect.raise(trx, {
        kind: 'drill.reads_beyond_tickets',
        severity: 'high',
        actor: agent.actor.id,
        attrs: { drill: true },
      }),
    );
    const alertAt = inst.clock.now().getTime();
    // The officer picks it up 20 minutes later; the clocks already run from the alert.
    inst.clock.set(new Date(alertAt + 20 * 60_000));
    let steps = 0;
    const step = () => {
      steps++;
      inst.clock.set(new Date(inst.clock.now().getTime() + STEP_MS));
    };
    step(); // open (from the alert) + scope + draft: three requests in incidentFromLedger
    const inc = await incidentFromLedger(ctx, loaded, {
      title: 'Drill: support account reads beyond its tickets',
      actorId: agent.actor.id,
      expected: read,
      alert: { id: alertId, kind: 'drill.reads_beyond_tickets' },
    });
    if (!inc) return;
    step();
    step();
    const key = officer.apiKey;
    step();
    const graded = await inst.request(key, 'POST', `/v1/incidents/${inc.id}/grade`, { highRisk: true });
    step();
    const act = await inst.request(key, 'POST', `/v1/incidents/${inc.id}/actions`, {
      kind: 'suspend_actor',
      target: agent.actor.id,
    });
    step();
    const drafted = await inst.request(key, 'POST', `/v1/incidents/${inc.id}/notify`, {
      action: 'draft',
      audience: 'regulator',
    });
    const readyAt = inst.clock.now().getTime();
    const personMs = steps * STEP_MS;
    checks.expect(
      'recorded',
      'from the alert to a regulator-ready draft within 15 minutes of a person’s time',
      drafted.status === 200 && drafted.body.notice.draft.missing.length === 0 && personMs <= 15 * 60_000,
      `${steps} steps by the officer (open from the alert with the facts of the drill, scope, review, grade, suspend the account, draft) ≈ ${personMs / 60_000} min at an assumed ${STEP_MS / 60_000} min a step; draft ready ${Math.round((readyAt - alertAt) / 60_000)} min after the alert (20 min of it before the officer picked it up)`,
      { steps, personMinutes: personMs / 60_000, minutesFromAlert: Math.round((readyAt - alertAt) / 60_000) },
    );
    step();
    const submitted = await inst.request(key, 'POST', `/v1/incidents/${inc.id}/notify`, {
      action: 'submit',
      noticeId: drafted.body.notice.id,
    });
    step();
    const sent = await inst.request(key, 'POST', `/v1/incidents/${inc.id}/notify`, {
      action: 'send',
      batchSize: 50,
    });
    const d = (await inst.request(key, 'GET', `/v1/incidents/${inc.id}`)).body as {
      clocks: { name: string; status: string; leftMs: number; dueAt: string }[];
      actions: { kind: string; outcome: string }[];
    };
    checks.expect(
      'recorded',
      'the regulator notice is submitted and the individuals notified through the gateway, each delivery recorded',
      submitted.status === 200 &&
        sent.status === 200 &&
        sent.body.delivery.sent + sent.body.delivery.no_contact === inc.affected,
      `submitted; ${sent.body.delivery?.sent ?? 0} notice(s) sent, ${sent.body.delivery?.no_contact ?? 0} without a contact point, ${sent.body.delivery?.failed ?? 0} failed, in ${sent.body.delivery?.batches ?? 0} batch(es); account ${act.body.outcome === 'done' ? 'suspended' : act.status}; grade ${graded.body.grade}`,
    );
    for (const c of d.clocks)
      checks.expect(
        'recorded',
        `clock ${c.name}: margin`,
        c.status === 'met' || c.status === 'running',
        `${c.status}; ${formatLeft(c.leftMs)} (due ${c.dueAt})`,
        { clock: c.name, status: c.status, marginMs: c.leftMs },
      );
    ctx.organisation.drillSteps = steps;
  },
};
