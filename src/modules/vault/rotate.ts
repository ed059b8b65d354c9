import {
  addKekVersion,
  type KeyFile,
  keyringFromFile,
  readKeyFile,
  wrapDataKey,
  writeKeyFile,
} from '../../lib/crypto/index.js';
import { vaultError } from './vault.errors.js';
import * as repo from './vault.repo.js';
import { coreOf, recordEvents, unwrapFor, type Vault, type VaultCore } from './vault.service.js';

/**
 * KEK rotation while reads go on.
 *
 * 1. A new KEK version is added to the key file and made current (atomic rename). From then on
 *    every process wraps new data keys under it (writers notice the file changed) and any process
 *    that meets a key row under it reloads the file (KeyState).
 * 2. Data keys are rewrapped in batches, each in its own short transaction, by compare-and-set on
 *    the version read, so a key erased meanwhile stays erased. The data key itself does not change,
 *    so ciphertexts are untouched and a read holding either version of the row succeeds.
 * 3. Only when no key row names an older version are the older versions retired from the key
 *    file (the point of rotating is that the old KEK stops mattering). Then one more sweep, with the
 *    old KEKs still in this process's memory, catches a key wrapped by a writer that had not yet
 *    seen the new file. With `retire: false` old versions stay in the file.
 *
 * Consequence of retiring: a database backup taken before the rotation needs the key file backed
 * up at the same time. Run one rotation at a time.
 */
export interface RotateOptions {
  /** Keys per transaction (default 1,000). */
  batchSize?: number;
  onProgress?: (p: { done: number; total: number }) => void;
  /** Remove older KEK versions from the key file once nothing uses them (default true). */
  retire?: boolean;
  by?: string | null;
}

export interface RotateResult {
  /** The versions data keys were wrapped under before. */
  from: number[];
  to: number;
  rewrapped: number;
  retired: number[];
}

export async function rotateKeys(vault: Vault, options: RotateOptions = {}): Promise<RotateResult> {
  const core = coreOf(vault);
  const path = core.keys.path;
  if (!path) throw vaultError('KEYS_NO_KEY_FILE');
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? 1000));

  const next = addKekVersion(readKeyFile(path));
  writeKeyFile(path, next);
  const ring = keyringFromFile(next, path);
  core.keys.adopt(ring);
  const target = next.kek.current;

  const before = await repo.countKeysByVersion(core.db);
  const from = [...before.keys()].filter((v) => v < target).sort((a, b) => a - b);
  const total = from.reduce((n, v) => n + (before.get(v) ?? 0), 0);
  let done = 0;
  let failures = 0;
  const progress = (): void => options.onProgress?.({ done, total });
  progress();

  const sweep = async (): Promise<number> => {
    let after = '';
    for (;;) {
      const rows = await repo.keysAfter(core.db, after, target, batchSize);
      if (rows.length === 0) return remainingBelow(core, target);
      await core.db.transaction().execute(async (trx) => {
        for (const r of rows) {
          let dataKey: Buffer;
          try {
            dataKey = unwrapFor(core, r.subject_id, r.kek_version, r.wrapped_key);
          } catch {
            failures++;
            continue;
          }
          const w = wrapDataKey(ring, r.subject_id, dataKey);
          dataKey.fill(0);
          if (await repo.rewrapKey(trx, r.subject_id, r.kek_version, w.kekVersion, w.wrapped)) done++;
        }
      });
      after = rows[rows.length - 1]!.subject_id;
      progress();
    }
  };

  // A second pass picks up keys a writer with a stale key file added during the first.
  let remaining = await sweep();
  if (remaining > 0 && failures === 0) remaining = await sweep();
  if (failures > 0)
    throw vaultError('KEYS_UNWRAP_FAILED', { details: { count: failures, kekVersion: target } });
  if (remaining > 0)
    throw vaultError('KEYS_ROTATION_INCOMPLETE', { details: { count: remaining, kekVersion: target } });

  let retired: number[] = [];
  if (options.retire ?? true) {
    retired = Object.keys(next.kek.versions)
      .map(Number)
      .filter((v) => v !== target)
      .sort((a, b) => a - b);
    if (retired.length > 0) {
      const only: KeyFile = {
        ...next,
        kek: { current: target, versions: { [String(target)]: next.kek.versions[String(target)]! } },
      };
      writeKeyFile(path, only);
      core.keys.adopt(keyringFromFile(only, path));
      remaining = await sweep();
      if (failures > 0 || remaining > 0) {
        // Put the old versions back rather than strand a key: the file is what other processes read.
        writeKeyFile(path, next);
        core.keys.adopt(keyringFromFile(next, path));
        throw vaultError('KEYS_ROTATION_INCOMPLETE', {
          details: { count: remaining + failures, kekVersion: target },
        });
      }
    }
  }

  await core.db.transaction().execute((trx) =>
    recordEvents(trx, core, [
      {
        kind: 'keys.rotated',
        actor: options.by ?? null,
        attrs: { from: from.map(String), to: target, rewrapped: done, retired: retired.map(String) },
      },
    ]),
  );
  return { from, to: target, rewrapped: done, retired };
}

async function remainingBelow(core: VaultCore, target: number): Promise<number> {
  const counts = await repo.countKeysByVersion(core.db);
  let n = 0;
  for (const [v, c] of counts) if (v < target) n += c;
  return n;
}

/** Key rows per KEK version, e.g. to check that a rotation reached every subject. */
export async function keyVersionCounts(vault: Vault): Promise<Map<number, number>> {
  return repo.countKeysByVersion(coreOf(vault).db);
}
