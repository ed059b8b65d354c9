import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * Primitives for subject authentication (rights portal): one-time codes, session tokens and keyed
 * hashes of them. Codes and tokens are never stored, only their HMAC under a key derived from the
 * key file, so a copy of the database cannot replay a live code or session.
 */

/** A uniformly random decimal code of `digits` digits (leading zeros kept). */
export function randomDigits(digits: number): string {
  let out = '';
  for (let i = 0; i < digits; i++) out += String(randomInt(0, 10));
  return out;
}

export function hmacSha256(key: Uint8Array, ...parts: (string | Uint8Array)[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) {
    // Length-prefixed so that ("ab","c") and ("a","bc") differ.
    const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    h.update(len).update(b);
  }
  return h.digest();
}

/** Constant-time comparison of two byte strings (false when lengths differ). */
export function safeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
