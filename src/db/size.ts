import { statSync } from 'node:fs';
import { sql } from 'kysely';
import type { Database } from './database.js';

/** Bytes a deployment's database takes on disk, for capacity figures (the scale run). */
export interface DiskUsage {
  bytes: number;
  /** The named tables alone (PostgreSQL; SQLite keeps every table in one file). */
  tablesBytes?: number;
  what: string;
}

/**
 * SQLite: the database file after folding the WAL into it (plus any WAL left). PostgreSQL: every
 * table of `schema` with its indexes and TOAST (pg_total_relation_size), and the `tables` alone.
 */
export async function diskUsage(
  database: Database,
  where: { sqliteFile?: string | undefined; schema?: string | undefined; tables?: readonly string[] },
): Promise<DiskUsage> {
  const { db } = database;
  if (database.dialect === 'sqlite') {
    if (!where.sqliteFile) throw new Error('diskUsage needs the SQLite file');
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
    let bytes = statSync(where.sqliteFile).size;
    try {
      bytes += statSync(`${where.sqliteFile}-wal`).size;
    } catch {
      // No WAL file: nothing to add.
    }
    return { bytes, what: 'SQLite database file (and WAL), after a checkpoint' };
  }
  const schema = where.schema ?? 'public';
  const tables = [...(where.tables ?? [])];
  const r = await sql<{ total: string; named: string }>`
    SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS total,
           coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname = ANY(${tables})), 0) AS named
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ${schema} AND c.relkind = 'r'`.execute(db);
  const row = r.rows[0]!;
  return {
    bytes: Number(row.total),
    tablesBytes: Number(row.named),
    what: `every table of schema ${schema} with its indexes and TOAST (pg_total_relation_size)`,
  };
}

/**
 * The settings a capacity figure depends on, to print beside it: SQLite's page size, cache,
 * journal and sync mode; PostgreSQL's version, buffers, WAL and sync settings.
 */
export async function storageSettings(database: Database): Promise<Record<string, string>> {
  const { db } = database;
  if (database.dialect === 'sqlite') {
    const out: Record<string, string> = {};
    for (const p of ['page_size', 'cache_size', 'journal_mode', 'synchronous', 'mmap_size']) {
      const r = await sql.raw<Record<string, unknown>>(`PRAGMA ${p}`).execute(db);
      out[p] = String(Object.values(r.rows[0] ?? {})[0]);
    }
    return out;
  }
  const names = [
    'server_version',
    'shared_buffers',
    'max_wal_size',
    'synchronous_commit',
    'full_page_writes',
  ];
  const r = await sql<{ name: string; setting: string }>`
    SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY(${names})`.execute(db);
  return Object.fromEntries(r.rows.map((x) => [x.name, x.setting]));
}
