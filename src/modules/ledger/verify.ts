import type { Kysely } from 'kysely';
import type { DialectName } from '../../db/index.js';
import type { DbExecutor } from '../../lib/audit.js';
import { decodeEntry } from './entry.js';
import { type HashedRun, hashEntries, hashInline, hashPacked } from './hashpool.js';
import { BUCKETS, buildEpochIndex, EPOCH } from './leafindex.js';
import type { LedgerRepo } from './ledger.repo.js';
import type { LedgerEntryRow, LedgerTileRow } from './ledger.tables.js';
import { findLeaf } from './lookup.js';
import { CompactRange, EMPTY_ROOT, HASH_SIZE, leafHash, verifyConsistency } from './merkle.js';
import { formatVkey, type ParsedCheckpoint, parseVkey, verifyCheckpoint } from './note.js';
import { storedCount, TILE_HEIGHT, TILE_WIDTH, TileHashes, tilePath, tileWidthAt } from './tiles.js';
import { TreeReader } from './treereader.js';

/**
 * The full verifier: recomputes every leaf hash from the entry bytes and the whole tree from them,
 * and checks it against every stored tile, the state row, every stored signed checkpoint and,
 * optionally, an external checkpoint (one a witness or a regulator kept). It reads inside one
 * snapshot, so a sequencer running meanwhile does not disturb it.
 *
 * Which side is wrong when an entry and a tile disagree is decided by the signatures: where a signed
 * checkpoint reproduced from the entries covers the index, the entries are authentic and the tile
 * was altered; otherwise the entry is named, with the most specific explanation the neighbouring
 * hashes support (reordered, inserted, missing, changed).
 */
export type ProblemKind =
  | 'changed'
  | 'missing'
  | 'inserted'
  | 'reordered'
  | 'tile_mismatch'
  | 'tile_missing'
  | 'checkpoint_mismatch'
  | 'checkpoint_signature'
  | 'truncated'
  | 'state_mismatch'
  | 'leaf_index_mismatch'
  | 'entry_malformed'
  | 'pending_invalid';

export interface VerifyProblem {
  kind: ProblemKind;
  /** First leaf index concerned; null when the problem is not tied to one (a bad signature). */
  index: number | null;
  detail: string;
  level?: number;
  tile?: number;
}

export interface VerifyOptions {
  /** A signed checkpoint kept outside the database (witness, regulator), as note text. */
  checkpoint?: string;
  /** Also decode every entry and require its canonical encoding (slower). */
  checkEncoding?: boolean;
  /** Most problems listed (default 100); `problemCount` has the total. */
  maxProblems?: number;
  onProgress?(done: number, total: number): void;
}

export interface VerifyReport {
  ok: boolean;
  origin: string;
  /** Integrated size per the state row. */
  size: number;
  /** Root recomputed from the entries, hex. */
  root: string;
  entriesChecked: number;
  tilesChecked: number;
  pending: number;
  checkpointsChecked: number;
  latestCheckpoint: { size: number; ok: boolean } | null;
  external: { size: number; ok: boolean } | null;
  firstBadIndex: number | null;
  problemCount: number;
  problems: VerifyProblem[];
  durationMs: number;
}

export interface VerifyContext {
  db: Kysely<any>;
  dialect: DialectName;
  repo: LedgerRepo;
  origin: string;
  publicKeyRaw: Buffer;
}

const CHUNK = 8192;
const IN_FLIGHT = 3;
/** Bytes of entries a chunk aims at (typical entries are ~200 bytes: CHUNK of them). */
const CHUNK_BYTES = 4 * 2 ** 20;
/** Tile rows (up to 8 KiB each) read at a time when comparing partial rows: at most 8 MiB. */
const TILE_ROWS = 1024;
const PREFETCH_TILES = 32;

/** Sequential reader of one tile level: the widest row of each tile, fetched in runs of full tiles. */
class LevelReader {
  private readonly full = new Map<number, Buffer>();
  private fetchedTo = 0;
  private current: { tile: number; bytes: Buffer | undefined } = { tile: -1, bytes: undefined };
  tilesRead = 0;

  constructor(
    private readonly trx: DbExecutor,
    private readonly repo: LedgerRepo,
    private readonly level: number,
    private readonly size: number,
  ) {}

  /** Loads the tile holding `pos` (call when `pos` crosses into a new tile). */
  async ensure(pos: number): Promise<void> {
    const tile = Math.floor(pos / TILE_WIDTH);
    if (this.current.tile === tile) return;
    const expected = tileWidthAt(this.level, tile, this.size);
    let bytes: Buffer | undefined;
    if (expected === TILE_WIDTH) {
      if (tile >= this.fetchedTo) {
        this.full.clear();
        const to = tile + PREFETCH_TILES;
        for (const r of await this.repo.readFullTiles(this.trx, this.level, tile, to))
          this.full.set(r.idx, r.hashes);
        this.fetchedTo = to;
      }
      bytes = this.full.get(tile);
    }
    // The right-edge tile, or a full row that is missing: take the widest row there is.
    bytes ??= (await this.repo.loadTile(this.trx, this.level, tile))?.hashes;
    this.current = { tile, bytes };
    this.tilesRead += 1;
  }

