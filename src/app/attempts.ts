import type { Logger } from 'pino';
import type { AttemptRecord } from '../modules/access/index.js';

/**
 * Every attempt by an authenticated actor is evidence (issue 11, item 7), including the ones
 * refused before a decision: a malformed read, a read over the rate limit. Writing one access event
 * and ledger entry per refused request would let a flood of 429s cost a database write each, so
 * identical attempts (same actor, route and code) are coalesced: the first one in a window is
 * written within `flushMs` (default 100 ms), the repeats within the window are written as one record
 * carrying their count when the window closes. A script hammering the API costs about one record per
 * second per route, and the ledger still says who tried, what, how often and when.
 *
 * First attempts are written together, one transaction per `flushMs` or per BATCH records, not one
 * per event-loop turn: a fuzz spread over every route and role opens thousands of windows a second,
 * and one transaction (and WAL fsync) each was a fifth of the server's CPU under hostile traffic
 * (docs/security.md, ADR 0018). BATCH bounds how long one transaction holds the event loop.
 */
export interface AttemptLog {
  note(a: Omit<AttemptRecord, 'count'>): void;
  /** Writes everything pending and waits for the writes in flight. */
  drain(): Promise<void>;
}

const MAX_KEYS = 10_000;
/** First attempts per transaction at most (each is an access event and a ledger entry). */
const BATCH = 64;

export function createAttemptLog(deps: {
  write(attempts: readonly AttemptRecord[]): Promise<void>;
  logger?: Logger;
  windowMs?: number;
  /** First attempts wait at most this long to be written together (0: the next event-loop turn). */
  flushMs?: number;
}): AttemptLog {
  const windowMs = deps.windowMs ?? 1000;
  const flushMs = deps.flushMs ?? 100;
  const open = new Map<string, { start: number; sample: Omit<AttemptRecord, 'count'>; repeats: number }>();
  const inFlight = new Set<Promise<void>>();
  let now: AttemptRecord[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  let flushSoon: NodeJS.Immediate | undefined;
  let timer: NodeJS.Timeout | undefined;

  function flush(): void {
    clearTimeout(flushTimer);
    clearImmediate(flushSoon);
    flushTimer = undefined;
    flushSoon = undefined;
    const batch = now;
    now = [];
    write(batch);
  }

  /**
   * One transaction per BATCH records, each after the previous one is written: the event loop
   * turns between two (SQLite's statements run on it; queued back to back, a window closing with
   * hundreds of records would hold it for all of them at once).
   */
  function write(records: AttemptRecord[]): void {
    for (let i = 0; i < records.length; i += BATCH) writeOne(records.slice(i, i + BATCH));
  }

  let tail: Promise<unknown> = Promise.resolve();
  function writeOne(batch: AttemptRecord[]): void {
    if (batch.length === 0) return;
    const p = tail
      .then(() => deps.write(batch))
      .catch((e: unknown) =>
        deps.logger?.error({ err: (e as Error)?.name, n: batch.length }, 'could not record refused attempts'),
      )
      .finally(() => inFlight.delete(p));
    tail = p;
    inFlight.add(p);
  }

  function closeWindows(all: boolean): void {
    flush(); // a window's first record is written before its repeats
    const t = Date.now();
    const out: AttemptRecord[] = [];
    for (const [k, w] of open) {
      if (!all && t - w.start < windowMs) continue;
      if (w.repeats > 0) out.push({ ...w.sample, count: w.repeats });
      open.delete(k);
    }
    write(out);
    if (open.size > 0 && !timer) {
      timer = setTimeout(() => {
        timer = undefined;
        closeWindows(false);
      }, windowMs);
      timer.unref();
    }
  }

  return {
    note(a) {
      const key = `${a.actor}\u0000${a.route}\u0000${a.code}`;
      const w = open.get(key);
      if (w && Date.now() - w.start < windowMs) {
        w.repeats++;
        return;
      }
      if (w) closeWindows(false);
      if (open.size >= MAX_KEYS) closeWindows(true);
      open.set(key, { start: Date.now(), sample: a, repeats: 0 });
      now.push({ ...a, count: 1 });
      // A full batch goes on the next turn (not inside the request that filled it).
      if (now.length >= BATCH || flushMs <= 0) flushSoon ??= setImmediate(flush);
      else if (!flushTimer) {
        flushTimer = setTimeout(flush, flushMs);
        flushTimer.unref();
      }
      if (!timer) {
        timer = setTimeout(() => {
          timer = undefined;
          closeWindows(false);
        }, windowMs);
        timer.unref();
      }
    },
    async drain() {
      flush();
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      closeWindows(true);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
