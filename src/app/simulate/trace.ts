import ExcelJS from 'exceljs';
import { toPrincipal } from '../../modules/actors/index.js';
import { csvLine } from '../../modules/sim/index.js';
import type { RankedCandidate } from '../../modules/trace/index.js';
import { DAY_MS, local, type ScenarioContext, setupOrganisation } from './common.js';
import { openInstance } from './instance.js';
import { Checks } from './report.js';

/**
 * `custodian simulate --scenario trace --trials N --seed S`: the trace's honest evaluation. One
 * synthetic organisation (lax policy, so insiders see plain values) with many readers whose
 * portfolios overlap, broad readers who see masked values only, and exports to distributors; then
 * N trials, each a leak from a random source — an insider, a recipient, two colluders, or nobody
 * (a list from outside) — of a random fraction of what the source saw, mixed with noise rows,
 * garbled, in a random file format, traced as an uploaded file would be. The harness knows the
 * source; the trace sees only the file and the database.
 */
export type SourceKind = 'insider' | 'recipient' | 'colluders' | 'nobody';

export interface TrialOutcome {
  kind: SourceKind;
  format: string;
  rows: number;
  sourceRows: number;
  noiseRows: number;
  topIsSource: boolean;
  sourceLog10P: number | null;
  sourceRank: number | null;
  falseAccusations: number;
  /** The first-ranked candidate: how many members, and whether any is guilty (for failure analysis). */
  top: { members: number; guiltyMembers: number; log10P: number } | null;
  ms: number;
}

export interface TraceSimReport {
  scenario: 'trace';
  seed: string;
  trials: number;
  customers: number;
  readers: number;
  recipients: number;
  accessEvents: number;
  setupMs: number;
  trialMs: { mean: number; p95: number };
  byKind: Record<string, { trials: number; topIsSource: number; large: number; largeTopP6: number }>;
  /** Trials with ≥ 50 leaked rows from a real source. */
  goal: { trials: number; topWithP6: number; rate: number };
  sourceLog10P: { min: number; p05: number; median: number; p95: number; max: number } | null;
  falseAccusations: { innocent: number; nobodyTrials: number; nobodyAccused: number };
  ok: boolean;
  outcomes: TrialOutcome[];
}

/** A small deterministic PRNG for the harness (not security-relevant: it picks simulated leaks). */
function prng(seed: string) {
  let h = 1779033703 ^ seed.length;
  for (let i = 0; i < seed.length; i++) {
    h = Math.imul(h ^ seed.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  let a = h >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!,
    sample: <T>(xs: readonly T[], k: number) => {
      const a2 = [...xs];
      for (let i = 0; i < Math.min(k, a2.length); i++) {
        const j = i + Math.floor(next() * (a2.length - i));
        [a2[i], a2[j]] = [a2[j]!, a2[i]!];
      }
      return a2.slice(0, Math.min(k, a2.length));
    },
  };
}

type Row = { name: string; mobile: string; company: string };

const LEAD_FIELDS = ['name', 'mobile', 'company'];

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.floor(q * (s.length - 1))))]!;
}

function garbleMobile(m: string, r: ReturnType<typeof prng>): string {
  const d = m.replace(/\D/g, '').replace(/^86(?=1\d{10}$)/, '');
  switch (r.int(0, 4)) {
    case 0:
      return `+86 ${d.slice(0, 3)} ${d.slice(3, 7)} ${d.slice(7)}`;
    case 1:
      return `${d.slice(0, 3)}-${d.slice(3, 7)}-${d.slice(7)}`;
    case 2:
      return `86${d}`;
    case 3:
      return ` ${d} `;
    default:
      return d;
  }
}

async function render(rows: readonly Row[], format: string): Promise<Buffer> {
  if (format === 'json')
    return Buffer.from(JSON.stringify(rows.map((r) => ({ 姓名: r.name, 手机: r.mobile, 公司: r.company }))));
  if (format === 'text')
    return Buffer.from(rows.map((r) => [r.name, r.mobile, r.company].filter(Boolean).join(' ')).join('\n'));
  if (format === 'xlsx') {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('客户');
    ws.addRow(['公司', '姓名', '电话']);
    for (const r of rows) ws.addRow([r.company, r.name, r.mobile]);
    return Buffer.from(await wb.xlsx.writeBuffer());
  }
  const header = format === 'csv' ? 'company,name,mobile\n' : '';
  return Buffer.from(header + rows.map((r) => csvLine([r.company, r.name, r.mobile])).join(''));
}

