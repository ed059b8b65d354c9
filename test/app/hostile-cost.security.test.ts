/*
 * Threat: hostile traffic that is cheap to send and dear to answer, so that a flood of malformed
 * requests starves every other caller, /healthz included (issue 11, "Must show": /healthz p99 within
 * 50 ms while 100,000 hostile requests arrive; docs/security.md, ADR 0018). What a CPU profile of
 * the fuzz found, each guarded here without a timing assertion:
 * - refused attempts spread over every route and role (each opening its own coalescing window)
 *   cost one transaction and WAL fsync each: they are written in batches, one after another;
 * - every refused request built an error with a captured stack trace nobody reads (4xx).
 */
import { describe, expect, it, vi } from 'vitest';
import { createAttemptLog } from '../../src/app/attempts.js';
import { AppError, commonError } from '../../src/lib/errors.js';

describe('refused attempts are written in batches', () => {
  it('distinct attempts noted over many event-loop turns go in one write per flush, at most 64 a write', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const writes: number[] = [];
      const log = createAttemptLog({
        write: async (a) => {
          writes.push(a.length);
        },
        flushMs: 100,
      });
      for (let i = 0; i < 40; i++) {
        log.note({
          actor: `act_${i}`,
          route: 'GET /v1/subjects/:id',
          status: 400,
          code: 'VALIDATION_FAILED',
        });
        await new Promise((r) => setImmediate(r)); // a turn of the event loop between two requests
      }
      expect(writes).toEqual([]); // nothing per turn
      await vi.advanceTimersByTimeAsync(100);
      expect(writes).toEqual([40]);
      // A burst past the batch size: written on the next turn, 64 at a time.
      for (let i = 0; i < 150; i++)
        log.note({ actor: `act_b${i}`, route: 'GET /v1/subjects/:id', status: 429, code: 'RATE_LIMITED' });
      await new Promise((r) => setImmediate(r));
      await log.drain();
      expect(writes.slice(1)).toEqual([64, 64, 22]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('refused attempts are written one batch after another', () => {
  it('a batch starts only once the one before it is written (the event loop turns between two)', async () => {
    const started: number[] = [];
    const release: (() => void)[] = [];
    const log = createAttemptLog({
      write: (a) => {
        started.push(a.length);
        return new Promise<void>((r) => release.push(r));
      },
    });
    for (let i = 0; i < 130; i++)
      log.note({
        actor: `act_${i}`,
        route: 'POST /v1/subjects/read-batch',
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    const drained = log.drain();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([64]);
    release.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([64, 64]);
    release.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([64, 64, 2]);
    release.shift()!();
    await drained;
  });
});

describe('a client error carries no stack trace', () => {
  it('4xx: no frames captured; 5xx: frames kept; the global limit is restored', () => {
    const limit = Error.stackTraceLimit;
    const e = commonError('VALIDATION_FAILED');
    expect(e.status).toBe(400);
    expect(e.stack).toBe(`AppError: ${e.message}`);
    const internal = new AppError('X_INTERNAL', 500, 'internal');
    expect(internal.stack?.split('\n').length).toBeGreaterThan(1);
    expect(Error.stackTraceLimit).toBe(limit);
  });
});
