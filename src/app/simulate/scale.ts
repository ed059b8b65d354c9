import { totalmem } from 'node:os';
import { diskUsage, storageSettings } from '../../db/index.js';
import { type Measurement, machineInfo, percentile, type SuiteResult } from '../../lib/measure.js';
import { customerAt, customersCsvChunks, MAX_CUSTOMERS, Rng, streamKey } from '../../modules/sim/index.js';
import { importSubjects } from '../../modules/vault/index.js';
import { type Instance, openInstance } from './instance.js';

/**
 * `custodian simulate --subjects N` without a scenario: the scale run of issue 6. A fresh
 * deployment imports N synthetic customers through the streaming CSV import (parse, check,
 * normalise, seal, index — the public interface an organisation moving in uses), in two legs: the
 * first REFERENCE subjects, then the rest. Blind-index lookups are timed after each leg on the same
 * database in the same process, so "p99 at N against p99 at 100k" is a ratio measured in one run.
 * It reports the import rate, the bytes per subject on disk and the lookup latencies; nothing about
 * any person.
 */
export const REFERENCE_SUBJECTS = 100_000;
const LOOKUPS = 5_000;
const WARMUP = 500;
/** The issue's goals: 10M subjects imported in 5 minutes on SQLite; p99 at N within 2× of 100k. */
const IMPORT_GOAL = { subjects: 10_000_000, seconds: 300 };
const P99_RATIO_GOAL = 2;

export interface ScaleOptions {
  subjects: number;
  seed?: string | undefined;
  dataDir?: string | undefined;
  databaseUrl?: string | undefined;
  keep?: boolean | undefined;
  /** Rows per import transaction (default 10,000). */
  batchSize?: number | undefined;
  /** Subjects in the first leg, where the reference lookups are timed (default 100,000). */
  reference?: number | undefined;
  /** SQLite page cache in MiB (default: scaleCacheMiB(subjects)). */
  sqliteCacheMiB?: number | undefined;
  log?: (line: string) => void;
}

