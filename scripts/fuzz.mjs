#!/usr/bin/env node
// The full hostile-traffic run (docs/security.md): starts `custodian serve --demo` on a fresh data
// directory on 127.0.0.1 (with scripts/fuzz-probe.mjs loaded, which answers SIGUSR2 with the
// process's memory after forced full collections), then
//   0. a warm-up of W requests (another seed), after which the starting memory is taken;
//   1. sends N malformed and hostile requests (default 100,000) across every operation in
//      /openapi.json, without credentials and with every demo role's key, 32 at a time;
//   2. sends U concurrent unauthenticated uploads of M MB each (default 10 × 200 MB);
// sampling /healthz every 50 ms and the server's RSS throughout. Prints one JSON report; exits 1
// when a 5xx, a stack trace or a PI shape in any body appears (successes of the two registers that
// hold business contacts by design excepted: piByDesign), when the error mapper's PI guard fired,
// or when a bound is missed (/healthz p99 50 ms, settled RSS within 10% of its start; during the
// uploads RSS under 300 MB and /healthz within 50 ms).
//
//   npm run build && nice node scripts/fuzz.mjs [--requests 100000] [--warmup 2000]
//       [--uploads 10] [--upload-mb 200] [--concurrency 32] [--dump offending.jsonl]
//       [--snapshots DIR]
//   --dump FILE      every offending request and its response, one JSON object a line (triage)
//   --snapshots DIR  heap snapshots at boot, after the warm-up and after the run (retention)
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { fuzzRequest, leaksInternals, looksLikePi, operations, piByDesign } from './fuzz-cases.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const strArg = (name) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
/** --dump FILE: every offending request/response pair, one JSON object a line, for triage. */
const DUMP = strArg('dump');
const REQUESTS = arg('requests', 100_000);
const UPLOADS = arg('uploads', 10);
const UPLOAD_MB = arg('upload-mb', 200);
const PORT = arg('port', 18000 + Math.floor(Math.random() * 1000));
const CONCURRENCY = arg('concurrency', 32);
const WARMUP = arg('warmup', 2000);
const UPLOAD_ROUNDS = arg('upload-rounds', 5);
const ROUNDS = arg('rounds', 1);
const SEED = arg('seed', 2026); // the run's seed (round r uses SEED + r)

