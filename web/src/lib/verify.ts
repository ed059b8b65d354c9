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
