import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { type Database, type DialectName, openDatabase } from '../../src/db/index.js';
import type { Keyring } from '../../src/lib/crypto/index.js';
import {
  createLedger,
  encodeEntry,
  type Ledger,
  leafHash,
  rootFromEntries,
  type VerifyReport,
} from '../../src/modules/ledger/index.js';
import { storedCount } from '../../src/modules/ledger/tiles.js';
import { describeEachDialect } from '../helpers/db.js';
import { createTestLedger, dropAppendOnly, events, ORIGIN, type TestLedger } from './helpers.js';

/**
 * Threat: an insider with write access to the database (a DBA, a stolen application credential, a
 * restored and edited backup) rewrites the access history to hide a read: alters an entry, deletes
 * one, reorders, inserts, edits or deletes tile rows, winds the log back and re-appends a different
 * history. The attacker first drops the append-only triggers, as anyone with DDL rights can.
 * `verify` must notice every one of these and name the first index that is wrong and how.
 *
 * The log used in every case: 650 entries; signed checkpoints at 400, 500 and 600; the last 50
 * entries are not yet covered by a checkpoint. A witness kept the checkpoint of size 600.
 */
const ALL_TABLES = ['ledger_entries', 'ledger_tiles', 'ledger_leaf_index', 'ledger_checkpoints'];

interface Fixture {
  db: { db: Kysely<any> };
  ledger: Ledger;
  keyring: Keyring;
  clock: TestLedger['clock'];
  witnessed: string;
  destroy(): Promise<void>;
}

/** The log every case starts from, built once per dialect. */
async function golden(dialect: DialectName): Promise<TestLedger & { witnessed: string }> {
  const t = await createTestLedger(dialect);
  await t.ledger.appendBatch(events(0, 400));
  await t.ledger.checkpoint();
  await t.ledger.appendBatch(events(400, 100));
  await t.ledger.checkpoint();
  await t.ledger.appendBatch(events(500, 100));
  const witnessed = (await t.ledger.checkpoint()).note;
  await t.ledger.appendBatch(events(600, 50));
  return { ...t, witnessed };
}

/**
 * A private copy of the golden log for one case (cheaper than migrating a new database each time):
 * SQLite `VACUUM INTO`, or the five ledger tables copied into a new PostgreSQL schema. The attacker
 * then drops the append-only triggers.
 */
async function fixture(g: TestLedger & { witnessed: string }, dialect: DialectName): Promise<Fixture> {
  let database: Database;
  let cleanup: () => Promise<void>;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'custodian-tamper-'));
    const file = join(dir, 'copy.db');
    await sql.raw(`VACUUM INTO '${file}'`).execute(g.db.db);
    database = openDatabase(`sqlite:${file}`);
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    await sql.raw(`CREATE SCHEMA ${schema}`).execute(g.db.db);
    for (const table of [...ALL_TABLES, 'ledger_pending', 'ledger_state']) {
      await sql
        .raw(`CREATE TABLE ${schema}.${table} (LIKE ${g.db.schema}.${table} INCLUDING ALL)`)
        .execute(g.db.db);
      await sql.raw(`INSERT INTO ${schema}.${table} SELECT * FROM ${g.db.schema}.${table}`).execute(g.db.db);
    }
    database = openDatabase(g.db.url, { schema, poolSize: 2 });
    cleanup = async () => {
      await sql.raw(`DROP SCHEMA ${schema} CASCADE`).execute(g.db.db);
    };
  }
  for (const table of ALL_TABLES) await dropAppendOnly(database.db, dialect, table);
  const ledger = createLedger({
    db: database.db,
    dialect,
    keyring: g.keyring,
    origin: ORIGIN,
    clock: g.clock,
  });
  return {
    db: { db: database.db },
    ledger,
    keyring: g.keyring,
    clock: g.clock,
    witnessed: g.witnessed,
    async destroy() {
      await database.close();
      await cleanup();
    },
  };
}

