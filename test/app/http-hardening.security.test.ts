/*
 * Threat: one request hurting everyone, and attempts that leave no trace (issue 11, items 7, 8, 10,
 * 11, 12). An unauthenticated caller that makes the server read and validate its body before the
 * 401 (memory, CPU, and a validation oracle); a flood that reaches the database before any limit;
 * a batch of 1,000 that counts as one request against the per-actor limit; a 429 without
 * Retry-After; a refused read (missing purpose, bad field list, over the rate) that leaves no
 * access event; PI responses a browser or proxy may cache, sniff or frame.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAttemptLog } from '../../src/app/attempts.js';
import { buildServer, SPA_CSP, toErrorBody } from '../../src/app/http/index.js';
import { createRateLimiter } from '../../src/app/ratelimit.js';
import { buildHttp } from '../../src/app/serve.js';
import { createBatchCommit, openDatabase, QueueFullError } from '../../src/db/index.js';
import { createLogger } from '../../src/lib/log.js';
import { bearer, createWorld, type World } from '../access/fixtures.js';
import { describeEachDialect } from '../helpers/db.js';

describeEachDialect('HTTP hardening', (dialect) => {
  let w: World;
  beforeAll(async () => {
    w = await createWorld(dialect);
  });
  afterAll(async () => w?.destroy());

  it('authenticates before reading or validating a body: no credentials is 401 whatever is sent', async () => {
    for (const [method, url, payload] of [
      ['DELETE', '/v1/subjects/not a valid id!', { junk: true }],
      ['DELETE', '/v1/assignments', 'not json at all'],
      ['POST', '/v1/subjects/read-batch', { subjects: 'x'.repeat(10) }],
      ['POST', '/v1/disclosures', {}],
    ] as const) {
      const res = await w.http.inject({
        method,
        url,
        payload: payload as never,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
      expect(res.json().code).toBe('AUTH_REQUIRED');
    }
    // A huge declared body without credentials: 401 at once, and the connection is not kept to
    // read the rest.
    const big = await w.http.inject({
      method: 'POST',
      url: '/v1/consents/import',
      headers: { 'content-type': 'application/json', 'content-length': String(200 * 1024 * 1024) },
      payload: '{}',
    });
    expect(big.statusCode).toBe(401);
  });

  it('an authenticated body over the role limit is refused by its Content-Length before it is read', async () => {
    const http = buildHttp({
      ...w.app,
      config: { ...w.app.config, bodyLimits: { employee: 2048 } },
    });
    await http.ready();
    try {
      const res = await http.inject({
        method: 'POST',
        url: '/v1/subjects/read-batch',
        headers: { ...bearer(w.billing), 'content-type': 'application/json' },
        payload: JSON.stringify({
          purpose: 'billing',
          fields: ['name'],
          subjects: w.subjects,
          pad: 'x'.repeat(4096),
        }),
      });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: { limit: 2048 } });
    } finally {
      await http.close();
    }
  });

  it('PI responses carry no-store, nosniff and a restrictive CSP; a console prefix gets its own CSP', async () => {
    const res = await w.http.inject({
      method: 'GET',
      url: `/v1/subjects/${w.subjects[0]}?purpose=billing&fields=name`,
      headers: bearer(w.billing),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['strict-transport-security']).toBeUndefined(); // plain HTTP on loopback
    const err = await w.http.inject({ method: 'GET', url: '/v1/subjects/x?purpose=billing&fields=name' });
    expect(err.headers['cache-control']).toBe('no-store');
    expect(err.headers['x-content-type-options']).toBe('nosniff');
    const spa = await w.http.inject({ method: 'GET', url: '/console/index.html' });
    // The console's own policy (src/app/http/web.ts): scripts from the same origin only, never inline.
    const spaCsp = String(spa.headers['content-security-policy']);
    expect(spaCsp).toContain("script-src 'self'");
    expect(/script-src[^;]*unsafe/.test(spaCsp)).toBe(false);
  });

  it('records a refused read by an authenticated actor: missing purpose, bad field list (access events, in the ledger)', async () => {
    const s = w.subjects[0]!;
    await w.app.attempts.drain(); // the tests above left refused attempts waiting for their flush
    const before = new Set((await w.app.access.actorEvents(w.billing.id)).map((e) => e.id));
    for (const url of [
      `/v1/subjects/${s}?fields=name`,
      `/v1/subjects/${s}?purpose=billing&fields=NAME;DROP`,
    ]) {
      const res = await w.http.inject({ method: 'GET', url, headers: bearer(w.billing) });
      expect(res.statusCode).toBe(400);
    }
    await w.app.attempts.drain();
    // Same actor, route and code within one window: the first is written at once, the repeat
    // with its count when the window closes (drain closes it).
    const all = (await w.app.access.actorEvents(w.billing.id)).filter(
      (e) => !before.has(e.id) && e.action === 'attempt',
    );
    expect(all.length).toBe(2);
    for (const e of all)
      expect(e).toMatchObject({ allowed: false, reasons: ['VALIDATION_FAILED'], subject: s });
    // Each is a ledger entry like any access event.
    await w.app.ledger.integrate();
    const proof = await w.app.ledger.inclusionProof({ leafHash: all[0]!.leafHash });
    expect(proof.index).toBeGreaterThanOrEqual(0);
  });

  it('counts subjects, not requests: a batch costs its size; a 429 carries Retry-After and is recorded', async () => {
    const limiter = createRateLimiter(w.clock, {
      employee: { rate: 10, burst: 40 },
      partner: { rate: 20, burst: 100 },
      service: { rate: 1000, burst: 1000 },
      roles: { billing: { rate: 2, burst: 10 } },
    });
    const http = buildHttp({ ...w.app, rateLimit: limiter });
    await http.ready();
    try {
      const batch = await http.inject({
        method: 'POST',
        url: '/v1/subjects/read-batch',
        headers: bearer(w.billing),
        payload: { purpose: 'billing', fields: ['name'], subjects: w.subjects.slice(0, 10) },
      });
      expect(batch.statusCode).toBe(200);
      await w.app.attempts.drain();
      const before = new Set((await w.app.access.actorEvents(w.billing.id)).map((e) => e.id));
      const next = await http.inject({
        method: 'GET',
        url: `/v1/subjects/${w.subjects[0]}?purpose=billing&fields=name`,
        headers: bearer(w.billing),
      });
      expect(next.statusCode).toBe(429);
      expect(Number(next.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(next.json()).toMatchObject({
        code: 'RATE_LIMITED',
        details: { retryAfterMs: expect.any(Number) },
      });
      await w.app.attempts.drain();
      const after = (await w.app.access.actorEvents(w.billing.id)).filter((e) => !before.has(e.id));
      expect(after.map((e) => [e.action, e.reasons])).toEqual([['attempt', ['RATE_LIMITED']]]);
      // Refills with time (rate 2 subjects/s).
      w.clock.advance(1000);
      const later = await http.inject({
        method: 'GET',
        url: `/v1/subjects/${w.subjects[0]}?purpose=billing&fields=name`,
        headers: bearer(w.billing),
      });
      expect(later.statusCode).toBe(200);
    } finally {
      await http.close();
    }
  });
});

describe('HTTP hardening without a database', () => {
  const logger = createLogger({ level: 'silent' });
  it('a per-address limit answers 429 with Retry-After before authentication runs', async () => {
    let lookups = 0;
    const http = buildServer({
      logger,
      routes: [],
      authenticate: async () => {
        lookups++;
        return undefined;
      },
      health: async () => ({}),
      version: 't',
      limits: { ipPerMinute: 5 },
    });
    const codes: number[] = [];
    for (let i = 0; i < 8; i++)
      codes.push((await http.inject({ method: 'GET', url: '/openapi.json' })).statusCode);
    expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    const res = await http.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(res.json().code).toBe('RATE_LIMITED');
    // Health stays answerable for the orchestrator.
    expect((await http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect(lookups).toBe(0);
    await http.close();
  });

  it('the group-commit queue is bounded: past the bound a unit is refused at once, answered 503 + Retry-After', async () => {
    const database = openDatabase(':memory:');
    const q = createBatchCommit(database.db, async (_trx, items: readonly number[]) => [...items], {
      maxQueue: 2,
    });
    const a = q.submit(1);
    const b = q.submit(2);
    const c = await q.submit(3).catch((e: unknown) => e);
    expect(c).toBeInstanceOf(QueueFullError);
    expect(await Promise.all([a, b])).toEqual([1, 2]);
    const { status, body } = toErrorBody(c, 'r1');
    expect(status).toBe(503);
    expect(body.code).toBe('SERVICE_BUSY');
    await database.close();
  });

  it('coalesces a flood of identical refused attempts into one record per window, with its count', async () => {
    const written: { code: string; count: number }[] = [];
    const log = createAttemptLog({
      write: async (a) => {
        written.push(...a.map((x) => ({ code: x.code, count: x.count })));
      },
    });
    for (let i = 0; i < 1000; i++)
      log.note({ actor: 'act_1', route: 'GET /v1/subjects/:id', status: 429, code: 'RATE_LIMITED' });
    await log.drain();
    expect(written).toEqual([
      { code: 'RATE_LIMITED', count: 1 },
      { code: 'RATE_LIMITED', count: 999 },
    ]);
  });
});

// Threat: an error body echoes the caller's input back, so a value that looks like PI (a mobile
// sent as a JSON key) appears in an error, a log or a proxy's cache. A validation issue names
// schema fields and positions only; a key taken from the input is shown as `*`.
describe('validation errors name fields, never input keys', () => {
  it('a record key from the input is not echoed', async () => {
    const { z } = await import('zod');
    const schema = z.object({
      fields: z.record(z.string(), z.number()),
      list: z.array(z.number()),
    });
    const r = schema.safeParse({ fields: { '13800138000': 'x' }, list: [1, 'two'] });
    expect(r.success).toBe(false);
    const { status, body } = toErrorBody(r.error, 'r1');
    expect(status).toBe(400);
    const text = JSON.stringify(body);
    expect(text).not.toContain('13800138000');
    const paths = (body.details!.issues as { path: string }[]).map((i) => i.path);
    expect(paths).toContain('list.1');
    expect(paths.some((p) => p.startsWith('fields'))).toBe(true);
  });
});