  /** Whether the tile holding `pos` is the one loaded. */
  ready(pos: number): boolean {
    return this.current.tile === Math.floor(pos / TILE_WIDTH);
  }

  /** Byte offset of the stored hash at `pos` in the loaded tile (after ensure), or -1 when absent. */
  offset(pos: number): number {
    const off = (pos % TILE_WIDTH) * HASH_SIZE;
    const b = this.current.bytes;
    return b && off + HASH_SIZE <= b.length ? off : -1;
  }

  /** Whether the loaded tile is full and holds exactly these 256 hashes. */
  tileEquals(hashes: Buffer): boolean {
    const b = this.current.bytes;
    const size = TILE_WIDTH * HASH_SIZE;
    return !!b && b.length >= size && b.compare(hashes, 0, size, 0, size) === 0;
  }

  equals(pos: number, hash: Buffer): boolean {
    const off = this.offset(pos);
    return off >= 0 && (this.current.bytes as Buffer).compare(hash, 0, HASH_SIZE, off, off + HASH_SIZE) === 0;
  }

  hash(pos: number): Buffer | undefined {
    const off = this.offset(pos);
    return off >= 0 ? Buffer.from((this.current.bytes as Buffer).subarray(off, off + HASH_SIZE)) : undefined;
  }
}

interface Signed {
  size: number;
  root: Buffer;
  source: 'stored' | 'external';
}

interface Level0Mismatch {
  index: number;
  e: Buffer;
}

/**
 * Every stored tile row, not only the widest: the server serves a partial row (`.p/W`) to anyone
 * checking the checkpoint of that size, so a partial row altered after a wider one was written
 * would mislead a witness while the tree itself stays intact. Each narrower row must be a byte
 * prefix of the widest row of its tile (and so of every row in between), whose every hash the main
 * pass compares with the recomputed tree; a row whose length is not its width is bad too. Returns
 * the bad rows in (level, tile, width) order, the first bad hash of each named.
 */
async function checkPartialTileRows(trx: DbExecutor, repo: LedgerRepo): Promise<VerifyProblem[]> {
  const problems: VerifyProblem[] = [];
  let group: LedgerTileRow[] = [];
  const settle = () => {
    const widest = group[group.length - 1];
    if (!widest) return;
    for (const row of group) {
      const path = tilePath(row.level, row.idx, row.width);
      const len = row.width * HASH_SIZE;
      let bad = row.hashes.length === len ? -1 : Math.min(row.hashes.length, len) / HASH_SIZE;
      if (bad < 0 && row !== widest) {
        for (let k = 0; k < row.width && bad < 0; k++) {
          const off = k * HASH_SIZE;
          if (row.hashes.compare(widest.hashes, off, off + HASH_SIZE, off, off + HASH_SIZE) !== 0) bad = k;
        }
      }
      if (bad < 0) continue;
      const pos = row.idx * TILE_WIDTH + Math.floor(bad);
      problems.push({
        kind: 'tile_mismatch',
        index: pos * TILE_WIDTH ** row.level,
        level: row.level,
        tile: row.idx,
        detail: `${path} is not a prefix of ${tilePath(widest.level, widest.idx, widest.width)}: its hash at position ${Math.floor(bad)} differs`,
      });
    }
    group = [];
  };
  let after: { level: number; idx: number; width: number } | undefined;
  for (;;) {
    const rows = await repo.readTilesWithPartials(trx, after, TILE_ROWS);
    for (const r of rows) {
      const head = group[0];
      if (head && (head.level !== r.level || head.idx !== r.idx)) settle();
      group.push(r);
    }
    const last = rows[rows.length - 1];
    if (!last || rows.length < TILE_ROWS) break;
    after = { level: last.level, idx: last.idx, width: last.width };
  }
  settle();
  return problems;
}

/**
 * What the steps of one verification share: the snapshot they read, the options, and what each step
 * found for the ones after it. The steps run in order, each named for its job; `problems` collects
 * what they report (its order matters only between problems of the same index and kind).
 */
interface Run {
  readonly trx: DbExecutor;
  readonly repo: LedgerRepo;
  readonly origin: string;
  readonly verifier: ReturnType<typeof parseVkey>;
  readonly options: VerifyOptions;
  readonly maxProblems: number;
  /** Integrated size and root per the state row. */
  readonly n: number;
  readonly state: { size: number; root: Buffer };
  readonly problems: VerifyProblem[];

  // checkSignatures
  stored: { size: number; root: Buffer; note: string }[];
  /** Checkpoints with a valid signature: only these are evidence. */
  signed: Signed[];
  external: Signed | undefined;
  externalBad: boolean;
  /** Tree sizes whose recomputed root is kept (every signed size within the tree, and n). */
  captureSizes: number[];
  capture: number;
  roots: Map<number, Buffer>;

