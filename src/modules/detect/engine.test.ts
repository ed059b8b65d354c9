/**
 * Threat: an insider with legitimate access reads beyond his job — out of his portfolio, in
 * bulk, at night, in id order, fishing with lookups, or a few dozen extra customers a day — and
 * no one notices; or the detectors cry wolf on ordinary work until investigators ignore them.
 * The engine is pure (no database): these tests drive it with observations on a fixed clock.
 */
import { describe, expect, it } from 'vitest';
import { createEngine, type Finding, type Observation } from './engine.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Local (UTC+8) 2021-03-01 09:00, a working morning. */
const MORNING = Date.parse('2021-03-01T01:00:00Z');

function obs(o: Partial<Observation> & { at: number; subject: string | null }): Observation {
  return {
    actor: 'act_a',
    role: 'telemarketing',
    purpose: 'telemarketing',
    action: 'read',
    explained: 'assignment',
    ref: { leaf: '', at: o.at },
    ...o,
  };
}

/** A working day for each of `actors`: `reads` explained reads spread over 8 hours, plus extras. */
function day(
  engine: ReturnType<typeof createEngine>,
  d: number,
  actors: string[],
  reads: number,
  extra: (actor: string, at: number) => Observation[] = () => [],
): Finding[] {
  const out: Finding[] = [];
  const start = MORNING + d * DAY;
  for (const actor of actors) {
    for (let i = 0; i < reads; i++) {
      const at = start + Math.floor((i * 8 * HOUR) / reads);
      out.push(...engine.observe(obs({ actor, at, subject: `sub_${actor}_${d}_${i}` })));
    }
    for (const o of extra(actor, start + 2 * HOUR)) {
      out.push(...engine.observe(o));
      out.push(...engine.outcome(o, { allowed: true }));
    }
  }
  out.push(...engine.tick(start + DAY));
  return out;
}

const unexplainedReads = (actor: string, at: number, n: number, spacing = 20 * 60_000) =>
  Array.from({ length: n }, (_, i) =>
    obs({
      actor,
      at: at + i * spacing,
      // Not in id order, so enumeration stays quiet.
      subject: `sub_x${(i * 7919) % 1000}_${at}`,
      explained: null,
    }),
  );

