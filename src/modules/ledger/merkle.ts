import { sha256Digest as digest } from '../../lib/crypto/index.js';

/**
 * RFC 9162 (RFC 6962) Merkle tree hashing and proofs. Everything here is pure: the verifier
 * functions need nothing but hashes, so a regulator can check a proof without Custodian.
 *
 *   leaf hash  = SHA-256(0x00 ‖ entry)
 *   node hash  = SHA-256(0x01 ‖ left ‖ right)
 *   empty tree = SHA-256("")
 *
 * Hashing is the ledger's hot path (two SHA-256 per entry on append and on verify), so it uses
 * the one-shot `sha256Digest` of src/lib/crypto with a reused scratch buffer.
 */
export const HASH_SIZE = 32;

export const EMPTY_ROOT: Buffer = digest(new Uint8Array(0));

let leafScratch = Buffer.alloc(1024);
const nodeScratch = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeScratch[0] = 0x01;

/** SHA-256(0x00 ‖ entry). */
export function leafHash(entry: Uint8Array): Buffer {
  if (entry.length + 1 > leafScratch.length)
    leafScratch = Buffer.alloc(Math.max(entry.length + 1, leafScratch.length * 2));
  leafScratch[0] = 0x00;
  leafScratch.set(entry, 1);
  return digest(leafScratch.subarray(0, entry.length + 1));
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_SIZE);
  return digest(nodeScratch);
}

/**
 * Hashes adjacent pairs of a buffer of concatenated hashes: `src` holds 2k hashes, the result k
 * node hashes. Used for the levels inside a tile, where the two children are already adjacent.
 */
export function hashPairs(src: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(count * HASH_SIZE);
  for (let i = 0; i < count; i++) {
    src.copy(nodeScratch, 1, i * 2 * HASH_SIZE, (i + 1) * 2 * HASH_SIZE);
    digest(nodeScratch).copy(out, i * HASH_SIZE);
  }
  return out;
}

/** Raw SHA-256, for baselines that compare against the hash function's own speed. */
export function sha256Raw(data: Uint8Array): Buffer {
  return digest(data);
}

/** Largest power of two strictly less than n (n ≥ 2). Numbers, not bit operators: sizes exceed 2^31. */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

/** A perfect subtree: 2^height leaves starting at leaf index × 2^height. */
export interface Subtree {
  height: number;
  index: number;
}

/** A half-open range of leaves [lo, hi) whose MTH is one proof element. */
export type LeafRange = readonly [lo: number, hi: number];

/**
 * Splits [lo, hi) into perfect subtrees, largest first. For the ranges that occur in RFC 9162
 * proofs (and for any prefix [0, n)), lo is aligned so each piece is a stored-or-tile subtree, and
 * MTH(D[lo:hi]) is the right fold of the pieces: node(p0, node(p1, … pk)).
 */
export function decomposeRange(lo: number, hi: number): Subtree[] {
  const out: Subtree[] = [];
  let cur = lo;
  let size = hi - lo;
  let bit = 1;
  while (bit * 2 <= size) bit *= 2;
  let height = Math.log2(bit);
  while (size > 0) {
    if (size >= bit) {
      if (cur % bit !== 0) throw new Error(`range [${lo}, ${hi}) is not aligned`);
      out.push({ height, index: cur / bit });
      cur += bit;
      size -= bit;
    }
    bit /= 2;
    height -= 1;
  }
  return out;
}

/** Right fold of subtree hashes into MTH of the range they decompose. */
export function foldRight(hashes: readonly Uint8Array[]): Buffer {
  if (hashes.length === 0) return EMPTY_ROOT;
  let acc: Buffer = Buffer.from(hashes[hashes.length - 1] as Uint8Array);
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i] as Uint8Array, acc);
  return acc;
}

