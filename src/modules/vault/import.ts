import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { isUniqueViolation } from '../../db/index.js';
import type { AuditEvent } from '../../lib/audit.js';
import { isAppError } from '../../lib/errors.js';
import { checkContext } from './fieldtypes.js';
import type { WorkerInit } from './import.worker.js';
import {
  type GoodRow,
  type Header,
  type ProducerEvent,
  type ProducerParams,
  produce,
  type RowProblem,
  readHeader,
  type SealedRow,
} from './importrows.js';
import { type VaultErrorCode, vaultError } from './vault.errors.js';
import * as repo from './vault.repo.js';
import {
  appendNew,
  applyUpdate,
  coreOf,
  type NewRows,
  newRows,
  recordEvents,
  type Vault,
  type VaultCore,
  writeNew,
} from './vault.service.js';
import { startVaultWorker } from './workers.js';

export type { RowProblem } from './importrows.js';

/**
 * Streaming CSV import of subjects.
 *
 * - Header: `external_id` plus any subset of catalog fields, in any order. A missing external_id
 *   column, an unknown or repeated column, or no header at all stops the import before anything is
 *   written (an AppError with an IMPORT_HEADER_* code; the CLI exits 2).
 * - Rows: every cell is checked; a row with any problem is reported (row, line, column, code — never
 *   the value) and not written at all. Good rows are written in batches, one transaction each.
 * - Idempotent on external_id: a row whose subject exists with the same record is "unchanged";
 *   with a different record it is an update (empty cells remove values); a subject that was
 *   erased is not brought back (VAULT_SUBJECT_ERASED). A second row of the same file with an
 *   external id already accepted is IMPORT_DUPLICATE_IN_FILE.
 * - Never throws halfway: a database failure ends the import with `aborted` set; batches already
 *   committed stay, and re-running the same file completes it.
 * - Parsing, validation and sealing of one batch overlap the database writes of the previous one;
 *   with `worker: true` they run in a worker thread, which with SQLite (synchronous in this
 *   thread) is the only way they overlap at all.
 */
export interface ImportOptions {
  /** Rows per transaction (default 1,000). */
  batchSize?: number;
  onProgress?: (p: ImportProgress) => void;
  /** Recorded as the events' actor (null: the operator at the CLI). */
  by?: string | null;
  /**
   * Parse, check and seal in a worker thread (worth it from a few thousand rows). Needs a keyring
   * loaded from a key file and the default subject ids; otherwise the import runs in this thread.
   */
  worker?: boolean;
  /**
   * With `worker`, threads that seal batches of 1,000 rows or more while the worker parses the next
   * (default 2 where there is more than one CPU, else 0: the worker seals too).
   */
  sealThreads?: number;
  /** A cell longer than this many bytes rejects its row (default 64 KiB). */
  maxCellBytes?: number;
  /** A record longer than this is dropped before parsing and reported (default 1 MiB). */
  maxRecordBytes?: number;
  /** At most this many problems are listed; the counts stay exact (default 100,000). */
  maxReported?: number;
}

export interface ImportProgress {
  rows: number;
  imported: number;
  updated: number;
  unchanged: number;
  rejectedRows: number;
  /** Bytes of input read so far. */
  bytes: number;
}

export interface ImportResult {
  rows: number;
  imported: number;
  updated: number;
  unchanged: number;
  rejectedRows: number;
  rejected: RowProblem[];
  /** True when more problems occurred than were listed. */
  rejectedTruncated: boolean;
  /** Set when a database error stopped the import; rows after `afterRow` were not processed. */
  aborted?: { code: string; afterRow: number };
}

type Source = Readable | AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

/** Sealing threads beside the parsing worker (measured on two cores: docs/vault.md, Performance). */
const DEFAULT_SEAL_THREADS = 2;

const DEFAULTS = {
  batchSize: 1000,
  maxCellBytes: 64 * 1024,
  maxRecordBytes: 1024 * 1024,
  maxReported: 100_000,
};

