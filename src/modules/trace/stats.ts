/**
 * The arithmetic the trace's p-values and the canary sizing rest on: log-gamma, the hypergeometric
 * upper tail in log space (so a p-value of 1e-40 is still a number, not an underflowed zero), and
 * how many canaries an export needs. Pure functions; docs/trace.md gives the model.
 */

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7: about 15 significant digits). */
export function lgamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** ln C(n, k). */
export function lchoose(n: number, k: number): number {
  if (k < 0 || k > n) return Number.NEGATIVE_INFINITY;
  if (k === 0 || k === n) return 0;
  return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1);
}

/** ln P(X = x) for X ~ Hypergeometric(population N, successes K, draws n). */
export function hyperLogPmf(N: number, K: number, n: number, x: number): number {
  return lchoose(K, x) + lchoose(N - K, n - x) - lchoose(N, n);
}

/**
 * ln P(X ≥ k) for X ~ Hypergeometric(N, K, n): the chance that n draws without replacement from a
 * population of N holding K marked items bring at least k marked ones. Exact (a sum of terms from
 * a ratio recurrence), in log space. Arguments are clamped to a valid range (K ≤ N, n ≤ N).
 */
export function hyperTailLog(N: number, K: number, n: number, k: number): number {
  N = Math.max(0, Math.floor(N));
  K = Math.min(Math.max(0, Math.floor(K)), N);
  n = Math.min(Math.max(0, Math.floor(n)), N);
  const lo = Math.max(0, n - (N - K));
  const hi = Math.min(K, n);
  if (k <= lo) return 0;
  if (k > hi) return Number.NEGATIVE_INFINITY;
  // pmf(x+1)/pmf(x)
  const ratio = (x: number) => ((K - x) * (n - x)) / ((x + 1) * (N - K - n + x + 1));
  const mode = Math.floor(((n + 1) * (K + 1)) / (N + 2));
  const start = Math.min(hi, Math.max(k, mode));
  const lp0 = hyperLogPmf(N, K, n, start);
  let sum = 1;
  let t = 1;
  for (let x = start; x < hi; x++) {
    t *= ratio(x);
    sum += t;
    if (t < 1e-17 * sum) break;
  }
  t = 1;
  for (let x = start; x > k; x--) {
    t /= ratio(x - 1);
    sum += t;
    if (t < 1e-17 * sum) break;
  }
  return Math.min(0, lp0 + Math.log(sum));
}

/** log10 of a natural-log probability, floored at -300 for JSON (which has no -Infinity). */
export function log10Of(lnP: number): number {
  return Math.max(-300, lnP / Math.LN10);
}

/** A probability from its natural log, as a plain number (0 only below about 1e-308). */
export function probOf(lnP: number): number {
  return Math.exp(lnP);
}

// --- canary sizing --------------------------------------------------------------------------------

/** How much of an export a leak must reveal before the canaries must catch it, by recipient risk. */
export const CANARY_RISK = {
  low: { fraction: 0.2, confidence: 0.95 },
  standard: { fraction: 0.1, confidence: 0.99 },
  high: { fraction: 0.05, confidence: 0.99 },
  critical: { fraction: 0.01, confidence: 0.999 },
} as const;

export type CanaryRisk = keyof typeof CANARY_RISK;

export interface CanarySizing {
  /** Canaries to place in the export or portfolio. */
  canaries: number;
  fraction: number;
  confidence: number;
  /** The probability that a leak of `fraction` carries at least one, with that many canaries. */
  detection: number;
  /** 'binomial' without a size (each row leaked independently), 'exact' with one (no replacement). */
  model: 'binomial' | 'exact';
}

/**
 * The fewest canaries n such that a leak of `fraction` of the rows (canaries look like any row, so
 * each is leaked like the others) contains at least one with probability ≥ `confidence`.
 * Without `size`: 1 − (1 − f)^n ≥ c, so n = ⌈ln(1 − c) / ln(1 − f)⌉ (44 at f = 10 %, c = 99 %).
 * With `size` (the export's or portfolio's real rows): a leak of ⌈f·(size + n)⌉ rows drawn without
 * replacement, which needs slightly fewer.
 */
export function canariesNeeded(o: {
  fraction?: number;
  confidence?: number;
  risk?: CanaryRisk;
  size?: number;
}): CanarySizing {
  const base = CANARY_RISK[o.risk ?? 'standard'];
  const f = o.fraction ?? base.fraction;
  const c = o.confidence ?? base.confidence;
  if (!(f > 0 && f <= 1) || !(c > 0 && c < 1))
    throw new RangeError('fraction in (0, 1], confidence in (0, 1)');
  if (f === 1) return { canaries: 1, fraction: f, confidence: c, detection: 1, model: 'binomial' };
  const binomial = Math.ceil(Math.log(1 - c) / Math.log(1 - f) - 1e-12);
  if (o.size === undefined || o.size <= 0) {
    return {
      canaries: binomial,
      fraction: f,
      confidence: c,
      detection: 1 - (1 - f) ** binomial,
      model: 'binomial',
    };
  }
  const size = Math.floor(o.size);
  for (let n = 1; n <= binomial; n++) {
    const total = size + n;
    const leaked = Math.ceil(f * total);
    // P(no canary among `leaked` rows drawn from `total`) = C(total − n, leaked) / C(total, leaked)
    const miss = leaked > size ? 0 : Math.exp(lchoose(size, leaked) - lchoose(total, leaked));
    if (1 - miss >= c)
      return { canaries: n, fraction: f, confidence: c, detection: 1 - miss, model: 'exact' };
  }
  return {
    canaries: binomial,
    fraction: f,
    confidence: c,
    detection: 1 - (1 - f) ** binomial,
    model: 'binomial',
  };
}
