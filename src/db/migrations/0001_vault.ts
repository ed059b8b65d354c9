import type { Kysely } from 'kysely';
import { type DialectName, dialectTypes } from '../dialect.js';

/**
 * The vault: subjects, their wrapped data keys, sealed field values and blind indexes. No column
 * holds plaintext PI and no key is stored here (DESIGN principle 1).
 *
 * subject_keys is deliberately not append-only: erasure deletes a subject's row (crypto-shredding)
 * and rotation rewrites it. Rotation walks subject_keys in primary-key order, so kek_version needs
 * no index of its own.
 *
 * No foreign keys (and so no cascades): every row of the three child tables is written by the vault
 * in the same transaction as its subject and removed explicitly, and on PostgreSQL the per-row
 * foreign-key triggers cost about a third of a bulk import (10 checked rows per subject).
 */
export const name = '0001_vault';

export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const { blob, timestamp } = dialectTypes(dialect);

  await db.schema
    .createTable('subjects')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('external_id', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .addColumn('erased_at', timestamp)
    .addColumn('fingerprint', blob)
    .execute();

  await db.schema
    .createTable('subject_keys')
    .addColumn('subject_id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('kek_version', 'integer', (c) => c.notNull())
    .addColumn('wrapped_key', blob, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('subject_fields')
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('field', 'text', (c) => c.notNull())
    .addColumn('ciphertext', blob, (c) => c.notNull())
    .addPrimaryKeyConstraint('subject_fields_pk', ['subject_id', 'field'])
    .execute();

  await db.schema
    .createTable('blind_index')
    .addColumn('field', 'text', (c) => c.notNull())
    .addColumn('hash', blob, (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('blind_index_pk', ['subject_id', 'field'])
    .execute();
  // Covering: a lookup reads the subject id from the index without touching the table.
  await db.schema
    .createIndex('blind_index_lookup')
    .on('blind_index')
    .columns(['field', 'hash', 'subject_id'])
    .execute();
}
