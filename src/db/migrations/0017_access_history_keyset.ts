import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

export const name = '0017_access_history_keyset';

/**
 * A customer's access history pages by keyset (docs/web.md, "Paging"): `WHERE subject_id = ? AND
 * (at, id) < (cursor)` ordered by `at, id`. The index on (subject_id, at) left ties on `at` to a
 * sort; (subject_id, at, id) serves the page straight from the index in either direction, at any
 * depth, and covers every query the old index served, so it replaces it.
 */
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema
    .createIndex('access_events_by_subject_at_id')
    .on('access_events')
    .columns(['subject_id', 'at', 'id'])
    .execute();
  await db.schema.dropIndex('access_events_by_subject').execute();
}
