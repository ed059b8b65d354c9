import type { Kysely } from 'kysely';
import { type DialectName, dialectTypes } from '../dialect.js';

/**
 * The rights module (subject portal, rights requests, complaints, incident notices) and the
 * per-subject completeness commitments over the ledger.
 *
 * - rights_codes: one-time codes (their HMAC only). A row is written for every login attempt, on
 *   file or not, so that rate limits apply per address too and the work done is the same.
 * - rights_sessions: subject sessions (HMAC of the token).
 * - rights_requests, rights_request_recipients: requests on a clock; the recipients a correction or
 *   deletion is passed on to (GDPR art. 19), each until it confirms.
 * - rights_complaints: complaints; free text is sealed (AES-GCM), like every PI at rest.
 * - rights_notices: notices to a subject (incident notices are written here by the incidents module).
 * - rights_subject_*: completeness. For each subject, the ledger indexes of his entries, a hash
 *   chain over them (count, head), 4096 buckets of heads folded into a map root, and a signed
 *   commitment per checkpoint. The chain table and the commitments are derived from the ledger and
 *   re-derivable from it; the commitments are append-only.
 */
export const name = '0012_rights';

export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const t = dialectTypes(dialect);

  await db.schema
    .createTable('rights_codes')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('subject_id', 'text')
    .addColumn('address_key', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('code_hash', t.blob, (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
  await db.schema
    .createIndex('rights_codes_by_address')
    .on('rights_codes')
    .columns(['address_key', 'created_at'])
    .execute();
  await db.schema
    .createIndex('rights_codes_by_subject')
    .on('rights_codes')
    .columns(['subject_id', 'created_at'])
    .execute();

  await db.schema
    .createTable('rights_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .execute();

  await db.schema
    .createTable('rights_requests')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('requester', 'text', (c) => c.notNull())
    .addColumn('filed_by', 'text')
    .addColumn('evidence_ref', 'text')
    .addColumn('details', t.blob)
    .addColumn('jurisdiction', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('assignee', 'text')
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('due_at', 'text', (c) => c.notNull())
    .addColumn('paused_at', 'text')
    .addColumn('paused_ms', t.bigint, (c) => c.notNull())
    .addColumn('extensions', 'integer', (c) => c.notNull())
    .addColumn('refusal_reason', 'text')
    .addColumn('outcome', t.blob)
    .addColumn('closed_at', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('rights_requests_by_subject')
    .on('rights_requests')
    .columns(['subject_id', 'received_at'])
    .execute();
  await db.schema
    .createIndex('rights_requests_by_due')
    .on('rights_requests')
    .columns(['status', 'due_at'])
    .execute();

  await db.schema
    .createTable('rights_request_recipients')
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('recipient_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('notified_at', 'text', (c) => c.notNull())
    .addColumn('confirmed_at', 'text')
    .addPrimaryKeyConstraint('rights_request_recipients_pk', ['request_id', 'recipient_id'])
    .execute();

  await db.schema
    .createTable('rights_complaints')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('filed_by', 'text', (c) => c.notNull())
    .addColumn('details', t.blob, (c) => c.notNull())
    .addColumn('links', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('assignee', 'text')
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('due_at', 'text', (c) => c.notNull())
    .addColumn('response', t.blob)
    .addColumn('responded_at', 'text')
    .addColumn('escalation', t.blob)
    .addColumn('escalated_at', 'text')
    .addColumn('closed_at', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('rights_complaints_by_subject')
    .on('rights_complaints')
    .columns(['subject_id', 'received_at'])
    .execute();
  await db.schema
    .createIndex('rights_complaints_by_due')
    .on('rights_complaints')
    .columns(['status', 'due_at'])
    .execute();

  await db.schema
    .createTable('rights_notices')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('ref', 'text')
    .addColumn('content', t.blob, (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('rights_notices_by_subject')
    .on('rights_notices')
    .columns(['subject_id', 'created_at'])
    .execute();

  await db.schema
    .createTable('rights_subject_entries')
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('idx', t.bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('rights_subject_entries_pk', ['subject_id', 'idx'])
    .execute();
  await db.schema
    .createTable('rights_subject_heads')
    .addColumn('subject_id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('bucket', 'integer', (c) => c.notNull())
    .addColumn('count', t.bigint, (c) => c.notNull())
    .addColumn('head', t.blob, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('rights_subject_heads_by_bucket')
    .on('rights_subject_heads')
    .columns(['bucket'])
    .execute();
  await db.schema
    .createTable('rights_subject_buckets')
    .addColumn('bucket', 'integer', (c) => c.primaryKey().notNull())
    .addColumn('hash', t.blob, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('rights_subject_commits')
    .addColumn('size', t.bigint, (c) => c.primaryKey().notNull())
    .addColumn('tree_root', t.blob, (c) => c.notNull())
    .addColumn('map_root', t.blob, (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull())
    .addColumn('checkpoint', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}