  // rebuildTree
  levels: LevelReader[];
  range: CompactRange;
  /** Called by the range for each node it completes (see nodeQueuer). */
  onNode: (height: number, hash: Buffer) => void;
  upperQueue: { level: number; pos: number; hash: Buffer }[];
  upperCounts: number[];
  mismatches0: Level0Mismatch[];
  entryProblems: VerifyProblem[];
  tileMissing: VerifyProblem[];
  upperMismatch: { level: number; pos: number }[];
  missingRuns: [number, number][];
  entriesChecked: number;
  /** The leaf hashes of the current epoch; its leaf index is rebuilt from them and compared. */
  epochBuf: Buffer;
  leafIndexBad: number[];
  /** Root recomputed from the entries. */
  rootE: Buffer;

  // compareCheckpoints
  /** The largest signed size the entries reproduce, below any that they do not. */
  lastGood: number;
  firstBad: Signed | undefined;

  // nameMismatches
  tilesGiveState: boolean | undefined;

  // checkPending
  pending: number;
}

export async function verifyLedger(ctx: VerifyContext, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = Date.now();
  const { db, repo, origin } = ctx;
  const verifier = parseVkey(formatVkey(origin, ctx.publicKeyRaw));
  const maxProblems = options.maxProblems ?? 100;

  const run = async (trx: DbExecutor): Promise<VerifyReport> => {
    const state = (await repo.readState(trx)) ?? { size: 0, root: EMPTY_ROOT };
    const r: Run = {
      trx,
      repo,
      origin,
      verifier,
      options,
      maxProblems,
      n: state.size,
      state,
      problems: [],
      stored: [],
      signed: [],
      external: undefined,
      externalBad: false,
      captureSizes: [],
      capture: 0,
      roots: new Map(),
      levels: [],
      range: new CompactRange(),
      onNode: () => undefined,
      upperQueue: [],
      upperCounts: [],
      mismatches0: [],
      entryProblems: [],
      tileMissing: [],
      upperMismatch: [],
      missingRuns: [],
      entriesChecked: 0,
      epochBuf: Buffer.alloc(EPOCH * HASH_SIZE),
      leafIndexBad: [],
      rootE: EMPTY_ROOT,
      lastGood: 0,
      firstBad: undefined,
      tilesGiveState: undefined,
      pending: 0,
    };
    r.onNode = nodeQueuer(r);
    await checkSignatures(r);
    await rebuildTree(r);
    await checkBeyondTree(r);
    compareCheckpoints(r);
    await nameMismatches(r);
    await reportUnexplained(r);
    await checkRewritten(r);
    await checkPending(r);
    return report(r, started);
  };

  // One snapshot for the whole check: REPEATABLE READ on PostgreSQL; a read transaction on SQLite.
  const tx = db.transaction();
  if (ctx.dialect === 'postgres') return tx.setIsolationLevel('repeatable read').execute(run);
  // SQLite maps the database file into memory (src/db/database.ts): a pass over the whole log would
  // bring all of it into the process's resident set (a 10M-entry log is ~2.8 GB). The pass reads
  // each page once, so it reads through SQLite's bounded page cache instead, and restores the
  // setting after.
  const before = await repo.mmapSize(db);
  if (before > 0) await repo.setMmapSize(db, 0);
  try {
    return await tx.execute(run);
  } finally {
    if (before > 0) await repo.setMmapSize(db, before);
  }
}

/** Signed checkpoints, stored and external: signature first; only a valid one is evidence. */
async function checkSignatures(r: Run): Promise<void> {
  const { problems, verifier, origin, options, n } = r;
  r.stored = await r.repo.listCheckpoints(r.trx);
  for (const row of r.stored) {
    let cp: ParsedCheckpoint | undefined;
    try {
      cp = verifyCheckpoint(row.note, verifier, origin);
    } catch {
      cp = undefined;
    }
    if (!cp || cp.size !== row.size || !cp.root.equals(row.root)) {
      problems.push({
        kind: 'checkpoint_signature',
        index: null,
        detail: `stored checkpoint of size ${row.size} does not carry a valid signature of this log over its size and root`,
      });
      continue;
    }
    r.signed.push({ size: cp.size, root: cp.root, source: 'stored' });
  }
  if (options.checkpoint !== undefined) {
    try {
      const cp = verifyCheckpoint(options.checkpoint, verifier, origin);
      r.external = { size: cp.size, root: cp.root, source: 'external' };
      r.signed.push(r.external);
    } catch {
      r.externalBad = true;
      problems.push({
        kind: 'checkpoint_signature',
        index: null,
        detail: 'the external checkpoint is not a valid signed checkpoint of this log',
      });
    }
  }
  r.captureSizes = [...new Set([...r.signed.map((s) => s.size).filter((s) => s <= n), n])].sort(
    (a, b) => a - b,
  );
  while (r.captureSizes[r.capture] === 0) {
    r.roots.set(0, EMPTY_ROOT);
    r.capture += 1;
  }
}

function levelAt(r: Run, l: number): LevelReader {
  let reader = r.levels[l];
  if (!reader) {
    reader = new LevelReader(r.trx, r.repo, l, r.n);
    r.levels[l] = reader;
  }
  return reader;
}

