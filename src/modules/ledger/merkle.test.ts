import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CompactRange,
  consistencyRanges,
  decomposeRange,
  EMPTY_ROOT,
  foldRight,
  inclusionRanges,
  leafHash,
  nodeHash,
  rootFromEntries,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

// A reference implementation written straight from the RFC 9162 recursive definitions, to check
// the iterative ones against. Slow and obviously right.
const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
// Memoised on the leaf objects' identity so the exhaustive loops below stay fast.
const memo = new WeakMap<Buffer, Map<number, Buffer>>();
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return leaves[0] as Buffer;
  const first = leaves[0] as Buffer;
  let byLen = memo.get(first);
  if (!byLen) {
    byLen = new Map();
    memo.set(first, byLen);
  }
  const hit = byLen.get(leaves.length);
  if (hit) return hit;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  const h = sha(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
  byLen.set(leaves.length, h);
  return h;
}
function path(m: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k
    ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}
function subproof(m: number, leaves: Buffer[], b: boolean): Buffer[] {
  if (m === leaves.length) return b ? [] : [mth(leaves)];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m <= k
    ? [...subproof(m, leaves.slice(0, k), b), mth(leaves.slice(k))]
    : [...subproof(m - k, leaves.slice(k), false), mth(leaves.slice(0, k))];
}
const rangeHash = (leaves: Buffer[], [lo, hi]: readonly [number, number]) => mth(leaves.slice(lo, hi));

// The RFC 6962 reference test leaves (certificate-transparency) and their known roots.
const CT_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map((h) => Buffer.from(h, 'hex'));
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

const hex = (b: Buffer) => b.toString('hex');
const leavesOf = (n: number) => Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));

describe('RFC 9162 hashing', () => {
  it('hashes leaves and nodes with the domain-separation prefixes', () => {
    expect(leafHash(Buffer.from('abc')).equals(sha(Buffer.from([0]), Buffer.from('abc')))).toBe(true);
    const a = leafHash(Buffer.from('a'));
    const b = leafHash(Buffer.from('b'));
    expect(nodeHash(a, b).equals(sha(Buffer.from([1]), a, b))).toBe(true);
    expect(EMPTY_ROOT.toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('gives the known roots of the RFC 6962 reference tree', () => {
    for (let n = 1; n <= 8; n++)
      expect(rootFromEntries(CT_LEAVES.slice(0, n)).toString('hex')).toBe(CT_ROOTS[n - 1]);
    expect(rootFromEntries([]).equals(EMPTY_ROOT)).toBe(true);
  });

  it('builds the same root incrementally as the recursive definition, for every size to 300', () => {
    const leaves = leavesOf(300);
    const c = new CompactRange();
    for (let n = 1; n <= 300; n++) {
      c.append(leaves[n - 1] as Buffer);
      expect(c.root().equals(mth(leaves.slice(0, n)))).toBe(true);
    }
  });

  it('decomposes ranges into aligned perfect subtrees whose fold is the range hash', () => {
    const leaves = leavesOf(100);
    for (let n = 1; n <= 100; n++) {
      const parts = decomposeRange(0, n);
      const hashes = parts.map((p) =>
        mth(leaves.slice(p.index * 2 ** p.height, (p.index + 1) * 2 ** p.height)),
      );
      expect(foldRight(hashes).equals(mth(leaves.slice(0, n)))).toBe(true);
    }
    expect(() => decomposeRange(3, 7)).toThrow();
  });
});

describe('proofs', () => {
  const N = 64;
  const leaves = leavesOf(N);

  it('inclusion paths match PATH(m, D[n]) and verify; every tampering fails', () => {
    for (let n = 1; n <= N; n++) {
      const tree = leaves.slice(0, n);
      const root = mth(tree);
      for (let m = 0; m < n; m++) {
        const proof = inclusionRanges(m, n).map((r) => rangeHash(tree, r));
        expect(proof.map(hex)).toEqual(path(m, tree).map(hex));
        const args = { index: m, size: n, leafHash: tree[m] as Buffer, proof, root };
        expect(verifyInclusion(args)).toBe(true);
        expect(verifyInclusion({ ...args, index: m + 1 })).toBe(false);
        expect(verifyInclusion({ ...args, size: m })).toBe(false);
        if (proof.length > 0) {
          const bad = proof.map((p) => Buffer.from(p));
          const first = bad[0] as Buffer;
          first[0] = (first[0] as number) ^ 1;
          expect(verifyInclusion({ ...args, proof: bad })).toBe(false);
          expect(verifyInclusion({ ...args, proof: proof.slice(1) })).toBe(false);
        }
        expect(verifyInclusion({ ...args, proof: [...proof, root] })).toBe(false);
      }
    }
  });

  it('consistency proofs match PROOF(m, D[n]) and verify; every tampering fails', () => {
    for (let n = 1; n <= N; n++) {
      const newRoot = mth(leaves.slice(0, n));
      for (let m = 1; m <= n; m++) {
        const oldRoot = mth(leaves.slice(0, m));
        const proof = m === n ? [] : consistencyRanges(m, n).map((r) => rangeHash(leaves, r));
        expect(proof.map(hex)).toEqual(subproof(m, leaves.slice(0, n), true).map(hex));
        const args = { size1: m, size2: n, root1: oldRoot, root2: newRoot, proof };
        expect(verifyConsistency(args)).toBe(true);
        if (m < n) {
          expect(verifyConsistency({ ...args, root1: mth(leaves.slice(0, m - 1)) })).toBe(false);
          expect(verifyConsistency({ ...args, root2: mth(leaves.slice(0, n - 1)) })).toBe(false);
          expect(verifyConsistency({ ...args, proof: proof.slice(0, -1) })).toBe(false);
          const bad = proof.map((p) => Buffer.from(p));
          const last = bad[bad.length - 1] as Buffer;
          last[31] = (last[31] as number) ^ 0x80;
          expect(verifyConsistency({ ...args, proof: bad })).toBe(false);
        }
      }
    }
  });

  it('refuses sizes beyond 2^31 arithmetic mistakes (numbers, not int32)', () => {
    // A perfect tree of 2^33 leaves is too big to build, but the range arithmetic must hold.
    const big = 2 ** 33 + 5;
    const ranges = inclusionRanges(2 ** 32 + 1, big);
    expect(ranges.every(([lo, hi]) => lo >= 0 && hi <= big && hi > lo)).toBe(true);
    expect(consistencyRanges(2 ** 32 + 3, big).length).toBeGreaterThan(0);
  });
});
