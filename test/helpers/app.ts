import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type App, type AppOptions, createApp } from '../../src/app/app.js';
import { buildHttp } from '../../src/app/serve.js';
import { loadConfig } from '../../src/config.js';
import type { DialectName } from '../../src/db/index.js';
import type { Clock } from '../../src/lib/clock.js';
import { generateKeyFile, type Keyring, keyringFromFile } from '../../src/lib/crypto/index.js';
import { createLogger } from '../../src/lib/log.js';
import { createTestDatabase, type TestDatabase } from './db.js';

/**
 * The whole service over a fresh test database (SQLite file or PostgreSQL schema), wired by the
 * real composition root, with an in-memory key file (or `keyring`, e.g. one loaded from a file for
 * worker threads) and an injectable clock. Nothing is mocked.
 */
export interface TestApp extends App {
  testDb: TestDatabase;
  destroy(): Promise<void>;
}

export async function createTestApp(
  dialect: DialectName,
  options: { clock?: Clock; app?: AppOptions; env?: Record<string, string>; keyring?: Keyring } = {},
): Promise<TestApp> {
  const testDb = await createTestDatabase(dialect);
  const dataDir = mkdtempSync(join(tmpdir(), 'custodian-app-'));
  const config = loadConfig({ dataDir, databaseUrl: testDb.url, logLevel: 'silent' }, options.env ?? {});
  const app = await createApp(
    {
      config,
      database: testDb,
      keyring: options.keyring ?? keyringFromFile(generateKeyFile()),
      clock: options.clock ?? { now: () => new Date() },
      logger: createLogger({ level: 'silent' }),
    },
    options.app,
  );
  return {
    ...app,
    testDb,
    async destroy() {
      await app.access.drain();
      await app.ledger.integrate();
      await testDb.destroy();
    },
  };
}

export { buildHttp };