/** Queues each stored hash above level 0 the rebuilt tree completes, for drainUpper. */
function nodeQueuer(r: Run): (height: number, hash: Buffer) => void {
  return (height, hash) => {
    if (height % TILE_HEIGHT !== 0) return;
    const level = height / TILE_HEIGHT;
    const pos = r.upperCounts[level] ?? 0;
    r.upperCounts[level] = pos + 1;
    r.upperQueue.push({ level, pos, hash });
  };
}

/** Keeps the root of every size in captureSizes the tree has just reached. */
function captureRoots(r: Run): void {
  while (r.captureSizes[r.capture] === r.range.size) {
    r.roots.set(r.range.size, r.range.root());
    r.capture += 1;
  }
}

/** The leaf index of a completed epoch, rebuilt from the recomputed leaf hashes, against the stored one. */
async function checkEpoch(r: Run, epoch: number): Promise<void> {
  const expectedRows = buildEpochIndex(r.epochBuf);
  const storedRows = new Map((await r.repo.readLeafEpoch(r.trx, epoch)).map((x) => [x.bucket, x.data]));
  if (expectedRows.some((d, b) => !storedRows.get(b)?.equals(d)) || storedRows.size !== BUCKETS) {
    r.leafIndexBad.push(epoch);
  }
}

/** Adds a leaf to the rebuilt tree; checks the epoch's leaf index when the leaf completes one. */
async function pushLeaf(r: Run, leaf: Buffer): Promise<void> {
  leaf.copy(r.epochBuf, (r.range.size % EPOCH) * HASH_SIZE);
  r.range.append(leaf, r.onNode);
  captureRoots(r);
  if (r.range.size % EPOCH === 0) await checkEpoch(r, r.range.size / EPOCH - 1);
}

function noteTileMissing(r: Run, level: number, pos: number): void {
  const tile = Math.floor(pos / TILE_WIDTH);
  const last = r.tileMissing[r.tileMissing.length - 1];
  if (last && last.level === level && last.tile === tile) return;
  r.tileMissing.push({
    kind: 'tile_missing',
    index: pos * TILE_WIDTH ** level,
    level,
    tile,
    detail: `tile ${level}/${tile} has no stored hash at position ${pos % TILE_WIDTH}`,
  });
}

/** Compares the queued hashes above level 0 with the stored tiles. */
async function drainUpper(r: Run): Promise<void> {
  for (const u of r.upperQueue) {
    const reader = levelAt(r, u.level);
    if (!reader.ready(u.pos)) await reader.ensure(u.pos);
    if (reader.offset(u.pos) < 0) noteTileMissing(r, u.level, u.pos);
    else if (!reader.equals(u.pos, u.hash)) r.upperMismatch.push({ level: u.level, pos: u.pos });
  }
  r.upperQueue.length = 0;
}

/** An index with no entry row: carry on with the tile's hash so the rest is still checked. */
async function missingAt(r: Run, i: number): Promise<void> {
  const last = r.missingRuns[r.missingRuns.length - 1];
  if (last && last[1] === i) last[1] = i + 1;
  else r.missingRuns.push([i, i + 1]);
  const level0 = levelAt(r, 0);
  if (!level0.ready(i)) await level0.ensure(i);
  await pushLeaf(r, level0.hash(i) ?? Buffer.alloc(HASH_SIZE));
}

// Chunks of entries are read ahead and hashed on worker threads (leaf hashes and the roots of the
// full tiles), a few at a time, while this thread compares the chunk before.
interface Chunk {
  /** Rows read one by one: a chunk with a gap (rows deleted), or `checkEncoding`. */
  rows: LedgerEntryRow[] | undefined;
  /** Otherwise the chunk holds every entry first, first + 1, …, first + count - 1. */
  first: number;
  count: number;
  /** Bytes of entries the chunk held. */
  bytes: number;
  hashed: Promise<HashedRun> | undefined;
}

/**
 * Entries [from, to): packed, a row per tile with the bytes concatenated, when every index is
 * present (the usual case), and shipped to a worker in one buffer; row by row otherwise.
 */
