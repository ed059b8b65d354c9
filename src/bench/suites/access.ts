import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { CompiledQuery } from 'kysely';
import type { App } from '../../app/app.js';
import { buildHttp } from '../../app/serve.js';
import type { DialectName } from '../../db/index.js';
import type { Principal } from '../../lib/principal.js';
import { toPrincipal } from '../../modules/actors/index.js';
import { defaultPolicyFile } from '../../modules/policy/index.js';
import { generateCustomers } from '../../modules/sim/index.js';
import { openBenchApp } from '../app.js';
import { type BenchContext, type BenchSuite, type Measurement, median, percentile, rate } from '../types.js';

/**
 * The audited read path against the database's own cost of fetching the same row, in the same run:
 *
 * - baseline: a raw `SELECT wrapped_key, sealed FROM subjects WHERE id = ?` (one subject's key and
 *   sealed fields, no decryption), issued sequentially through the same driver;
 * - audited in-process reads (decide → decrypt → view → access event + ledger entry, committed
 *   durably): single reads issued concurrently (so group commit batches them) and sequentially
 *   (one durable commit each);
 * - HTTP single-record reads through a real listening server on 127.0.0.1, driven by a bounded
 *   concurrent load loop in a worker thread (a service actor, so employee rate limits do not
 *   throttle it), with p99 latency;
 * - HTTP batch reads (1,000 subjects per request), in subjects/s;
 * - the policy decision's own cost (policy.decide in a loop).
 */
const BENCH_POLICY_VERSION = 'bench-1';
const FIELDS = ['name', 'email'];

/** The guarded policy plus one grant for the benchmark's service actor (no assignment, no quota). */
function benchPolicy(): string {
  const guarded = readFileSync(defaultPolicyFile(), 'utf8');
  // Detection only alerts here: a benchmark's reader is a firehose by design.
  const text = guarded
    .replace(/version: "[^"]*"/, `version: "${BENCH_POLICY_VERSION}"`)
    .replace(/medium: approval/, 'medium: alert')
    .replace(/high: suspend/, 'high: alert');
  return `${text}
  - role: bench_reader
    purpose: billing
    description: The benchmark's service actor.
    fields:
      name: plain
      email: masked
    assignment: false
`;
}

interface BenchApp {
  app: App;
  dialect: DialectName;
  principal: Principal;
  apiKey: string;
  subjects: string[];
  rawSelect(subjectId: string): Promise<unknown>;
  destroy(): Promise<void>;
}

async function openBench(ctx: BenchContext, dialect: DialectName, subjects: number): Promise<BenchApp> {
  // The load generator is one loopback address far above a person's pace: the per-address limit
  // before authentication would measure itself, not the read path.
  const bench = await openBenchApp(ctx, dialect, {
    prefix: 'bench_access',
    poolSize: 8,
    env: { CUSTODIAN_IP_RATE_LIMIT: '0' },
  });
  const { app } = bench;
  const { database } = app;
  await app.policy.load(benchPolicy(), { by: null });
  const { actor, apiKey } = await app.actors.create(
    { name: 'bench.reader', kind: 'service', roles: ['bench_reader'] },
    { by: null },
  );
  const ids: string[] = [];
  const gen = generateCustomers({ seed: 'bench-access', count: subjects });
  let chunk: { externalId: string; fields: Record<string, string> }[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    ids.push(...(await app.vault.createMany(chunk)).map((m) => m.id));
    chunk = [];
  };
  for (const r of gen) {
    chunk.push({
      externalId: r.external_id,
      fields: Object.fromEntries(Object.entries(r).filter(([k, v]) => k !== 'external_id' && v !== '')),
    });
    if (chunk.length === 1000) await flush(); // vault.createMany of more than 1,024 fails (its ledger event lists every id)
  }
  await flush();
  const sqlText = `SELECT id, kek_version, wrapped_key, sealed FROM subjects WHERE id = ${dialect === 'sqlite' ? '?' : '$1'}`;
  return {
    app,
    dialect,
    principal: toPrincipal(actor),
    apiKey,
    subjects: ids,
    rawSelect: (id) => database.db.executeQuery(CompiledQuery.raw(sqlText, [id])),
    destroy: bench.destroy,
  };
}

const pick = (xs: readonly string[]) => xs[Math.floor(Math.random() * xs.length)]!;

/** Runs `n` calls of `fn` with at most `inFlight` outstanding; returns the rate per second. */
async function pool(n: number, inFlight: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
  return rate(n, start);
}

/**
 * The HTTP load loop, in a worker thread so the client has its own core: `concurrency` keep-alive
 * connections, each issuing requests back to back until `total` are done.
 */
