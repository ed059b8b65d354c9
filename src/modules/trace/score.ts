import { hyperTailLog, lchoose, log10Of } from './stats.js';

/**
 * Scoring a leak against the candidates that could have produced it (docs/trace.md, "The model").
 *
 * L is the set of leaked rows matched to subjects (m of them); N is the population (live subjects);
 * C_c is what candidate c could have leaked: the subjects it saw, before the leak surfaced, in a
 * view that reproduces the leaked fields (a plain mobile in the leak needs a plain mobile view).
 *
 * Ranking — a likelihood ratio in the spirit of Papadimitriou and Garcia-Molina: under "c is the
 * source" each leaked subject comes from C_c with probability 1 − ε (uniformly) or from anywhere
 * with probability ε (noise, other sources); under "elsewhere" from anywhere. ε is fitted (MLE), so
 * noise rows lower the ratio instead of ruling the source out.
 *
 * Confidence — a p-value under the composite null "c is not the source": for every alternative A
 * (outside, any other candidate, any pair without c), the leaked subjects A cannot explain are, under
 * A, noise drawn from outside C_A, and the count of those that fall in C_c \ C_A is hypergeometric.
 * The p-value is the largest tail over the alternatives (a valid p-value for a composite null), so an
 * innocent whose portfolio overlaps the source's gets the source as his alternative and a large p.
 */
export interface CandidateRef {
  /** `actor:<id>` or `recipient:<id>`. */
  key: string;
  kind: 'actor' | 'recipient';
  id: string;
}

export interface ScoreInput {
  population: number;
  /** Distinct matched subject ids (L). */
  leaked: readonly string[];
  candidates: readonly CandidateRef[];
  /** Candidate key → the leaked subjects it could have leaked (L ∩ C_c). */
  seen: ReadonlyMap<string, ReadonlySet<string>>;
  /** Candidate key → |C_c| over the whole window. */
  sizes: ReadonlyMap<string, number>;
  /** Candidate key → C_c in full, for the leading candidates (exact set differences and unions). */
  full?: ReadonlyMap<string, ReadonlySet<string>>;
  /** Canary subject id → the candidate key it is unique to. */
  canaries?: ReadonlyMap<string, string>;
  /** Candidate key → how many canaries are unique to it. */
  canaryCounts?: ReadonlyMap<string, number>;
  /**
   * The chance that a list not derived from a candidate's view holds one given canary of it (the
   * canary's identity is synthetic: it can only be guessed, from a space of numbers).
   */
  canaryCoincidence?: number;
  /** How many candidates get a p-value (by LLR); the rest are listed with p = 1 untested. */
  maxTested?: number;
  /** How many leading candidates form pairs (collusion, actor through recipient). */
  pairPool?: number;
}

export interface Scored {
  key: string;
  kind: 'actor' | 'recipient' | 'pair';
  members: CandidateRef[];
  pairKind?: 'collusion' | 'actor_via_recipient';
  /** Natural-log likelihood ratio (nats) of "this candidate is the source" against "elsewhere". */
  llr: number;
  /** Leaked subjects this candidate could have leaked. */
  matched: number;
  /** Subjects it could have leaked over the whole window (|C_c|). */
  seenTotal: number;
  /** Fitted share of the leak that came from elsewhere (noise, other sources). */
  noise: number;
  /** Leaked subjects no other candidate could have leaked. */
  exclusive: string[];
  canaryHits: string[];
  /** Papadimitriou–Garcia-Molina guilt probability (each leaked subject shared among its holders). */
  guilt: number;
  /** log10 of the p-value under "not the source" (−300 stands for anything smaller). */
  log10P: number;
  p: number;
  /** The alternative that explains the leak best without this candidate (where the p-value came from). */
  bestAlternative: string | null;
  tested: boolean;
  /** Pairs only: each member adds what the other cannot explain (p < 1e-6 against either alone). */
  supported?: boolean;
}

interface Cand {
  key: string;
  refs: CandidateRef[];
  seen: Set<string>;
  size: number;
  /** Full C_c when known for every member; undefined → only the size (bounds are used). */
  full: Set<string>[] | undefined;
}

const PAIR_SUPPORT_LOG10 = -6;