export async function runTraceSimulation(o: {
  trials: number;
  seed?: string | undefined;
  subjects?: number | undefined;
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  log?: (l: string) => void;
}): Promise<TraceSimReport> {
  const seed = o.seed ?? 'trace';
  const log = o.log ?? (() => {});
  const r = prng(`${seed}/trials`);
  const started = Date.now();
  const inst = await openInstance({
    dataDir: o.dataDir,
    databaseUrl: o.databaseUrl,
    policy: 'lax',
    start: local('2019-10-01', '09:00'),
  });
  try {
    const { app } = inst;
    const ctx: ScenarioContext = {
      inst,
      opts: { seed, subjects: o.subjects ?? 2400, days: 1, policy: 'lax' },
      checks: new Checks(),
      log,
      organisation: {},
    };
    const loaded = await setupOrganisation(ctx, { staff: { telemarketing: 24, support: 8 }, partners: 4 });
    const { org } = loaded;
    const customers = [...loaded.subjects.values()];
    const tele = org.byRole('telemarketing').map((e) => loaded.employees.get(e.external_id)!);
    const support = org.byRole('support').map((e) => loaded.employees.get(e.external_id)!);
    const officer = loaded.employees.get(org.byRole('privacy_officer')[0]!.external_id)!;

    // --- who saw what --------------------------------------------------------------------------
    const seenBy = new Map<string, Map<string, Row>>();
    let t = local('2019-10-08', '09:00').getTime();
    const readAll = async (
      who: (typeof tele)[number],
      ids: readonly string[],
      fields: string[],
      purpose: string,
    ) => {
      const p = toPrincipal(who.actor);
      const mine = seenBy.get(`actor:${who.actor.id}`) ?? new Map<string, Row>();
      for (let i = 0; i < ids.length; i += 500) {
        t += 60_000;
        inst.clock.set(new Date(t));
        const res = await app.access.readBatch(p, { subjectIds: ids.slice(i, i + 500), purpose, fields });
        res.forEach((x, k) => {
          const f = x.fields;
          if (
            x.allowed &&
            f.name?.view === 'plain' &&
            f.mobile?.view === 'plain' &&
            f.company?.view === 'plain'
          )
            mine.set(ids[i + k]!, {
              name: f.name.value ?? '',
              mobile: f.mobile.value ?? '',
              company: f.company.value ?? '',
            });
        });
      }
      seenBy.set(`actor:${who.actor.id}`, mine);
    };
    // Overlapping portfolios: customers fall into pools; each telemarketer works 30–70 % of one pool,
    // about three telemarketers a pool.
    const pools = 8;
    const shuffled = r.sample(customers, customers.length);
    const poolOf = (k: number) => shuffled.filter((_, i) => i % pools === k);
    const quality = tele.slice(0, 2);
    const workers = tele.slice(2);
    log(
      `reads: ${workers.length} telemarketers in ${pools} overlapping pools, ${support.length} support, ${quality.length} broad masked readers`,
    );
    for (const [k, w] of workers.entries()) {
      const pool = poolOf(k % pools);
      await readAll(
        w,
        r.sample(pool, Math.floor(pool.length * (0.3 + 0.4 * r.next()))),
        LEAD_FIELDS,
        'telemarketing',
      );
    }
    for (const s of support)
      await readAll(
        s,
        r.sample(customers, Math.floor(customers.length * 0.05)),
        ['name', 'mobile', 'company', 'email'],
        'customer_support',
      );
    // Broad readers who see names and masked e-mails, never a mobile: they cannot leak a phone list.
    for (const q of quality)
      await readAll(
        q,
        r.sample(customers, Math.floor(customers.length * 0.5)),
        ['name', 'email'],
        'telemarketing',
      );

    // Exports to distributors (consented customers; each export carries its own canaries).
    const recipientRows = new Map<string, Row[]>();
    for (const p of loaded.partners.values()) {
      t += 3_600_000;
      inst.clock.set(new Date(t));
      try {
        const res = await app.disclosure.create(
          {
            recipientId: p.recipient.id,
            purpose: 'partner_referral',
            fields: LEAD_FIELDS,
            allConsented: true,
            format: 'json',
          },
          { id: officer.actor.id, roles: officer.actor.roles },
        );
        // The partner's own actor fetches the delivery (the officer never holds the file).
        const got = await app.disclosure.deliver(res.disclosure.id, p.actor.id);
        const rows = (JSON.parse(got.content) as { records?: Record<string, string>[] }).records ?? [];
        if (rows.length >= 30)
          recipientRows.set(
            `recipient:${p.recipient.id}`,
            rows.map((x) => ({ name: x.name ?? '', mobile: x.mobile ?? '', company: x.company ?? '' })),
          );
      } catch (e) {
        // A distributor without consented customers gets no export.
        log(`no export to ${p.recipient.id}: ${(e as { code?: string }).code ?? (e as Error).message}`);
      }
    }
    await app.access.drain();
    await app.ledger.integrate();
    const accessEvents = Number(
      (
        (await app.database.db
          .selectFrom('access_events')
          .select((eb: any) => eb.fn.countAll().as('n'))
          .executeTakeFirst()) as { n: unknown }
      ).n,
    );
    const setupMs = Date.now() - started;
    log(
      `organisation ready in ${(setupMs / 1000).toFixed(1)} s: ${customers.length} customers, ${accessEvents} access events, ${recipientRows.size} exports`,
    );

    const allRows: Row[] = [];
    for (let i = 0; i < org.customerCount; i++) {
      const c = org.customer(i).record;
      allRows.push({ name: c.name, mobile: c.mobile, company: c.company });
    }
    const actorKeys = workers.map((w) => `actor:${w.actor.id}`).filter((k) => (seenBy.get(k)?.size ?? 0) > 0);
    const leakAt = new Date(t + DAY_MS);
    inst.clock.set(leakAt);

    // --- trials ----------------------------------------------------------------------------------
    const outcomes: TrialOutcome[] = [];
    const formats = [
      'csv',
      'csv-noheader',
      'json',
      'text',
      'csv',
      'json',
      'text',
      'csv',
      'csv-noheader',
      'xlsx',
    ];
    for (let n = 0; n < o.trials; n++) {
      const u = r.next();
      let kind: SourceKind =
        u < 0.45 ? 'insider' : u < 0.65 ? 'colluders' : u < 0.85 ? 'recipient' : 'nobody';
      if (kind === 'recipient' && recipientRows.size === 0) kind = 'insider';
      let guilty: string[] = [];
      let source: Row[] = [];
      if (kind === 'insider') {
        const k = r.pick(actorKeys);
        guilty = [k];
        source = [...seenBy.get(k)!.values()];
      } else if (kind === 'colluders') {
        const [a, b] = r.sample(actorKeys, 2);
        guilty = [a!, b!];
        const f = r.next() * 0.6 + 0.2;
        // Each leaks part of what he saw; together one list.
        source = [
          ...r.sample([...seenBy.get(a!)!.values()], Math.ceil(seenBy.get(a!)!.size * f)),
          ...r.sample([...seenBy.get(b!)!.values()], Math.ceil(seenBy.get(b!)!.size * f)),
        ];
      } else if (kind === 'recipient') {
        const k = r.pick([...recipientRows.keys()]);
        guilty = [k];
        source = recipientRows.get(k)!;
      } else source = r.sample(allRows, r.int(50, 400));
      const fraction = kind === 'colluders' || kind === 'nobody' ? 1 : 0.15 + 0.75 * r.next();
      const leaked = r.sample(source, Math.max(1, Math.round(source.length * fraction)));
      const noise: Row[] = [];
      const nNoise = Math.round(leaked.length * 0.25 * r.next());
      for (let i = 0; i < nNoise; i++) {
        if (r.next() < 0.5) noise.push(r.pick(allRows));
        else
          noise.push({
            name: r.pick(['王伟', '李娜', '张敏', '刘洋', '陈静', '赵磊']),
            mobile: `1${r.int(30, 99)}${String(r.int(0, 99_999_999)).padStart(8, '0')}`,
            company: '',
          });
      }
      const rows = r.sample([...leaked, ...noise], leaked.length + noise.length).map((x) => {
        const g = r.next();
        // Garbling: reformatted numbers; a few rows with the name alone; some without company.
        return {
          name: x.name,
          mobile: g < 0.05 ? '' : garbleMobile(x.mobile, r),
          company: g > 0.8 ? '' : x.company,
        };
      });
      const format = formats[n % formats.length]!;
      const file = await render(rows, format);
      const t0 = Date.now();
      const res = await app.trace.run({ file, proofs: false, store: false });
      const ms = Date.now() - t0;
      const same = (c: RankedCandidate) =>
        guilty.length > 0 &&
        c.members.length === guilty.length &&
        c.members.every((m) => guilty.includes(m.key));
      const top = res.candidates[0];
      const truth = res.candidates.find(same);
      const accused = res.candidates.filter(
        (c) => c.log10P < -6 && (kind === 'nobody' || c.members.some((m) => !guilty.includes(m.key))),
      );
      outcomes.push({
        kind,
        format,
        rows: rows.length,
        sourceRows: leaked.length,
        noiseRows: noise.length,
        topIsSource: Boolean(top && same(top)),
        sourceLog10P: truth ? truth.log10P : null,
        sourceRank: truth ? truth.rank : null,
        falseAccusations: accused.length,
        top: top
          ? {
              members: top.members.length,
              guiltyMembers: top.members.filter((m) => guilty.includes(m.key)).length,
              log10P: top.log10P,
            }
          : null,
        ms,
      });
      if ((n + 1) % 100 === 0) log(`${n + 1} trials`);
    }

    // --- report ----------------------------------------------------------------------------------
    const byKind: TraceSimReport['byKind'] = {};
    for (const x of outcomes) {
      byKind[x.kind] ??= { trials: 0, topIsSource: 0, large: 0, largeTopP6: 0 };
      const b = byKind[x.kind]!;
      b.trials++;
      if (x.topIsSource) b.topIsSource++;
      if (x.kind !== 'nobody' && x.sourceRows >= 50) {
        b.large++;
        if (x.topIsSource && (x.sourceLog10P ?? 0) < -6) b.largeTopP6++;
      }
    }
    const large = outcomes.filter((x) => x.kind !== 'nobody' && x.sourceRows >= 50);
    const topWithP6 = large.filter((x) => x.topIsSource && (x.sourceLog10P ?? 0) < -6).length;
    const ps = outcomes
      .filter((x) => x.kind !== 'nobody' && x.sourceLog10P !== null)
      .map((x) => x.sourceLog10P!);
    const nobody = outcomes.filter((x) => x.kind === 'nobody');
    const innocent = outcomes.filter((x) => x.kind !== 'nobody').reduce((n, x) => n + x.falseAccusations, 0);
    const nobodyAccused = nobody.filter((x) => x.falseAccusations > 0).length;
    const times = outcomes.map((x) => x.ms);
    const rate = large.length ? topWithP6 / large.length : 0;
    return {
      scenario: 'trace',
      seed,
      trials: o.trials,
      customers: customers.length,
      readers: workers.length + support.length + quality.length,
      recipients: recipientRows.size,
      accessEvents,
      setupMs,
      trialMs: {
        mean: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length),
        p95: times.length ? quantile(times, 0.95) : 0,
      },
      byKind,
      goal: { trials: large.length, topWithP6, rate },
      sourceLog10P: ps.length
        ? {
            min: quantile(ps, 0),
            p05: quantile(ps, 0.05),
            median: quantile(ps, 0.5),
            p95: quantile(ps, 0.95),
            max: quantile(ps, 1),
          }
        : null,
      falseAccusations: { innocent, nobodyTrials: nobody.length, nobodyAccused },
      ok: rate >= 0.99 && innocent === 0 && nobodyAccused === 0,
      outcomes,
    };
  } finally {
    await inst.close();
  }
}

