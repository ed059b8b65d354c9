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

/**
 * One shown entry: included in the checkpoint, and naming this subject; problems named. Its leaf
 * hash, for the subject's chain.
 */
function checkEntry(
  e: { index: number; entry: string; proof: string[] },
  cp: { size: number; root: Buffer },
  subject: string,
  problems: string[],
): Buffer {
  const bytes = Buffer.from(e.entry, 'base64');
  const leaf = leafHash(bytes);
  const ok =
    Array.isArray(e.proof) &&
    verifyInclusion({
      index: e.index,
      size: cp.size,
      leafHash: leaf,
      proof: e.proof.map((p) => Buffer.from(p, 'hex')),
      root: cp.root,
    });
  if (!ok) problems.push(`entry ${e.index}: not included in the checkpoint`);
  try {
    if (decodeEntry(bytes).subject !== subject) problems.push(`entry ${e.index}: not this subject's`);
  } catch {
    problems.push(`entry ${e.index}: malformed`);
  }
  return leaf;
}

/** The verifier key and the signed checkpoint a history or a page carries; problems named, else undefined. */
function openSigned(
  vkey: string,
  checkpoint: string,
  origin: string,
  problems: string[],
): { verifier: ReturnType<typeof parseVkey>; cp: ReturnType<typeof verifyCheckpoint> } | undefined {
  let verifier: ReturnType<typeof parseVkey>;
  try {
    verifier = parseVkey(vkey);
  } catch {
    problems.push('vkey: not a valid verifier key');
    return undefined;
  }
  try {
    return { verifier, cp: verifyCheckpoint(checkpoint, verifier, origin) };
  } catch {
    problems.push('checkpoint: signature or format invalid');
    return undefined;
  }
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
  const signed = openSigned(vkey ?? bundle.vkey, bundle.checkpoint, bundle.origin, problems);
  if (!signed) return report(0);
  const { verifier, cp } = signed;
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
    head = chainStep(head, e.index, checkEntry(e, cp, bundle.subject, problems));
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

// --- the paged history (one page, newest first) and its verifiers ----------------------------------

export const PAGE_FORMAT = 'custodian-subject-history-page/1';

/**
 * One page of a subject's history, newest first, verifiable on its own (docs/rights.md, "Paging").
 * Positions count the subject's entries in log order from 1. The page holds positions `from`…`to`;
 * `prevHead` is the chain head before `from` (zero when `from` is 1), `head` the head after `to`.
 * The newest page (to = count) also carries his bucket and its audit path: chained from `prevHead`
 * over its entries it must reach the (count, head) signed for him in the commitment, so it proves
 * "these are his newest to − from + 1 entries". An older page proves inclusion of its entries and
 * that they chain from its `prevHead` to its `head`, which must be the `prevHead` of the page
 * before it in a walk; a walk that ends at position 1 (from the zero head) proves completeness.
 */
export interface HistoryPage {
  format: typeof PAGE_FORMAT;
  subject: string;
  origin: string;
  vkey: string;
  /** The ledger's signed checkpoint at the commitment's size; the proofs are against it. */
  checkpoint: string;
  /** The signed commitment note at that size. */
  commitment: { note: string; size: number };
  /** His entry count at that commitment (checked against the signed map on the newest page). */
  count: number;
  from: number;
  to: number;
  /** Chain heads, hex: before `from` and after `to`. */
  prevHead: string;
  head: string;
  /** Newest first. */
  entries: HistoryEntry[];
  /** On the newest page only: his bucket of the signed map and its audit path. */
  completeness?: { bucket: number; members: BucketMember[]; path: string[] };
}

export interface PageReport {
  ok: boolean;
  size: number;
  entries: number;
  from: number;
  to: number;
  prevHead: string;
  head: string;
  /** True when the page carried, and passed, the check against the signed (count, head). */
  newest: boolean;
  problems: string[];
}

/** The opaque cursor of the next (older) page: base64url of the position of its newest entry. */
export function encodeCursor(position: number): string {
  return Buffer.from(String(position), 'latin1').toString('base64url');
}

/** The position in a cursor, or undefined when it is not one this server issues. */
export function decodeCursor(cursor: string): number | undefined {
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]{1,24}$/.test(cursor)) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('latin1');
  if (!/^[1-9][0-9]{0,15}$/.test(text)) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || encodeCursor(n) !== cursor) return undefined;
  return n;
}

const HEX32 = /^[0-9a-f]{64}$/;