function fitLlr(m: number, k: number, N: number, S: number): { llr: number; eps: number } {
  if (k === 0 || S <= 0 || m === 0) return { llr: 0, eps: 1 };
  const A = N / S;
  if (A <= 1) return { llr: 0, eps: 1 };
  let eps = ((m - k) * A) / (m * (A - 1));
  eps = Math.min(1, Math.max(0, eps));
  const inSet = Math.log(A - eps * (A - 1));
  const out = m - k === 0 ? 0 : (m - k) * Math.log(Math.max(eps, 1e-300));
  return { llr: Math.max(0, k * inSet + out), eps };
}

function inAny(s: string, sets: readonly ReadonlySet<string>[]): boolean {
  for (const x of sets) if (x.has(s)) return true;
  return false;
}

export function score(input: ScoreInput): Scored[] {
  const N = Math.max(1, input.population);
  const L = input.leaked;
  const m = L.length;
  const canaries = input.canaries ?? new Map<string, string>();
  const q = Math.min(1, Math.max(1e-300, input.canaryCoincidence ?? 1e-6));
  const maxTested = input.maxTested ?? 50;
  const pairPool = input.pairPool ?? 12;

  // Holders of each leaked subject (for exclusivity and the guilt model).
  const holders = new Map<string, number>();
  for (const c of input.candidates)
    for (const s of input.seen.get(c.key) ?? []) holders.set(s, (holders.get(s) ?? 0) + 1);

  const singles: Cand[] = input.candidates.map((c) => {
    const f = input.full?.get(c.key);
    return {
      key: c.key,
      refs: [c],
      seen: new Set(input.seen.get(c.key) ?? []),
      size: Math.max(input.sizes.get(c.key) ?? 0, input.seen.get(c.key)?.size ?? 0),
      full: f ? [new Set(f)] : undefined,
    };
  });

  const canaryHitsOf = (c: Cand): string[] => {
    const keys = new Set(c.refs.map((r) => r.key));
    return [...c.seen].filter((s) => keys.has(canaries.get(s) ?? ''));
  };
  const canaryTotal = (c: Cand): number =>
    c.refs.reduce((n, r) => n + (input.canaryCounts?.get(r.key) ?? 0), 0);

  const llrOf = (c: Cand) => {
    const fit = fitLlr(m, c.seen.size, N, c.size);
    const hits = canaryHitsOf(c).length;
    return { llr: fit.llr + hits * -Math.log(q), eps: fit.eps, hits };
  };

  const ranked = singles
    .map((c) => ({ c, ...llrOf(c) }))
    .sort((a, b) => b.llr - a.llr || a.c.key.localeCompare(b.c.key));

  // Pairs among the leading candidates (two recipients are not a pair: a recipient is an organisation).
  const lead = ranked.slice(0, pairPool).filter((r) => r.llr > 0 && r.c.seen.size > 0);
  const pairs: Cand[] = [];
  for (let i = 0; i < lead.length; i++) {
    for (let j = i + 1; j < lead.length; j++) {
      const a = lead[i]!.c;
      const b = lead[j]!.c;
      if (a.refs[0]!.kind === 'recipient' && b.refs[0]!.kind === 'recipient') continue;
      const seen = new Set([...a.seen, ...b.seen]);
      let size: number;
      let full: Set<string>[] | undefined;
      if (a.full && b.full) {
        const [fa] = a.full;
        const [fb] = b.full;
        let both = 0;
        const [small, big] = fa!.size < fb!.size ? [fa!, fb!] : [fb!, fa!];
        for (const s of small) if (big.has(s)) both++;
        size = fa!.size + fb!.size - both;
        full = [fa!, fb!];
      } else size = a.size + b.size;
      const [x, y] = a.refs[0]!.kind === 'recipient' ? [b, a] : [a, b];
      pairs.push({ key: `${x.key}+${y.key}`, refs: [x.refs[0]!, y.refs[0]!], seen, size, full });
    }
  }

  // p-values ---------------------------------------------------------------------------------------
  const alternatives: Cand[] = [...singles, ...pairs];
  const membersOf = (c: Cand) => new Set(c.refs.map((r) => r.key));

  const setP = (c: Cand, isPair: boolean): { lnP: number; alt: string | null } => {
    if (c.seen.size === 0) return { lnP: 0, alt: null };
    const mine = membersOf(c);
    // Outside: the leak is noise drawn from the whole population.
    let best = hyperTailLog(N, c.size, m, c.seen.size);
    let alt: string | null = 'outside';
    for (const a of alternatives) {
      if (a === c) continue;
      const theirs = membersOf(a);
      // For a single candidate, alternatives must not involve it; for a pair, any other
      // explanation counts (its members alone included: the pair must add to each of them).
      if (!isPair && [...theirs].some((k) => mine.has(k))) continue;
      if (isPair && [...theirs].every((k) => mine.has(k)) && theirs.size === mine.size) continue;
      let obs = 0;
      for (const s of c.seen) if (!a.seen.has(s)) obs++;
      if (obs === 0) return { lnP: 0, alt: a.key };
      let succ: number;
      if (c.full && a.full) {
        succ = 0;
        for (const part of c.full) for (const s of part) if (!inAny(s, a.full)) succ++;
        if (c.full.length > 1) {
          // A pair's union: count each subject once.
          const seenOnce = new Set<string>();
          succ = 0;
          for (const part of c.full)
            for (const s of part)
              if (!seenOnce.has(s) && !inAny(s, a.full)) {
                seenOnce.add(s);
                succ++;
              }
        }
      } else succ = c.size;
      const pool = N - a.size;
      const draws = m - a.seen.size;
      const lnP = hyperTailLog(pool, Math.min(succ, pool), draws, obs);
      if (lnP > best) {
        best = lnP;
        alt = a.key;
        if (best >= 0) return { lnP: 0, alt };
      }
    }
    return { lnP: best, alt };
  };

  const canaryP = (c: Cand): number => {
    const hits = canaryHitsOf(c).length;
    if (hits === 0) return 0;
    const total = Math.max(hits, canaryTotal(c));
    return Math.min(0, lchoose(total, hits) + hits * Math.log(q));
  };

  const out: Scored[] = [];
  const tested = new Set(ranked.slice(0, maxTested).map((r) => r.c.key));
  const describe = (c: Cand, isPair: boolean, doTest: boolean): Scored => {
    const { llr, eps } = llrOf(c);
    let lnP = 0;
    let alt: string | null = null;
    if (doTest) {
      const s = setP(c, isPair);
      // A canary marks one view (an export, a portfolio): it names that member alone. A pair is
      // supported only by the set test against each member, or every reader who overlaps an export
      // would be accused "through the recipient" on the recipient's canaries (its hits are still
      // listed as evidence).
      const cp = isPair ? 0 : canaryP(c);
      // Two tests (the set and the canaries): Bonferroni.
      lnP = Math.min(0, Math.min(s.lnP, cp) + (cp < 0 ? Math.LN2 : 0));
      alt = s.alt;
    }
    const exclusive = [...c.seen].filter((s) => (isPair ? onlyHeldBy(s, c) : holders.get(s) === 1));
    let notGuilty = 1;
    for (const s of c.seen) notGuilty *= 1 - 0.8 / Math.max(1, holders.get(s) ?? 1);
    const log10P = log10Of(lnP);
    const result: Scored = {
      key: c.key,
      kind: isPair ? 'pair' : c.refs[0]!.kind,
      members: c.refs,
      llr,
      matched: c.seen.size,
      seenTotal: c.size,
      noise: eps,
      exclusive: exclusive.sort(),
      canaryHits: canaryHitsOf(c).sort(),
      guilt: 1 - notGuilty,
      log10P,
      p: Math.exp(lnP),
      bestAlternative: alt,
      tested: doTest,
    };
    if (isPair) {
      result.pairKind = c.refs.some((r) => r.kind === 'recipient') ? 'actor_via_recipient' : 'collusion';
      result.supported = doTest && log10P < PAIR_SUPPORT_LOG10;
    }
    return result;
  };
  // Exclusive to a pair: every candidate holding it is a member.
  const onlyHeldBy = (s: string, c: Cand): boolean => {
    const mine = membersOf(c);
    for (const x of singles) if (!mine.has(x.key) && x.seen.has(s)) return false;
    return true;
  };

  for (const r of ranked) out.push(describe(r.c, false, tested.has(r.c.key)));
  for (const p of pairs) out.push(describe(p, true, true));

  // Singles and supported pairs by likelihood ratio; pairs that add nothing beyond a member go last.
  const tier = (s: Scored) => (s.kind === 'pair' && !s.supported ? 1 : 0);
  out.sort((a, b) => tier(a) - tier(b) || b.llr - a.llr || a.log10P - b.log10P || a.key.localeCompare(b.key));
  return out;
}
