import { sql } from 'kysely';
import { openScratchDatabase } from '../../db/index.js';
import type { AuditEvent } from '../../lib/audit.js';
import { fixedClock } from '../../lib/clock.js';
import { generateKeyFile, keyringFromFile } from '../../lib/crypto/index.js';
import { createFakeGateway } from '../../lib/messaging/index.js';
import { createLedger, createLedgerProver } from '../../modules/ledger/index.js';
import {
  createRights,
  DEFAULT_RULES,
  type HistoryPage,
  type Rights,
  verifyHistory,
  verifyHistoryPage,
  verifyHistoryWalk,
} from '../../modules/rights/index.js';
import { type BenchContext, type BenchSuite, type Measurement, median, percentile } from '../types.js';

/**
 * The rights module:
 *
 * - `rights.history`: the portal history of one subject with 10,000 access events — his entries,
 *   an inclusion proof for each, his completeness proof — on a ledger of 1,000,000 × scale entries
 *   (everyone else's reads interleaved). p95 over the runs. Baseline: SELECT of the same 10,000
 *   entry rows by index. Goal ≤ 1 s including proofs (issue 14: on a 10 M ledger).
 * - `rights.history_page.first`: what the portal serves now (docs/rights.md, "Paging"): the first
 *   page of 50 of the same subject — his newest 50 entries with their inclusion proofs, the head
 *   before the page and his bucket of the signed map, i.e. everything that makes the page verify on
 *   its own. p95 over the runs, each with a fresh prover (a cold tile cache, as for each new
 *   customer). Baseline: SELECT of the same 50 entry rows. Extras: the warm p95, one walk of all his
 *   pages (total time, verified as a walk).
 * - `rights.year`: a simulated year of rights requests, 900 per million customers (1,000,000 ×
 *   scale customers), filed on random days through the real service with a fixed clock; one privacy
 *   officer per million customers (20 requests a day each) works the daily due list
 *   (`requests.due`) soonest first; some requests wait for the
 *   subject (the clock stops), a few are refused with reasons. Goal: 100% answered before due.
 */
const TARGET_EVENTS = 10_000;

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The rights service over a bench ledger, its other modules stubbed (nothing else is measured). */
function benchRights(
  db: Parameters<typeof createRights>[0]['db'],
  clock: Parameters<typeof createRights>[0]['clock'],
  keyring: Parameters<typeof createRights>[0]['keyring'],
  ledger: ReturnType<typeof createLedger>,
): Rights {
  return createRights({
    db,
    clock,
    keyring,
    record: ledger.append,
    ledger,
    prover: createLedgerProver({ db }),
    ...stubDeps(),
  });
}

function stubDeps() {
  const none = async () => [];
  return {
    messaging: createFakeGateway(),
    lookup: none,
    read: async () => ({ allowed: false, fields: {}, evidence: '' }),
    fields: ['name'],
    actorRoles: async () => new Map<string, string[]>(),
    consent: {
      list: none,
      get: async () => ({ subjectId: '' }),
      withdraw: none,
    },
    receivedBy: none,
    rules: DEFAULT_RULES,
    jurisdiction: 'CN',
  };
}

const PAGE = 50;