export function formatTraceSim(r: TraceSimReport): string {
  const lines = [
    `simulate trace: ${r.trials} trials, seed ${r.seed}; ${r.customers} customers, ${r.readers} readers, ${r.recipients} exports, ${r.accessEvents} access events (setup ${(r.setupMs / 1000).toFixed(1)} s)`,
    `  trace time per trial: mean ${r.trialMs.mean.toFixed(0)} ms, p95 ${r.trialMs.p95.toFixed(0)} ms`,
  ];
  for (const [k, b] of Object.entries(r.byKind))
    lines.push(
      `  ${k.padEnd(10)} ${String(b.trials).padStart(5)} trials; source ranked first in ${b.topIsSource}` +
        (k === 'nobody' ? '' : `; with ≥ 50 leaked rows: ${b.largeTopP6} of ${b.large} first with p < 1e-6`),
    );
  lines.push(
    `  goal (≥ 50 leaked rows): source first with p < 1e-6 in ${r.goal.topWithP6} of ${r.goal.trials} (${(r.goal.rate * 100).toFixed(2)}%; goal ≥ 99%)`,
  );
  if (r.sourceLog10P)
    lines.push(
      `  source's log10 p: min ${r.sourceLog10P.min.toFixed(1)}, 5% ${r.sourceLog10P.p05.toFixed(1)}, median ${r.sourceLog10P.median.toFixed(1)}, 95% ${r.sourceLog10P.p95.toFixed(1)}, max ${r.sourceLog10P.max.toFixed(1)}`,
    );
  lines.push(
    `  false accusations (p < 1e-6): ${r.falseAccusations.innocent} innocent candidate(s) in source trials; ${r.falseAccusations.nobodyAccused} of ${r.falseAccusations.nobodyTrials} "nobody" trials accused anyone`,
    r.ok ? '  OK: every goal met' : '  GOALS NOT MET',
  );
  return lines.join('\n');
}
