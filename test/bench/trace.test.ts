import { describe, expect, it } from 'vitest';
import { idOf, mobileOf, traceSuite } from '../../src/bench/suites/trace.js';
import { defaultCatalog } from '../../src/modules/vault/index.js';
import { enabledDialects, postgresUrl } from '../helpers/db.js';

/*
 * The trace benchmark at a tiny scale: it fills a vault and access events, matches a garbled leaked
 * file and attributes a leak through the real trace, and checks its own answers (every real row
 * matched, the baseline found every value, the planted source ranked first). No timing is asserted.
 */
describe('bench: trace suite', () => {
  it('generates vault values the field types accept', () => {
    const catalog = defaultCatalog;
    const ctx = { today: '20260101' };
    for (const i of [0, 1, 999, 1000, 123_456, 9_999_999]) {
      expect(catalog.field('mobile')!.check(`+86 ${mobileOf(i)}`, ctx)).toBe(`+86${mobileOf(i)}`);
      expect(catalog.field('id_number')!.check(idOf(i).toLowerCase(), ctx)).toBe(idOf(i));
    }
  });

  it.each(enabledDialects())('runs at a tiny scale (%s)', async (dialect) => {
    process.env.CUSTODIAN_BENCH_TRACE_SUBJECTS = '3000';
    process.env.CUSTODIAN_BENCH_TRACE_ROWS = '400';
    process.env.CUSTODIAN_BENCH_TRACE_EVENTS = '20000';
    try {
      const out = await traceSuite.run({
        scale: 0.001,
        dialects: [dialect],
        postgresUrl: postgresUrl(),
        runs: 1,
        log: () => {},
      });
      expect(out.map((m) => m.name)).toEqual([`trace.match.${dialect}`, `trace.attribute.${dialect}`]);
      expect(out[0]!.extra).toMatchObject({ rows: 400, matchedRows: 360, nameOnly: 20 });
      expect(out[1]!.extra).toMatchObject({ events: 20000, topIsSource: 'yes' });
      for (const m of out) expect(m.baseline!.value).toBeGreaterThan(0);
    } finally {
      delete process.env.CUSTODIAN_BENCH_TRACE_SUBJECTS;
      delete process.env.CUSTODIAN_BENCH_TRACE_ROWS;
      delete process.env.CUSTODIAN_BENCH_TRACE_EVENTS;
    }
  }, 120_000);
});
