import { CompiledQuery } from 'kysely';
import {
  type DialectName,
  insertFlat,
  insertObjects,
  insertSql,
  MAX_BIND_PARAMS,
  placeholder,
  toBuffer,
} from '../../db/index.js';
import type { DbExecutor } from '../../lib/audit.js';
import type {
  LedgerCheckpointRow,
  LedgerEntryRow,
  LedgerLeafIndexRow,
  LedgerPendingRow,
  LedgerStateRow,
  LedgerTileRow,
} from './ledger.tables.js';

/**
 * All SQL of the ledger. The hot paths (entries, tiles, pending) are multi-row INSERTs through
 * src/db/bulk.ts: building a Kysely AST for thousands of rows costs more than the insert itself on
 * SQLite. The SQL text of each shape is built once and reused. Nothing here updates or deletes an
 * entry, a tile or a checkpoint: the only UPDATE is the compare-and-swap of the single state row,
 * and the only DELETE empties integrated rows out of the pending queue.
 */
export interface LedgerRepo {
  ensureState(db: DbExecutor, emptyRoot: Buffer, at: string): Promise<void>;
  readState(db: DbExecutor): Promise<{ size: number; root: Buffer } | undefined>;
  /** UPDATE … WHERE size = old; false when another sequencer moved the state first. */
  casState(db: DbExecutor, oldSize: number, size: number, root: Buffer, at: string): Promise<boolean>;
  insertEntries(db: DbExecutor, first: number, entries: readonly Buffer[]): Promise<void>;
  /**
   * A whole append in as few statements as the database allows: the entries from index `first`,
   * the tiles, and the compare-and-swap of the state row from (`first`, `oldRoot`) to (`size`,
   * `root`). PostgreSQL: one statement (the inserts as data-modifying CTEs); SQLite: three, in
   * process. False when the state row was not at (`first`, `oldRoot`): the caller's transaction
   * must then roll back, since the rows were written.
   */
  appendAll(
    db: DbExecutor,
    a: {
      first: number;
      entries: readonly Buffer[];
      tiles: readonly LedgerTileRow[];
      oldRoot: Buffer;
      size: number;
      root: Buffer;
      at: string;
    },
  ): Promise<boolean>;
  /** Rows of bound parameters appendAll takes for so many entries and tiles (its callers split above the limit). */
  appendAllParams(entries: number, tiles: number): number;
  /** Copies pending rows (by seq, in seq order) into entries from index `first`; returns rows copied. */
  moveFromPending(db: DbExecutor, first: number, seqs: readonly number[]): Promise<number>;
  insertTiles(db: DbExecutor, tiles: readonly LedgerTileRow[]): Promise<void>;
  insertPending(db: DbExecutor, leafHashes: readonly Buffer[], entries: readonly Buffer[]): Promise<void>;
  readPendingHashes(db: DbExecutor, limit: number): Promise<{ seq: number; leafHash: Buffer }[]>;
  readPending(db: DbExecutor, afterSeq: number, limit: number): Promise<LedgerPendingRow[]>;
  deletePending(db: DbExecutor, seqs: readonly number[]): Promise<number>;
  countPending(db: DbExecutor): Promise<number>;
  pendingHasLeaf(db: DbExecutor, leafHash: Buffer): Promise<boolean>;
  /** The widest row of a tile. */
  loadTile(db: DbExecutor, level: number, idx: number): Promise<LedgerTileRow | undefined>;
  /** Full (width 256) rows of a level with fromIdx ≤ idx < toIdx, in order. */
  readFullTiles(db: DbExecutor, level: number, fromIdx: number, toIdx: number): Promise<LedgerTileRow[]>;
  readEntries(db: DbExecutor, from: number, to: number, limit: number): Promise<LedgerEntryRow[]>;
  /**
   * The entries with from ≤ idx < to in one row: how many, their bytes concatenated and, in the
   * same order, each one's index and length (`idx,len,idx,len,…`). The verifier reads the whole
   * log this way, without an object and a Buffer per entry. No ORDER BY inside the aggregates
   * (it costs a sort the range scan makes needless): the caller checks the indexes come in order.
   */
  readPackedEntries(db: DbExecutor, from: number, to: number): Promise<PackedEntries>;
  /**
   * SQLite only: the connection's memory-map size (0 elsewhere), and setting it. A full pass over
   * the log reads through the page cache instead, so it does not map the whole file (verify.ts).
   */
  mmapSize(db: DbExecutor): Promise<number>;
  setMmapSize(db: DbExecutor, bytes: number): Promise<void>;
  /** The smallest entry index ≥ `from`, if any. */
  firstEntryFrom(db: DbExecutor, from: number): Promise<number | undefined>;
  insertLeafIndex(db: DbExecutor, rows: readonly LedgerLeafIndexRow[]): Promise<void>;
  /** One bucket's rows of every epoch, by epoch. */
  readLeafBucket(db: DbExecutor, bucket: number): Promise<{ epoch: number; data: Buffer }[]>;
  /** One epoch's rows, by bucket. */
  readLeafEpoch(db: DbExecutor, epoch: number): Promise<{ bucket: number; data: Buffer }[]>;
  maxLeafEpoch(db: DbExecutor): Promise<number | undefined>;
  /**
   * Every row of the tiles that have a partial row (width < 256), in (level, idx, width) order,
   * after the given key, at most `limit` rows: the rows a verifier compares with each other.
   */
  readTilesWithPartials(
    db: DbExecutor,
    after: { level: number; idx: number; width: number } | undefined,
    limit: number,
  ): Promise<LedgerTileRow[]>;
  /** Largest tile index stored at a level. */
  maxTileIndex(db: DbExecutor, level: number): Promise<number | undefined>;
  insertCheckpoint(db: DbExecutor, row: LedgerCheckpointRow): Promise<void>;
  latestCheckpoint(db: DbExecutor): Promise<LedgerCheckpointRow | undefined>;
  checkpointAt(db: DbExecutor, size: number): Promise<LedgerCheckpointRow | undefined>;
  listCheckpoints(db: DbExecutor): Promise<LedgerCheckpointRow[]>;
}

