import { createHash } from 'node:crypto';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
} from 'kysely';
import type { Database } from './database.js';
import type { DialectName } from './dialect.js';
import { migrations } from './migrations/index.js';

/**
 * Migrations are frozen: each takes `Kysely<any>` and the dialect name, never imports app code, and
 * only changes the schema. A migration's checksum is the SHA-256 of the SQL it generates on the
 * dialect at hand (captured by running it against a recording driver), so it is the same whether
 * the code runs from TypeScript sources or the compiled build, and changes when the schema it
 * makes changes. A shipped migration whose checksum differs from the one recorded when it was
 * applied stops start-up.
 */
export interface Migration {
  readonly name: string;
  up(db: Kysely<any>, dialect: DialectName): Promise<void>;
}

export class MigrationError extends Error {}

class RecordingConnection implements DatabaseConnection {
  constructor(private readonly out: string[]) {}
  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    this.out.push(`${q.sql}\n${JSON.stringify(q.parameters)}`);
    return { rows: [] };
  }
  // biome-ignore lint/correctness/useYield: a recording driver never streams rows.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    return;
  }
}

class RecordingDriver implements Driver {
  readonly statements: string[] = [];
  async init() {}
  async acquireConnection() {
    return new RecordingConnection(this.statements);
  }
  async beginTransaction() {}
  async commitTransaction() {}
  async rollbackTransaction() {}
  async releaseConnection() {}
  async destroy() {}
}

export async function migrationChecksum(m: Migration, dialect: DialectName): Promise<string> {
  const driver = new RecordingDriver();
  const db = new Kysely<any>({
    dialect: {
      createAdapter: () => (dialect === 'sqlite' ? new SqliteAdapter() : new PostgresAdapter()),
      createDriver: () => driver,
      createIntrospector: (k) =>
        dialect === 'sqlite' ? new SqliteIntrospector(k) : new PostgresIntrospector(k),
      createQueryCompiler: () =>
        dialect === 'sqlite' ? new SqliteQueryCompiler() : new PostgresQueryCompiler(),
    },
  });
  await m.up(db, dialect);
  await db.destroy();
  return createHash('sha256').update(driver.statements.join('\n;\n')).digest('hex');
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

/**
 * Two nodes starting at once must not both apply the same migration (issue 11, item 17): the run
 * holds a lock. PostgreSQL: a session advisory lock keyed by the schema, on one connection for the
 * whole run; SQLite: the whole run is one BEGIN IMMEDIATE transaction (the second process waits on
 * busy_timeout, then sees everything applied).
 */
export async function migrate(
  database: Database,
  list: readonly Migration[] = migrations,
): Promise<MigrateResult> {
  const { db, dialect } = database;
  return db.connection().execute(async (conn) => {
    if (dialect === 'postgres') {
      const key = sql`hashtext('custodian.migrate:' || current_schema())`;
      await sql`select pg_advisory_lock(${key})`.execute(conn);
      try {
        return await apply(conn, dialect, list, false);
      } finally {
        await sql`select pg_advisory_unlock(${key})`.execute(conn);
      }
    }
    await sql`begin immediate`.execute(conn);
    try {
      const r = await apply(conn, dialect, list, true);
      await sql`commit`.execute(conn);
      return r;
    } catch (e) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw e;
    }
  });
}

async function apply(
  db: Kysely<any>,
  dialect: DialectName,
  list: readonly Migration[],
  inTransaction: boolean,
): Promise<MigrateResult> {
  await db.schema
    .createTable('custodian_migrations')
    .ifNotExists()
    .addColumn('name', 'text', (c) => c.primaryKey().notNull())
    .addColumn('checksum', 'text', (c) => c.notNull())
    .addColumn('applied_at', 'text', (c) => c.notNull())
    .execute();
  const rows = await db.selectFrom('custodian_migrations').select(['name', 'checksum']).execute();
  const applied = new Map(rows.map((r) => [r.name as string, r.checksum as string]));
  const known = new Set(list.map((m) => m.name));
  for (const name of applied.keys()) {
    if (!known.has(name)) {
      throw new MigrationError(
        `database has migration ${name}, which this version does not know: it is newer`,
      );
    }
  }
  const done: string[] = [];
  for (const m of list) {
    const checksum = await migrationChecksum(m, dialect);
    const recorded = applied.get(m.name);
    if (recorded !== undefined) {
      if (recorded !== checksum) {
        throw new MigrationError(`migration ${m.name} changed after it was applied (checksum mismatch)`);
      }
      continue;
    }
    const run = async (trx: Kysely<any>) => {
      await m.up(trx, dialect);
      await trx
        .insertInto('custodian_migrations')
        .values({ name: m.name, checksum, applied_at: new Date().toISOString() })
        .execute();
    };
    if (inTransaction) await run(db);
    else await db.transaction().execute(run);
    done.push(m.name);
  }
  return { applied: done, alreadyApplied: applied.size };
}

/** Table → column → canonical type family; used to compare the schema across dialects. */
export async function describeSchema(database: Database): Promise<Record<string, Record<string, string>>> {
  // PostgreSQL's introspector lists every schema's tables: keep the one this connection uses.
  const current =
    database.dialect === 'postgres'
      ? ((await sql<{ s: string }>`select current_schema() as s`.execute(database.db)).rows[0]?.s ?? 'public')
      : undefined;
  const tables = (await database.db.introspection.getTables()).filter(
    (t) => !current || t.schema === current,
  );
  const out: Record<string, Record<string, string>> = {};
  const family = (t: string): string => {
    const x = t.toLowerCase();
    if (x === 'blob' || x === 'bytea') return 'bytes';
    if (x.includes('int')) return 'integer';
    if (x === 'text' || x.includes('char')) return 'text';
    if (x.includes('real') || x.includes('double') || x.includes('float') || x.includes('numeric'))
      return 'number';
    if (x.includes('bool')) return 'boolean';
    return x;
  };
  for (const t of tables) {
    if (t.isView) continue;
    out[t.name] = Object.fromEntries(
      t.columns.map((c) => [c.name, `${family(c.dataType)}${c.isNullable ? '?' : ''}`]),
    );
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

export { sql };
