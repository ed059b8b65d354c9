import { ed25519Verify, sha256 } from '../../lib/crypto/index.js';
import {
  decodeEntry,
  leafHash,
  parseVkey,
  rootFromLeafHashes,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
} from '../ledger/index.js';

/**
 * Completeness of a subject's history (ADR 0013). The ledger proves that each entry shown is in
 * the log; it cannot prove that none was left out. For that, every subject has a hash chain over
 * his entries in log order,
 *
 *   head_0 = 32 zero bytes
 *   head_k = SHA-256(0x02 ‖ head_{k-1} ‖ uint64be(index_k) ‖ leafHash_k)
 *
 * and a commitment to every subject's (count, head) is signed with the log's key at each
 * checkpoint size N: subjects fall into 4096 buckets by the first 12 bits of SHA-256(subject id);
 * a bucket's hash is SHA-256(0x03 ‖ (key ‖ uint64be(count) ‖ head) for each member, by key), with
 * key = SHA-256(subject id); the map root is the RFC 9162 Merkle root of the 4096 bucket hashes
 * (taken as leaf hashes). The signed note:
 *
 *   <origin>/subjects
 *   <N>
 *   <base64 tree root at N>
 *   <base64 map root>
 *
 * A history that leaves out (or adds, or reorders) any entry of the subject below N recomputes to a
 * different head or count than the signed one. A subject's proof is his bucket (the keys, counts
 * and heads of the other members: pseudonymous hashes and counts, no ids) and its audit path.
 */
export const MAP_BUCKETS = 4096;
export const HISTORY_FORMAT = 'custodian-subject-history/1';
export const ZERO_HEAD = Buffer.alloc(32);
const EMPTY_BUCKET = sha256(Uint8Array.of(0x03));

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

export function subjectKey(subjectId: string): Buffer {
  return sha256(Buffer.from(subjectId, 'utf8'));
}

export function bucketOf(subjectId: string): number {
  const k = subjectKey(subjectId);
  return (k[0]! << 4) | (k[1]! >> 4);
}

export function chainStep(head: Uint8Array, index: number, leaf: Uint8Array): Buffer {
  return sha256(Uint8Array.of(0x02), head, u64(index), leaf);
}

export interface BucketMember {
  /** SHA-256(subject id), hex. */
  key: string;
  count: number;
  /** Chain head, hex. */
  head: string;
}

export function bucketHash(members: readonly BucketMember[]): Buffer {
  if (members.length === 0) return EMPTY_BUCKET;
  const sorted = [...members].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const parts: Uint8Array[] = [Uint8Array.of(0x03)];
  for (const m of sorted) parts.push(Buffer.from(m.key, 'hex'), u64(m.count), Buffer.from(m.head, 'hex'));
  return sha256(...parts);
}

/** Bucket hashes (length MAP_BUCKETS, empty ones filled in). */
export function fillBuckets(stored: ReadonlyMap<number, Buffer>): Buffer[] {
  const out: Buffer[] = new Array(MAP_BUCKETS);
  for (let i = 0; i < MAP_BUCKETS; i++) out[i] = stored.get(i) ?? EMPTY_BUCKET;
  return out;
}

export function mapRoot(buckets: readonly Buffer[]): Buffer {
  return rootFromLeafHashes(buckets);
}

/** Audit path of bucket `i` in the perfect tree over the bucket hashes (nearest the leaf first). */
export function mapPath(buckets: readonly Buffer[], i: number): Buffer[] {
  const path: Buffer[] = [];
  let level: Buffer[] = [...buckets];
  let idx = i;
  while (level.length > 1) {
    path.push(level[idx ^ 1]!);
    const next: Buffer[] = [];
    for (let k = 0; k < level.length; k += 2)
      next.push(sha256(Uint8Array.of(0x01), level[k]!, level[k + 1]!));
    level = next;
    idx >>= 1;
  }
  return path;
}

export function commitmentBody(origin: string, size: number, treeRoot: Uint8Array, map: Uint8Array): string {
  return `${origin}/subjects\n${size}\n${Buffer.from(treeRoot).toString('base64')}\n${Buffer.from(map).toString('base64')}\n`;
}

/** Parses and checks a commitment note signed by `verifier`; undefined when anything is off. */
export function verifyCommitmentNote(
  note: string,
  verifier: ReturnType<typeof parseVkey>,
  origin: string,
): { size: number; treeRoot: Buffer; mapRoot: Buffer } | undefined {
  if (typeof note !== 'string' || note.length > 10_000 || !note.endsWith('\n')) return undefined;
  const split = note.lastIndexOf('\n\n');
  if (split === -1) return undefined;
  const body = note.slice(0, split + 1);
  const lines = body.slice(0, -1).split('\n');
  if (lines.length !== 4 || lines[0] !== `${origin}/subjects` || !/^(0|[1-9][0-9]{0,15})$/.test(lines[1]!))
    return undefined;
  const treeRoot = Buffer.from(lines[2]!, 'base64');
  const map = Buffer.from(lines[3]!, 'base64');
  if (treeRoot.length !== 32 || map.length !== 32) return undefined;
  const signed = note
    .slice(split + 2, -1)
    .split('\n')
    .some((line) => {
      const m = /^\u2014 ([^\s+]+) ([A-Za-z0-9+/]+={0,2})$/.exec(line);
      if (!m || m[1] !== verifier.name) return false;
      const raw = Buffer.from(m[2]!, 'base64');
      return (
        raw.length > 4 &&
        raw.readUInt32BE(0) === verifier.keyHash &&
        ed25519Verify(verifier.publicKey, Buffer.from(body, 'utf8'), raw.subarray(4))
      );
    });
  return signed ? { size: Number(lines[1]), treeRoot, mapRoot: map } : undefined;
}

