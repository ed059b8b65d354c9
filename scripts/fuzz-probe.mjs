// Loaded into the server by scripts/fuzz.mjs (node --expose-gc --import): on SIGUSR2 it runs full
// garbage collections, waits for the allocator to hand pages back, and prints one line
// `FUZZ_PROBE {json}` with the process's memory, so that "RSS back within 10% of its start" is
// measured on live memory, not on garbage the collector has not reached yet. With
// FUZZ_SNAPSHOT_DIR set it also writes a heap snapshot (to compare start and end: retention).
// A measuring aid for the fuzz run only; the server never loads it otherwise.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

// The server's own event-loop delay and garbage-collection pauses between two probes (what a
// request arriving at a random moment waits for on this loop, whatever the client's own load).
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
let gcs = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push({ ms: e.duration, kind: e.detail?.kind });
}).observe({ entryTypes: ['gc'] });
const GC_KIND = { 1: 'scavenge', 2: 'minor-mark', 4: 'mark-compact', 8: 'incremental', 16: 'weak-cb' };
function loopReport() {
  const ms = (ns) => +(ns / 1e6).toFixed(1);
  const gcByKind = {};
  for (const g of gcs) {
    const k = GC_KIND[g.kind] ?? String(g.kind);
    const o = (gcByKind[k] ??= { count: 0, totalMs: 0, maxMs: 0 });
    o.count++;
    o.totalMs = +(o.totalMs + g.ms).toFixed(1);
    o.maxMs = +Math.max(o.maxMs, g.ms).toFixed(1);
  }
  const r = {
    loopDelay: { p50ms: ms(loop.percentile(50)), p99ms: ms(loop.percentile(99)), maxMs: ms(loop.max), count: loop.count },
    gc: gcByKind,
  };
  loop.reset();
  gcs = [];
  return r;
}

let n = 0;
process.on('SIGUSR2', () => {
  const gc = globalThis.gc;
  const settle = async () => {
    const since = loopReport(); // before the forced collections below, which it must not count
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
    // The SQLite database file's own memory map (file-backed pages of custodian.db read through
    // mmap: the kernel's page cache of that file, clean, reclaimable; counted in RssFile).
    let dbMapMiB = 0;
    try {
      let inDb = false;
      for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
        if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inDb = /\/custodian\.db$/.test(line);
        else if (inDb && line.startsWith('Rss:')) dbMapMiB += Number(/(\d+)/.exec(line)[1]) / 1024;
      }
    } catch {}
    dbMapMiB = +dbMapMiB.toFixed(1);
    process.stdout.write(
      `FUZZ_PROBE ${JSON.stringify({ tag, rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), heapTotalMiB: mib(m.heapTotal), externalMiB: mib(m.external), arrayBuffersMiB: mib(m.arrayBuffers), rssAnonMiB: kb('RssAnon'), rssFileMiB: kb('RssFile'), rssShmemMiB: kb('RssShmem'), dbMapMiB, snapshot, since })}\n`,
    );
    // The forced collections above are the probe's, not the server's: the next window starts here.
    loop.reset();
    gcs = [];
  };
  void settle();
});
