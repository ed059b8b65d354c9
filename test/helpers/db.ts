import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { describe } from 'vitest';
import { type Database, type DialectName, migrate, openDatabase } from '../../src/db/index.js';

/**
 * Every database test runs on every dialect: SQLite always; PostgreSQL when TEST_POSTGRES_URL (or a
 * postgres:// DATABASE_URL) is set, and always in CI, where an unreachable server fails the run.
 * TEST_DIALECTS=sqlite|postgres narrows the loop. No database is mocked.
 */
export function postgresUrl(): string | undefined {
  const url = process.env.TEST_POSTGRES_URL ?? process.env.DATABASE_URL;
  return url && /^postgres(ql)?:\/\//.test(url) ? url : undefined;
}

export function enabledDialects(): DialectName[] {
  const only = process.env.TEST_DIALECTS?.split(',').map((s) => s.trim());
  const out: DialectName[] = [];
  if (!only || only.includes('sqlite')) out.push('sqlite');
  if (!only || only.includes('postgres')) {
    if (postgresUrl()) out.push('postgres');
    else if (process.env.CI === 'true') throw new Error('CI=true but TEST_POSTGRES_URL is not set');
  }
  return out;
}

export interface TestDatabase extends Database {
  /** For SQLite: the database file (tests that search the bytes on disk). */
  readonly file?: string;
  /** For PostgreSQL: the schema this test owns. */
  readonly schema?: string;
  readonly url: string;
  destroy(): Promise<void>;
}

/** A fresh, migrated database: a temporary SQLite file, or a PostgreSQL schema of its own. */
export async function createTestDatabase(
  dialect: DialectName,
  options: { migrate?: boolean; poolSize?: number } = {},
): Promise<TestDatabase> {
  let database: Database;
  let extra: { file?: string; schema?: string; url: string };
  let cleanup: () => Promise<void>;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'custodian-test-'));
    const file = join(dir, 'test.db');
    database = openDatabase(`sqlite:${file}`);
    extra = { file, url: `sqlite:${file}` };
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const url = postgresUrl();
    if (!url) throw new Error('PostgreSQL is not configured (TEST_POSTGRES_URL)');
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    database = openDatabase(url, { schema, poolSize: options.poolSize ?? 4 });
    extra = { schema, url };
    cleanup = async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    };
  }
  if (options.migrate !== false) await migrate(database);
  return {
    ...database,
    ...extra,
    async destroy() {
      await database.close();
      await cleanup();
    },
  };
}

/** `describe` once per enabled dialect, with the dialect name in the title. */
export function describeEachDialect(title: string, fn: (dialect: DialectName) => void): void {
  for (const dialect of enabledDialects()) {
    describe(`${title} [${dialect}]`, () => fn(dialect));
  }
}

export { sql };
