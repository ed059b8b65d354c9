import type { Principal } from '../../../lib/principal.js';
import {
  externalId,
  generateWorkload,
  localWeekday,
  Rng,
  streamKey,
  TELEPHONY_SERVICE,
  type WorkloadEvent,
} from '../../../modules/sim/index.js';
import {
  DAY_MS,
  local,
  principal,
  type ScenarioContext,
  type ScenarioDef,
  setupOrganisation,
} from '../common.js';

/**
 * detection: a month of the synthetic organisation's normal work with seeded insiders of every
 * pattern the detectors look for. Their actors, onsets and intensities come from the seed. The
 * insiders' reads go through the same read path as everyone's; the detectors see only access
 * events (the labels stay in this file, used to score the run afterwards).
 */
export const PATTERNS = [
  'out_of_portfolio',
  'bulk_scrape',
  'burst',
  'off_hours',
  'enumeration',
  'lookup_fishing',
  'tokens_undialed',
  'denied_spike',
  'service_pattern',
  'new_account',
  'low_and_slow',
] as const;
export type Pattern = (typeof PATTERNS)[number];

const HOUR = 3_600_000;

interface Insider {
  pattern: Pattern;
  /** Staff number, service name, or a new account's name. */
  who: string;
  onset: number;
  intensity: number;
  /** Filled while running. */
  actorId?: string;
  firstBad?: number;
  badAllowed: number;
  badAllowedBeforeSuspension: number;
  suspendedAt?: number;
}

type Step =
  | { t: number; kind: 'work'; ev: WorkloadEvent }
  | {
      t: number;
      kind: 'bad';
      ins: Insider;
      op: 'read' | 'lookup' | 'batch' | 'new';
      subjects: string[];
      purpose: string;
      fields: readonly string[];
      value?: string;
    };

const LEAD = ['name', 'mobile', 'company'] as const;

