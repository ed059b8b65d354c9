import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { base32 } from '../ids.js';

/**
 * API keys: `ctk_<id>_<secret>`.
 *
 * - The `ctk_` prefix makes a leaked key easy to spot (secret scanners, log greps, code review).
 * - `<id>` (80 random bits, base32) names the key row, so authentication is one primary-key lookup
 *   instead of a scan over every stored hash.
 * - `<secret>` is 256 random bits (base32, 52 characters).
 *
 * Only SHA-256(token) is stored. A slow password hash (bcrypt, scrypt, Argon2) exists to make
 * guessing low-entropy human passwords expensive; a 256-bit random secret cannot be guessed at any
 * hash speed (2^255 trials on average), so a fast hash loses nothing and keeps authentication cheap
 * on every request. The hash covers the whole token, binding the secret to its key id.
 */
export const API_KEY_PREFIX = 'ctk_';

const ID_BYTES = 10;
const SECRET_BYTES = 32;
const ID_CHARS = Math.ceil((ID_BYTES * 8) / 5); // 16
const SECRET_CHARS = Math.ceil((SECRET_BYTES * 8) / 5); // 52
const TOKEN_RE = new RegExp(`^${API_KEY_PREFIX}([a-z2-7]{${ID_CHARS}})_([a-z2-7]{${SECRET_CHARS}})$`);

export interface NewApiKey {
  /** The key id (stored in clear, the row's primary key). */
  id: string;
  /** The full token, shown to its holder once and never stored. */
  token: string;
  /** SHA-256 of the token: what is stored. */
  hash: Buffer;
}

export function newApiKey(): NewApiKey {
  const id = base32(randomBytes(ID_BYTES));
  const token = `${API_KEY_PREFIX}${id}_${base32(randomBytes(SECRET_BYTES))}`;
  return { id, token, hash: hashApiKey(token) };
}

/** The key id of a well-formed token, or undefined; says nothing about whether the key is valid. */
export function apiKeyId(token: string): string | undefined {
  return TOKEN_RE.exec(token)?.[1];
}

export function hashApiKey(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Constant-time comparison of a presented token against a stored hash. */
export function apiKeyMatches(token: string, storedHash: Uint8Array): boolean {
  const h = hashApiKey(token);
  return storedHash.length === h.length && timingSafeEqual(h, storedHash);
}
