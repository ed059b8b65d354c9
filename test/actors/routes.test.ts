import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildServer } from '../../src/app/http/index.js';
import { fixedClock } from '../../src/lib/clock.js';
import { type Actors, actorsRoutes, createActors, ensureAdmin } from '../../src/modules/actors/index.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../helpers/db.js';
import { defaultPermissions } from '../helpers/permissions.js';
import { memoryRecorder } from '../helpers/recorder.js';
import { silentLogger } from './support.js';

describeEachDialect('actors HTTP routes', (dialect) => {
  let d: TestDatabase;
  let actors: Actors;
  let app: FastifyInstance;
  let admin: string;
  let tm: { id: string; key: string };
  const clock = fixedClock('2025-03-10T02:00:00Z');

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, key?: string, payload?: unknown) =>
    app.inject({
      method,
      url,
      ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}),
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });

  beforeAll(async () => {
    d = await createTestDatabase(dialect);
    actors = createActors({ db: d.db, dialect, clock, record: memoryRecorder().record });
    admin = (await ensureAdmin(actors)).apiKey!;
    const t = await actors.create({ name: 'tm-1', kind: 'employee', roles: ['telemarketing'] }, { by: null });
    tm = { id: t.actor.id, key: t.apiKey };
    app = buildServer({
      logger: silentLogger(),
      routes: actorsRoutes({ actors, permissions: defaultPermissions }),
      authenticate: actors.authenticate,
      health: async () => ({}),
      version: 'test',
    });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await d?.destroy();
  });

  it('requires a valid key', async () => {
    expect((await call('GET', '/v1/actors')).json()).toMatchObject({ code: 'AUTH_REQUIRED' });
    const bad = await call('GET', '/v1/actors', 'ctk_nope');
    expect(bad.statusCode).toBe(401);
    expect(bad.json().code).toBe('AUTH_INVALID');
  });

  it('an administrator creates an actor and gets its key once, uncached', async () => {
    const r = await call('POST', '/v1/actors', admin, {
      name: 'svc-phone',
      kind: 'service',
      roles: ['contact_service'],
      attributes: { region: 'east' },
    });
    expect(r.statusCode).toBe(201);
    expect(r.headers['cache-control']).toBe('no-store');
    const body = r.json();
    expect(body.actor).toMatchObject({
      name: 'svc-phone',
      kind: 'service',
      roles: ['contact_service'],
      status: 'active',
    });
    expect(body.apiKey).toMatch(/^ctk_/);
    expect(Object.keys(body.actor).sort()).toEqual([
      'attributes',
      'createdAt',
      'disabledAt',
      'id',
      'kind',
      'name',
      'roles',
      'status',
    ]);
    expect((await actors.authenticate(body.apiKey))?.id).toBe(body.actor.id);
    // The key never appears again.
    const list = await call('GET', '/v1/actors', admin);
    expect(list.body).not.toContain(body.apiKey);
    expect(list.body).not.toMatch(/hash/);
  });

  it('non-administrators get a 403 that names no role or rule', async () => {
    for (const [method, url, payload] of [
      ['GET', '/v1/actors', undefined],
      ['POST', '/v1/actors', { name: 'x', kind: 'employee', roles: [] }],
      ['POST', `/v1/actors/${tm.id}/disable`, undefined],
      ['POST', '/v1/assignments', { assignments: [{ actor: tm.id, subjectId: 'sub_a' }] }],
    ] as const) {
      const r = await call(method, url, tm.key, payload);
      expect(r.statusCode, url).toBe(403);
      expect(r.json()).toEqual({
        code: 'FORBIDDEN',
        message: 'This action is not permitted.',
        requestId: expect.any(String),
      });
    }
  });

  it('lists with filters, updates roles, validates input', async () => {
    const r = await call('GET', '/v1/actors?role=telemarketing', admin);
    expect(r.json().actors.map((a: { name: string }) => a.name)).toEqual(['tm-1']);
    const p = await call('PATCH', `/v1/actors/${tm.id}`, admin, { roles: ['telemarketing', 'approver'] });
    expect(p.json().actor.roles).toEqual(['approver', 'telemarketing']);
    const bad = await call('POST', '/v1/actors', admin, {
      name: 'ok',
      kind: 'employee',
      roles: ['Bad Role'],
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION_FAILED');
    expect((await call('POST', '/v1/actors/act_nobody/disable', admin)).json().code).toBe('ACTORS_NOT_FOUND');
    const dup = await call('POST', '/v1/actors', admin, { name: 'tm-1', kind: 'employee', roles: [] });
    expect([dup.statusCode, dup.json().code]).toEqual([409, 'ACTORS_NAME_TAKEN']);
  });

  it("an actor rotates its own key; not someone else's", async () => {
    const other = await actors.create(
      { name: 'tm-2', kind: 'employee', roles: ['telemarketing'] },
      { by: null },
    );
    expect((await call('POST', `/v1/actors/${other.actor.id}/rotate-key`, tm.key, {})).statusCode).toBe(403);
    const r = await call('POST', `/v1/actors/${tm.id}/rotate-key`, tm.key, { graceSeconds: 0 });
    expect(r.statusCode).toBe(200);
    const fresh = r.json().apiKey as string;
    expect((await call('GET', '/v1/actors', tm.key)).statusCode).toBe(401);
    tm.key = fresh;
    expect((await actors.authenticate(fresh))?.id).toBe(tm.id);
  });

  it('bulk assignment and removal over JSON; rejected rows by index', async () => {
    const r = await call('POST', '/v1/assignments', admin, {
      assignments: [
        { actor: 'tm-1', subjectId: 'sub_a' },
        { actor: tm.id, subjectId: 'sub_b', expiresAt: '2030-01-01T00:00:00Z' },
        { actor: 'nobody', subjectId: 'sub_c' },
      ],
    });
    expect(r.json()).toEqual({ assigned: 2, rejected: [{ line: 2, code: 'UNKNOWN_ACTOR' }] });
    const list = await call('GET', `/v1/assignments?actor=${tm.id}`, admin);
    expect(list.json().assignments.map((a: { subjectId: string }) => a.subjectId)).toEqual([
      'sub_a',
      'sub_b',
    ]);
    const del = await call('DELETE', '/v1/assignments', admin, {
      assignments: [{ actor: 'tm-1', subjectId: 'sub_a' }],
    });
    expect(del.json()).toEqual({ removed: 1, rejected: [] });
    expect(await actors.isAssigned(tm.id, 'sub_a', clock.now())).toBe(false);
    const tooMany = await call('POST', '/v1/assignments', admin, {
      assignments: Array.from({ length: 10_001 }, (_, i) => ({ actor: 'tm-1', subjectId: `sub_${i}` })),
    });
    expect(tooMany.statusCode).toBe(400);
  });

  it('disabling an actor locks its key out of the API at once', async () => {
    const r = await call('POST', `/v1/actors/${tm.id}/disable`, admin);
    expect(r.json().actor.status).toBe('disabled');
    expect((await call('POST', `/v1/actors/${tm.id}/rotate-key`, tm.key, {})).statusCode).toBe(401);
  });
});
