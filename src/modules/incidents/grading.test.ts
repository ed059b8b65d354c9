import { describe, expect, it } from 'vitest';
import { clockState, DEFAULT_RULES, gradeFor, planClocks, rulesWith } from './grading.js';

const AWARE = '2025-11-03T01:00:00.000Z';
const H = 3_600_000;
const at = (ms: number) => new Date(Date.parse(AWARE) + ms);

function stateAt(
  name: string,
  facts: Parameters<typeof planClocks>[0],
  ms: number,
  metAt: string | null = null,
) {
  const c = planClocks(facts, DEFAULT_RULES).find((x) => x.name === name);
  if (!c) return undefined;
  return clockState({ ...c, metAt }, at(ms));
}

const base = {
  awareAt: AWARE,
  grade: 'general' as const,
  criticalInfrastructure: false,
  highRisk: false,
  handledAt: null,
};

describe('grading by affected count (CAC measures, defaults from REGULATION.md)', () => {
  it.each([
    [0, 'general'],
    [999_999, 'general'],
    [1_000_000, 'relatively_major'],
    [9_999_999, 'relatively_major'],
    [10_000_000, 'major'],
    [99_999_999, 'major'],
    [100_000_000, 'especially_major'],
  ])('%i affected → %s', (n, grade) => {
    expect(gradeFor(n)).toBe(grade);
  });

  it('thresholds are configuration', () => {
    expect(
      gradeFor(
        500,
        rulesWith({ thresholds: { relatively_major: 500, major: 1000, especially_major: 2000 } }),
      ),
    ).toBe('relatively_major');
  });
});

describe('legal clocks with a fixed clock at each threshold', () => {
  it('999,999 affected: no 4-hour CAC clock; 1,000,000: the 4-hour clock runs', () => {
    expect(planClocks({ ...base, grade: gradeFor(999_999) }).map((c) => c.name)).toEqual(['gdpr_authority']);
    expect(planClocks({ ...base, grade: gradeFor(1_000_000) }).map((c) => c.name)).toEqual([
      'cac_initial',
      'gdpr_authority',
    ]);
  });

  it('CAC 4 h: running, warning at 3 h (a quarter left), breached at exactly 4 h', () => {
    const f = { ...base, grade: 'relatively_major' as const };
    expect(stateAt('cac_initial', f, 3 * H - 1)).toMatchObject({ status: 'running', leftMs: H + 1 });
    expect(stateAt('cac_initial', f, 3 * H)).toMatchObject({ status: 'warning', leftMs: H });
    expect(stateAt('cac_initial', f, 4 * H - 1)).toMatchObject({ status: 'warning', leftMs: 1 });
    expect(stateAt('cac_initial', f, 4 * H)).toMatchObject({ status: 'breached', leftMs: 0 });
    expect(stateAt('cac_initial', f, 5 * H)).toMatchObject({ status: 'breached', leftMs: -H });
  });

  it('critical infrastructure: 1 h, warning at 45 min', () => {
    const f = { ...base, grade: 'major' as const, criticalInfrastructure: true };
    expect(stateAt('cac_initial', f, 0)?.dueAt).toBe(at(H).toISOString());
    expect(stateAt('cac_initial', f, 45 * 60_000 - 1)?.status).toBe('running');
    expect(stateAt('cac_initial', f, 45 * 60_000)?.status).toBe('warning');
    expect(stateAt('cac_initial', f, H)?.status).toBe('breached');
  });

  it('GDPR 72 h: warning at 54 h, breached at 72 h; met keeps its margin', () => {
    expect(stateAt('gdpr_authority', base, 54 * H - 1)?.status).toBe('running');
    expect(stateAt('gdpr_authority', base, 54 * H)?.status).toBe('warning');
    expect(stateAt('gdpr_authority', base, 72 * H - 1)?.status).toBe('warning');
    expect(stateAt('gdpr_authority', base, 72 * H)?.status).toBe('breached');
    expect(stateAt('gdpr_authority', base, 100 * H, at(70 * H).toISOString())).toMatchObject({
      status: 'met',
      leftMs: 2 * H,
    });
    expect(stateAt('gdpr_authority', base, 100 * H, at(73 * H).toISOString())).toMatchObject({
      status: 'met_late',
      leftMs: -H,
    });
  });

  it('final report 30 days from the end of handling: warning at 22.5 days, breached at 30', () => {
    const handledAt = at(10 * H).toISOString();
    const f = { ...base, grade: 'relatively_major' as const, handledAt };
    const D = 24 * H;
    expect(stateAt('cac_final', f, 10 * H)?.dueAt).toBe(at(10 * H + 30 * D).toISOString());
    expect(stateAt('cac_final', f, 10 * H + 22.5 * D - 1)?.status).toBe('running');
    expect(stateAt('cac_final', f, 10 * H + 22.5 * D)?.status).toBe('warning');
    expect(stateAt('cac_final', f, 10 * H + 30 * D)?.status).toBe('breached');
  });

  it('individuals clock only when the risk is high', () => {
    expect(planClocks(base).some((c) => c.name === 'gdpr_individuals')).toBe(false);
    expect(planClocks({ ...base, highRisk: true }).some((c) => c.name === 'gdpr_individuals')).toBe(true);
  });
});
