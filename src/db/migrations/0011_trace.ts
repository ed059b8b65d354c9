import type { Kysely } from 'kysely';
import { type DialectName, dialectTypes } from '../dialect.js';

export const name = '0011_trace';

/**
 * Trace runs: who ran a trace, on what (the uploaded file sealed under a key derived from the key
 * file, erased after the retention period), and the ranked result (pseudonymous ids, counts and
 * ledger handles only: no PI).
 */
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const t = dialectTypes(dialect);
  await db.schema
    .createTable('trace_runs')
    .addColumn('id', 'text', (c) => c.primaryKey().notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('inputs', 'text', (c) => c.notNull())
    .addColumn('input_format', 'text')
    .addColumn('input_bytes', 'integer', (c) => c.notNull())
    .addColumn('input_sealed', t.blob)
    .addColumn('erase_after', 'text', (c) => c.notNull())
    .addColumn('erased_at', 'text')
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('result', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('trace_runs_by_time').on('trace_runs').columns(['created_at']).execute();
  await db.schema.createIndex('trace_runs_erase').on('trace_runs').columns(['erase_after']).execute();
}
