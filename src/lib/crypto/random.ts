import { randomBytes, randomInt } from 'node:crypto';

/**
 * Uniform draws from the operating system's CSPRNG, for choices nobody may predict or replay
 * (canary identities, their number and their place in an export). Not for keys: those come from
 * the keyring.
 */

/** Uniform integer in [0, n), 1 ≤ n ≤ 2^48 (node's randomInt: rejection sampling, no modulo bias). */
export function secureInt(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 48)
    throw new RangeError('secureInt: n must be in [1, 2^48]');
  return n === 1 ? 0 : randomInt(n);
}

/** Uniform in [0, 1) with 53 bits of resolution. */
export function secureFloat(): number {
  const b = randomBytes(7);
  // 53 bits: 5 bits of the first byte and the six others.
  const hi = b[0]! & 0x1f;
  let x = hi;
  for (let i = 1; i < 7; i++) x = x * 256 + b[i]!;
  return x / 2 ** 53;
}
