import Fastify from 'fastify';
import { CompiledQuery } from 'kysely';
import type { App } from '../../app/app.js';
import { buildHttp } from '../../app/serve.js';
import type { DialectName, DiskUsage } from '../../db/index.js';
import type { Principal } from '../../lib/principal.js';
import { toPrincipal } from '../../modules/actors/index.js';
import { generateCustomers } from '../../modules/sim/index.js';
import { benchPolicy, openBenchApp } from '../app.js';
import { type LoadResult, runLoad } from '../loadgen.js';
import { type BenchContext, type BenchSuite, type Measurement, median, rate } from '../types.js';

/**
 * The audited read path against the database's own cost of fetching the same row, in the same run:
 *
 * - baseline: a raw `SELECT id, kek_version, wrapped_key, sealed FROM subjects WHERE id = ?` (one
 *   subject's key and sealed fields, no decryption) through the same driver, at the same
 *   concurrency as the audited reads it is compared with;
 * - audited in-process reads (decide → decrypt → view → access event + ledger entry, committed
 *   durably): single reads issued concurrently (so group commit batches them) and sequentially
 *   (one durable commit each);
 * - HTTP single-record reads through a real listening server on 127.0.0.1 (a service actor, so
 *   employee rate limits do not throttle it), against a bare Fastify server reading the same row by
 *   primary key, both driven by autocannon in a child process at 32 connections (p50/p99), and at
 *   50 connections for the tails (p99.9, max); the server's CPU time per request;
 * - per-stage cost of an in-process read (access.stages()), and CPU µs per read;
 * - HTTP batch reads (1,000 subjects per request), in subjects/s;
 * - the policy decision's own cost (policy.decide in a loop).
 */
const BENCH_POLICY_VERSION = 'bench-1';
const FIELDS = ['name', 'email'];

interface BenchApp {
  app: App;
  dialect: DialectName;
  principal: Principal;
  apiKey: string;
  subjects: string[];
  rawSelect(subjectId: string): Promise<unknown>;
  disk(): Promise<DiskUsage>;
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
  await app.policy.load(benchPolicy(BENCH_POLICY_VERSION), { by: null });
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
    disk: bench.disk,
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

/** Server CPU time (user + system, this process only: the load generator is another) in µs. */
const cpuMicros = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

/**
 * The same reads as Custodian's HTTP read, with nothing of Custodian: a bare Fastify server that
 * answers `GET /raw/:id` with the subject's row by primary key (no authentication, decision,
 * decryption or record). The baseline of the HTTP figures.
 */
async function rawServer(b: BenchApp) {
  const server = Fastify({ logger: false });
  server.get<{ Params: { id: string } }>('/raw/:id', async (req) => {
    const r = (await b.rawSelect(req.params.id)) as { rows: Record<string, unknown>[] };
    const row = r.rows[0];
    if (!row) return { found: false };
    return Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('base64') : v]),
    );
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  return { server, port: (server.server.address() as { port: number }).port };
}

interface HttpRun {
  load: LoadResult;
  cpuUsPerRequest: number;
}

/** One run of the load generator against `port`, with the server's CPU time per request. */
async function httpRun(o: Parameters<typeof runLoad>[0], what: string): Promise<HttpRun> {
  const c0 = cpuMicros();
  const load = await runLoad(o);
  const cpu = cpuMicros() - c0;
  if (load.non2xx > 0 || load.errors > 0)
    throw new Error(`${what}: ${load.non2xx} non-2xx responses, ${load.errors} errors of ${load.requests}`);
  return { load, cpuUsPerRequest: cpu / Math.max(1, load.requests) };
}

const fixed = (x: number, d = 2) => Number(x.toFixed(d));

