// Loaded into the server by scripts/fuzz.mjs (node --expose-gc --import): on SIGUSR2 it runs full
// garbage collections, waits for the allocator to hand pages back, and prints one line
// `FUZZ_PROBE {json}` with the process's memory, so that "RSS back within 10% of its start" is
// measured on live memory, not on garbage the collector has not reached yet. With
// FUZZ_SNAPSHOT_DIR set it also writes a heap snapshot (to compare start and end: retention).
// A measuring aid for the fuzz run only; the server never loads it otherwise.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';

let n = 0;
process.on('SIGUSR2', () => {
  const gc = globalThis.gc;
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      gc?.();
      await new Promise((r) => setTimeout(r, 200));
    }
    const tag = n++;
    let snapshot;
    if (process.env.FUZZ_SNAPSHOT_DIR)
      snapshot = v8.writeHeapSnapshot(join(process.env.FUZZ_SNAPSHOT_DIR, `fuzz-${tag}.heapsnapshot`));
    gc?.();
    await new Promise((r) => setTimeout(r, 500));
    const m = process.memoryUsage();
    const mib = (b) => +(b / 1048576).toFixed(1);
    // RSS by kind: anonymous (V8 heap, malloc: SQLite's page cache, prepared statements), file
    // (mapped files: the SQLite database through mmap, code), shared memory (the WAL index).
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (k) => mib(Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024);
    process.stdout.write(
      `FUZZ_PROBE ${JSON.stringify({ tag, rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), heapTotalMiB: mib(m.heapTotal), externalMiB: mib(m.external), arrayBuffersMiB: mib(m.arrayBuffers), rssAnonMiB: kb('RssAnon'), rssFileMiB: kb('RssFile'), rssShmemMiB: kb('RssShmem'), snapshot })}\n`,
    );
  };
  void settle();
});
