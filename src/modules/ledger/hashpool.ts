import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HASH_SIZE, leafHash, nodeHash } from './merkle.js';
import { TILE_WIDTH } from './tiles.js';

/**
 * SHA-256 is most of the ledger's CPU: one leaf hash and about one node hash per entry, on append
 * and on verify. This pool computes, on worker threads, the leaf hashes of a run of entries and the
 * root of every full tile inside it (the 255 node hashes below each level-1 hash), while the main
 * thread does what only it can: encoding, database I/O, comparing. The caller gets the same
 * hashes it would have computed itself.
 *
 * The worker is a small CommonJS script given as source text (`eval: true`), so it runs unchanged
 * under tsx, vitest and the compiled build; it only touches node:crypto, with the same one-shot
 * digest as merkle.ts. Where workers are not available the work is done inline.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const digest = crypto.hash
  ? (d) => crypto.hash('sha256', d, 'buffer')
  : (d) => crypto.createHash('sha256').update(d).digest();
let scratch = Buffer.alloc(70000);
const node = Buffer.alloc(65);
node[0] = 1;
parentPort.on('message', (m) => {
  try {
    const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    const ends = m.ends;
    const count = ends.length;
    // allocUnsafeSlow: never a slice of the shared pool, whose memory would go with the transfer.
    const leaves = Buffer.allocUnsafeSlow(count * 32);
    let start = 0;
    for (let i = 0; i < count; i++) {
      const end = ends[i];
      const len = end - start;
      if (len + 1 > scratch.length) scratch = Buffer.alloc(len + 1);
      scratch[0] = 0;
      data.copy(scratch, 1, start, end);
      digest(scratch.subarray(0, len + 1)).copy(leaves, i * 32);
      start = end;
    }
    // Roots of the full tiles inside the run: tiles start where (first + i) % 256 === 0.
    const first = m.first;
    const skip = (256 - (first % 256)) % 256;
    const tiles = count > skip ? Math.floor((count - skip) / 256) : 0;
    const roots = Buffer.allocUnsafeSlow(tiles * 32);
    const bufA = Buffer.allocUnsafe(128 * 32);
    const bufB = Buffer.allocUnsafe(128 * 32);
    for (let t = 0; t < tiles; t++) {
      let src = leaves.subarray((skip + t * 256) * 32, (skip + t * 256 + 256) * 32);
      let width = 256;
      let useA = true;
      while (width > 1) {
        const out = useA ? bufA : bufB;
        useA = !useA;
        for (let k = 0; k < width / 2; k++) {
          src.copy(node, 1, k * 64, k * 64 + 64);
          digest(node).copy(out, k * 32);
        }
        width /= 2;
        src = out.subarray(0, width * 32);
      }
      src.copy(roots, t * 32, 0, 32);
    }
    parentPort.postMessage({ id: m.id, leaves, roots, skip }, [leaves.buffer, roots.buffer]);
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.message || e) });
  }
});
`;

export interface HashedRun {
  /** Leaf hashes of the entries, concatenated (count × 32 bytes). */
  leaves: Buffer;
  /** Roots of the full tiles inside the run, concatenated. */
  roots: Buffer;
  /** Entries before the first full tile (the run may start inside a tile). */
  skip: number;
}

interface Job {
  resolve(r: HashedRun): void;
  reject(e: Error): void;
}

class PoolWorker {
  readonly worker: Worker;
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.on('message', (m: { id: number; error?: string } & HashedRun) => {
      const job = this.jobs.get(m.id);
      if (!job) return;
      this.jobs.delete(m.id);
      if (this.jobs.size === 0) this.worker.unref();
      if (m.error) job.reject(new Error(m.error));
      else {
        // Transferred typed arrays arrive as plain Uint8Arrays: view them as Buffers again.
        const view = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
        job.resolve({ leaves: view(m.leaves), roots: view(m.roots), skip: m.skip });
      }
    });
    this.worker.on('error', (e) => {
      for (const j of this.jobs.values()) j.reject(e);
      this.jobs.clear();
    });
    // After the listeners: attaching a 'message' listener refs the worker's port again.
    this.worker.unref();
  }

  get pending(): number {
    return this.jobs.size;
  }

  run(data: Buffer, ends: Uint32Array, first: number): Promise<HashedRun> {
    const id = this.nextId++;
    // Referenced while a job is out, so a process waiting for hashes does not exit under it.
    this.worker.ref();
    return new Promise<HashedRun>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      this.worker.postMessage({ id, data, ends, first }, [data.buffer as ArrayBuffer]);
    });
  }
}

