import { bulkScrape } from '../../../modules/sim/index.js';
import { DEFAULT_RATE_LIMITS } from '../../ratelimit.js';
import { local, type ScenarioContext, type ScenarioDef, setupOrganisation } from '../common.js';
import { incidentFromLedger } from '../incident.js';

/**
 * bulk-scrape-2020 (seed 004): insiders drive an employee account with a script to pull records as
 * fast as the API allows. Replayed through the HTTP API at the script's pace (sim: Poisson arrivals
 * at 40 requests per second) on the simulated clock.
 */
const FIELDS = ['name', 'mobile', 'address'];

export const bulkScrape2020: ScenarioDef = {
  name: 'bulk-scrape-2020',
  title: 'a script drives an employee account to pull every record',
  seeds: '004',
  policies: ['guarded', 'lax'],
  defaults: { subjects: 1000, days: 1 },
  start: local('2020-09-01', '09:00'),
  async run(ctx: ScenarioContext) {
    const { inst, opts, checks } = ctx;
    const { app } = inst;
    const loaded = await setupOrganisation(ctx);
    const { org } = loaded;
    const startAt = local('2020-09-02', '20:30');
    const events = [...bulkScrape({ org, start: startAt })];
    const agent = loaded.employees.get(events[0]!.actor)!;
    const key = agent.apiKey;
    const status = new Map<number, number>();
    const got = new Set<string>();
    for (const ev of events) {
      const id = loaded.subjects.get(ev.subject);
      if (!id) continue;
      inst.clock.set(ev.at);
      const res = await inst.request(
        key,
        'GET',
        `/v1/subjects/${id}?purpose=${ev.purpose}&fields=${FIELDS.join(',')}`,
      );
      status.set(res.status, (status.get(res.status) ?? 0) + 1);
      if (res.status === 200) got.add(id);
    }
    const seconds = (Date.parse(events.at(-1)!.at) - Date.parse(events[0]!.at)) / 1000;
    const limited = status.get(429) ?? 0;
    const answered = [...status].reduce((sum, [s, c]) => sum + (s === 429 ? 0 : c), 0);
    const { rate, burst } = DEFAULT_RATE_LIMITS.employee;
    const bound = Math.ceil(burst + rate * (seconds + 1));
    const codes = [...status].map(([s, c]) => `${s}×${c}`).join(', ');
    ctx.organisation.scriptRequests = events.length;

    checks.expect(
      'prevented',
      'rate limits stop the account within a bounded number of records',
      limited > 0 && got.size <= bound,
      `${events.length} requests in ${seconds.toFixed(0)} s of script time (${codes}); ${got.size} records returned, within the bound of ${bound} = burst ${burst} + ${rate}/s × duration for an employee key`,
      { requests: events.length, records: got.size, rateLimited: limited, bound },
    );
    if (opts.policy === 'guarded') {
      let outside = 0;
      for (const id of got)
        if (!(await app.actors.isAssigned(agent.actor.id, id, inst.clock.now()))) outside++;
      checks.expect(
        'prevented',
        'under "guarded" the script gets only the customers whose tickets he holds',
        outside === 0,
        `${got.size} records returned, ${outside} of them outside his tickets; ${status.get(403) ?? 0} reads denied (assignment required)`,
        { denied: status.get(403) ?? 0 },
      );
    }

    await app.access.drain();
    await app.attempts.drain();
    const logged = await app.access.actorEvents(agent.actor.id, { limit: 100_000 });
    // Refused attempts (429s, coalesced per second) are evidence too, but reached no decision.
    const recorded = logged.filter((e) => e.action !== 'attempt');
    const attempts = logged.filter((e) => e.action === 'attempt').length;
    const scope = new Set(recorded.filter((e) => e.allowed && e.subject).map((e) => e.subject!));
    const same = scope.size === got.size && [...got].every((s) => scope.has(s));
    checks.expect(
      'traced',
      'the scope is exactly the records read, from the ledger',
      same && recorded.length === answered,
      `${recorded.length} access events for the account (every request that reached a decision: ${answered}; rate-limited ones reached none and are recorded as ${attempts} coalesced attempt event(s)); the distinct customers read per the ledger (${scope.size}) are exactly the ${got.size} returned`,
      { events: recorded.length, scope: scope.size, lastLeaf: recorded.at(-1)?.leafHash ?? null },
    );
    const alerts = (await app.detect.list({ actorId: agent.actor.id, limit: 100 })).filter(
      (a) => a.kind !== 'canary.tripped',
    );
    if (alerts.length)
      checks.held('detected', 'the detector flags the account', `${alerts.length} alert(s)`, {
        alerts: alerts.map((a) => a.id),
      });
    else
      checks.notCovered(
        'detected',
        'the detector stops the account within a bounded number of records',
        'no rate or volume anomaly rule exists yet; only the per-key rate limit and (guarded) the assignment condition and daily quota hold it back',
      );
    const after = await app.actors.get(agent.actor.id);
    const suspended = (await app.detect.suspensions(true)).some(
      (s) => s.actor === agent.actor.id && s.mode === 'suspend',
    );
    if (after.status === 'disabled' || suspended)
      checks.held('prevented', 'the account is suspended', suspended ? 'suspended by detection' : 'disabled');
    else
      checks.notCovered(
        'prevented',
        'the account is suspended',
        'nothing suspends an account automatically yet (an administrator can: POST /v1/actors/:id/disable)',
      );
    await incidentFromLedger(ctx, loaded, {
      title: 'Scripted bulk reads through an employee account',
      actorId: agent.actor.id,
      expected: got,
      alert: alerts[0] ? { id: alerts[0].id, kind: alerts[0].kind } : undefined,
    });
  },
};
