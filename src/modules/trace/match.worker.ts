import { parentPort, workerData } from 'node:worker_threads';
import { createLookupHasher } from '../vault/index.js';
import { LEAK_FIELDS, parsePiece } from './leakfile.js';
import type { MatchWorkerInit, PieceDone, PieceJob } from './match.threads.js';

/**
 * A matching thread (match.threads.ts): parses the pieces of a leaked file it is sent, and for each
 * searchable field normalises and hashes every distinct value the way the vault's `lookupMany` does
 * (`createLookupHasher`: the vault's own field types, the index key read from the key file by this
 * thread, as the import's sealing threads read theirs — no key bytes are sent to it). What it sends
 * back holds no leaked value: per row, which fields are present (plain or masked) and an index into
 * the piece's list of distinct blind-index hashes per searchable field.
 */
const port = parentPort!;
const init = workerData as MatchWorkerInit;
const hashOf = createLookupHasher(init.hasher);
const fields = init.fields;

port.on('message', (job: PieceJob) => {
  try {
    const rows = parsePiece(job.piece, job.plan, job.skipFirst, job.last);
    const n = rows.length;
    const nf = fields.length;
    const flags = new Uint16Array(n);
    const idx = new Int32Array(n * nf);
    const seen = fields.map(() => new Map<string, number>());
    const hashes: Buffer[][] = fields.map(() => []);
    for (let r = 0; r < n; r++) {
      const values = rows[r]!;
      let bits = 0;
      for (let i = 0; i < LEAK_FIELDS.length; i++) {
        const v = values[LEAK_FIELDS[i]!];
        if (v) bits |= (v.masked ? 2 : 1) << (2 * i);
      }
      flags[r] = bits;
      for (let j = 0; j < nf; j++) {
        const v = values[fields[j]!];
        let k = -1;
        if (v && !v.masked) {
          const known = seen[j]!.get(v.value);
          if (known !== undefined) k = known;
          else {
            const h = hashOf(fields[j]!, v.value, job.today);
            if (h) {
              k = hashes[j]!.length;
              hashes[j]!.push(h);
            } else k = -2;
            seen[j]!.set(v.value, k);
          }
        }
        idx[r * nf + j] = k;
      }
    }
    const packed = hashes.map((hs) => {
      const out = new Uint8Array(hs.length * 32);
      for (let i = 0; i < hs.length; i++) out.set(hs[i]!, i * 32);
      return out;
    });
    const done: PieceDone = { t: 'done', seq: job.seq, rows: n, flags, idx, hashes: packed };
    port.postMessage(done, [flags.buffer, idx.buffer, ...packed.map((p) => p.buffer)]);
  } catch (e) {
    port.postMessage({ t: 'fail', seq: job.seq, message: e instanceof Error ? e.message : String(e) });
  }
});