/** The same work on the calling thread (no worker available, or a run too small to ship). */
export function hashInline(entries: readonly Uint8Array[], first: number): HashedRun {
  const leaves = Buffer.allocUnsafe(entries.length * HASH_SIZE);
  entries.forEach((e, i) => {
    leafHash(e).copy(leaves, i * HASH_SIZE);
  });
  const skip = (TILE_WIDTH - (first % TILE_WIDTH)) % TILE_WIDTH;
  const tiles = entries.length > skip ? Math.floor((entries.length - skip) / TILE_WIDTH) : 0;
  const roots = Buffer.allocUnsafe(tiles * HASH_SIZE);
  for (let t = 0; t < tiles; t++) {
    let level: Buffer[] = [];
    for (let i = 0; i < TILE_WIDTH; i++) {
      const at = (skip + t * TILE_WIDTH + i) * HASH_SIZE;
      level.push(leaves.subarray(at, at + HASH_SIZE));
    }
    while (level.length > 1) {
      const next: Buffer[] = [];
      for (let k = 0; k < level.length; k += 2)
        next.push(nodeHash(level[k] as Buffer, level[k + 1] as Buffer));
      level = next;
    }
    (level[0] as Buffer).copy(roots, t * HASH_SIZE);
  }
  return { leaves, roots, skip };
}

const MIN_SHIPPED = 512;
let workers: PoolWorker[] | undefined;
let disabled = false;
let limit: number | undefined;

/**
 * How many of the pool's workers to use from now on: 0 hashes on the calling thread (the
 * benchmark's one-core figure), undefined restores the default.
 */
export function setHashWorkers(n: number | undefined): void {
  limit = n;
}

function pool(): PoolWorker[] | undefined {
  if (disabled || limit === 0) return undefined;
  if (limit !== undefined) return allWorkers()?.slice(0, limit);
  return allWorkers();
}

function allWorkers(): PoolWorker[] | undefined {
  if (disabled) return undefined;
  if (!workers) {
    try {
      // Two workers even on two cores: the main thread mostly waits on I/O or on the hashes.
      const n = Math.max(2, Math.min(4, availableParallelism()));
      workers = Array.from({ length: n }, () => new PoolWorker());
    } catch {
      disabled = true;
      return undefined;
    }
  }
  return workers;
}

function ship(w: PoolWorker, entries: readonly Uint8Array[], first: number): Promise<HashedRun> {
  const ends = new Uint32Array(entries.length);
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    total += (entries[i] as Uint8Array).length;
    ends[i] = total;
  }
  // Not from the shared pool: the buffer's memory is transferred to the worker.
  const data = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const e of entries) {
    data.set(e, at);
    at += e.length;
  }
  return w.run(data, ends, first);
}

/**
 * The same for entries already packed end to end in one buffer (`ends[i]` is where entry i ends),
 * as the verifier reads them: the buffer goes to the least busy worker as it is, without a copy
 * per entry. `data` must own its memory (Buffer.allocUnsafeSlow): it is transferred, and unusable
 * here afterwards. Rejects when the worker fails (the caller still has the rows in the database).
 */
export function hashPacked(data: Buffer, ends: Uint32Array, first: number): Promise<HashedRun> {
  const ws = ends.length > 0 ? pool() : undefined;
  if (!ws) {
    const entries: Buffer[] = new Array(ends.length);
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      entries[i] = data.subarray(start, ends[i]);
      start = ends[i] as number;
    }
    return Promise.resolve(hashInline(entries, first));
  }
  let w = ws[0] as PoolWorker;
  for (const x of ws) if (x.pending < w.pending) w = x;
  return w.run(data, ends, first);
}

/**
 * Leaf hashes and full-tile roots of `entries`, which are the leaves `first`, `first + 1`, …
 * A large run is split at tile boundaries across the workers; the bytes are copied, so the caller
 * keeps its buffers. Small runs are hashed inline unless `ship` (the caller has other work to do
 * meanwhile).
 */
export async function hashEntries(
  entries: readonly Uint8Array[],
  first: number,
  options: { ship?: boolean } = {},
): Promise<HashedRun> {
  const ws = entries.length >= MIN_SHIPPED || (options.ship && entries.length > 0) ? pool() : undefined;
  if (!ws) return hashInline(entries, first);
  const skip = (TILE_WIDTH - (first % TILE_WIDTH)) % TILE_WIDTH;
  const parts = Math.max(1, Math.min(ws.length, Math.floor(entries.length / TILE_WIDTH)));
  // Cut points on tile boundaries, so each part's full tiles are exactly the run's, in order.
  const cuts = [0];
  for (let k = 1; k < parts; k++) {
    const target = Math.floor((k * entries.length) / parts);
    const aligned = skip + Math.round((target - skip) / TILE_WIDTH) * TILE_WIDTH;
    if (aligned > (cuts[cuts.length - 1] as number) && aligned < entries.length) cuts.push(aligned);
  }
  cuts.push(entries.length);
  const idle = [...ws].sort((a, b) => a.pending - b.pending);
  try {
    const runs = await Promise.all(
      cuts
        .slice(0, -1)
        .map((from, k) =>
          ship(idle[k % idle.length] as PoolWorker, entries.slice(from, cuts[k + 1]), first + from),
        ),
    );
    return {
      leaves: Buffer.concat(runs.map((r) => r.leaves)),
      roots: Buffer.concat(runs.map((r) => r.roots)),
      skip: (runs[0] as HashedRun).skip,
    };
  } catch {
    // A worker that failed is not trusted again; the hashes are computed here instead.
    disabled = true;
    return hashInline(entries, first);
  }
}
