import { describe, expect, it } from 'vitest';
import { isAppError } from '../../lib/errors.js';
import { Frontier, type TileWrite } from './frontier.js';
import { CompactRange, decomposeRange, HASH_SIZE, leafHash, rootFromLeafHashes } from './merkle.js';
import { encodeTileIndex, parseTilePath, slotOf, TileHashes, tilePath, tileWidthAt } from './tiles.js';
import { TreeReader } from './treereader.js';

const leavesOf = (n: number) => Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`e${i}`)));

/** An in-memory insert-only tile table: rows keyed by level/index/width, reads take the widest. */
function memoryTiles() {
  const rows = new Map<string, Buffer>();
  return {
    rows,
    insert(ws: TileWrite[]) {
      for (const w of ws) {
        const key = `${w.level}/${w.index}/${w.width}`;
        if (rows.has(key)) throw new Error(`duplicate tile row ${key}`);
        expect(w.hashes.length).toBe(w.width * HASH_SIZE);
        rows.set(key, w.hashes);
      }
    },
    widest(level: number, index: number): Buffer | undefined {
      let best: Buffer | undefined;
      for (let w = 256; w >= 1 && !best; w--) best = rows.get(`${level}/${index}/${w}`);
      return best;
    },
  };
}

describe('tile paths (C2SP tlog-tiles)', () => {
  it('encodes indexes as 3-digit elements, all but the last prefixed with x', () => {
    expect(encodeTileIndex(0)).toBe('000');
    expect(encodeTileIndex(7)).toBe('007');
    expect(encodeTileIndex(999)).toBe('999');
    expect(encodeTileIndex(1000)).toBe('x001/000');
    expect(encodeTileIndex(1234067)).toBe('x001/x234/067');
    expect(tilePath(0, 1234067)).toBe('tile/0/x001/x234/067');
    expect(tilePath(1, 5, 17)).toBe('tile/1/005.p/17');
    expect(tilePath('entries', 1000, 255)).toBe('tile/entries/x001/000.p/255');
    expect(tilePath(2, 3, 256)).toBe('tile/2/003');
  });

  it('parses what it encodes', () => {
    for (const n of [0, 1, 999, 1000, 1001, 123456, 1234067, 2 ** 40 + 3]) {
      expect(parseTilePath(tilePath(3, n).slice(5))).toEqual({ level: 3, index: n });
      expect(parseTilePath(tilePath('entries', n, 9).slice(5))).toEqual({
        level: 'entries',
        index: n,
        width: 9,
      });
    }
  });

  it('refuses non-canonical or malformed paths', () => {
    const bad = [
      '0/1',
      '0/0001',
      '0/x000/001',
      '0/x1/001',
      '0/001/x002',
      '00/001',
      '64/001',
      '-1/001',
      '0/001.p/0',
      '0/001.p/256',
      '0/001.p/07',
      '0/001.p',
      '0/001.p/5/6',
      'entries',
      'entries/',
      'x/001',
      '0/001.p/1.p/2',
    ];
    for (const p of bad) {
      let code: string | undefined;
      try {
        parseTilePath(p);
      } catch (e) {
        code = isAppError(e) ? e.code : 'other';
      }
      expect(code, p).toBe('LEDGER_TILE_PATH_INVALID');
    }
  });

  it('places perfect subtrees in tiles', () => {
    expect(slotOf(0, 300)).toEqual({ level: 0, tile: 1, innerHeight: 0, innerIndex: 44, needWidth: 45 });
    expect(slotOf(3, 5)).toEqual({ level: 0, tile: 0, innerHeight: 3, innerIndex: 5, needWidth: 48 });
    expect(slotOf(8, 2)).toEqual({ level: 1, tile: 0, innerHeight: 0, innerIndex: 2, needWidth: 3 });
    expect(slotOf(17, 1)).toEqual({ level: 2, tile: 0, innerHeight: 1, innerIndex: 1, needWidth: 4 });
    expect(tileWidthAt(0, 0, 100)).toBe(100);
    expect(tileWidthAt(0, 1, 300)).toBe(44);
    expect(tileWidthAt(1, 0, 300)).toBe(1);
    expect(tileWidthAt(0, 2, 300)).toBe(0);
  });
});

describe('frontier and tiles', () => {
  it('writes tiles that reproduce every root and proof, batch after batch, with widths that only grow', async () => {
    // Batch sizes that cross tile and level boundaries in every way.
    const sizes = [1, 2, 253, 1, 255, 256, 257, 511, 65536 - 1536, 3, 700];
    const total = sizes.reduce((a, b) => a + b, 0);
    const leaves = leavesOf(total);
    const table = memoryTiles();
    let f = Frontier.empty();
    const reader = new TreeReader(async (level, index) => table.widest(level, index), 16);
    let at = 0;
    const ref = new CompactRange();
    for (const s of sizes) {
      const batch = leaves.slice(at, at + s);
      const next = f.clone();
      table.insert(next.append(batch));
      f = next;
      at += s;
      expect(f.size).toBe(at);
      for (const l of batch) ref.append(l);
      expect(f.root().equals(ref.root())).toBe(true);
      expect((await reader.rootAt(at)).equals(f.root())).toBe(true);
      // A frontier rebuilt from the stored partial tiles is the same frontier.
      const loaded = await Frontier.load(at, async (level, index, need) => {
        const t = new TileHashes(table.widest(level, index) as Buffer);
        expect(t.width).toBeGreaterThanOrEqual(need);
        return t;
      });
      expect(loaded.root().equals(f.root())).toBe(true);
      const probe = loaded.clone();
      const extra = leavesOf(3).map((l) => Buffer.from(l));
      probe.append(extra);
      const refProbe = ref.clone();
      for (const l of extra) refProbe.append(l);
      expect(probe.root().equals(refProbe.root())).toBe(true);
    }
    expect(at).toBe(total);
    // Tile contents: level 0 holds leaf hashes, level 1 holds roots of 256-leaf subtrees.
    expect(
      table
        .widest(0, 3)
        ?.subarray(0, 32)
        .equals(leaves[768] as Buffer),
    ).toBe(true);
    const sub = rootFromLeafHashes(leaves.slice(512, 768));
    expect(table.widest(1, 0)?.subarray(64, 96).equals(sub)).toBe(true);
    expect(table.widest(2, 0)?.length).toBe(32);
    // Range hashes over every aligned prefix agree with the reference.
    for (const n of [1, 255, 256, 257, 65535, 65536, total]) {
      const parts = decomposeRange(0, n);
      expect(parts.length).toBeGreaterThan(0);
      expect((await reader.rootAt(n)).equals(rootFromLeafHashes(leaves.slice(0, n)))).toBe(true);
    }
  });

  it('computes the levels inside a tile', () => {
    const leaves = leavesOf(256);
    const t = new TileHashes(Buffer.concat(leaves));
    expect(t.subtree(8, 0).equals(rootFromLeafHashes(leaves))).toBe(true);
    expect(t.subtree(2, 3).equals(rootFromLeafHashes(leaves.slice(12, 16)))).toBe(true);
    expect(t.subtree(0, 9).equals(leaves[9] as Buffer)).toBe(true);
    const partial = new TileHashes(Buffer.concat(leaves.slice(0, 5)));
    expect(partial.subtree(2, 0).equals(rootFromLeafHashes(leaves.slice(0, 4)))).toBe(true);
    expect(() => partial.subtree(2, 1)).toThrow();
  });
});