// --- the downloadable history and its verifier ----------------------------------------------------

export interface HistoryEntry {
  index: number;
  /** Canonical entry bytes, base64. */
  entry: string;
  /** Inclusion proof against the commitment's tree size, hex. */
  proof: string[];
}

export interface HistoryBundle {
  format: typeof HISTORY_FORMAT;
  subject: string;
  origin: string;
  vkey: string;
  /** The ledger's signed checkpoint at the commitment's size. */
  checkpoint: string;
  commitment: {
    note: string;
    size: number;
    bucket: number;
    members: BucketMember[];
    path: string[];
  };
  entries: HistoryEntry[];
  /** Optional: the checkpoint the subject saw before, and the proof that this one extends it. */
  consistency?: { checkpoint: string; proof: string[] };
}

export interface HistoryReport {
  ok: boolean;
  size: number;
  entries: number;
  problems: string[];
}

/** Verifies a downloaded history with the checkpoint, the verifier key and the bundle alone. */
export function verifyHistory(bundle: HistoryBundle, vkey?: string): HistoryReport {
  const problems: string[] = [];
  const report = (size: number): HistoryReport => ({
    ok: problems.length === 0,
    size,
    entries: bundle.entries?.length ?? 0,
    problems,
  });
  if (bundle?.format !== HISTORY_FORMAT) {
    problems.push('format: not a custodian-subject-history/1 document');
    return report(0);
  }
  let verifier: ReturnType<typeof parseVkey>;
  try {
    verifier = parseVkey(vkey ?? bundle.vkey);
  } catch {
    problems.push('vkey: not a valid verifier key');
    return report(0);
  }
  let cp: ReturnType<typeof verifyCheckpoint>;
  try {
    cp = verifyCheckpoint(bundle.checkpoint, verifier, bundle.origin);
  } catch {
    problems.push('checkpoint: signature or format invalid');
    return report(0);
  }
  // The commitment note: same key, origin "<origin>/subjects", same tree.
  let mapRootBuf: Buffer | undefined;
  const note = verifyCommitmentNote(bundle.commitment.note, verifier, bundle.origin);
  if (!note) problems.push('commitment: signature or format invalid');
  else {
    if (note.size !== cp.size || !note.treeRoot.equals(cp.root))
      problems.push('commitment: not made at this checkpoint');
    mapRootBuf = note.mapRoot;
  }
  // Inclusion of every entry, each the subject's own, each once.
  const seen = new Set<number>();
  const sorted = [...bundle.entries].sort((a, b) => a.index - b.index);
  let head: Buffer = ZERO_HEAD;
  for (const e of sorted) {
    if (seen.has(e.index)) {
      problems.push(`entry ${e.index}: listed twice`);
      continue;
    }
    seen.add(e.index);
    const bytes = Buffer.from(e.entry, 'base64');
    const leaf = leafHash(bytes);
    const ok = verifyInclusion({
      index: e.index,
      size: cp.size,
      leafHash: leaf,
      proof: e.proof.map((p) => Buffer.from(p, 'hex')),
      root: cp.root,
    });
    if (!ok) problems.push(`entry ${e.index}: not included in the checkpoint`);
    try {
      if (decodeEntry(bytes).subject !== bundle.subject)
        problems.push(`entry ${e.index}: not this subject's`);
    } catch {
      problems.push(`entry ${e.index}: malformed`);
    }
    head = chainStep(head, e.index, leaf);
  }
  // Completeness: the chain over what was shown must be the signed one.
  const key = subjectKey(bundle.subject).toString('hex');
  const mine = bundle.commitment.members.find((m) => m.key === key);
  const count = seen.size;
  if (bundle.commitment.bucket !== bucketOf(bundle.subject)) problems.push('completeness: wrong bucket');
  if (count > 0 && !mine) problems.push('completeness: subject missing from the commitment');
  if (mine && (mine.count !== count || mine.head !== head.toString('hex')))
    problems.push(
      `completeness: the history shows ${count} entries, the signed commitment ${mine.count}: entries were left out or added`,
    );
  if (mapRootBuf) {
    const inMap = verifyInclusion({
      index: bundle.commitment.bucket,
      size: MAP_BUCKETS,
      leafHash: bucketHash(bundle.commitment.members),
      proof: bundle.commitment.path.map((p) => Buffer.from(p, 'hex')),
      root: mapRootBuf,
    });
    if (!inMap) problems.push('completeness: bucket not in the signed map');
  }
  if (bundle.consistency) {
    try {
      const old = verifyCheckpoint(bundle.consistency.checkpoint, verifier, bundle.origin);
      const ok =
        old.size === cp.size
          ? old.root.equals(cp.root)
          : verifyConsistency({
              size1: old.size,
              size2: cp.size,
              root1: old.root,
              root2: cp.root,
              proof: bundle.consistency.proof.map((p) => Buffer.from(p, 'hex')),
            });
      if (!ok) problems.push('consistency: this checkpoint does not extend the one seen before');
    } catch {
      problems.push('consistency: the earlier checkpoint is not valid');
    }
  }
  return report(cp.size);
}
