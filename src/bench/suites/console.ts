import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CompiledQuery } from 'kysely';
import { webRoot } from '../../app/http/web.js';
import { buildHttp } from '../../app/serve.js';
import { type Database, type DialectName, insertFlat, rowsPerStatement } from '../../db/index.js';
import { ACCESS_EVENT_COLUMNS } from '../../modules/access/index.js';
import { openBenchApp } from '../app.js';
import { type BenchContext, type BenchSuite, type Measurement, median, percentile } from '../types.js';

/**
 * The console's goals (issue 16): every table pages over 10,000,000 access events with p95 ≤ 500 ms
 * per page (server-side); first load of the console ≤ 2 s on loopback; JavaScript shipped ≤ 500 KB
 * gzipped.
 *
 * Paging: N access events are filled straight into access_events (N/5 customers; one "hot" customer
 * holds H = N/100 of them, so his history has thousands of pages, with ties on `at`). The console's
 * table asks GET /v1/subjects/:id/access-history?limit=50[&cursor=…] (keyset over (at, id), index
 * (subject_id, at, id)); the first page, a page in the middle of the hot customer's history and one
 * near its end are each requested P times through the real HTTP route (fastify inject: auth,
 * permission check, query, JSON) and the p95 is reported. Baseline: the same keyset SELECT raw.
 *
 * First load: Debian's chromium (playwright-core, as the browser tests) loads /console/ from the
 * server on loopback until the sign-in form is drawn; median of the runs. JS shipped: the sum of the
 * gzip sizes of every .js file of the web build (what a browser could ever download, both trees).
 *
 * N = 10,000,000 × scale (CUSTODIAN_BENCH_CONSOLE_EVENTS overrides it).
 */
const PAGE = 50;
const PROBES = 40;
const T0 = Date.parse('2025-06-01T00:00:00Z');

async function fill(db: Database['db'], dialect: DialectName, n: number, log: (l: string) => void) {
  const hotEvery = 100;
  const subjects = Math.max(1, Math.floor(n / 5));
  const per = rowsPerStatement(ACCESS_EVENT_COLUMNS.length);
  const leaf = 'ab'.repeat(32);
  const fields = JSON.stringify(['name', 'mobile']);
  const views = JSON.stringify({ name: 'masked', mobile: 'token' });
  let hot = 0;
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < n; i += per) {
      const rows = Math.min(per, n - i);
      const params: unknown[] = [];
      for (let k = i; k < i + rows; k++) {
        const isHot = k % hotEvery === 0;
        if (isHot) hot++;
        params.push(
          `evt_${String(k).padStart(9, '0')}`,
          // 4 events per millisecond-tick: ties on `at`, as a group commit writes them.
          new Date(T0 + Math.floor(k / 4)).toISOString(),
          `act_${k % 997}`,
          'telemarketing',
          isHot ? 'sub_hot' : `sub_${(k * 7919) % subjects}`,
          'read',
          fields,
          views,
          k % 50 === 0 ? 0 : 1,
          '[]',
          null,
          leaf,
        );
      }
      await insertFlat(trx, 'access_events', ACCESS_EVENT_COLUMNS, params);
      if ((i / per) % 500 === 0) log(`  events: ${i + rows} of ${n}`);
    }
  });
  if (dialect === 'postgres') await db.executeQuery(CompiledQuery.raw('ANALYZE access_events'));
  return hot;
}

/** The cursor (`at|id`) after the k-th newest event of the hot customer. */
async function cursorAt(db: Database['db'], k: number): Promise<string> {
  const r = await db
    .selectFrom('access_events')
    .select(['at', 'id'])
    .where('subject_id', '=', 'sub_hot')
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .offset(k)
    .limit(1)
    .executeTakeFirstOrThrow();
  return `${r.at}|${r.id}`;
}

const p95 = (xs: number[]) => percentile(xs, 95);