const dataDir = mkdtempSync(join(tmpdir(), 'custodian-fuzz-'));
const SNAPSHOTS = strArg('snapshots'); // a directory: heap snapshots at start and end (retention)
const KEEP_DATA = process.argv.includes('--keep-data'); // leave the data directory (what grew)
const CPU_PROF = strArg('cpu-prof'); // a directory: the server's CPU profile (node --cpu-prof), written at exit
const probe = new URL('./fuzz-probe.mjs', import.meta.url).href;
const server = spawn(
  process.execPath,
  [
    '--expose-gc',
    ...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF, '--cpu-prof-interval', '1000'] : []),
    '--import',
    probe,
    'dist/cli.js',
    'serve',
    '--demo',
    '--data-dir',
    dataDir,
    '--port',
    String(PORT),
  ],
  {
    env: {
      ...process.env,
      CUSTODIAN_IP_RATE_LIMIT: '0',
      CUSTODIAN_LOG_LEVEL: 'warn',
      ...(SNAPSHOTS ? { FUZZ_SNAPSHOT_DIR: SNAPSHOTS } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
// The probe's answers (scripts/fuzz-probe.mjs) arrive on the server's stdout.
const probes = [];
let probeWaiter;
let outBuf = '';
server.stdout.setEncoding('utf8');
server.stdout.on('data', (s) => {
  outBuf += s;
  let nl = outBuf.indexOf('\n');
  while (nl >= 0) {
    const line = outBuf.slice(0, nl);
    outBuf = outBuf.slice(nl + 1);
    if (line.startsWith('FUZZ_PROBE ')) {
      probes.push(JSON.parse(line.slice(11)));
      probeWaiter?.();
    }
    nl = outBuf.indexOf('\n');
  }
});
/** Live memory after forced full collections (the probe in the server answers SIGUSR2). */
async function settled() {
  const before = probes.length;
  const got = new Promise((r) => {
    probeWaiter = r;
  });
  server.kill('SIGUSR2');
  await Promise.race([got, new Promise((r) => setTimeout(r, 120_000))]);
  if (probes.length === before) throw new Error('the memory probe did not answer');
  const p = probes.at(-1);
  const { tag: _tag, ...rest } = p;
  // The database on disk (SQLite: file, WAL): what the memory map and page cache can hold.
  const dataMiB = readdirSync(dataDir)
    .filter((f) => f.startsWith('custodian.db'))
    .reduce((n, f) => n + statSync(join(dataDir, f)).size, 0);
  return { ...rest, dataMiB: +(dataMiB / 1048576).toFixed(1) };
}
const base = `http://127.0.0.1:${PORT}`;

/**
 * CPU the server used (all threads, from /proc/PID/stat) and, for its main thread (the event loop),
 * CPU time and time spent runnable but waiting for a core (/proc/PID/task/PID/schedstat): the share
 * of /healthz latency that is this machine's other work, not the server's.
 */
function cpuNow() {
  const stat = readFileSync(`/proc/${server.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = 100; // USER_HZ
  const [mainCpuNs, mainWaitNs] = readFileSync(`/proc/${server.pid}/task/${server.pid}/schedstat`, 'utf8')
    .trim()
    .split(' ')
    .map(Number);
  return {
    processCpuS: (Number(f[11]) + Number(f[12])) / tick,
    loopCpuS: mainCpuNs / 1e9,
    loopRunQueueS: mainWaitNs / 1e9,
    load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
  };
}
function cpuSince(a) {
  const b = cpuNow();
  const d = (k) => +(b[k] - a[k]).toFixed(2);
  return { processCpuS: d('processCpuS'), loopCpuS: d('loopCpuS'), loopRunQueueS: d('loopRunQueueS'), loadStart: a.load, loadEnd: b.load };
}

function rssMiB() {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY + 4 });
function request({ method, url, headers = {}, body }, opts = {}) {
  return new Promise((resolve) => {
    const req = http.request(`${base}${url}`, { method, headers, agent: opts.agent ?? agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

async function waitUp() {
  for (let i = 0; i < 600; i++) {
    const r = await request({ method: 'GET', url: '/healthz' });
    if (r.status === 200) return;
    await new Promise((r2) => setTimeout(r2, 200));
  }
  throw new Error('server did not start');
}

/** p50/p99/max of latencies (ms; a failed request counts as infinite). */
function quantiles(health) {
  health.sort((a, b) => a - b);
  const q = (p) => health[Math.min(health.length - 1, Math.floor(health.length * p))];
  return {
    samples: health.length,
    healthP50ms: +q(0.5).toFixed(1),
    healthP99ms: +q(0.99).toFixed(1),
    healthMaxMs: +health.at(-1).toFixed(1),
  };
}

// The /healthz sampler runs in its own thread: the load generator's 32 workers (building requests,
// checking every body for PI shapes) keep this process's event loop busy, and a sample timed on
// that loop would count the client's own queueing as the server's. One keep-alive connection, one
// request at a time, every `everyMs`.
const SAMPLER_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let on = true;
const health = [];
parentPort.on('message', () => { on = false; });
const once = () => new Promise((resolve) => {
  const t = performance.now();
  const req = http.get(workerData.url, { agent }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - t : Infinity));
    res.on('error', () => resolve(Infinity));
  });
  req.on('error', () => resolve(Infinity));
});
(async () => {
  while (on) {
    health.push(await once());
    await new Promise((r) => setTimeout(r, workerData.everyMs));
  }
  parentPort.postMessage(health);
})();
`;

/**
 * Samples /healthz latency every `everyMs` until stopped: from a thread of its own (the figure
 * reported) and, for comparison, from the load generator's own event loop; RSS from this loop.
 */
function sampler(everyMs = 50) {
  const inLoop = [];
  const rss = [];
  let on = true;
  const healthAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const thread = new Worker(SAMPLER_THREAD, { eval: true, workerData: { url: `${base}/healthz`, everyMs } });
  const fromThread = new Promise((resolve) => thread.once('message', resolve));
  const loop = (async () => {
    while (on) {
      const t = performance.now();
      const r = await request({ method: 'GET', url: '/healthz' }, { agent: healthAgent });
      inLoop.push(r.status === 200 ? performance.now() - t : Number.POSITIVE_INFINITY);
      rss.push(rssMiB());
      await new Promise((r2) => setTimeout(r2, everyMs));
    }
  })();
  return {
    async stop() {
      on = false;
      thread.postMessage('stop');
      await loop;
      const threaded = await fromThread;
      await thread.terminate();
      return {
        ...quantiles(threaded),
        rssMaxMiB: +Math.max(...rss).toFixed(0),
        inLoadGenerator: quantiles(inLoop),
      };
    },
  };
}

async function fuzz(keys, seed, count) {
  const ops = operations(JSON.parse((await request({ method: 'GET', url: '/openapi.json' })).body));
  const statuses = {};
  const bad = [];
  const dumped = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const r = fuzzRequest(seed, i, ops, keys, []);
      const res = await request(r);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      const tag = `#${i} ${r.method} ${r.url.slice(0, 80)} → ${res.status}`;
      const why = [];
      if (res.status >= 500) why.push('5xx');
      if (leaksInternals(res.body)) why.push('internals');
      if (looksLikePi(res.body) && !(res.status < 300 && piByDesign(r.method, r.url))) why.push('PI-shaped value');
      for (const w of why) bad.push(`${w} ${tag}`);
      if (why.length && DUMP) dumped.push(JSON.stringify({ i, why, request: r, status: res.status, body: res.body.slice(0, 4000) }));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (DUMP && dumped.length) appendFileSync(DUMP, `${dumped.join('\n')}\n`);
  return { requests: count, operations: ops.length, statuses, bad: bad.slice(0, 20), badCount: bad.length };
}

/** One unauthenticated upload streamed from a 64 KiB buffer (the client holds no large body). */
function upload(path, mb) {
  return new Promise((resolve) => {
    const total = mb * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const req = http.request(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(total) },
      agent: false,
    });
    const t = performance.now();
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, sentMiB: +(sent / 1048576).toFixed(1), ms: +(performance.now() - t).toFixed(0) }));
    });
    req.on('error', () => resolve({ status: 0, sentMiB: +(sent / 1048576).toFixed(1), ms: +(performance.now() - t).toFixed(0) }));
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

let exit = 0;
try {
  await waitUp();
  const keyDir = join(dataDir, 'demo-keys');
  const keys = readdirSync(keyDir)
    .filter((f) => !f.endsWith('.json'))
    .map((f) => readFileSync(join(keyDir, f), 'utf8').trim());
  if (DUMP) writeFileSync(DUMP, '');
  const report = { node: process.version, boot: { rssMiB: +rssMiB().toFixed(0), settled: await settled() } };

  // Warm-up (another seed): compiled code, prepared statements and caches that fill once. "RSS back
  // within 10% of its start" is measured from here, after forced collections, and from boot too.
  if (WARMUP > 0) {
    report.warmup = await fuzz(keys, 7, WARMUP);
    report.warmup.settled = await settled();
  }
  const start = report.warmup?.settled ?? report.boot.settled;

  if (REQUESTS > 0) {
    const s1 = sampler();
    const t1 = performance.now();
    const c1 = cpuNow();
    report.fuzz = await fuzz(keys, SEED, REQUESTS);
    report.fuzz.seconds = +((performance.now() - t1) / 1000).toFixed(1);
    report.fuzz.server = cpuSince(c1);
    report.fuzz.during = await s1.stop();
    await new Promise((r) => setTimeout(r, 2000));
    report.fuzz.rssAfterMiB = +rssMiB().toFixed(0);
    report.fuzz.settled = await settled();
    // The error mapper's last guard: PI shapes it had to mask in error bodies (must be 0).
    const metrics = (await request({ method: 'GET', url: '/metrics' })).body;
    report.fuzz.guardMasked = Number(/^custodian_http_error_pi_masked_total (\d+)/m.exec(metrics)?.[1] ?? Number.NaN);
    // The server's own count of answers by status: covers the requests whose connection it closed
    // before the client read the answer (status 0 above: a body refused unread drops the socket).
    report.fuzz.serverStatuses = {};
    for (const m of metrics.matchAll(/^custodian_http_requests_total\{[^}]*status="(\d+)"[^}]*\} (\d+)/gm))
      report.fuzz.serverStatuses[m[1]] = (report.fuzz.serverStatuses[m[1]] ?? 0) + Number(m[2]);
    report.fuzz.server5xx = Object.entries(report.fuzz.serverStatuses)
      .filter(([s]) => Number(s) >= 500)
      .reduce((n, [, c]) => n + c, 0);
    const end = report.fuzz.settled;
    const pct = (a, b) => +(((a - b) / b) * 100).toFixed(1);
    report.fuzz.growth = {
      rssPct: pct(end.rssMiB, start.rssMiB),
      heapUsedPct: pct(end.heapUsedMiB, start.heapUsedMiB),
      rssFromBootPct: pct(end.rssMiB, report.boot.settled.rssMiB),
    };
    if (report.fuzz.badCount > 0 || report.fuzz.guardMasked !== 0 || report.fuzz.server5xx > 0) exit = 1;
    if (report.fuzz.during.healthP99ms > 50 || report.fuzz.growth.rssPct > 10) exit = 1;

    // --rounds R: R - 1 more runs of N requests (other seeds) on the same server, memory settled
    // after each: what still grows once caches have filled (a leak grows every round; a cache
    // stops at its bound). Reported only; the pass/fail above is the first run's.
    report.rounds = [];
    for (let round = 2; round <= ROUNDS; round++) {
      const s = sampler();
      const c = cpuNow();
      const f = await fuzz(keys, SEED + round, REQUESTS);
      const during = await s.stop();
      const server = cpuSince(c);
      await new Promise((r) => setTimeout(r, 2000));
      const m = await settled();
      report.rounds.push({ round, badCount: f.badCount, bad: f.bad, statuses: f.statuses, during, server, settled: m, rssPct: pct(m.rssMiB, start.rssMiB) });
      if (f.badCount > 0) exit = 1;
    }
  }

  if (UPLOADS > 0) {
    // Ten uploads are refused within tens of milliseconds: /healthz is sampled every 5 ms, over
    // ROUNDS rounds of U concurrent uploads, so that the bound is checked on more than one sample.
    const s2 = sampler(5);
    const paths = ['/v1/disclosures', '/v1/consents/import'];
    report.uploads = {
      count: UPLOADS,
      eachMiB: UPLOAD_MB,
      rounds: UPLOAD_ROUNDS,
      results: [],
    };
    for (let round = 0; round < UPLOAD_ROUNDS; round++) {
      const rs = await Promise.all(Array.from({ length: UPLOADS }, (_, i) => upload(paths[i % 2], UPLOAD_MB)));
      report.uploads.results.push(...rs);
      await new Promise((r) => setTimeout(r, 200));
    }
    report.uploads.during = await s2.stop();
    const rs = report.uploads.results;
    report.uploads.results = {
      statuses: rs.reduce((m, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }), {}),
      maxSentMiB: Math.max(...rs.map((r) => r.sentMiB)),
      maxMs: Math.max(...rs.map((r) => r.ms)),
    };
    report.uploads.rssAfterMiB = +rssMiB().toFixed(0);
    if (report.uploads.during.rssMaxMiB >= 300 || report.uploads.during.healthMaxMs > 50) exit = 1;
  }
  report.pass = exit === 0;
  console.log(JSON.stringify(report, null, 2));
} catch (e) {
  console.error(e);
  exit = 1;
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  if (KEEP_DATA) console.error(`data directory kept: ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}
process.exit(exit);
