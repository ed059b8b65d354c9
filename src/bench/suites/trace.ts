import { availableParallelism, loadavg } from 'node:os';
import { CompiledQuery } from 'kysely';
import { type Database, type DialectName, insertFlat, rowsPerStatement } from '../../db/index.js';
import { cnIdCheckChar } from '../../lib/checkdigits.js';
import { blindIndexer, type Keyring } from '../../lib/crypto/index.js';
import { ACCESS_EVENT_COLUMNS } from '../../modules/access/index.js';
import { parseLeakFile } from '../../modules/trace/index.js';
import { lookupMany } from '../../modules/vault/index.js';
import { openBenchApp } from '../app.js';
import { type BenchContext, type BenchSuite, type Measurement, median } from '../types.js';

/**
 * Trace at scale (issue 13, second goal): matching 1,000,000 leaked rows against a 10,000,000-subject
 * vault ≤ 60 s, and a trace over 10,000,000 access events ≤ 60 s, each on one node.
 *
 * The vault is V subjects filled straight into `subjects` (metadata and dummy key/ciphertext blobs of
 * a real row's size, so counting the population scans rows of the real width) and `blind_index`
 * (mobile and ID number, HMAC under the app's own index key). The matcher reads only the blind
 * index, so nothing else of a subject is needed. Then:
 * - matching: a leaked CSV of L garbled rows (mobiles with spaces, dashes or +86, ID numbers with a
 *   lower-case x, noise rows that match nobody, name-only rows) through `trace.run` with no access
 *   events (so the time is parsing, normalising, the blind-index lookups and the empty attribution;
 *   a file of 1 MiB or more is matched in two matching threads, started by the first run and kept);
 *   baseline: the same distinct values already normalised, HMAC + `SELECT … WHERE hash IN (500)`
 *   per field, batched the same way as the vault's `lookupHashes`;
 * - attribution: N access events by 500 actors with overlapping portfolios (70% of an actor's reads
 *   in its assigned block, 30% anywhere; a skew of busy and quiet actors; a quarter of the actors
 *   seeing masked mobiles only; 2% denied reads), a leaked
 *   file of part of one actor's portfolio plus noise, through `trace.run`; baseline: the one aggregate
 *   that gives every actor's seen-set size and overlap with the leak (GROUP BY actor over the same
 *   events, same view filter).
 *
 * Defaults V = 1,000,000 × scale, L = 100,000 × scale, N = 1,000,000 × scale
 * (CUSTODIAN_BENCH_TRACE_SUBJECTS / _ROWS / _EVENTS override them). Extrapolations: matching is
 * linear in rows and O(log V) per lookup (B-tree depth), attribution linear in events.
 */
const ACTORS = 500;
const SOURCE_ACTOR = 5;
const T0 = Date.parse('2025-12-01T00:00:00Z');
const SPAN_MS = 30 * 86_400_000;
const VIEWS_PLAIN = JSON.stringify({ name: 'plain', mobile: 'plain' });
const VIEWS_MASKED = JSON.stringify({ name: 'plain', mobile: 'masked' });
const NAMES = ['张伟', '王芳', '李娜', '刘洋', '陈静', '杨磊', '赵敏', '黄勇', '周杰', '吴霞'];
const COMPANIES = ['华信科技有限公司', '东方贸易有限公司', '恒达集团', '远景工作室'];

/** Subject i's mobile, national 11 digits (138 + 8 digits: a valid mainland mobile range). */
export const mobileOf = (i: number): string => `138${String(i).padStart(8, '0')}`;
/** Subject i's 18-character ID number: region 110101, a birth date from 1960, a sequence, the check. */
export function idOf(i: number): string {
  const birth = new Date(Date.UTC(1960, 0, 1) + Math.floor(i / 1000) * 86_400_000);
  const ymd = birth.toISOString().slice(0, 10).replace(/-/g, '');
  const first17 = `110101${ymd}${String(i % 1000).padStart(3, '0')}`;
  return first17 + cnIdCheckChar(first17);
}

function prng(seed: number) {
  let x = seed >>> 0 || 1;
  return (m: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % m;
  };
}

