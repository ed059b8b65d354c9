import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

export const name = '0006_detect';

export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('alerts')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('subject_id', 'text')
    .addColumn('attrs', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('closed_at', 'text')
    .execute();
  await db.schema.createIndex('alerts_by_time').on('alerts').columns(['created_at']).execute();
  await db.schema.createIndex('alerts_by_actor').on('alerts').columns(['actor_id', 'created_at']).execute();
}
