import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';

/*
 * SQLite's WAL checkpoint, off the writing thread (issue 17: "checkpoint the WAL off the writing
 * path"; ADR 0017, addendum). The main connection runs with wal_autocheckpoint = 0; this thread holds
 * a connection of its own to the same file and runs a PASSIVE checkpoint every `intervalMs`: it copies
 * committed WAL frames into the database file and fsyncs it, never waiting for or blocking a writer
 * or a reader. Durability does not depend on it (a commit is durable once its WAL frames are synced);
 * it only keeps the WAL short and moves the copy and its fsync out of the event loop.
 */
const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = new SQLite(path);
db.pragma('busy_timeout = 1000');
db.pragma('wal_autocheckpoint = 0');

function checkpoint(): void {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or interrupted: the next tick tries again; the WAL only grows meanwhile.
  }
}

const timer = setInterval(checkpoint, intervalMs);
parentPort!.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort!.close();
});
