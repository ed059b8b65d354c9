import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  Kysely,
  PostgresDialect,
  type QueryResult,
  SqliteDialect,
  type TransactionSettings,
} from 'kysely';
import pg from 'pg';
import { startWorkerBeside } from '../lib/worker.js';
import { signalCommitted } from './commitsignal.js';
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
  /** SQLite memory map for reads, in MiB (default 2048; 0: off). */
  sqliteMmapMiB?: number;
  /**
   * Where SQLite's WAL checkpoints run: `worker` (a connection of its own in a worker thread, every
   * 250 ms; the main connection never checkpoints) or `inline` (SQLite's automatic checkpoint, inside
   * a COMMIT on the event loop). Default `inline`; the service's own database uses the configured
   * CUSTODIAN_SQLITE_CHECKPOINT (default `worker`).
   */
  sqliteCheckpoint?: 'worker' | 'inline';
  /**
   * How a SQLite commit is made durable before it is acknowledged (docs/adr/0017): `wal-fsync`
   * (default) fsyncs the write-ahead log in a libuv thread after COMMIT, so the event loop runs on
   * while the disk works; `full` is SQLite's own synchronous=FULL, which fsyncs inside COMMIT on the
   * event loop. Both acknowledge a commit only once it is on disk.
   */
  sqliteSync?: 'wal-fsync' | 'full';
  /** Called after each fsync of the write-ahead log completes (`wal-fsync`; tests observe the order). */
  onWalSync?: () => void;
}

/** Opening the database failed for a reason the operator can fix: a stable code and a hint. */
export class DatabaseOpenError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DatabaseOpenError';
  }
}

/**
 * Maps a driver or listener error to a one-line cause with a stable code and a hint (issue 11,
 * item 16); undefined when it is not one of the known operational failures.
 */
