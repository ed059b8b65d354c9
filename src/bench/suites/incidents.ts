import os from 'node:os';
import { CompiledQuery } from 'kysely';
import { type Database, type DialectName, MAX_BIND_PARAMS } from '../../db/index.js';
import { ACCESS_EVENT_COLUMNS } from '../../modules/access/index.js';
import { openBenchApp } from '../app.js';
import { type BenchContext, type BenchSuite, type Measurement, median } from '../types.js';

/**
 * Incident scoping over N access events (goal: 10,000,000 events ≤ 60 s on one node, with the
 * signed list). N synthetic access events are inserted straight into access_events (one insider
 * making N reads over N/5 customers, plus 10% reads by others that must stay out), then
 * `incidents.scope` is timed end to end: the aggregate query, the per-customer lines, the SHA-256
 * of the list, the Ed25519 signature, and the insert of the affected rows. Baseline in the same
 * run: the database's own `COUNT(DISTINCT subject_id)` over the same events.
 *
 * N = 1,000,000 × scale (CUSTODIAN_BENCH_INCIDENT_EVENTS overrides it).
 */

function open(ctx: BenchContext, dialect: DialectName) {
  return openBenchApp(ctx, dialect, { prefix: 'bench_incidents' });
}

async function seed(db: Database['db'], dialect: DialectName, n: number, log: (l: string) => void) {
  const subjects = Math.max(1, Math.floor(n / 5));
  const per = Math.floor(MAX_BIND_PARAMS / ACCESS_EVENT_COLUMNS.length);
  const t0 = Date.parse('2025-11-11T00:00:00Z');
  const total = Math.floor(n * 1.1);
  const leaf = 'ab'.repeat(32);
  const fields = JSON.stringify(['name', 'mobile']);
  const views = JSON.stringify({ name: 'plain', mobile: 'plain' });
  // One transaction for the set-up rows (the seeding is not the measured work).
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < total; i += per) {
      const rows = Math.min(per, total - i);
      const params: unknown[] = [];
      const tuples: string[] = [];
      for (let r = 0; r < rows; r++) {
        const k = i + r;
        // Every 11th event is someone else's read: it must stay out of the scope.
        const insider = k % 11 !== 10;
        params.push(
          `evt_${k}`,
          new Date(t0 + k * 10).toISOString(),
          insider ? 'act_insider' : 'act_other',
          'customer_support',
          `sub_${(k * 7919) % subjects}`,
          'read',
          fields,
          views,
          1,
          '[]',
          null,
          leaf,
        );
        const base = r * ACCESS_EVENT_COLUMNS.length;
        tuples.push(
          `(${ACCESS_EVENT_COLUMNS.map((_, c) => (dialect === 'postgres' ? `$${base + c + 1}` : '?')).join(',')})`,
        );
      }
      await trx.executeQuery(
        CompiledQuery.raw(
          `INSERT INTO access_events (${ACCESS_EVENT_COLUMNS.join(',')}) VALUES ${tuples.join(',')}`,
          params,
        ),
      );
      if ((i / per) % 100 === 0) log(`  seeded ${i + rows} of ${total} access events`);
    }
  });
  if (dialect === 'postgres') await db.executeQuery(CompiledQuery.raw('ANALYZE access_events'));
  return subjects;
}

export const incidentsSuite: BenchSuite = {
  name: 'incidents',
  description: 'incident scope over N access events, with the signed list of affected customers',
  async run(ctx) {
    const out: Measurement[] = [];
    const n = Number(process.env.CUSTODIAN_BENCH_INCIDENT_EVENTS ?? Math.round(1_000_000 * ctx.scale));
    for (const dialect of ctx.dialects) {
      const b = await open(ctx, dialect);
      try {
        const db = b.app.database.db;
        ctx.log(`incidents/${dialect}: seeding ${n} insider events (+10% others)…`);
        await seed(db, dialect, n, ctx.log);
        const scopeMs: number[] = [];
        const baseMs: number[] = [];
        let affected = 0;
        let events = 0;
        for (let r = 0; r < ctx.runs; r++) {
          let t = performance.now();
          const raw = await db.executeQuery<{ c: number | string }>(
            CompiledQuery.raw(
              "SELECT COUNT(DISTINCT subject_id) AS c FROM access_events WHERE actor_id = 'act_insider' AND allowed = 1",
            ),
          );
          baseMs.push(performance.now() - t);
          const inc = await b.app.incidents.open({ title: `bench ${r}`, source: 'manual' }, null);
          t = performance.now();
          const s = await b.app.incidents.scope(inc.id, { actors: ['act_insider'] }, null);
          scopeMs.push(performance.now() - t);
          affected = s.affected;
          events = s.events;
          if (Number(raw.rows[0]?.c) !== affected) throw new Error('scope and baseline disagree');
        }
        const ms = median(scopeMs);
        const perEvent = ms / events;
        const projected = (perEvent * 10_000_000) / 1000;
        ctx.log(
          `incidents/${dialect}: ${events} events, ${affected} customers: scope ${ms.toFixed(0)} ms (baseline ${median(baseMs).toFixed(0)} ms)`,
        );
        out.push({
          name: `incidents.scope.${dialect}`,
          value: Math.round(ms),
          unit: 'ms',
          better: 'lower',
          baseline: {
            name: 'COUNT(DISTINCT subject_id) over the same events',
            value: Math.round(median(baseMs)),
          },
          goal: {
            text:
              events >= 10_000_000
                ? `10,000,000 events ≤ 60 s (measured at ${events.toLocaleString('en-US')} events)`
                : `10,000,000 events ≤ 60 s (linear extrapolation from ${events} events: ${projected.toFixed(1)} s)`,
            met: projected <= 60,
          },
          extra: {
            events,
            affected,
            eventsPerSecond: Math.round(events / (ms / 1000)),
            projected10MSeconds: Number(projected.toFixed(1)),
            loadAverage: os.loadavg()[0]!.toFixed(1),
          },
        });
      } finally {
        await b.destroy();
      }
    }
    return out;
  },
};
