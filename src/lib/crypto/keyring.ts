import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
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

/**
 * Containers that manage file modes themselves (a secret mounted 0440 for a group the process is
 * in) set this to 1 to load a key file that others may read. Documented in docs/security.md.
 */
export const KEY_FILE_MODE_OVERRIDE_ENV = 'CUSTODIAN_ALLOW_SHARED_KEY_FILE';

export function readKeyFile(path: string, env: NodeJS.ProcessEnv = process.env): KeyFile {
  let raw: string;
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    throw new KeyFileError(
      `key file not readable: ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  if (mode & 0o077 && env[KEY_FILE_MODE_OVERRIDE_ENV] !== '1') {
    throw new KeyFileError(
      `key file ${path} is readable by group or others (mode ${mode.toString(8)}): chmod 600 it, or set ${KEY_FILE_MODE_OVERRIDE_ENV}=1 where the platform manages modes`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new KeyFileError(`key file ${path} is not JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const parsed = KeyFileSchema.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new KeyFileError(
      `key file ${path} is not valid: ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`,
    );
  }
  return parsed.data;
}

export function loadKeyring(path: string): Keyring {
  return keyringFromFile(readKeyFile(path), path);
}

/**
 * Atomic and durable write with mode 0600: the temporary file is fsynced before the rename and the
 * directory after it, so a power cut leaves either the old key file or the new one, never none
 * (losing it loses every customer's data).
 */
export function writeKeyFile(path: string, file: KeyFile): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(file, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
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
