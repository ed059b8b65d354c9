import { describe, expect, it } from 'vitest';
import { Frontier } from './frontier.js';
import { hashEntries, hashInline } from './hashpool.js';
import { CompactRange, leafHash, rootFromLeafHashes } from './merkle.js';

const entries = Array.from({ length: 1500 }, (_, i) =>
  Buffer.from(`entry number ${i} ${'x'.repeat(i % 40)}`),
);

describe('hash pool', () => {
  it('gives the leaf hashes and full-tile roots of a run, wherever it starts', async () => {
    for (const first of [0, 1, 200, 256, 511]) {
      const run = entries.slice(0, 1200);
      const viaWorker = await hashEntries(run, first);
      const inline = hashInline(run, first);
      expect(viaWorker.skip).toBe((256 - (first % 256)) % 256);
      expect(viaWorker.leaves.equals(inline.leaves)).toBe(true);
      expect(viaWorker.roots.equals(inline.roots)).toBe(true);
      run.forEach((e, i) => {
        expect(viaWorker.leaves.subarray(i * 32, i * 32 + 32).equals(leafHash(e))).toBe(true);
      });
      const tiles = viaWorker.roots.length / 32;
      expect(tiles).toBe(Math.floor((1200 - viaWorker.skip) / 256));
      for (let t = 0; t < tiles; t++) {
        const from = viaWorker.skip + t * 256;
        const expected = rootFromLeafHashes(run.slice(from, from + 256).map((e) => leafHash(e)));
        expect(viaWorker.roots.subarray(t * 32, t * 32 + 32).equals(expected)).toBe(true);
      }
    }
  });

  it('lets the frontier take whole tiles by their roots, with the same tiles and root', async () => {
    const a = Frontier.empty();
    const b = Frontier.empty();
    const ref = new CompactRange();
    let at = 0;
    for (const n of [100, 700, 3, 600]) {
      const run = entries.slice(at, at + n);
      const h = await hashEntries(run, at);
      const withRoots = a.appendRun(h.leaves, h.roots, h.skip);
      const leafByLeaf = b.append(run.map((e) => leafHash(e)));
      expect(withRoots).toEqual(leafByLeaf);
      for (const e of run) ref.append(leafHash(e));
      expect(a.root().equals(ref.root())).toBe(true);
      at += n;
    }
  });
});
