import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { DialectName } from '../../src/db/index.js';
import { fixedClock } from '../../src/lib/clock.js';
import { generateKeyFile, type Keyring, keyringFromFile } from '../../src/lib/crypto/index.js';
import { createLedger, type Ledger } from '../../src/modules/ledger/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { ORIGIN } from './fixtures.js';

export { event, events, ORIGIN } from './fixtures.js';

export interface TestLedger {
  db: TestDatabase;
  ledger: Ledger;
  keyring: Keyring;
  clock: ReturnType<typeof fixedClock>;
}

export async function createTestLedger(
  dialect: DialectName,
  options: { keyring?: Keyring; batchSize?: number } = {},
): Promise<TestLedger> {
  const db = await createTestDatabase(dialect);
  const keyring = options.keyring ?? keyringFromFile(generateKeyFile());
  const clock = fixedClock('2024-03-01T08:00:00.000Z');
  const ledger = createLedger({
    db: db.db,
    dialect,
    keyring,
    origin: ORIGIN,
    clock,
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
  });
  return { db, ledger, keyring, clock };
}

/**
 * What an attacker with database access does first: drop the append-only triggers of a table.
 */
export async function dropAppendOnly(db: Kysely<any>, dialect: DialectName, table: string): Promise<void> {
  if (dialect === 'sqlite') {
    await sql.raw(`DROP TRIGGER IF EXISTS ${table}_no_update`).execute(db);
    await sql.raw(`DROP TRIGGER IF EXISTS ${table}_no_delete`).execute(db);
  } else {
    await sql.raw(`DROP TRIGGER IF EXISTS ${table}_append_only ON ${table}`).execute(db);
    await sql.raw(`DROP TRIGGER IF EXISTS ${table}_no_truncate ON ${table}`).execute(db);
  }
}

export const hexToBuf = (h: string) => Buffer.from(h, 'hex');
