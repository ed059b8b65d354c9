import type { Kysely } from 'kysely';
import { createAppendOnlyTriggers, type DialectName, dialectTypes } from '../dialect.js';

export const name = '0014_incidents';

/**
 * Incidents (breach response): the register of every breach, notified or not (GDPR 33(5)); each
 * scope version (the criteria, the signed list of affected customers and the per-customer summary
 * taken from the access events); the legal clocks; notices drafted and delivered; actions taken;
 * and the timeline. No column holds personal information: customers appear by pseudonymous id, and
 * a delivery keeps the channel and the gateway's message id, never the address it went to.
 * Timeline and deliveries are append-only.
 */
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const t = dialectTypes(dialect);
  await db.schema
    .createTable('incidents')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('source_kind', 'text', (c) => c.notNull())
    .addColumn('source_ref', 'text')
    .addColumn('aware_by', 'text')
    .addColumn('aware_at', 'text', (c) => c.notNull())
    .addColumn('opened_by', 'text')
    .addColumn('opened_at', 'text', (c) => c.notNull())
    .addColumn('critical_infrastructure', 'integer', (c) => c.notNull())
    .addColumn('high_risk', 'integer', (c) => c.notNull())
    .addColumn('grade', 'text', (c) => c.notNull())
    .addColumn('grade_floor', 'text')
    .addColumn('affected_count', t.bigint, (c) => c.notNull())
    .addColumn('scope_version', 'integer', (c) => c.notNull())
    // JSON: categories, cause, harm, measures, advice, contact (PIPL 57; GDPR 33(3), 34(2)).
    .addColumn('facts', 'text', (c) => c.notNull())
    .addColumn('individuals_decision', 'text', (c) => c.notNull())
    .addColumn('no_notify_reason', 'text')
    .addColumn('handled_at', 'text')
    .addColumn('closed_at', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('incidents_by_opened').on('incidents').columns(['opened_at', 'id']).execute();

  await db.schema
    .createTable('incident_scopes')
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('change', 'text', (c) => c.notNull())
    .addColumn('criteria', 'text', (c) => c.notNull())
    .addColumn('affected_count', t.bigint, (c) => c.notNull())
    .addColumn('event_count', t.bigint, (c) => c.notNull())
    .addColumn('fields', 'text', (c) => c.notNull())
    .addColumn('views', 'text', (c) => c.notNull())
    .addColumn('list_sha256', 'text', (c) => c.notNull())
    .addColumn('ledger_size', t.bigint, (c) => c.notNull())
    .addColumn('signed_note', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addPrimaryKeyConstraint('incident_scopes_pk', ['incident_id', 'version'])
    .execute();

  await db.schema
    .createTable('incident_affected')
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('events', 'integer', (c) => c.notNull())
    .addColumn('first_at', 'text', (c) => c.notNull())
    .addColumn('last_at', 'text', (c) => c.notNull())
    .addColumn('fields', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_affected_pk', ['incident_id', 'version', 'subject_id'])
    .execute();

  await db.schema
    .createTable('incident_clocks')
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('due_at', 'text', (c) => c.notNull())
    .addColumn('warn_at', 'text', (c) => c.notNull())
    .addColumn('met_at', 'text')
    .addColumn('stopped_reason', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_clocks_pk', ['incident_id', 'name'])
    .execute();

  await db.schema
    .createTable('incident_notices')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('submitted_at', 'text')
    .execute();
  await db.schema
    .createIndex('incident_notices_by_incident')
    .on('incident_notices')
    .columns(['incident_id'])
    .execute();

  await db.schema
    .createTable('incident_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('notice_id', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('channel', 'text')
    .addColumn('message_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('leaf_hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('incident_deliveries_by_subject')
    .on('incident_deliveries')
    .columns(['subject_id', 'at'])
    .execute();
  await db.schema
    .createIndex('incident_deliveries_by_incident')
    .on('incident_deliveries')
    .columns(['incident_id', 'subject_id'])
    .execute();
  await createAppendOnlyTriggers(db, dialect, 'incident_deliveries');

  await db.schema
    .createTable('incident_actions')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('by', 'text')
    .execute();
  await createAppendOnlyTriggers(db, dialect, 'incident_actions');

  await db.schema
    .createTable('incident_timeline')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('actor', 'text')
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('leaf_hash', 'text', (c) => c.notNull())
    .addUniqueConstraint('incident_timeline_seq', ['incident_id', 'seq'])
    .execute();
  await createAppendOnlyTriggers(db, dialect, 'incident_timeline');
}