async function historyBench(ctx: BenchContext, dialect: 'sqlite' | 'postgres'): Promise<Measurement[]> {
  const scratch = await openScratchDatabase(dialect, {
    postgresUrl: ctx.postgresUrl,
    prefix: 'bench_rights',
  });
  try {
    const { db } = scratch.database;
    const keyring = keyringFromFile(generateKeyFile());
    const clock = fixedClock('2026-01-01T00:00:00.000Z');
    const ledger = createLedger({ db, dialect, keyring, origin: 'bench.local/ledger', clock });
    const total = Math.max(TARGET_EVENTS * 2, Math.round(1_000_000 * ctx.scale));
    const target = 'sub_benchtargetsubjectaaaaaaa';
    const every = Math.floor(total / TARGET_EVENTS);
    const makeRights = (): Rights => benchRights(db, clock, keyring, ledger);
    const rights = makeRights();
    const t0 = Date.now();
    const BATCH = 20_000;
    // The service commits the subjects' chains on the checkpoint cadence, a slice of the log at a
    // time; so does the bench (one pass over 10,000,000 entries at once does not fit the heap).
    const COMMIT_EVERY = 500_000;
    let commitMs = 0;
    let commits = 0;
    for (let i = 0; i < total; i += BATCH) {
      const events: AuditEvent[] = [];
      for (let k = i; k < Math.min(total, i + BATCH); k++) {
        const mine = k % every === 0 && k / every < TARGET_EVENTS;
        events.push({
          kind: 'access.read',
          actor: `act_staff${k % 500}`,
          subject: mine ? target : `sub_c${k % 200_000}`,
          purpose: 'customer_support',
          attrs: {
            event: `evt_${k}`,
            fields: ['name', 'mobile'],
            views: ['name=masked', 'mobile=masked'],
            reasons: [],
            policy: '2025.1',
          },
        });
      }
      await ledger.appendBatch(events);
      const end = Math.min(total, i + BATCH);
      if (end % COMMIT_EVERY === 0 || end === total) {
        await ledger.checkpoint();
        const tc = Date.now();
        await rights.commitSubjects();
        commitMs += Date.now() - tc;
        commits++;
      }
    }
    ctx.log(
      `  ${dialect}: ledger of ${total} entries built in ${((Date.now() - t0 - commitMs) / 1000).toFixed(1)} s; ` +
        `completeness committed in ${commits} slice(s), ${(commitMs / 1000).toFixed(1)} s in all`,
    );
    const times: number[] = [];
    const baseline: number[] = [];
    let entries = 0;
    let ok = true;
    const runs = Math.max(ctx.runs, 5);
    for (let r = 0; r < runs; r++) {
      const s = process.hrtime.bigint();
      const h = await rights.history(target);
      times.push(Number(process.hrtime.bigint() - s) / 1e6);
      entries = h.bundle.entries.length;
      if (r === 0) ok = verifyHistory(h.bundle).ok;
      const b = process.hrtime.bigint();
      const idx = h.bundle.entries.map((e) => e.index);
      for (let i = 0; i < idx.length; i += 5000)
        await sql`SELECT idx, entry FROM ledger_entries WHERE idx IN (${sql.join(idx.slice(i, i + 5000))})`.execute(
          db,
        );
      baseline.push(Number(process.hrtime.bigint() - b) / 1e6);
    }
    const p95 = percentile(times, 95);
    const full: Measurement = {
      name: `rights.history.${dialect}`,
      value: p95,
      unit: 'ms',
      better: 'lower',
      baseline: { name: 'SELECT of the same entry rows', value: median(baseline) },
      goal: {
        text: `p95 ≤ 1 s for ${TARGET_EVENTS} events incl. proofs`,
        met: p95 <= 1000 && ok && entries === TARGET_EVENTS,
      },
      extra: {
        ledgerEntries: total,
        subjectEntries: entries,
        median: median(times),
        verified: ok ? 'yes' : 'no',
      },
    };

    // The paged portal: the first page of 50, cold (fresh prover per run) and warm.
    const cold: number[] = [];
    const warm: number[] = [];
    const pageBase: number[] = [];
    let pageOk = false;
    let pageEntries = 0;
    for (let r = 0; r < runs; r++) {
      const fresh = makeRights();
      const s = process.hrtime.bigint();
      const first = await fresh.historyPage(target, { limit: PAGE });
      cold.push(Number(process.hrtime.bigint() - s) / 1e6);
      const w = process.hrtime.bigint();
      await fresh.historyPage(target, { limit: PAGE });
      warm.push(Number(process.hrtime.bigint() - w) / 1e6);
      if (r === 0) {
        pageOk = verifyHistoryPage(first.page).ok && first.page.completeness !== undefined;
        pageEntries = first.page.entries.length;
      }
      const b = process.hrtime.bigint();
      const idx = first.page.entries.map((e) => e.index);
      await sql`SELECT idx, entry FROM ledger_entries WHERE idx IN (${sql.join(idx)})`.execute(db);
      pageBase.push(Number(process.hrtime.bigint() - b) / 1e6);
    }
    // One walk of all his pages with a fresh prover: what downloading page by page costs in all.
    const walker = makeRights();
    const pages: HistoryPage[] = [];
    const ws = process.hrtime.bigint();
    let cursor: string | null = null;
    do {
      const p = await walker.historyPage(target, cursor ? { limit: PAGE, cursor } : { limit: PAGE });
      pages.push(p.page);
      cursor = p.next;
    } while (cursor);
    const walkMs = Number(process.hrtime.bigint() - ws) / 1e6;
    const walk = verifyHistoryWalk(pages);
    const pageP95 = percentile(cold, 95);
    ctx.log(
      `  ${dialect}: first page of ${PAGE}: p95 ${pageP95.toFixed(0)} ms cold, ${percentile(warm, 95).toFixed(0)} ms warm; walk of ${pages.length} pages ${(walkMs / 1000).toFixed(1)} s, ${walk.ok ? 'verified' : 'NOT verified'}`,
    );
    const page: Measurement = {
      name: `rights.history_page.first.${dialect}`,
      value: pageP95,
      unit: 'ms',
      better: 'lower',
      baseline: { name: `SELECT of the same ${PAGE} entry rows`, value: median(pageBase) },
      goal: {
        text: `p95 ≤ 1 s for the first page of ${PAGE} of ${TARGET_EVENTS} events incl. proofs, verifiable on its own`,
        met: pageP95 <= 1000 && pageOk && pageEntries === PAGE,
      },
      extra: {
        ledgerEntries: total,
        subjectEntries: entries,
        pageEntries,
        median: median(cold),
        warmP95: percentile(warm, 95),
        walkPages: pages.length,
        walkMs: Math.round(walkMs),
        walkEntries: walk.entries,
        verified: pageOk ? 'yes' : 'no',
        walkVerified: walk.ok && walk.complete ? 'yes' : 'no',
      },
    };
    return [full, page];
  } finally {
    await scratch.destroy();
  }
}

