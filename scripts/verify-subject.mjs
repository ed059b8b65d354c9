#!/usr/bin/env node
// Standalone verifier of a Custodian subject history (custodian-subject-history/1).
// No dependencies: Node.js 18+ and this file. It trusts nothing but the verifier key you give it.
//
//   node verify-subject.mjs history.json [--key '<vkey>'] [--seen old-checkpoint.txt]
//
// Checks: (1) the ledger checkpoint is signed by the key; (2) every entry is included in it
// (RFC 9162 inclusion proofs) and is about this subject; (3) completeness: the hash chain over
// the entries equals the (count, head) signed for this subject in the commitment at the same tree
// size, and his bucket is in the signed map; (4) with --seen, the checkpoint extends one you saw
// before (consistency proof). Exit code 0 when all hold, 1 otherwise. See docs/rights.md.
//
// Also checks pages of the portal's paged history (custodian-subject-history-page/1): a file holding
// one page (or the portal's answer wrapping it) is checked on its own — the newest page proves his
// newest entries against the signed (count, head); a file holding an array of pages (or answers), or
// {"pages": [...]}, newest first as fetched by following `next`, is checked as a walk: each page
// must continue the one before, and a walk down to his first entry proves the history complete.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

const sha256 = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const leafHash = (entry) => sha256(Buffer.of(0), entry);
const nodeHash = (l, r) => sha256(Buffer.of(1), l, r);
const hex = (s) => Buffer.from(s, 'hex');
const u64 = (n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

function parseVkey(vkey) {
  const m = /^([^\s+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})$/.exec(vkey.trim());
  if (!m) throw new Error('bad verifier key');
  const raw = Buffer.from(m[3], 'base64');
  if (raw.length !== 33 || raw[0] !== 1) throw new Error('not an Ed25519 verifier key');
  const pub = raw.subarray(1);
  const keyHash = sha256(Buffer.from(`${m[1]}\n`), Buffer.of(1), pub).readUInt32BE(0);
  if (keyHash !== Number.parseInt(m[2], 16)) throw new Error('verifier key hash mismatch');
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]), format: 'der', type: 'spki' });
  return { name: m[1], keyHash, key };
}

// A C2SP signed note: body lines, a blank line, signature lines "— name base64(keyhash ‖ sig)".
function openNote(note, v, lineCount) {
  if (typeof note !== 'string' || !note.endsWith('\n')) return undefined;
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return undefined;
  const body = note.slice(0, split + 1);
  const lines = body.slice(0, -1).split('\n');
  if (lines.length !== lineCount) return undefined;
  const ok = note
    .slice(split + 2, -1)
    .split('\n')
    .some((l) => {
      const m = /^\u2014 ([^\s+]+) ([A-Za-z0-9+/]+={0,2})$/.exec(l);
      if (!m || m[1] !== v.name) return false;
      const raw = Buffer.from(m[2], 'base64');
      return raw.length > 4 && raw.readUInt32BE(0) === v.keyHash && verify(null, Buffer.from(body), v.key, raw.subarray(4));
    });
  return ok ? lines : undefined;
}