/** A mobile as leaked lists write it: spaces, dashes, +86, or bare. */
function garbleMobile(m: string, k: number): string {
  switch (k % 4) {
    case 0:
      return `${m.slice(0, 3)} ${m.slice(3, 7)} ${m.slice(7)}`;
    case 1:
      return `+86 ${m}`;
    case 2:
      return `+86-${m.slice(0, 3)}-${m.slice(3, 7)}-${m.slice(7)}`;
    default:
      return m;
  }
}
const garbleId = (id: string, k: number) => (k % 2 ? id.toLowerCase() : `${id.slice(0, 6)} ${id.slice(6)}`);

function csvLine(cells: readonly string[]): string {
  return cells.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',');
}

const SUBJECT_COLS = [
  'id',
  'external_id',
  'created_at',
  'updated_at',
  'erased_at',
  'fingerprint',
  'kek_version',
  'wrapped_key',
  'sealed',
  'lookup_keys',
];
const INDEX_COLS = ['field', 'hash', 'subject_id'];

/** The machine's 1-minute load average and its cores, as measured (other work shares the cores). */
const load = () => `${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`;

const subjectId = (i: number) => `sub_bench${String(i).padStart(9, '0')}`;
const actorId = (a: number) => `act_bench${String(a).padStart(3, '0')}`;

/** V subjects: rows of a real row's width (dummy blobs) and their mobile and ID blind-index entries. */
export async function fillVault(db: Database['db'], keyring: Keyring, v: number, log: (l: string) => void) {
  const hash = blindIndexer(keyring);
  const now = new Date(T0).toISOString();
  const fp = Buffer.alloc(32, 1);
  const wrapped = Buffer.alloc(60, 2);
  const sealed = Buffer.alloc(180, 3);
  const keys = Buffer.alloc(90, 4);
  const per = rowsPerStatement(SUBJECT_COLS.length);
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < v; i += per) {
      const n = Math.min(per, v - i);
      const subjects: unknown[] = [];
      const index: unknown[] = [];
      for (let k = i; k < i + n; k++) {
        const id = subjectId(k);
        subjects.push(id, `cust-${k}`, now, now, null, fp, 1, wrapped, sealed, keys);
        index.push('mobile', hash('mobile', `+86${mobileOf(k)}`), id);
        index.push('id_number', hash('id_number', idOf(k)), id);
      }
      await insertFlat(trx, 'subjects', SUBJECT_COLS, subjects);
      await insertFlat(trx, 'blind_index', INDEX_COLS, index);
      if ((i / per) % 100 === 0) log(`  vault: ${i + n} of ${v} subjects`);
    }
  });
}

/** L garbled rows over the vault: 18 in 20 match (both fields, mobile only, ID only), 1 noise, 1 name only. */
export function leakedFile(v: number, l: number, seed: number) {
  const rnd = prng(seed);
  const lines = [csvLine(['姓名', '手机号', '身份证号', '公司'])];
  const mobiles = new Set<string>();
  const ids = new Set<string>();
  let expected = 0;
  for (let k = 0; k < l; k++) {
    const s = rnd(v);
    const name = NAMES[rnd(NAMES.length)]!;
    const company = COMPANIES[rnd(COMPANIES.length)]!;
    const kind = k % 20;
    const m = mobileOf(s);
    const id = idOf(s);
    if (kind === 17) {
      // Noise: a number no subject holds (139…), e.g. another source's row.
      lines.push(csvLine([name, garbleMobile(`139${String(rnd(1e8)).padStart(8, '0')}`, k), '', company]));
      mobiles.add('noise');
      continue;
    }
    if (kind === 18) {
      lines.push(csvLine([name, '', '', company]));
      continue;
    }
    expected++;
    const withMobile = kind !== 16;
    const withId = kind < 13 || kind === 16 || kind === 19;
    if (withMobile) mobiles.add(`+86${m}`);
    if (withId) ids.add(id);
    lines.push(csvLine([name, withMobile ? garbleMobile(m, k) : '', withId ? garbleId(id, k) : '', company]));
  }
  mobiles.delete('noise');
  return {
    file: Buffer.from(`${lines.join('\n')}\n`, 'utf8'),
    expected,
    mobiles: [...mobiles],
    ids: [...ids],
  };
}