async function readChunk(r: Run, from: number, to: number): Promise<Chunk> {
  if (!r.options.checkEncoding) {
    const packed = await r.repo.readPackedEntries(r.trx, from, to);
    if (packed.count === 0) return { rows: [], first: from, count: 0, bytes: 0, hashed: undefined };
    const count = packed.count;
    if (count === to - from) {
      // The indexes must run from, from + 1, … in the order of the bytes; else read row by row.
      const ends = new Uint32Array(count);
      const s = packed.index;
      let k = 0;
      let end = 0;
      let v = 0;
      let field = 0;
      let sane = true;
      for (let c = 0; c <= s.length && sane; c++) {
        const ch = c < s.length ? s.charCodeAt(c) : 44;
        if (ch >= 48 && ch <= 57) v = v * 10 + ch - 48;
        else if (ch !== 44 || k >= count) sane = false;
        else if (field === 0) {
          if (v !== from + k) sane = false;
          field = 1;
          v = 0;
        } else {
          end += v;
          ends[k++] = end;
          field = 0;
          v = 0;
        }
      }
      if (sane && k === count && end === packed.data.length) {
        // Owns its memory: the buffer is transferred to the worker.
        const data = Buffer.allocUnsafeSlow(end);
        packed.data.copy(data);
        const hashed = hashPacked(data, ends, from).catch(async () => {
          // A worker that failed: hash here, from the rows read again.
          const rows = await r.repo.readEntries(r.trx, from, to, to - from);
          return hashInline(
            rows.map((x) => x.entry),
            from,
          );
        });
        hashed.catch(() => undefined);
        return { rows: undefined, first: from, count, bytes: end, hashed };
      }
    }
  }
  // A bounded index range, not ORDER BY … LIMIT from an open range: with the statistics of a
  // freshly loaded table PostgreSQL would sort the whole rest of the table for every chunk.
  const rows = await r.repo.readEntries(r.trx, from, to, to - from);
  const firstRow = rows[0];
  const lastRow = rows[rows.length - 1];
  // A chunk with a gap in it (rows deleted) is hashed here, entry by entry.
  const contiguous = !!firstRow && !!lastRow && lastRow.idx - firstRow.idx === rows.length - 1;
  const hashed =
    firstRow && contiguous && !r.options.checkEncoding
      ? hashEntries(
          rows.map((x) => x.entry),
          firstRow.idx,
        )
      : undefined;
  hashed?.catch(() => undefined);
  let bytes = 0;
  for (const x of rows) bytes += x.entry.length;
  return { rows, first: firstRow?.idx ?? from, count: rows.length, bytes, hashed };
}

/**
 * Reads the entries [0, n) in chunks, IN_FLIGHT ahead: the next reads are issued before this one
 * is compared (on PostgreSQL they run on the server meanwhile), and each is hashed on a worker as
 * soon as it arrives. At most IN_FLIGHT chunks are held at once, whatever the size of the log.
 */
async function* entryChunks(r: Run): AsyncGenerator<Chunk> {
  const ahead: Promise<Chunk>[] = [];
  let readFrom = 0;
  let span = CHUNK;
  for (;;) {
    while (readFrom < r.n && ahead.length < IN_FLIGHT) {
      const to = Math.min(r.n, readFrom + span);
      const next = readChunk(r, readFrom, to);
      next.catch(() => undefined);
      ahead.push(next);
      readFrom = to;
    }
    const next = ahead.shift();
    if (!next) return;
    const chunk = await next;
    // Entries of up to 64 KiB each: fewer of them per chunk when they are large, so the chunks held
    // at once stay within IN_FLIGHT × CHUNK_BYTES (and a whole number of tiles).
    if (chunk.count > 0) {
      const fit = Math.floor(CHUNK_BYTES / Math.max(1, chunk.bytes / chunk.count) / TILE_WIDTH) * TILE_WIDTH;
      span = Math.max(TILE_WIDTH, Math.min(CHUNK, fit));
    }
    yield chunk;
  }
}

/**
 * Fast path: a whole full tile at row k of the chunk, hashed by a worker, that the stored tile
 * matches byte for byte and that no checkpoint size falls inside: adds its root, not its 256
 * leaves. Returns whether it did.
 */
async function addWholeTile(r: Run, hashed: HashedRun, k: number, i: number): Promise<boolean> {
  const t = (k - hashed.skip) / TILE_WIDTH;
  if (
    !(
      t >= 0 &&
      Number.isInteger(t) &&
      t < hashed.roots.length / HASH_SIZE &&
      r.range.size === i &&
      !((r.captureSizes[r.capture] ?? Number.POSITIVE_INFINITY) < i + TILE_WIDTH)
    )
  )
    return false;
  const leaves = hashed.leaves.subarray(k * HASH_SIZE, (k + TILE_WIDTH) * HASH_SIZE);
  if (!levelAt(r, 0).tileEquals(leaves)) return false;
  leaves.copy(r.epochBuf, (i % EPOCH) * HASH_SIZE);
  r.range.appendSubtree(TILE_HEIGHT, hashed.roots.subarray(t * HASH_SIZE, (t + 1) * HASH_SIZE), r.onNode);
  captureRoots(r);
  if (r.range.size % EPOCH === 0) await checkEpoch(r, r.range.size / EPOCH - 1);
  return true;
}

