import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { blindIndexer, loadKeyring } from '../../lib/crypto/index.js';
import { isAppError } from '../../lib/errors.js';
import { randomId } from '../../lib/ids.js';
import { createCatalog, type FieldSpec } from './catalog.js';
import { type ProducerParams, produce, type Sealer } from './importrows.js';
import { KeyState } from './keystate.js';

/**
 * The import's producer in a worker thread: parsing, validation and AES-GCM sealing run here while
 * the calling thread writes the previous batch (with better-sqlite3 the database work is
 * synchronous in that thread, so without this nothing would overlap). Keys come from the key file
 * itself, re-read when it changes, exactly as in the calling thread.
 *
 * In: { t: 'chunk', data } | { t: 'end' } | { t: 'ack' }. Out: the producer's events,
 * { t: 'credit' } when it wants the next chunk, { t: 'fail', … } on an error.
 */
export interface WorkerInit {
  specs: FieldSpec[];
  keyFile: string;
  params: ProducerParams;
}

const port = parentPort!;
const init = workerData as WorkerInit;
const catalog = createCatalog(init.specs);
const keys = new KeyState(loadKeyring(init.keyFile));
const hash = blindIndexer(keys.current());
const sealer: Sealer = { catalog, keyring: () => keys.current(), hash, id: () => randomId('sub') };

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
port.close();
