import { type Kysely, PostgresAdapter, sql, type Transaction } from 'kysely';

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

/**
 * Largest number of bind parameters one statement may carry: under each dialect's own limit
 * (SQLite 32,766; PostgreSQL 65,535 in its wire protocol), one figure for both so that a chunk has
 * the same size, and the same cached statement shape, on either.
 */
export const MAX_BIND_PARAMS = 30_000;

/**
 * The `i`-th (1-based) bind placeholder of a raw statement: `?` on SQLite, `$i` on PostgreSQL. The
 * one SQL difference the raw statements (src/db/bulk.ts, the ledger's repository) have.
 */
export function placeholder(d: DialectName, i: number): string {
  return d === 'sqlite' ? '?' : `$${i}`;
}

/** The dialect a Kysely instance or transaction talks to, from its adapter (no query compiled). */
export function dialectOfExecutor(db: Kysely<any> | Transaction<any>): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/**
 * SQL for an aggregate that concatenates, per group and in `orderBy` order, the entries
 * name-length(u8) ‖ name(UTF-8) ‖ value-length(u32, big-endian) ‖ value — the vault's entry-list
 * encoding (src/modules/vault/entries.ts). Used by the migration that folds per-field rows into
 * one row per subject; column names are the caller's own identifiers, never input.
 */
export function entryListAggregate(d: DialectName, name: string, value: string): string {
  if (d === 'sqlite')
    return (
      `unhex(group_concat(printf('%02X', length(CAST(${name} AS BLOB))) || hex(${name}) || ` +
      `printf('%08X', length(${value})) || hex(${value}), '' ORDER BY ${name}))`
    );
  return (
    `string_agg(decode(lpad(to_hex(octet_length(${name})), 2, '0'), 'hex') || convert_to(${name}, 'UTF8') || ` +
    `decode(lpad(to_hex(length(${value})), 8, '0'), 'hex') || ${value}, ''::bytea ORDER BY ${name})`
  );
}

/** Table options after the column list: SQLite stores a table keyed by its primary key as that B-tree. */
export function clusteredTableSuffix(d: DialectName): string {
  return d === 'sqlite' ? 'WITHOUT ROWID' : '';
}

/**
 * Locks the rows a SELECT reads until the transaction ends, where the dialect needs it: PostgreSQL
 * (`FOR UPDATE`) lets two transactions read a row at once; SQLite has one writer at a time, and its
 * write transactions are already serialised.
 */
export function lockForUpdate<QB extends { forUpdate(): QB }>(qb: QB, d: DialectName): QB {
  return d === 'postgres' ? qb.forUpdate() : qb;
}
