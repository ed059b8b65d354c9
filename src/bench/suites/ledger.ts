import { loadavg } from 'node:os';
import { CompiledQuery } from 'kysely';
import { type Database, type DialectName, MAX_BIND_PARAMS, openScratchDatabase } from '../../db/index.js';
import type { AuditEvent } from '../../lib/audit.js';
import { systemClock } from '../../lib/clock.js';
import { generateKeyFile, keyringFromFile } from '../../lib/crypto/index.js';
import {
  createLedger,
  encodeEntry,
  type Ledger,
  leafHash,
  setHashWorkers,
} from '../../modules/ledger/index.js';
import { type BenchContext, type BenchSuite, type Measurement, median, percentile, rate } from '../types.js';

/**
 * The ledger's three figures, each against a baseline measured in the same run:
 *
 * - durable appends/s through appendBatch (encode, hash, tiles, one committed transaction per batch)
 *   against raw batched INSERTs of the same entry bytes into a plain two-column table, committed in
 *   the same batches — the database's own speed at storing those bytes;
 * - inclusion-proof latency in a tree of 10M × scale entries, next to a point SELECT of one entry;
 * - verify throughput (entries/s, everything recomputed from the entries) against SHA-256 of the
 *   same leaf bytes in memory — the hash function's own speed.
 */
const APPEND_BATCH = 1000;
const BUILD_BATCH = 10_000;
const ORIGIN = 'bench.custodian/ledger';

interface BenchDb {
  database: Database;
  destroy(): Promise<void>;
}

function openBenchDb(dialect: DialectName, postgresUrl: string | undefined): Promise<BenchDb> {
  return openScratchDatabase(dialect, { postgresUrl, prefix: 'bench_ledger' });
}

/** A realistic access event: pseudonymous ids, a purpose, the fields and view the decision gave. */
function accessEvent(n: number): AuditEvent {
  return {
    kind: n % 11 === 0 ? 'access.denied' : 'access.read',
    actor: `act_${(n % 997).toString(36).padStart(6, 'x')}`,
    subject: `sub_${n.toString(36).padStart(12, '0')}`,
    purpose: n % 3 === 0 ? 'billing' : 'customer_support',
    attrs: { view: 'masked', fields: ['mobile', 'name'], decision: `dec_${n.toString(36)}` },
  };
}

/** The small synthetic entries the big proof tree is built from. */
function tinyEvent(n: number): AuditEvent {
  return { kind: 'bench', actor: null, attrs: { n } };
}

async function rawInsert(db: Database, rows: readonly Buffer[], firstId: number): Promise<void> {
  const p = db.dialect === 'sqlite' ? () => '?' : (i: number) => `$${i}`;
  const per = Math.floor(MAX_BIND_PARAMS / 2);
  await db.db.transaction().execute(async (trx) => {
    for (let at = 0; at < rows.length; at += per) {
      const chunk = rows.slice(at, at + per);
      const values = chunk.map((_, i) => `(${p(2 * i + 1)},${p(2 * i + 2)})`).join(',');
      const params = chunk.flatMap((b, i) => [firstId + at + i, b]);
      await trx.executeQuery(
        CompiledQuery.raw(`INSERT INTO bench_ledger_raw (id, entry) VALUES ${values}`, params),
      );
    }
  });
}