/** Verifies one page against the checkpoint and commitment it carries, with the verifier key alone. */
export function verifyHistoryPage(page: HistoryPage, vkey?: string): PageReport {
  const problems: string[] = [];
  const report = (size: number): PageReport => ({
    ok: problems.length === 0,
    size,
    entries: Array.isArray(page?.entries) ? page.entries.length : 0,
    from: page?.from,
    to: page?.to,
    prevHead: page?.prevHead,
    head: page?.head,
    newest: problems.length === 0 && page.completeness !== undefined,
    problems,
  });
  if (page?.format !== PAGE_FORMAT || !Array.isArray(page.entries)) {
    problems.push('format: not a custodian-subject-history-page/1 document');
    return report(0);
  }
  const signed = openSigned(vkey ?? page.vkey, page.checkpoint, page.origin, problems);
  if (!signed) return report(0);
  const { verifier, cp } = signed;
  const note = verifyCommitmentNote(page.commitment?.note, verifier, page.origin);
  if (!note) problems.push('commitment: signature or format invalid');
  else if (note.size !== cp.size || !note.treeRoot.equals(cp.root))
    problems.push('commitment: not made at this checkpoint');
  const ints = [page.from, page.to, page.count].every((n) => Number.isSafeInteger(n) && n >= 0);
  if (!ints || page.from < 1 || page.to > page.count || page.to - page.from + 1 !== page.entries.length)
    problems.push(`page: positions ${page.from}–${page.to} do not match its ${page.entries.length} entries`);
  if (!HEX32.test(page.prevHead ?? '') || !HEX32.test(page.head ?? '')) {
    problems.push('page: heads are not 32-byte hex');
    return report(cp.size);
  }
  if (page.from === 1 && page.prevHead !== ZERO_HEAD.toString('hex'))
    problems.push('page: the oldest entry must chain from the zero head');
  // Newest first, each index strictly below the one before: a reordered page fails here too.
  let head: Buffer = Buffer.from(page.prevHead, 'hex');
  for (let k = page.entries.length - 1; k >= 0; k--) {
    const e = page.entries[k]!;
    const newer = page.entries[k - 1];
    if (!Number.isSafeInteger(e?.index) || (newer && !(newer.index > e.index))) {
      problems.push(`entry ${e?.index}: out of order`);
      continue;
    }
    head = chainStep(head, e.index, checkEntry(e, cp, page.subject, problems));
  }
  if (head.toString('hex') !== page.head)
    problems.push('chain: the entries do not lead from the page’s previous head to its head');
  if (page.completeness) {
    const c = page.completeness;
    const key = subjectKey(page.subject).toString('hex');
    const mine = Array.isArray(c.members) ? c.members.find((m) => m.key === key) : undefined;
    const signedCount = mine?.count ?? 0;
    const signedHead = mine?.head ?? ZERO_HEAD.toString('hex');
    if (c.bucket !== bucketOf(page.subject)) problems.push('completeness: wrong bucket');
    if (page.to !== signedCount || page.count !== signedCount || page.head !== signedHead)
      problems.push(
        `completeness: the page ends at entry ${page.to} of ${page.count}, the signed commitment has ${signedCount} with another head: entries were left out or added`,
      );
    if (note) {
      const inMap =
        Array.isArray(c.path) &&
        verifyInclusion({
          index: c.bucket,
          size: MAP_BUCKETS,
          leafHash: bucketHash(c.members),
          proof: c.path.map((p) => Buffer.from(p, 'hex')),
          root: note.mapRoot,
        });
      if (!inMap) problems.push('completeness: bucket not in the signed map');
    }
  }
  return report(cp.size);
}

export interface WalkReport {
  ok: boolean;
  /** Tree size of the newest page's commitment. */
  size: number;
  /** Entries over all pages. */
  entries: number;
  pages: number;
  /** True when the walk reached his oldest entry (position 1, from the zero head). */
  complete: boolean;
  problems: string[];
}

/**
 * Verifies pages fetched newest first by following the cursor: the first proves the newest entries
 * against the signed (count, head); each next one must end where the one before began (its head is
 * the previous page's `prevHead`); a walk down to position 1 proves the whole history complete,
 * which is what `verifyHistory` proves for the download.
 */
export function verifyHistoryWalk(pages: readonly HistoryPage[], vkey?: string): WalkReport {
  const problems: string[] = [];
  let entries = 0;
  let size = 0;
  let before: PageReport | undefined;
  for (const [i, page] of pages.entries()) {
    const r = verifyHistoryPage(page, vkey);
    for (const p of r.problems) problems.push(`page ${i + 1}: ${p}`);
    entries += r.entries;
    if (i === 0) {
      size = r.size;
      if (!page?.completeness) problems.push('page 1: not the newest page (no completeness proof)');
    } else if (before) {
      if (page.subject !== pages[0]!.subject) problems.push(`page ${i + 1}: another subject`);
      if (page.to !== before.from - 1 || page.head !== before.prevHead)
        problems.push(`page ${i + 1}: does not continue page ${i} (entries missing or added between them)`);
    }
    before = r;
  }
  if (pages.length === 0) problems.push('walk: no pages');
  const complete = before !== undefined && before.from === 1 && problems.length === 0;
  if (before && before.from !== 1) problems.push('walk: stops before his oldest entry');
  return { ok: problems.length === 0, size, entries, pages: pages.length, complete, problems };
}