export async function importSubjects(
  vault: Vault,
  input: Source,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const core = coreOf(vault);
  const params: ProducerParams = {
    today: checkContext(core.clock.now()).today,
    batchSize: Math.max(1, Math.floor(options.batchSize ?? DEFAULTS.batchSize)),
    maxCellBytes: options.maxCellBytes ?? DEFAULTS.maxCellBytes,
    maxRecordBytes: options.maxRecordBytes ?? DEFAULTS.maxRecordBytes,
  };
  const maxReported = options.maxReported ?? DEFAULTS.maxReported;
  const actor = options.by ?? null;
  const source =
    input instanceof Readable ? input : Readable.from(input as AsyncIterable<Uint8Array | string>);
  const keyFile = core.keys.path;
  const events =
    options.worker && keyFile && !core.customIds
      ? workerEvents(source, {
          specs: [...core.catalog.specs],
          keyFile,
          params,
          sealThreads: options.sealThreads ?? (availableParallelism() > 1 ? DEFAULT_SEAL_THREADS : 0),
        })
      : produce(source, params, {
          catalog: core.catalog,
          keyring: () => core.keys.current(),
          hash: core.hash,
          id: () => core.ids('sub'),
        });

  const result: ImportResult = {
    rows: 0,
    imported: 0,
    updated: 0,
    unchanged: 0,
    rejectedRows: 0,
    rejected: [],
    rejectedTruncated: false,
  };
  const rejectedRowSet = new Set<number>();
  const reject = (p: RowProblem): void => {
    if (!rejectedRowSet.has(p.row)) {
      rejectedRowSet.add(p.row);
      result.rejectedRows++;
    }
    if (p.row > result.rows) result.rows = p.row;
    if (result.rejected.length < maxReported) result.rejected.push(p);
    else result.rejectedTruncated = true;
  };
  let bytes = 0;
  const progress = (): void =>
    options.onProgress?.({
      rows: result.rows,
      imported: result.imported,
      updated: result.updated,
      unchanged: result.unchanged,
      rejectedRows: result.rejectedRows,
      bytes,
    });

  let header: Header | undefined;
  let inflight: Promise<void> = Promise.resolve();
  let failure: unknown;
  let committedRow = 0;
  try {
    for await (const ev of events) {
      if (ev.t === 'header') {
        header = readHeader(core.catalog, ev.names);
        continue;
      }
      for (const p of ev.rejected) reject(p);
      bytes = ev.bytes;
      // One batch is written while the producer prepares the next; wait for the previous write.
      await inflight;
      if (failure !== undefined) break;
      if (ev.t === 'end') {
        result.rows = Math.max(result.rows, ev.rows);
        break;
      }
      const rows = ev.rows;
      const h = header!;
      if (rows.length > 0) result.rows = Math.max(result.rows, rows[rows.length - 1]!.row);
      inflight = writeBatch(core, h, rows, ev.sealed, actor, reject, result)
        .then(() => {
          committedRow = rows.length > 0 ? rows[rows.length - 1]!.row : committedRow;
          progress();
        })
        .catch((e: unknown) => {
          failure = e;
        });
    }
  } catch (e) {
    // Before the header is read nothing has been written: a whole-file error.
    if (!header) throw e;
    failure ??= e;
  }
  await inflight;
  result.rejected.sort((a, b) => a.row - b.row || a.line - b.line);
  if (failure !== undefined) {
    result.aborted = { code: isAppError(failure) ? failure.code : 'IMPORT_ABORTED', afterRow: committedRow };
    return result;
  }
  progress();
  try {
    await core.db.transaction().execute((trx) =>
      recordEvents(trx, core, [
        {
          kind: 'import.completed',
          actor,
          attrs: {
            rows: result.rows,
            imported: result.imported,
            updated: result.updated,
            unchanged: result.unchanged,
            rejectedRows: result.rejectedRows,
          },
        },
      ]),
    );
  } catch (e) {
    result.aborted = { code: isAppError(e) ? e.code : 'IMPORT_ABORTED', afterRow: committedRow };
  }
  return result;
}

// --- writing a batch ------------------------------------------------------------------------------------

