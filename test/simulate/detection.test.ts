/*
 * Scenario: a week of the synthetic organisation's normal work with one seeded insider of every
 * pattern (issue 12), end to end on each dialect. The full evaluation (20 seeds × 30 days) is in
 * docs/detect.md; this keeps it running and its key claims true on every change.
 *
 * Threat: insiders who read beyond their job — a script scraping at full speed, a burst of batch
 * reads, browsing out of the portfolio, night reading, enumeration, lookup fishing, tokens never
 * dialed, a service account off its pattern, a new account ramping up, a few extra customers a day
 * — go unnoticed, or a scraper reads hundreds of records before anyone stops him. The detectors see
 * access events only; the scenario scores them with its labels afterwards.
 */
import { expect, it } from 'vitest';
import { describeEachDialect } from '../helpers/db.js';
import { check, SCENARIO_TIMEOUT, simulate } from './helpers.js';

interface PatternFigures {
  caught: boolean;
  recordsBeforeSuspension: number;
  onsetDay: number;
  intensity: number;
}

describeEachDialect('simulate detection', (dialect) => {
  it(
    'catches the seeded insiders, stops the scraper within 200 records, explains most reads',
    async () => {
      const r = await simulate(dialect, 'detection', { subjects: 200, days: 6, seed: `ci-${dialect}` });
      const f = r.figures as {
        insiders: number;
        caught: number;
        explainedShare: number;
        patterns: Record<string, PatternFigures>;
      };
      expect(f.insiders).toBe(11);
      // Every pattern except possibly low-and-slow (a 6-day run leaves it two or three days).
      expect(f.caught).toBeGreaterThanOrEqual(10);
      expect(check(r, 'bulk scraping is suspended within 200 records').status).toBe('held');
      expect(f.patterns.bulk_scrape!.recordsBeforeSuspension).toBeLessThanOrEqual(200);
      expect(f.patterns.burst!.recordsBeforeSuspension).toBeLessThanOrEqual(200);
      expect(check(r, 'at least 90% of reads are explained').status).toBe('held');
      expect(f.explainedShare).toBeGreaterThanOrEqual(0.9);
      // Another seed draws other insiders (onset and intensity), so the figures are not one story.
      const other = await simulate(dialect, 'detection', { subjects: 200, days: 2, seed: 'ci-other' });
      const o = (other.figures as { patterns: Record<string, PatternFigures> }).patterns;
      const drawn = (p: Record<string, PatternFigures>) => Object.values(p).map((x) => x.intensity);
      expect(drawn(o)).not.toEqual(drawn(f.patterns));
    },
    SCENARIO_TIMEOUT * 2,
  );
});
