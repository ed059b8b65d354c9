import {
  createCipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { open, seal } from './aead.js';
import type { Keyring } from './keyring.js';

/**
 * Envelope encryption: one random data key per subject, wrapped by a versioned KEK. Field values
 * are sealed under the data key with associated data that binds the subject id, the field name and
 * the data-key version, so a ciphertext moved to another subject or field fails to open.
 */
export const DATA_KEY_VERSION = 1;

const enc = new TextEncoder();

export function newDataKey(): Buffer {
  return randomBytes(32);
}

function wrapAad(subjectId: string, kekVersion: number): Uint8Array {
  return enc.encode(`custodian/dk/v1\0${subjectId}\0${kekVersion}`);
}

function fieldAad(subjectId: string, field: string, dkVersion: number): Uint8Array {
  return enc.encode(`custodian/field/v1\0${subjectId}\0${field}\0${dkVersion}`);
}

export interface WrappedKey {
  kekVersion: number;
  wrapped: Buffer;
}

export function wrapDataKey(keyring: Keyring, subjectId: string, dataKey: Uint8Array): WrappedKey {
  const v = keyring.currentKekVersion;
  return { kekVersion: v, wrapped: seal(keyring.kek(v), dataKey, wrapAad(subjectId, v)) };
}

export function unwrapDataKey(keyring: Keyring, subjectId: string, key: WrappedKey): Buffer {
  return open(keyring.kek(key.kekVersion), key.wrapped, wrapAad(subjectId, key.kekVersion));
}

export function sealField(dataKey: Uint8Array, subjectId: string, field: string, value: string): Buffer {
  return seal(dataKey, enc.encode(value), fieldAad(subjectId, field, DATA_KEY_VERSION));
}

export function openField(dataKey: Uint8Array, subjectId: string, field: string, sealed: Uint8Array): string {
  return open(dataKey, sealed, fieldAad(subjectId, field, DATA_KEY_VERSION)).toString('utf8');
}

/**
 * Blind index: HMAC-SHA-256 over the normalised value under a per-field key derived (HKDF) from
 * the index key, so equal values in different fields do not link. Exact lookup without decryption.
 */
export function blindIndexer(keyring: Keyring): (field: string, normalised: string) => Buffer {
  const fieldKeys = new Map<string, Buffer>();
  return (field, normalised) => {
    let k = fieldKeys.get(field);
    if (!k) {
      k = Buffer.from(
        hkdfSync('sha256', keyring.indexKey, Buffer.alloc(0), `custodian/bidx/v1/${field}`, 32),
      );
      fieldKeys.set(field, k);
    }
    return createHmac('sha256', k).update(normalised, 'utf8').digest();
  };
}

/** Derives a purpose-bound sub-key (e.g. for contact tokens) from the index key. */
export function deriveKey(keyring: Keyring, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', keyring.indexKey, Buffer.alloc(0), `custodian/${info}`, 32));
}

// --- bulk sealing (vault import) ------------------------------------------------------------------

/**
 * Random bytes for bulk sealing come from one CSPRNG draw per 64 KiB rather than one per value:
 * on a small host a `randomBytes(12)` call costs about a third of sealing a short field. Each
 * refill allocates a fresh buffer, so bytes already handed out are never overwritten or reused.
 */
const POOL_BYTES = 64 * 1024;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function pooledRandom(n: number): Buffer {
  if (poolOffset + n > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const out = pool.subarray(poolOffset, poolOffset + n);
  poolOffset += n;
  return out;
}

/**
 * Secret random bytes (a data key) from the pool: copied out, then the pool's slice is zeroed, so
 * the key's only copy is the caller's (which the caller wipes with fill(0)). The slice is never
 * handed out again (the offset only moves forward), so zeroing it cannot weaken a later draw.
 */
function pooledSecret(n: number): Buffer {
  const slice = pooledRandom(n);
  const out = Buffer.from(slice);
  slice.fill(0);
  return out;
}

/** Test hook: the unused and used bytes of the current pool (a copy). Never use outside tests. */
export function poolSnapshotForTests(): Buffer {
  return Buffer.from(pool);
}

/** Random bytes for bulk work (the same pool as sealing), e.g. the ids of imported subjects. */
export function bulkRandomBytes(n: number): Buffer {
  return Buffer.from(pooledRandom(n));
}

/**
 * AES-256-GCM, the same layout as aead.seal: nonce(12) ‖ ciphertext ‖ tag(16), assembled in one
 * allocation (Buffer.concat would make a second).
 */
function sealPooled(key: Uint8Array | KeyObject, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  const nonce = pooledRandom(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  cipher.final();
  const tag = cipher.getAuthTag();
  const out = Buffer.allocUnsafe(12 + body.length + 16);
  nonce.copy(out, 0);
  body.copy(out, 12);
  tag.copy(out, 12 + body.length);
  return out;
}

/**
 * KEKs as KeyObjects, made once per key buffer: a cipher keyed by a KeyObject skips importing the
 * raw bytes, about a quarter of a short seal. Weak, so a retired key file's KEKs go with it.
 */
const kekObjects = new WeakMap<Buffer, KeyObject>();

function kekObject(kek: Buffer): KeyObject {
  let k = kekObjects.get(kek);
  if (!k) {
    k = createSecretKey(kek);
    kekObjects.set(kek, k);
  }
  return k;
}

/**
 * newDataKey + wrapDataKey + sealField for a new subject in one call, for bulk import. Same
 * layouts and associated data as those functions (unwrapDataKey and openField open the results);
 * only the source of the random bytes differs (pooledRandom).
 */
export function sealNewSubject(
  keyring: Keyring,
  subjectId: string,
  fields: readonly string[],
  values: readonly string[],
): { key: WrappedKey; sealed: Buffer[] } {
  const dataKey = pooledSecret(32);
  const v = keyring.currentKekVersion;
  const wrapped = sealPooled(kekObject(keyring.kek(v)), dataKey, wrapAad(subjectId, v));
  const sealed: Buffer[] = new Array(fields.length);
  for (let i = 0; i < fields.length; i++) {
    sealed[i] = sealPooled(
      dataKey,
      enc.encode(values[i]!),
      fieldAad(subjectId, fields[i]!, DATA_KEY_VERSION),
    );
  }
  dataKey.fill(0);
  return { key: { kekVersion: v, wrapped }, sealed };
}