async function measureAppends(ctx: BenchContext, dialect: DialectName): Promise<Measurement> {
  const n = Math.max(20_000, Math.round(200_000 * ctx.scale));
  const bench = await openBenchDb(dialect, ctx.postgresUrl);
  try {
    const { database } = bench;
    const blob = dialect === 'sqlite' ? 'blob' : 'bytea';
    const bigint = dialect === 'sqlite' ? 'integer' : 'bigint';
    await database.db.executeQuery(
      CompiledQuery.raw(
        `CREATE TABLE bench_ledger_raw (id ${bigint} PRIMARY KEY NOT NULL, entry ${blob} NOT NULL)`,
      ),
    );
    const ledger = createLedger({
      db: database.db,
      dialect,
      keyring: keyringFromFile(generateKeyFile()),
      origin: ORIGIN,
      clock: systemClock,
    });
    const ours: number[] = [];
    const raw: number[] = [];
    let next = 0;
    for (let r = 0; r < ctx.runs; r++) {
      const evs = Array.from({ length: n }, (_, i) => accessEvent(next + i));
      const at = new Date().toISOString();
      const bytes = evs.map((e) => encodeEntry(e, at));
      // Alternate which goes first so neither always meets a warmer cache.
      const order = r % 2 === 0 ? ['raw', 'ours'] : ['ours', 'raw'];
      for (const which of order) {
        const start = process.hrtime.bigint();
        if (which === 'raw') {
          for (let i = 0; i < n; i += APPEND_BATCH)
            await rawInsert(database, bytes.slice(i, i + APPEND_BATCH), next + i);
          raw.push(rate(n, start));
        } else {
          for (let i = 0; i < n; i += APPEND_BATCH) await ledger.appendBatch(evs.slice(i, i + APPEND_BATCH));
          ours.push(rate(n, start));
        }
      }
      next += n;
      ctx.log(
        `  ledger.append [${dialect}] run ${r + 1}: ${Math.round(ours[r] as number)}/s vs raw ${Math.round(raw[r] as number)}/s`,
      );
    }
    const value = median(ours);
    const baseline = median(raw);
    const report = await ledger.verify();
    if (!report.ok) throw new Error('benchmark ledger does not verify');
    return {
      name: `ledger.append.durable.${dialect}`,
      value,
      unit: 'entries/s',
      better: 'higher',
      baseline: { name: `raw batched INSERT of the same bytes (${dialect})`, value: baseline },
      goal: { text: '≥ 100,000 entries/s and ≥ 0.8× raw', met: value >= 100_000 && value >= 0.8 * baseline },
      extra: { batch: APPEND_BATCH, entriesPerRun: n, avgEntryBytes: Math.round(bytesOf(n)) },
    };
  } finally {
    await bench.destroy();
  }
}

function bytesOf(n: number): number {
  let total = 0;
  const sample = Math.min(n, 1000);
  for (let i = 0; i < sample; i++) total += encodeEntry(accessEvent(i), '2024-01-01T00:00:00.000Z').length;
  return total / sample;
}

