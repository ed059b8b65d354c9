import type { Worker } from 'node:worker_threads';
import { startWorkerBeside } from '../../lib/worker.js';

/** Starts the vault's worker module `name` (import.worker, import.sealer) beside this file. */
export function startVaultWorker(name: string, workerData: unknown): Worker {
  return startWorkerBeside(import.meta.url, name, workerData);
}