describe('detection engine', () => {
  const team = ['act_a', 'act_b', 'act_c', 'act_d', 'act_e'];

  it('stays quiet on a month of ordinary explained work', () => {
    const e = createEngine();
    const findings: Finding[] = [];
    for (let d = 0; d < 30; d++) findings.push(...day(e, d, team, 110));
    expect(findings).toEqual([]);
  });

  it('cold start: a dozen unexplained reads pass; once the peers have a baseline the learnt floor catches them the same day', () => {
    // Day 0 of a new engine: no baseline; 15 unexplained reads stay under the cold-start floor of 25.
    const cold = createEngine();
    const first = day(cold, 0, team, 110, (a, at) => (a === 'act_a' ? unexplainedReads(a, at, 15) : []));
    expect(first.filter((f) => f.detector === 'unexplained')).toEqual([]);
    // Five peer-days a day: after four clean days the group has 20 actor-days of history.
    const e = createEngine();
    for (let d = 0; d < 4; d++) day(e, d, team, 110);
    const later = day(e, 4, team, 110, (a, at) => (a === 'act_b' ? unexplainedReads(a, at, 15) : []));
    const hit = later.filter((f) => f.detector === 'unexplained');
    expect(hit).toHaveLength(1);
    expect(hit[0]).toMatchObject({ actor: 'act_b', level: 'low', limit: 10, value: 11 });
    expect(hit[0]!.evidence.length).toBeGreaterThan(0);
  });

  it('a peer group whose work leaves reads unexplained keeps a limit of 1.5 × its maximum', () => {
    const e = createEngine();
    // Every member leaves 12 reads a day unexplained (say, walk-in customers without a ticket).
    for (let d = 0; d < 10; d++) {
      const f = day(e, d, team, 100, (a, at) => unexplainedReads(a, at, 12));
      if (d > 0) expect(f.filter((x) => x.detector === 'unexplained')).toEqual([]);
    }
    const f = day(e, 10, team, 100, (a, at) => unexplainedReads(a, at, a === 'act_c' ? 19 : 12));
    expect(f.filter((x) => x.detector === 'unexplained')).toMatchObject([
      { actor: 'act_c', limit: 18, value: 19 },
    ]);
  });

  it('low and slow: a few extra customers a day add up on the 7-day window', () => {
    const e = createEngine({ thresholds: { unexplainedLearnt: 25 } });
    for (let d = 0; d < 7; d++) day(e, d, team, 110);
    const caught: Finding[] = [];
    for (let d = 7; d < 14; d++)
      caught.push(...day(e, d, team, 110, (a, at) => (a === 'act_d' ? unexplainedReads(a, at, 9) : [])));
    const slow = caught.filter((f) => f.detector === 'low_and_slow');
    expect(slow.length).toBeGreaterThan(0);
    expect(slow[0]).toMatchObject({ actor: 'act_d', limit: 50 });
    expect(caught.filter((f) => f.actor !== 'act_d')).toEqual([]);
  });

  it('velocity climbs the ladder to suspension within the same minute', () => {
    const e = createEngine();
    day(e, 0, team, 110);
    const at = MORNING + DAY + HOUR;
    const f: Finding[] = [];
    for (let i = 0; i < 200; i++)
      f.push(...e.observe(obs({ actor: 'act_e', at: at + i * 100, subject: `s${i}` })));
    const levels = f.filter((x) => x.detector === 'velocity').map((x) => x.level);
    expect(levels).toEqual(['low', 'medium', 'high']);
  });

  it('off hours, lookups that miss, and tokens never dialed', () => {
    const e = createEngine();
    day(e, 0, team, 110);
    const night = Date.parse('2021-03-02T16:30:00Z'); // 00:30 local
    const f: Finding[] = [];
    for (let i = 0; i < 25; i++)
      f.push(...e.observe(obs({ actor: 'act_a', at: night + i * 5 * 60_000, subject: `n${i}` })));
    expect(f.some((x) => x.detector === 'off_hours' && x.actor === 'act_a')).toBe(true);

    const noon = MORNING + 2 * DAY + 3 * HOUR;
    for (let i = 0; i < 25; i++) {
      const o = obs({ actor: 'act_b', at: noon + i * 60_000, subject: null, action: 'lookup' });
      f.push(...e.observe(o), ...e.outcome(o, { allowed: true, miss: true }));
    }
    expect(f.some((x) => x.detector === 'lookup_fishing' && x.actor === 'act_b')).toBe(true);

    // act_c is issued 50 tokens, 45 of them dialed; act_d 50 and only 5.
    for (const [actor, dialed] of [
      ['act_c', 45],
      ['act_d', 5],
    ] as const) {
      for (let i = 0; i < 50; i++) {
        const o = obs({ actor, at: noon + i * 6 * 60_000, subject: `t${actor}${i}` });
        f.push(...e.observe(o), ...e.outcome(o, { allowed: true, tokens: 1 }));
        if (i < dialed) {
          const dial = obs({
            actor: 'svc_tel',
            role: 'contact_service',
            service: true,
            at: o.at + 30_000,
            subject: o.subject,
            purpose: 'contact',
            action: 'resolve_token',
            explained: 'token_dial',
          });
          f.push(...e.observe(dial), ...e.outcome(dial, { allowed: true, dialFor: actor }));
        }
      }
    }
    // The worker's beat the same afternoon catches him, without waiting for midnight.
    const beat = e.tick(noon + 5.5 * HOUR);
    expect(beat.filter((x) => x.detector === 'tokens_undialed').map((x) => x.actor)).toEqual(['act_d']);
    f.push(...beat, ...e.tick(MORNING + 3 * DAY));
    const undialed = f.filter((x) => x.detector === 'tokens_undialed');
    expect(undialed.map((x) => x.actor)).toEqual(['act_d']);
  });

  it('a service key dormant since its creation that starts reading departs from its pattern; a new one ramping up does not', () => {
    const e = createEngine();
    const f: Finding[] = [];
    // Colleagues work for a week: the organisation has a history.
    for (let d = 0; d < 7; d++) f.push(...day(e, d, ['act_a', 'act_b'], 40));
    const reads = (actor: string, since: number) =>
      Array.from({ length: 8 }, (_, i) =>
        obs({
          actor,
          role: 'contact_service',
          service: true,
          since,
          at: MORNING + 7 * DAY + 2 * HOUR + i * 5 * 60_000,
          subject: `sub_d${actor}${(i * 37) % 100}`,
          purpose: 'contact',
          explained: 'routine',
        }),
      );
    // Created on day 0, silent until day 7; and one created on day 7 itself.
    for (const o of [...reads('svc_dormant', MORNING), ...reads('svc_new', MORNING + 7 * DAY)])
      f.push(...e.observe(o), ...e.outcome(o, { allowed: true }));
    const service = f.filter((x) => x.detector === 'service_pattern');
    expect(service.map((x) => x.actor)).toEqual(['svc_dormant']);
    // An old key on detection's first day is not "dormant": nothing yet says it was idle.
    const first = createEngine();
    const early = reads('svc_old', MORNING - 100 * DAY).map((o) => ({ ...o, at: o.at - 7 * DAY }));
    const g: Finding[] = [];
    for (const o of early) g.push(...first.observe(o), ...first.outcome(o, { allowed: true }));
    expect(g.filter((x) => x.detector === 'service_pattern')).toEqual([]);
  });
});
