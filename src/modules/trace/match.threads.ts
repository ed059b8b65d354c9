import type { Worker } from 'node:worker_threads';
import { startWorkerBeside } from '../../lib/worker.js';
import type { LookupHasherInit } from '../vault/index.js';
import { LEAK_FIELDS, type LeakField, type LeakPlan, MAX_LEAK_ROWS } from './leakfile.js';
import { traceError } from './trace.errors.js';

/**
 * Matching a large leaked file on several cores (ADR 0012, 2026-12-06): the file is cut into pieces
 * at record ends (`planLeakFile`); matching threads (match.worker.ts) parse the pieces and normalise
 * and hash their values as the vault's `lookupMany` does, while this thread probes the blind index
 * with each piece's new hashes (through the vault's `lookupHashed`) and resolves its rows. Only
 * compact arrays come back (field flags, hash indexes, 32-byte hashes): no row object is built here.
 * The rows resolve exactly as `match` in trace.service.ts resolves parsed rows.
 */
export interface MatchWorkerInit {
  hasher: LookupHasherInit;
  /** The searchable fields, in the order of each row's hash indexes. */
  fields: LeakField[];
}

export interface PieceJob {
  seq: number;
  plan: Pick<LeakPlan, 'format' | 'delimiter' | 'headers'>;
  piece: string;
  skipFirst: boolean;
  last: boolean;
  /** Today (YYYYMMDD), for the field types' checks. */
  today: string;
}

export interface PieceDone {
  t: 'done';
  seq: number;
  rows: number;
  /** Per row, 2 bits per LEAK_FIELDS entry: 0 absent, 1 plain, 2 masked. */
  flags: Uint16Array;
  /** Per row and searchable field: -1 absent or masked, -2 does not normalise, else a hash index. */
  idx: Int32Array;
  /** Per searchable field, its distinct hashes in this piece, 32 bytes each. */
  hashes: Uint8Array[];
}

export interface ThreadedMatch {
  rows: number;
  subjects: Set<string>;
  unmatched: number;
  ambiguous: number;
  nameOnly: number;
  /** Over the matched rows: how many, and per field how many carry it plain and masked. */
  tally: Tally;
}

export interface Tally {
  rows: number;
  plain: Record<LeakField, number>;
  masked: Record<LeakField, number>;
}

export const emptyTally = (): Tally => ({
  rows: 0,
  plain: Object.fromEntries(LEAK_FIELDS.map((f) => [f, 0])) as Record<LeakField, number>,
  masked: Object.fromEntries(LEAK_FIELDS.map((f) => [f, 0])) as Record<LeakField, number>,
});

export interface ThreadedDeps {
  pool: MatchPool;
  fields: readonly LeakField[];
  today: string;
  /** The vault's probe: blind-index hash (latin1) → subject ids, sorted. */
  lookupHashed(field: string, hashes: readonly Buffer[]): Promise<Map<string, string[]>>;
}

/** Starts trace module worker `name` beside this file. */
function startWorker(name: string, workerData: unknown): Worker {
  return startWorkerBeside(import.meta.url, name, workerData);
}

export async function matchThreaded(plan: LeakPlan, deps: ThreadedDeps): Promise<ThreadedMatch> {
  const fields = deps.fields;
  const nf = fields.length;
  const out: ThreadedMatch = {
    rows: 0,
    subjects: new Set(),
    unmatched: 0,
    ambiguous: 0,
    nameOnly: 0,
    tally: emptyTally(),
  };
  // Per field: every hash probed so far (latin1) → subject ids, or null for no subject.
  const known = fields.map(() => new Map<string, readonly string[] | null>());

  async function resolve(d: PieceDone): Promise<void> {
    const local: (readonly string[] | null)[][] = [];
    for (let j = 0; j < nf; j++) {
      const bytes = d.hashes[j]!;
      const count = bytes.length / 32;
      const keys: string[] = new Array(count);
      const fresh: Buffer[] = [];
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let k = 0; k < count; k++) {
        const key = buf.toString('latin1', k * 32, k * 32 + 32);
        keys[k] = key;
        if (!known[j]!.has(key)) {
          known[j]!.set(key, null);
          fresh.push(buf.subarray(k * 32, k * 32 + 32));
        }
      }
      if (fresh.length)
        for (const [key, ids] of await deps.lookupHashed(fields[j]!, fresh)) known[j]!.set(key, ids);
      local.push(keys.map((key) => known[j]!.get(key) ?? null));
    }
    const lists: (readonly string[])[] = [];
    for (let r = 0; r < d.rows; r++) {
      let any = false;
      lists.length = 0;
      for (let j = 0; j < nf; j++) {
        const k = d.idx[r * nf + j]!;
        if (k === -1) continue;
        any = true;
        if (k < 0) continue;
        const ids = local[j]![k];
        if (ids) lists.push(ids);
      }
      if (!any) {
        out.nameOnly++;
        out.unmatched++;
        continue;
      }
      if (lists.length === 0) {
        out.unmatched++;
        continue;
      }
      const subject = pick(lists);
      if (subject === undefined) {
        out.ambiguous++;
        continue;
      }
      out.subjects.add(subject);
      const bits = d.flags[r]!;
      out.tally.rows++;
      for (let i = 0; i < LEAK_FIELDS.length; i++) {
        const b = (bits >> (2 * i)) & 3;
        if (b === 1) out.tally.plain[LEAK_FIELDS[i]!]++;
        else if (b === 2) out.tally.masked[LEAK_FIELDS[i]!]++;
      }
    }
  }

  // Every piece goes to the pool at once (it queues them); each is resolved in order of arrival,
  // one at a time, while the threads parse and hash the next ones.
  let resolved = Promise.resolve();
  let tooLarge = false;
  const jobs = plan.pieces.map((piece, seq) =>
    deps.pool
      .parse({
        seq,
        plan: { format: plan.format, delimiter: plan.delimiter, headers: plan.headers },
        piece,
        skipFirst: seq === 0 && plan.skipHeader,
        last: seq === plan.pieces.length - 1,
        today: deps.today,
      })
      .then((d) => {
        out.rows += d.rows;
        if (out.rows > MAX_LEAK_ROWS) tooLarge = true;
        if (tooLarge) return resolved;
        resolved = resolved.then(() => resolve(d));
        return resolved;
      }),
  );
  await Promise.all(jobs);
  await resolved;
  if (tooLarge) throw traceError('TRACE_FILE_TOO_LARGE', { details: { maxRows: MAX_LEAK_ROWS } });
  if (out.rows === 0) throw traceError('TRACE_FILE_EMPTY');
  return out;
}

