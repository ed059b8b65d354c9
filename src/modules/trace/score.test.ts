import { describe, expect, it } from 'vitest';
import { type CandidateRef, score } from './score.js';

const ref = (id: string, kind: 'actor' | 'recipient' = 'actor'): CandidateRef => ({
  key: `${kind}:${id}`,
  kind,
  id,
});
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => `s${a + i}`);

function world() {
  // Population 2,000. The source saw s0–s199; an innocent saw s100–s299 (half overlap); a broad
  // reader saw s500–s1499; a small reader saw s0–s19 (inside the source's).
  const sets: Record<string, string[]> = {
    'actor:src': range(0, 200),
    'actor:inn': range(100, 300),
    'actor:broad': range(500, 1500),
    'actor:small': range(0, 20),
  };
  return sets;
}

function run(leaked: string[], sets: Record<string, string[]>, extra = {}) {
  const L = new Set(leaked);
  const candidates = Object.keys(sets).map((k) => ref(k.split(':')[1]!, k.split(':')[0] as 'actor'));
  return score({
    population: 2000,
    leaked,
    candidates,
    seen: new Map(Object.entries(sets).map(([k, v]) => [k, new Set(v.filter((s) => L.has(s)))])),
    sizes: new Map(Object.entries(sets).map(([k, v]) => [k, v.length])),
    full: new Map(Object.entries(sets).map(([k, v]) => [k, new Set(v)])),
    ...extra,
  });
}

describe('score', () => {
  it('ranks the source first with a tiny p-value; innocents who overlap it get a large one', () => {
    const leaked = [...range(0, 200).filter((_, i) => i % 3 === 0), ...range(1500, 1510)];
    const out = run(leaked, world());
    expect(out[0]!.key).toBe('actor:src');
    expect(out[0]!.log10P).toBeLessThan(-6);
    for (const c of out.filter((x) => x.key !== 'actor:src' && !x.key.includes('actor:src')))
      expect(c.log10P).toBeGreaterThan(-6);
    expect(out[0]!.noise).toBeGreaterThan(0);
  });

  it('a leak from outside accuses nobody', () => {
    const leaked = range(0, 2000).filter((_, i) => i % 17 === 0);
    for (const c of run(leaked, world())) expect(c.log10P).toBeGreaterThan(-6);
  });

  it('two colluders: the pair ranks first and is supported', () => {
    const sets = { ...world(), 'actor:col': range(1200, 1400) };
    const leaked = [
      ...range(0, 200).filter((_, i) => i % 2 === 0),
      ...range(1200, 1400).filter((_, i) => i % 2 === 0),
    ];
    const out = run(leaked, sets);
    expect(out[0]!.kind).toBe('pair');
    expect(out[0]!.members.map((m) => m.key).sort()).toEqual(['actor:col', 'actor:src']);
    expect(out[0]!.supported).toBe(true);
  });

  it('a canary placed only in one view names it', () => {
    const sets = { 'actor:a': [...range(0, 100), 'c1'], 'actor:b': range(0, 100) };
    const out = run(['c1', 's1', 's2'], sets, {
      canaries: new Map([['c1', 'actor:a']]),
      canaryCounts: new Map([['actor:a', 1]]),
      canaryCoincidence: 1e-6,
    });
    expect(out[0]!.key).toBe('actor:a');
    expect(out[0]!.canaryHits).toEqual(['c1']);
    expect(out[0]!.log10P).toBeLessThan(-5);
  });

  it("a recipient's canaries name the recipient, not a pair of it with an innocent reader", () => {
    // Threat: a false accusation. The export's canaries are near-decisive for the recipient alone;
    // a pair (innocent actor, recipient) must earn its p-value from the set test against each member,
    // or every reader who overlaps the export is accused "through the recipient".
    const canaries = ['c1', 'c2', 'c3', 'c4', 'c5'];
    const sets = {
      'recipient:r': [...range(0, 100), ...canaries],
      'actor:inn': range(50, 300),
      'actor:other': range(400, 600),
    };
    const leaked = [...range(0, 100).filter((_, i) => i % 2 === 0), ...canaries, 's450', 's451'];
    const out = run(leaked, sets, {
      canaries: new Map(canaries.map((c) => [c, 'recipient:r'])),
      canaryCounts: new Map([['recipient:r', canaries.length]]),
      canaryCoincidence: 1e-4,
    });
    expect(out[0]!.key).toBe('recipient:r');
    expect(out[0]!.log10P).toBeLessThan(-6);
    const accused = out.filter((c) => c.log10P < -6 && c.members.some((m) => m.key !== 'recipient:r'));
    expect(accused.map((c) => c.key)).toEqual([]);
    const pair = out.find((c) => c.kind === 'pair' && c.members.some((m) => m.key === 'actor:inn'));
    expect(pair?.canaryHits).toEqual(canaries);
    expect(pair?.supported).toBe(false);
  });
});