async function entryAt(db: Kysely<any>, idx: number): Promise<{ entry: Buffer }> {
  const r = await sql<{ entry: Buffer }>`SELECT entry FROM ledger_entries WHERE idx = ${idx}`.execute(db);
  return r.rows[0] as { entry: Buffer };
}

async function insertEntries(db: Kysely<any>, rows: [number, Buffer][]): Promise<void> {
  await sql`INSERT INTO ledger_entries (idx, entry) VALUES ${sql.join(rows.map(([i, e]) => sql`(${i}, ${e})`))}`.execute(
    db,
  );
}

function flipByte(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at] = (c[at] as number) ^ 0x01;
  return c;
}

function expectFirst(r: VerifyReport, index: number | null, kind: string) {
  expect(r.ok).toBe(false);
  expect(r.firstBadIndex, JSON.stringify(r.problems.slice(0, 3))).toBe(index);
  const first = index === null ? r.problems.find((p) => p.index === null) : r.problems[0];
  expect(first?.kind, JSON.stringify(r.problems.slice(0, 3))).toBe(kind);
}

/** Winds the log back to `size` the way a careful attacker would: entries, tiles, state. */
async function windBack(t: Fixture, size: number, options: { checkpoints: boolean }) {
  const db = t.db.db;
  await sql`DELETE FROM ledger_entries WHERE idx >= ${size}`.execute(db);
  const tiles = await sql<{
    level: number;
    idx: number;
    width: number;
  }>`SELECT level, idx, width FROM ledger_tiles`.execute(db);
  for (const r of tiles.rows) {
    const [level, idx, width] = [Number(r.level), Number(r.idx), Number(r.width)];
    const keep = storedCount(level, size) - idx * 256;
    if (width <= keep) continue;
    if (keep > 0) {
      // The tile straddles the cut: leave a row of exactly the width the shorter tree needs.
      const row = await sql<{
        hashes: Buffer;
      }>`SELECT hashes FROM ledger_tiles WHERE level = ${level} AND idx = ${idx} AND width = ${width}`.execute(
        db,
      );
      const prefix = (row.rows[0] as { hashes: Buffer }).hashes.subarray(0, keep * 32);
      await sql`INSERT INTO ledger_tiles (level, idx, width, hashes) VALUES (${level}, ${idx}, ${keep}, ${prefix}) ON CONFLICT DO NOTHING`.execute(
        db,
      );
    }
    await sql`DELETE FROM ledger_tiles WHERE level = ${level} AND idx = ${idx} AND width = ${width}`.execute(
      db,
    );
  }
  const kept = await sql<{ entry: Buffer }>`SELECT entry FROM ledger_entries ORDER BY idx`.execute(db);
  const root = rootFromEntries(kept.rows.map((r) => r.entry));
  await sql`UPDATE ledger_state SET size = ${size}, root = ${root}`.execute(db);
  if (options.checkpoints) await sql`DELETE FROM ledger_checkpoints WHERE size > ${size}`.execute(db);
}

