import { dirname, resolve } from 'node:path';
import type { Config } from '../config.js';
import { type Database, migrate, openDatabase } from '../db/index.js';
import { type Clock, systemClock } from '../lib/clock.js';
import {
  generateKeyFile,
  type Keyring,
  keyFileExists,
  keyringFromFile,
  loadKeyring,
  writeKeyFile,
} from '../lib/crypto/index.js';
import { defineErrors } from '../lib/errors.js';
import { createLogger, type Logger } from '../lib/log.js';

export const appError = defineErrors({
  APP_NOT_INITIALISED: {
    status: 500,
    message: 'No key file: run `custodian init` first (or `npm start`, which does it for you).',
  },
  APP_KEY_FILE_EXISTS: { status: 409, message: 'A key file already exists; init will not overwrite keys.' },
  APP_UNSAFE_BIND: {
    status: 500,
    message: 'Refusing to listen beyond loopback without TLS: set CUSTODIAN_TLS_CERT and CUSTODIAN_TLS_KEY.',
  },
});

/** What every command and the server need before any module: config, database, keys, clock, log. */
export interface Infra {
  config: Config;
  database: Database;
  keyring: Keyring;
  clock: Clock;
  logger: Logger;
}

export interface InitResult {
  keyFile: string;
  created: boolean;
  database: string;
  migrationsApplied: string[];
}

/**
 * Creates the key file (mode 0600; never in the database) unless it exists, and migrates the
 * database. Keys are generated here and nowhere else: there are no default secrets.
 */
export async function initialise(
  config: Config,
  options: { requireNew?: boolean } = {},
): Promise<InitResult> {
  let created = false;
  if (keyFileExists(config.keyFile)) {
    if (options.requireNew) throw appError('APP_KEY_FILE_EXISTS');
  } else {
    writeKeyFile(config.keyFile, generateKeyFile());
    created = true;
  }
  const database = openDatabase(config.databaseUrl, {
    sqliteCacheMiB: config.sqliteCacheMiB,
    sqliteMmapMiB: config.sqliteMmapMiB,
    sqliteCheckpoint: config.sqliteCheckpoint,
  });
  try {
    const m = await migrate(database);
    return { keyFile: config.keyFile, created, database: database.description, migrationsApplied: m.applied };
  } finally {
    await database.close();
  }
}

export async function openInfra(
  config: Config,
  options: { clock?: Clock; logger?: Logger; keyring?: Keyring } = {},
): Promise<Infra> {
  let keyring = options.keyring;
  if (!keyring) {
    if (!keyFileExists(config.keyFile)) throw appError('APP_NOT_INITIALISED');
    keyring = loadKeyring(config.keyFile);
  }
  const database = openDatabase(config.databaseUrl, {
    sqliteCacheMiB: config.sqliteCacheMiB,
    sqliteMmapMiB: config.sqliteMmapMiB,
    sqliteCheckpoint: config.sqliteCheckpoint,
  });
  await migrate(database);
  return {
    config,
    database,
    keyring,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? createLogger({ level: config.logLevel }),
  };
}

/** For tests and tools that hold a key file in memory. */
export { keyringFromFile };

export function keyFileBesideDatabase(config: Config): boolean {
  if (!config.databaseUrl.startsWith('sqlite:') && config.databaseUrl.includes('://')) return false;
  const dbPath = resolve(config.databaseUrl.replace(/^sqlite:/, ''));
  return dirname(dbPath) === dirname(resolve(config.keyFile));
}