/**
 * The subject a row's matching fields name: the one every field names (the common row), else the
 * single most-voted subject; undefined on a tie.
 */
export function pick(lists: readonly (readonly string[])[]): string | undefined {
  const one = lists[0]!.length === 1 ? lists[0]![0]! : undefined;
  if (one !== undefined && lists.every((l) => l.length === 1 && l[0] === one)) return one;
  const votes = new Map<string, number>();
  for (const l of lists) for (const s of l) votes.set(s, (votes.get(s) ?? 0) + 1);
  let best = 0;
  let top: string | undefined;
  let ties = 0;
  for (const [s, n] of votes) {
    if (n > best) {
      best = n;
      top = s;
      ties = 1;
    } else if (n === best) ties++;
  }
  return ties === 1 ? top : undefined;
}

/**
 * The matching threads, started on the first large file and kept (unreferenced while idle: they do
 * not hold the process open) so that a later trace does not pay their start-up again; `close` ends
 * them. Each
 * thread has at most two pieces out (one in work, one queued); the rest wait here.
 */
export interface MatchPool {
  parse(job: PieceJob): Promise<PieceDone>;
  close(): Promise<void>;
}

export function createMatchPool(init: () => MatchWorkerInit, threads: number): MatchPool {
  interface Slot {
    w: Worker;
    out: number;
  }
  let slots: Slot[] | undefined;
  const queue: PieceJob[] = [];
  const waiting = new Map<number, { ok: (d: PieceDone) => void; fail: (e: Error) => void }>();
  let nextId = 0;
  const failAll = (e: Error) => {
    for (const p of waiting.values()) p.fail(e);
    waiting.clear();
    queue.length = 0;
    slots = undefined;
  };
  // Referenced while a piece is out (a trace awaiting them keeps the process alive), not when idle.
  const idle = () => {
    if (waiting.size === 0) for (const s of slots ?? []) s.w.unref();
  };
  const pump = () => {
    if (!slots) return;
    for (const s of slots)
      while (s.out < 2 && queue.length) {
        s.out++;
        s.w.postMessage(queue.shift());
      }
  };
  const start = (): Slot[] => {
    const data = init();
    const made: Slot[] = [];
    for (let i = 0; i < Math.max(1, threads); i++) {
      const w = startWorker('match.worker', data);
      const slot: Slot = { w, out: 0 };
      w.on('message', (m: PieceDone | { t: 'fail'; seq: number; message: string }) => {
        slot.out--;
        const p = waiting.get(m.seq);
        waiting.delete(m.seq);
        if (m.t === 'done') p?.ok(m);
        else p?.fail(new Error(m.message));
        pump();
        idle();
      });
      w.on('error', (e) => {
        for (const x of made) void x.w.terminate();
        failAll(e);
      });
      w.on('exit', (code) => {
        if (slots?.includes(slot)) {
          for (const x of made) void x.w.terminate();
          failAll(new Error(`trace matching thread exited with code ${code}`));
        }
      });
      made.push(slot);
    }
    return made;
  };
  return {
    parse(job) {
      slots ??= start();
      // Sequence numbers are the pool's own (several traces may share it).
      const id = nextId++;
      return new Promise<PieceDone>((ok, fail) => {
        waiting.set(id, {
          ok: (d) => ok({ ...d, seq: job.seq }),
          fail,
        });
        queue.push({ ...job, seq: id });
        for (const s of slots ?? []) s.w.ref();
        pump();
      });
    },
    async close() {
      const s = slots;
      slots = undefined;
      failAll(new Error('trace matching threads closed'));
      if (s) await Promise.all(s.map((x) => x.w.terminate()));
    },
  };
}
