import { Readable } from 'node:stream';
import { parentPort, type Worker, workerData } from 'node:worker_threads';
import { blindIndexer, loadKeyring } from '../../lib/crypto/index.js';
import { isAppError } from '../../lib/errors.js';
import { bulkRandomId } from '../../lib/ids.js';
import { createCatalog, type FieldSpec } from './catalog.js';
import type { SealerInit } from './import.sealer.js';
import { type ProducerParams, produce, type SealedRow, type Sealer } from './importrows.js';
import { KeyState } from './keystate.js';
import { startVaultWorker } from './workers.js';

/**
 * The import's producer in a worker thread: parsing and validation run here, and AES-GCM sealing
 * either here or, with `sealThreads`, in sealing threads this worker starts, while the calling
 * thread writes earlier batches (with better-sqlite3 the database work is synchronous in that
 * thread, so without this nothing would overlap). Keys come from the key file itself, re-read when
 * it changes, exactly as in the calling thread.
 *
 * In: { t: 'chunk', data } | { t: 'end' } | { t: 'ack' }. Out: the producer's events,
 * { t: 'credit' } when it wants the next chunk, { t: 'fail', … } on an error.
 */
export interface WorkerInit {
  specs: FieldSpec[];
  keyFile: string;
  params: ProducerParams;
  /** Sealing threads (import.sealer.ts) beside this one; 0: this thread seals too. */
  sealThreads: number;
}

/** Batches smaller than this are sealed here: a sealing thread is not worth its start-up. */
const POOL_MIN_ROWS = 1000;

const port = parentPort!;
const init = workerData as WorkerInit;
const catalog = createCatalog(init.specs);
const keys = new KeyState(loadKeyring(init.keyFile));
const hash = blindIndexer(keys.current());
const sealer: Sealer = { catalog, keyring: () => keys.current(), hash, id: () => bulkRandomId('sub') };
const pool = init.sealThreads > 0 ? sealPool(init.sealThreads) : undefined;
if (pool) sealer.pool = pool;

let wantCredit = false;
const input = new Readable({
  read() {
    if (wantCredit) {
      wantCredit = false;
      port.postMessage({ t: 'credit' });
    }
  },
});

// At most two batches wait unacknowledged in the calling thread; then parsing pauses.
let unacked = 0;
let resume: (() => void) | undefined;

port.on('message', (m: { t: string; data?: Uint8Array }) => {
  if (m.t === 'chunk') {
    if (input.push(Buffer.from(m.data!.buffer, m.data!.byteOffset, m.data!.byteLength)))
      port.postMessage({ t: 'credit' });
    else wantCredit = true;
  } else if (m.t === 'end') {
    input.push(null);
  } else if (m.t === 'ack') {
    unacked--;
    resume?.();
    resume = undefined;
  }
});

try {
  for await (const ev of produce(input, init.params, sealer)) {
    port.postMessage(ev);
    if (ev.t === 'batch' && ++unacked >= 2)
      await new Promise<void>((r) => {
        resume = r;
      });
  }
} catch (e) {
  port.postMessage(
    isAppError(e)
      ? { t: 'fail', code: e.code, details: e.details ?? null }
      : { t: 'fail', message: e instanceof Error ? e.message : String(e) },
  );
}
await pool?.close();
port.close();

/**
 * The sealing threads, started on the first batch that is worth it; batches go to them in turn.
 * One more batch than there are threads may be out at once, so each thread has the next queued.
 */
function sealPool(threads: number): NonNullable<Sealer['pool']> & { close(): Promise<void> } {
  const workers: Worker[] = [];
  let seq = 0;
  const waiting = new Map<number, { ok: (rows: SealedRow[]) => void; fail: (e: Error) => void }>();
  const failAll = (e: Error) => {
    for (const w of waiting.values()) w.fail(e);
    waiting.clear();
  };
  const start = (): Worker => {
    const w = startVaultWorker('import.sealer', {
      specs: init.specs,
      keyFile: init.keyFile,
    } satisfies SealerInit);
    w.on('message', (m: { t: string; seq: number; rows?: SealedRow[]; message?: string }) => {
      const p = waiting.get(m.seq);
      if (!p) return;
      waiting.delete(m.seq);
      if (m.t === 'sealed') p.ok(m.rows!);
      else p.fail(new Error(m.message ?? 'import sealer failed'));
    });
    w.on('error', (e) => failAll(e));
    w.on('exit', (code) => failAll(new Error(`import sealer exited with code ${code}`)));
    return w;
  };
  return {
    minRows: POOL_MIN_ROWS,
    inFlight: threads + 1,
    seal(rows) {
      const n = ++seq;
      const i = n % threads;
      workers[i] ??= start();
      return new Promise((ok, fail) => {
        waiting.set(n, { ok, fail });
        workers[i]!.postMessage({ t: 'seal', seq: n, rows });
      });
    },
    async close() {
      // They hold nothing that needs flushing.
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
