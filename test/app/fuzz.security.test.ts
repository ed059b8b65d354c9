/*
 * Threat: a malformed or hostile request (bad JSON, deep nesting, prototype pollution keys,
 * injection strings, wrong types, huge or repeated parameters, bad or stolen-looking credentials)
 * that crashes a handler, answers 5xx, leaks a stack trace or an engine error, or returns personal
 * information in an error; and a flood of them that slows /healthz for everyone. Every operation
 * in /openapi.json is hit, without credentials and with the key of every role. The full run of
 * 100,000 requests against a listening server is scripts/fuzz.mjs (docs/security.md).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fuzzRequest, leaksInternals, operations } from '../../scripts/fuzz-cases.mjs';
import { createRateLimiter } from '../../src/app/ratelimit.js';
import { buildHttp } from '../../src/app/serve.js';
import { createWorld, piIn, type World } from '../access/fixtures.js';
import { describeEachDialect } from '../helpers/db.js';

const N = Number(process.env.FUZZ_REQUESTS ?? 2000);

describeEachDialect('fuzzing every route', (dialect) => {
  let w: World;
  beforeAll(async () => {
    w = await createWorld(dialect);
  });
  afterAll(async () => w?.destroy());

  it(`${N} malformed and hostile requests: no 5xx, no stack trace, no PI in an error, /healthz fast`, async () => {
    // Limits high enough that requests reach the handlers (the limits have their own tests).
    const http = buildHttp({
      ...w.app,
      config: { ...w.app.config, ipRateLimit: 0 },
      rateLimit: createRateLimiter(w.clock, {
        employee: { rate: 1e9, burst: 1e9 },
        partner: { rate: 1e9, burst: 1e9 },
        service: { rate: 1e9, burst: 1e9 },
      }),
    });
    await http.ready();
    const ops = operations((await http.inject({ method: 'GET', url: '/openapi.json' })).json());
    expect(ops.length).toBeGreaterThan(20);
    const keys = Object.values(w.byRole).map((a) => a.key);
    const statuses = new Map<number, number>();
    const bad: string[] = [];
    const health: number[] = [];
    const seed = 11;
    const concurrency = 8;
    let next = 0;
    const worker = async () => {
      while (next < N) {
        const i = next++;
        const r = fuzzRequest(seed, i, ops, keys, w.subjects);
        const res = await http.inject({
          method: r.method,
          url: r.url,
          headers: r.headers,
          ...(r.body !== undefined ? { payload: r.body } : {}),
        });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        const tag = `#${i} ${r.method} ${r.url.slice(0, 80)} → ${res.statusCode}`;
        if (res.statusCode >= 500) bad.push(`5xx ${tag} ${res.body.slice(0, 200)}`);
        if (leaksInternals(res.body)) bad.push(`internals ${tag}`);
        if (res.statusCode >= 400 && piIn(res.body, w.piNeedles).length) bad.push(`PI in error ${tag}`);
        if (i % 100 === 0) {
          const t = performance.now();
          const h = await http.inject({ method: 'GET', url: '/healthz' });
          health.push(performance.now() - t);
          expect(h.statusCode).toBe(200);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await http.close();
    expect(bad).toEqual([]);
    health.sort((a, b) => a - b);
    const p99 = health[Math.min(health.length - 1, Math.floor(health.length * 0.99))]!;
    // 50 ms is the goal, measured by scripts/fuzz.mjs against a separate server process
    // (docs/security.md); in the suite the fuzzer and the server share one event loop on a shared
    // machine, so a loose bound is checked.
    expect(p99).toBeLessThan(3000);
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
  }, 300_000);
});
