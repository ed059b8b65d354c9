import type { DbExecutor } from '../../lib/audit.js';
import { buildEpochIndex, EPOCH, findHash, searchBucket } from './leafindex.js';
import type { LedgerRepo } from './ledger.repo.js';
import { HASH_SIZE } from './merkle.js';
import { TILE_WIDTH } from './tiles.js';

const SCAN_TILES = 64;

/**
 * Lowest index (other than `except`) whose leaf hash is `leafHash` in the tree of `size` leaves.
 * Completed epochs go through the leaf index (every candidate confirmed against its level-0 tile);
 * an epoch without index rows, and the unfinished last epoch, are scanned tile by tile.
 */
export async function findLeaf(
  repo: LedgerRepo,
  db: DbExecutor,
  leafHash: Buffer,
  size: number,
  except = -1,
): Promise<number | undefined> {
  const complete = Math.floor(size / EPOCH);
  const rows = new Map((await repo.readLeafBucket(db, leafHash[0] as number)).map((r) => [r.epoch, r.data]));
  for (let epoch = 0; epoch < complete; epoch++) {
    const data = rows.get(epoch);
    const found =
      data === undefined
        ? await scan(repo, db, leafHash, epoch * EPOCH, (epoch + 1) * EPOCH, except)
        : await confirm(
            repo,
            db,
            leafHash,
            searchBucket(data, leafHash).map((o) => epoch * EPOCH + o),
            except,
          );
    if (found !== undefined) return found;
  }
  return scan(repo, db, leafHash, complete * EPOCH, size, except);
}

async function confirm(
  repo: LedgerRepo,
  db: DbExecutor,
  leafHash: Buffer,
  candidates: number[],
  except: number,
): Promise<number | undefined> {
  for (const idx of candidates) {
    if (idx === except) continue;
    const row = await repo.loadTile(db, 0, Math.floor(idx / TILE_WIDTH));
    const off = (idx % TILE_WIDTH) * HASH_SIZE;
    if (
      row &&
      row.hashes.length >= off + HASH_SIZE &&
      row.hashes.compare(leafHash, 0, HASH_SIZE, off, off + HASH_SIZE) === 0
    ) {
      return idx;
    }
  }
  return undefined;
}

/** Scans the level-0 tiles covering [from, to). */
async function scan(
  repo: LedgerRepo,
  db: DbExecutor,
  leafHash: Buffer,
  from: number,
  to: number,
  except: number,
): Promise<number | undefined> {
  const firstTile = Math.floor(from / TILE_WIDTH);
  const lastTile = Math.ceil(to / TILE_WIDTH);
  for (let t = firstTile; t < lastTile; t += SCAN_TILES) {
    const end = Math.min(lastTile, t + SCAN_TILES);
    const full = new Map((await repo.readFullTiles(db, 0, t, end)).map((r) => [r.idx, r.hashes]));
    for (let tile = t; tile < end; tile++) {
      const hashes = full.get(tile) ?? (await repo.loadTile(db, 0, tile))?.hashes;
      if (!hashes) continue;
      for (const pos of findHash(hashes, leafHash)) {
        const idx = tile * TILE_WIDTH + pos;
        if (idx >= from && idx < to && idx !== except) return idx;
      }
    }
  }
  return undefined;
}

/** Leaf-index rows for the epoch that ends at or before `size`, read back from its level-0 tiles. */
export async function epochIndexRows(
  repo: LedgerRepo,
  db: DbExecutor,
  epoch: number,
): Promise<{ bucket: number; epoch: number; data: Buffer }[]> {
  const tilesPerEpoch = EPOCH / TILE_WIDTH;
  const tiles = await repo.readFullTiles(db, 0, epoch * tilesPerEpoch, (epoch + 1) * tilesPerEpoch);
  if (tiles.length !== tilesPerEpoch) throw new Error('epoch tiles missing');
  return buildEpochIndex(Buffer.concat(tiles.map((t) => t.hashes))).map((data, bucket) => ({
    bucket,
    epoch,
    data,
  }));
}