export function explainStartupError(e: unknown): DatabaseOpenError | undefined {
  if (e instanceof DatabaseOpenError) return e;
  const err = e as {
    code?: string;
    message?: string;
    errors?: { code?: string }[];
    syscall?: string;
    port?: number;
  };
  const code = err?.code ?? err?.errors?.[0]?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return new DatabaseOpenError(
        'DB_UNREACHABLE',
        'PostgreSQL refused the connection',
        "is it running, and are DATABASE_URL's host and port right?",
        { cause: e },
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DatabaseOpenError(
        'DB_UNREACHABLE',
        'the PostgreSQL host name does not resolve',
        'check the host in DATABASE_URL',
        { cause: e },
      );
    case 'ETIMEDOUT':
      return new DatabaseOpenError(
        'DB_UNREACHABLE',
        'connecting to PostgreSQL timed out',
        'check the host, port and firewall',
        { cause: e },
      );
    case '3D000':
      return new DatabaseOpenError(
        'DB_MISSING',
        'the database named in DATABASE_URL does not exist',
        'create it (createdb NAME) or fix the name',
        { cause: e },
      );
    case '28P01':
    case '28000':
      return new DatabaseOpenError(
        'DB_AUTH_FAILED',
        'PostgreSQL rejected the user or password',
        'check the user in DATABASE_URL and the password (PGPASSFILE)',
        { cause: e },
      );
    case '42501':
      return new DatabaseOpenError(
        'DB_PERMISSION_DENIED',
        'the database user lacks a privilege Custodian needs',
        'grant it CREATE on the schema, or run migrations as the owner',
        { cause: e },
      );
    case 'EADDRINUSE':
      return new DatabaseOpenError(
        'APP_PORT_IN_USE',
        `the address is already in use${err.port ? ` (port ${err.port})` : ''}`,
        'stop the other process or set CUSTODIAN_PORT',
        { cause: e },
      );
    case 'EACCES':
      return new DatabaseOpenError(
        err.syscall === 'listen' ? 'APP_PORT_DENIED' : 'DB_FILE_DENIED',
        err.syscall === 'listen' ? 'not allowed to listen on that port' : 'permission denied opening a file',
        err.syscall === 'listen'
          ? 'use a port above 1024 or set CUSTODIAN_PORT'
          : 'check the owner and mode of the data directory',
        { cause: e },
      );
    case 'SQLITE_CANTOPEN':
      return new DatabaseOpenError(
        'DB_FILE_UNOPENABLE',
        'the SQLite file cannot be opened',
        'check that the path in DATABASE_URL exists and is writable',
        { cause: e },
      );
    case 'SQLITE_NOTADB':
      return new DatabaseOpenError(
        'DB_FILE_NOT_SQLITE',
        'the file named by DATABASE_URL is not a SQLite database',
        'point DATABASE_URL at the right file',
        { cause: e },
      );
    default:
      return undefined;
  }
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
  if (path !== ':memory:') {
    // Only the data directory itself is created (one level): a mistyped path must not grow a tree.
    const dir = dirname(path);
    if (!existsSync(dir)) {
      if (!existsSync(dirname(dir)))
        throw new DatabaseOpenError(
          'DB_DIRECTORY_MISSING',
          `the directory for the SQLite file does not exist: ${dirname(dir)}`,
          'create it, or point DATABASE_URL at an existing directory',
        );
      mkdirSync(dir, { mode: 0o700 });
    }
  }
  const sqlite = new SQLite(path);
  // Owner-only: SQLite creates the -wal and -shm files with the database file's permissions.
  if (path !== ':memory:') chmodSync(path, 0o600);
  // WAL for concurrent readers; every acknowledged commit fsynced (synchronous=FULL, or NORMAL plus
  // the dialect's own WAL fsync after COMMIT, below) so it survives a power cut (a transparency log
  // that skipped this lost acknowledged entries).
  sqlite.pragma('journal_mode = WAL');
  const asyncFsync = path !== ':memory:' && (options.sqliteSync ?? 'wal-fsync') === 'wal-fsync';
  sqlite.pragma(`synchronous = ${asyncFsync ? 'NORMAL' : 'FULL'}`);
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
  // 2048 MiB by default, capped at the most this build maps (2,147,418,112 bytes); 0 turns it off.
  const mmapMiB = Math.trunc(options.sqliteMmapMiB ?? 2048);
  if (!(mmapMiB >= 0)) throw new RangeError('sqliteMmapMiB must be 0 or more');
  sqlite.pragma(`mmap_size = ${Math.min(mmapMiB * 2 ** 20, 2147418112)}`);
  const base = new SqliteDialect({ database: withStatementCache(sqlite) });
  const db = new Kysely<any>({ dialect: asyncFsync ? walFsyncDialect(base, path, options.onWalSync) : base });
  let checkpointer: Worker | undefined;
  if (path !== ':memory:' && options.sqliteCheckpoint === 'worker') {
    sqlite.pragma('wal_autocheckpoint = 0');
    checkpointer = startWorkerBeside(import.meta.url, 'checkpointer.worker', { path, intervalMs: 250 });
    checkpointer.unref();
  }
  return {
    db,
    dialect: 'sqlite',
    description: `sqlite:${path}`,
    async close() {
      if (checkpointer) {
        // Held again while it stops: an unref'd worker keeps nothing alive, so a process whose only
        // remaining work is this close would otherwise exit (code 0) before the worker answers.
        checkpointer.ref();
        const exited = once(checkpointer, 'exit');
        checkpointer.postMessage('stop');
        await exited;
      }
      await db.destroy();
    },
  };
}

/**
 * Kysely's SQLite driver prepares every statement anew (better-sqlite3's prepare parses and plans
 * the SQL: about a tenth of the CPU of an HTTP read in a profile). The read path runs the same few
 * statements over and over, so prepared statements are kept by their SQL text, up to `max` of them
 * (the oldest is dropped when full). A statement still iterating (a streamed query) is busy and
 * cannot run twice at once: such a call gets a fresh one. Statements survive schema changes
 * (SQLite re-prepares them itself).
 */
export function withStatementCache(sqlite: SQLite.Database, max = 512) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    prepare(sql: string): SQLite.Statement {
      const hit = cache.get(sql);
      if (hit && !hit.busy) return hit;
      const stmt = sqlite.prepare(sql);
      if (!hit) {
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
        cache.set(sql, stmt);
      }
      return stmt;
    },
    close(): void {
      cache.clear();
      sqlite.close();
    },
  };
}