export interface LookupStats {
  /** Subjects in the vault when measured. */
  at: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

export interface ScaleReport {
  kind: 'scale';
  dialect: 'sqlite' | 'postgres';
  seed: string;
  /** SQLite's page cache for the run, MiB (PostgreSQL: its own shared_buffers apply). */
  sqliteCacheMiB: number;
  /** The storage settings the figures depend on (db/size.ts storageSettings). */
  settings: Record<string, string>;
  subjects: number;
  imported: number;
  rejectedRows: number;
  import: { seconds: number; subjectsPerSecond: number; legs: { subjects: number; seconds: number }[] };
  disk: { bytes: number; bytesPerSubject: number; vaultBytes?: number | undefined; what: string };
  lookups: { reference: LookupStats; full: LookupStats; p99Ratio: number };
  goals: { text: string; met: boolean }[];
  ok: boolean;
}

/**
 * The SQLite page cache a deployment of `subjects` wants: room for its random-keyed B-trees (the
 * subject-id index and the blind index, about 0.5 KB a subject), at least the default 64 MiB and at
 * most 40% of this machine's memory. What an operator would set CUSTODIAN_SQLITE_CACHE_MIB to.
 */
export function scaleCacheMiB(subjects: number): number {
  const want = Math.ceil((subjects * 512) / 2 ** 20);
  return Math.max(64, Math.min(want, Math.floor((totalmem() * 0.4) / 2 ** 20)));
}

/** Rows per import transaction in the scale run: fewer, larger commits for a bulk load. */
const SCALE_BATCH = 10_000;
const PROGRESS_EVERY = 1_000_000;

async function importLeg(
  inst: Instance,
  seed: string,
  start: number,
  count: number,
  batchSize: number,
  log: (line: string) => void,
) {
  const t0 = process.hrtime.bigint();
  let next = PROGRESS_EVERY;
  let lap = { rows: 0, at: t0 };
  const r = await importSubjects(inst.app.vault, customersCsvChunks({ seed, start, count, header: true }), {
    worker: true,
    batchSize,
    onProgress: (p) => {
      if (p.rows < next) return;
      next += PROGRESS_EVERY;
      const now = process.hrtime.bigint();
      const rate = (p.rows - lap.rows) / (Number(now - lap.at) / 1e9);
      log(
        `    ${(start + p.rows).toLocaleString('en-US')} subjects, ${Math.round(rate).toLocaleString('en-US')}/s over the last ${(p.rows - lap.rows).toLocaleString('en-US')}`,
      );
      lap = { rows: p.rows, at: now };
    },
  });
  if (r.aborted) throw new Error(`import aborted (${r.aborted.code}) after row ${r.aborted.afterRow}`);
  return { result: r, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** Sequential blind-index lookups of customers already imported, by a spelling that needs normalising. */
async function timeLookups(inst: Instance, seed: string, upTo: number, rng: Rng): Promise<LookupStats> {
  const times: number[] = [];
  let missed = 0;
  for (let i = 0; i < WARMUP + LOOKUPS; i++) {
    const c = customerAt({ seed, index: rng.int(upTo) });
    const byId = i % 2 === 1;
    const t0 = process.hrtime.bigint();
    const found = byId
      ? await inst.app.vault.lookup('id_number', c.id_number.toLowerCase())
      : await inst.app.vault.lookup(
          'mobile',
          `+86 ${c.mobile.slice(0, 3)} ${c.mobile.slice(3, 7)} ${c.mobile.slice(7)}`,
        );
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (found.length === 0) missed++;
    if (i >= WARMUP) times.push(ms);
  }
  // The generator's records are valid, so every one was imported: a miss is a bug, not noise.
  if (missed > 0) throw new Error(`${missed} lookups of imported customers found nothing`);
  return {
    at: upTo,
    samples: times.length,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
  };
}

export async function runScale(o: ScaleOptions): Promise<ScaleReport> {
  const log = o.log ?? (() => {});
  const seed = o.seed ?? 'scale';
  const subjects = o.subjects;
  if (!Number.isSafeInteger(subjects) || subjects < 1 || subjects > MAX_CUSTOMERS)
    throw new RangeError(`subjects must be between 1 and ${MAX_CUSTOMERS}`);
  const sqliteCacheMiB = o.sqliteCacheMiB ?? scaleCacheMiB(subjects);
  const inst = await openInstance({
    dataDir: o.dataDir,
    databaseUrl: o.databaseUrl,
    policy: 'guarded',
    start: new Date(),
    keep: o.keep,
    sqliteCacheMiB,
  });
  const dialect = inst.postgres ? 'postgres' : 'sqlite';
  try {
    log(`scale: ${subjects.toLocaleString('en-US')} subjects, ${inst.app.database.description}`);
    const rng = new Rng(streamKey(seed, 'scale-lookups'), 0);
    const reference = Math.min(o.reference ?? REFERENCE_SUBJECTS, subjects);
    const legs: { subjects: number; seconds: number }[] = [];
    let imported = 0;
    let rejectedRows = 0;
    const batchSize = o.batchSize ?? SCALE_BATCH;
    const first = await importLeg(inst, seed, 0, reference, batchSize, log);
    legs.push({ subjects: reference, seconds: first.seconds });
    imported += first.result.imported;
    rejectedRows += first.result.rejectedRows;
    log(`  imported ${reference.toLocaleString('en-US')} in ${first.seconds.toFixed(1)} s`);
    const refLookups = await timeLookups(inst, seed, reference, rng);
    log(
      `  lookups at ${reference.toLocaleString('en-US')}: p50 ${refLookups.p50Ms.toFixed(3)} ms, p99 ${refLookups.p99Ms.toFixed(3)} ms`,
    );
    let full = refLookups;
    if (subjects > reference) {
      const rest = await importLeg(inst, seed, reference, subjects - reference, batchSize, log);
      legs.push({ subjects: subjects - reference, seconds: rest.seconds });
      imported += rest.result.imported;
      rejectedRows += rest.result.rejectedRows;
      log(
        `  imported ${(subjects - reference).toLocaleString('en-US')} more in ${rest.seconds.toFixed(1)} s`,
      );
      full = await timeLookups(inst, seed, subjects, rng);
      log(
        `  lookups at ${subjects.toLocaleString('en-US')}: p50 ${full.p50Ms.toFixed(3)} ms, p99 ${full.p99Ms.toFixed(3)} ms`,
      );
    }
    const seconds = legs.reduce((a, l) => a + l.seconds, 0);
    const usage = await diskUsage(inst.app.database, {
      sqliteFile: inst.sqliteFile,
      schema: inst.postgres?.schema,
      tables: ['subjects', 'blind_index'],
    });
    const disk = { bytes: usage.bytes, what: usage.what, vaultBytes: usage.tablesBytes };
    const settings = await storageSettings(inst.app.database);
    const p99Ratio = full.p99Ms / refLookups.p99Ms;
    // Goals apply where the run reaches them: the import goal at 10M subjects (SQLite), the latency
    // goal when there is a second leg to compare with the first.
    const goals: { text: string; met: boolean }[] = [];
    if (dialect === 'sqlite' && subjects >= IMPORT_GOAL.subjects)
      goals.push({
        text: `${IMPORT_GOAL.subjects.toLocaleString('en-US')} subjects imported in ≤ ${IMPORT_GOAL.seconds / 60} minutes`,
        met: (seconds * IMPORT_GOAL.subjects) / subjects <= IMPORT_GOAL.seconds,
      });
    if (subjects > reference)
      goals.push({
        text: `p99 lookup at ${subjects.toLocaleString('en-US')} within ${P99_RATIO_GOAL}× of p99 at ${reference.toLocaleString('en-US')}`,
        met: p99Ratio <= P99_RATIO_GOAL,
      });
    return {
      kind: 'scale',
      dialect,
      seed,
      sqliteCacheMiB,
      settings,
      subjects,
      imported,
      rejectedRows,
      import: { seconds, subjectsPerSecond: subjects / seconds, legs },
      disk: { ...disk, bytesPerSubject: disk.bytes / subjects },
      lookups: { reference: refLookups, full, p99Ratio },
      goals,
      ok: imported === subjects && goals.every((g) => g.met),
    };
  } finally {
    await inst.close();
  }
}

export function formatScaleReport(r: ScaleReport): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const ms = (x: number) => `${x.toFixed(3)} ms`;
  return [
    `Scale run on ${r.dialect}: ${n(r.subjects)} subjects (seed ${r.seed})`,
    `  import      ${n(r.import.subjectsPerSecond)} subjects/s, ${r.import.seconds.toFixed(1)} s (${(r.import.seconds / 60).toFixed(1)} min); ${n(r.imported)} imported, ${n(r.rejectedRows)} rejected`,
    `  on disk     ${n(r.disk.bytesPerSubject)} bytes/subject (${(r.disk.bytes / 2 ** 30).toFixed(2)} GiB: ${r.disk.what})`,
    `  lookup      at ${n(r.lookups.reference.at)}: p50 ${ms(r.lookups.reference.p50Ms)}, p99 ${ms(r.lookups.reference.p99Ms)}`,
    `              at ${n(r.lookups.full.at)}: p50 ${ms(r.lookups.full.p50Ms)}, p99 ${ms(r.lookups.full.p99Ms)} (${r.lookups.p99Ratio.toFixed(2)}× the p99 at ${n(r.lookups.reference.at)})`,
    `  settings    ${Object.entries(r.settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    ...r.goals.map((g) => `  goal        ${g.met ? 'met' : 'NOT met'}: ${g.text}`),
  ].join('\n');
}

/** The run as a benchmark result (bench/results/scale-<dialect>.json, summarised in docs/benchmarks.md). */
export function scaleSuiteResult(r: ScaleReport): SuiteResult {
  const importGoal = r.goals.find((g) => g.text.includes('imported'));
  const p99Goal = r.goals.find((g) => g.text.startsWith('p99'));
  const measurements: Measurement[] = [
    {
      name: `scale.import.${r.dialect}`,
      value: r.import.subjectsPerSecond,
      unit: 'subjects/s',
      better: 'higher',
      ...(importGoal ? { goal: importGoal } : {}),
      extra: {
        subjects: r.subjects,
        seconds: Number(r.import.seconds.toFixed(1)),
        rejectedRows: r.rejectedRows,
        ...r.settings,
      },
    },
    {
      name: `scale.disk.${r.dialect}`,
      value: r.disk.bytesPerSubject,
      unit: 'bytes',
      better: 'lower',
      extra: {
        totalGiB: Number((r.disk.bytes / 2 ** 30).toFixed(2)),
        ...(r.disk.vaultBytes !== undefined
          ? { vaultBytesPerSubject: Math.round(r.disk.vaultBytes / r.subjects) }
          : {}),
      },
    },
    {
      name: `scale.lookup.p99.${r.dialect}`,
      value: r.lookups.full.p99Ms,
      unit: 'ms',
      better: 'lower',
      baseline: {
        name: `p99 at ${r.lookups.reference.at.toLocaleString('en-US')} subjects, same run`,
        value: r.lookups.reference.p99Ms,
      },
      ...(p99Goal ? { goal: p99Goal } : {}),
      extra: {
        p50AtFull: Number(r.lookups.full.p50Ms.toFixed(4)),
        p50AtReference: Number(r.lookups.reference.p50Ms.toFixed(4)),
        samples: r.lookups.full.samples,
      },
    },
  ];
  return {
    suite: `scale-${r.dialect}`,
    description: `\`custodian simulate --subjects ${r.subjects}\`: streaming CSV import of the synthetic customers into a fresh deployment (two legs: ${r.lookups.reference.at.toLocaleString('en-US')}, then the rest), bytes on disk, and blind-index lookup latency (mobile and ID number, sequential) after each leg.`,
    at: new Date().toISOString(),
    machine: machineInfo(),
    scale: r.subjects / IMPORT_GOAL.subjects,
    runs: 1,
    dialects: [r.dialect],
    measurements,
  };
}