/** The baseline's lookups: HMAC + indexed SELECT of already-normalised values, 500 per query. */
async function rawLookups(db: Database['db'], keyring: Keyring, field: string, values: readonly string[]) {
  const hash = blindIndexer(keyring);
  let found = 0;
  for (let i = 0; i < values.length; i += 500) {
    const part = values.slice(i, i + 500).map((x) => hash(field, x));
    const rows = await db
      .selectFrom('blind_index')
      .select(['hash', 'subject_id'])
      .where('field', '=', field)
      .where('hash', 'in', part)
      .execute();
    found += rows.length;
  }
  return found;
}

/** How many actors read (500 from 500,000 events up; fewer in a tiny run, so portfolios stay sizeable). */
const actorsFor = (n: number) => Math.min(ACTORS, Math.max(10, Math.floor(n / 1000)));

/**
 * N events by up to 500 actors over S subjects: actor a is assigned a block of S/actors subjects and
 * makes 70% of its reads there, 30% anywhere (so portfolios overlap and a subject has several
 * readers); actors are picked with a skew (a few read much more than most); a quarter see masked
 * mobiles only; 2% of the reads are denied.
 */
export async function fillEvents(db: Database['db'], n: number, s: number, log: (l: string) => void) {
  const rnd = prng(4242);
  const actors = actorsFor(n);
  const block = Math.max(1, Math.floor(s / actors));
  const sourceSeen = new Set<number>();
  const per = rowsPerStatement(ACCESS_EVENT_COLUMNS.length);
  const fields = JSON.stringify(['name', 'mobile']);
  const leaf = 'ab'.repeat(32);
  const step = SPAN_MS / n;
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < n; i += per) {
      const rows = Math.min(per, n - i);
      const params: unknown[] = [];
      for (let k = i; k < i + rows; k++) {
        const u = rnd(1_000_000) / 1_000_000;
        const a = Math.floor(actors * u * u) % actors;
        const subj = rnd(10) < 7 ? (a * block + rnd(block)) % s : rnd(s);
        const allowed = k % 50 === 0 ? 0 : 1;
        if (a === SOURCE_ACTOR && allowed) sourceSeen.add(subj);
        params.push(
          `evt_bench${k}`,
          new Date(T0 + Math.floor(k * step)).toISOString(),
          actorId(a),
          'telemarketing',
          subjectId(subj),
          'read',
          fields,
          a % 4 === 3 ? VIEWS_MASKED : VIEWS_PLAIN,
          allowed,
          '[]',
          null,
          leaf,
        );
      }
      await insertFlat(trx, 'access_events', ACCESS_EVENT_COLUMNS, params);
      if ((i / per) % 200 === 0) log(`  events: ${i + rows} of ${n}`);
    }
  });
  return sourceSeen;
}

interface Sizes {
  subjects: number;
  rows: number;
  events: number;
}

function sizes(ctx: BenchContext): Sizes {
  const env = (k: string, d: number) => Math.max(1, Math.round(Number(process.env[k] ?? d)));
  return {
    subjects: env('CUSTODIAN_BENCH_TRACE_SUBJECTS', 1_000_000 * ctx.scale),
    rows: env('CUSTODIAN_BENCH_TRACE_ROWS', 100_000 * ctx.scale),
    events: env('CUSTODIAN_BENCH_TRACE_EVENTS', 1_000_000 * ctx.scale),
  };
}