async function measureProofsAndVerify(ctx: BenchContext, dialect: DialectName): Promise<Measurement[]> {
  const size = Math.max(10_000, Math.round(10_000_000 * ctx.scale));
  const bench = await openBenchDb(dialect, ctx.postgresUrl);
  try {
    const { database } = bench;
    const keyring = keyringFromFile(generateKeyFile());
    const deps = { db: database.db, dialect, keyring, origin: ORIGIN, clock: systemClock };
    const builder = createLedger(deps);
    const buildStart = process.hrtime.bigint();
    for (let at = 0; at < size; at += BUILD_BATCH) {
      const count = Math.min(BUILD_BATCH, size - at);
      await builder.appendBatch(Array.from({ length: count }, (_, i) => tinyEvent(at + i)));
      if ((at / BUILD_BATCH) % 100 === 99)
        ctx.log(`  building the proof tree [${dialect}]: ${at + count}/${size}`);
    }
    const buildRate = rate(size, buildStart);
    await builder.checkpoint();

    // Proofs from a fresh instance (cold tile cache), at uniformly random indexes.
    const proofs: number[] = [];
    const points: number[] = [];
    const samples = 300;
    const runsProofs: number[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      const ledger: Ledger = createLedger(deps);
      const lat: number[] = [];
      for (let k = 0; k < samples; k++) {
        const index = Math.floor(Math.random() * size);
        const t0 = process.hrtime.bigint();
        await ledger.inclusionProof({ index });
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        const t1 = process.hrtime.bigint();
        await database.db.executeQuery(
          CompiledQuery.raw(
            `SELECT entry FROM ledger_entries WHERE idx = ${dialect === 'sqlite' ? '?' : '$1'}`,
            [Math.floor(Math.random() * size)],
          ),
        );
        points.push(Number(process.hrtime.bigint() - t1) / 1e6);
      }
      runsProofs.push(median(lat));
      proofs.push(...lat);
      ctx.log(`  ledger.proof [${dialect}] run ${r + 1}: median ${median(lat).toFixed(3)} ms`);
    }
    const proofMedian = median(runsProofs);

    // Verify against SHA-256 of the same leaf bytes (0x00 ‖ entry), read into memory beforehand.
    const sampleCount = Math.min(size, 1_000_000);
    const sampleRows = await database.db.executeQuery<{ entry: Uint8Array }>(
      CompiledQuery.raw(`SELECT entry FROM ledger_entries ORDER BY idx LIMIT ${sampleCount}`),
    );
    const leafBytes = sampleRows.rows.map((r) => Buffer.from(r.entry));
    // Each run: SHA-256 alone, verification hashing on this thread only (one core: every hash,
    // read and comparison on one thread; on PostgreSQL the server still reads on its own), and
    // verification with the hash workers (two cores). Peak RSS is sampled during the two-core pass.
    const verifyRates: number[] = [];
    const oneCoreRates: number[] = [];
    const hashRates: number[] = [];
    const rssPeaks: number[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      const h0 = process.hrtime.bigint();
      for (const b of leafBytes) leafHash(b);
      hashRates.push(rate(leafBytes.length, h0));
      setHashWorkers(0);
      try {
        const o0 = process.hrtime.bigint();
        const one = await createLedger(deps).verify();
        oneCoreRates.push(rate(one.entriesChecked, o0));
        if (!one.ok) throw new Error('benchmark ledger does not verify');
      } finally {
        setHashWorkers(undefined);
      }
      let peak = process.memoryUsage.rss();
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
      }, 25);
      const v0 = process.hrtime.bigint();
      const report = await createLedger(deps).verify();
      verifyRates.push(rate(report.entriesChecked, v0));
      clearInterval(sampler);
      rssPeaks.push(peak / 2 ** 20);
      if (!report.ok) throw new Error('benchmark ledger does not verify');
      ctx.log(
        `  ledger.verify [${dialect}] run ${r + 1}: ${Math.round(verifyRates[r] as number)}/s (one core ${Math.round(oneCoreRates[r] as number)}/s) vs SHA-256 ${Math.round(hashRates[r] as number)}/s, peak RSS ${Math.round(peak / 2 ** 20)} MB`,
      );
    }
    const verifyValue = median(verifyRates);
    const oneCoreValue = median(oneCoreRates);
    const hashValue = median(hashRates);
    return [
      {
        name: `ledger.proof.inclusion.${dialect}`,
        value: proofMedian,
        unit: 'ms',
        better: 'lower',
        baseline: { name: `point SELECT of one entry (${dialect})`, value: median(points) },
        goal: { text: `median ≤ 1 ms at ${size.toLocaleString('en-US')} entries`, met: proofMedian <= 1 },
        extra: { treeSize: size, p99ms: percentile(proofs, 99), buildEntriesPerSec: Math.round(buildRate) },
      },
      {
        name: `ledger.verify.${dialect}`,
        value: verifyValue,
        unit: 'entries/s',
        better: 'higher',
        baseline: { name: 'SHA-256 of the same leaf bytes, in memory', value: hashValue },
        goal: {
          text: 'faster than one core, which is ≥ 0.5× SHA-256 of the leaf bytes',
          met: verifyValue > oneCoreValue && verifyValue >= 0.5 * hashValue,
        },
        extra: {
          treeSize: size,
          benchProcessPeakRssMB: Math.round(median(rssPeaks)),
          rssNote:
            'the whole benchmark process, its in-memory leaf sample for the SHA-256 baseline included; custodian ledger verify alone: docs/ledger.md',
        },
      },
      {
        name: `ledger.verify.onecore.${dialect}`,
        value: oneCoreValue,
        unit: 'entries/s',
        better: 'higher',
        baseline: { name: 'SHA-256 of the same leaf bytes, in memory', value: hashValue },
        goal: {
          text: '≥ 0.5× SHA-256 of the leaf bytes, hashing on one thread',
          met: oneCoreValue >= 0.5 * hashValue,
        },
        extra: { treeSize: size },
      },
    ];
  } finally {
    await bench.destroy();
  }
}

export const ledgerSuite: BenchSuite = {
  name: 'ledger',
  description: 'durable appends, inclusion proofs at 10M × scale entries, full verification',
  async run(ctx) {
    const out: Measurement[] = [];
    // The machine is shared: each figure carries the 1-minute load average before and after it.
    const load = () => loadavg()[0]?.toFixed(2) ?? '?';
    const withLoad = async (f: () => Promise<Measurement[]>) => {
      const before = load();
      const ms = await f();
      const after = load();
      for (const m of ms) m.extra = { ...m.extra, loadAverage: `${before} → ${after}` };
      out.push(...ms);
    };
    for (const dialect of ctx.dialects) {
      await withLoad(async () => [await measureAppends(ctx, dialect)]);
      await withLoad(() => measureProofsAndVerify(ctx, dialect));
    }
    return out;
  },
};
