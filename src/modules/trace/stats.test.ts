import { describe, expect, it } from 'vitest';
import { canariesNeeded, hyperLogPmf, hyperTailLog, lgamma } from './stats.js';

describe('stats', () => {
  it('lgamma matches log factorials', () => {
    let lf = 0;
    for (let n = 1; n <= 170; n++) {
      lf += Math.log(n);
      expect(Math.abs(lgamma(n + 1) - lf)).toBeLessThan(1e-9 * Math.max(1, lf));
    }
  });

  it('the hypergeometric tail sums its pmf (small case, exact)', () => {
    const N = 50;
    const K = 12;
    const n = 10;
    for (let k = 0; k <= 10; k++) {
      let p = 0;
      for (let x = k; x <= Math.min(K, n); x++) p += Math.exp(hyperLogPmf(N, K, n, x));
      expect(Math.exp(hyperTailLog(N, K, n, k))).toBeCloseTo(p, 12);
    }
  });

  it('tails far out stay finite in log space; impossible counts are -Infinity', () => {
    const lnP = hyperTailLog(10_000_000, 200, 100, 60);
    expect(Number.isFinite(lnP)).toBe(true);
    expect(lnP / Math.LN10).toBeLessThan(-200);
    expect(hyperTailLog(100, 5, 10, 6)).toBe(Number.NEGATIVE_INFINITY);
    expect(hyperTailLog(100, 5, 10, 0)).toBe(0);
  });

  it('the tail is a valid p-value: under the null, P(p ≤ α) ≤ α', () => {
    // Exact check over the whole distribution of HG(200, 30, 40).
    const N = 200;
    const K = 30;
    const n = 40;
    for (const alpha of [0.5, 0.1, 0.01, 0.001]) {
      let mass = 0;
      for (let x = 0; x <= 30; x++)
        if (Math.exp(hyperTailLog(N, K, n, x)) <= alpha) mass += Math.exp(hyperLogPmf(N, K, n, x));
      expect(mass).toBeLessThanOrEqual(alpha + 1e-12);
    }
  });

  it('canary sizing: about 44 at 10 % leaked with 99 %', () => {
    expect(canariesNeeded({ fraction: 0.1, confidence: 0.99 }).canaries).toBe(44);
    expect(canariesNeeded({ risk: 'standard' }).canaries).toBe(44);
    expect(canariesNeeded({ risk: 'high' }).canaries).toBeGreaterThan(44);
    expect(canariesNeeded({ risk: 'low' }).canaries).toBeLessThan(44);
    const exact = canariesNeeded({ fraction: 0.1, confidence: 0.99, size: 500 });
    expect(exact.model).toBe('exact');
    expect(exact.canaries).toBeLessThanOrEqual(44);
    expect(exact.detection).toBeGreaterThanOrEqual(0.99);
  });
});
