import { parentPort, workerData } from 'node:worker_threads';
import { blindIndexer, loadKeyring } from '../../lib/crypto/index.js';
import { bulkRandomId } from '../../lib/ids.js';
import { createCatalog, type FieldSpec } from './catalog.js';
import { type SealedRow, type Sealer, sealUnsealed, type Unsealed } from './importrows.js';
import { KeyState } from './keystate.js';

/**
 * The import's second sealing thread, started by the parsing worker (import.worker.ts): it seals
 * the share of each batch it is sent — data key, fields, blind indexes, fingerprint — exactly as
 * the parsing thread seals the rest, with keys from the same key file.
 *
 * In: { t: 'seal', seq, rows: Unsealed[] }. Out: { t: 'sealed', seq, rows: SealedRow[] } or
 * { t: 'fail', seq, message }.
 */
export interface SealerInit {
  specs: FieldSpec[];
  keyFile: string;
}

const port = parentPort!;
const init = workerData as SealerInit;
const keys = new KeyState(loadKeyring(init.keyFile));
const sealer: Sealer = {
  catalog: createCatalog(init.specs),
  keyring: () => keys.current(),
  hash: blindIndexer(keys.current()),
  id: () => bulkRandomId('sub'),
};

port.on('message', (m: { t: 'seal'; seq: number; rows: Unsealed[] }) => {
  try {
    const ring = sealer.keyring();
    const rows: SealedRow[] = m.rows.map((u) => sealUnsealed(sealer, ring, u));
    port.postMessage({ t: 'sealed', seq: m.seq, rows });
  } catch (e) {
    port.postMessage({ t: 'fail', seq: m.seq, message: e instanceof Error ? e.message : String(e) });
  }
});