/** Streams the entries, rebuilds the tree from them and compares every stored hash. */
async function rebuildTree(r: Run): Promise<void> {
  const { n, options } = r;
  const level0 = levelAt(r, 0);
  let expected = 0;
  for await (const chunk of entryChunks(r)) {
    const hashed = chunk.hashed ? await chunk.hashed : undefined;
    const rows = chunk.rows;
    for (let k = 0; k < chunk.count; k++) {
      const idx = rows ? (rows[k] as LedgerEntryRow).idx : chunk.first + k;
      while (expected < idx) await missingAt(r, expected++);
      const i = expected;
      if (!level0.ready(i)) await level0.ensure(i);
      if (hashed && (await addWholeTile(r, hashed, k, i))) {
        expected += TILE_WIDTH;
        r.entriesChecked += TILE_WIDTH;
        k += TILE_WIDTH - 1;
        continue;
      }
      const e = hashed
        ? hashed.leaves.subarray(k * HASH_SIZE, (k + 1) * HASH_SIZE)
        : leafHash((rows as LedgerEntryRow[])[k]?.entry as Buffer);
      if (level0.offset(i) < 0) noteTileMissing(r, 0, i);
      if (level0.offset(i) >= 0 && !level0.equals(i, e) && r.mismatches0.length < r.maxProblems) {
        r.mismatches0.push({ index: i, e });
      }
      if (options.checkEncoding && rows) {
        try {
          decodeEntry((rows[k] as LedgerEntryRow).entry);
        } catch {
          r.entryProblems.push({
            kind: 'entry_malformed',
            index: i,
            detail: 'the entry is not a canonical encoding',
          });
        }
      }
      await pushLeaf(r, e);
      expected += 1;
      r.entriesChecked += 1;
    }
    await drainUpper(r);
    options.onProgress?.(expected, n);
  }
  while (expected < n) await missingAt(r, expected++);
  await drainUpper(r);
  r.rootE = r.roots.get(n) ?? EMPTY_ROOT;
}

/** Rows beyond the tree: entries or tiles the state does not account for. */
async function checkBeyondTree(r: Run): Promise<void> {
  const { repo, trx, n } = r;
  const beyond = await repo.firstEntryFrom(trx, n);
  if (beyond !== undefined) {
    r.entryProblems.push({
      kind: 'inserted',
      index: beyond,
      detail: `entry rows exist at index ${beyond} and beyond, outside the tree of size ${n}`,
    });
  }
  let tilesBeyond = false;
  for (let level = 0; level <= r.levels.length; level++) {
    const count = storedCount(level, n);
    const lastTile = count === 0 ? -1 : Math.floor((count - 1) / TILE_WIDTH);
    const maxIdx = await repo.maxTileIndex(trx, level);
    if (maxIdx === undefined) continue;
    if (maxIdx > lastTile) tilesBeyond = true;
    else if (lastTile >= 0) {
      const row = await repo.loadTile(trx, level, lastTile);
      if (row && row.width > tileWidthAt(level, lastTile, n)) tilesBeyond = true;
    }
  }
  const maxEpoch = await repo.maxLeafEpoch(trx);
  if (maxEpoch !== undefined && maxEpoch >= Math.floor(n / EPOCH)) tilesBeyond = true;
  if (tilesBeyond) {
    r.problems.push({
      kind: 'truncated',
      index: n,
      detail: `tiles or the leaf index hold hashes of entries at index ${n} and beyond: the log once held more than ${n} entries`,
    });
  }
}

/** Signed checkpoints against the recomputed tree: how far the signatures vouch for the entries. */
function compareCheckpoints(r: Run): void {
  const { n } = r;
  for (const s of [...r.signed].sort((a, b) => a.size - b.size)) {
    if (s.size > n) {
      r.problems.push({
        kind: 'truncated',
        index: n,
        detail: `a ${s.source} checkpoint signed a tree of ${s.size} entries; the log now holds ${n}`,
      });
      r.firstBad ??= s;
      continue;
    }
    const root = r.roots.get(s.size) as Buffer;
    if (root.equals(s.root)) {
      if (!r.firstBad) r.lastGood = Math.max(r.lastGood, s.size);
    } else r.firstBad ??= s;
  }
}

/** Whether a valid signed checkpoint is reproduced by the entries. */
function sigOk(r: Run, s: Signed | undefined): boolean {
  return !!s && s.size <= r.n && (r.roots.get(s.size) as Buffer).equals(s.root);
}

async function level0Tile(r: Run, i: number): Promise<Buffer | undefined> {
  const row = await r.repo.loadTile(r.trx, 0, Math.floor(i / TILE_WIDTH));
  const off = (i % TILE_WIDTH) * HASH_SIZE;
  return row && off + HASH_SIZE <= row.hashes.length ? row.hashes.subarray(off, off + HASH_SIZE) : undefined;
}

async function entryHash(r: Run, i: number): Promise<Buffer | undefined> {
  const row = (await r.repo.readEntries(r.trx, i, i + 1, 1))[0];
  return row ? leafHash(row.entry) : undefined;
}

const eq = (a: Buffer | undefined, b: Buffer | undefined) => !!a && !!b && a.equals(b);

/**
 * Outside the signed part of the log, whether the tile or the entry was altered is decided by the
 * stored tree above it: a full level-0 tile must hash to its level-1 hash, the tiles at the right
 * edge must give the state root. Undefined when there is nothing to decide by.
 */
