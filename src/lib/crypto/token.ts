import { createHash, randomBytes } from 'node:crypto';
import { base32 } from '../ids.js';
import { safeEqual } from './otp.js';

/**
 * Opaque bearer tokens for browser sessions, CSRF tokens and one-time login links: 256 random bits
 * in base32 behind a short prefix. Only SHA-256(token) is stored (see apikey.ts for why a fast hash
 * is enough for 256-bit secrets), so a copy of the database lets nobody resume a session.
 */
export interface NewToken {
  token: string;
  /** Hex SHA-256 of the token: what is stored, and the row's key. */
  hash: string;
}

/** 256 random bits in base32 behind `prefix_`: an opaque bearer token. */
export function randomToken(prefix: string): string {
  return `${prefix}_${base32(randomBytes(32))}`;
}

export function newToken(prefix: string): NewToken {
  const token = randomToken(prefix);
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented token against a stored hex hash. */
export function tokenMatches(token: string, storedHashHex: string): boolean {
  return safeEqual(Buffer.from(hashToken(token), 'hex'), Buffer.from(storedHashHex, 'hex'));
}
