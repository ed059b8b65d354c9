import { ed25519PublicKeyFromRaw, ed25519Sign, ed25519Verify, type Keyring } from '../../lib/crypto/index.js';

/**
 * A consent receipt the person can keep: the consent record's terms (ids only, no PI), signed with
 * the organisation's Ed25519 key. Anyone holding the public key can check it without trusting
 * Custodian's database, so a person can later prove what they agreed to (and that a notice of a
 * given SHA-256 was the one shown), and the organisation cannot quietly rewrite it.
 *
 * The signed message is the canonical JSON of `receipt`: object keys sorted, no whitespace,
 * strings as JSON.stringify writes them. The `format` field separates it from every other
 * signature made with the same key (ledger checkpoints sign a different, text format).
 */
export const RECEIPT_FORMAT = 'custodian-consent-receipt/1';

export interface ConsentReceipt {
  format: typeof RECEIPT_FORMAT;
  consentId: string;
  subjectId: string;
  purpose: string;
  recipientId: string | null;
  fields: string[];
  notice: { id: string; key: string; version: number; sha256: string };
  method: string;
  givenBy: string;
  givenAt: string;
  expiresAt: string | null;
  withdrawnAt: string | null;
  separate: { sensitive: boolean; thirdParty: boolean; crossBorder: boolean };
  evidenceRef: string | null;
  processor: { name: string; contact: string };
  issuedAt: string;
}

export interface SignedReceipt {
  receipt: ConsentReceipt;
  alg: 'Ed25519';
  /** Raw 32-byte public key, base64. */
  publicKey: string;
  /** Signature over canonicalJson(receipt), base64. */
  signature: string;
}

/** Deterministic JSON: sorted keys, no whitespace. Only plain data (no floats are used here). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isSafeInteger(value))
      throw new TypeError('canonicalJson: only safe integers');
    if (value === undefined) throw new TypeError('canonicalJson: undefined');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function signReceipt(keyring: Pick<Keyring, 'signingKey' | 'publicKeyRaw'>, receipt: ConsentReceipt) {
  const signature = ed25519Sign(keyring.signingKey, Buffer.from(canonicalJson(receipt), 'utf8'));
  return {
    receipt,
    alg: 'Ed25519' as const,
    publicKey: keyring.publicKeyRaw.toString('base64'),
    signature: signature.toString('base64'),
  } satisfies SignedReceipt;
}

/**
 * True when `signed` is a well-formed receipt whose signature verifies. With `trustedPublicKey`
 * (raw 32 bytes, or base64), the key in the receipt must also be that one: otherwise anyone could
 * sign a forged receipt with a key of their own and embed it.
 */
export function verifyReceipt(signed: unknown, trustedPublicKey?: Uint8Array | string): boolean {
  const s = signed as Partial<SignedReceipt> | null;
  if (!s || typeof s !== 'object' || s.alg !== 'Ed25519') return false;
  if (typeof s.publicKey !== 'string' || typeof s.signature !== 'string') return false;
  if (!s.receipt || typeof s.receipt !== 'object' || s.receipt.format !== RECEIPT_FORMAT) return false;
  const raw = Buffer.from(s.publicKey, 'base64');
  if (raw.length !== 32) return false;
  if (trustedPublicKey !== undefined) {
    const trusted =
      typeof trustedPublicKey === 'string'
        ? Buffer.from(trustedPublicKey, 'base64')
        : Buffer.from(trustedPublicKey);
    if (!trusted.equals(raw)) return false;
  }
  let message: Buffer;
  try {
    message = Buffer.from(canonicalJson(s.receipt), 'utf8');
  } catch {
    return false;
  }
  return ed25519Verify(ed25519PublicKeyFromRaw(raw), message, Buffer.from(s.signature, 'base64'));
}