async function measureDialect(ctx: BenchContext, dialect: DialectName, z: Sizes): Promise<Measurement[]> {
  const bench = await openBenchApp(ctx, dialect, { prefix: 'bench_trace', keyFile: true });
  const { app, keyring } = bench;
  const db = app.database.db;
  try {
    ctx.log(`trace/${dialect}: filling a vault of ${z.subjects} subjects…`);
    let t = performance.now();
    await fillVault(db, keyring, z.subjects, ctx.log);
    if (dialect === 'postgres')
      await db.executeQuery(CompiledQuery.raw('ANALYZE subjects; ANALYZE blind_index'));
    ctx.log(`trace/${dialect}: vault filled in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    // 1. Matching ----------------------------------------------------------------------------------
    const leak = leakedFile(z.subjects, z.rows, 99);
    const runMs: number[] = [];
    const baseMs: number[] = [];
    const parseMs: number[] = [];
    const lookupMs: number[] = [];
    let matched = 0;
    let summary: Record<string, unknown> = {};
    for (let r = 0; r < ctx.runs; r++) {
      t = performance.now();
      const found =
        (await rawLookups(db, keyring, 'mobile', leak.mobiles)) +
        (await rawLookups(db, keyring, 'id_number', leak.ids));
      baseMs.push(performance.now() - t);
      if (found !== leak.mobiles.length + leak.ids.length) throw new Error('baseline lookups missed');
      // The parts of the run, apart: parsing, then the vault's bulk lookups (normalise + HMAC + SELECT).
      t = performance.now();
      const parsed = await parseLeakFile(leak.file);
      parseMs.push(performance.now() - t);
      const raw = (f: 'mobile' | 'id_number') => [
        ...new Set(parsed.rows.map((x) => x.values[f]?.value).filter((x): x is string => !!x)),
      ];
      t = performance.now();
      await lookupMany(app.vault, 'mobile', raw('mobile'));
      await lookupMany(app.vault, 'id_number', raw('id_number'));
      lookupMs.push(performance.now() - t);
      t = performance.now();
      const res = await app.trace.run({ file: leak.file, store: false, proofs: false });
      runMs.push(performance.now() - t);
      matched = res.summary.matched;
      summary = { ...res.summary };
    }
    if (matched !== leak.expected)
      throw new Error(`trace matched ${matched} rows, expected ${leak.expected}`);
    const ms = median(runMs);
    const base = median(baseMs);
    const rowsPerS = z.rows / (ms / 1000);
    // 1M rows against 10M subjects: linear in rows, lookups O(log V) (B-tree depth).
    const depth = Math.log(10_000_000) / Math.log(Math.max(z.subjects, 2));
    const projected = (ms / 1000) * (1_000_000 / z.rows) * depth;
    ctx.log(
      `trace/${dialect}: matching ${z.rows} rows vs ${z.subjects} subjects: ${ms.toFixed(0)} ms (${Math.round(rowsPerS)} rows/s; baseline ${base.toFixed(0)} ms); 1M vs 10M ≈ ${projected.toFixed(1)} s`,
    );
    const out: Measurement[] = [
      {
        name: `trace.match.${dialect}`,
        value: rowsPerS,
        unit: 'ops/s',
        better: 'higher',
        baseline: {
          name: 'HMAC + indexed SELECT (500 per query) of the same distinct values, already normalised',
          value: z.rows / (base / 1000),
        },
        goal: {
          text: `1,000,000 leaked rows vs 10,000,000 subjects ≤ 60 s (from ${z.rows} rows vs ${z.subjects}: ${projected.toFixed(1)} s)`,
          met: projected <= 60,
        },
        extra: {
          rows: z.rows,
          subjects: z.subjects,
          matchedRows: matched,
          distinctLookups: leak.mobiles.length + leak.ids.length,
          runMs: Math.round(ms),
          // The first run starts the matching threads (kept for later traces): not in the median.
          firstRunMs: Math.round(runMs[0]!),
          baselineMs: Math.round(base),
          parseMs: Math.round(median(parseMs)),
          lookupManyMs: Math.round(median(lookupMs)),
          projected1Mvs10MSeconds: Number(projected.toFixed(1)),
          unmatched: Number(summary.unmatched ?? 0),
          nameOnly: Number(summary.nameOnly ?? 0),
          loadAverage: load(),
        },
      },
    ];

    // 2. Attribution -------------------------------------------------------------------------------
    const s = Math.min(z.subjects, Math.max(1000, Math.floor(z.events / 20)));
    ctx.log(
      `trace/${dialect}: filling ${z.events} access events over ${s} subjects, ${actorsFor(z.events)} actors…`,
    );
    t = performance.now();
    const seen = [...(await fillEvents(db, z.events, s, ctx.log))].sort((a, b) => a - b);
    if (dialect === 'postgres') await db.executeQuery(CompiledQuery.raw('ANALYZE access_events'));
    ctx.log(`trace/${dialect}: events filled in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    // The leak: 60% of the source's portfolio (at most 2,000), plus 5% rows nobody read.
    const rnd = prng(7);
    const take = seen.filter(() => rnd(10) < 6).slice(0, 2000);
    const noise: number[] = [];
    for (let k = 0; k < Math.ceil(take.length / 20) && s < z.subjects; k++)
      noise.push(s + rnd(z.subjects - s));
    const file = Buffer.from(
      `${['手机号', ...[...take, ...noise].map((x, k) => garbleMobile(mobileOf(x), k))].join('\n')}\n`,
      'utf8',
    );
    const leakedIds = take.map(subjectId);
    const aggregate = CompiledQuery.raw(
      `SELECT actor_id, COUNT(DISTINCT subject_id) AS seen,
              COUNT(DISTINCT CASE WHEN subject_id IN (${leakedIds.map((_, i) => (dialect === 'postgres' ? `$${i + 1}` : '?')).join(',')}) THEN subject_id END) AS hit
         FROM access_events
        WHERE allowed = 1 AND action <> 'disclose' AND subject_id IS NOT NULL
          AND views LIKE '%"mobile":"plain"%'
        GROUP BY actor_id`,
      leakedIds,
    );
    const traceMs: number[] = [];
    const aggMs: number[] = [];
    let top = '';
    let topLog10P = 0;
    let candidates = 0;
    let actorsWithHits = 0;
    for (let r = 0; r < ctx.runs; r++) {
      t = performance.now();
      const agg = await db.executeQuery<{ actor_id: string; hit: unknown }>(aggregate);
      aggMs.push(performance.now() - t);
      actorsWithHits = agg.rows.filter((x) => Number(x.hit) > 0).length;
      t = performance.now();
      const res = await app.trace.run({ file, store: false, proofs: false });
      traceMs.push(performance.now() - t);
      top = res.candidates[0]?.key ?? '';
      topLog10P = res.candidates[0]?.log10P ?? 0;
      candidates = res.summary.candidates;
    }
    const tms = median(traceMs);
    const ams = median(aggMs);
    const projectedEvents = (tms / 1000) * (10_000_000 / z.events);
    ctx.log(
      `trace/${dialect}: attribution over ${z.events} events (${take.length} leaked subjects, ${candidates} candidates): ${tms.toFixed(0)} ms (baseline ${ams.toFixed(0)} ms); 10M ≈ ${projectedEvents.toFixed(1)} s; top ${top}`,
    );
    out.push({
      name: `trace.attribute.${dialect}`,
      value: z.events / (tms / 1000),
      unit: 'entries/s',
      better: 'higher',
      baseline: {
        name: 'one GROUP BY actor over the same events: distinct subjects seen, and those in the leak',
        value: z.events / (ams / 1000),
      },
      goal: {
        text: `a trace over 10,000,000 access events ≤ 60 s (from ${z.events} events: ${projectedEvents.toFixed(1)} s)`,
        met: projectedEvents <= 60,
      },
      extra: {
        events: z.events,
        eventSubjects: s,
        actors: actorsFor(z.events),
        leakedSubjects: take.length,
        noiseRows: noise.length,
        candidates,
        actorsWithHits,
        runMs: Math.round(tms),
        baselineMs: Math.round(ams),
        projected10MSeconds: Number(projectedEvents.toFixed(1)),
        topIsSource: top === `actor:${actorId(SOURCE_ACTOR)}` ? 'yes' : `no (${top})`,
        topLog10P: Number(topLog10P.toFixed(1)),
        loadAverage: load(),
      },
    });
    return out;
  } finally {
    await bench.destroy();
  }
}

export const traceSuite: BenchSuite = {
  name: 'trace',
  description:
    'trace at scale: leaked rows matched through the blind index against a vault of V subjects, and attribution over N access events, each against the raw queries doing the same lookups or aggregate',
  async run(ctx) {
    const z = sizes(ctx);
    const out: Measurement[] = [];
    for (const dialect of ctx.dialects) out.push(...(await measureDialect(ctx, dialect, z)));
    return out;
  },
};
