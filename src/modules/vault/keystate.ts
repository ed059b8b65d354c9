import { statSync } from 'node:fs';
import { type Keyring, loadKeyring } from '../../lib/crypto/index.js';
import { vaultError } from './vault.errors.js';

/**
 * The keyrings one process knows. Rotation (in this process or another) adds a KEK version to the
 * key file and rewraps data keys while reads go on, so:
 * - a read that meets a key row wrapped under a version this process has not seen reloads the key
 *   file (written atomically: the old or the new file, never half of one) and retries;
 * - writers re-read the file when it changed on disk, so new subjects get the current version;
 * - versions once seen stay known in memory after the file retires them, so a read that began
 *   on an older snapshot of a key row still unwraps it.
 */
export class KeyState {
  private rings: Keyring[];
  private stamp: string | undefined;

  constructor(keyring: Keyring) {
    this.rings = [keyring];
    this.stamp = keyring.path ? fileStamp(keyring.path) : undefined;
  }

  get path(): string | undefined {
    return this.rings[0]!.path;
  }

  /** The keyring that wraps new data keys: reloaded first when the key file changed on disk. */
  current(): Keyring {
    this.refresh(false);
    return this.rings[0]!;
  }

  /** A keyring holding KEK `version`, reloading the key file once if none does. */
  forVersion(version: number): Keyring {
    let ring = this.find(version);
    if (!ring && this.refresh(true)) ring = this.find(version);
    if (!ring) throw vaultError('VAULT_KEY_UNAVAILABLE', { details: { kekVersion: version } });
    return ring;
  }

  /** After this process rewrote the key file itself. */
  adopt(keyring: Keyring): void {
    this.rings = [keyring, ...this.rings.filter((r) => r !== keyring)];
    this.stamp = keyring.path ? fileStamp(keyring.path) : undefined;
  }

  private find(version: number): Keyring | undefined {
    for (const r of this.rings) if (r.kekVersions().includes(version)) return r;
    return undefined;
  }

  private refresh(force: boolean): boolean {
    const path = this.path;
    if (!path) return false;
    const stamp = fileStamp(path);
    if (!force && stamp === this.stamp) return false;
    if (stamp === undefined) return false;
    const fresh = loadKeyring(path);
    this.rings = [fresh, ...this.rings];
    // Keep a bounded history: enough for any read that overlapped a rotation.
    if (this.rings.length > 8) this.rings.length = 8;
    this.stamp = stamp;
    return true;
  }
}

function fileStamp(path: string): string | undefined {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return undefined;
  }
}