/**
 * SQLite with synchronous=NORMAL writes each commit to the write-ahead log without an fsync; this
 * dialect adds the fsync itself, after COMMIT and before the commit is acknowledged, in a libuv
 * thread (fs.promises FileHandle.sync), so the event loop parses, decides and decrypts for other
 * requests while the disk works, and the connection is free for the next transaction meanwhile. The same durability as synchronous=FULL (which fsyncs the WAL in
 * COMMIT, blocking the only thread for milliseconds): on Linux an fsync of any descriptor of the
 * file flushes all its written data. Statements outside a transaction that may write (anything but
 * a SELECT, WITH, PRAGMA or EXPLAIN) are synced the same way. Checkpoints sync as SQLite does.
 */
function walFsyncDialect(base: SqliteDialect, dbPath: string, onSync?: () => void): Dialect {
  const walPath = `${dbPath}-wal`;
  async function fsyncWal(): Promise<void> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(walPath, 'r');
    } catch (e) {
      // Checkpointed and truncated away by another connection closing: the data is in the main file.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      fh = await open(dbPath, 'r');
    }
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    onSync?.();
  }
  const readOnly = (q: CompiledQuery) =>
    q.query.kind === 'SelectQueryNode' || /^\s*(select|with|pragma|explain)\b/i.test(q.sql);
  const open_ = new WeakSet<DatabaseConnection>();
  const inner = base.createDriver();
  // After COMMIT the connection is unlocked at once and the fsync awaited after: the next
  // transaction runs while the disk works, and this one is acknowledged only once its fsync (which
  // began after its COMMIT, and covers every write before it) is done. Kysely still calls
  // releaseConnection for the holder later; one call per early unlock is skipped, so unlocks and
  // acquisitions stay balanced.
  let unlockedEarly = 0;
  const wrap = (c: DatabaseConnection): DatabaseConnection => ({
    async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
      const r = await c.executeQuery<R>(q);
      if (!open_.has(c) && !readOnly(q)) await fsyncWal();
      return r;
    },
    streamQuery: <R>(q: CompiledQuery, chunk?: number) => c.streamQuery<R>(q, chunk),
  });
  const wrapped = new WeakMap<DatabaseConnection, DatabaseConnection>();
  const outer = (c: DatabaseConnection) => {
    let w = wrapped.get(c);
    if (!w) {
      w = wrap(c);
      wrapped.set(c, w);
      unwrap.set(w, c);
    }
    return w;
  };
  const unwrap = new WeakMap<DatabaseConnection, DatabaseConnection>();
  const raw = (w: DatabaseConnection) => unwrap.get(w) ?? w;
  const driver: Driver = {
    init: () => inner.init(),
    acquireConnection: async () => outer(await inner.acquireConnection()),
    async beginTransaction(w: DatabaseConnection, settings: TransactionSettings) {
      await inner.beginTransaction(raw(w), settings);
      open_.add(raw(w));
    },
    async commitTransaction(w: DatabaseConnection) {
      open_.delete(raw(w));
      await inner.commitTransaction(raw(w));
      const sync = fsyncWal();
      sync.catch(() => undefined); // awaited below; never unhandled in between
      unlockedEarly++;
      await inner.releaseConnection(raw(w));
      signalCommitted();
      await sync;
    },
    async rollbackTransaction(w: DatabaseConnection) {
      open_.delete(raw(w));
      await inner.rollbackTransaction(raw(w));
    },
    savepoint: (w, name, compile) => inner.savepoint!(raw(w), name, compile),
    rollbackToSavepoint: (w, name, compile) => inner.rollbackToSavepoint!(raw(w), name, compile),
    releaseSavepoint: (w, name, compile) => inner.releaseSavepoint!(raw(w), name, compile),
    async releaseConnection(w: DatabaseConnection) {
      if (unlockedEarly > 0) {
        unlockedEarly--;
        return;
      }
      await inner.releaseConnection(raw(w));
    },
    destroy: () => inner.destroy(),
  };
  return {
    createDriver: () => driver,
    createQueryCompiler: () => base.createQueryCompiler(),
    createAdapter: () => base.createAdapter(),
    createIntrospector: (db) => base.createIntrospector(db),
  };
}