/** RFC 9162 §2.1.3.1 PATH(m, D[n]) as leaf ranges, in proof order (nearest the leaf first). */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  if (!(index >= 0 && index < size)) throw new Error('index out of range');
  const siblings: LeafRange[] = [];
  let lo = 0;
  let hi = size;
  let m = index;
  while (hi - lo > 1) {
    const k = largestPowerOfTwoBelow(hi - lo);
    if (m < k) {
      siblings.push([lo + k, hi]);
      hi = lo + k;
    } else {
      siblings.push([lo, lo + k]);
      lo += k;
      m -= k;
    }
  }
  return siblings.reverse();
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[n]) as leaf ranges, in proof order. Requires 0 < m ≤ n. */
export function consistencyRanges(m: number, n: number): LeafRange[] {
  if (!(m > 0 && m <= n)) throw new Error('sizes out of range');
  const out: LeafRange[] = [];
  let lo = 0;
  let hi = n;
  let mm = m;
  let complete = true;
  while (mm !== hi - lo) {
    const k = largestPowerOfTwoBelow(hi - lo);
    if (mm <= k) {
      out.push([lo + k, hi]);
      hi = lo + k;
    } else {
      out.push([lo, lo + k]);
      lo += k;
      mm -= k;
      complete = false;
    }
  }
  // SUBPROOF(m, D[m], false) = {MTH(D[m])}: the subtree equal to the old tree is named unless it
  // is the whole old tree (b still true).
  if (!complete) out.push([lo, hi]);
  return out.reverse();
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

/**
 * RFC 9162 §2.1.3.2: true when `proof` shows the leaf with hash `leafHash` at `index` in the tree
 * of `size` leaves whose root is `root`.
 */
export function verifyInclusion(args: {
  index: number;
  size: number;
  leafHash: Uint8Array;
  proof: readonly Uint8Array[] | null;
  root: Uint8Array;
}): boolean {
  const { index, size, leafHash: leaf, root } = args;
  const proof = args.proof ?? [];
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  if (!isHash(leaf) || !isHash(root) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

/**
 * RFC 9162 §2.1.4.2: true when `proof` shows the tree (size1, root1) is a prefix of (size2, root2).
 * Equal sizes need an empty proof and equal roots; the empty tree's only root is SHA-256("") and
 * a consistency proof from it to a non-empty tree proves nothing, so it is refused.
 */
export function verifyConsistency(args: {
  size1: number;
  size2: number;
  root1: Uint8Array;
  root2: Uint8Array;
  proof: readonly Uint8Array[] | null;
}): boolean {
  const { size1, size2, root1, root2 } = args;
  const proof = args.proof ?? [];
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < size1)
    return false;
  if (size1 === size2) {
    if (proof.length !== 0 || !equal(root1, root2)) return false;
    return size1 !== 0 || equal(root1, EMPTY_ROOT);
  }
  if (size1 === 0 || proof.length === 0 || !proof.every(isHash) || !isHash(root1) || !isHash(root2))
    return false;
  const path = [...proof];
  // When the old tree is a perfect subtree its root is the first node of the path.
  if (isPowerOfTwo(size1)) path.unshift(root1);
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0] as Uint8Array);
  let sr: Buffer = Buffer.from(path[0] as Uint8Array);
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Uint8Array;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return equal(fr, root1) && equal(sr, root2) && sn === 0;
}

/**
 * The right edge of a tree: the perfect subtrees of its binary decomposition, largest first. Appending
 * a leaf merges equal-height neighbours, so a tree of n leaves is built with n − 1 node hashes and
 * the root is a fold of at most log2(n) hashes. `onNode` sees every node a merge creates.
 */
export class CompactRange {
  private readonly heights: number[] = [];
  private readonly hashes: Buffer[] = [];
  size = 0;

  static fromSubtrees(size: number, subtrees: readonly { height: number; hash: Buffer }[]): CompactRange {
    const c = new CompactRange();
    for (const s of subtrees) {
      c.heights.push(s.height);
      c.hashes.push(s.hash);
    }
    c.size = size;
    return c;
  }

  clone(): CompactRange {
    const c = new CompactRange();
    c.heights.push(...this.heights);
    c.hashes.push(...this.hashes);
    c.size = this.size;
    return c;
  }

  append(leaf: Buffer, onNode?: (height: number, hash: Buffer) => void): void {
    let h = leaf;
    let height = 0;
    while (this.heights.length > 0 && this.heights[this.heights.length - 1] === height) {
      this.heights.pop();
      h = nodeHash(this.hashes.pop() as Buffer, h);
      height += 1;
      onNode?.(height, h);
    }
    this.heights.push(height);
    this.hashes.push(h);
    this.size += 1;
  }

  /**
   * Appends a whole perfect subtree (its hash known, e.g. a tile root computed elsewhere) instead
   * of its 2^height leaves. The tree must be at a multiple of 2^height.
   */
  appendSubtree(height: number, hash: Buffer, onNode?: (height: number, hash: Buffer) => void): void {
    if (this.size % 2 ** height !== 0) throw new Error('subtree not aligned');
    const leaves = 2 ** height;
    onNode?.(height, hash);
    let h = hash;
    let ht = height;
    while (this.heights.length > 0 && this.heights[this.heights.length - 1] === ht) {
      this.heights.pop();
      h = nodeHash(this.hashes.pop() as Buffer, h);
      ht += 1;
      onNode?.(ht, h);
    }
    this.heights.push(ht);
    this.hashes.push(h);
    this.size += leaves;
  }

  root(): Buffer {
    return foldRight(this.hashes);
  }
}

/** MTH of the leaves with these hashes. */
export function rootFromLeafHashes(hashes: readonly Uint8Array[]): Buffer {
  const c = new CompactRange();
  for (const h of hashes) c.append(Buffer.from(h));
  return c.root();
}

/** MTH of these entries: the root a checkpoint of this many entries must carry. */
export function rootFromEntries(entries: readonly Uint8Array[]): Buffer {
  const c = new CompactRange();
  for (const e of entries) c.append(leafHash(e));
  return c.root();
}
