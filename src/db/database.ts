import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { DialectName } from './dialect.js';

export interface Database {
  readonly db: Kysely<any>;
  readonly dialect: DialectName;
  /** A description safe to print: no password. */
  readonly description: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** PostgreSQL: set search_path to this schema (tests use one schema per file). */
  schema?: string;
  /** PostgreSQL pool size. */
  poolSize?: number;
  /** SQLite page cache in MiB (default 64). */
  sqliteCacheMiB?: number;
}

export function dialectOf(url: string): DialectName {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return 'postgres';
  return 'sqlite';
}

/** `sqlite:PATH`, a bare path, `:memory:`, or `postgres://…`. */
export function sqlitePath(url: string): string {
  return url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

export function openDatabase(url: string, options: OpenOptions = {}): Database {
  if (dialectOf(url) === 'postgres') {
    // int8 and numeric come back as numbers: counts and ledger indexes stay below 2^53.
    const types = {
      getTypeParser: (oid: number, format?: any) => {
        if (oid === 20 || oid === 1700) return (v: string) => Number(v);
        return (pg.types.getTypeParser as any)(oid, format);
      },
    };
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      types,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    });
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: 'postgres', description: redactUrl(url), close: () => db.destroy() };
  }
  const path = sqlitePath(url);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const sqlite = new SQLite(path);
  // Owner-only: SQLite creates the -wal and -shm files with the database file's permissions.
  if (path !== ':memory:') chmodSync(path, 0o600);
  // WAL for concurrent readers; synchronous=FULL so an acknowledged commit survives a power cut
  // (a transparency log that skipped this lost acknowledged entries).
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 10000');
  // Without it, INSERT OR REPLACE deletes a conflicting row without firing DELETE triggers, which
  // would let a REPLACE rewrite an append-only table past its guard.
  sqlite.pragma('recursive_triggers = ON');
  // A page cache of 64 MiB by default (SQLite's is 2 MiB) and reads through a 2 GiB memory map (the
  // most this build maps): at millions of subjects the vault's random-keyed B-trees outgrow the
  // cache, and a read that misses it costs a system call per page without the map. Writes still go
  // through the WAL.
  const cacheMiB = Math.trunc(options.sqliteCacheMiB ?? 64);
  if (!(cacheMiB >= 2)) throw new RangeError('sqliteCacheMiB must be at least 2');
  sqlite.pragma(`cache_size = -${cacheMiB * 1024}`);
  sqlite.pragma('mmap_size = 2147418112');
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, dialect: 'sqlite', description: `sqlite:${path}`, close: () => db.destroy() };
}
