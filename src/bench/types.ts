import type { Measurement } from '../lib/measure.js';

export { type Measurement, median, medianOf, percentile, rate } from '../lib/measure.js';

export interface BenchContext {
  /** Scale knob: 1 = the documented sizes; tests run suites with a small scale. */
  scale: number;
  /** Which dialects to measure. */
  dialects: ('sqlite' | 'postgres')[];
  postgresUrl: string | undefined;
  /** Runs of each measurement; the median is reported. */
  runs: number;
  log(line: string): void;
}

export interface BenchSuite {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<Measurement[]>;
}