function bytesOf(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function appendSealed(out: NewRows, s: SealedRow, externalId: string, now: string): void {
  appendNew(out, {
    id: s.id,
    externalId,
    now,
    fingerprint: bytesOf(s.fingerprint),
    kekVersion: s.kekVersion,
    wrapped: bytesOf(s.wrapped),
    names: s.fields,
    sealed: s.ciphertexts.map(bytesOf),
    hashes: s.hashes.map((h) => (h ? bytesOf(h) : null)),
  });
}

async function writeBatch(
  core: VaultCore,
  h: Header,
  rows: GoodRow[],
  sealed: SealedRow[],
  actor: string | null,
  reject: (p: RowProblem) => void,
  result: ImportResult,
): Promise<void> {
  // One retry: a unique violation means another writer created one of these external ids after
  // our check; the second pass sees it and treats the row as an existing subject.
  for (let attempt = 0; ; attempt++) {
    try {
      const outcome = await writeOnce(core, h, rows, sealed, actor);
      result.imported += outcome.created;
      result.updated += outcome.updated;
      result.unchanged += outcome.unchanged;
      for (const r of outcome.erased)
        reject({ row: r.row, line: r.line, column: 'external_id', code: 'VAULT_SUBJECT_ERASED' });
      return;
    } catch (e) {
      if (attempt === 0 && !isAppError(e) && isUniqueViolation(e)) continue;
      throw e;
    }
  }
}

async function writeOnce(
  core: VaultCore,
  h: Header,
  rows: GoodRow[],
  sealed: SealedRow[],
  actor: string | null,
) {
  const found = await repo.findByExternalIds(
    core.db,
    rows.map((r) => r.externalId),
  );
  const existing = new Map(found.map((s) => [s.external_id, s]));
  const now = core.clock.now().toISOString();
  const fresh = newRows();
  const updates: { row: GoodRow; id: string; fingerprint: Buffer | null }[] = [];
  const erased: GoodRow[] = [];
  let unchanged = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const s = sealed[i]!;
    const old = existing.get(r.externalId);
    if (!old) appendSealed(fresh, s, r.externalId, now);
    else if (old.erased_at !== null) erased.push(r);
    else if (h.complete && old.fingerprint && bytesOf(s.fingerprint).equals(old.fingerprint)) unchanged++;
    // The sealed material is for a new subject; an existing one keeps its data key.
    else updates.push({ row: r, id: old.id, fingerprint: old.fingerprint });
  }
  let updated = 0;
  await core.db.transaction().execute(async (trx) => {
    await writeNew(trx, fresh);
    const updatedIds: string[] = [];
    for (const u of updates) {
      const set = new Map<string, string>();
      const unset: string[] = [];
      for (let slot = 0; slot < h.fieldColumns.length; slot++) {
        const name = h.names[h.fieldColumns[slot]!]!;
        const v = u.row.values[slot];
        if (v === undefined) unset.push(name);
        else set.set(name, v);
      }
      const changed = await applyUpdate(trx, core, u.id, set, unset, now, u.fingerprint);
      if (changed) updatedIds.push(u.id);
      else unchanged++;
    }
    updated = updatedIds.length;
    const events: AuditEvent[] = [];
    if (fresh.ids.length > 0) {
      events.push({
        kind: 'subject.created',
        actor,
        attrs: { count: fresh.ids.length, subjects: fresh.ids },
      });
    }
    if (updatedIds.length > 0) {
      events.push({
        kind: 'subject.updated',
        actor,
        attrs: { count: updatedIds.length, subjects: updatedIds },
      });
    }
    await recordEvents(trx, core, events);
  });
  return { created: fresh.ids.length, updated, unchanged, erased };
}

// --- the worker thread ----------------------------------------------------------------------------------

type WorkerMessage =
  | ProducerEvent
  | { t: 'credit' }
  | { t: 'fail'; code?: string; details?: Record<string, unknown>; message?: string };

/**
 * Input chunks that may be on their way to the worker or waiting in it unparsed. With SQLite this
 * thread is blocked during every batch write and cannot send more then, so the worker needs this
 * much in hand not to run dry meanwhile (64 chunks of the 64 KiB a file stream reads: 4 MiB).
 */
const INPUT_CREDIT = 64;

/** The producer's events from a worker thread, with the input pumped to it a chunk at a time. */
async function* workerEvents(source: Readable, init: WorkerInit): AsyncGenerator<ProducerEvent> {
  const worker = startVaultWorker('import.worker', init);
  const queue: WorkerMessage[] = [];
  let wake: (() => void) | undefined;
  let credit = INPUT_CREDIT;
  let creditWake: (() => void) | undefined;
  const deliver = (m: WorkerMessage) => {
    if (m.t === 'credit') {
      credit++;
      creditWake?.();
      creditWake = undefined;
      return;
    }
    queue.push(m);
    wake?.();
    wake = undefined;
  };
  worker.on('message', deliver);
  worker.on('error', (e) => deliver({ t: 'fail', message: e.message }));
  worker.on('exit', (code) => {
    if (code !== 0) deliver({ t: 'fail', message: `import worker exited with code ${code}` });
  });
  let stopped = false;
  const pump = (async () => {
    for await (const chunk of source) {
      if (stopped) return;
      while (credit === 0) {
        await new Promise<void>((r) => {
          creditWake = r;
        });
        if (stopped) return;
      }
      credit--;
      // A copy the worker can own (a chunk may share its memory with other buffers).
      const data = new Uint8Array(
        typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Uint8Array),
      );
      worker.postMessage({ t: 'chunk', data }, [data.buffer as ArrayBuffer]);
    }
    worker.postMessage({ t: 'end' });
  })().catch((e: unknown) => deliver({ t: 'fail', message: e instanceof Error ? e.message : String(e) }));
  try {
    for (;;) {
      while (queue.length === 0) {
        await new Promise<void>((r) => {
          wake = r;
        });
      }
      const m = queue.shift()!;
      if (m.t === 'fail') {
        if (m.code) throw vaultError(m.code as VaultErrorCode, m.details ? { details: m.details } : {});
        throw new Error(m.message ?? 'import worker failed');
      }
      if (m.t === 'credit') continue;
      yield m;
      if (m.t === 'batch') worker.postMessage({ t: 'ack' });
      if (m.t === 'end') return;
    }
  } finally {
    stopped = true;
    creditWake?.();
    source.destroy();
    await pump;
    await worker.terminate();
  }
}
