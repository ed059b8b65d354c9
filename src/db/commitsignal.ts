import { AsyncLocalStorage } from 'node:async_hooks';

/*
 * A scheduling hint from the SQLite dialect to the group commit (ADR 0017, addendum of 2026-12-06):
 * "this transaction's COMMIT is done and the connection is free; its fsync is still running". The
 * group commit then forms and starts the next batch while the disk works, instead of leaving the
 * event loop idle until the fsync returns. It is only a hint: every caller is still acknowledged
 * when its own transaction's execute() resolves, which the dialect allows only after the fsync that
 * began after its COMMIT. A dialect that never signals (PostgreSQL, SQLite with synchronous=FULL)
 * leaves the group commit to wait for the whole transaction, as before.
 */
const listeners = new AsyncLocalStorage<() => void>();

/** Runs `fn`; `committed` is called when a transaction begun inside it has committed (not yet synced). */
export function onCommitted<T>(committed: () => void, fn: () => Promise<T>): Promise<T> {
  return listeners.run(committed, fn);
}

/** Called by a dialect between COMMIT and the fsync that makes it durable. */
export function signalCommitted(): void {
  listeners.getStore()?.();
}
