import type { Kysely } from 'kysely';
import { createAppendOnlyTriggers, type DialectName } from '../dialect.js';

export const name = '0004_access';

/**
 * Access events: one row per decision (allowed or denied), written in the same transaction as the
 * read and its ledger entry. Append-only. Indexed by (subject, time) for the subject's history and
 * the complaint investigation, and by (actor, time) for detection and incident scoping.
 */
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('access_events')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('fields', 'text', (c) => c.notNull())
    .addColumn('views', 'text', (c) => c.notNull())
    .addColumn('allowed', 'integer', (c) => c.notNull())
    .addColumn('reasons', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text')
    .addColumn('leaf_hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('access_events_by_subject')
    .on('access_events')
    .columns(['subject_id', 'at'])
    .execute();
  await db.schema
    .createIndex('access_events_by_actor')
    .on('access_events')
    .columns(['actor_id', 'at'])
    .execute();
  await createAppendOnlyTriggers(db, dialect, 'access_events');
}
