import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../dialect.js';

export const name = '0019_incident_affected_chunks';

/**
 * The affected customers of an incident scope as chunks of the signed list (ADR 0015, addendum of
 * 2026-12-06): one row per 1,000 customers whose `lines` column is that slice of the list, byte for
 * byte (`subject \t events \t first \t last \t fields \n`, in subject order). The chunks of a version,
 * concatenated in chunk order, are the list whose SHA-256 the scope's signed note carries.
 *
 * One row per customer (0014) made the insert the largest part of a scope on PostgreSQL (60,000 rows:
 * 0.8–1.0 s of 1.9 s, the primary key's B-tree and the WAL of 60,000 tuples); 60 rows cost nothing.
 * A scope's list is written once and read in order (pages, the notice batches, the deletion request),
 * never by customer, so nothing is lost.
 *
 * The rows of 0014 are carried over in SQL (the statement is fixed, whatever the data: ADR 0001), then
 * the table is dropped.
 */
const CHUNK_LINES = 1000;

export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('incident_affected_chunks')
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('chunk', 'integer', (c) => c.notNull())
    .addColumn('first_subject', 'text', (c) => c.notNull())
    .addColumn('last_subject', 'text', (c) => c.notNull())
    .addColumn('subjects', 'integer', (c) => c.notNull())
    .addColumn('lines', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_affected_chunks_pk', ['incident_id', 'version', 'chunk'])
    .execute();

  // The line of listLine() (incidents.service.ts), built in SQL from the 0014 columns; ids and the
  // list are ordered by code point, as JavaScript's sort() orders these ASCII ids.
  const carry =
    dialect === 'sqlite'
      ? sql`INSERT INTO incident_affected_chunks
              (incident_id, version, chunk, first_subject, last_subject, subjects, lines)
            SELECT incident_id, version, chunk, MIN(subject_id), MAX(subject_id), COUNT(*),
                   group_concat(line, '' ORDER BY subject_id)
            FROM (
              SELECT incident_id, version, subject_id,
                     (ROW_NUMBER() OVER (PARTITION BY incident_id, version ORDER BY subject_id) - 1)
                       / ${sql.lit(CHUNK_LINES)} AS chunk,
                     subject_id || char(9) || events || char(9) || first_at || char(9) || last_at
                       || char(9) || coalesce((SELECT group_concat(value, ',') FROM json_each(fields)), '')
                       || char(10) AS line
              FROM incident_affected
            ) t
            GROUP BY incident_id, version, chunk`
      : sql`INSERT INTO incident_affected_chunks
              (incident_id, version, chunk, first_subject, last_subject, subjects, lines)
            SELECT incident_id, version, chunk, MIN(subject_id COLLATE "C"), MAX(subject_id COLLATE "C"),
                   COUNT(*), string_agg(line, '' ORDER BY subject_id COLLATE "C")
            FROM (
              SELECT incident_id, version, subject_id,
                     (ROW_NUMBER() OVER (PARTITION BY incident_id, version ORDER BY subject_id COLLATE "C")
                       - 1) / ${sql.lit(CHUNK_LINES)} AS chunk,
                     subject_id || chr(9) || events::text || chr(9) || first_at || chr(9) || last_at
                       || chr(9)
                       || coalesce(array_to_string(ARRAY(SELECT json_array_elements_text(fields::json)), ','), '')
                       || chr(10) AS line
              FROM incident_affected
            ) t
            GROUP BY incident_id, version, chunk`;
  await carry.execute(db);
  await db.schema.dropTable('incident_affected').execute();
}
