import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

export const name = '0008_four_eyes';

/**
 * Four-eyes requests of the actors module: creating an actor, or granting a role, whose policy
 * allows plain personal information waits here until a second administrator approves it.
 */
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('actor_requests')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text')
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('privileged_roles', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('requested_at', 'text', (c) => c.notNull())
    .addColumn('decided_by', 'text')
    .addColumn('decided_at', 'text')
    .addColumn('result_actor_id', 'text')
    .execute();
  await db.schema
    .createIndex('actor_requests_by_status')
    .on('actor_requests')
    .columns(['status', 'requested_at'])
    .execute();
}
