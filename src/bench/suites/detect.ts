import type { DialectName } from '../../db/index.js';
import { toPrincipal } from '../../modules/actors/index.js';
import { createEngine, type Observation } from '../../modules/detect/index.js';
import { generateCustomers } from '../../modules/sim/index.js';
import { benchPolicy, openBenchApp } from '../app.js';
import { type BenchContext, type BenchSuite, type Measurement, median, rate } from '../types.js';

/**
 * The same audited reads with the guard and with a no-op in its place, in pairs whose order
 * alternates (so drift in a loaded machine falls on both sides); the cost is the median of the
 * pairs' costs.
 */
async function inline(
  ctx: BenchContext,
  dialect: DialectName,
): Promise<{ on: number; off: number; cost: number }> {
  const bench = await openBenchApp(ctx, dialect, { prefix: 'bench_detect', poolSize: 8 });
  const { app } = bench;
  try {
    await app.policy.load(benchPolicy('bench-detect-1'), { by: null });
    const { actor } = await app.actors.create(
      { name: 'bench.reader', kind: 'service', roles: ['bench_reader'] },
      { by: null },
    );
    const p = toPrincipal(actor);
    const n = Math.max(1000, Math.round(10_000 * ctx.scale));
    const recs = [...generateCustomers({ seed: 'bench-detect', count: Math.min(n, 1000) })];
    const ids = (
      await app.vault.createMany(
        recs.map((r) => ({
          externalId: r.external_id,
          fields: Object.fromEntries(Object.entries(r).filter(([k, v]) => k !== 'external_id' && v !== '')),
        })),
      )
    ).map((m) => m.id);
    const d = app.detect;
    const real = { before: d.before, after: d.after };
    const noop = {
      before: async (_t: unknown, items: readonly unknown[]) => ({
        block: new Array(items.length).fill(undefined),
        explained: new Array(items.length).fill(null),
      }),
      after: async () => {},
    };
    const run = async () => {
      const start = process.hrtime.bigint();
      const inflight = 64;
      let next = 0;
      const worker = async () => {
        while (next < n) {
          const i = next++;
          await app.access.read(p, { subjectId: ids[i % ids.length]!, purpose: 'billing', fields: ['name'] });
        }
      };
      await Promise.all(Array.from({ length: inflight }, worker));
      return rate(n, start);
    };
    const on: number[] = [];
    const off: number[] = [];
    const costs: number[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      const pair: Record<'on' | 'off', number> = { on: 0, off: 0 };
      for (const side of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        Object.assign(d, side === 'on' ? real : noop);
        pair[side] = await run();
      }
      Object.assign(d, real);
      on.push(pair.on);
      off.push(pair.off);
      costs.push(1 - pair.on / pair.off);
      ctx.log(
        `detect inline ${dialect} pair ${r + 1}: ${Math.round(pair.on)} with, ${Math.round(pair.off)} without`,
      );
    }
    return { on: median(on), off: median(off), cost: median(costs) };
  } finally {
    await bench.destroy();
  }
}

function replay(ctx: BenchContext): number {
  const n = Math.max(100_000, Math.round(1_000_000 * ctx.scale));
  // Stored-event-shaped observations: 500 actors over 30 days, 50,000 subjects.
  const roles = ['telemarketing', 'support', 'billing', 'partner'];
  const obs: Observation[] = new Array(n);
  const t0 = Date.parse('2021-03-01T00:00:00Z');
  const step = (30 * 86_400_000) / n;
  let x = 12345;
  const rnd = (m: number) => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x % m;
  };
  for (let i = 0; i < n; i++) {
    const a = rnd(500);
    obs[i] = {
      at: t0 + Math.floor(i * step),
      actor: `act_${a}`,
      role: roles[a % 4]!,
      subject: `sub_${rnd(50_000)}`,
      purpose: 'p',
      action: 'read',
      explained: rnd(10) === 0 ? null : 'assignment',
      ref: { leaf: '', at: 0 },
    };
  }
  const runs: number[] = [];
  for (let r = 0; r < ctx.runs; r++) {
    const e = createEngine();
    const start = process.hrtime.bigint();
    for (const o of obs) e.observe(o);
    runs.push(rate(n, start));
  }
  return median(runs);
}

export const detectSuite: BenchSuite = {
  name: 'detect',
  description: 'insider detection: inline cost on audited reads, replay of events through the detectors',
  async run(ctx) {
    const out: Measurement[] = [];
    const r = replay(ctx);
    ctx.log(`detect replay: ${Math.round(r)} events/s`);
    out.push({
      name: 'detect.replay',
      value: r,
      unit: 'entries/s',
      better: 'higher',
      goal: { text: '≥ 200,000 events/s through the detectors', met: r >= 200_000 },
    });
    for (const dialect of ctx.dialects) {
      const { on, off, cost } = await inline(ctx, dialect);
      ctx.log(
        `detect inline ${dialect}: ${Math.round(on)} reads/s with, ${Math.round(off)} without (${(cost * 100).toFixed(1)}%)`,
      );
      out.push({
        name: `detect.inline.${dialect}`,
        value: on,
        unit: 'ops/s',
        better: 'higher',
        baseline: { name: 'same reads, guard replaced by a no-op', value: off },
        goal: { text: 'inline detection costs ≤ 10% of audited read throughput', met: cost <= 0.1 },
        extra: {
          costPercent: Math.round(cost * 1000) / 10,
          readsPerRun: Math.max(1000, Math.round(10_000 * ctx.scale)),
        },
      });
    }
    return out;
  },
};
