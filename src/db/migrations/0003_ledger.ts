import { type Kysely, sql } from 'kysely';
import { createAppendOnlyTriggers, type DialectName, dialectTypes } from '../dialect.js';

/**
 * The ledger (RFC 9162 Merkle log stored as C2SP tlog tiles).
 *
 * - ledger_entries: one row per integrated entry (its canonical bytes), keyed by its index in the
 *   log. The leaf hashes live in the level-0 tiles, not here.
 * - ledger_tiles: insert-only. A tile (level, idx) that grows is written again as a new row with a
 *   larger width; readers take the widest row. An append therefore touches a constant number of rows
 *   and never updates one.
 * - ledger_leaf_index: finds an entry by its leaf hash. A B-tree over random 32-byte keys would cost
 *   a random page write per entry on every commit (SQLite writes whole pages to its WAL), several
 *   times the entry itself; instead, each completed epoch of 65536 entries is indexed once, as 256
 *   rows (one per first byte of the hash) of sorted (hash bytes 1–8, offset) records. Entries of the
 *   unfinished epoch are found by scanning its level-0 tiles.
 * - ledger_checkpoints: every signed checkpoint (C2SP signed note), keyed by tree size.
 * - ledger_pending: entries appended in callers' transactions, waiting for the sequencer. A queue,
 *   so rows leave it when integrated (in the same transaction that writes them to ledger_entries).
 * - ledger_state: one row (id = 1), the integrated size and root, advanced only by compare-and-swap
 *   so that two sequencers can never commit two different trees.
 *
 * Entries, tiles, the leaf index and checkpoints are append-only (triggers reject UPDATE, DELETE
 * and, on PostgreSQL, TRUNCATE); no foreign key points into them, so nothing cascades.
 */
export const name = '0003_ledger';

export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const t = dialectTypes(dialect);

  await db.schema
    .createTable('ledger_entries')
    .addColumn('idx', t.bigint, (c) => c.primaryKey().notNull())
    .addColumn('entry', t.blob, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('ledger_tiles')
    .addColumn('level', 'integer', (c) => c.notNull())
    .addColumn('idx', t.bigint, (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('hashes', t.blob, (c) => c.notNull())
    .addPrimaryKeyConstraint('ledger_tiles_pk', ['level', 'idx', 'width'])
    .execute();

  await db.schema
    .createTable('ledger_leaf_index')
    .addColumn('bucket', 'integer', (c) => c.notNull())
    .addColumn('epoch', t.bigint, (c) => c.notNull())
    .addColumn('data', t.blob, (c) => c.notNull())
    .addPrimaryKeyConstraint('ledger_leaf_index_pk', ['bucket', 'epoch'])
    .execute();
  await db.schema
    .createIndex('ledger_leaf_index_epoch')
    .on('ledger_leaf_index')
    .columns(['epoch', 'bucket'])
    .execute();

  await db.schema
    .createTable('ledger_checkpoints')
    .addColumn('size', t.bigint, (c) => c.primaryKey().notNull())
    .addColumn('root', t.blob, (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();

  // A monotonic queue position: SQLite AUTOINCREMENT never reuses a value, PostgreSQL bigserial is
  // a sequence. Both are plain integers to the code.
  await db.schema
    .createTable('ledger_pending')
    .addColumn('seq', dialect === 'sqlite' ? 'integer' : 'bigserial', (c) =>
      dialect === 'sqlite' ? c.primaryKey().autoIncrement().notNull() : c.primaryKey().notNull(),
    )
    .addColumn('leaf_hash', t.blob, (c) => c.notNull())
    .addColumn('entry', t.blob, (c) => c.notNull())
    .execute();

  // The state is a single row (id = 1), created by the ledger on first use.
  await db.schema
    .createTable('ledger_state')
    .addColumn('id', 'integer', (c) => c.primaryKey().notNull().check(sql`id = 1`))
    .addColumn('size', t.bigint, (c) => c.notNull())
    .addColumn('root', t.blob, (c) => c.notNull())
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();

  for (const table of ['ledger_entries', 'ledger_tiles', 'ledger_leaf_index', 'ledger_checkpoints']) {
    await createAppendOnlyTriggers(db, dialect, table);
  }
}