async function pagingDialect(ctx: BenchContext, dialect: DialectName, n: number): Promise<Measurement[]> {
  // One investigator paging as fast as the loop allows: the per-actor rate limit is raised (a
  // person's pace is what it guards; here the subject is the page's latency).
  const b = await openBenchApp(ctx, dialect, {
    prefix: 'bench_console',
    env: { CUSTODIAN_RATE_LIMITS: JSON.stringify({ employee: { rate: 1e6, burst: 1e6 } }) },
  });
  const http = buildHttp(b.app);
  try {
    const db = b.app.database.db;
    ctx.log(`console/${dialect}: filling ${n} access events…`);
    let t = performance.now();
    const hot = await fill(db, dialect, n, ctx.log);
    ctx.log(
      `console/${dialect}: filled in ${((performance.now() - t) / 1000).toFixed(1)} s (hot customer: ${hot})`,
    );
    const who = await b.app.actors.create(
      { name: 'bench-dpo', kind: 'employee', roles: ['privacy_officer'] },
      { by: null },
    );
    await http.ready();
    const pages: [string, string | undefined][] = [
      ['first', undefined],
      ['middle', await cursorAt(db, Math.floor(hot / 2))],
      ['deep', await cursorAt(db, Math.max(0, hot - PAGE - 1))],
    ];
    const out: Measurement[] = [];
    for (const [label, cursor] of pages) {
      const routeMs: number[] = [];
      const rawMs: number[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        for (let i = 0; i < PROBES; i++) {
          t = performance.now();
          const res = await http.inject({
            method: 'GET',
            url: `/v1/subjects/sub_hot/access-history?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
            headers: { authorization: `Bearer ${who.apiKey}` },
          });
          routeMs.push(performance.now() - t);
          if (res.statusCode !== 200) throw new Error(`history page: ${res.statusCode}`);
          if ((res.json().events as unknown[]).length !== PAGE) throw new Error('short page');
          t = performance.now();
          let q = db.selectFrom('access_events').selectAll().where('subject_id', '=', 'sub_hot');
          if (cursor) {
            const [at, id] = cursor.split('|') as [string, string];
            q = q.where('at', '<=', at).where((e) => e.or([e('at', '<', at), e('id', '<', id)]));
          }
          await q.orderBy('at', 'desc').orderBy('id', 'desc').limit(PAGE).execute();
          rawMs.push(performance.now() - t);
        }
      }
      const v = p95(routeMs);
      ctx.log(
        `console/${dialect}: ${label} page p95 ${v.toFixed(1)} ms (median ${median(routeMs).toFixed(1)}; raw SELECT p95 ${p95(rawMs).toFixed(1)} ms)`,
      );
      out.push({
        name: `console.history_page.${label}.${dialect}`,
        value: Number(v.toFixed(2)),
        unit: 'ms',
        better: 'lower',
        baseline: { name: 'the same keyset SELECT, raw (p95)', value: Number(p95(rawMs).toFixed(2)) },
        goal: { text: `p95 ≤ 500 ms per page over ${n.toLocaleString('en')} access events`, met: v <= 500 },
        extra: {
          events: n,
          hotCustomerEvents: hot,
          pageSize: PAGE,
          requests: routeMs.length,
          medianMs: Number(median(routeMs).toFixed(2)),
        },
      });
    }
    return out;
  } finally {
    await http.close();
    await b.destroy();
  }
}

function jsGzipBytes(): { total: number; files: number } | undefined {
  const root = webRoot();
  if (!root) return undefined;
  let total = 0;
  let files = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js')) {
        total += gzipSync(readFileSync(p), { level: 9 }).length;
        files++;
      }
    }
  };
  walk(root);
  return { total, files };
}

async function firstLoad(ctx: BenchContext): Promise<Measurement | undefined> {
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    ctx.log('console: playwright-core not installed; first load not measured');
    return undefined;
  }
  const b = await openBenchApp(ctx, 'sqlite', { prefix: 'bench_console_load' });
  const http = buildHttp(b.app);
  const browser = await chromium
    .launch({
      executablePath: process.env.CUSTODIAN_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    })
    .catch((e: Error) => {
      ctx.log(`console: chromium unavailable (${e.message.split('\n')[0]}); first load not measured`);
      return undefined;
    });
  try {
    if (!browser) return undefined;
    await http.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}/console/`;
    const ms: number[] = [];
    for (let r = 0; r < Math.max(3, ctx.runs); r++) {
      // A fresh context each time (empty cache); the renderer started by a blank page first.
      const c = await browser.newContext();
      const page = await c.newPage();
      await page.goto('about:blank');
      const t = performance.now();
      await page.goto(url);
      await page.getByLabel('API key').waitFor();
      ms.push(performance.now() - t);
      await c.close();
    }
    const v = median(ms);
    ctx.log(`console: first load ${v.toFixed(0)} ms (runs: ${ms.map((x) => x.toFixed(0)).join(', ')})`);
    return {
      name: 'console.first_load',
      value: Math.round(v),
      unit: 'ms',
      better: 'lower',
      goal: {
        text: 'first load of the console ≤ 2 s on loopback (cold cache, to the sign-in form)',
        met: v <= 2000,
      },
      extra: { runs: ms.length, maxMs: Math.round(Math.max(...ms)) },
    };
  } finally {
    await browser?.close();
    await http.close();
    await b.destroy();
  }
}

export const consoleSuite: BenchSuite = {
  name: 'console',
  description: 'console tables paged over N access events (p95 per page), first load, JS shipped',
  async run(ctx) {
    const out: Measurement[] = [];
    const n = Math.max(
      PAGE * 300,
      Number(process.env.CUSTODIAN_BENCH_CONSOLE_EVENTS ?? Math.round(10_000_000 * ctx.scale)),
    );
    const js = jsGzipBytes();
    if (js) {
      ctx.log(`console: JS shipped ${(js.total / 1024).toFixed(1)} KB gzipped in ${js.files} files`);
      out.push({
        name: 'console.js_gzip',
        value: js.total,
        unit: 'bytes',
        better: 'lower',
        goal: {
          text: 'JavaScript shipped ≤ 500 KB gzipped (every .js of the web build)',
          met: js.total <= 500 * 1024,
        },
        extra: { files: js.files, kb: Number((js.total / 1024).toFixed(1)) },
      });
    } else ctx.log('console: no web build (npm run build:web); JS size not measured');
    const load = await firstLoad(ctx);
    if (load) out.push(load);
    for (const dialect of ctx.dialects) out.push(...(await pagingDialect(ctx, dialect, n)));
    return out;
  },
};