async function run(db: DbExecutor, sqlText: string, params: readonly unknown[]) {
  return db.executeQuery(CompiledQuery.raw(sqlText, params as unknown[]));
}

async function rows<R>(db: DbExecutor, sqlText: string, params: readonly unknown[]): Promise<R[]> {
  return (await run(db, sqlText, params)).rows as R[];
}

const num = (v: unknown): number => Number(v);

export interface PackedEntries {
  count: number;
  data: Buffer;
  /** `idx,len,idx,len,…` in the order of `data`. */
  index: string;
}

function tileRow(r: Record<string, unknown>): LedgerTileRow {
  return { level: num(r.level), idx: num(r.idx), width: num(r.width), hashes: toBuffer(r.hashes) };
}

function checkpointRow(r: Record<string, unknown>): LedgerCheckpointRow {
  return {
    size: num(r.size),
    root: toBuffer(r.root),
    note: String(r.note),
    created_at: String(r.created_at),
  };
}

const ENTRY_COLUMNS = ['idx', 'entry'] as const;
const TILE_COLUMNS = ['level', 'idx', 'width', 'hashes'] as const satisfies readonly (keyof LedgerTileRow)[];
const PENDING_COLUMNS = ['leaf_hash', 'entry'] as const;
const LEAF_INDEX_COLUMNS = [
  'bucket',
  'epoch',
  'data',
] as const satisfies readonly (keyof LedgerLeafIndexRow)[];

