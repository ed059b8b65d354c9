import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

export const name = '0010_detect_anomaly';

/**
 * Anomaly detection: alerts gain a lifecycle (assignment, verdict with reason, evidence), actors
 * can be suspended (checked by the read path in the decision's transaction), detectors can be
 * suppressed for an actor until a date (investigator feedback), and per-day per-actor counts keep
 * the baselines (30 days own and peer group) and the explained-read share across restarts.
 */
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  for (const col of ['detector', 'assignee', 'reason', 'updated_at', 'evidence'])
    await db.schema.alterTable('alerts').addColumn(col, 'text').execute();
  await db.schema.createIndex('alerts_by_status').on('alerts').columns(['status', 'created_at']).execute();

  await db.schema
    .createTable('detect_suspensions')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    /** suspend: every read refused; approval: reads need an approval. */
    .addColumn('mode', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('alert_id', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('lifted_by', 'text')
    .addColumn('lifted_at', 'text')
    .addColumn('lift_reason', 'text')
    .execute();
  await db.schema
    .createIndex('detect_suspensions_active')
    .on('detect_suspensions')
    .columns(['actor_id', 'status'])
    .execute();

  await db.schema
    .createTable('detect_suppressions')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('detector', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('alert_id', 'text')
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('detect_suppressions_by_actor')
    .on('detect_suppressions')
    .columns(['actor_id', 'expires_at'])
    .execute();

  await db.schema
    .createTable('detect_daily')
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('reads', 'integer', (c) => c.notNull())
    .addColumn('explained', 'integer', (c) => c.notNull())
    .addColumn('subjects', 'integer', (c) => c.notNull())
    .addColumn('unexplained_subjects', 'integer', (c) => c.notNull())
    .addColumn('off_hours', 'integer', (c) => c.notNull())
    .addColumn('denied', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('detect_daily_pk', ['day', 'actor_id'])
    .execute();
}
