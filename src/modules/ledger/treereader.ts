import { ledgerError } from './ledger.errors.js';
import {
  consistencyRanges,
  decomposeRange,
  EMPTY_ROOT,
  foldRight,
  inclusionRanges,
  type LeafRange,
  type Subtree,
} from './merkle.js';
import { slotOf, TileCache, TileHashes } from './tiles.js';

/** Reads the widest stored row of a tile, or undefined when the tile has no row. */
export type TileLoader = (level: number, tile: number) => Promise<Buffer | undefined>;

/**
 * Answers tree questions (roots at any size, inclusion and consistency proofs) from the stored
 * tiles. A proof needs the hashes of O(log n) subtrees; each lives in one tile, so it reads O(log n)
 * rows, and tiles below the right edge never change, so they are cached (a partial tile is cached
 * too and used for any width up to its own: a stored row is never altered, only superseded).
 */
export class TreeReader {
  private readonly cache: TileCache;

  constructor(
    private readonly load: TileLoader,
    cacheTiles = 2048,
  ) {
    this.cache = new TileCache(cacheTiles);
  }

  clearCache(): void {
    this.cache.clear();
  }

  private async tile(level: number, tile: number, needWidth: number): Promise<TileHashes> {
    const cached = this.cache.get(level, tile, needWidth);
    if (cached) return cached;
    const bytes = await this.load(level, tile);
    const t = bytes ? new TileHashes(bytes) : undefined;
    if (!t || t.width < needWidth) {
      throw ledgerError('LEDGER_INCONSISTENT', { details: { reason: 'tile missing', level, tile } });
    }
    this.cache.put(level, tile, t);
    return t;
  }

  /** Hashes of perfect subtrees, reading each tile they fall in once. */
  async subtreeHashes(subtrees: readonly Subtree[]): Promise<Buffer[]> {
    const slots = subtrees.map((s) => slotOf(s.height, s.index));
    const need = new Map<string, { level: number; tile: number; width: number }>();
    for (const s of slots) {
      const key = `${s.level}/${s.tile}`;
      const cur = need.get(key);
      if (!cur) need.set(key, { level: s.level, tile: s.tile, width: s.needWidth });
      else cur.width = Math.max(cur.width, s.needWidth);
    }
    const tiles = new Map<string, TileHashes>();
    await Promise.all(
      [...need].map(async ([key, n]) => {
        tiles.set(key, await this.tile(n.level, n.tile, n.width));
      }),
    );
    return slots.map((s) =>
      (tiles.get(`${s.level}/${s.tile}`) as TileHashes).subtree(s.innerHeight, s.innerIndex),
    );
  }

  /** MTH of each leaf range (ranges as they occur in proofs, or prefixes [0, n)). */
  async rangeHashes(ranges: readonly LeafRange[]): Promise<Buffer[]> {
    const parts = ranges.map(([lo, hi]) => decomposeRange(lo, hi));
    const hashes = await this.subtreeHashes(parts.flat());
    let at = 0;
    return parts.map((p) => {
      const mine = hashes.slice(at, at + p.length);
      at += p.length;
      return foldRight(mine);
    });
  }

  async rootAt(size: number): Promise<Buffer> {
    if (size === 0) return EMPTY_ROOT;
    return (await this.rangeHashes([[0, size]]))[0] as Buffer;
  }

  async inclusionProof(index: number, size: number): Promise<Buffer[]> {
    return this.rangeHashes(inclusionRanges(index, size));
  }

  async consistencyProof(from: number, to: number): Promise<Buffer[]> {
    if (from === to) return [];
    return this.rangeHashes(consistencyRanges(from, to));
  }

  /** The first `width` hashes of a tile. */
  async tileBytes(level: number, tile: number, width: number): Promise<Buffer> {
    return (await this.tile(level, tile, width)).prefix(width);
  }
}