export function createLedgerRepo(dialect: DialectName): LedgerRepo {
  // Placeholders are the one SQL difference the raw statements have (src/db/dialect.ts).
  const p = (i: number) => placeholder(dialect, i);

  function inList(count: number, start = 1): string {
    const t: string[] = [];
    for (let i = 0; i < count; i++) t.push(p(start + i));
    return t.join(',');
  }

  return {
    async ensureState(db, emptyRoot, at) {
      await run(
        db,
        `INSERT INTO ledger_state (id, size, root, updated_at) VALUES (1, 0, ${p(1)}, ${p(2)}) ON CONFLICT (id) DO NOTHING`,
        [emptyRoot, at],
      );
    },

    async readState(db) {
      const r = (await rows<LedgerStateRow>(db, 'SELECT size, root FROM ledger_state WHERE id = 1', []))[0];
      return r ? { size: num(r.size), root: toBuffer(r.root) } : undefined;
    },

    async casState(db, oldSize, size, root, at) {
      const res = await run(
        db,
        `UPDATE ledger_state SET size = ${p(1)}, root = ${p(2)}, updated_at = ${p(3)} WHERE id = 1 AND size = ${p(4)}`,
        [size, root, at, oldSize],
      );
      return res.numAffectedRows === 1n;
    },

    async insertEntries(db, first, entries) {
      // The hot path: parameters are laid out directly, two per row, without per-row arrays.
      const params: unknown[] = new Array(entries.length * 2);
      for (let i = 0; i < entries.length; i++) {
        params[2 * i] = first + i;
        params[2 * i + 1] = entries[i];
      }
      await insertFlat(db, 'ledger_entries', ENTRY_COLUMNS, params);
    },

    appendAllParams(entries, tiles) {
      return entries * ENTRY_COLUMNS.length + tiles * TILE_COLUMNS.length + 5;
    },

    async appendAll(db, a) {
      const n = a.entries.length;
      const cas = (i: number) =>
        `UPDATE ledger_state SET size = ${p(i)}, root = ${p(i + 1)}, updated_at = ${p(i + 2)} ` +
        `WHERE id = 1 AND size = ${p(i + 3)} AND root = ${p(i + 4)}`;
      const casParams = [a.size, a.root, a.at, a.first, a.oldRoot];
      if (dialect === 'sqlite') {
        await this.insertEntries(db, a.first, a.entries);
        await this.insertTiles(db, a.tiles);
        return (await run(db, cas(1), casParams)).numAffectedRows === 1n;
      }
      const params: unknown[] = new Array(n * 2 + a.tiles.length * 4);
      for (let i = 0; i < n; i++) {
        params[2 * i] = a.first + i;
        params[2 * i + 1] = a.entries[i];
      }
      let at = 2 * n;
      for (const t of a.tiles) {
        params[at++] = t.level;
        params[at++] = t.idx;
        params[at++] = t.width;
        params[at++] = t.hashes;
      }
      const entriesSql = insertSql(dialect, 'ledger_entries', ENTRY_COLUMNS, n);
      // The tiles' placeholders follow the entries': the shared text is renumbered from 2n + 1.
      const tilesSql = a.tiles.length
        ? `, t AS (${insertSql(dialect, 'ledger_tiles', TILE_COLUMNS, a.tiles.length).replace(
            /\$(\d+)/g,
            (_, d: string) => `$${Number(d) + 2 * n}`,
          )})`
        : '';
      const res = await run(db, `WITH e AS (${entriesSql})${tilesSql} ${cas(at + 1)}`, [
        ...params,
        ...casParams,
      ]);
      return res.numAffectedRows === 1n;
    },

    async moveFromPending(db, first, seqs) {
      let moved = 0;
      const per = MAX_BIND_PARAMS - 1;
      for (let at = 0; at < seqs.length; at += per) {
        const chunk = seqs.slice(at, at + per);
        // Indexes follow seq order, the same order the caller hashed the leaves in.
        const res = await run(
          db,
          `INSERT INTO ledger_entries (idx, entry) ` +
            `SELECT CAST(${p(1)} AS bigint) + ROW_NUMBER() OVER (ORDER BY seq) - 1, entry ` +
            `FROM ledger_pending WHERE seq IN (${inList(chunk.length, 2)})`,
          [first + at, ...chunk],
        );
        moved += Number(res.numAffectedRows ?? 0n);
      }
      return moved;
    },

    async insertTiles(db, tiles) {
      await insertObjects(db, 'ledger_tiles', TILE_COLUMNS, tiles);
    },

    async insertPending(db, leafHashes, entries) {
      const params: unknown[] = new Array(entries.length * 2);
      for (let i = 0; i < entries.length; i++) {
        params[2 * i] = leafHashes[i];
        params[2 * i + 1] = entries[i];
      }
      await insertFlat(db, 'ledger_pending', PENDING_COLUMNS, params);
    },

    async readPendingHashes(db, limit) {
      const rs = await rows<Record<string, unknown>>(
        db,
        `SELECT seq, leaf_hash FROM ledger_pending ORDER BY seq LIMIT ${p(1)}`,
        [limit],
      );
      return rs.map((r) => ({ seq: num(r.seq), leafHash: toBuffer(r.leaf_hash) }));
    },

    async readPending(db, afterSeq, limit) {
      const rs = await rows<Record<string, unknown>>(
        db,
        `SELECT seq, leaf_hash, entry FROM ledger_pending WHERE seq > ${p(1)} ORDER BY seq LIMIT ${p(2)}`,
        [afterSeq, limit],
      );
      return rs.map((r) => ({ seq: num(r.seq), leaf_hash: toBuffer(r.leaf_hash), entry: toBuffer(r.entry) }));
    },

    async deletePending(db, seqs) {
      let deleted = 0;
      for (let at = 0; at < seqs.length; at += MAX_BIND_PARAMS) {
        const chunk = seqs.slice(at, at + MAX_BIND_PARAMS);
        const res = await run(db, `DELETE FROM ledger_pending WHERE seq IN (${inList(chunk.length)})`, chunk);
        deleted += Number(res.numAffectedRows ?? 0n);
      }
      return deleted;
    },

    async countPending(db) {
      const r = (await rows<Record<string, unknown>>(db, 'SELECT COUNT(*) AS n FROM ledger_pending', []))[0];
      return num(r?.n ?? 0);
    },

    async pendingHasLeaf(db, leafHash) {
      const rs = await rows(db, `SELECT 1 AS x FROM ledger_pending WHERE leaf_hash = ${p(1)} LIMIT 1`, [
        leafHash,
      ]);
      return rs.length > 0;
    },

    async loadTile(db, level, idx) {
      const r = (
        await rows<Record<string, unknown>>(
          db,
          `SELECT level, idx, width, hashes FROM ledger_tiles WHERE level = ${p(1)} AND idx = ${p(2)} ` +
            `ORDER BY width DESC LIMIT 1`,
          [level, idx],
        )
      )[0];
      return r ? tileRow(r) : undefined;
    },

    async readFullTiles(db, level, fromIdx, toIdx) {
      const rs = await rows<Record<string, unknown>>(
        db,
        `SELECT level, idx, width, hashes FROM ledger_tiles WHERE level = ${p(1)} AND idx >= ${p(2)} AND idx < ${p(3)} ` +
          `AND width = 256 ORDER BY idx`,
        [level, fromIdx, toIdx],
      );
      return rs.map(tileRow);
    },

    async readEntries(db, from, to, limit) {
      const rs = await rows<Record<string, unknown>>(
        db,
        `SELECT idx, entry FROM ledger_entries WHERE idx >= ${p(1)} AND idx < ${p(2)} ORDER BY idx LIMIT ${p(3)}`,
        [from, to, limit],
      );
      return rs.map((r) => ({ idx: num(r.idx), entry: toBuffer(r.entry) }));
    },

    async readPackedEntries(db, from, to) {
      // Bytes as stored (a value that is not a blob is taken as its bytes, as the drivers give
      // them); octet_length counts bytes on both databases.
      const sqlText =
        dialect === 'sqlite'
          ? "SELECT COUNT(*) AS n, CAST(group_concat(CAST(entry AS BLOB), x'') AS BLOB) AS data, " +
            "group_concat(idx || ',' || octet_length(entry), ',') AS ix FROM ledger_entries " +
            `WHERE idx >= ${p(1)} AND idx < ${p(2)}`
          : "SELECT COUNT(*) AS n, string_agg(entry, ''::bytea) AS data, " +
            "string_agg(idx::text || ',' || octet_length(entry)::text, ',') AS ix FROM ledger_entries " +
            `WHERE idx >= ${p(1)} AND idx < ${p(2)}`;
      const r = (await rows<Record<string, unknown>>(db, sqlText, [from, to]))[0] ?? {};
      return {
        count: num(r.n ?? 0),
        data: r.data === null || r.data === undefined ? Buffer.alloc(0) : toBuffer(r.data),
        index: String(r.ix ?? ''),
      };
    },

    async mmapSize(db) {
      if (dialect !== 'sqlite') return 0;
      const r = (await rows<Record<string, unknown>>(db, 'PRAGMA mmap_size', []))[0];
      return num(r?.mmap_size ?? 0);
    },

    async setMmapSize(db, bytes) {
      // A number we computed, never input (PRAGMA takes no bound parameter).
      if (dialect === 'sqlite') await run(db, `PRAGMA mmap_size = ${Math.max(0, Math.floor(bytes))}`, []);
    },

    async firstEntryFrom(db, from) {
      const r = (
        await rows<Record<string, unknown>>(
          db,
          `SELECT idx FROM ledger_entries WHERE idx >= ${p(1)} ORDER BY idx LIMIT 1`,
          [from],
        )
      )[0];
      return r ? num(r.idx) : undefined;
    },

    async readTilesWithPartials(db, after, limit) {
      const from = after ?? { level: -1, idx: -1, width: -1 };
      const rs = await rows<Record<string, unknown>>(
        db,
        'SELECT t.level, t.idx, t.width, t.hashes FROM ledger_tiles t ' +
          'WHERE EXISTS (SELECT 1 FROM ledger_tiles q WHERE q.level = t.level AND q.idx = t.idx AND q.width < 256) ' +
          `AND (t.level > ${p(1)} OR (t.level = ${p(2)} AND (t.idx > ${p(3)} OR (t.idx = ${p(4)} AND t.width > ${p(5)})))) ` +
          `ORDER BY t.level, t.idx, t.width LIMIT ${p(6)}`,
        [from.level, from.level, from.idx, from.idx, from.width, limit],
      );
      return rs.map(tileRow);
    },

    async insertLeafIndex(db, rowsIn) {
      await insertObjects(db, 'ledger_leaf_index', LEAF_INDEX_COLUMNS, rowsIn);
    },

    async readLeafBucket(db, bucket) {
      const rs = await rows<Record<string, unknown>>(
        db,
        `SELECT epoch, data FROM ledger_leaf_index WHERE bucket = ${p(1)} ORDER BY epoch`,
        [bucket],
      );
      return rs.map((r) => ({ epoch: num(r.epoch), data: toBuffer(r.data) }));
    },

    async readLeafEpoch(db, epoch) {
      const rs = await rows<Record<string, unknown>>(
        db,
        `SELECT bucket, data FROM ledger_leaf_index WHERE epoch = ${p(1)} ORDER BY bucket`,
        [epoch],
      );
      return rs.map((r) => ({ bucket: num(r.bucket), data: toBuffer(r.data) }));
    },

    async maxLeafEpoch(db) {
      const r = (
        await rows<Record<string, unknown>>(db, 'SELECT MAX(epoch) AS m FROM ledger_leaf_index', [])
      )[0];
      return r && r.m !== null && r.m !== undefined ? num(r.m) : undefined;
    },

    async maxTileIndex(db, level) {
      const r = (
        await rows<Record<string, unknown>>(
          db,
          `SELECT MAX(idx) AS m FROM ledger_tiles WHERE level = ${p(1)}`,
          [level],
        )
      )[0];
      return r && r.m !== null && r.m !== undefined ? num(r.m) : undefined;
    },

    async insertCheckpoint(db, row) {
      await run(
        db,
        `INSERT INTO ledger_checkpoints (size, root, note, created_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})`,
        [row.size, row.root, row.note, row.created_at],
      );
    },

    async latestCheckpoint(db) {
      const r = (
        await rows<Record<string, unknown>>(
          db,
          'SELECT size, root, note, created_at FROM ledger_checkpoints ORDER BY size DESC LIMIT 1',
          [],
        )
      )[0];
      return r ? checkpointRow(r) : undefined;
    },

    async checkpointAt(db, size) {
      const r = (
        await rows<Record<string, unknown>>(
          db,
          `SELECT size, root, note, created_at FROM ledger_checkpoints WHERE size = ${p(1)}`,
          [size],
        )
      )[0];
      return r ? checkpointRow(r) : undefined;
    },

    async listCheckpoints(db) {
      const rs = await rows<Record<string, unknown>>(
        db,
        'SELECT size, root, note, created_at FROM ledger_checkpoints ORDER BY size',
        [],
      );
      return rs.map(checkpointRow);
    },
  };
}
