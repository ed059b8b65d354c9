import { type Kysely, sql } from 'kysely';
import { clusteredTableSuffix, type DialectName, dialectTypes, entryListAggregate } from '../dialect.js';

/**
 * One row per subject (ADR 0004). The wrapped data key and every sealed field move into the
 * subject's own row: `sealed` holds the field ciphertexts (each still its own AES-256-GCM message
 * with the subject, field and key version as associated data) as an entry list, `lookup_keys` the
 * blind-index hashes the subject's row owns, so erasure and updates can remove exactly those index
 * entries without decrypting anything. The blind index becomes one B-tree keyed (field, hash,
 * subject_id): a lookup reads it alone, and an insert touches one tree instead of three.
 *
 * An import now writes 1 + (searchable fields) rows per subject instead of 11, and a read fetches
 * one row instead of a join and a range. Existing data moves in SQL; nothing is decrypted.
 */
export const name = '0007_vault_rows';

export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const { blob } = dialectTypes(dialect);
  for (const [column, type] of [
    ['kek_version', 'integer'],
    ['wrapped_key', blob],
    ['sealed', blob],
    ['lookup_keys', blob],
  ] as const) {
    await db.schema.alterTable('subjects').addColumn(column, type).execute();
  }

  // Keys: a subject without a key row was shredded.
  await sql
    .raw(
      `UPDATE subjects SET
         kek_version = (SELECT k.kek_version FROM subject_keys k WHERE k.subject_id = subjects.id),
         wrapped_key = (SELECT k.wrapped_key FROM subject_keys k WHERE k.subject_id = subjects.id)`,
    )
    .execute(db);
  await sql
    .raw(
      `UPDATE subjects SET sealed =
         (SELECT ${entryListAggregate(dialect, 'f.field', 'f.ciphertext')}
            FROM subject_fields f WHERE f.subject_id = subjects.id)
       WHERE wrapped_key IS NOT NULL`,
    )
    .execute(db);
  await sql
    .raw(
      `UPDATE subjects SET lookup_keys =
         (SELECT ${entryListAggregate(dialect, 'b.field', 'b.hash')}
            FROM blind_index b WHERE b.subject_id = subjects.id)
       WHERE wrapped_key IS NOT NULL`,
    )
    .execute(db);

  await sql
    .raw(
      `CREATE TABLE blind_index_v2 (
         field text NOT NULL,
         hash ${blob} NOT NULL,
         subject_id text NOT NULL,
         CONSTRAINT blind_index_entry PRIMARY KEY (field, hash, subject_id)
       ) ${clusteredTableSuffix(dialect)}`,
    )
    .execute(db);
  await sql
    .raw(
      `INSERT INTO blind_index_v2 (field, hash, subject_id)
         SELECT b.field, b.hash, b.subject_id FROM blind_index b
           JOIN subjects s ON s.id = b.subject_id WHERE s.wrapped_key IS NOT NULL`,
    )
    .execute(db);
  await db.schema.dropTable('blind_index').execute();
  await db.schema.alterTable('blind_index_v2').renameTo('blind_index').execute();
  await db.schema.dropTable('subject_fields').execute();
  await db.schema.dropTable('subject_keys').execute();
}
