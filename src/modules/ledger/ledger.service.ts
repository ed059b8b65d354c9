import type { Kysely, Transaction } from 'kysely';
import type { DialectName } from '../../db/index.js';
import { isUniqueViolation, MAX_BIND_PARAMS } from '../../db/index.js';
import type { AuditEvent, DbExecutor, Recorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import type { Keyring } from '../../lib/crypto/index.js';
import type { Logger } from '../../lib/log.js';
import { decodeEntry, encodeEntry, type LedgerEvent } from './entry.js';
import { Frontier } from './frontier.js';
import { type HashedRun, hashEntries } from './hashpool.js';
import { EPOCH } from './leafindex.js';
import { ledgerError } from './ledger.errors.js';
import { createLedgerRepo, type LedgerRepo } from './ledger.repo.js';
import type { LedgerCheckpointRow } from './ledger.tables.js';
import { epochIndexRows, findLeaf } from './lookup.js';
import { EMPTY_ROOT, inclusionRanges, leafHash, verifyConsistency } from './merkle.js';
import { checkpointBody, formatVkey, signNote } from './note.js';
import { TILE_WIDTH, TileHashes, tileWidthAt } from './tiles.js';
import { TreeReader } from './treereader.js';
import { type VerifyOptions, type VerifyReport, verifyLedger } from './verify.js';

export interface LedgerDeps {
  db: Kysely<any>;
  dialect: DialectName;
  keyring: Pick<Keyring, 'signingKey' | 'publicKey' | 'publicKeyRaw'>;
  /** The log's origin line, also the name of its signing key. */
  origin: string;
  clock: Clock;
  /** Most entries integrated per transaction (default 1024). */
  batchSize?: number;
  /** Full tiles kept in memory for proofs (default 2048 ≈ 32 MB with their inner levels). */
  tileCacheSize?: number;
  logger?: Pick<Logger, 'error' | 'warn'>;
}

export interface Checkpoint {
  size: number;
  /** Root hash, hex. */
  root: string;
  /** The C2SP signed note. */
  note: string;
  createdAt: string;
}

export interface InclusionProof {
  index: number;
  size: number;
  leafHash: string;
  root: string;
  /** Sibling hashes, hex, nearest the leaf first (RFC 9162 §2.1.3). */
  proof: string[];
  /** The signed checkpoint of this size, when one exists. */
  checkpoint?: string;
}

export interface ConsistencyProof {
  from: number;
  to: number;
  fromRoot: string;
  toRoot: string;
  proof: string[];
}

export interface LedgerEntry {
  index: number;
  leafHash: string;
  bytes: Buffer;
  event: LedgerEvent;
}

export interface AppendResult {
  /** Index of the first entry appended. */
  first: number;
  /** Tree size after the append. */
  size: number;
  leafHashes: string[];
}

export interface IntegrateResult {
  integrated: number;
  batches: number;
  size: number;
}

export interface SequencerOptions {
  /** How often pending entries are integrated (default 100 ms). */
  intervalMs?: number;
  /** How often a checkpoint is published when the tree grew (default 5000 ms). */
  checkpointIntervalMs?: number;
}

export interface Ledger {
  readonly origin: string;
  /** Appends to the pending queue inside the caller's transaction (the Recorder other modules get). */
  append: Recorder;
  /** Bulk append in its own transaction, straight into entries and tiles. */
  appendBatch(events: readonly AuditEvent[]): Promise<AppendResult>;
  /** Moves pending entries into the tree, one transaction per batch, until none is left. */
  integrate(): Promise<IntegrateResult>;
  startSequencer(options?: SequencerOptions): void;
  /** Stops the sequencer, then integrates what is pending and publishes a last checkpoint. */
  stop(): Promise<void>;
  size(): Promise<number>;
  pendingCount(): Promise<number>;
  /** Signs a checkpoint of the current tree (after checking it extends the previous one). */
  checkpoint(): Promise<Checkpoint>;
  latestCheckpoint(): Promise<Checkpoint | undefined>;
  inclusionProof(query: { index?: number; leafHash?: string; size?: number }): Promise<InclusionProof>;
  consistencyProof(from: number, to: number): Promise<ConsistencyProof>;
  entries(from: number, count: number): Promise<LedgerEntry[]>;
  /** Tile bytes: `width` hashes (default: the full tile). */
  tile(level: number, index: number, width?: number): Promise<Buffer>;
  /** Entry bundle: each entry as a big-endian uint16 length and its bytes. */
  entryBundle(index: number, width?: number): Promise<Buffer>;
  verify(options?: VerifyOptions): Promise<VerifyReport>;
  /** Verifier key: `<name>+<hex key hash>+<base64(0x01 ‖ public key)>`. */
  vkey(): string;
}

/** The CAS on the state row lost to another sequencer: roll back and retry from fresh state. */
class RaceLost extends Error {}

function isRace(e: unknown): boolean {
  if (e instanceof RaceLost || isUniqueViolation(e)) return true;
  const code = (e as { code?: string })?.code ?? '';
  return code.startsWith('SQLITE_BUSY') || code === '40001' || code === '40P01';
}

/** Entries per run shipped to a hashing worker while the rest of a batch is encoded. */
const HASH_RUN = 512;

const hex = (b: Uint8Array) => (Buffer.isBuffer(b) ? b : Buffer.from(b)).toString('hex');

function parseHash(h: string): Buffer {
  if (!/^[0-9a-fA-F]{64}$/.test(h)) throw ledgerError('LEDGER_QUERY_INVALID', { details: { field: 'leaf' } });
  return Buffer.from(h, 'hex');
}

function toCheckpoint(r: LedgerCheckpointRow): Checkpoint {
  return { size: r.size, root: hex(r.root), note: r.note, createdAt: r.created_at };
}

export function createLedger(deps: LedgerDeps): Ledger {
  const { db, dialect, keyring, origin, clock } = deps;
  const batchSize = deps.batchSize ?? 1024;
  const repo: LedgerRepo = createLedgerRepo(dialect);
  const reader = new TreeReader(
    async (level, idx) => (await repo.loadTile(db, level, idx))?.hashes,
    deps.tileCacheSize,
  );
  const now = () => clock.now().toISOString();

  let frontier: Frontier | undefined;
  let stateReady: Promise<void> | undefined;
  // One writer per process at a time; across processes the CAS on ledger_state decides.
  let lock: Promise<unknown> = Promise.resolve();
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = lock.then(fn, fn);
    lock = next.catch(() => undefined);
    return next;
  }

  function ensureState(): Promise<void> {
    stateReady ??= repo.ensureState(db, EMPTY_ROOT, now()).catch((e) => {
      stateReady = undefined;
      throw e;
    });
    return stateReady;
  }

  async function readState(ex: DbExecutor = db) {
    await ensureState();
    return (await repo.readState(ex)) ?? { size: 0, root: EMPTY_ROOT };
  }

  /** A working copy of the frontier at the state the transaction sees; rebuilt from tiles if stale. */
  async function frontierAt(trx: Transaction<any>, state: { size: number; root: Buffer }): Promise<Frontier> {
    if (!frontier || frontier.size !== state.size || !frontier.root().equals(state.root)) {
      frontier = await Frontier.load(state.size, async (level, idx, need) => {
        const row = await repo.loadTile(trx, level, idx);
        if (!row || row.width < need) {
          throw ledgerError('LEDGER_INCONSISTENT', { details: { reason: 'tile missing', level, tile: idx } });
        }
        return new TileHashes(row.hashes);
      });
      // A state root that the tiles do not reproduce means the storage was altered: never extend it.
      if (!frontier.root().equals(state.root)) {
        frontier = undefined;
        throw ledgerError('LEDGER_INCONSISTENT', { details: { reason: 'state root' } });
      }
    }
    return frontier.clone();
  }

  /** A batch to append: its entry rows, and the hashes of its leaves once their indexes are known. */
  interface Batch {
    count: number;
    writeEntries(trx: Transaction<any>, first: number): Promise<void>;
    hash(first: number): Promise<HashedRun>;
  }

  /**
   * One write transaction that extends the tree by a batch. The entry rows are written while a
   * worker hashes them; then the tiles; the compare-and-swap of the state row comes last and
   * decides: a concurrent sequencer (another process) either trips over the same entry indexes
   * (unique key) or loses the CAS, rolls back and retries from fresh state, so two different trees
   * can never both commit.
   */
  async function extend(
    prepare: (trx: Transaction<any>) => Promise<Batch | undefined>,
  ): Promise<{ first: number; size: number; count: number; leaves: Buffer }> {
    await ensureState();
    for (let attempt = 0; ; attempt++) {
      let from = -1;
      try {
        let next: Frontier | undefined;
        const res = await db.transaction().execute(async (trx) => {
          const state = (await repo.readState(trx)) ?? { size: 0, root: EMPTY_ROOT };
          from = state.size;
          const batch = await prepare(trx);
          if (!batch || batch.count === 0) {
            return { first: state.size, size: state.size, count: 0, leaves: Buffer.alloc(0) };
          }
          const f = await frontierAt(trx, state);
          const hashing = batch.hash(state.size);
          // A failed insert must not leave the hashing promise unobserved.
          hashing.catch(() => undefined);
          await batch.writeEntries(trx, state.size);
          const hashed = await hashing;
          const tiles = f.appendRun(hashed.leaves, hashed.roots, hashed.skip);
          const size = state.size + batch.count;
          await repo.insertTiles(
            trx,
            tiles.map((t) => ({ level: t.level, idx: t.index, width: t.width, hashes: t.hashes })),
          );
          // Each epoch this batch completed gets its leaf-index rows, in the same transaction.
          for (let epoch = Math.floor(state.size / EPOCH); (epoch + 1) * EPOCH <= size; epoch++) {
            await repo.insertLeafIndex(trx, await epochIndexRows(repo, trx, epoch));
          }
          if (!(await repo.casState(trx, state.size, size, f.root(), now()))) throw new RaceLost();
          next = f;
          return { first: state.size, size, count: batch.count, leaves: hashed.leaves };
        });
        if (next) frontier = next;
        return res;
      } catch (e) {
        frontier = undefined;
        if (isUniqueViolation(e)) {
          // A writer that beat us has moved the state. If it has not moved, the rows were already
          // there: the state was wound back under entries and tiles that stayed. Refuse.
          const current = await repo.readState(db);
          if (current && current.size === from) {
            throw ledgerError('LEDGER_INCONSISTENT', { cause: e, details: { reason: 'rows beyond state' } });
          }
        }
        if (!isRace(e)) throw e;
        if (attempt >= 8) throw ledgerError('LEDGER_CONFLICT', { cause: e });
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
      }
    }
  }

  async function integrateBatch(): Promise<number> {
    const res = await extend(async (trx) => {
      const pending = await repo.readPendingHashes(trx, batchSize);
      const seqs = pending.map((p) => p.seq);
      const n = pending.length;
      return {
        count: n,
        async writeEntries(t, first) {
          // Pending rows another sequencer already took would show up here as a short count.
          if ((await repo.moveFromPending(t, first, seqs)) !== n) throw new RaceLost();
          if ((await repo.deletePending(t, seqs)) !== n) throw new RaceLost();
        },
        // The leaf hashes were computed when the entries were appended.
        hash: async () => ({
          leaves: Buffer.concat(pending.map((p) => p.leafHash)),
          roots: Buffer.alloc(0),
          skip: n,
        }),
      };
    });
    return res.count;
  }

  async function integrate(): Promise<IntegrateResult> {
    return exclusive(async () => {
      let integrated = 0;
      let batches = 0;
      for (;;) {
        const n = await integrateBatch();
        if (n === 0) break;
        integrated += n;
        batches += 1;
        if (n < batchSize) break;
      }
      return { integrated, batches, size: (await readState()).size };
    });
  }

  /**
   * The common case of appendBatch, in one short transaction: this process committed the last
   * batch, so it knows the tree it extends (the frontier) without reading the state row, and the
   * batch completes no leaf-index epoch. The entries, the tiles and the state's compare-and-swap
   * go in together (one statement on PostgreSQL), the CAS on both size and root, so the state must
   * be exactly the tree the frontier holds — the check extend() makes by reading it first. If it is
   * not (another writer, a state wound back), the transaction rolls back and extend() takes over
   * from fresh state. Undefined when the fast path does not apply or lost.
   */
  async function appendFast(
    entries: readonly Buffer[],
    guess: number,
    hashedRuns: Promise<HashedRun[]>,
  ): Promise<{ first: number; size: number; count: number; leaves: Buffer } | undefined> {
    const cached = frontier;
    const first = guess;
    const size = first + entries.length;
    if (
      !cached ||
      cached.size !== first ||
      Math.floor(first / EPOCH) !== Math.floor(size / EPOCH) ||
      repo.appendAllParams(entries.length, 16) > MAX_BIND_PARAMS
    )
      return undefined;
    const f = cached.clone();
    const oldRoot = f.root();
    const done = await hashedRuns;
    const leaves = Buffer.concat(done.map((r) => r.leaves));
    const tiles = f.appendRun(leaves, Buffer.concat(done.map((r) => r.roots)), (done[0] as HashedRun).skip);
    if (repo.appendAllParams(entries.length, tiles.length) > MAX_BIND_PARAMS) return undefined;
    try {
      await db.transaction().execute(async (trx) => {
        const ok = await repo.appendAll(trx, {
          first,
          entries,
          tiles: tiles.map((t) => ({ level: t.level, idx: t.index, width: t.width, hashes: t.hashes })),
          oldRoot,
          size,
          root: f.root(),
          at: now(),
        });
        if (!ok) throw new RaceLost();
      });
    } catch (e) {
      frontier = undefined;
      if (isRace(e)) return undefined;
      throw e;
    }
    frontier = f;
    return { first, size, count: entries.length, leaves };
  }

  async function appendBatch(events: readonly AuditEvent[]): Promise<AppendResult> {
    if (events.length === 0) {
      const size = (await readState()).size;
      return { first: size, size, leafHashes: [] };
    }
    const at = now();
    // Hashing starts while the rest is still being encoded: each run of encoded entries goes to a
    // worker as soon as it ends on a tile boundary of the index the batch will probably get (the
    // current size). If another writer moved the size meanwhile, the tile roots are not used.
    const guess = frontier?.size ?? (await readState()).size;
    const entries: Buffer[] = new Array(events.length);
    const runs: Promise<HashedRun>[] = [];
    let runStart = 0;
    for (let i = 0; i < events.length; i++) {
      entries[i] = encodeEntry(events[i] as AuditEvent, at);
      const end = i + 1;
      if ((end - runStart >= HASH_RUN && (guess + end) % TILE_WIDTH === 0) || end === events.length) {
        const run = hashEntries(entries.slice(runStart, end), guess + runStart, {
          ship: events.length >= TILE_WIDTH,
        });
        run.catch(() => undefined);
        runs.push(run);
        runStart = end;
      }
    }
    const hashedRuns = Promise.all(runs);
    hashedRuns.catch(() => undefined);
    const res = await exclusive(async () => {
      const fast = await appendFast(entries, guess, hashedRuns);
      if (fast) return fast;
      return extend(async () => ({
        count: entries.length,
        writeEntries: (trx, first) => repo.insertEntries(trx, first, entries),
        hash: async (first) => {
          const done = await hashedRuns;
          const leaves = Buffer.concat(done.map((r) => r.leaves));
          if (first !== guess) return { leaves, roots: Buffer.alloc(0), skip: entries.length };
          return {
            leaves,
            roots: Buffer.concat(done.map((r) => r.roots)),
            skip: (done[0] as HashedRun).skip,
          };
        },
      }));
    });
    const leafHashes: string[] = new Array(res.count);
    for (let i = 0; i < res.count; i++) leafHashes[i] = res.leaves.toString('hex', i * 32, i * 32 + 32);
    return { first: res.first, size: res.size, leafHashes };
  }

  const append: Recorder = async (trx, events) => {
    if (events.length === 0) return [];
    const at = now();
    const entries = events.map((e) => encodeEntry(e, at));
    const leaves = entries.map((e) => leafHash(e));
    await repo.insertPending(trx, leaves, entries);
    return leaves.map(hex);
  };

  // The latest checkpoint, re-read at most once a second: proofs default to its size, and every
  // size it names has its tiles stored for good, so a slightly old one is still a valid answer.
  let cpCache: { row: LedgerCheckpointRow | undefined; at: number } | undefined;
  async function latestCheckpointCached(): Promise<LedgerCheckpointRow | undefined> {
    if (!cpCache || Date.now() - cpCache.at > 1000)
      cpCache = { row: await repo.latestCheckpoint(db), at: Date.now() };
    return cpCache.row;
  }

  async function checkpointNow(): Promise<Checkpoint> {
    return exclusive(async () => {
      // The previous checkpoint is read before the state: the state only grows, so it must be at
      // least as large — unless the log was truncated, which must never be signed over.
      const prev = await repo.latestCheckpoint(db);
      const state = await readState();
      const root = await reader.rootAt(state.size);
      if (!root.equals(state.root))
        throw ledgerError('LEDGER_INCONSISTENT', { details: { reason: 'state root' } });
      if (prev) {
        if (prev.size > state.size)
          throw ledgerError('LEDGER_INCONSISTENT', { details: { reason: 'truncated' } });
        if (prev.size === state.size) {
          if (!prev.root.equals(root))
            throw ledgerError('LEDGER_INCONSISTENT', { details: { reason: 'fork' } });
          return toCheckpoint(prev);
        }
        // Sign only a tree that provably extends the one signed before.
        const ok =
          prev.size === 0
            ? prev.root.equals(EMPTY_ROOT)
            : verifyConsistency({
                size1: prev.size,
                size2: state.size,
                root1: prev.root,
                root2: root,
                proof: await reader.consistencyProof(prev.size, state.size),
              });
        if (!ok) throw ledgerError('LEDGER_INCONSISTENT', { details: { reason: 'fork' } });
      }
      const note = signNote(
        checkpointBody(origin, state.size, root),
        origin,
        keyring.signingKey,
        keyring.publicKeyRaw,
      );
      const row = { size: state.size, root, note, created_at: now() };
      try {
        await repo.insertCheckpoint(db, row);
        cpCache = { row, at: Date.now() };
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
        // Another process signed this size first; Ed25519 is deterministic, so it is the same note.
        const other = await repo.checkpointAt(db, state.size);
        if (!other?.root.equals(root))
          throw ledgerError('LEDGER_INCONSISTENT', { details: { reason: 'fork' } });
        return toCheckpoint(other);
      }
      return toCheckpoint(row);
    });
  }

  async function inclusionProof(query: {
    index?: number;
    leafHash?: string;
    size?: number;
  }): Promise<InclusionProof> {
    if ((query.index === undefined) === (query.leafHash === undefined))
      throw ledgerError('LEDGER_QUERY_INVALID');
    let index: number;
    let size = query.size;
    let latest: LedgerCheckpointRow | undefined;
    let current: number | undefined;
    const currentSize = async () => {
      current ??= (await readState()).size;
      return current;
    };
    if (query.leafHash !== undefined) {
      const h = parseHash(query.leafHash);
      const found = await findLeaf(repo, db, h, await currentSize());
      if (found === undefined) {
        if (await repo.pendingHasLeaf(db, h)) throw ledgerError('LEDGER_LEAF_PENDING');
        throw ledgerError('LEDGER_LEAF_NOT_FOUND');
      }
      index = found;
    } else {
      index = query.index as number;
      if (!Number.isSafeInteger(index) || index < 0) throw ledgerError('LEDGER_INDEX_OUT_OF_RANGE');
    }
    if (size === undefined) {
      // By default prove against the latest signed checkpoint, so the answer can be checked
      // against a signature; entries newer than it are proved against the current tree. A signed
      // size never exceeds the state (it only grows), so that common case needs no state read.
      latest = await latestCheckpointCached();
      size = latest && index < latest.size ? latest.size : await currentSize();
    } else if (!Number.isSafeInteger(size) || size < 1 || size > (await currentSize())) {
      throw ledgerError('LEDGER_SIZE_OUT_OF_RANGE', { details: { size: await currentSize() } });
    }
    if (size < 1) throw ledgerError('LEDGER_INDEX_OUT_OF_RANGE', { details: { size } });
    if (index >= size) throw ledgerError('LEDGER_INDEX_OUT_OF_RANGE', { details: { size } });
    // Leaf, path and root in one pass over the tiles they need.
    const hashes = await reader.rangeHashes([[index, index + 1], ...inclusionRanges(index, size), [0, size]]);
    const leaf = hashes[0] as Buffer;
    const root = hashes[hashes.length - 1] as Buffer;
    const out: InclusionProof = {
      index,
      size,
      leafHash: hex(leaf),
      root: hex(root),
      proof: hashes.slice(1, -1).map(hex),
    };
    const cp = latest && latest.size === size ? latest : await repo.checkpointAt(db, size);
    if (cp) out.checkpoint = cp.note;
    return out;
  }

  async function consistencyProof(from: number, to: number): Promise<ConsistencyProof> {
    const state = await readState();
    if (
      !Number.isSafeInteger(from) ||
      !Number.isSafeInteger(to) ||
      from < 1 ||
      from > to ||
      to > state.size
    ) {
      throw ledgerError('LEDGER_SIZE_OUT_OF_RANGE', { details: { size: state.size } });
    }
    const [proof, roots] = await Promise.all([
      reader.consistencyProof(from, to),
      reader.rangeHashes([
        [0, from],
        [0, to],
      ]),
    ]);
    return {
      from,
      to,
      fromRoot: hex(roots[0] as Buffer),
      toRoot: hex(roots[1] as Buffer),
      proof: proof.map(hex),
    };
  }

  async function entries(from: number, count: number): Promise<LedgerEntry[]> {
    const state = await readState();
    if (!Number.isSafeInteger(from) || from < 0 || !Number.isSafeInteger(count) || count < 0) {
      throw ledgerError('LEDGER_INDEX_OUT_OF_RANGE');
    }
    const rows = await repo.readEntries(db, from, Math.min(state.size, from + Math.min(count, 1000)), 1000);
    return rows.map((r) => ({
      index: r.idx,
      leafHash: hex(leafHash(r.entry)),
      bytes: r.entry,
      event: decodeEntry(r.entry),
    }));
  }

  /** Width a tile request may be served at: the full tile, or a partial width it has reached. */
  function servedWidth(available: number, width: number | undefined): number {
    if (width === undefined) {
      if (available !== TILE_WIDTH) throw ledgerError('LEDGER_TILE_NOT_FOUND');
      return TILE_WIDTH;
    }
    if (!Number.isInteger(width) || width < 1 || width >= TILE_WIDTH || width > available) {
      throw ledgerError('LEDGER_TILE_NOT_FOUND');
    }
    return width;
  }

  async function tile(level: number, index: number, width?: number): Promise<Buffer> {
    const { size } = await readState();
    if (
      !Number.isSafeInteger(level) ||
      level < 0 ||
      level > 63 ||
      !Number.isSafeInteger(index) ||
      index < 0
    ) {
      throw ledgerError('LEDGER_TILE_NOT_FOUND');
    }
    const w = servedWidth(tileWidthAt(level, index, size), width);
    return reader.tileBytes(level, index, w);
  }

  async function entryBundle(index: number, width?: number): Promise<Buffer> {
    const { size } = await readState();
    if (!Number.isSafeInteger(index) || index < 0) throw ledgerError('LEDGER_TILE_NOT_FOUND');
    const w = servedWidth(tileWidthAt(0, index, size), width);
    const first = index * TILE_WIDTH;
    const rows = await repo.readEntries(db, first, first + w, w);
    if (rows.length !== w || rows.some((r, i) => r.idx !== first + i)) {
      throw ledgerError('LEDGER_INCONSISTENT', { details: { reason: 'entry missing' } });
    }
    const parts: Buffer[] = [];
    for (const r of rows) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(r.entry.length);
      parts.push(len, r.entry);
    }
    return Buffer.concat(parts);
  }

  // --- sequencer -------------------------------------------------------------------------------
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let lastPublished = 0;

  async function publishIfGrown(): Promise<void> {
    const latest = await repo.latestCheckpoint(db);
    const { size } = await readState();
    if (!latest || latest.size < size) await checkpointNow();
  }

  function startSequencer(options: SequencerOptions = {}): void {
    if (running) return;
    running = true;
    const intervalMs = options.intervalMs ?? 100;
    const checkpointIntervalMs = options.checkpointIntervalMs ?? 5000;
    const tick = async () => {
      try {
        await integrate();
        if (Date.now() - lastPublished >= checkpointIntervalMs) {
          await publishIfGrown();
          lastPublished = Date.now();
        }
      } catch (e) {
        // The sequencer keeps running: pending entries are durable and the next tick retries.
        deps.logger?.error(
          { code: (e as { code?: string }).code, err: (e as Error).name },
          'ledger sequencer tick failed',
        );
      }
      if (running) {
        timer = setTimeout(() => {
          inFlight = tick();
        }, intervalMs);
        timer.unref();
      }
    };
    inFlight = tick();
  }

  async function stop(): Promise<void> {
    const wasRunning = running;
    running = false;
    if (timer) clearTimeout(timer);
    await inFlight;
    if (wasRunning) {
      await integrate();
      await publishIfGrown();
    }
  }

  return {
    origin,
    append,
    appendBatch,
    integrate,
    startSequencer,
    stop,
    size: async () => (await readState()).size,
    pendingCount: () => repo.countPending(db),
    checkpoint: checkpointNow,
    latestCheckpoint: async () => {
      const r = await repo.latestCheckpoint(db);
      return r ? toCheckpoint(r) : undefined;
    },
    inclusionProof,
    consistencyProof,
    entries,
    tile,
    entryBundle,
    verify: async (options = {}) => {
      await ensureState();
      return verifyLedger({ db, dialect, repo, origin, publicKeyRaw: keyring.publicKeyRaw }, options);
    },
    vkey: () => formatVkey(origin, keyring.publicKeyRaw),
  };
}
