/**
 * Child process for the crash test (test/ledger/crash.test.ts): appends as fast as it can, half the
 * time through appendBatch, half through append() in its own transaction with the sequencer
 * integrating behind it, and prints the leaf hashes of every batch only after its commit returned.
 * The parent kills it with SIGKILL at a random moment.
 *
 * Environment: CRASH_DB_URL, CRASH_SCHEMA (PostgreSQL), CRASH_KEY_FILE, CRASH_RUN, CRASH_SEED.
 */
import { createInterface } from 'node:readline';
import { openDatabase } from '../../src/db/database.js';
import { systemClock } from '../../src/lib/clock.js';
import { loadKeyring } from '../../src/lib/crypto/index.js';
import { createLedger } from '../../src/modules/ledger/ledger.service.js';
import { events, ORIGIN } from './fixtures.js';

const env = (k: string): string => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};

const out = (line: string) => process.stdout.write(`${line}\n`);

// Load everything first, then wait for the parent's go, so loading overlaps the parent's checks.
out('loaded');
await new Promise<void>((resolve) => {
  const rl = createInterface({ input: process.stdin });
  rl.once('line', () => {
    rl.close();
    resolve();
  });
});

const schema = process.env.CRASH_SCHEMA;
const database = openDatabase(env('CRASH_DB_URL'), schema ? { schema, poolSize: 3 } : {});
const ledger = createLedger({
  db: database.db,
  dialect: database.dialect,
  keyring: loadKeyring(env('CRASH_KEY_FILE')),
  origin: ORIGIN,
  clock: systemClock,
  batchSize: 64,
});
ledger.startSequencer({ intervalMs: 5, checkpointIntervalMs: 25 });

let seed = Number(env('CRASH_SEED')) >>> 0 || 1;
const rand = () => {
  // xorshift32: a reproducible sequence of batch sizes per run.
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 2 ** 32;
};
const run = `c${env('CRASH_RUN')}`;
let n = 0;
for (let k = 0; ; k++) {
  const batch = events(n, 1 + Math.floor(rand() * 80), run);
  n += batch.length;
  if (k % 2 === 0) {
    const r = await ledger.appendBatch(batch);
    out(`ack ${r.leafHashes.join(',')}`);
  } else {
    const hashes = await database.db.transaction().execute((trx) => ledger.append(trx, batch));
    out(`ack ${hashes.join(',')}`);
  }
}
