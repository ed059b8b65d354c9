import type { Kysely } from 'kysely';
import { type DialectName, dialectTypes } from '../dialect.js';

/**
 * Actors (principals and their API keys), assignments (actor ↔ subject), policy versions, and the
 * policy engine's own state: distinct subjects read per actor, purpose and day (quotas), which
 * grants were used (access review), and approval requests.
 *
 * Booleans are not used (SQLite has none); flags are status text. Timestamps are ISO-8601 UTC text.
 */
export const name = '0002_actors_policy';

export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const t = dialectTypes(dialect);

  await db.schema
    .createTable('actors')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('kind', 'text', (c) => c.notNull())
    // JSON: an array of role names and an object of attribute strings.
    .addColumn('roles', 'text', (c) => c.notNull())
    .addColumn('attributes', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('disabled_at', t.timestamp)
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull().references('actors.id'))
    // SHA-256 of the whole token; the token itself is never stored.
    .addColumn('hash', t.blob, (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('expires_at', t.timestamp)
    .addColumn('revoked_at', t.timestamp)
    .execute();
  await db.schema.createIndex('api_keys_actor').on('api_keys').column('actor_id').execute();

  await db.schema
    .createTable('assignments')
    .addColumn('actor_id', 'text', (c) => c.notNull().references('actors.id'))
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('assigned_at', t.timestamp, (c) => c.notNull())
    .addColumn('assigned_by', 'text')
    .addColumn('expires_at', t.timestamp)
    // Removal keeps the row (who was assigned what, and until when, matters to a later trace).
    .addColumn('removed_at', t.timestamp)
    .addPrimaryKeyConstraint('assignments_pk', ['actor_id', 'subject_id'])
    .execute();
  await db.schema.createIndex('assignments_subject').on('assignments').column('subject_id').execute();

  await db.schema
    .createTable('policy_versions')
    .addColumn('seq', 'integer', (c) => c.primaryKey().notNull())
    // Not unique: re-loading an earlier text (a rollback) appends it again under its own version.
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    // The policy text itself: no personal information, kept so every version can be shown again.
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('loaded_at', t.timestamp, (c) => c.notNull())
    .addColumn('loaded_by', 'text')
    .execute();
  await db.schema.createIndex('policy_versions_version').on('policy_versions').column('version').execute();

  // One row per distinct subject an actor read for a purpose on a (policy-timezone) day.
  await db.schema
    .createTable('quota_usage')
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('first_at', t.timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('quota_usage_pk', ['actor_id', 'purpose', 'day', 'subject_id'])
    .execute();

  // The count of those rows, kept beside them so the quota check is one row and the increment a
  // conditional UPDATE (atomic on both dialects: two concurrent reads cannot both take the last slot).
  await db.schema
    .createTable('quota_counters')
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('used', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('quota_counters_pk', ['actor_id', 'purpose', 'day'])
    .execute();

  // Which (role, purpose, field, view) grants were used on which day, for the access review.
  await db.schema
    .createTable('grant_usage')
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('field', 'text', (c) => c.notNull())
    .addColumn('view', 'text', (c) => c.notNull())
    .addColumn('via', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('grant_usage_pk', ['role', 'purpose', 'field', 'view', 'via', 'day'])
    .execute();
  await db.schema.createIndex('grant_usage_day').on('grant_usage').column('day').execute();

  await db.schema
    .createTable('approvals')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull().references('actors.id'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('requested_subjects', 'integer')
    .addColumn('requested_hours', 'integer')
    // Free text from the requester; kept here, never copied into the ledger.
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('requested_at', t.timestamp, (c) => c.notNull())
    .addColumn('decided_by', 'text', (c) => c.references('actors.id'))
    .addColumn('decided_at', t.timestamp)
    .addColumn('expires_at', t.timestamp)
    .addColumn('remaining', 'integer')
    .execute();
  await db.schema
    .createIndex('approvals_requester')
    .on('approvals')
    .columns(['requested_by', 'purpose', 'status'])
    .execute();
  await db.schema.createIndex('approvals_status').on('approvals').column('status').execute();
}