const LOAD_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { port, key, paths, bodies, method, total, concurrency } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
let next = 0; const lat = []; let errors = 0; const statuses = {};
function one(i) {
  return new Promise((resolve) => {
    const body = bodies ? bodies[i % bodies.length] : undefined;
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, agent, method, path: paths[i % paths.length],
      headers: Object.assign({ authorization: 'Bearer ' + key }, body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
      (res) => { res.resume(); res.on('end', () => { lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1; if (res.statusCode !== 200) errors++; resolve(); }); });
    req.on('error', () => { errors++; resolve(); });
    if (body) req.write(body);
    req.end();
  });
}
(async () => {
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < total) await one(next++); }));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  parentPort.postMessage({ seconds, lat, errors, statuses });
})();
`;

interface LoadResult {
  seconds: number;
  lat: number[];
  errors: number;
  statuses: Record<string, number>;
}

function load(workerData: {
  port: number;
  key: string;
  paths: string[];
  bodies?: string[];
  method: 'GET' | 'POST';
  total: number;
  concurrency: number;
}): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(LOAD_WORKER, { eval: true, workerData });
    w.once('message', (m: LoadResult) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

async function measureDialect(ctx: BenchContext, dialect: DialectName): Promise<Measurement[]> {
  const nSubjects = Math.max(2_000, Math.round(50_000 * ctx.scale));
  const nReads = Math.max(5_000, Math.round(100_000 * ctx.scale));
  const nSeq = Math.max(100, Math.round(1_000 * ctx.scale));
  const b = await openBench(ctx, dialect, nSubjects);
  ctx.log(`  access [${dialect}]: ${nSubjects} subjects seeded`);
  const out: Measurement[] = [];
  try {
    const { app, principal, subjects } = b;
    const read = () =>
      app.access.read(principal, { subjectId: pick(subjects), purpose: 'billing', fields: FIELDS });
    // Warm up both paths (JIT, statement caches, the policy cache).
    await pool(2_000, 512, read);
    for (let i = 0; i < 500; i++) await b.rawSelect(pick(subjects));

    const raw: number[] = [];
    const conc: number[] = [];
    const seq: number[] = [];
    const batches: number[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      const rs = process.hrtime.bigint();
      for (let i = 0; i < nReads / 5; i++) await b.rawSelect(pick(subjects));
      raw.push(rate(nReads / 5, rs));
      const s0 = app.access.stats();
      conc.push(await pool(nReads, 1024, read));
      const s1 = app.access.stats();
      batches.push((s1.items - s0.items) / Math.max(1, s1.batches - s0.batches));
      seq.push(await pool(nSeq, 1, read));
      ctx.log(
        `  access.read [${dialect}] run ${r + 1}: concurrent ${Math.round(conc[r]!)}/s (avg batch ${Math.round(batches[r]!)}), ` +
          `sequential ${Math.round(seq[r]!)}/s, raw SELECT ${Math.round(raw[r]!)}/s`,
      );
    }
    const rawRate = median(raw);
    const concRate = median(conc);
    const seqRate = median(seq);
    out.push(
      {
        name: `access.read.concurrent.${dialect}`,
        value: concRate,
        unit: 'ops/s',
        better: 'higher',
        baseline: { name: `raw SELECT of the subject's fields (${dialect}), sequential`, value: rawRate },
        goal: {
          text: '≥ 25,000 audited reads/s and ≤ 4× the raw SELECT cost',
          met: concRate >= 25_000 && concRate >= rawRate / 4,
        },
        extra: {
          costVsRaw: `${(rawRate / concRate).toFixed(2)}×`,
          costGoalMet: concRate >= rawRate / 4 ? 'yes' : 'no',
          rateGoalMet: concRate >= 25_000 ? 'yes' : 'no',
          avgGroupCommitBatch: Math.round(median(batches)),
          readsPerRun: nReads,
          subjects: nSubjects,
          fields: FIELDS.join('+'),
        },
      },
      {
        name: `access.read.sequential.${dialect}`,
        value: seqRate,
        unit: 'ops/s',
        better: 'higher',
        baseline: { name: `raw SELECT of the subject's fields (${dialect}), sequential`, value: rawRate },
        extra: {
          costVsRaw: `${(rawRate / seqRate).toFixed(2)}×`,
          note: 'one durable commit (fsync) per read: bounded by the disk, not the read path',
        },
      },
    );

    // HTTP: a real listening server on loopback.
    const server = buildHttp(app);
    await server.listen({ host: '127.0.0.1', port: 0 });
    const port = (server.server.address() as { port: number }).port;
    try {
      const paths = Array.from(
        { length: 4096 },
        () => `/v1/subjects/${pick(subjects)}?purpose=billing&fields=name,email`,
      );
      const nHttp = Math.max(5_000, Math.round(50_000 * ctx.scale));
      await load({ port, key: b.apiKey, paths, method: 'GET', total: 2_000, concurrency: 64 });
      const rates: number[] = [];
      const p99s: number[] = [];
      const p50s: number[] = [];
      const httpBatches: number[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        const h0 = app.access.stats();
        const res = await load({ port, key: b.apiKey, paths, method: 'GET', total: nHttp, concurrency: 64 });
        const h1 = app.access.stats();
        httpBatches.push((h1.items - h0.items) / Math.max(1, h1.batches - h0.batches));
        if (res.errors > 0)
          throw new Error(`HTTP bench: ${res.errors} failed requests ${JSON.stringify(res.statuses)}`);
        rates.push(nHttp / res.seconds);
        p99s.push(percentile(res.lat, 99));
        p50s.push(percentile(res.lat, 50));
        ctx.log(
          `  access.http.read [${dialect}] run ${r + 1}: ${Math.round(rates[r]!)} req/s, p50 ${p50s[r]!.toFixed(2)} ms, ` +
            `p99 ${p99s[r]!.toFixed(2)} ms (avg batch ${Math.round(httpBatches[r]!)})`,
        );
      }
      const httpRate = median(rates);
      const p99 = median(p99s);
      out.push({
        name: `access.http.read.${dialect}`,
        value: httpRate,
        unit: 'requests/s',
        better: 'higher',
        baseline: { name: `raw SELECT of the subject's fields (${dialect}), sequential`, value: rawRate },
        goal: { text: '≥ 5,000 requests/s with p99 ≤ 10 ms', met: httpRate >= 5_000 && p99 <= 10 },
        extra: {
          p50ms: median(p50s),
          p99ms: p99,
          concurrency: 64,
          requestsPerRun: nHttp,
          avgGroupCommitBatch: Math.round(median(httpBatches)),
        },
      });

      const perBatch = 1000;
      const bodies = Array.from({ length: 16 }, () =>
        JSON.stringify({
          purpose: 'billing',
          fields: FIELDS,
          subjects: Array.from({ length: perBatch }, () => pick(subjects)),
        }),
      );
      const nBatch = Math.max(20, Math.round(200 * ctx.scale));
      const batchRates: number[] = [];
      const batchP99: number[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        const res = await load({
          port,
          key: b.apiKey,
          paths: ['/v1/subjects/read-batch'],
          bodies,
          method: 'POST',
          total: nBatch,
          concurrency: 4,
        });
        if (res.errors > 0)
          throw new Error(`HTTP batch bench: ${res.errors} failed requests ${JSON.stringify(res.statuses)}`);
        batchRates.push((nBatch * perBatch) / res.seconds);
        batchP99.push(percentile(res.lat, 99));
        ctx.log(`  access.http.batch [${dialect}] run ${r + 1}: ${Math.round(batchRates[r]!)} subjects/s`);
      }
      const batchRate = median(batchRates);
      out.push({
        name: `access.http.batch.${dialect}`,
        value: batchRate,
        unit: 'subjects/s',
        better: 'higher',
        baseline: { name: `raw SELECT of the subject's fields (${dialect}), sequential`, value: rawRate },
        goal: { text: '≥ 50,000 subjects/s', met: batchRate >= 50_000 },
        extra: { subjectsPerRequest: perBatch, concurrency: 4, p99ms: median(batchP99) },
      });
    } finally {
      await server.close();
    }

    // The decision's own cost, against the same active policy.
    const input = {
      principal,
      purpose: 'billing',
      subjectId: subjects[0]!,
      fields: FIELDS,
      context: { at: new Date(), assigned: false, usedToday: 0, alreadyReadToday: false },
    };
    const guardedInput = {
      principal: { id: 'act_bench_tm', roles: ['telemarketing'], attributes: {} },
      purpose: 'telemarketing',
      subjectId: subjects[0]!,
      fields: ['name', 'mobile', 'company', 'email'],
      context: { at: new Date(), assigned: true, usedToday: 10, alreadyReadToday: false, consent: true },
    };
    const nDecide = Math.max(100_000, Math.round(1_000_000 * ctx.scale));
    const costs: number[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < nDecide; i++) app.policy.decide(i % 2 ? input : guardedInput);
      costs.push(Number(process.hrtime.bigint() - t0) / 1e3 / nDecide);
    }
    out.push({
      name: `access.decide.${dialect}`,
      value: median(costs),
      unit: 'us',
      better: 'lower',
      baseline: { name: `raw SELECT of the subject's fields (${dialect})`, value: 1e6 / rawRate },
      extra: {
        decisions: nDecide,
        note: 'pure: the policy is compiled and cached; half billing, half telemarketing (4 fields)',
      },
    });
  } finally {
    await b.destroy();
  }
  return out;
}

export const accessSuite: BenchSuite = {
  name: 'access',
  description:
    'Audited reads (decide → decrypt → view → access event + ledger entry, durable) in process and over HTTP, against a raw SELECT of the same row',
  async run(ctx: BenchContext): Promise<Measurement[]> {
    const out: Measurement[] = [];
    for (const dialect of ctx.dialects) out.push(...(await measureDialect(ctx, dialect)));
    return out;
  },
};
