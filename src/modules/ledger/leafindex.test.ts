import { describe, expect, it } from 'vitest';
import { BUCKETS, buildEpochIndex, EPOCH, findHash, searchBucket } from './leafindex.js';
import { HASH_SIZE, leafHash } from './merkle.js';

describe('leaf index', () => {
  const leaves = Array.from({ length: EPOCH }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
  // Two equal entries share a leaf hash: both offsets must be found.
  leaves[40_000] = leaves[7] as Buffer;
  const rows = buildEpochIndex(Buffer.concat(leaves));

  it('has one row per first byte, holding every leaf once, sorted', () => {
    expect(rows).toHaveLength(BUCKETS);
    expect(rows.reduce((a, r) => a + r.length / 10, 0)).toBe(EPOCH);
    let unsorted = 0;
    for (const r of rows) {
      // Record k (source) never sorts before record k − 1 (target).
      for (let k = 1; k < r.length / 10; k++) {
        if (r.compare(r, (k - 1) * 10, (k - 1) * 10 + 8, k * 10, k * 10 + 8) < 0) unsorted += 1;
      }
    }
    expect(unsorted).toBe(0);
  });

  it('finds every leaf by its hash', () => {
    for (const i of [0, 1, 255, 256, 12_345, 65_535]) {
      const h = leaves[i] as Buffer;
      expect(searchBucket(rows[h[0] as number] as Buffer, h)).toContain(i);
    }
    const dup = leaves[7] as Buffer;
    expect(searchBucket(rows[dup[0] as number] as Buffer, dup)).toEqual([7, 40_000]);
    const absent = leafHash(Buffer.from('never appended'));
    expect(searchBucket(rows[absent[0] as number] as Buffer, absent)).toEqual([]);
  });

  it('finds hashes in tiles only at hash boundaries', () => {
    const a = leafHash(Buffer.from('a'));
    const b = leafHash(Buffer.from('b'));
    // `a` also occurs straddling two slots, which must not count.
    const straddle = Buffer.concat([b.subarray(0, 16), a, b.subarray(0, 16)]);
    const tile = Buffer.concat([b, straddle, a, b, a]);
    expect(findHash(tile, a)).toEqual([3, 5]);
    expect(tile.length % HASH_SIZE).toBe(0);
    expect(() => buildEpochIndex(Buffer.concat(leaves.slice(0, 10)))).toThrow();
  });
});
