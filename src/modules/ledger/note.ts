import type { KeyObject } from 'node:crypto';
import { ed25519PublicKeyFromRaw, ed25519Sign, ed25519Verify, sha256 } from '../../lib/crypto/index.js';
import { ledgerError } from './ledger.errors.js';
import { HASH_SIZE } from './merkle.js';

/**
 * Checkpoints as C2SP signed notes (c2sp.org/signed-note, c2sp.org/tlog-checkpoint), the format of
 * golang.org/x/mod/sumdb/note, so standard tools verify them:
 *
 *   <origin>\n<size>\n<base64 root>\n
 *   \n
 *   — <key name> <base64(key hash[4] ‖ Ed25519 signature[64])>\n
 *
 * The key hash is the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key); 0x01 names
 * Ed25519. The verifier key string is `<name>+<8 hex key hash>+<base64(0x01 ‖ public key)>`.
 */
const ALG_ED25519 = 0x01;
const EM_DASH = '\u2014';
// Key names: no whitespace and no '+', as the note format requires.
const KEY_NAME_RE = /^[^\s+]+$/;

export interface NoteVerifier {
  name: string;
  keyHash: number;
  publicKeyRaw: Buffer;
  publicKey: KeyObject;
}

export function noteKeyHash(name: string, publicKeyRaw: Uint8Array): number {
  return sha256(Buffer.from(`${name}\n`, 'utf8'), Uint8Array.of(ALG_ED25519), publicKeyRaw).readUInt32BE(0);
}

export function formatVkey(name: string, publicKeyRaw: Uint8Array): string {
  if (!KEY_NAME_RE.test(name)) throw ledgerError('LEDGER_KEY_INVALID');
  const hash = noteKeyHash(name, publicKeyRaw).toString(16).padStart(8, '0');
  return `${name}+${hash}+${Buffer.concat([Uint8Array.of(ALG_ED25519), publicKeyRaw]).toString('base64')}`;
}

export function parseVkey(vkey: string): NoteVerifier {
  const bad = (): never => {
    throw ledgerError('LEDGER_KEY_INVALID');
  };
  const m = /^([^\s+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})$/.exec(vkey.trim());
  if (!m) return bad();
  const [, name, hashHex, b64] = m as unknown as [string, string, string, string];
  const key = Buffer.from(b64, 'base64');
  if (key.length !== 33 || key[0] !== ALG_ED25519) return bad();
  const publicKeyRaw = key.subarray(1);
  const keyHash = noteKeyHash(name, publicKeyRaw);
  if (keyHash !== Number.parseInt(hashHex, 16)) return bad();
  return { name, keyHash, publicKeyRaw, publicKey: ed25519PublicKeyFromRaw(publicKeyRaw) };
}

export function checkpointBody(origin: string, size: number, root: Uint8Array): string {
  return `${origin}\n${size}\n${Buffer.from(root).toString('base64')}\n`;
}

/** Signs a note body (which must end in a newline) with the log's Ed25519 key. */
export function signNote(
  body: string,
  name: string,
  signingKey: KeyObject,
  publicKeyRaw: Uint8Array,
): string {
  const sig = ed25519Sign(signingKey, Buffer.from(body, 'utf8'));
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(noteKeyHash(name, publicKeyRaw));
  return `${body}\n${EM_DASH} ${name} ${Buffer.concat([prefix, sig]).toString('base64')}\n`;
}

export interface ParsedCheckpoint {
  origin: string;
  size: number;
  root: Buffer;
  /** The signed text (the three checkpoint lines). */
  body: string;
  signatures: { name: string; keyHash: number; signature: Buffer }[];
}

/** Parses a checkpoint note without checking signatures. */
export function parseCheckpoint(note: string): ParsedCheckpoint {
  const bad = (reason: string): never => {
    throw ledgerError('LEDGER_CHECKPOINT_INVALID', { details: { reason } });
  };
  if (typeof note !== 'string' || note.length > 1_000_000 || !note.endsWith('\n')) return bad('format');
  const split = note.lastIndexOf('\n\n');
  if (split === -1) return bad('format');
  const body = note.slice(0, split + 1);
  const sigLines = note.slice(split + 2, -1).split('\n');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length !== 3) return bad('body');
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (origin.length === 0 || !/^(0|[1-9][0-9]{0,15})$/.test(sizeText)) return bad('body');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) return bad('body');
  const root = Buffer.from(rootText, 'base64');
  if (root.length !== HASH_SIZE || root.toString('base64') !== rootText) return bad('body');
  const signatures: ParsedCheckpoint['signatures'] = [];
  for (const line of sigLines) {
    const m = /^\u2014 ([^\s+]+) ([A-Za-z0-9+/]+={0,2})$/.exec(line);
    if (!m) return bad('signature line');
    const raw = Buffer.from(m[2] as string, 'base64');
    if (raw.length < 5) return bad('signature line');
    signatures.push({ name: m[1] as string, keyHash: raw.readUInt32BE(0), signature: raw.subarray(4) });
  }
  if (signatures.length === 0) return bad('unsigned');
  return { origin, size, root, body, signatures };
}

/**
 * Parses a checkpoint and checks it carries a valid signature by `verifier` (other signatures, e.g.
 * witness cosignatures, are ignored) and, when given, the expected origin.
 */
export function verifyCheckpoint(note: string, verifier: NoteVerifier, origin?: string): ParsedCheckpoint {
  const cp = parseCheckpoint(note);
  if (origin !== undefined && cp.origin !== origin) {
    throw ledgerError('LEDGER_CHECKPOINT_INVALID', { details: { reason: 'origin' } });
  }
  const ok = cp.signatures.some(
    (s) =>
      s.name === verifier.name &&
      s.keyHash === verifier.keyHash &&
      ed25519Verify(verifier.publicKey, Buffer.from(cp.body, 'utf8'), s.signature),
  );
  if (!ok) throw ledgerError('LEDGER_CHECKPOINT_INVALID', { details: { reason: 'signature' } });
  return cp;
}
