/*
 * Threat: a buyer of a leaked list strips the canaries by their statistics. If canaries came from
 * one narrow mobile range, one e-mail domain, or any generator whose output differs in shape from
 * the customers' (name lengths, surnames, regions, check digits), anyone holding a few exports
 * could drop the rows that do not look like the rest, and the leak would no longer trip. A second
 * threat: canary counts, identities or positions that can be predicted or replayed (Math.random,
 * a seed in the code or the database) would let the same buyer regenerate them.
 *
 * The test draws 2,000 canaries exactly as the canary service does (randomIdentity over the
 * CSPRNG) and compares them with 2,000 simulated customers, field by field, with a chi-square
 * test of homogeneity; a field separates them if p < 1e-4 (the threshold also bounds how often
 * this test fails by chance: about 1 run in 1,000 over its nine fields). It then shows the same
 * test flags the old generator (one monitored prefix, one domain), so it can fail.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cnIdCheckChar } from '../../src/lib/checkdigits.js';
import {
  isValidCnIdNumber,
  isValidCnMobile,
  PREFECTURES,
  randomIdentity,
  type SyntheticIdentity,
  secureRandom,
  streamKey,
} from '../../src/lib/synthetic/index.js';
import { generateCustomers } from '../../src/modules/sim/index.js';

const N = 2000;
const P_MIN = 1e-4;

// --- chi-square test of homogeneity ---------------------------------------------------------------

/** ln Γ(x) (Lanczos, g = 7). */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularised upper incomplete gamma Q(s, x) (series below s + 1, continued fraction above). */
function gammaQ(s: number, x: number): number {
  if (x <= 0) return 1;
  if (x < s + 1) {
    let sum = 1 / s;
    let term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (s + n);
      sum += term;
      if (term < sum * 1e-15) break;
    }
    return 1 - sum * Math.exp(-x + s * Math.log(x) - lnGamma(s));
  }
  let b = x + 1 - s;
  let c = 1e300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - s);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + s * Math.log(x) - lnGamma(s)) * h;
}

interface Chi2 {
  field: string;
  chi2: number;
  df: number;
  p: number;
  categories: number;
}

/**
 * Two samples of a categorical field: categories whose pooled expected count is under 5 in either
 * sample are merged into one "(rare)" category, as the test requires.
 */
function homogeneity(field: string, a: readonly string[], b: readonly string[]): Chi2 {
  const count = (xs: readonly string[]) => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };
  const ca = count(a);
  const cb = count(b);
  const total = a.length + b.length;
  const keys = new Set([...ca.keys(), ...cb.keys()]);
  const merged = new Map<string, [number, number]>();
  for (const k of keys) {
    const na = ca.get(k) ?? 0;
    const nb = cb.get(k) ?? 0;
    const pooled = na + nb;
    const rare = (pooled * Math.min(a.length, b.length)) / total < 5;
    const key = rare ? '(rare)' : k;
    const cur = merged.get(key) ?? [0, 0];
    merged.set(key, [cur[0] + na, cur[1] + nb]);
  }
  let chi2 = 0;
  for (const [na, nb] of merged.values()) {
    const pooled = na + nb;
    const ea = (pooled * a.length) / total;
    const eb = (pooled * b.length) / total;
    chi2 += (na - ea) ** 2 / ea + (nb - eb) ** 2 / eb;
  }
  const df = Math.max(1, merged.size - 1);
  return { field, chi2, df, p: merged.size < 2 ? 1 : gammaQ(df / 2, chi2 / 2), categories: merged.size };
}

// --- the features a buyer would look at -------------------------------------------------------------

const PROVINCES = [...new Set(PREFECTURES.map((p) => p.province))].sort((x, y) => y.length - x.length);

function features(r: SyntheticIdentity): Record<string, string> {
  const [local, domain] = r.email.split('@') as [string, string];
  return {
    'carrier segment': r.mobile.slice(0, 3),
    'e-mail provider': domain,
    'e-mail local part': /^\d+$/.test(local) ? 'digits' : /\d$/.test(local) ? 'ends in digits' : 'letters',
    'name length': String([...r.name].length),
    surname: [...r.name][0]!,
    'ID province': r.id_number.slice(0, 2),
    'ID birth decade': r.id_number.slice(6, 9),
    'address province': PROVINCES.find((p) => r.address.startsWith(p)) ?? '?',
    'has a company': r.company ? 'yes' : 'no',
  };
}