async function measureDialect(ctx: BenchContext, dialect: DialectName): Promise<Measurement[]> {
  const nSubjects = Math.max(2_000, Math.round(50_000 * ctx.scale));
  const nReads = Math.max(5_000, Math.round(100_000 * ctx.scale));
  const nSeq = Math.max(100, Math.round(1_000 * ctx.scale));
  const IN_FLIGHT = 1024;
  const b = await openBench(ctx, dialect, nSubjects);
  ctx.log(`  access [${dialect}]: ${nSubjects} subjects seeded`);
  const out: Measurement[] = [];
  try {
    const { app, principal, subjects } = b;
    const read = () =>
      app.access.read(principal, { subjectId: pick(subjects), purpose: 'billing', fields: FIELDS });
    const raw = () => b.rawSelect(pick(subjects));
    // Warm up both paths (JIT, statement caches, the policy cache).
    await pool(2_000, 512, read);
    await pool(2_000, 512, raw);

    const rawConc: number[] = [];
    const rawSeq: number[] = [];
    const conc: number[] = [];
    const seq: number[] = [];
    const batches: number[] = [];
    const cpuPerRead: number[] = [];
    const stageRuns: Record<string, number>[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      // The baseline at the same concurrency as the audited reads, on the same rows.
      rawConc.push(await pool(nReads, IN_FLIGHT, raw));
      rawSeq.push(await pool(nSeq * 10, 1, raw));
      const s0 = app.access.stats();
      const st0 = app.access.stages();
      const c0 = cpuMicros();
      conc.push(await pool(nReads, IN_FLIGHT, read));
      cpuPerRead.push((cpuMicros() - c0) / nReads);
      const s1 = app.access.stats();
      const st1 = app.access.stages();
      batches.push((s1.items - s0.items) / Math.max(1, s1.batches - s0.batches));
      const n = st1.reads - st0.reads;
      stageRuns.push(
        Object.fromEntries(
          (Object.keys(st1) as (keyof typeof st1)[])
            .filter((k) => k !== 'reads')
            .map((k) => [k, ((st1[k] - st0[k]) * 1000) / Math.max(1, n)]),
        ),
      );
      seq.push(await pool(nSeq, 1, read));
      ctx.log(
        `  access.read [${dialect}] run ${r + 1}: concurrent ${Math.round(conc[r]!)}/s (avg batch ${Math.round(batches[r]!)}, ` +
          `${Math.round(cpuPerRead[r]!)} µs CPU/read), sequential ${Math.round(seq[r]!)}/s; raw SELECT concurrent ` +
          `${Math.round(rawConc[r]!)}/s, sequential ${Math.round(rawSeq[r]!)}/s`,
      );
    }
    const rawConcRate = median(rawConc);
    const rawSeqRate = median(rawSeq);
    // The stricter baseline: the raw SELECT at its best, sequential or concurrent (on SQLite the
    // driver serialises statements, and 1,024 callers queueing on its one connection are slower
    // than one caller; on PostgreSQL the pool makes concurrency faster).
    const rawBest = Math.max(rawConcRate, rawSeqRate);
    const rawBestName = `raw SELECT of the subject's row (${dialect}), best of sequential (${Math.round(rawSeqRate)}/s) and ${IN_FLIGHT} in flight (${Math.round(rawConcRate)}/s)`;
    const concRate = median(conc);
    const seqRate = median(seq);
    const stageUs = Object.fromEntries(
      Object.keys(stageRuns[0]!).map((k) => [`${k}Us`, fixed(median(stageRuns.map((x) => x[k]!)), 1)]),
    );
    out.push(
      {
        name: `access.read.concurrent.${dialect}`,
        value: concRate,
        unit: 'ops/s',
        better: 'higher',
        baseline: { name: rawBestName, value: rawBest },
        goal: {
          text: '≥ 25,000 audited reads/s and ≤ 4× the raw SELECT cost',
          met: concRate >= 25_000 && concRate >= rawBest / 4,
        },
        extra: {
          costVsRaw: `${(rawBest / concRate).toFixed(2)}×`,
          costGoalMet: concRate >= rawBest / 4 ? 'yes' : 'no',
          rateGoalMet: concRate >= 25_000 ? 'yes' : 'no',
          inFlight: IN_FLIGHT,
          avgGroupCommitBatch: Math.round(median(batches)),
          cpuUsPerRead: fixed(median(cpuPerRead), 1),
          ...stageUs,
          stagesNote:
            'wall µs per read in each stage of the batch (decide: context queries + decision; detect: the guard; decrypt; bookkeeping: quota/usage rows; view: masks and tokens; record: access events + ledger); the commit is outside',
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
        baseline: { name: `raw SELECT of the subject's row (${dialect}), sequential`, value: rawSeqRate },
        extra: {
          costVsRaw: `${(rawSeqRate / seqRate).toFixed(2)}×`,
          note: 'one durable commit (fsync) per read: bounded by the disk, not the read path',
        },
      },
    );

    // Storage: the bytes on disk one audited read adds (access event, ledger entry and tiles, usage
    // rows, every index), amortised over a run of concurrent reads; the ledger integrated first.
    await app.access.drain();
    await app.ledger.integrate();
    const d0 = await b.disk();
    await pool(nReads, IN_FLIGHT, read);
    await app.access.drain();
    await app.ledger.integrate();
    const d1 = await b.disk();
    const bytesPerRead = (d1.bytes - d0.bytes) / nReads;
    ctx.log(`  access.storage [${dialect}]: ${bytesPerRead.toFixed(0)} bytes per audited read (${d1.what})`);
    out.push({
      name: `access.storage.${dialect}`,
      value: Math.round(bytesPerRead),
      unit: 'bytes',
      better: 'lower',
      goal: { text: '≤ 250 bytes on disk per audited read, amortised', met: bytesPerRead <= 250 },
      extra: { reads: nReads, measured: d1.what },
    });

    // HTTP: Custodian and a bare Fastify server over the same rows, each on loopback, driven by the
    // same external load generator (autocannon, a child process) at the same connections.
    const server = buildHttp(app);
    await server.listen({ host: '127.0.0.1', port: 0 });
    const port = (server.server.address() as { port: number }).port;
    const bare = await rawServer(b);
    try {
      const ids = Array.from({ length: 4096 }, () => pick(subjects));
      const paths = ids.map((id) => `/v1/subjects/${id}?purpose=billing&fields=name,email`);
      const rawPaths = ids.map((id) => `/raw/${id}`);
      const seconds = Math.max(3, Math.round(10 * ctx.scale));
      const CONNECTIONS = 32;
      const TAIL_CONNECTIONS = 50;
      const custodian = (connections: number, s = seconds) =>
        httpRun({ port, key: b.apiKey, paths, connections, seconds: s }, 'HTTP read');
      const baseline = (connections: number, s = seconds) =>
        httpRun({ port: bare.port, paths: rawPaths, connections, seconds: s }, 'bare server');
      await custodian(CONNECTIONS, 2);
      await baseline(CONNECTIONS, 2);
      const runs: { c: HttpRun; base: HttpRun; tail: HttpRun; baseTail: HttpRun; batch: number }[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        const h0 = app.access.stats();
        const c = await custodian(CONNECTIONS);
        const h1 = app.access.stats();
        const base = await baseline(CONNECTIONS);
        const tail = await custodian(TAIL_CONNECTIONS);
        const baseTail = await baseline(TAIL_CONNECTIONS);
        runs.push({
          c,
          base,
          tail,
          baseTail,
          batch: (h1.items - h0.items) / Math.max(1, h1.batches - h0.batches),
        });
        ctx.log(
          `  access.http.read [${dialect}] run ${r + 1}: ${Math.round(c.load.rps)} req/s p99 ${c.load.p99} ms ` +
            `(${Math.round(c.cpuUsPerRequest)} µs CPU/req, avg batch ${Math.round(runs[r]!.batch)}); bare server ` +
            `${Math.round(base.load.rps)} req/s p99 ${base.load.p99} ms; at ${TAIL_CONNECTIONS}: p99.9 ${tail.load.p999} ms ` +
            `max ${tail.load.max} ms (bare ${baseTail.load.p999} / ${baseTail.load.max} ms)`,
        );
      }
      const m = (f: (x: (typeof runs)[number]) => number) => median(runs.map(f));
      const httpRate = m((x) => x.c.load.rps);
      const p99 = m((x) => x.c.load.p99);
      const p999 = m((x) => x.tail.load.p999);
      const max = m((x) => x.tail.load.max);
      out.push(
        {
          name: `access.http.read.${dialect}`,
          value: httpRate,
          unit: 'requests/s',
          better: 'higher',
          baseline: {
            name: `bare Fastify server, same row by primary key, no crypto (${dialect}), ${CONNECTIONS} connections`,
            value: m((x) => x.base.load.rps),
          },
          goal: { text: '≥ 5,000 requests/s with p99 ≤ 10 ms', met: httpRate >= 5_000 && p99 <= 10 },
          extra: {
            p50ms: m((x) => x.c.load.p50),
            p99ms: p99,
            baselineP99ms: m((x) => x.base.load.p99),
            connections: CONNECTIONS,
            cpuUsPerRequest: fixed(
              m((x) => x.c.cpuUsPerRequest),
              1,
            ),
            baselineCpuUsPerRequest: fixed(
              m((x) => x.base.cpuUsPerRequest),
              1,
            ),
            avgGroupCommitBatch: Math.round(m((x) => x.batch)),
            secondsPerRun: seconds,
            loadGenerator: 'autocannon (child process)',
          },
        },
        {
          name: `access.http.tail.${dialect}`,
          value: p999,
          unit: 'ms',
          better: 'lower',
          baseline: {
            name: `bare Fastify server p99.9 (${dialect}), ${TAIL_CONNECTIONS} connections`,
            value: m((x) => x.baseTail.load.p999),
          },
          goal: { text: 'p99.9 ≤ 25 ms and max ≤ 100 ms at 50 connections', met: p999 <= 25 && max <= 100 },
          extra: {
            maxMs: max,
            p99ms: m((x) => x.tail.load.p99),
            requestsPerSecond: Math.round(m((x) => x.tail.load.rps)),
            baselineMaxMs: m((x) => x.baseTail.load.max),
            connections: TAIL_CONNECTIONS,
          },
        },
      );

      const perBatch = 1000;
      const bodies = Array.from({ length: 16 }, () =>
        JSON.stringify({
          purpose: 'billing',
          fields: FIELDS,
          subjects: Array.from({ length: perBatch }, () => pick(subjects)),
        }),
      );
      const batchRuns: HttpRun[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        const res = await httpRun(
          {
            port,
            key: b.apiKey,
            paths: ['/v1/subjects/read-batch'],
            bodies,
            method: 'POST',
            connections: 4,
            seconds,
          },
          'HTTP batch',
        );
        batchRuns.push(res);
        ctx.log(
          `  access.http.batch [${dialect}] run ${r + 1}: ${Math.round(res.load.rps * perBatch)} subjects/s, p99 ${res.load.p99} ms`,
        );
      }
      const batchRate = median(batchRuns.map((x) => x.load.rps)) * perBatch;
      out.push({
        name: `access.http.batch.${dialect}`,
        value: batchRate,
        unit: 'subjects/s',
        better: 'higher',
        baseline: { name: rawBestName, value: rawBest },
        goal: { text: '≥ 50,000 subjects/s', met: batchRate >= 50_000 },
        extra: {
          subjectsPerRequest: perBatch,
          connections: 4,
          p99ms: median(batchRuns.map((x) => x.load.p99)),
          cpuUsPerSubject: fixed(median(batchRuns.map((x) => x.cpuUsPerRequest)) / perBatch, 1),
        },
      });
    } finally {
      await server.close();
      await bare.server.close();
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
      baseline: {
        name: `raw SELECT of the subject's row (${dialect}), sequential, µs`,
        value: 1e6 / rawSeqRate,
      },
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
