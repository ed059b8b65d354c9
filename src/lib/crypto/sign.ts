import * as nodeCrypto from 'node:crypto';
import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';

/** Ed25519 over raw messages (pure EdDSA, no prehash), as C2SP signed-note requires. */
export function ed25519Sign(key: KeyObject, message: Uint8Array): Buffer {
  return sign(null, message, key);
}

export function ed25519Verify(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, message, publicKey, signature);
  } catch {
    return false;
  }
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function ed25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error('Ed25519 public key must be 32 bytes');
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** An incremental SHA-256, for inputs too large to hold at once (a signed list of millions of lines). */
export function createSha256(): { update(data: Uint8Array | string): void; digest(): Buffer } {
  const h = createHash('sha256');
  return {
    update: (data) => {
      h.update(data);
    },
    digest: () => h.digest(),
  };
}

type OneShot = (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer;
const oneShot = (nodeCrypto as unknown as { hash?: OneShot }).hash;

/**
 * SHA-256 of one buffer, for hot paths (the ledger hashes every entry twice): the one-shot
 * `crypto.hash` (Node ≥ 20.12) skips the Hash object; `createHash` is the fallback.
 */
export const sha256Digest: (data: Uint8Array) => Buffer = oneShot
  ? (data) => oneShot('sha256', data, 'buffer')
  : (data) => createHash('sha256').update(data).digest();