// RFC 9162 §2.1.3.2
function verifyInclusion(index, size, leaf, proof, root) {
  if (index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else r = nodeHash(r, p);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

// RFC 9162 §2.1.4.2
function verifyConsistency(size1, size2, root1, root2, proof) {
  if (size1 === size2) return proof.length === 0 && root1.equals(root2);
  if (size1 < 1 || size1 > size2 || proof.length === 0) return false;
  let path = [...proof];
  if ((size1 & (size1 - 1)) === 0) path = [root1, ...path];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else sr = nodeHash(sr, c);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return fr.equals(root1) && sr.equals(root2) && sn === 0;
}

function bucketHash(members) {
  if (members.length === 0) return sha256(Buffer.of(3));
  const sorted = [...members].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return sha256(Buffer.of(3), ...sorted.flatMap((m) => [hex(m.key), u64(m.count), hex(m.head)]));
}

export function verifyHistory(b, vkeyText, seenCheckpoint) {
  const problems = [];
  if (b.bundle) b = b.bundle; // the portal's answer wraps the bundle
  if (b.format !== 'custodian-subject-history/1') return { ok: false, problems: ['not a custodian-subject-history/1 document'] };
  const v = parseVkey(vkeyText ?? b.vkey);
  const cp = openNote(b.checkpoint, v, 3);
  if (!cp || cp[0] !== b.origin) return { ok: false, problems: ['checkpoint: signature or origin invalid'] };
  const size = Number(cp[1]);
  const root = Buffer.from(cp[2], 'base64');
  const cm = openNote(b.commitment.note, v, 4);
  let mapRoot;
  if (!cm || cm[0] !== `${b.origin}/subjects`) problems.push('commitment: signature or origin invalid');
  else if (Number(cm[1]) !== size || !Buffer.from(cm[2], 'base64').equals(root)) problems.push('commitment: not made at this checkpoint');
  else mapRoot = Buffer.from(cm[3], 'base64');
  let head = Buffer.alloc(32);
  const seen = new Set();
  for (const e of [...b.entries].sort((x, y) => x.index - y.index)) {
    if (seen.has(e.index)) { problems.push(`entry ${e.index}: listed twice`); continue; }
    seen.add(e.index);
    const bytes = Buffer.from(e.entry, 'base64');
    const leaf = leafHash(bytes);
    if (!verifyInclusion(e.index, size, leaf, e.proof.map(hex), root)) problems.push(`entry ${e.index}: not included in the checkpoint`);
    let ev;
    try { ev = JSON.parse(bytes.subarray(1).toString('utf8')); } catch { ev = {}; }
    if (bytes[0] !== 1 || ev.subject !== b.subject) problems.push(`entry ${e.index}: not this subject's`);
    head = sha256(Buffer.of(2), head, u64(e.index), leaf);
  }
  const key = sha256(Buffer.from(b.subject)).toString('hex');
  const k = sha256(Buffer.from(b.subject));
  if (b.commitment.bucket !== ((k[0] << 4) | (k[1] >> 4))) problems.push('completeness: wrong bucket');
  const mine = b.commitment.members.find((m) => m.key === key);
  if (seen.size > 0 && !mine) problems.push('completeness: subject missing from the commitment');
  if (mine && (mine.count !== seen.size || mine.head !== head.toString('hex')))
    problems.push(`completeness: the history shows ${seen.size} entries, the signed commitment ${mine.count}: entries were left out or added`);
  if (mapRoot && !verifyInclusion(b.commitment.bucket, 4096, bucketHash(b.commitment.members), b.commitment.path.map(hex), mapRoot))
    problems.push('completeness: bucket not in the signed map');
  if (seenCheckpoint) {
    const old = openNote(seenCheckpoint, v, 3);
    if (!old || old[0] !== b.origin) problems.push('consistency: the earlier checkpoint is not valid');
    else if (!b.consistency) problems.push('consistency: no proof in the document (download with ?since=<its size>)');
    else if (!verifyConsistency(Number(old[1]), size, Buffer.from(old[2], 'base64'), root, b.consistency.proof.map(hex)))
      problems.push('consistency: this checkpoint does not extend the one seen before');
  }
  return { ok: problems.length === 0, size, entries: seen.size, problems };
}

const PAGE_FORMAT = 'custodian-subject-history-page/1';
const ZERO = '0'.repeat(64);

export function verifyPage(p, vkeyText) {
  if (p && p.page) p = p.page; // the portal's answer wraps the page
  const problems = [];
  const out = (size) => ({ ok: problems.length === 0, size, entries: p?.entries?.length ?? 0, from: p?.from, to: p?.to, prevHead: p?.prevHead, head: p?.head, newest: problems.length === 0 && !!p?.completeness, problems });
  if (!p || p.format !== PAGE_FORMAT || !Array.isArray(p.entries)) { problems.push(`not a ${PAGE_FORMAT} document`); return out(0); }
  const v = parseVkey(vkeyText ?? p.vkey);
  const cp = openNote(p.checkpoint, v, 3);
  if (!cp || cp[0] !== p.origin) { problems.push('checkpoint: signature or origin invalid'); return out(0); }
  const size = Number(cp[1]);
  const root = Buffer.from(cp[2], 'base64');
  const cm = openNote(p.commitment?.note, v, 4);
  let mapRoot;
  if (!cm || cm[0] !== `${p.origin}/subjects`) problems.push('commitment: signature or origin invalid');
  else if (Number(cm[1]) !== size || !Buffer.from(cm[2], 'base64').equals(root)) problems.push('commitment: not made at this checkpoint');
  else mapRoot = Buffer.from(cm[3], 'base64');
  if (!(p.from >= 1 && p.to <= p.count && p.to - p.from + 1 === p.entries.length)) problems.push(`page: positions ${p.from}-${p.to} do not match its ${p.entries.length} entries`);
  if (!/^[0-9a-f]{64}$/.test(p.prevHead ?? '') || !/^[0-9a-f]{64}$/.test(p.head ?? '')) { problems.push('page: heads are not 32-byte hex'); return out(size); }
  if (p.from === 1 && p.prevHead !== ZERO) problems.push('page: the oldest entry must chain from the zero head');
  let head = hex(p.prevHead);
  for (let k = p.entries.length - 1; k >= 0; k--) {
    const e = p.entries[k];
    const newer = p.entries[k - 1];
    if (newer && !(newer.index > e.index)) problems.push(`entry ${e.index}: out of order`);
    const bytes = Buffer.from(e.entry, 'base64');
    const leaf = leafHash(bytes);
    if (!verifyInclusion(e.index, size, leaf, e.proof.map(hex), root)) problems.push(`entry ${e.index}: not included in the checkpoint`);
    let ev;
    try { ev = JSON.parse(bytes.subarray(1).toString('utf8')); } catch { ev = {}; }
    if (bytes[0] !== 1 || ev.subject !== p.subject) problems.push(`entry ${e.index}: not this subject's`);
    head = sha256(Buffer.of(2), head, u64(e.index), leaf);
  }
  if (head.toString('hex') !== p.head) problems.push("chain: the entries do not lead from the page's previous head to its head");
  const c = p.completeness;
  if (c) {
    const k = sha256(Buffer.from(p.subject));
    const mine = c.members.find((m) => m.key === k.toString('hex'));
    if (c.bucket !== ((k[0] << 4) | (k[1] >> 4))) problems.push('completeness: wrong bucket');
    if (p.to !== (mine?.count ?? 0) || p.count !== (mine?.count ?? 0) || p.head !== (mine?.head ?? ZERO))
      problems.push('completeness: the page does not end at the signed count and head: entries were left out or added');
    if (mapRoot && !verifyInclusion(c.bucket, 4096, bucketHash(c.members), c.path.map(hex), mapRoot))
      problems.push('completeness: bucket not in the signed map');
  }
  return out(size);
}

export function verifyWalk(pages, vkeyText) {
  const problems = [];
  let entries = 0;
  let size = 0;
  let before;
  pages.forEach((raw, i) => {
    const p = raw && raw.page ? raw.page : raw;
    const r = verifyPage(p, vkeyText);
    if (i === 0) size = r.size;
    for (const x of r.problems) problems.push(`page ${i + 1}: ${x}`);
    entries += r.entries;
    if (i === 0 && !p?.completeness) problems.push('page 1: not the newest page (no completeness proof)');
    if (before && (p.to !== before.from - 1 || p.head !== before.prevHead)) problems.push(`page ${i + 1}: does not continue page ${i}`);
    before = r;
  });
  if (!before) problems.push('walk: no pages');
  else if (before.from !== 1) problems.push('walk: stops before his oldest entry');
  return { ok: problems.length === 0, size, entries, pages: pages.length, problems };
}

/** A history, one page, or a walk of pages, by what the document is. */
export function verifyDocument(doc, vkeyText, seenCheckpoint) {
  const list = Array.isArray(doc) ? doc : Array.isArray(doc?.pages) ? doc.pages : undefined;
  if (list) return { kind: 'walk', ...verifyWalk(list, vkeyText) };
  if ((doc?.page ?? doc)?.format === PAGE_FORMAT) return { kind: 'page', ...verifyPage(doc, vkeyText) };
  return { kind: 'history', ...verifyHistory(doc, vkeyText, seenCheckpoint) };
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--key' && args[args.indexOf(a) - 1] !== '--seen');
  const opt = (n) => (args.includes(n) ? args[args.indexOf(n) + 1] : undefined);
  if (!file) {
    console.error('usage: node verify-subject.mjs history.json|page.json|pages.json [--key VKEY] [--seen CHECKPOINT_FILE]');
    process.exit(2);
  }
  const seenFile = opt('--seen');
  let r;
  try {
    r = verifyDocument(JSON.parse(readFileSync(file, 'utf8')), opt('--key'), seenFile ? readFileSync(seenFile, 'utf8') : undefined);
  } catch (e) {
    r = { ok: false, problems: [String(e.message ?? e)] };
  }
  if (r.ok && r.kind === 'page')
    console.log(`OK: page of ${r.entries} entries (positions ${r.from}-${r.to}), each included in the checkpoint of size ${r.size}; ${r.newest ? 'his newest entries, none left out among them' : 'chained from its previous head to its head (check it in a walk)'}`);
  else if (r.ok && r.kind === 'walk') console.log(`OK: ${r.entries} entries over ${r.pages} pages, each included in a signed checkpoint, and none left out`);
  else if (r.ok) console.log(`OK: ${r.entries} entries, each included in the checkpoint of size ${r.size}, and none left out`);
  else console.log(`FAILED:\n${r.problems.map((p) => `  ${p}`).join('\n')}`);
  process.exit(r.ok ? 0 : 1);
}
