/*
 * Threat: a commit is acknowledged (a read answered, an entry appended) before it is on disk, so a
 * power cut loses the evidence of an acknowledged read. With `wal-fsync` (docs/adr/0017) SQLite
 * runs synchronous=NORMAL and the dialect fsyncs the write-ahead log after COMMIT: a transaction, or
 * a write outside one, resolves only after that fsync; a read costs none. (SQLite only: PostgreSQL
 * commits durably by itself.)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatchCommit } from '../../src/db/groupcommit.js';
import { type Database, openDatabase } from '../../src/db/index.js';

describe('SQLite durability (wal-fsync)', () => {
  let dir: string;
  let d: Database;
  let syncs = 0;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'custodian-durable-'));
    d = openDatabase(`sqlite:${join(dir, 'd.db')}`, { onWalSync: () => syncs++ });
    await sql`CREATE TABLE t (x INTEGER)`.execute(d.db);
  });
  afterAll(async () => {
    await d?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs SQLite with synchronous=NORMAL and fsyncs the log itself', async () => {
    const r = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(d.db);
    expect(r.rows[0]!.synchronous).toBe(1);
  });

  it('a transaction resolves only after the fsync that follows its COMMIT', async () => {
    const before = syncs;
    let syncsWhenWorkDone = -1;
    await d.db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ x: 1 }).execute();
      await trx.insertInto('t').values({ x: 2 }).execute();
      syncsWhenWorkDone = syncs;
    });
    expect(syncsWhenWorkDone).toBe(before); // nothing synced inside the transaction
    expect(syncs).toBe(before + 1); // one fsync, before the promise resolved
  });

  it('a write outside a transaction is synced; a read is not', async () => {
    const before = syncs;
    await d.db.insertInto('t').values({ x: 3 }).execute();
    expect(syncs).toBe(before + 1);
    await d.db.selectFrom('t').selectAll().execute();
    await sql`SELECT count(*) FROM t`.execute(d.db);
    expect(syncs).toBe(before + 1);
  });

  it('a rolled-back transaction syncs nothing', async () => {
    const before = syncs;
    await expect(
      d.db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ x: 4 }).execute();
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(syncs).toBe(before);
  });

  it('synchronous=FULL remains available and needs no fsync of its own', async () => {
    const full = openDatabase(`sqlite:${join(dir, 'f.db')}`, {
      sqliteSync: 'full',
      onWalSync: () => syncs++,
    });
    try {
      const before = syncs;
      await sql`CREATE TABLE t (x INTEGER)`.execute(full.db);
      await full.db.insertInto('t').values({ x: 1 }).execute();
      expect(syncs).toBe(before);
      const r = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(full.db);
      expect(r.rows[0]!.synchronous).toBe(2);
    } finally {
      await full.close();
    }
  });

  it('maps the file for reads by default, and not at all with sqliteMmapMiB 0', async () => {
    const r = await sql<{ mmap_size: number }>`PRAGMA mmap_size`.execute(d.db);
    expect(Number(r.rows[0]!.mmap_size)).toBe(2147418112);
    const off = openDatabase(`sqlite:${join(dir, 'm.db')}`, { sqliteMmapMiB: 0 });
    try {
      const o = await sql<{ mmap_size: number }>`PRAGMA mmap_size`.execute(off.db);
      expect(Number(o.rows[0]!.mmap_size)).toBe(0);
    } finally {
      await off.close();
    }
  });

  it('checkpoints the WAL from a worker thread when asked, and loses nothing', async () => {
    // Threat: moving the checkpoint off the event loop leaves committed rows only in a WAL that is
    // never folded back, or loses them at close. The main connection must not checkpoint; the
    // worker's connection must copy the frames into the database file; everything reads back.
    const file = join(dir, 'c.db');
    const w = openDatabase(`sqlite:${file}`, { sqliteCheckpoint: 'worker' });
    const auto = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(w.db);
    expect(Number(auto.rows[0]!.wal_autocheckpoint)).toBe(0);
    await sql`CREATE TABLE t (x INTEGER, pad TEXT)`.execute(w.db);
    const before = statSync(file).size;
    await w.db.transaction().execute(async (trx) => {
      for (let i = 0; i < 2000; i++)
        await trx
          .insertInto('t')
          .values({ x: i, pad: 'p'.repeat(200) })
          .execute();
    });
    // The worker checkpoints every 250 ms: the rows reach the database file itself.
    for (let i = 0; i < 100 && statSync(file).size <= before + 200_000; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(statSync(file).size).toBeGreaterThan(before + 200_000);
    await w.close();
    const again = openDatabase(`sqlite:${file}`);
    try {
      const r = await sql<{ n: number }>`SELECT count(*) AS n FROM t`.execute(again.db);
      expect(Number(r.rows[0]!.n)).toBe(2000);
    } finally {
      await again.close();
    }
  });

  it('a process whose last work is closing a database with the checkpoint worker finishes that close', () => {
    // Threat: the worker is unref'd (it must not keep a process alive), so a close that waits for it
    // with nothing else pending let Node exit mid-close: a CLI command or a benchmark ended without
    // its last output, silently.
    const script = `
      import { openDatabase } from ${JSON.stringify(new URL('../../src/db/database.ts', import.meta.url).href)};
      const d = openDatabase('sqlite:${join(dir, 'e.db')}', { sqliteCheckpoint: 'worker' });
      await d.db.selectFrom('sqlite_master').selectAll().execute();
      await d.close();
      console.log('closed');
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('closed');
  });

  it('group commit starts the next batch while an fsync runs, yet acknowledges each caller after its own', async () => {
    // Threat: pipelining batches behind a running fsync (src/db/commitsignal.ts) acknowledges a
    // caller whose batch committed but is not yet on disk. Each ack must follow a sync that ended
    // after the caller's batch was written.
    const syncsWhenWritten = new Map<number, number>();
    const batches = createBatchCommit(d.db, async (trx, items: readonly number[]) => {
      const at = syncs;
      for (const x of items) {
        syncsWhenWritten.set(x, at);
        await trx.insertInto('t').values({ x }).execute();
      }
      return [...items];
    });
    const acks = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        // Arrivals spread over turns, so that many batches form while earlier ones sync.
        await new Promise<void>((r) => setTimeout(r, i % 7));
        await batches.submit(10_000 + i);
        return { x: 10_000 + i, syncs };
      }),
    );
    await batches.drain();
    expect(batches.stats().batches).toBeGreaterThan(1);
    for (const a of acks) expect(a.syncs).toBeGreaterThan(syncsWhenWritten.get(a.x)!);
    const r = await sql<{ n: number }>`SELECT count(*) AS n FROM t WHERE x >= 10000`.execute(d.db);
    expect(Number(r.rows[0]!.n)).toBe(300);
  });
});
