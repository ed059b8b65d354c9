import type { Kysely, Transaction } from 'kysely';
import { onCommitted } from './commitsignal.js';

/**
 * Group commit: many callers' units of work share one durable transaction. A caller's promise
 * resolves only after the commit, so an acknowledged unit is durable (SQLite runs
 * the WAL fsync after COMMIT, ADR 0017). One fsync per batch instead of one per read is what lets every read carry its
 * own decision, access event and ledger entry at speed — the lesson of the transparency logs
 * (Trillian's per-row commits stalled near 60 entries/s).
 *
 * Two forms:
 * - `createGroupCommit(db).run(work)`: each unit runs inside its own savepoint, so a unit that
 *   throws is rolled back alone and its caller gets the error; the others commit together.
 * - `createBatchCommit(db, process).submit(item)`: the items that arrive together are handed to
 *   `process` as one array, so it can do the batch's work in a few set-wise queries instead of a
 *   few queries per item. When `process` throws for a batch, the transaction is rolled back and the
 *   items are retried one by one, each in its own savepoint: the item that fails gets the error,
 *   the others still commit (a failure inside a batch never takes the others down).
 */
export interface GroupCommit {
  run<T>(work: (trx: Transaction<any>) => Promise<T>): Promise<T>;
  /** Resolves when nothing is queued or running. */
  drain(): Promise<void>;
}

export interface BatchCommit<I, O> {
  submit(item: I): Promise<O>;
  /** Resolves when nothing is queued or running. */
  drain(): Promise<void>;
  /** Counters since creation: transactions committed, items in them, batches retried one by one. */
  stats(): BatchStats;
}

export interface BatchStats {
  batches: number;
  items: number;
  retried: number;
}

interface Job<I> {
  item: I;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Runs each item in its own savepoint of one transaction; commits once. */
async function oneByOne<I>(
  db: Kysely<any>,
  items: readonly I[],
  work: (trx: Transaction<any>, item: I) => Promise<unknown>,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const trx = await db.startTransaction().execute();
  try {
    for (let i = 0; i < items.length; i++) {
      const sp = `gc${i}`;
      const inner = await trx.savepoint(sp).execute();
      try {
        outcomes.push({ ok: true, value: await work(inner, items[i]!) });
        await inner.releaseSavepoint(sp).execute();
      } catch (e) {
        await inner.rollbackToSavepoint(sp).execute();
        outcomes.push({ ok: false, error: e });
      }
    }
    await trx.commit().execute();
  } catch (e) {
    await trx
      .rollback()
      .execute()
      .catch(() => undefined);
    throw e;
  }
  return outcomes;
}

function settle<I>(jobs: readonly Job<I>[], outcomes: readonly Outcome[]): void {
  jobs.forEach((j, i) => {
    const o = outcomes[i]!;
    if (o.ok) j.resolve(o.value);
    else j.reject(o.error);
  });
}

/**
 * The queue is bounded (issue 11, item 11): past `maxQueue` waiting units a submission is refused at
 * once with DB_QUEUE_FULL, which the HTTP layer answers 503 with Retry-After, instead of letting
 * memory and latency grow without limit under a flood.
 */
export const DEFAULT_MAX_QUEUE = 20_000;

export class QueueFullError extends Error {
  readonly code = 'DB_QUEUE_FULL';
  constructor() {
    super('group-commit queue is full');
    this.name = 'QueueFullError';
  }
}

/** Batches whose COMMIT is done but whose fsync may still run, at most (each later fsync covers them). */
const MAX_SYNCING = 8;

/**
 * A queue drained by one loop at a time; the loop never dies on an error (each batch settles its
 * jobs). On SQLite the loop forms and starts the next batch as soon as the previous one has
 * committed, while its fsync runs (src/db/commitsignal.ts): the event loop parses, decides and
 * decrypts the next batch instead of idling for the disk. Each caller is still acknowledged only when
 * its own batch's transaction, fsync included, is done.
 */
function createQueue<I>(
  maxBatch: number,
  runBatch: (jobs: Job<I>[]) => Promise<void>,
  maxQueue = DEFAULT_MAX_QUEUE,
) {
  const queue: Job<I>[] = [];
  const syncing = new Set<Promise<void>>();
  let running: Promise<void> | undefined;

  async function loop(): Promise<void> {
    try {
      while (queue.length > 0) {
        // Yield a turn first: callers whose own queries waited for the connection (on SQLite the
        // batch held it) get to run them and join the next batch instead of trickling in after it.
        await new Promise<void>((r) => setImmediate(r));
        if (syncing.size >= MAX_SYNCING) await Promise.race(syncing);
        const batch = queue.splice(0, maxBatch);
        let committed!: () => void;
        const free = new Promise<void>((r) => {
          committed = r;
        });
        const done: Promise<void> = onCommitted(committed, () => runBatch(batch))
          .catch((e) => {
            // Could not even open a transaction (connection lost): these callers get the error.
            for (const j of batch) j.reject(e);
          })
          .finally(() => syncing.delete(done));
        syncing.add(done);
        await Promise.race([free, done]);
      }
    } finally {
      running = undefined;
    }
  }

  return {
    push(item: I): Promise<unknown> {
      if (queue.length >= maxQueue) return Promise.reject(new QueueFullError());
      return new Promise((resolve, reject) => {
        queue.push({ item, resolve, reject });
        // Start on the next turn (loop yields first) so callers arriving in the same turn share the batch.
        running ??= loop();
      });
    },
    async drain(): Promise<void> {
      while (running !== undefined || syncing.size > 0) await Promise.all([running, ...syncing]);
    },
  };
}

export function createGroupCommit(
  db: Kysely<any>,
  options: { maxBatch?: number; maxQueue?: number } = {},
): GroupCommit {
  type Work = (trx: Transaction<any>) => Promise<unknown>;
  const q = createQueue<Work>(
    options.maxBatch ?? 256,
    async (jobs) => {
      settle(
        jobs,
        await oneByOne(
          db,
          jobs.map((j) => j.item),
          (trx, work) => work(trx),
        ),
      );
    },
    options.maxQueue,
  );
  return {
    run: <T>(work: (trx: Transaction<any>) => Promise<T>) => q.push(work) as Promise<T>,
    drain: () => q.drain(),
  };
}

export function createBatchCommit<I, O>(
  db: Kysely<any>,
  process: (trx: Transaction<any>, items: readonly I[]) => Promise<O[]>,
  options: { maxBatch?: number; maxQueue?: number } = {},
): BatchCommit<I, O> {
  const stats: BatchStats = { batches: 0, items: 0, retried: 0 };
  const q = createQueue<I>(
    options.maxBatch ?? 256,
    async (jobs) => {
      const items = jobs.map((j) => j.item);
      let values: O[];
      try {
        values = await db.transaction().execute((trx) => process(trx, items));
        stats.batches++;
        stats.items += items.length;
      } catch (e) {
        if (jobs.length === 1) {
          jobs[0]!.reject(e);
          return;
        }
        // Someone's item broke the batch: find whose, and commit everyone else's.
        stats.retried++;
        stats.batches++;
        stats.items += items.length;
        settle(jobs, await oneByOne(db, items, async (trx, item) => (await process(trx, [item]))[0]));
        return;
      }
      for (const [i, j] of jobs.entries()) j.resolve(values[i]);
    },
    options.maxQueue,
  );
  return {
    submit: (item: I) => q.push(item) as Promise<O>,
    drain: () => q.drain(),
    stats: () => ({ ...stats }),
  };
}
