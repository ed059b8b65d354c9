/*
 * Threat: a malformed or hostile request (bad JSON, deep nesting, prototype pollution keys,
 * injection strings, wrong types, huge or repeated parameters, bad or stolen-looking credentials)
 * that crashes a handler, answers 5xx, leaks a stack trace or an engine error, or returns personal
 * information (a seeded subject's, or anything shaped like a mobile, ID number or e-mail: hostile
 * input echoed back) in an error or in an answer that named no subject; and a flood of them that slows /healthz for everyone. Every operation
 * in /openapi.json is hit, without credentials and with the key of every role. The full run of
 * 100,000 requests against a listening server is scripts/fuzz.mjs (docs/security.md).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  fuzzRequest,
  leaksInternals,
  looksLikePi,
  operations,
  piByDesign,
} from '../../scripts/fuzz-cases.mjs';
import { createWorld, piIn, unthrottledHttp, type World } from '../access/fixtures.js';
import { describeEachDialect } from '../helpers/db.js';

const N = Number(process.env.FUZZ_REQUESTS ?? 2000);

describeEachDialect('fuzzing every route', (dialect) => {
  let w: World;
  beforeAll(async () => {
    w = await createWorld(dialect);
  });
  afterAll(async () => w?.destroy());

  // Found by the full run on PostgreSQL (scripts/fuzz.mjs, docs/security.md): a NUL character in
  // a path, a query or a body reached PostgreSQL, which cannot store one in text, and answered 500.
  it('NUL characters and blanks in every position of every operation: 400s, never a 5xx', async () => {
    const http = await unthrottledHttp(w);
    const ops = operations((await http.inject({ method: 'GET', url: '/openapi.json' })).json());
    const roles = Object.values(w.byRole);
    const bad: string[] = [];
    let k = 0;
    for (const op of ops) {
      for (const v of ['%00', '%00x', '%20', 'a%00b']) {
        const who = roles[k++ % roles.length]!;
        const url = `${op.path.replace(/\{[^}]+\}/g, v)}?${op.query.map((q) => `${q}=${v}`).join('&')}`;
        const res = await http.inject({
          method: op.method as 'GET',
          url,
          headers: { authorization: `Bearer ${who.key}`, 'content-type': 'application/json' },
          ...(op.method !== 'GET' && op.method !== 'DELETE'
            ? {
                payload: JSON.stringify({
                  id: '\u0000',
                  key: 'a\u0000',
                  'x\u0000': ['\u0000'],
                  reason: '\u0000',
                }),
              }
            : {}),
        });
        if (res.statusCode >= 500)
          bad.push(`${op.method} ${url} → ${res.statusCode} ${res.body.slice(0, 120)}`);
      }
    }
    await http.close();
    expect(bad).toEqual([]);
  }, 120_000);

  it(`${N} malformed and hostile requests: no 5xx, no stack trace, no PI in an error, /healthz fast`, async () => {
    // Limits high enough that requests reach the handlers (the limits have their own tests).
    const http = await unthrottledHttp(w);
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
        if (res.statusCode >= 400 && (piIn(res.body, w.piNeedles).length || looksLikePi(res.body)))
          bad.push(`PI in error ${tag} ${res.body.slice(0, 200)}`);
        // A success may carry PI only when it read a real subject (some requests name one, with a
        // key whose role may see it) or is a register that holds contacts by design.
        const named = w.subjects.some((id) => r.url.includes(id) || (r.body ?? '').includes(id));
        if (res.statusCode < 300 && !named && !piByDesign(r.method, r.url) && looksLikePi(res.body))
          bad.push(`PI-shaped value in a success ${tag} ${res.body.slice(0, 200)}`);
        if (i % 100 === 0) {
          const t = performance.now();
          const h = await http.inject({ method: 'GET', url: '/healthz' });
          health.push(performance.now() - t);
          expect(h.statusCode).toBe(200);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    // The error mapper's last guard (it masks a PI shape left in an error body) never fired.
    const metrics = (await http.inject({ method: 'GET', url: '/metrics' })).body;
    const masked = /^custodian_http_error_pi_masked_total (\d+)/m.exec(metrics);
    expect(masked?.[1]).toBe('0');
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
