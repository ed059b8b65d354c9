import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import { type DialectName, dialectOfExecutor, MAX_BIND_PARAMS, placeholder } from './dialect.js';

/*
 * Bulk inserts: one multi-row `INSERT … VALUES (…), (…)` per chunk with bound parameters. The read
 * path, the ledger, imports and disclosures write hundreds to millions of rows at a time; building
 * them through the query builder costs more than the database's own work, so they are written as
 * raw statements here, once: the placeholder style comes from src/db/dialect.ts, the statement text
 * of each shape (dialect, table, columns, row count) is built once and reused, and a call is split
 * into chunks under MAX_BIND_PARAMS.
 */

type Executor = Kysely<any> | Transaction<any>;

const statements = new Map<string, string>();
let cachedChars = 0;
/** Full chunks share one shape; the bound only keeps odd-sized tails from piling up. */
const CACHE_CHARS = 16 * 2 ** 20;

/** `INSERT INTO table (columns) VALUES …` for `rows` rows, cached per shape. */
export function insertSql(
  dialect: DialectName,
  table: string,
  columns: readonly string[],
  rows: number,
): string {
  const key = `${dialect}\0${table}\0${columns.join(',')}\0${rows}`;
  const hit = statements.get(key);
  if (hit) return hit;
  const width = columns.length;
  const tuples: string[] = new Array(rows);
  if (dialect === 'sqlite') {
    tuples.fill(`(${new Array(width).fill('?').join(',')})`);
  } else {
    let p = 1;
    const one: string[] = new Array(width);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < width; c++) one[c] = placeholder(dialect, p++);
      tuples[r] = `(${one.join(',')})`;
    }
  }
  const text = `INSERT INTO ${table} (${columns.join(',')}) VALUES ${tuples.join(',')}`;
  if (cachedChars + text.length > CACHE_CHARS) {
    statements.clear();
    cachedChars = 0;
  }
  statements.set(key, text);
  cachedChars += text.length;
  return text;
}

/** Rows per statement for a table this wide. */
export function rowsPerStatement(width: number): number {
  return Math.floor(MAX_BIND_PARAMS / width);
}

export interface BulkOptions {
  /**
   * SQLite runs each statement synchronously in this thread: let the event loop turn between
   * statements (a streaming import keeps its worker threads fed meanwhile).
   */
  yieldBetween?: boolean;
}

/**
 * Inserts rows given as one flat, row-major parameter array (`columns.length` values per row), in
 * as few statements as the parameter limit allows.
 */
export async function insertFlat(
  db: Executor,
  table: string,
  columns: readonly string[],
  params: readonly unknown[],
  options: BulkOptions = {},
): Promise<void> {
  const width = columns.length;
  const total = params.length / width;
  if (total === 0) return;
  if (!Number.isInteger(total)) throw new Error(`bulk insert into ${table}: parameters are not whole rows`);
  const dialect = dialectOfExecutor(db);
  const per = rowsPerStatement(width);
  for (let start = 0; start < total; start += per) {
    const n = Math.min(per, total - start);
    const slice = n === total ? params : params.slice(start * width, (start + n) * width);
    await db.executeQuery(CompiledQuery.raw(insertSql(dialect, table, columns, n), slice as unknown[]));
    if (options.yieldBetween && dialect === 'sqlite' && start + n < total)
      await new Promise<void>((r) => setImmediate(r));
  }
}

/** Inserts row objects, taking `columns` from each in order (a missing value is NULL). */
export async function insertObjects<R extends object>(
  db: Executor,
  table: string,
  columns: readonly (keyof R & string)[],
  rows: readonly R[],
): Promise<void> {
  const width = columns.length;
  const params: unknown[] = new Array(rows.length * width);
  let i = 0;
  for (const r of rows) for (const c of columns) params[i++] = r[c] ?? null;
  await insertFlat(db, table, columns, params);
}
