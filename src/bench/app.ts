import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type App, createApp } from '../app/app.js';
import { loadConfig } from '../config.js';
import { type DialectName, type DiskUsage, diskUsage, openScratchDatabase } from '../db/index.js';
import { systemClock } from '../lib/clock.js';
import {
  generateKeyFile,
  type Keyring,
  keyringFromFile,
  loadKeyring,
  writeKeyFile,
} from '../lib/crypto/index.js';
import { createLogger } from '../lib/log.js';
import { defaultPolicyFile } from '../modules/policy/index.js';
import type { BenchContext } from './types.js';

export interface BenchApp {
  /** The whole service, wired by the real composition root, over a migrated scratch database. */
  app: App;
  /** The app's key file, for suites that fill tables directly (blind-index hashes under its index key). */
  keyring: Keyring;
  /** Bytes the scratch database takes on disk now (src/db/size.ts: SQLite after a checkpoint). */
  disk(): Promise<DiskUsage>;
  destroy(): Promise<void>;
}

/**
 * The service as a suite measures it: a scratch database (a SQLite file, or a PostgreSQL schema of
 * its own), a fresh key file in memory (or, with `keyFile`, in the scratch data directory, removed
 * with it), the system clock and a silent logger.
 */
export async function openBenchApp(
  ctx: BenchContext,
  dialect: DialectName,
  options: { prefix: string; poolSize?: number; env?: Record<string, string>; keyFile?: boolean },
): Promise<BenchApp> {
  const scratch = await openScratchDatabase(dialect, {
    postgresUrl: ctx.postgresUrl,
    prefix: options.prefix,
    ...(options.poolSize ? { poolSize: options.poolSize } : {}),
    // As the service runs (CUSTODIAN_SQLITE_CHECKPOINT, default worker); the variable selects the other for an A/B.
    sqliteCheckpoint: process.env.CUSTODIAN_SQLITE_CHECKPOINT === 'inline' ? 'inline' : 'worker',
  });
  const dataDir = mkdtempSync(join(tmpdir(), `custodian-${options.prefix}-`));
  const config = loadConfig({ dataDir, databaseUrl: scratch.url, logLevel: 'silent' }, options.env ?? {});
  // A suite that runs the vault's worker threads needs the keys in a file (workers read it).
  let keyring: Keyring;
  if (options.keyFile) {
    const path = join(dataDir, 'bench.keys.json');
    writeKeyFile(path, generateKeyFile());
    keyring = loadKeyring(path);
  } else keyring = keyringFromFile(generateKeyFile());
  const app = await createApp({
    config,
    database: scratch.database,
    keyring,
    clock: systemClock,
    logger: createLogger({ level: 'silent' }),
  });
  return {
    app,
    keyring,
    disk: () => diskUsage(scratch.database, { sqliteFile: scratch.file, schema: scratch.schema }),
    async destroy() {
      await app.close();
      await scratch.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The guarded policy as a benchmark reads under it: detection's ladder only alerts (a benchmark's
 * reader is a firehose by design and must not suspend itself), plus one grant for the benchmark's
 * service actor `bench_reader` (billing: name plain, email masked; no assignment, no quota).
 */
export function benchPolicy(version: string): string {
  const guarded = readFileSync(defaultPolicyFile(), 'utf8')
    .replace(/version: "[^"]*"/, `version: "${version}"`)
    .replace(/medium: approval/, 'medium: alert')
    .replace(/high: suspend/, 'high: alert');
  const grant = `grants:
  - role: bench_reader
    purpose: billing
    description: The benchmark's service actor.
    fields:
      name: plain
      email: masked
    assignment: false
`;
  if (!/^grants:\n/m.test(guarded)) throw new Error('the default policy has no grants: section');
  return guarded.replace(/^grants:\n/m, grant);
}
