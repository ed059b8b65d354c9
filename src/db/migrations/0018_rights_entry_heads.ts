import type { Kysely } from 'kysely';
import { type DialectName, dialectTypes } from '../dialect.js';

export const name = '0018_rights_entry_heads';

/**
 * The paged portal history (docs/rights.md, "Paging"; ADR 0013, addendum): the per-subject chain
 * head after each of a subject's entries, keyed by (subject, position) — position 1 is his oldest
 * entry. A page of his history, newest first, carries the head before its oldest entry (the row at
 * position `from - 1`), so the page verifies on its own: that head, chained over the page's entries,
 * must give the committed head (newest page) or the previous page's starting head (older pages).
 *
 * Derived from the ledger like the other rights_subject_* tables: written by the committer with the
 * chain, and backfilled by it for subjects committed before this migration (migrations are
 * schema-only, ADR 0001).
 */
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const t = dialectTypes(dialect);
  await db.schema
    .createTable('rights_entry_heads')
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('pos', t.bigint, (c) => c.notNull())
    .addColumn('idx', t.bigint, (c) => c.notNull())
    .addColumn('head', t.blob, (c) => c.notNull())
    .addPrimaryKeyConstraint('rights_entry_heads_pk', ['subject_id', 'pos'])
    .execute();
}
