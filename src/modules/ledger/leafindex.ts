import { HASH_SIZE } from './merkle.js';

/**
 * The leaf-hash index, written once per epoch of 65536 entries (one full level-1 tile): for each
 * first byte b of the leaf hash, one row holding the epoch's entries whose hash starts with b, as
 * sorted records of (hash bytes 1–8, offset in the epoch as uint16 BE). A lookup reads one row per
 * epoch (≈ 2.5 KB), binary-searches it and confirms each candidate against the level-0 tile, so a
 * record can point the search the wrong way but never fake a match.
 *
 * This replaces a B-tree over random leaf hashes, whose per-commit page writes cost several times
 * the entry itself on SQLite, with ≈ 10 bytes per entry written sequentially once per epoch.
 */
export const EPOCH = 65_536;
export const BUCKETS = 256;
const KEY = 8;
const RECORD = KEY + 2;

/** Bucket rows for one epoch, from its leaf hashes (EPOCH × 32 bytes, in index order). */
export function buildEpochIndex(leafHashes: Buffer): Buffer[] {
  const n = leafHashes.length / HASH_SIZE;
  if (n !== EPOCH) throw new Error('an epoch index covers exactly 65536 leaves');
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  const counts = new Uint32Array(BUCKETS);
  for (let i = 0; i < n; i++) {
    const off = i * HASH_SIZE;
    hi[i] = leafHashes.readUInt32BE(off + 1);
    lo[i] = leafHashes.readUInt32BE(off + 5);
    counts[leafHashes[off] as number] = (counts[leafHashes[off] as number] as number) + 1;
  }
  // Sort each bucket on a number that packs 37 bits of the key above the 16-bit offset (53 bits,
  // exact in a double), with the typed array's native sort; a pass of insertion sort then orders
  // the rare neighbours that tie on those 37 bits by the full 64-bit key.
  const keys = Array.from({ length: BUCKETS }, (_, b) => new Float64Array(counts[b] as number));
  const fill = new Uint32Array(BUCKETS);
  for (let i = 0; i < n; i++) {
    const b = leafHashes[i * HASH_SIZE] as number;
    const k = fill[b] as number;
    (keys[b] as Float64Array)[k] = ((hi[i] as number) * 32 + ((lo[i] as number) >>> 27)) * EPOCH + i;
    fill[b] = k + 1;
  }
  const before = (a: number, b: number) =>
    (hi[a] as number) < (hi[b] as number) ||
    (hi[a] === hi[b] && ((lo[a] as number) < (lo[b] as number) || (lo[a] === lo[b] && a < b)));
  return keys.map((ks) => {
    ks.sort();
    const order = Array.from(ks, (k) => k % EPOCH);
    for (let j = 1; j < order.length; j++) {
      const cur = order[j] as number;
      let m = j - 1;
      while (m >= 0 && before(cur, order[m] as number)) {
        order[m + 1] = order[m] as number;
        m--;
      }
      order[m + 1] = cur;
    }
    const out = Buffer.allocUnsafe(order.length * RECORD);
    order.forEach((i, k) => {
      leafHashes.copy(out, k * RECORD, i * HASH_SIZE + 1, i * HASH_SIZE + 1 + KEY);
      out.writeUInt16BE(i, k * RECORD + KEY);
    });
    return out;
  });
}

/** Offsets in the epoch whose record matches bytes 1–8 of `leafHash`, ascending. */
export function searchBucket(data: Buffer, leafHash: Uint8Array): number[] {
  const key = leafHash.subarray(1, 1 + KEY);
  const count = Math.floor(data.length / RECORD);
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (data.compare(key, 0, KEY, mid * RECORD, mid * RECORD + KEY) < 0) lo = mid + 1;
    else hi = mid;
  }
  const out: number[] = [];
  for (let k = lo; k < count && data.compare(key, 0, KEY, k * RECORD, k * RECORD + KEY) === 0; k++) {
    out.push(data.readUInt16BE(k * RECORD + KEY));
  }
  return out.sort((a, b) => a - b);
}

/** Positions (hash index) of `hash` in a buffer of concatenated hashes, ascending. */
export function findHash(hashes: Buffer, hash: Uint8Array): number[] {
  const out: number[] = [];
  let from = 0;
  for (;;) {
    const at = hashes.indexOf(hash, from);
    if (at === -1) return out;
    if (at % HASH_SIZE === 0) out.push(at / HASH_SIZE);
    from = at + 1;
  }
}
