import { describe, expect, it } from 'vitest';
import { Permutation, Rng, streamKey, Weighted } from './prng.js';

describe('prng', () => {
  it('a permutation is a bijection of [0, size) and invert undoes it', () => {
    for (const size of [1, 2, 7, 1000, 12_345, 100_000]) {
      const p = new Permutation(size, streamKey('perm', String(size)));
      const seen = new Uint8Array(size);
      let moved = 0;
      let wrong = 0;
      for (let x = 0; x < size; x++) {
        const y = p.apply(x);
        if (!(y >= 0 && y < size) || p.invert(y) !== x) wrong++;
        seen[y] = 1;
        if (y !== x) moved++;
      }
      expect(wrong).toBe(0);
      expect(seen.reduce((a, b) => a + b, 0)).toBe(size);
      if (size >= 1000) expect(moved / size).toBeGreaterThan(0.99);
    }
    expect(() => new Permutation(10, streamKey('a', 'b')).apply(10)).toThrow(RangeError);
  });

  it('different keys give different permutations', () => {
    const a = new Permutation(1_000_000, streamKey('s1', 'x'));
    const b = new Permutation(1_000_000, streamKey('s2', 'x'));
    let same = 0;
    for (let x = 0; x < 1000; x++) if (a.apply(x) === b.apply(x)) same++;
    expect(same).toBeLessThan(3);
  });

  it('reseeding at an index reproduces that index, and neighbouring indexes are unrelated', () => {
    const key = streamKey('seed', 'stream');
    const r = new Rng();
    const seq = (i: number) => {
      r.reseed(key, i);
      return [r.u32(), r.u32(), r.u32()];
    };
    expect(seq(42)).toEqual(seq(42));
    expect(seq(42)).not.toEqual(seq(43));
    expect(seq(2 ** 40)).not.toEqual(seq(0));
    // First draws of consecutive indexes: roughly half the bits differ.
    let bits = 0;
    for (let i = 0; i < 1000; i++) {
      r.reseed(key, i);
      const a = r.u32();
      r.reseed(key, i + 1);
      let x = (a ^ r.u32()) >>> 0;
      while (x) {
        bits += x & 1;
        x >>>= 1;
      }
    }
    expect(bits / 1000).toBeGreaterThan(14);
    expect(bits / 1000).toBeLessThan(18);
  });

  it('int and Weighted follow their distributions', () => {
    const r = new Rng(streamKey('d', 'd'), 0);
    const counts = new Array(10).fill(0);
    for (let k = 0; k < 100_000; k++) counts[r.int(10)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    const w = new Weighted([
      ['a', 1],
      ['b', 3],
    ]);
    let b = 0;
    for (let k = 0; k < 100_000; k++) if (w.pick(r) === 'b') b++;
    expect(Math.abs(b / 100_000 - 0.75)).toBeLessThan(0.01);
    expect(() => new Weighted([['x', 0]])).toThrow();
  });
});
