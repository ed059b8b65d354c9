import { ledgerError } from './ledger.errors.js';
import { HASH_SIZE, hashPairs } from './merkle.js';

/**
 * C2SP tlog-tiles layout. A tile holds up to 256 consecutive hashes of one tree level: tile level
 * L holds the hashes at tree level 8L (level 0: leaf hashes; level 1: roots of 256-leaf subtrees…).
 * Tile N of level L holds hashes N·256 … N·256+255 of that level; the rightmost tile of a level is
 * partial, of width W < 256, until it fills. The hashes in between (tree levels 8L+1 … 8L+7) are
 * not stored; they are recomputed from the tile on read.
 */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
export const MAX_TILE_LEVEL = 63;

/** Number of hashes stored at tile level L for a tree of `size` leaves: ⌊size / 256^L⌋. */
export function storedCount(level: number, size: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/** Width of tile (level, index) in a tree of `size` leaves: 256 when full, 0 when it does not exist yet. */
export function tileWidthAt(level: number, index: number, size: number): number {
  const remaining = storedCount(level, size) - index * TILE_WIDTH;
  return Math.max(0, Math.min(TILE_WIDTH, remaining));
}

/** Where the hash of a perfect subtree (height, index) lives: a tile and a perfect subtree inside it. */
export interface TileSlot {
  level: number;
  tile: number;
  /** Height inside the tile (0 … 7). */
  innerHeight: number;
  /** Index of the subtree among the tile's subtrees of that inner height. */
  innerIndex: number;
  /** Width the tile must have for the subtree to be complete. */
  needWidth: number;
}

export function slotOf(height: number, index: number): TileSlot {
  const level = Math.floor(height / TILE_HEIGHT);
  const innerHeight = height - level * TILE_HEIGHT;
  const span = 2 ** innerHeight;
  const first = index * span;
  const tile = Math.floor(first / TILE_WIDTH);
  const offset = first - tile * TILE_WIDTH;
  return { level, tile, innerHeight, innerIndex: offset / span, needWidth: offset + span };
}

/**
 * One tile's hashes and the levels inside it, computed lazily (each inner level from the one below,
 * a whole level at a time: the children of a node are adjacent in the buffer).
 */
export class TileHashes {
  readonly width: number;
  private readonly levels: Buffer[];

  constructor(readonly bytes: Buffer) {
    if (bytes.length % HASH_SIZE !== 0 || bytes.length === 0 || bytes.length > TILE_WIDTH * HASH_SIZE) {
      throw ledgerError('LEDGER_INCONSISTENT', { details: { reason: 'tile length' } });
    }
    this.width = bytes.length / HASH_SIZE;
    this.levels = [bytes];
  }

  /** Hash of the perfect subtree of 2^innerHeight hashes starting at innerIndex·2^innerHeight. */
  subtree(innerHeight: number, innerIndex: number): Buffer {
    while (this.levels.length <= innerHeight) {
      const below = this.levels[this.levels.length - 1] as Buffer;
      this.levels.push(hashPairs(below, Math.floor(below.length / HASH_SIZE / 2)));
    }
    const level = this.levels[innerHeight] as Buffer;
    const start = innerIndex * HASH_SIZE;
    if (start + HASH_SIZE > level.length) throw new Error('subtree beyond tile width');
    return level.subarray(start, start + HASH_SIZE);
  }

  /** The first `width` hashes, as served for a partial tile. */
  prefix(width: number): Buffer {
    return this.bytes.subarray(0, width * HASH_SIZE);
  }

  hash(i: number): Buffer {
    return this.bytes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
  }
}

/** A small LRU of tiles. Full tiles never change; a partial tile is replaced by a wider one. */
export class TileCache {
  private readonly map = new Map<string, TileHashes>();
  constructor(private readonly capacity: number) {}

  get(level: number, tile: number, needWidth: number): TileHashes | undefined {
    const key = `${level}/${tile}`;
    const t = this.map.get(key);
    if (!t || t.width < needWidth) return undefined;
    this.map.delete(key);
    this.map.set(key, t);
    return t;
  }

  put(level: number, tile: number, t: TileHashes): void {
    const key = `${level}/${tile}`;
    const old = this.map.get(key);
    if (old && old.width >= t.width) return;
    this.map.delete(key);
    this.map.set(key, t);
    while (this.map.size > this.capacity) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  clear(): void {
    this.map.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// Tile paths (C2SP tlog-tiles): tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>]. N is written as
// 3-digit path elements, all but the last prefixed with "x": 1234067 → x001/x234/067.

export function encodeTileIndex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error('tile index must be a non-negative integer');
  let s = String(n % 1000).padStart(3, '0');
  let rest = Math.floor(n / 1000);
  while (rest > 0) {
    s = `x${String(rest % 1000).padStart(3, '0')}/${s}`;
    rest = Math.floor(rest / 1000);
  }
  return s;
}

export type TileKind = number | 'entries';

export function tilePath(level: TileKind, index: number, width?: number): string {
  const partial = width !== undefined && width < TILE_WIDTH ? `.p/${width}` : '';
  return `tile/${level}/${encodeTileIndex(index)}${partial}`;
}

export interface ParsedTilePath {
  level: TileKind;
  index: number;
  /** Present for a partial tile (1 … 255). */
  width?: number;
}

/** Parses the part of a tile URL after "tile/"; only the canonical encoding is accepted. */
export function parseTilePath(rest: string): ParsedTilePath {
  const bad = (): never => {
    throw ledgerError('LEDGER_TILE_PATH_INVALID');
  };
  const parts = rest.split('/');
  const head = parts.shift();
  let level: TileKind;
  if (head === 'entries') level = 'entries';
  else if (head !== undefined && /^(0|[1-9][0-9]?)$/.test(head) && Number(head) <= MAX_TILE_LEVEL)
    level = Number(head);
  else return bad();
  let width: number | undefined;
  // A partial tile ends ".p/<W>": the last index element carries ".p", W follows as its own element.
  const pIdx = parts.findIndex((p) => p.endsWith('.p'));
  if (pIdx !== -1) {
    if (pIdx !== parts.length - 2) return bad();
    const w = parts.pop() as string;
    if (!/^[1-9][0-9]{0,2}$/.test(w) || Number(w) >= TILE_WIDTH) return bad();
    width = Number(w);
    parts[pIdx] = (parts[pIdx] as string).slice(0, -2);
  }
  if (parts.length === 0 || parts.length > 6) return bad();
  let index = 0;
  parts.forEach((p, i) => {
    const last = i === parts.length - 1;
    const m = (last ? /^([0-9]{3})$/ : /^x([0-9]{3})$/).exec(p);
    if (!m) bad();
    index = index * 1000 + Number((m as RegExpExecArray)[1]);
  });
  if (!Number.isSafeInteger(index)) return bad();
  // x000/… would be a second spelling of the same index.
  if (encodeTileIndex(index) !== parts.join('/')) return bad();
  return width === undefined ? { level, index } : { level, index, width };
}