describeEachDialect('ledger tamper detection', (dialect) => {
  let g: TestLedger & { witnessed: string };
  let t: Fixture | undefined;
  beforeAll(async () => {
    g = await golden(dialect);
  });
  afterAll(async () => {
    await g.db.destroy();
  });
  afterEach(async () => {
    await t?.destroy();
    t = undefined;
  });
  const setup = async () => {
    t = await fixture(g, dialect);
    return t;
  };

  it('an untouched log verifies, against the stored checkpoints and the witness copy', async () => {
    const f = await setup();
    const r = await f.ledger.verify({ checkpoint: f.witnessed, checkEncoding: true });
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({
      ok: true,
      size: 650,
      entriesChecked: 650,
      firstBadIndex: null,
      checkpointsChecked: 4,
    });
    expect(r.external).toEqual({ size: 600, ok: true });
    expect(r.latestCheckpoint).toEqual({ size: 600, ok: true });
  });

  it('one byte of a signed entry changed', async () => {
    const f = await setup();
    const e = await entryAt(f.db.db, 123);
    await sql`UPDATE ledger_entries SET entry = ${flipByte(e.entry, 40)} WHERE idx = 123`.execute(f.db.db);
    expectFirst(await f.ledger.verify(), 123, 'changed');
  });

  it('one byte of an entry not yet covered by a checkpoint changed', async () => {
    const f = await setup();
    const e = await entryAt(f.db.db, 620);
    await sql`UPDATE ledger_entries SET entry = ${flipByte(e.entry, 30)} WHERE idx = 620`.execute(f.db.db);
    expectFirst(await f.ledger.verify(), 620, 'changed');
  });

  it('an entry changed and its level-0 tile hash rewritten to match', async () => {
    const f = await setup();
    const e = flipByte((await entryAt(f.db.db, 321)).entry, 50);
    await sql`UPDATE ledger_entries SET entry = ${e} WHERE idx = 321`.execute(f.db.db);
    const rows = await sql<{
      width: number;
      hashes: Buffer;
    }>`SELECT width, hashes FROM ledger_tiles WHERE level = 0 AND idx = 1`.execute(f.db.db);
    for (const r of rows.rows) {
      const h = Buffer.from(r.hashes);
      if (h.length <= 65 * 32) continue;
      leafHash(e).copy(h, 65 * 32);
      await sql`UPDATE ledger_tiles SET hashes = ${h} WHERE level = 0 AND idx = 1 AND width = ${r.width}`.execute(
        f.db.db,
      );
    }
    // The level-1 hash above no longer matches: the subtree 256–511 is named, and the signatures
    // over 400, 500 and 600 fail.
    const r = await f.ledger.verify();
    expectFirst(r, 256, 'tile_mismatch');
    expect(r.problems[0]).toMatchObject({ level: 1 });
  });

  it('an entry changed in the unsigned part, its tile hash too (the right edge)', async () => {
    const f = await setup();
    const e = flipByte((await entryAt(f.db.db, 640)).entry, 50);
    await sql`UPDATE ledger_entries SET entry = ${e} WHERE idx = 640`.execute(f.db.db);
    const r = await f.ledger.verify();
    expectFirst(r, 640, 'changed');
  });

  it('an entry row deleted', async () => {
    const f = await setup();
    await sql`DELETE FROM ledger_entries WHERE idx = 77`.execute(f.db.db);
    const r = await f.ledger.verify();
    expectFirst(r, 77, 'missing');
    expect(r.problems).toHaveLength(1);
  });

  it('two entries swapped', async () => {
    const f = await setup();
    const a = await entryAt(f.db.db, 10);
    const b = await entryAt(f.db.db, 500);
    await sql`UPDATE ledger_entries SET entry = ${b.entry} WHERE idx = 10`.execute(f.db.db);
    await sql`UPDATE ledger_entries SET entry = ${a.entry} WHERE idx = 500`.execute(f.db.db);
    const r = await f.ledger.verify();
    expectFirst(r, 10, 'reordered');
    expect(r.problems[0]?.detail).toContain('500');
    expect(r.problems.map((p) => p.index)).toContain(500);
  });

  it('two neighbouring entries swapped', async () => {
    const f = await setup();
    const a = await entryAt(f.db.db, 30);
    const b = await entryAt(f.db.db, 31);
    await sql`UPDATE ledger_entries SET entry = ${b.entry} WHERE idx = 30`.execute(f.db.db);
    await sql`UPDATE ledger_entries SET entry = ${a.entry} WHERE idx = 31`.execute(f.db.db);
    expectFirst(await f.ledger.verify(), 30, 'reordered');
  });

  it('an entry inserted in the middle, the rest renumbered up', async () => {
    const f = await setup();
    const db = f.db.db;
    const rest = await sql<{
      idx: number;
      entry: Buffer;
    }>`SELECT idx, entry FROM ledger_entries WHERE idx >= 100 ORDER BY idx`.execute(db);
    await sql`DELETE FROM ledger_entries WHERE idx >= 100`.execute(db);
    const forged = encodeEntry({
      kind: 'access.read',
      actor: 'act_x',
      subject: 'sub_x',
      at: '2024-03-01T08:00:00.000Z',
    });
    await insertEntries(db, [
      [100, forged],
      ...rest.rows.map((r): [number, Buffer] => [Number(r.idx) + 1, r.entry]),
    ]);
    expectFirst(await f.ledger.verify(), 100, 'inserted');
  });

  it('an entry deleted and the rest renumbered down', async () => {
    const f = await setup();
    const db = f.db.db;
    const rest = await sql<{
      idx: number;
      entry: Buffer;
    }>`SELECT idx, entry FROM ledger_entries WHERE idx > 580 ORDER BY idx`.execute(db);
    await sql`DELETE FROM ledger_entries WHERE idx >= 580`.execute(db);
    await insertEntries(
      db,
      rest.rows.map((r): [number, Buffer] => [Number(r.idx) - 1, r.entry]),
    );
    expectFirst(await f.ledger.verify(), 580, 'missing');
  });

  it('an extra entry row beyond the tree', async () => {
    const f = await setup();
    const e = await entryAt(f.db.db, 3);
    await sql`INSERT INTO ledger_entries (idx, entry) VALUES (650, ${e.entry})`.execute(f.db.db);
    expectFirst(await f.ledger.verify(), 650, 'inserted');
  });

  it('a hash in a level-0 tile altered', async () => {
    const f = await setup();
    const row = await sql<{
      hashes: Buffer;
    }>`SELECT hashes FROM ledger_tiles WHERE level = 0 AND idx = 1 AND width = 256`.execute(f.db.db);
    const altered = flipByte((row.rows[0] as { hashes: Buffer }).hashes, 5 * 32 + 7);
    await sql`UPDATE ledger_tiles SET hashes = ${altered} WHERE level = 0 AND idx = 1 AND width = 256`.execute(
      f.db.db,
    );
    const r = await f.ledger.verify();
    expectFirst(r, 261, 'tile_mismatch');
    expect(r.problems[0]).toMatchObject({ level: 0, tile: 1 });
  });

  it('a hash in a level-1 tile altered', async () => {
    const f = await setup();
    const row = await sql<{
      hashes: Buffer;
      width: number;
    }>`SELECT hashes, width FROM ledger_tiles WHERE level = 1 AND idx = 0 ORDER BY width DESC`.execute(
      f.db.db,
    );
    const widest = row.rows[0] as { hashes: Buffer; width: number };
    expect(Number(widest.width)).toBe(2);
    await sql`UPDATE ledger_tiles SET hashes = ${flipByte(widest.hashes, 40)} WHERE level = 1 AND idx = 0 AND width = 2`.execute(
      f.db.db,
    );
    const r = await f.ledger.verify();
    expectFirst(r, 256, 'tile_mismatch');
    expect(r.problems[0]).toMatchObject({ level: 1, tile: 0 });
  });

  it('a tile row deleted', async () => {
    const f = await setup();
    // Tile 0/1 grew as 144, 244 and 256 wide rows; without the full one the widest left ends at 500.
    await sql`DELETE FROM ledger_tiles WHERE level = 0 AND idx = 1 AND width = 256`.execute(f.db.db);
    const r = await f.ledger.verify();
    expectFirst(r, 500, 'tile_missing');
    await sql`DELETE FROM ledger_tiles WHERE level = 0 AND idx = 1`.execute(f.db.db);
    expectFirst(await f.ledger.verify(), 256, 'tile_missing');
  });

  it('entries truncated and different ones written in their place (tiles left alone)', async () => {
    const f = await setup();
    const db = f.db.db;
    await sql`DELETE FROM ledger_entries WHERE idx >= 500`.execute(db);
    const forged: [number, Buffer][] = [];
    for (let i = 500; i < 650; i++) {
      forged.push([
        i,
        encodeEntry({
          kind: 'access.read',
          actor: 'act_y',
          subject: `sub_y${i}`,
          at: '2024-03-01T08:00:00.000Z',
        }),
      ]);
    }
    await insertEntries(db, forged);
    expectFirst(await f.ledger.verify({ checkpoint: f.witnessed }), 500, 'changed');
  });

  it('the log wound back and nothing re-appended', async () => {
    const f = await setup();
    await windBack(f, 500, { checkpoints: false });
    const r = await f.ledger.verify();
    expectFirst(r, 500, 'truncated');
    expect(r.problems.some((p) => p.detail.includes('600'))).toBe(true);
  });

  it('the log wound back to a signed size and re-appended consistently: stored checkpoints left behind', async () => {
    const f = await setup();
    await windBack(f, 500, { checkpoints: false });
    // The attacker's own copy of the service (with the key) extends the rewound tree.
    const attacker = createLedger({
      db: f.db.db,
      dialect,
      keyring: f.keyring,
      origin: ORIGIN,
      clock: f.clock,
    });
    await attacker.appendBatch(events(0, 150, 'forged'));
    // The service refuses to sign a tree that does not extend its last checkpoint.
    await expect(attacker.checkpoint()).rejects.toMatchObject({ code: 'LEDGER_INCONSISTENT' });
    const r = await f.ledger.verify();
    expectFirst(r, 500, 'checkpoint_mismatch');
  });

  it('the log wound back and re-appended, its later checkpoints deleted too: the witness copy tells', async () => {
    const f = await setup();
    await windBack(f, 500, { checkpoints: true });
    const attacker = createLedger({
      db: f.db.db,
      dialect,
      keyring: f.keyring,
      origin: ORIGIN,
      clock: f.clock,
    });
    await attacker.appendBatch(events(0, 150, 'forged'));
    await attacker.checkpoint(); // signs 650 over the rewritten history
    // Nothing inside the database contradicts the rewrite any more…
    expect((await f.ledger.verify()).ok).toBe(true);
    // …but the checkpoint a witness kept does, and the signatures bound where: from entry 500.
    const r = await f.ledger.verify({ checkpoint: f.witnessed });
    expectFirst(r, 500, 'checkpoint_mismatch');
    expect(r.external).toEqual({ size: 600, ok: false });
  });

  it('wound back between checkpoints: the index named is the first one no valid signature covers', async () => {
    const f = await setup();
    await windBack(f, 550, { checkpoints: true });
    const attacker = createLedger({
      db: f.db.db,
      dialect,
      keyring: f.keyring,
      origin: ORIGIN,
      clock: f.clock,
    });
    await attacker.appendBatch(events(0, 100, 'forged'));
    const r = await f.ledger.verify({ checkpoint: f.witnessed });
    // The signatures over 500 still hold; the witness's 600 does not. The rewrite is within 500–599.
    expectFirst(r, 500, 'checkpoint_mismatch');
    expect(r.problems[0]?.detail).toContain('599');
  });

  it('the state row altered', async () => {
    const f = await setup();
    await sql`UPDATE ledger_state SET root = ${Buffer.alloc(32, 7)}`.execute(f.db.db);
    const r = await f.ledger.verify();
    expectFirst(r, null, 'state_mismatch');
  });

  it('a stored checkpoint edited', async () => {
    const f = await setup();
    const cp = await sql<{ note: string }>`SELECT note FROM ledger_checkpoints WHERE size = 500`.execute(
      f.db.db,
    );
    const note = (cp.rows[0] as { note: string }).note.replace('\n500\n', '\n499\n');
    await sql`UPDATE ledger_checkpoints SET note = ${note} WHERE size = 500`.execute(f.db.db);
    expectFirst(await f.ledger.verify(), null, 'checkpoint_signature');
  });

  it('a pending entry altered before integration', async () => {
    const f = await setup();
    await f.db.db.transaction().execute((trx) => f.ledger.append(trx, events(9000, 2)));
    const row = await sql<{
      seq: number;
      entry: Buffer;
    }>`SELECT seq, entry FROM ledger_pending ORDER BY seq LIMIT 1`.execute(f.db.db);
    const p = row.rows[0] as { seq: number; entry: Buffer };
    await sql`UPDATE ledger_pending SET entry = ${flipByte(p.entry, 20)} WHERE seq = ${p.seq}`.execute(
      f.db.db,
    );
    const r = await f.ledger.verify();
    expectFirst(r, null, 'pending_invalid');
    expect(r.pending).toBe(2);
  });
});