async function yearBench(ctx: BenchContext, dialect: 'sqlite' | 'postgres'): Promise<Measurement> {
  const scratch = await openScratchDatabase(dialect, {
    postgresUrl: ctx.postgresUrl,
    prefix: 'bench_rights_year',
  });
  try {
    const { db } = scratch.database;
    const keyring = keyringFromFile(generateKeyFile());
    const clock = fixedClock('2026-01-01T01:00:00.000Z');
    const ledger = createLedger({ db, dialect, keyring, origin: 'bench.local/ledger', clock });
    const rights = benchRights(db, clock, keyring, ledger);
    const customers = Math.round(1_000_000 * ctx.scale);
    const count = Math.max(10, Math.round((900 * customers) / 1_000_000));
    const rnd = lcg(14);
    const kinds = [
      'access',
      'copy',
      'portability',
      'correction',
      'deletion',
      'restriction',
      'explanation',
      'withdrawal',
    ] as const;
    const arrivals = Array.from({ length: count }, () => Math.floor(rnd() * 365)).sort((a, b) => a - b);
    // Work each request needs (days), whether it waits for the subject, whether it is refused.
    const plan = new Map<
      string,
      { work: number; wait: number; refuse: boolean; started: number; resumeAt?: number; officer: string }
    >();
    // One privacy officer per million customers, each handling up to 20 requests a day: the team
    // grows with the organisation, as the request volume does (the clock rules are what is measured).
    const team = Math.max(1, Math.ceil(customers / 1_000_000));
    let nextOfficer = 0;
    const DAY = 86_400_000;
    const start = clock.now().getTime();
    const s = process.hrtime.bigint();
    let a = 0;
    for (let day = 0; day < 365 + 60; day++) {
      clock.set(new Date(start + day * DAY));
      while (a < arrivals.length && arrivals[a] === day) {
        const r = await rights.requests.file({
          subjectId: `sub_c${a}`,
          kind: kinds[a % kinds.length]!,
          requester: 'subject',
          filedBy: null,
          ...(a % 10 === 0 ? { jurisdiction: 'EU' } : {}),
        });
        plan.set(r.id, {
          work: 1 + Math.floor(rnd() * 12),
          wait: rnd() < 0.15 ? 2 + Math.floor(rnd() * 6) : 0,
          refuse: rnd() < 0.05,
          started: -1,
          officer: '',
        });
        a++;
      }
      // The daily list, soonest due first; the team handles up to 20 a day each.
      const { due, waiting } = await rights.requests.due(new Date(start + (day + 400) * DAY));
      for (const w of waiting) {
        const p = plan.get(w.id)!;
        if (p.resumeAt !== undefined && day >= p.resumeAt) await rights.requests.resume(w.id, p.officer);
      }
      let handled = 0;
      for (const r of due) {
        if (handled >= 20 * team) break;
        const p = plan.get(r.id)!;
        if (r.status === 'received') {
          p.officer = `act_officer${nextOfficer++ % team}`;
          await rights.requests.assign(r.id, p.officer, p.officer);
          p.started = day;
          if (p.wait > 0) {
            await rights.requests.pause(r.id, 'identity document requested', p.officer);
            p.resumeAt = day + p.wait;
            p.wait = 0;
          }
          handled++;
          continue;
        }
        if (day - p.started >= p.work) {
          if (p.refuse)
            await rights.requests.refuse(r.id, 'Records kept under a legal retention duty.', p.officer);
          else await rights.requests.complete(r.id, p.officer, { summary: 'done' });
          handled++;
        }
      }
    }
    const elapsed = Number(process.hrtime.bigint() - s) / 1e9;
    // The list answers at most 1,000 a call: per officer, then those nobody took (a request missing
    // from both counts as not answered, so a short listing can only understate).
    const all2 = [];
    for (let k = 0; k < team; k++)
      all2.push(...(await rights.requests.list({ assignee: `act_officer${k}`, limit: 1000 })));
    all2.push(...(await rights.requests.list({ status: ['received'], limit: 1000 })));
    const answered = all2.filter((r) => r.closedAt !== null && !r.late).length;
    const pct = (100 * answered) / count;
    return {
      name: `rights.year.${dialect}`,
      value: pct,
      unit: '%',
      better: 'higher',
      goal: { text: '100% of requests answered or escalated before due', met: answered === count },
      extra: {
        customers,
        officers: team,
        requests: count,
        answeredOnTime: answered,
        late: all2.filter((r) => r.late).length,
        open: all2.filter((r) => r.closedAt === null).length,
        simulatedSeconds: Number(elapsed.toFixed(1)),
      },
    };
  } finally {
    await scratch.destroy();
  }
}

export const rightsSuite: BenchSuite = {
  name: 'rights',
  description:
    'subject history with proofs (10,000 events); a simulated year of rights requests on the clock',
  async run(ctx) {
    const out: Measurement[] = [];
    for (const d of ctx.dialects) {
      out.push(...(await historyBench(ctx, d)));
      out.push(await yearBench(ctx, d));
    }
    return out;
  },
};