async function tileAgreesAbove(r: Run, i: number): Promise<boolean | undefined> {
  const { repo, trx, n } = r;
  const tile = Math.floor(i / TILE_WIDTH);
  if (tileWidthAt(0, tile, n) === TILE_WIDTH) {
    const row0 = await repo.loadTile(trx, 0, tile);
    const row1 = await repo.loadTile(trx, 1, Math.floor(tile / TILE_WIDTH));
    const pos = tile % TILE_WIDTH;
    if (!row0 || row0.width < TILE_WIDTH || !row1 || row1.width <= pos) return undefined;
    const above = row1.hashes.subarray(pos * HASH_SIZE, (pos + 1) * HASH_SIZE);
    return new TileHashes(row0.hashes.subarray(0, TILE_WIDTH * HASH_SIZE))
      .subtree(TILE_HEIGHT, 0)
      .equals(above);
  }
  if (r.tilesGiveState === undefined) {
    try {
      const reader = new TreeReader(async (level, idx) => (await repo.loadTile(trx, level, idx))?.hashes, 64);
      r.tilesGiveState = (await reader.rootAt(n)).equals(r.state.root);
    } catch {
      r.tilesGiveState = false;
    }
  }
  return r.tilesGiveState;
}

/** The neighbourhood analysis costs a few queries per mismatch: done for the first few. */
const ANALYSED = 10;

/**
 * Names each level-0 mismatch: the tile was altered (where a signature or the tree above says the
 * entry is authentic), or the entry was reordered, inserted, removed or changed, by what its
 * neighbours hold. Mismatches past the first ANALYSED are reported as plain changes.
 */
async function nameMismatches(r: Run): Promise<void> {
  const { problems, lastGood, firstBad } = r;
  for (const [k, m] of r.mismatches0.entries()) {
    const i = m.index;
    if (k >= ANALYSED) {
      problems.push({
        kind: 'changed',
        index: i,
        detail: `entry ${i} does not give the leaf hash its tile holds`,
      });
      continue;
    }
    const t = (await level0Tile(r, i)) as Buffer;
    const covered = i < lastGood;
    const unsigned = !firstBad || i >= firstBad.size;
    if (covered || (unsigned && (await tileAgreesAbove(r, i)) === false)) {
      problems.push({
        kind: 'tile_mismatch',
        index: i,
        level: 0,
        tile: Math.floor(i / TILE_WIDTH),
        detail: `tile 0/${Math.floor(i / TILE_WIDTH)} holds a different hash for entry ${i} than its bytes give${
          covered ? ' (the entry is covered by a valid signed checkpoint)' : ''
        }`,
      });
      continue;
    }
    const [eNext, tNext] = await Promise.all([entryHash(r, i + 1), level0Tile(r, i + 1)]);
    let kind: ProblemKind;
    let detail: string;
    if (eq(m.e, tNext) && eq(eNext, t)) {
      kind = 'reordered';
      detail = `entries ${i} and ${i + 1} are swapped`;
    } else if (eq(eNext, t)) {
      kind = 'inserted';
      detail = `an entry that the tree does not hold was inserted at index ${i}`;
    } else if (eq(m.e, tNext)) {
      kind = 'missing';
      detail = `the entry at index ${i} was removed and the following ones moved down`;
    } else {
      const elsewhere =
        (await findLeaf(r.repo, r.trx, m.e, r.n, i)) ?? (await findLeaf(r.repo, r.trx, t, r.n, i));
      if (elsewhere !== undefined) {
        kind = 'reordered';
        detail = `the entry at index ${i} belongs at index ${elsewhere} (entries ${i} and ${elsewhere} were swapped)`;
      } else {
        kind = 'changed';
        detail = `the bytes of the entry at index ${i} were altered: the tree holds a different leaf hash`;
      }
    }
    problems.push({ kind, index: i, detail });
  }
}

/**
 * Missing entries, entry and tile problems found while streaming, then the stored hashes above
 * level 0, the leaf index and the partial tile rows that nothing below already explains.
 */
async function reportUnexplained(r: Run): Promise<void> {
  const { problems } = r;
  for (const [a, b] of r.missingRuns) {
    problems.push({
      kind: 'missing',
      index: a,
      detail:
        b - a === 1
          ? `the entry at index ${a} is missing`
          : `the entries at indexes ${a}–${b - 1} are missing`,
    });
  }
  problems.push(...r.entryProblems, ...r.tileMissing);
  // A stored hash above level 0 that differs only matters when nothing below already explains it.
  const explained = new Set(problems.filter((p) => p.index !== null).map((p) => p.index as number));
  const lowIdx = [...explained].sort((a, b) => a - b);
  for (const u of r.upperMismatch) {
    const span = TILE_WIDTH ** u.level;
    const lo = u.pos * span;
    const hi = lo + span;
    if (lowIdx.some((i) => i >= lo && i < hi)) continue;
    problems.push({
      kind: 'tile_mismatch',
      index: lo,
      level: u.level,
      tile: Math.floor(u.pos / TILE_WIDTH),
      detail: `tile ${u.level}/${Math.floor(u.pos / TILE_WIDTH)} holds a different hash for entries ${lo}–${hi - 1} than they give`,
    });
  }
  for (const epoch of r.leafIndexBad) {
    const lo = epoch * EPOCH;
    if (lowIdx.some((i) => i >= lo && i < lo + EPOCH)) continue;
    problems.push({
      kind: 'leaf_index_mismatch',
      index: lo,
      detail: `the leaf index of entries ${lo}–${lo + EPOCH - 1} does not match their leaf hashes`,
    });
  }
  // Partial tile rows: each must be a prefix of the widest row of its tile.
  for (const bad of await checkPartialTileRows(r.trx, r.repo)) {
    if (!problems.some((q) => q.kind === 'tile_mismatch' && q.index === bad.index && q.level === bad.level))
      problems.push(bad);
  }
}

