import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../helpers/db.js';
import { createIncidentWorld, type IncidentWorld, START } from './world.js';

const H = 3_600_000;

describeEachDialect('incident clocks through the service, on a fixed clock', (dialect) => {
  let w: IncidentWorld;
  beforeAll(async () => {
    w = await createIncidentWorld(dialect, 3);
  });
  afterAll(async () => w?.destroy());

  it('raising the grade starts the 4-hour clock from awareness; warnings at 3 h, breach at 4 h; history kept', async () => {
    const inc = w.app.incidents;
    const d0 = await inc.open({ title: 'Scraped export', source: 'manual', awareAt: START }, w.dpo.id);
    w.clock.set(new Date(Date.parse(START) + H));
    const d1 = await inc.grade(d0.id, { floor: 'relatively_major' }, w.dpo.id);
    expect(d1.clocks.map((c) => [c.name, c.status, c.leftMs])).toEqual([
      ['cac_initial', 'running', 3 * H],
      ['gdpr_authority', 'running', 71 * H],
    ]);
    w.clock.set(new Date(Date.parse(START) + 3 * H));
    expect((await inc.get(d0.id)).warnings).toEqual([{ clock: 'cac_initial', status: 'warning', leftMs: H }]);
    w.clock.set(new Date(Date.parse(START) + 4 * H));
    expect((await inc.get(d0.id)).warnings).toEqual([
      { clock: 'cac_initial', status: 'breached', leftMs: 0 },
    ]);
    // Critical infrastructure moves the deadline to 1 h; the change is in the timeline.
    await inc.grade(d0.id, { criticalInfrastructure: true }, w.dpo.id);
    const tl = await inc.timeline(d0.id);
    expect(tl.filter((t) => t.kind.startsWith('clock.')).map((t) => [t.kind, t.detail.clock])).toEqual([
      ['clock.started', 'gdpr_authority'],
      ['clock.started', 'cac_initial'],
      ['clock.changed', 'cac_initial'],
    ]);
    await expect(inc.grade(d0.id, { floor: 'general' }, w.dpo.id)).rejects.toMatchObject({
      code: 'INCIDENTS_GRADE_LOWER',
    });
    // Handling ends: the 30-day final-report clock starts there.
    await inc.notToNotify(d0.id, 'Only masked values were exposed', w.dpo.id);
    const closed = await inc.close(d0.id, w.dpo.id);
    const fin = closed.clocks.find((c) => c.name === 'cac_final')!;
    expect(fin.startedAt).toBe(closed.handledAt);
    expect(fin.leftMs).toBe(30 * 24 * H);
  });
});
