#!/usr/bin/env node
// The full hostile-traffic run (docs/security.md): starts `custodian serve --demo` on a fresh data
// directory on 127.0.0.1, then
//   1. sends N malformed and hostile requests (default 100,000) across every operation in
//      /openapi.json, without credentials and with every demo role's key, 32 at a time;
//   2. sends U concurrent unauthenticated uploads of M MB each (default 10 × 200 MB);
// sampling /healthz every 50 ms and the server's RSS throughout. Prints one JSON report; exits 1
// when a 5xx, a stack trace or PI in an error appears, or a bound is missed.
//
//   npm run build && node scripts/fuzz.mjs [--requests 100000] [--uploads 10] [--upload-mb 200]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fuzzRequest, leaksInternals, looksLikePi, operations } from './fuzz-cases.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const REQUESTS = arg('requests', 100_000);
const UPLOADS = arg('uploads', 10);
const UPLOAD_MB = arg('upload-mb', 200);
const PORT = arg('port', 18000 + Math.floor(Math.random() * 1000));
const CONCURRENCY = arg('concurrency', 32);

const dataDir = mkdtempSync(join(tmpdir(), 'custodian-fuzz-'));
const server = spawn(process.execPath, ['dist/cli.js', 'serve', '--demo', '--data-dir', dataDir, '--port', String(PORT)], {
  env: { ...process.env, CUSTODIAN_IP_RATE_LIMIT: '0', CUSTODIAN_LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
server.stdout.resume();
const base = `http://127.0.0.1:${PORT}`;

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

/** Samples /healthz latency and RSS every 50 ms until stopped. */
function sampler() {
  const health = [];
  const rss = [];
  let on = true;
  const healthAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const loop = (async () => {
    while (on) {
      const t = performance.now();
      const r = await request({ method: 'GET', url: '/healthz' }, { agent: healthAgent });
      health.push(r.status === 200 ? performance.now() - t : Number.POSITIVE_INFINITY);
      rss.push(rssMiB());
      await new Promise((r2) => setTimeout(r2, 50));
    }
  })();
  return {
    async stop() {
      on = false;
      await loop;
      health.sort((a, b) => a - b);
      const q = (p) => health[Math.min(health.length - 1, Math.floor(health.length * p))];
      return {
        samples: health.length,
        healthP50ms: +q(0.5).toFixed(1),
        healthP99ms: +q(0.99).toFixed(1),
        healthMaxMs: +health.at(-1).toFixed(1),
        rssMaxMiB: +Math.max(...rss).toFixed(0),
      };
    },
  };
}

async function fuzz(keys) {
  const ops = operations(JSON.parse((await request({ method: 'GET', url: '/openapi.json' })).body));
  const statuses = {};
  const bad = [];
  let next = 0;
  const worker = async () => {
    while (next < REQUESTS) {
      const i = next++;
      const r = fuzzRequest(2026, i, ops, keys, []);
      const res = await request(r);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      const tag = `#${i} ${r.method} ${r.url.slice(0, 80)} → ${res.status}`;
      if (res.status >= 500) bad.push(`5xx ${tag}`);
      if (leaksInternals(res.body)) bad.push(`internals ${tag}`);
      if (res.status >= 400 && looksLikePi(res.body)) bad.push(`PI-shaped value in error ${tag}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { requests: REQUESTS, operations: ops.length, statuses, bad: bad.slice(0, 20), badCount: bad.length };
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
  const report = { node: process.version, rssStartMiB: +rssMiB().toFixed(0) };

  const s1 = sampler();
  const t1 = performance.now();
  report.fuzz = await fuzz(keys);
  report.fuzz.seconds = +((performance.now() - t1) / 1000).toFixed(1);
  report.fuzz.during = await s1.stop();
  await new Promise((r) => setTimeout(r, 2000));
  report.rssAfterFuzzMiB = +rssMiB().toFixed(0);

  const s2 = sampler();
  const paths = ['/v1/disclosures', '/v1/consents/import'];
  report.uploads = {
    count: UPLOADS,
    eachMiB: UPLOAD_MB,
    results: await Promise.all(Array.from({ length: UPLOADS }, (_, i) => upload(paths[i % 2], UPLOAD_MB))),
  };
  report.uploads.during = await s2.stop();
  report.rssEndMiB = +rssMiB().toFixed(0);
  report.rssGrowthPct = +(((report.rssAfterFuzzMiB - report.rssStartMiB) / report.rssStartMiB) * 100).toFixed(1);
  console.log(JSON.stringify(report, null, 2));
  if (report.fuzz.badCount > 0) exit = 1;
  if (report.uploads.during.rssMaxMiB >= 300 || report.uploads.during.healthP99ms > 50) exit = 1;
} catch (e) {
  console.error(e);
  exit = 1;
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(exit);