/**
 * Threat: an insider edits a partial tile row (`tile/0/000.p/5`) that a wider row has since
 * superseded. The tree, the entries and the widest tiles stay intact, so a check of those alone
 * passes, while the server keeps serving the altered row to every witness or customer who checks
 * the checkpoint of that size: their proofs fail, or, with a forged hash, prove something false.
 * `verify` must compare every stored tile row with the wider ones and name the first bad one.
 */
describeEachDialect('ledger tamper detection: partial tile rows', (dialect) => {
  let t: TestLedger;
  beforeAll(async () => {
    t = await createTestLedger(dialect);
    // Batches of 3, 2 and 1: tile 0/000 is stored as rows of widths 3, 5 and 6.
    await t.ledger.appendBatch(events(0, 3));
    await t.ledger.checkpoint();
    await t.ledger.appendBatch(events(3, 2));
    await t.ledger.checkpoint();
    await t.ledger.appendBatch(events(5, 1));
    await t.ledger.checkpoint();
    await dropAppendOnly(t.db.db, dialect, 'ledger_tiles');
  });
  afterAll(async () => {
    await t.db.destroy();
  });

  const widths = async () =>
    (
      await sql<{
        width: number;
      }>`SELECT width FROM ledger_tiles WHERE level = 0 AND idx = 0 ORDER BY width`.execute(t.db.db)
    ).rows.map((r) => Number(r.width));
  const flip = async (width: number, at: number) => {
    const r = await sql<{
      hashes: Buffer;
    }>`SELECT hashes FROM ledger_tiles WHERE level = 0 AND idx = 0 AND width = ${width}`.execute(t.db.db);
    const before = Buffer.from(r.rows[0]!.hashes);
    await sql`UPDATE ledger_tiles SET hashes = ${flipByte(before, at)} WHERE level = 0 AND idx = 0 AND width = ${width}`.execute(
      t.db.db,
    );
    return async () => {
      await sql`UPDATE ledger_tiles SET hashes = ${before} WHERE level = 0 AND idx = 0 AND width = ${width}`.execute(
        t.db.db,
      );
    };
  };

  it('the untouched 6-entry log has rows .p/3, .p/5, .p/6 and verifies', async () => {
    expect(await widths()).toEqual([3, 5, 6]);
    expect((await t.ledger.verify()).problems).toEqual([]);
  });

  for (const [width, at, index] of [
    [5, 4 * 32 + 7, 4],
    [3, 1 * 32 + 31, 1],
  ] as const) {
    it(`one byte of tile/0/000.p/${width} flipped: verify fails and names that row`, async () => {
      const restore = await flip(width, at);
      try {
        const r = await t.ledger.verify();
        expect(r.ok).toBe(false);
        expect(r.firstBadIndex).toBe(index);
        expect(r.problems[0]).toMatchObject({ kind: 'tile_mismatch', level: 0, tile: 0, index });
        expect(r.problems[0]!.detail).toContain(`tile/0/000.p/${width} `);
      } finally {
        await restore();
      }
    });
  }

  it('a partial row cut short is named too', async () => {
    const r0 = await sql<{
      hashes: Buffer;
    }>`SELECT hashes FROM ledger_tiles WHERE level = 0 AND idx = 0 AND width = 5`.execute(t.db.db);
    const before = Buffer.from(r0.rows[0]!.hashes);
    await sql`UPDATE ledger_tiles SET hashes = ${before.subarray(0, 4 * 32)} WHERE level = 0 AND idx = 0 AND width = 5`.execute(
      t.db.db,
    );
    try {
      const r = await t.ledger.verify();
      expect(r.ok).toBe(false);
      expect(r.problems[0]!.detail).toContain('tile/0/000.p/5 ');
    } finally {
      await sql`UPDATE ledger_tiles SET hashes = ${before} WHERE level = 0 AND idx = 0 AND width = 5`.execute(
        t.db.db,
      );
    }
  });
});
