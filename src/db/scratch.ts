import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { randomId } from '../lib/ids.js';
import { type Database, openDatabase } from './database.js';
import type { DialectName } from './dialect.js';
import { migrate } from './migrator.js';

/**
 * A throw-away database for benchmarks and tests: a SQLite file in a temporary folder, or a
 * PostgreSQL schema of its own (search_path pinned to it) that `destroy` drops.
 */
export interface ScratchDatabase {
  database: Database;
  /** SQLite: the database file. */
  file?: string;
  /** PostgreSQL: the schema. */
  schema?: string;
  url: string;
  destroy(): Promise<void>;
}

async function pgExec(url: string, statement: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

/**
 * The scratch database may be handed to something that closes it (the composition root's `close`)
 * before `destroy` runs: closing twice must be harmless (a pg pool refuses a second `end`).
 */
function closeOnce(database: Database): Database {
  let closing: Promise<void> | undefined;
  return {
    ...database,
    close: () => {
      closing ??= database.close();
      return closing;
    },
  };
}

export async function openScratchDatabase(
  dialect: DialectName,
  options: {
    postgresUrl?: string | undefined;
    prefix?: string;
    poolSize?: number;
    migrate?: boolean;
    sqliteCheckpoint?: 'worker' | 'inline';
  } = {},
): Promise<ScratchDatabase> {
  const prefix = options.prefix ?? 'scratch';
  let scratch: ScratchDatabase;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), `custodian-${prefix}-`));
    const file = join(dir, `${prefix}.db`);
    const database = closeOnce(
      openDatabase(
        `sqlite:${file}`,
        options.sqliteCheckpoint ? { sqliteCheckpoint: options.sqliteCheckpoint } : {},
      ),
    );
    scratch = {
      database,
      file,
      url: `sqlite:${file}`,
      destroy: async () => {
        await database.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } else {
    const url = options.postgresUrl;
    if (!url) throw new Error('a PostgreSQL scratch database needs a postgres:// URL');
    // The name is ours (lower-case base32), never input: safe to splice into DDL.
    const schema = `${prefix.replace(/[^a-z0-9_]/g, '_')}_${randomId('s').slice(2, 14)}`;
    await pgExec(url, `CREATE SCHEMA ${schema}`);
    const database = closeOnce(openDatabase(url, { schema, poolSize: options.poolSize ?? 4 }));
    scratch = {
      database,
      schema,
      url,
      destroy: async () => {
        await database.close();
        await pgExec(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  }
  if (options.migrate !== false) await migrate(scratch.database);
  return scratch;
}