function compare(canaries: readonly SyntheticIdentity[], customers: readonly SyntheticIdentity[]): Chi2[] {
  const fa = canaries.map(features);
  const fb = customers.map(features);
  return Object.keys(fa[0]!).map((k) =>
    homogeneity(
      k,
      fa.map((f) => f[k]!),
      fb.map((f) => f[k]!),
    ),
  );
}

const companyKey = streamKey('canary-distribution', 'company');
const customers: SyntheticIdentity[] = [...generateCustomers({ seed: 'canary-distribution', count: N })].map(
  ({ external_id: _, ...r }) => r,
);

/** The canary generator as it was before issue 11 item 4: one monitored prefix, one domain. */
function oldNarrowRange(k: number): SyntheticIdentity {
  const r = randomIdentity(secureRandom, companyKey);
  const local = r.email.split('@')[0]!.replace(/\d+$/, '');
  return {
    ...r,
    mobile: `1709000${String(k).padStart(4, '0')}`,
    email: `${/^\d/.test(local) || local === '' ? 'zhangwei' : local}${100_000 + k}@mail-cn.example`,
  };
}

function table(rows: readonly Chi2[]): string {
  return rows
    .map(
      (r) =>
        `${r.field.padEnd(18)} χ²=${r.chi2.toFixed(1).padStart(8)} df=${String(r.df).padStart(3)} p=${r.p.toExponential(2)}`,
    )
    .join('\n');
}

describe('canary distribution', () => {
  it('no field separates 2,000 canaries from 2,000 simulated customers', () => {
    const canaries = Array.from({ length: N }, () => randomIdentity(secureRandom, companyKey));
    const rows = compare(canaries, customers);
    console.info(`canaries vs customers (N = ${N} each)\n${table(rows)}`);
    expect(rows.filter((r) => r.p < P_MIN)).toEqual([]);

    // Check digits and formats: every canary is as valid as every customer.
    for (const c of canaries) {
      expect(isValidCnIdNumber(c.id_number)).toBe(true);
      expect(c.id_number[17]).toBe(cnIdCheckChar(c.id_number.slice(0, 17)));
      expect(isValidCnMobile(c.mobile)).toBe(true);
    }
    // And all distinct (the service also checks them against the vault and earlier canaries).
    for (const k of ['mobile', 'id_number'] as const) expect(new Set(canaries.map((c) => c[k])).size).toBe(N);
  });

  it('the same test flags the old narrow-range generator (it can fail)', () => {
    const old = Array.from({ length: N }, (_, k) => oldNarrowRange(k));
    const rows = compare(old, customers);
    console.info(`old narrow-range canaries vs customers\n${table(rows)}`);
    const flagged = rows.filter((r) => r.p < P_MIN).map((r) => r.field);
    expect(flagged).toEqual(expect.arrayContaining(['carrier segment', 'e-mail provider']));
    // A subtler flaw is caught too: canaries that never have a single-character given name.
    const noShortNames = Array.from({ length: N }, () => {
      let r = randomIdentity(secureRandom, companyKey);
      while ([...r.name].length < 3) r = randomIdentity(secureRandom, companyKey);
      return r;
    });
    expect(compare(noShortNames, customers).find((r) => r.field === 'name length')!.p).toBeLessThan(P_MIN);
  });

  it('nothing in the canaries or the generators they use calls Math.random', () => {
    const root = new URL('../..', import.meta.url).pathname;
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => {
        const p = join(dir, f);
        return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
      });
    const files = [...walk(join(root, 'src/modules/disclosure')), ...walk(join(root, 'src/lib/synthetic'))];
    expect(files.length).toBeGreaterThan(10);
    const offenders = files.filter((f) => /Math\s*\.\s*random\b/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