/**
 * A log rewritten consistently (entries and tiles agree, the signatures do not), a state row whose
 * root the entries do not give, and an external checkpoint the tiles cannot prove.
 */
async function checkRewritten(r: Run): Promise<void> {
  const { problems, n, firstBad, lastGood, external, rootE } = r;
  const located = problems.filter((p) => p.index !== null && p.kind !== 'truncated');
  if (firstBad && firstBad.size <= n && !located.some((p) => (p.index as number) < firstBad.size)) {
    // Entries and tiles agree with each other but not with the signature: the log was rewritten
    // consistently (truncated and re-appended). The signatures bound where.
    problems.push({
      kind: 'checkpoint_mismatch',
      index: lastGood,
      detail: `the entries do not reproduce the ${firstBad.source} signed checkpoint of size ${firstBad.size}; ${
        lastGood > 0 ? `a valid checkpoint covers entries below ${lastGood}, so ` : ''
      }the log was rewritten between index ${lastGood} and ${firstBad.size - 1}`,
    });
  }
  if (!rootE.equals(r.state.root) && problems.every((p) => p.kind === 'checkpoint_signature')) {
    problems.push({
      kind: 'state_mismatch',
      index: null,
      detail: 'the state row holds a root the entries do not give',
    });
  }
  // An external checkpoint the tree reproduces must also be provable from the tiles, as a witness
  // would check it.
  if (external && sigOk(r, external) && external.size > 0 && external.size < n && problems.length === 0) {
    const reader = new TreeReader(
      async (level, idx) => (await r.repo.loadTile(r.trx, level, idx))?.hashes,
      64,
    );
    const ok = verifyConsistency({
      size1: external.size,
      size2: n,
      root1: external.root,
      root2: rootE,
      proof: await reader.consistencyProof(external.size, n),
    });
    if (!ok) {
      problems.push({
        kind: 'checkpoint_mismatch',
        index: external.size,
        detail: 'the consistency proof from the tiles does not verify against the external checkpoint',
      });
    }
  }
}

/** Pending entries (not yet sequenced): each must match its leaf hash (and encoding). */
async function checkPending(r: Run): Promise<void> {
  let afterSeq = 0;
  for (;;) {
    const rows = await r.repo.readPending(r.trx, afterSeq, CHUNK);
    if (rows.length === 0) break;
    for (const row of rows) {
      r.pending += 1;
      afterSeq = row.seq;
      let bad = !leafHash(row.entry).equals(row.leaf_hash);
      if (!bad && r.options.checkEncoding) {
        try {
          decodeEntry(row.entry);
        } catch {
          bad = true;
        }
      }
      if (bad) {
        r.problems.push({
          kind: 'pending_invalid',
          index: null,
          detail: `pending entry (queue position ${row.seq}) does not match its leaf hash or encoding`,
        });
      }
    }
  }
}

const ORDER: Record<ProblemKind, number> = {
  missing: 0,
  reordered: 1,
  inserted: 2,
  changed: 3,
  entry_malformed: 4,
  tile_mismatch: 5,
  tile_missing: 6,
  leaf_index_mismatch: 7,
  checkpoint_mismatch: 7,
  truncated: 8,
  state_mismatch: 9,
  checkpoint_signature: 10,
  pending_invalid: 11,
};

/** Problems by index, then kind; the report. */
function report(r: Run, started: number): VerifyReport {
  const { problems, options, stored, signed, external } = r;
  problems.sort((a, b) => {
    const ai = a.index ?? Number.MAX_SAFE_INTEGER;
    const bi = b.index ?? Number.MAX_SAFE_INTEGER;
    return ai !== bi ? ai - bi : ORDER[a.kind] - ORDER[b.kind];
  });
  const latest = stored[stored.length - 1];
  const firstIndexed = problems.find((p) => p.index !== null);
  return {
    ok: problems.length === 0,
    origin: r.origin,
    size: r.n,
    root: r.rootE.toString('hex'),
    entriesChecked: r.entriesChecked,
    tilesChecked: r.levels.reduce((a, l) => a + (l?.tilesRead ?? 0), 0),
    pending: r.pending,
    checkpointsChecked: stored.length + (options.checkpoint !== undefined ? 1 : 0),
    latestCheckpoint: latest
      ? {
          size: latest.size,
          ok: sigOk(
            r,
            signed.find((s) => s.source === 'stored' && s.size === latest.size),
          ),
        }
      : null,
    external:
      options.checkpoint !== undefined
        ? { size: external?.size ?? 0, ok: !r.externalBad && sigOk(r, external) }
        : null,
    firstBadIndex: firstIndexed ? (firstIndexed.index as number) : null,
    problemCount: problems.length,
    problems: problems.slice(0, r.maxProblems),
    durationMs: Date.now() - started,
  };
}
