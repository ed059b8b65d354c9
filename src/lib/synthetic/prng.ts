/**
 * Seeded, non-cryptographic randomness for the synthetic organisation.
 *
 * Determinism model: a seed string and a stream name ("customers", "company", …) hash to a 128-bit
 * stream key once; record i of that stream reseeds one small generator (sfc32) from (key, i) with an
 * integer mix. So record i is a pure function of (seed, stream, i): slices and parallel workers give
 * the same bytes as one sequential run, and reseeding costs a few dozen integer operations instead
 * of a hash per record. None of this is cryptographic — it only has to look random and never change.
 */

export type StreamKey = readonly [number, number, number, number];

/** murmur3's 32-bit finaliser: a cheap bijective avalanche on 32-bit integers. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * 128-bit string hash (cyrb128 construction: four murmur-style lanes over UTF-16 code units,
 * cross-mixed at the end). Used only to turn a seed and a stream name into a key, once per stream.
 */
export function streamKey(seed: string, stream: string): StreamKey {
  const s = `${seed}\u0000${stream}`;
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < s.length; i++) {
    const k = s.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [fmix32(h1), fmix32(h2), fmix32(h3), fmix32(h4)];
}

const TWO32 = 4294967296;

/**
 * What the identity generators draw from: the seeded `Rng` (the simulator: same seed, same
 * output) or the CSPRNG (`secureRandom`: canaries, which nobody may regenerate).
 */
export interface Random {
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Chaotic generator, PractRand-clean), reseedable in place
 * so a generator loop allocates nothing per record.
 */
export class Rng implements Random {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  constructor(key?: StreamKey, index = 0) {
    if (key) this.reseed(key, index);
  }

  /** Positions the generator at record `index` of the stream `key` (index: a safe integer ≥ 0). */
  reseed(key: StreamKey, index: number): this {
    const lo = index >>> 0;
    const hi = Math.floor(index / TWO32) >>> 0;
    // Each lane is a bijection of the index, so no two indexes start from the same state; the
    // discarded rounds below spread a one-bit index change over all 128 bits of state.
    this.a = fmix32(key[0] ^ lo);
    this.b = fmix32(key[1] ^ hi ^ Math.imul(lo, 0x9e3779b9));
    this.c = fmix32((key[2] + lo) | 0);
    this.d = key[3] | 0;
    for (let r = 0; r < 6; r++) this.u32();
    return this;
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution (enough for every distribution here). */
  float(): number {
    return this.u32() / TWO32;
  }

  /** Uniform integer in [0, n) for n ≤ 2^32. */
  int(n: number): number {
    return Math.floor((this.u32() / TWO32) * n);
  }

  /** Uniform integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / TWO32 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** A discrete distribution: items with relative weights, sampled by binary search. */
export class Weighted<T> {
  readonly items: readonly T[];
  private readonly cumulative: Float64Array;
  private readonly total: number;

  constructor(entries: readonly (readonly [T, number])[]) {
    if (entries.length === 0) throw new Error('Weighted: no entries');
    this.items = entries.map((e) => e[0]);
    this.cumulative = new Float64Array(entries.length);
    let sum = 0;
    entries.forEach(([, w], i) => {
      if (!(w > 0)) throw new Error('Weighted: weights must be positive');
      sum += w;
      this.cumulative[i] = sum;
    });
    this.total = sum;
  }

  pick(rng: Random): T {
    const x = rng.float() * this.total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo]!;
  }
}

/**
 * A keyed pseudo-random permutation of [0, size): a balanced Feistel network over [0, m²) with
 * m = ⌈√size⌉ and modular addition (format-preserving), cycle-walked back into range. It is what
 * makes generated identifiers unique without remembering them: mobile suffixes, ID numbers and
 * canary numbers are permutation images of distinct indexes, hence distinct. size ≤ 2^52.
 */
export class Permutation {
  private readonly m: number;
  private readonly keys: Uint32Array;

  constructor(
    readonly size: number,
    key: StreamKey,
    // Four rounds with independent round functions make a strong pseudo-random permutation
    // (Luby–Rackoff); more would only cost time.
    rounds = 4,
  ) {
    if (!Number.isSafeInteger(size) || size < 1 || size > 2 ** 52) throw new RangeError('Permutation size');
    this.m = Math.ceil(Math.sqrt(size));
    this.keys = new Uint32Array(rounds);
    for (let r = 0; r < rounds; r++) this.keys[r] = fmix32(key[r % 4]! ^ Math.imul(r + 1, 0x9e3779b9));
  }

  private round(k: number, r: number): number {
    // r < m ≤ 2^26, so the round input fits 32 bits; the round output is reduced mod m.
    return fmix32(Math.imul(r ^ this.keys[k]!, 0xcc9e2d51) ^ this.keys[k]!) % this.m;
  }

  apply(x: number): number {
    if (!(x >= 0 && x < this.size)) throw new RangeError('Permutation input out of range');
    const m = this.m;
    do {
      let l = Math.floor(x / m);
      let r = x - l * m;
      for (let k = 0; k < this.keys.length; k++) {
        const next = (l + this.round(k, r)) % m;
        l = r;
        r = next;
      }
      x = l * m + r;
    } while (x >= this.size);
    return x;
  }

  /** The inverse: invert(apply(x)) === x. Cycle walking runs backwards the same way. */
  invert(y: number): number {
    if (!(y >= 0 && y < this.size)) throw new RangeError('Permutation input out of range');
    const m = this.m;
    do {
      let l = Math.floor(y / m);
      let r = y - l * m;
      for (let k = this.keys.length - 1; k >= 0; k--) {
        const prev = (r - this.round(k, l) + m) % m;
        r = l;
        l = prev;
      }
      y = l * m + r;
    } while (y >= this.size);
    return y;
  }
}
