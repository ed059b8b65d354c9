/**
 * Verification in the browser, with WebCrypto only:
 * - RFC 9162 §2.1.3.2 inclusion proofs (SHA-256, 0x00 leaf / 0x01 node prefixes), the same
 *   algorithm as src/modules/ledger/merkle.ts, written again here so the browser trusts nothing
 *   the server computed except the signed root;
 * - C2SP signed-note checkpoints: Ed25519 over the note body with the log's verifier key
 *   (`<name>+<hex key hash>+<base64(0x01 ‖ key)>`). Browsers without Ed25519 in WebCrypto
 *   (older than Chrome 137 / Firefox 129 / Safari 17) get `signature: 'unsupported'`.
 */
const enc = new TextEncoder();

export function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function b64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array<ArrayBuffer>> {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    buf.set(p, o);
    o += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}

const NODE = new Uint8Array([1]);
const LEAF = new Uint8Array([0]);

export async function leafHashOf(entry: Uint8Array): Promise<string> {
  return bytesToHex(await sha256(LEAF, entry));
}

/** RFC 9162 §2.1.3.2: true when `proof` links leaf `index` of a tree of `size` to `rootHex`. */
export async function verifyInclusion(
  index: number,
  size: number,
  leafHex: string,
  proofHex: readonly string[],
  rootHex: string,
): Promise<boolean> {
  if (index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = hexToBytes(leafHex);
  for (const p of proofHex) {
    const pb = hexToBytes(p);
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(NODE, pb, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await sha256(NODE, r, pb);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && bytesToHex(r) === rootHex.toLowerCase();
}

export interface Checkpoint {
  origin: string;
  size: number;
  /** Hex. */
  root: string;
  body: string;
  signatures: { name: string; keyHash: string; sig: Uint8Array<ArrayBuffer> }[];
}

export function parseCheckpoint(note: string): Checkpoint {
  const split = note.indexOf('\n\n');
  if (split < 0) throw new Error('not a signed note');
  const body = note.slice(0, split + 1);
  const [origin, size, root] = body.split('\n');
  const signatures = note
    .slice(split + 2)
    .split('\n')
    .filter((l) => l.startsWith('\u2014 '))
    .map((l) => {
      const [, name, sig] = l.split(' ');
      const raw = b64(sig ?? '');
      return { name: name ?? '', keyHash: bytesToHex(raw.slice(0, 4)), sig: raw.slice(4) };
    });
  return { origin: origin ?? '', size: Number(size), root: bytesToHex(b64(root ?? '')), body, signatures };
}

export type SignatureCheck = 'valid' | 'invalid' | 'unsupported';

/** Checks the checkpoint's signature by the key named in `vkey`. */
export async function verifyCheckpoint(cp: Checkpoint, vkey: string): Promise<SignatureCheck> {
  // The key's base64 may itself hold '+', so split on the first two only (as the server's parseVkey).
  const m = /^([^\s+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})$/.exec(vkey.trim());
  if (!m) return 'invalid';
  const [, name, keyHash, keyB64] = m as unknown as [string, string, string, string];
  const key = b64(keyB64);
  const sig = cp.signatures.find((s) => s.name === name && s.keyHash === keyHash);
  if (!sig || key[0] !== 1) return 'invalid';
  const pub = await crypto.subtle
    .importKey('raw', key.slice(1), { name: 'Ed25519' }, false, ['verify'])
    .catch(() => null);
  if (!pub) return 'unsupported';
  const ok = await crypto.subtle.verify({ name: 'Ed25519' }, pub, sig.sig, enc.encode(cp.body));
  return ok ? 'valid' : 'invalid';
}

export interface EntryCheck {
  inTree: boolean;
  signature: SignatureCheck;
  size: number;
}

/**
 * Fetches the signed checkpoint, the public key and an inclusion proof for `leafHash` at the
 * checkpoint's size, and checks both in this browser.
 */
export async function verifyEntry(
  leafHash: string,
  fetchJson: <T>(url: string) => Promise<T>,
  fetchText: (url: string) => Promise<string>,
  base = '/v1/ledger',
): Promise<EntryCheck> {
  const cp = parseCheckpoint(await fetchText(`${base}/checkpoint`));
  const { vkey } = await fetchJson<{ vkey: string }>(`${base}/public-key`);
  const signature = await verifyCheckpoint(cp, vkey);
  const p = await fetchJson<{ index: number; size: number; leafHash: string; proof: string[] }>(
    `${base}/proof/inclusion?leaf=${leafHash}&size=${cp.size}`,
  );
  const inTree =
    p.leafHash === leafHash && (await verifyInclusion(p.index, cp.size, p.leafHash, p.proof, cp.root));
  return { inTree, signature, size: cp.size };
}

export interface PortalProof {
  index: number;
  size: number;
  leafHash: string;
  proof: string[];
}

/**
 * The portal's check of one entry of "who read or received my data": the public checkpoint and
 * key (no sign-in needed) and the inclusion proof the portal API sent with the entry.
 */
export async function verifyPortalEntry(
  p: PortalProof,
  fetchJson: <T>(url: string) => Promise<T>,
  fetchText: (url: string) => Promise<string>,
): Promise<EntryCheck> {
  const cp = parseCheckpoint(await fetchText('/v1/ledger/checkpoint'));
  const { vkey } = await fetchJson<{ vkey: string }>('/v1/ledger/public-key');
  const signature = await verifyCheckpoint(cp, vkey);
  const inTree = p.size === cp.size && (await verifyInclusion(p.index, p.size, p.leafHash, p.proof, cp.root));
  return { inTree, signature, size: cp.size };
}

// --- a page of the portal history (custodian-subject-history-page/1, docs/rights.md "Paging") -----

export interface HistoryPageDoc {
  format: string;
  subject: string;
  origin: string;
  vkey: string;
  checkpoint: string;
  commitment: { note: string; size: number };
  count: number;
  from: number;
  to: number;
  prevHead: string;
  head: string;
  /** Newest first. */
  entries: { index: number; entry: string; proof: string[] }[];
  completeness?: { bucket: number; members: { key: string; count: number; head: string }[]; path: string[] };
}

export interface PageCheck {
  /** Every check passed (the signature may be 'unsupported' by an older browser: see `signature`). */
  ok: boolean;
  signature: SignatureCheck;
  /** The page carried, and passed, the check against the signed (count, head): his newest entries. */
  newest: boolean;
  /** Per entry index: included in the signed checkpoint and about this subject. */
  entries: Record<number, boolean>;
  from: number;
  to: number;
  prevHead: string;
  head: string;
  problems: string[];
}

const ZERO_HEAD_HEX = '0'.repeat(64);
const HEX32 = /^[0-9a-f]{64}$/;

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

function noteLines(note: string): string[] {
  const split = note.lastIndexOf('\n\n');
  return split < 0 ? [] : note.slice(0, split).split('\n');
}

/** Bucket hash of the signed map (ADR 0013): SHA-256(0x03 ‖ key ‖ uint64be(count) ‖ head …), by key. */
async function bucketHashHex(members: { key: string; count: number; head: string }[]): Promise<string> {
  const sorted = [...members].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const parts: Uint8Array[] = [new Uint8Array([3])];
  for (const m of sorted) parts.push(hexToBytes(m.key), u64(m.count), hexToBytes(m.head));
  return bytesToHex(await sha256(...parts));
}

/**
 * Checks one page in this browser with the log's key alone: the checkpoint's and the commitment's
 * signatures, every entry's inclusion proof and that it names this subject, and that the entries,
 * oldest first, chain from the page's previous head to its head:
 * head_k = SHA-256(0x02 ‖ head_{k-1} ‖ uint64be(index_k) ‖ leafHash_k). On the newest page, the
 * head and count must be the ones signed for him in the map (his bucket and its audit path).
 */
export async function verifyHistoryPage(page: HistoryPageDoc, vkey: string): Promise<PageCheck> {
  const problems: string[] = [];
  const entries: Record<number, boolean> = {};
  const out = (signature: SignatureCheck): PageCheck => ({
    ok: problems.length === 0 && signature !== 'invalid',
    signature,
    newest: problems.length === 0 && signature !== 'invalid' && page.completeness !== undefined,
    entries,
    from: page.from,
    to: page.to,
    prevHead: page.prevHead,
    head: page.head,
    problems,
  });
  if (page?.format !== 'custodian-subject-history-page/1' || !Array.isArray(page.entries)) {
    problems.push('format');
    return out('invalid');
  }
  let cp: Checkpoint;
  let cm: Checkpoint;
  try {
    cp = parseCheckpoint(page.checkpoint);
    cm = parseCheckpoint(page.commitment.note);
  } catch {
    problems.push('notes');
    return out('invalid');
  }
  const s1 = await verifyCheckpoint(cp, vkey);
  const s2 = await verifyCheckpoint(cm, vkey);
  const signature: SignatureCheck =
    s1 === 'invalid' || s2 === 'invalid' ? 'invalid' : s1 === 'unsupported' ? 'unsupported' : s2;
  const lines = noteLines(page.commitment.note);
  if (cp.origin !== page.origin || noteLines(page.checkpoint).length !== 3) problems.push('checkpoint');
  if (
    lines.length !== 4 ||
    lines[0] !== `${page.origin}/subjects` ||
    Number(lines[1]) !== cp.size ||
    bytesToHex(b64(lines[2] ?? '')) !== cp.root
  )
    problems.push('commitment: not made at this checkpoint');
  const mapRoot = bytesToHex(b64(lines[3] ?? ''));
  if (!(page.from >= 1 && page.to <= page.count && page.to - page.from + 1 === page.entries.length))
    problems.push('positions');
  if (!HEX32.test(page.prevHead ?? '') || !HEX32.test(page.head ?? '')) {
    problems.push('heads');
    return out(signature);
  }
  if (page.from === 1 && page.prevHead !== ZERO_HEAD_HEX)
    problems.push('chain: oldest page must start at zero');
  let head = hexToBytes(page.prevHead);
  const dec = new TextDecoder();
  for (let k = page.entries.length - 1; k >= 0; k--) {
    const e = page.entries[k]!;
    const newer = page.entries[k - 1];
    if (newer && !(newer.index > e.index)) problems.push(`entry ${e.index}: out of order`);
    const bytes = b64(e.entry);
    const leaf = await leafHashOf(bytes);
    let mine = false;
    try {
      mine = bytes[0] === 1 && JSON.parse(dec.decode(bytes.subarray(1))).subject === page.subject;
    } catch {
      mine = false;
    }
    const inTree = await verifyInclusion(e.index, cp.size, leaf, e.proof, cp.root);
    entries[e.index] = inTree && mine;
    if (!entries[e.index]) problems.push(`entry ${e.index}: not included or not his`);
    head = await sha256(new Uint8Array([2]), head, u64(e.index), hexToBytes(leaf));
  }
  if (bytesToHex(head) !== page.head) problems.push('chain: entries do not lead to the page head');
  const c = page.completeness;
  if (c) {
    const key = await sha256(enc.encode(page.subject));
    const mine = c.members.find((m) => m.key === bytesToHex(key));
    if (c.bucket !== ((key[0]! << 4) | (key[1]! >> 4))) problems.push('completeness: wrong bucket');
    if (
      page.to !== (mine?.count ?? 0) ||
      page.count !== (mine?.count ?? 0) ||
      page.head !== (mine?.head ?? ZERO_HEAD_HEX)
    )
      problems.push('completeness: not the signed count and head');
    if (!(await verifyInclusion(c.bucket, 4096, await bucketHashHex(c.members), c.path, mapRoot)))
      problems.push('completeness: bucket not in the signed map');
  }
  return out(signature);
}

/** An older page continues the one before it: it ends just before, at the head that one began from. */
export function continues(older: PageCheck, newer: PageCheck): boolean {
  return older.to === newer.from - 1 && older.head === newer.prevHead;
}

/** Pages newest first, as fetched by following `next`: each verified, each continuing the last. */
export async function verifyHistoryWalk(
  pages: readonly HistoryPageDoc[],
  vkey: string,
): Promise<{ ok: boolean; complete: boolean; entries: number; checks: PageCheck[] }> {
  const checks: PageCheck[] = [];
  let ok = pages.length > 0;
  for (const [i, p] of pages.entries()) {
    const c = await verifyHistoryPage(p, vkey);
    checks.push(c);
    if (!c.ok || (i === 0 && !c.newest) || (i > 0 && !continues(c, checks[i - 1]!))) ok = false;
  }
  const complete = ok && checks.at(-1)?.from === 1;
  return { ok, complete, entries: checks.reduce((n, c) => n + Object.keys(c.entries).length, 0), checks };
}
