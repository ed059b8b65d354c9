/**
 * A benchmark measures a Custodian operation against a baseline doing the same work in the same
 * run (the raw database doing the same reads, the hash function's own speed), so the figure that
 * matters is a ratio that holds on any machine. Timing never appears in a test assertion.
 */
export interface Measurement {
  /** e.g. 'vault.import' */
  name: string;
  /** The operation's rate or latency, median over the runs. */
  value: number;
  unit: 'ops/s' | 'subjects/s' | 'entries/s' | 'requests/s' | 'ms' | 'us' | 'MB/s' | 'bytes' | '%';
  /** Greater is better for rates, smaller for latencies. */
  better: 'higher' | 'lower';
  baseline?: { name: string; value: number };
  /** The goal the issue sets, in words and as a check over the medians. */
  goal?: { text: string; met: boolean };
  /** Extra figures worth keeping (p99, sizes). */
  extra?: Record<string, number | string>;
}

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

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Runs `fn` `runs` times and returns the median of what it returns. */
export async function medianOf(runs: number, fn: () => Promise<number>): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) out.push(await fn());
  return median(out);
}

export function rate(count: number, startNs: bigint): number {
  return count / (Number(process.hrtime.bigint() - startNs) / 1e9);
}
