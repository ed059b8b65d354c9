import { type Kysely, sql } from 'kysely';

/**
 * Every difference between SQLite and PostgreSQL lives in this file: column types, the
 * append-only triggers, and anything else a repository would otherwise branch on.
 */
export type DialectName = 'sqlite' | 'postgres';

export interface DialectTypes {
  /** Opaque bytes: ciphertexts, hashes, ledger entries. */
  blob: 'blob' | 'bytea';
  /** 64-bit integer. */
  bigint: 'integer' | 'bigint';
  /** Timestamps are stored as ISO-8601 text in UTC on both dialects, so encodings never differ. */
  timestamp: 'text';
}

export function dialectTypes(d: DialectName): DialectTypes {
  return d === 'sqlite'
    ? { blob: 'blob', bigint: 'integer', timestamp: 'text' }
    : { blob: 'bytea', bigint: 'bigint', timestamp: 'text' };
}

/**
 * Rejects UPDATE and DELETE on an append-only table (ledger, access events). The code has no such
 * path; the trigger keeps a script, an operator or a bug from adding one quietly.
 */
export async function createAppendOnlyTriggers(
  db: Kysely<any>,
  d: DialectName,
  table: string,
): Promise<void> {
  if (d === 'sqlite') {
    for (const op of ['UPDATE', 'DELETE']) {
      await sql
        .raw(
          `CREATE TRIGGER ${table}_no_${op.toLowerCase()} BEFORE ${op} ON ${table} ` +
            `BEGIN SELECT RAISE(ABORT, 'custodian: ${table} is append-only'); END`,
        )
        .execute(db);
    }
    return;
  }
  await sql
    .raw(
      `CREATE OR REPLACE FUNCTION custodian_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'custodian: % is append-only', TG_TABLE_NAME; END $$`,
    )
    .execute(db);
  await sql
    .raw(
      `CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table} ` +
        `FOR EACH ROW EXECUTE FUNCTION custodian_reject_change()`,
    )
    .execute(db);
  // TRUNCATE bypasses row triggers on PostgreSQL; reject it too.
  await sql
    .raw(
      `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} ` +
        `FOR EACH STATEMENT EXECUTE FUNCTION custodian_reject_change()`,
    )
    .execute(db);
}

/** True when a driver error is a unique-constraint violation. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return (
    err?.code === '23505' ||
    err?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/** Bytes read from either driver, as a Buffer. */
export function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new Error('expected bytes');
}

/** Largest number of bind parameters one statement may carry on either dialect (SQLite: 32766). */
export const MAX_BIND_PARAMS = 30_000;