export const detectionScenario: ScenarioDef = {
  name: 'detection',
  title: 'a month of normal work with seeded insiders of every pattern; who is caught, how fast',
  seeds: '001, 004',
  policies: ['guarded', 'lax'],
  defaults: { subjects: 2000, days: 30 },
  start: local('2021-03-01', '00:00'),
  async run(ctx: ScenarioContext) {
    const { inst, opts, checks } = ctx;
    const { app } = inst;
    const loaded = await setupOrganisation(ctx, {
      staff: { telemarketing: 8, support: 4, billing: 2 },
    });
    const { org } = loaded;
    const start = local('2021-03-02', '00:00').getTime();
    const days = opts.days;
    const rng = new Rng(streamKey(opts.seed, 'scenario:detection'), 0);

    // --- the insiders (labels: never shown to the detector) ---------------------------------------
    const used = new Set<string>();
    const pick = (role: string): string => {
      const pool = org
        .byRole(role as never)
        .map((e) => e.external_id)
        .filter((id) => !used.has(id));
      const id = pool[rng.int(pool.length)]!;
      used.add(id);
      return id;
    };
    const onsetDay = () => Math.min(days - 1, 3 + rng.int(Math.max(1, days - 4)));
    const insiders: Insider[] = [];
    const add = (pattern: Pattern, who: string, lo: number, hi: number) =>
      insiders.push({
        pattern,
        who,
        onset: start + onsetDay() * DAY_MS,
        intensity: rng.range(lo, hi),
        badAllowed: 0,
        badAllowedBeforeSuspension: 0,
      });
    add('out_of_portfolio', pick('telemarketing'), 40, 150);
    add('bulk_scrape', pick('support'), 50, 1000); // requests per second
    add('burst', pick('billing'), 1000, 3000); // records in about a second
    add('off_hours', pick('telemarketing'), 25, 80);
    add('enumeration', pick('support'), 40, 90);
    add('lookup_fishing', pick('telemarketing'), 50, 150);
    if (opts.policy === 'guarded') add('tokens_undialed', pick('telemarketing'), 1, 1);
    add('denied_spike', pick('support'), 30, 80);
    add('service_pattern', TELEPHONY_SERVICE, 10, 60);
    add('new_account', `new.support.${opts.seed}`, 60, 250);
    add('low_and_slow', pick('telemarketing'), 12, 36);
    for (const i of insiders)
      if (i.pattern === 'service_pattern') i.onset = Math.max(i.onset, start + 5 * DAY_MS);
      else if (i.pattern === 'tokens_undialed' && localWeekday(i.onset + DAY_MS / 2) === 0)
        // Telesales rests on Sundays: his silence starts on a working day.
        i.onset += i.onset + DAY_MS < start + days * DAY_MS ? DAY_MS : -DAY_MS;

    const customers = org.customerCount;
    const ext = (i: number) => externalId(i);
    const outsideOf = (who: string, n: number): string[] => {
      const own = new Set<number>();
      const size = org.portfolioSize(who);
      for (let k = 0; k < size; k++) own.add(org.portfolioAt(who, k));
      const out: string[] = [];
      const seen = new Set<number>();
      while (out.length < n && seen.size < customers) {
        const i = rng.int(customers);
        if (own.has(i) || seen.has(i)) continue;
        seen.add(i);
        out.push(ext(i));
      }
      return out;
    };
    const inHours = (day: number, fromH: number, toH: number) =>
      start + day * DAY_MS + fromH * HOUR + rng.int((toH - fromH) * HOUR);

    // --- their steps --------------------------------------------------------------------------
    const steps: Step[] = [];
    const silenced = new Set<string>(); // tokens_undialed: his reads are never followed by a call
    for (const ins of insiders) {
      const d0 = Math.round((ins.onset - start) / DAY_MS);
      const bad = (
        t: number,
        op: Extract<Step, { kind: 'bad' }>['op'],
        subjects: string[],
        purpose: string,
        fields: readonly string[],
        value?: string,
      ) => steps.push({ t, kind: 'bad', ins, op, subjects, purpose, fields, ...(value ? { value } : {}) });
      switch (ins.pattern) {
        case 'out_of_portfolio':
        case 'low_and_slow':
          for (let d = d0; d < days; d++)
            for (const s of outsideOf(ins.who, ins.intensity))
              bad(inHours(d, 9, 21), 'read', [s], 'telemarketing', LEAD);
          break;
        case 'bulk_scrape': {
          // A script at full speed: batches of 100–500 or single reads over 4 connections.
          let t = inHours(d0, 19, 23);
          const batch = rng.chance(0.5) ? rng.range(100, 500) : 1;
          const order = outsideOf(ins.who, 3000);
          for (let k = 0; k < order.length; k += batch) {
            bad(t, batch > 1 ? 'batch' : 'read', order.slice(k, k + batch), 'customer_support', [
              'name',
              'mobile',
              'address',
            ]);
            t += Math.max(1, Math.round((1000 * batch) / ins.intensity));
          }
          break;
        }
        case 'burst': {
          let t = inHours(d0, 10, 17);
          for (const s of outsideOf(ins.who, ins.intensity)) {
            bad(t, 'read', [s], 'billing', ['name', 'address', 'company']);
            t += rng.int(2);
          }
          break;
        }
        case 'off_hours': {
          // His own leads, read at night.
          const size = org.portfolioSize(ins.who);
          for (let k = 0; k < ins.intensity; k++)
            bad(
              start + d0 * DAY_MS + 23 * HOUR + rng.int(5 * HOUR),
              'read',
              [ext(org.portfolioAt(ins.who, rng.int(size)))],
              'telemarketing',
              LEAD,
            );
          break;
        }
        case 'enumeration': {
          // Subject ids in ascending order (no person works that way), one every half minute.
          const ids = [...loaded.subjects.values()].sort();
          const from = rng.int(Math.max(1, ids.length - ins.intensity));
          const byId = new Map([...loaded.subjects].map(([e, s]) => [s, e]));
          let t = inHours(d0, 9, 16);
          for (const id of ids.slice(from, from + ins.intensity)) {
            bad(t, 'read', [byId.get(id)!], 'customer_support', ['name', 'mobile']);
            t += 20_000 + rng.int(20_000);
          }
          break;
        }
        case 'lookup_fishing': {
          let t = inHours(d0, 10, 17);
          for (let k = 0; k < ins.intensity; k++) {
            const value = `13${String(rng.int(1e9)).padStart(9, '0')}`;
            bad(t, 'lookup', [], 'telemarketing', ['mobile'], value);
            t += 5_000 + rng.int(30_000);
          }
          break;
        }
        case 'tokens_undialed':
          silenced.add(ins.who);
          // His first read of the onset day marks the start.
          bad(
            inHours(d0, 9, 10),
            'read',
            outsideOf(ins.who, 0).concat(ext(org.portfolioAt(ins.who, 0))),
            'telemarketing',
            LEAD,
          );
          break;
        case 'denied_spike': {
          let t = inHours(d0, 10, 16);
          for (const s of outsideOf(ins.who, ins.intensity)) {
            bad(t, 'read', [s], 'billing', ['name', 'address']);
            t += 10_000 + rng.int(50_000);
          }
          break;
        }
        case 'service_pattern': {
          let t = inHours(d0, 10, 20);
          for (const s of outsideOf(ins.who, ins.intensity)) {
            bad(t, 'read', [s], 'contact', ['mobile']);
            t += 30_000 + rng.int(120_000);
          }
          break;
        }
        case 'new_account': {
          let t = inHours(d0, 9, 10);
          bad(t - 60_000, 'new', [], '', []);
          for (const s of outsideOf(ins.who, ins.intensity)) {
            bad(t, 'read', [s], 'customer_support', ['name', 'mobile', 'address']);
            t += 30_000 + rng.int(90_000);
          }
          break;
        }
      }
    }
    steps.sort((a, b) => a.t - b.t);

    // --- replay: normal work and the insiders' steps, in time order, on the simulated clock -----
    const work = generateWorkload({ org, start: new Date(start), days, seed: opts.seed });
    const tokens = new Map<string, string>();
    const telephony = loaded.services.get(TELEPHONY_SERVICE)!;
    const actorOf = (id: string) =>
      loaded.employees.get(id) ?? loaded.partners.get(id) ?? loaded.services.get(id);
    const newAccounts = new Map<string, Principal>();
    const suspended = new Set<string>();
    let reads = 0;
    let lastTick = start;
    const tick = async (t: number) => {
      // The background worker, every simulated 5 minutes.
      while (lastTick + 300_000 <= t) {
        lastTick += 300_000;
        inst.clock.set(new Date(lastTick));
        await app.detect.tick();
      }
    };
    const noteSuspension = async (ins: Insider, t: number) => {
      if (ins.suspendedAt !== undefined || !ins.actorId) return;
      if (suspended.has(ins.actorId) || (await app.detect.isSuspended(ins.actorId))) {
        suspended.add(ins.actorId);
        ins.suspendedAt = t;
      }
    };

    let pendingWork: Promise<unknown>[] = [];
    /** Per subject, the latest read in flight (a call waits for the token it returns). */
    const leadReads = new Map<string, Promise<unknown>>();
    const flushWork = async () => {
      await Promise.all(pendingWork);
      pendingWork = [];
      leadReads.clear();
    };
    let si = 0;
    const runBad = async (s: Extract<Step, { kind: 'bad' }>) => {
      const ins = s.ins;
      if (s.op === 'new') {
        const input = { name: ins.who, kind: 'employee' as const, roles: ['support'] };
        let created: Awaited<ReturnType<typeof app.actors.create>>['actor'];
        try {
          created = (await app.actors.create(input, { by: loaded.admin.actor.id })).actor;
        } catch (e) {
          // Where the role allows plain PI (lax), the hire goes through four-eyes: the
          // administrator files it and a second administrator approves.
          if ((e as { code?: string }).code !== 'ACTORS_FOUR_EYES_REQUIRED') throw e;
          const second = await app.actors.create(
            { name: `admin.second.${opts.seed}`, kind: 'employee', roles: ['admin'] },
            { by: null },
          );
          const req = await app.actors.request(
            { action: 'create', actor: input },
            { by: loaded.admin.actor.id },
          );
          created = (await app.actors.approveRequest(req.id, { by: second.actor.id })).actor;
        }
        ins.actorId = created.id;
        newAccounts.set(ins.who, principal({ actor: created }));
        return;
      }
      const who = actorOf(ins.who);
      const p = who ? principal(who) : newAccounts.get(ins.who)!;
      ins.actorId = p.id;
      ins.firstBad ??= s.t;
      await noteSuspension(ins, s.t);
      if (s.op === 'lookup') {
        try {
          await app.access.lookup(p, { purpose: s.purpose, field: 'mobile', value: s.value! });
        } catch {
          // refused: recorded by the access module
        }
      } else {
        const ids = s.subjects.map((e) => loaded.subjects.get(e)).filter((x): x is string => Boolean(x));
        if (ids.length === 0) return;
        let results: { allowed: boolean }[];
        if (s.op === 'batch')
          results = await app.access.readBatch(p, { subjectIds: ids, purpose: s.purpose, fields: s.fields });
        else if (ins.pattern === 'bulk_scrape' || ins.pattern === 'burst') {
          // Several connections at once.
          results = await Promise.all(
            ids.map((id) => app.access.read(p, { subjectId: id, purpose: s.purpose, fields: s.fields })),
          );
        } else
          results = [await app.access.read(p, { subjectId: ids[0]!, purpose: s.purpose, fields: s.fields })];
        reads += results.length;
        for (const r of results) {
          if (!r.allowed) continue;
          if (ins.pattern !== 'off_hours' && ins.pattern !== 'tokens_undialed') ins.badAllowed++;
          if (ins.suspendedAt === undefined) ins.badAllowedBeforeSuspension++;
        }
      }
      await noteSuspension(ins, s.t);
    };

    // Bursts run their steps back to back (the script does not wait for anyone).
    for (const ev of work) {
      const t = Date.parse(ev.at);
      while (si < steps.length && steps[si]!.t <= t) {
        const s = steps[si++]!;
        await flushWork();
        await tick(s.t);
        inst.clock.set(new Date(s.t));
        if (s.kind === 'bad') await runBad(s);
      }
      await tick(t);
      const subjectId = loaded.subjects.get(ev.subject);
      const who = actorOf(ev.actor);
      if (!subjectId || !who) continue;
      inst.clock.set(new Date(t));
      if (ev.kind === 'assign') {
        await flushWork();
        await app.actors.assign(
          [{ actor: who.actor.id, subjectId, expiresAt: new Date(t + 7 * DAY_MS).toISOString() }],
          { by: loaded.admin.actor.id },
        );
      } else if (ev.kind === 'contact') {
        // The dialler calls with the token the lead's read just returned: wait for that read.
        await leadReads.get(subjectId);
        const token = tokens.get(subjectId);
        if (!token) continue;
        tokens.delete(subjectId);
        pendingWork.push(app.access.resolveToken(principal(telephony), { token }).catch(() => undefined));
      } else {
        reads++;
        const silent =
          silenced.has(ev.actor) && t >= (insiders.find((i) => i.who === ev.actor)?.onset ?? Infinity);
        const read = app.access
          .read(principal(who), { subjectId, purpose: ev.purpose, fields: [...ev.fields] })
          .then((r) => {
            // Only the newest read's token is dialled (an older one may have expired meanwhile).
            const token = Object.values(r.fields).find((f) => f.view === 'token')?.value;
            if (token && !silent) tokens.set(subjectId, token);
            else tokens.delete(subjectId);
          });
        leadReads.set(subjectId, read);
        pendingWork.push(read);
        if (pendingWork.length >= 64) await flushWork();
      }
    }
    await flushWork();
    while (si < steps.length) {
      const s = steps[si++]!;
      await tick(s.t);
      inst.clock.set(new Date(s.t));
      if (s.kind === 'bad') await runBad(s);
    }
    const end = start + days * DAY_MS;
    await tick(end + 300_000);
    inst.clock.set(new Date(end));
    await app.access.drain();

    // --- scoring (labels used here only) ------------------------------------------------------
    const alerts = (await app.detect.list({ limit: 1000 })).filter((a) => a.detector !== null);
    const insiderIds = new Map<string, Insider>();
    for (const i of insiders) if (i.actorId) insiderIds.set(i.actorId, i);
    const perPattern: Record<string, unknown> = {};
    let caught = 0;
    let withinDay = 0;
    const summaryLines: string[] = [];
    for (const ins of insiders) {
      const mine = alerts
        .filter((a) => a.actor === ins.actorId && Date.parse(a.createdAt) >= (ins.firstBad ?? ins.onset))
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
      const first = mine[0];
      const tta =
        first && ins.firstBad !== undefined ? (Date.parse(first.createdAt) - ins.firstBad) / 3_600_000 : null;
      const tts =
        ins.suspendedAt !== undefined && ins.firstBad !== undefined
          ? (ins.suspendedAt - ins.firstBad) / 3_600_000
          : null;
      if (first) caught++;
      if (tta !== null && tta <= 24) withinDay++;
      perPattern[ins.pattern] = {
        caught: Boolean(first),
        hoursToAlert: tta === null ? null : Math.round(tta * 100) / 100,
        hoursToSuspension: tts === null ? null : Math.round(tts * 100) / 100,
        recordsBeyondWork: ins.badAllowed,
        recordsBeforeSuspension: ins.badAllowedBeforeSuspension,
        detectors: [...new Set(mine.map((a) => a.detector!))],
        intensity: ins.intensity,
        onsetDay: Math.round((ins.onset - start) / DAY_MS),
      };
      summaryLines.push(
        `${ins.pattern}: ${first ? `alert after ${tta!.toFixed(2)} h (${[...new Set(mine.map((a) => a.detector))].join(', ')})` : 'NOT caught'}` +
          `${tts !== null ? `, suspended after ${tts.toFixed(2)} h` : ''}; ${ins.badAllowedBeforeSuspension} record(s) read before suspension`,
      );
    }
    // False alerts: detector alerts on innocent actors, or on an insider before his onset.
    const falseAlerts = alerts.filter((a) => {
      const ins = a.actor ? insiderIds.get(a.actor) : undefined;
      return !ins || Date.parse(a.createdAt) < (ins.firstBad ?? ins.onset);
    });
    const innocent =
      loaded.employees.size +
      loaded.partners.size +
      loaded.services.size -
      insiders.filter((i) => i.pattern !== 'new_account').length;
    const actorDays = innocent * days;
    const per1000 = (falseAlerts.length * 1000) / actorDays;
    const summary = await app.detect.summary(days + 2);
    const recall = caught / insiders.length;
    const scrape = insiders.find((i) => i.pattern === 'bulk_scrape');
    const figures = {
      insiders: insiders.length,
      caught,
      recall,
      caughtWithinDay: withinDay,
      falseAlerts: falseAlerts.length,
      falseAlertDetectors: falseAlerts.map((a) => a.detector!),
      actorDays,
      falseAlertsPer1000ActorDays: Math.round(per1000 * 1000) / 1000,
      reads,
      explainedShare: summary.explainedShare,
      patterns: perPattern,
    };
    ctx.figures = figures;
    ctx.organisation.reads = reads;
    ctx.organisation.insiders = insiders.length;

    checks.expect(
      'detected',
      'every seeded insider is alerted on (recall)',
      recall >= 0.95,
      `${caught} of ${insiders.length} caught (recall ${recall.toFixed(2)}); ${withinDay} within one simulated day\n      ${summaryLines.join('\n      ')}`,
      { recall, caught, insiders: insiders.length },
    );
    checks.expect(
      'detected',
      'at most 1 false alert per 1,000 actor-days on the innocent staff',
      per1000 <= 1,
      `${falseAlerts.length} false alert(s) over ${actorDays} actor-days = ${per1000.toFixed(2)} per 1,000 (${[...new Set(falseAlerts.map((a) => a.detector))].join(', ') || 'none'})`,
      { falseAlerts: falseAlerts.length, actorDays },
    );
    checks.expect(
      'prevented',
      'bulk scraping is suspended within 200 records beyond legitimate work',
      Boolean(scrape?.suspendedAt !== undefined && scrape.badAllowedBeforeSuspension <= 200),
      `script at ${scrape?.intensity ?? 0} requests/s: ${scrape?.badAllowedBeforeSuspension ?? 0} record(s) before suspension, ${scrape?.badAllowed ?? 0} in all`,
      { records: scrape?.badAllowedBeforeSuspension ?? 0 },
    );
    checks.expect(
      'recorded',
      'at least 90% of reads are explained',
      (summary.explainedShare ?? 0) >= 0.9,
      `${summary.explained} of ${summary.reads} read attempts explained (${((summary.explainedShare ?? 0) * 100).toFixed(1)}%)`,
      { reads: summary.reads, explained: summary.explained },
    );
  },
};
