/*
 * The scale run (`custodian simulate --subjects N` without a scenario): a real import in two legs
 * and lookups timed after each, on both dialects, at a size a test can afford. The figures are
 * not asserted (timing never is); what is asserted is that the run imports every customer, measures
 * what it says it measures, and reports no personal information.
 *
 * Threat: a capacity figure that does not come from the data it claims (a run that silently
 * imported fewer subjects, or timed lookups that found nothing).
 */

import { totalmem } from 'node:os';
import { afterEach, expect, it, vi } from 'vitest';
import { runScale, scaleSuiteResult } from '../../src/app/simulate/index.js';
import { scaleCacheMiB } from '../../src/app/simulate/scale.js';
import { customerAt } from '../../src/modules/sim/index.js';
import { describeEachDialect, enabledDialects, postgresUrl } from '../helpers/db.js';
import { cliOnSqlite, SCENARIO_TIMEOUT } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describeEachDialect('scale run', (dialect) => {
  it(
    'imports every subject in two legs and times lookups of imported customers after each',
    async () => {
      const lines: string[] = [];
      const r = await runScale({
        subjects: 2_500,
        reference: 1_000,
        batchSize: 400,
        seed: 'scale-test',
        databaseUrl: dialect === 'postgres' ? postgresUrl() : undefined,
        log: (l) => lines.push(l),
      });
      expect(r).toMatchObject({ kind: 'scale', dialect, subjects: 2_500, imported: 2_500, rejectedRows: 0 });
      expect(r.import.legs.map((l) => l.subjects)).toEqual([1_000, 1_500]);
      expect(r.lookups.reference).toMatchObject({ at: 1_000, samples: 5_000 });
      expect(r.lookups.full).toMatchObject({ at: 2_500, samples: 5_000 });
      expect(r.lookups.full.p99Ms).toBeGreaterThanOrEqual(r.lookups.full.p50Ms);
      expect(r.disk.bytesPerSubject).toBeGreaterThan(100);
      if (dialect === 'postgres') expect(r.disk.vaultBytes).toBeGreaterThan(0);
      // The settings the figures depend on are read from the database, not assumed.
      if (dialect === 'sqlite') {
        expect(r.settings).toMatchObject({ journal_mode: 'wal', synchronous: '1' });
        expect(Number(r.settings.cache_size)).toBe(-r.sqliteCacheMiB * 1024);
      } else
        expect(Object.keys(r.settings)).toEqual(expect.arrayContaining(['shared_buffers', 'max_wal_size']));
      // Below 10M the import goal does not apply; the latency goal compares the two legs.
      expect(r.goals.map((g) => g.text)).toEqual(['p99 lookup at 2,500 within 2× of p99 at 1,000']);
      const result = scaleSuiteResult(r);
      expect(result.suite).toBe(`scale-${dialect}`);
      expect(result.measurements.map((m) => m.name)).toEqual([
        `scale.import.${dialect}`,
        `scale.disk.${dialect}`,
        `scale.lookup.p99.${dialect}`,
      ]);
      // Nothing printed or reported names a customer.
      const text = JSON.stringify(r) + lines.join('\n');
      for (const i of [0, 999, 2_499]) {
        const c = customerAt({ seed: 'scale-test', index: i });
        for (const v of [c.mobile, c.id_number, c.email, c.name]) expect(text).not.toContain(v);
      }
    },
    SCENARIO_TIMEOUT,
  );
});

it('sizes the SQLite page cache at 0.5 KB a subject, between 64 MiB and 40% of memory', () => {
  expect(scaleCacheMiB(1_000)).toBe(64);
  expect(scaleCacheMiB(1_000_000)).toBe(489);
  expect(scaleCacheMiB(1e9)).toBe(Math.floor((totalmem() * 0.4) / 2 ** 20));
});

it.runIf(enabledDialects().includes('sqlite'))(
  '`custodian simulate --subjects N --json` runs the scale run when no scenario is named',
  async () => {
    const { code, out } = await cliOnSqlite([
      'simulate',
      '--subjects',
      '1200',
      '--seed',
      'cli-scale',
      '--json',
    ]);
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report).toMatchObject({
      kind: 'scale',
      dialect: 'sqlite',
      subjects: 1_200,
      imported: 1_200,
      goals: [],
    });
  },
  SCENARIO_TIMEOUT,
);
