import { CompactRange, HASH_SIZE } from './merkle.js';
import { storedCount, TILE_HEIGHT, TILE_WIDTH, type TileHashes } from './tiles.js';

/** One tile row to insert: the tile's first `width` hashes. */
export interface TileWrite {
  level: number;
  index: number;
  width: number;
  hashes: Buffer;
}

/**
 * The sequencer's view of the right edge of the tree: the compact range (for the root) and, per
 * tile level, the hashes of the rightmost partial tile. Appending n leaves costs n leaf-level pushes
 * and n − 1 node hashes, and yields the tile rows to insert: each tile that filled up, plus one new
 * row per level whose partial tile grew. A batch therefore writes a constant number of tile rows
 * (plus one per 256 entries) and never rewrites one.
 *
 * The frontier is only replaced after the transaction that wrote its tiles committed; a batch works
 * on a clone.
 */
export class Frontier {
  private constructor(
    private readonly range: CompactRange,
    /** Per tile level: hashes of the current partial tile. */
    private readonly partial: Buffer[][],
    /** Per tile level: number of hashes stored at that level. */
    private readonly counts: number[],
  ) {}

  static empty(): Frontier {
    return new Frontier(new CompactRange(), [], []);
  }

  /**
   * Rebuilds the frontier of a tree of `size` leaves from its partial tiles. `loadTile` returns the
   * widest stored row of a tile, which must cover at least the width the size implies.
   */
  static async load(
    size: number,
    loadTile: (level: number, index: number, needWidth: number) => Promise<TileHashes>,
  ): Promise<Frontier> {
    const partial: Buffer[][] = [];
    const counts: number[] = [];
    const subtrees: { height: number; hash: Buffer }[] = [];
    let top = 0;
    while (storedCount(top + 1, size) > 0) top += 1;
    for (let level = top; level >= 0; level--) {
      const count = storedCount(level, size);
      counts[level] = count;
      const width = count % TILE_WIDTH;
      partial[level] = [];
      if (width === 0) continue;
      const tile = await loadTile(level, Math.floor(count / TILE_WIDTH), width);
      for (let i = 0; i < width; i++) (partial[level] as Buffer[]).push(Buffer.from(tile.hash(i)));
      // The partial tile's width, in binary, is the part of the compact range at this level.
      let offset = 0;
      for (let b = TILE_HEIGHT - 1; b >= 0; b--) {
        const span = 2 ** b;
        if (width & span) {
          subtrees.push({
            height: level * TILE_HEIGHT + b,
            hash: Buffer.from(tile.subtree(b, offset / span)),
          });
          offset += span;
        }
      }
    }
    return new Frontier(CompactRange.fromSubtrees(size, subtrees), partial, counts);
  }

  get size(): number {
    return this.range.size;
  }

  root(): Buffer {
    return this.range.root();
  }

  clone(): Frontier {
    return new Frontier(
      this.range.clone(),
      this.partial.map((p) => [...p]),
      [...this.counts],
    );
  }

  /** Appends leaf hashes; returns the tile rows that make the stored tiles match the new size. */
  append(leaves: readonly Buffer[]): TileWrite[] {
    return this.appendRun(Buffer.concat(leaves), Buffer.alloc(0), leaves.length);
  }

  /**
   * Appends a run of leaf hashes (concatenated), given the roots of the full tiles inside it (the
   * first starting `skip` leaves in): a whole tile is added as one height-8 subtree, so its 255
   * node hashes are not computed again here.
   */
  appendRun(leaves: Buffer, tileRoots: Buffer, skip: number): TileWrite[] {
    const writes: TileWrite[] = [];
    const touched = new Set<number>();
    const store = (level: number, hash: Buffer) => {
      let p = this.partial[level];
      if (!p) {
        p = [];
        this.partial[level] = p;
      }
      p.push(hash);
      this.counts[level] = (this.counts[level] ?? 0) + 1;
      touched.add(level);
      if (p.length === TILE_WIDTH) {
        writes.push({
          level,
          index: (this.counts[level] as number) / TILE_WIDTH - 1,
          width: TILE_WIDTH,
          hashes: Buffer.concat(p),
        });
        this.partial[level] = [];
      }
    };
    const onNode = (height: number, hash: Buffer) => {
      if (height % TILE_HEIGHT === 0) store(height / TILE_HEIGHT, hash);
    };
    const count = leaves.length / HASH_SIZE;
    const tiles = tileRoots.length / HASH_SIZE;
    for (let i = 0; i < count; i++) {
      const t = (i - skip) / TILE_WIDTH;
      if (i >= skip && Number.isInteger(t) && t < tiles && this.range.size % TILE_WIDTH === 0) {
        // A whole tile: its row is a copy of the run's slice; the level-0 partial tile is empty.
        const count0 = (this.counts[0] ?? 0) + TILE_WIDTH;
        this.counts[0] = count0;
        writes.push({
          level: 0,
          index: count0 / TILE_WIDTH - 1,
          width: TILE_WIDTH,
          hashes: Buffer.from(leaves.subarray(i * HASH_SIZE, (i + TILE_WIDTH) * HASH_SIZE)),
        });
        touched.add(0);
        this.range.appendSubtree(TILE_HEIGHT, tileRoots.subarray(t * HASH_SIZE, (t + 1) * HASH_SIZE), onNode);
        i += TILE_WIDTH - 1;
        continue;
      }
      const leaf = leaves.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
      store(0, leaf);
      this.range.append(leaf, onNode);
    }
    for (const level of [...touched].sort((a, b) => a - b)) {
      const p = this.partial[level] as Buffer[];
      if (p.length === 0) continue;
      writes.push({
        level,
        index: Math.floor((this.counts[level] as number) / TILE_WIDTH),
        width: p.length,
        hashes: Buffer.concat(p),
      });
    }
    return writes;
  }
}
