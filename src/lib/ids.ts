import { randomBytes } from 'node:crypto';
import { bulkRandomBytes } from './crypto/envelope.js';

/**
 * Opaque identifiers: a short type prefix and 128 random bits in base32 (lower case, no padding).
 * Subject ids are pseudonymous: nothing about the person can be read from them.
 */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export type IdSource = (prefix: string) => string;

export const randomId: IdSource = (prefix) => `${prefix}_${base32(randomBytes(16))}`;

/**
 * randomId drawing from the bulk-sealing CSPRNG pool (one draw per 64 KiB instead of one system
 * call per id), for imports that mint ids by the million. The same 128 random bits.
 */
export const bulkRandomId: IdSource = (prefix) => `${prefix}_${base32(bulkRandomBytes(16))}`;
