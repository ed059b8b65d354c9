import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';

/**
 * The key file: the only place keys live. Never in the database (DESIGN principle 1), so a copy of
 * the database, with or without backups, reveals nothing. Written with mode 0600.
 *
 * - kek: key-encryption keys by version; `current` wraps new data keys, older versions still unwrap
 *   until rotation has rewrapped every data key.
 * - index: the blind-index key (HMAC-SHA-256), separate from every KEK so rotating a KEK does not
 *   invalidate lookups.
 * - signing: the Ed25519 key that signs ledger checkpoints.
 */
const b64 = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/);

const KeyFileSchema = z.object({
  format: z.literal('custodian-keys/1'),
  kek: z.object({
    current: z.number().int().positive(),
    versions: z.record(z.string().regex(/^[1-9][0-9]*$/), b64),
  }),
  index: b64,
  signing: z.object({ privateKey: b64 }),
});

export type KeyFile = z.infer<typeof KeyFileSchema>;

export interface Keyring {
  readonly path: string | undefined;
  readonly currentKekVersion: number;
  kek(version: number): Buffer;
  kekVersions(): number[];
  readonly indexKey: Buffer;
  readonly signingKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKeyRaw: Buffer;
}

export class KeyFileError extends Error {}

function keyBytes(s: string, what: string): Buffer {
  const b = Buffer.from(s, 'base64');
  if (b.length !== 32) throw new KeyFileError(`key file: ${what} must be 32 bytes`);
  return b;
}

export function keyringFromFile(file: KeyFile, path?: string): Keyring {
  const keks = new Map<number, Buffer>();
  for (const [v, k] of Object.entries(file.kek.versions)) keks.set(Number(v), keyBytes(k, `kek ${v}`));
  if (!keks.has(file.kek.current)) throw new KeyFileError('key file: current KEK version is missing');
  const signingKey = createPrivateKey({
    key: Buffer.from(file.signing.privateKey, 'base64'),
    format: 'der',
    type: 'pkcs8',
  });
  if (signingKey.asymmetricKeyType !== 'ed25519')
    throw new KeyFileError('key file: signing key must be Ed25519');
  const publicKey = createPublicKey(signingKey);
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    path,
    currentKekVersion: file.kek.current,
    kek(version) {
      const k = keks.get(version);
      if (!k) throw new KeyFileError(`key file: no KEK version ${version}`);
      return k;
    },
    kekVersions: () => [...keks.keys()].sort((a, b) => a - b),
    indexKey: keyBytes(file.index, 'index key'),
    signingKey,
    publicKey,
    // The SPKI DER of an Ed25519 key ends with the 32 raw key bytes.
    publicKeyRaw: Buffer.from(spki.subarray(spki.length - 32)),
  };
}

export function generateKeyFile(): KeyFile {
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    format: 'custodian-keys/1',
    kek: { current: 1, versions: { '1': randomBytes(32).toString('base64') } },
    index: randomBytes(32).toString('base64'),
    signing: { privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64') },
  };
}

export function readKeyFile(path: string): KeyFile {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    throw new KeyFileError(
      `key file not readable: ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const parsed = KeyFileSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new KeyFileError(`key file is not valid: ${path}`);
  return parsed.data;
}

export function loadKeyring(path: string): Keyring {
  return keyringFromFile(readKeyFile(path), path);
}

/** Atomic write with mode 0600: a crash never leaves a half-written key file. */
export function writeKeyFile(path: string, file: KeyFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'w' });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export function keyFileExists(path: string): boolean {
  return existsSync(path);
}

export function keyFileMode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** Adds a new KEK version and makes it current; old versions stay until rewrapping is done. */
export function addKekVersion(file: KeyFile): KeyFile {
  const next = Math.max(...Object.keys(file.kek.versions).map(Number)) + 1;
  return {
    ...file,
    kek: {
      current: next,
      versions: { ...file.kek.versions, [String(next)]: randomBytes(32).toString('base64') },
    },
  };
}
