import { sql } from 'kysely';
import { describe } from 'vitest';
import { type Database, type DialectName, openScratchDatabase } from '../../src/db/index.js';

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
  const postgres = dialect === 'postgres' ? postgresUrl() : undefined;
  if (dialect === 'postgres' && !postgres)
    throw new Error('PostgreSQL is not configured (TEST_POSTGRES_URL)');
  const scratch = await openScratchDatabase(dialect, {
    postgresUrl: postgres,
    prefix: 't',
    ...(options.poolSize ? { poolSize: options.poolSize } : {}),
    ...(options.migrate === false ? { migrate: false } : {}),
  });
  return {
    ...scratch.database,
    ...(scratch.file ? { file: scratch.file } : {}),
    ...(scratch.schema ? { schema: scratch.schema } : {}),
    url: scratch.url,
    destroy: () => scratch.destroy(),
  };
}

/** `describe` once per enabled dialect, with the dialect name in the title. */
export function describeEachDialect(title: string, fn: (dialect: DialectName) => void): void {
  for (const dialect of enabledDialects()) {
    describe(`${title} [${dialect}]`, () => fn(dialect));
  }
}

export { sql };
