import type { Kysely } from 'kysely';
import { type DialectName, dialectTypes } from '../dialect.js';

/**
 * Consent and disclosure: notices (the texts people were shown), consent records, third-party
 * recipients, disclosures and one row per disclosed subject, canaries (synthetic subjects whose
 * contact points the organisation monitors), canary trips, and the outbox of deletion notices sent
 * to recipients after a withdrawal.
 *
 * Flags are integers 0/1 (SQLite has no boolean). Timestamps are ISO-8601 UTC text. No column here
 * holds a customer's personal information: subjects appear by pseudonymous id, canary contact
 * points as keyed hashes (HMAC-SHA-256), never in clear.
 */
export const name = '0005_consent_disclosure';

export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const t = dialectTypes(dialect);

  // PIPL art. 17: the notice shown before consent; its SHA-256 is kept with every consent.
  await db.schema
    .createTable('notices')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('language', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    // JSON: what the notice declares (processor, purposes, methods, categories, retention, rights,
    // and for provision to a third party the recipient block of art. 23).
    .addColumn('declarations', 'text', (c) => c.notNull())
    .addColumn('recipient_id', 'text')
    .addColumn('published_at', t.timestamp, (c) => c.notNull())
    .addColumn('published_by', 'text')
    .addUniqueConstraint('notices_key_version', ['key', 'version'])
    .execute();

  await db.schema
    .createTable('consents')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('recipient_id', 'text')
    // JSON array of field names the consent covers.
    .addColumn('fields', 'text', (c) => c.notNull())
    .addColumn('notice_id', 'text', (c) => c.notNull().references('notices.id'))
    .addColumn('notice_sha256', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('given_by', 'text', (c) => c.notNull())
    .addColumn('given_at', t.timestamp, (c) => c.notNull())
    .addColumn('expires_at', t.timestamp)
    .addColumn('withdrawn_at', t.timestamp)
    .addColumn('withdrawal_method', 'text')
    .addColumn('withdrawn_by', 'text')
    .addColumn('sep_sensitive', 'integer', (c) => c.notNull())
    .addColumn('sep_third_party', 'integer', (c) => c.notNull())
    .addColumn('sep_cross_border', 'integer', (c) => c.notNull())
    .addColumn('evidence_ref', 'text')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('import_id', 'text')
    .addColumn('recorded_at', t.timestamp, (c) => c.notNull())
    .addColumn('recorded_by', 'text')
    .execute();
  // The consent check (point and batch): equality on purpose and recipient, then subject.
  await db.schema
    .createIndex('consents_check')
    .on('consents')
    .columns(['purpose', 'recipient_id', 'subject_id'])
    .execute();
  await db.schema
    .createIndex('consents_subject')
    .on('consents')
    .columns(['subject_id', 'given_at'])
    .execute();

  await db.schema
    .createTable('recipients')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('contact', 'text', (c) => c.notNull())
    .addColumn('jurisdiction', 'text', (c) => c.notNull())
    .addColumn('purposes', 'text', (c) => c.notNull())
    .addColumn('contract_ref', 'text', (c) => c.notNull())
    .addColumn('retention_days', 'integer', (c) => c.notNull())
    .addColumn('pia_ref', 'text')
    .addColumn('pia_at', t.timestamp)
    .addColumn('transfer_mechanism', 'text')
    .addColumn('transfer_ref', 'text')
    .addColumn('transfer_valid_until', t.timestamp)
    .addColumn('actor_id', 'text')
    .addColumn('webhook_url', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('updated_at', t.timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('recipients_actor').on('recipients').column('actor_id').execute();

  await db.schema
    .createTable('disclosures')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('recipient_id', 'text', (c) => c.notNull().references('recipients.id'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('basis', 'text', (c) => c.notNull())
    .addColumn('fields', 'text', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('jurisdiction', 'text', (c) => c.notNull())
    .addColumn('cross_border', 'integer', (c) => c.notNull())
    .addColumn('requested_count', 'integer', (c) => c.notNull())
    .addColumn('subject_count', 'integer', (c) => c.notNull())
    .addColumn('excluded_count', 'integer', (c) => c.notNull())
    .addColumn('withheld_count', 'integer', (c) => c.notNull())
    .addColumn('canary_count', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('content_sha256', 'text')
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('delivered_at', t.timestamp)
    .execute();
  await db.schema
    .createIndex('disclosures_recipient')
    .on('disclosures')
    .columns(['recipient_id', 'created_at'])
    .execute();

  // One row per subject (and canary) in a disclosure. delivered_at is null until the data left:
  // at once for a file export, at pick-up for an API delivery.
  await db.schema
    .createTable('disclosure_items')
    .addColumn('disclosure_id', 'text', (c) => c.notNull().references('disclosures.id'))
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('delivered_at', t.timestamp)
    .addPrimaryKeyConstraint('disclosure_items_pk', ['disclosure_id', 'subject_id'])
    .execute();
  await db.schema
    .createIndex('disclosure_items_subject')
    .on('disclosure_items')
    .column('subject_id')
    .execute();

  await db.schema
    .createTable('canaries')
    .addColumn('subject_id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('pool', 'text', (c) => c.notNull())
    // 'disclosure' (one export) or 'actor' (one portfolio).
    .addColumn('unique_to_kind', 'text', (c) => c.notNull())
    .addColumn('unique_to_id', 'text', (c) => c.notNull())
    .addColumn('recipient_id', 'text')
    // HMAC-SHA-256 of the normalised monitored contact points: a trip is matched without the
    // number or address ever being stored in clear.
    .addColumn('mobile_hash', t.blob, (c) => c.notNull().unique())
    .addColumn('email_hash', t.blob, (c) => c.notNull().unique())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('trip_count', 'integer', (c) => c.notNull())
    .addColumn('last_tripped_at', t.timestamp)
    .addUniqueConstraint('canaries_pool_seq', ['pool', 'seq'])
    .execute();
  await db.schema
    .createIndex('canaries_unique_to')
    .on('canaries')
    .columns(['unique_to_kind', 'unique_to_id'])
    .execute();

  await db.schema
    .createTable('canary_counters')
    .addColumn('pool', 'text', (c) => c.primaryKey().notNull())
    .addColumn('next_seq', 'integer', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('canary_trips')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('occurred_at', t.timestamp, (c) => c.notNull())
    .addColumn('received_at', t.timestamp, (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('contact_kind', 'text', (c) => c.notNull())
    .addColumn('contact_hash', t.blob, (c) => c.notNull())
    .addColumn('caller_hash', t.blob)
    .addColumn('matched', 'integer', (c) => c.notNull())
    .addColumn('canary_subject_id', 'text')
    .addColumn('alert_id', 'text')
    .addColumn('reported_by', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('canary_trips_time').on('canary_trips').columns(['received_at']).execute();

  // PIPL art. 47 / GDPR art. 19: after a withdrawal every recipient that received the subject is
  // told to delete; the outbox keeps the notice until it is delivered.
  await db.schema
    .createTable('deletion_notices')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('recipient_id', 'text', (c) => c.notNull().references('recipients.id'))
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .addColumn('last_attempt_at', t.timestamp)
    .addColumn('delivered_at', t.timestamp)
    .addColumn('last_error', 'text')
    .execute();
  await db.schema
    .createIndex('deletion_notices_status')
    .on('deletion_notices')
    .columns(['status', 'created_at'])
    .execute();
  await db.schema
    .createIndex('deletion_notices_recipient')
    .on('deletion_notices')
    .columns(['recipient_id', 'created_at'])
    .execute();
}
