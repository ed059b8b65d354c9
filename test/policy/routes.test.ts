import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildServer } from '../../src/app/http/index.js';
import { fixedClock } from '../../src/lib/clock.js';
import { permissionsFrom } from '../../src/lib/http/index.js';
import { actorsRoutes, createActors, ensureAdmin } from '../../src/modules/actors/index.js';
import {
  createPolicyService,
  defaultPolicyFile,
  type PolicyService,
  policyRoutes,
} from '../../src/modules/policy/index.js';
import { silentLogger } from '../actors/support.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../helpers/db.js';
import { memoryRecorder } from '../helpers/recorder.js';

describeEachDialect('policy and approvals HTTP routes', (dialect) => {
  let d: TestDatabase;
  let policy: PolicyService;
  let app: FastifyInstance;
  const keys: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const clock = fixedClock('2025-03-10T02:00:00Z');
  const guardedText = readFileSync(defaultPolicyFile(), 'utf8');

  const call = (
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    who?: string,
    payload?: unknown,
    contentType?: string,
  ) =>
    app.inject({
      method,
      url,
      headers: {
        ...(who ? { authorization: `Bearer ${keys[who]}` } : {}),
        ...(contentType ? { 'content-type': contentType } : {}),
      },
      ...(payload !== undefined ? { payload: payload as string } : {}),
    });

  beforeAll(async () => {
    d = await createTestDatabase(dialect);
    const actors = createActors({ db: d.db, dialect, clock, record: memoryRecorder().record });
    policy = createPolicyService({ db: d.db, dialect, clock, record: memoryRecorder().record });
    await policy.init();
    keys.admin = (await ensureAdmin(actors)).apiKey!;
    for (const [name, roles] of [
      ['tm', ['telemarketing']],
      ['boss', ['approver']],
      ['boss2', ['approver']],
      ['auditor', ['auditor']],
      ['dpo', ['privacy_officer']],
    ] as const) {
      const r = await actors.create({ name, kind: 'employee', roles: [...roles] }, { by: null });
      keys[name] = r.apiKey;
      ids[name] = r.actor.id;
    }
    const permissions = permissionsFrom((roles, action) => policy.permits(roles, action));
    app = buildServer({
      logger: silentLogger(),
      routes: [...actorsRoutes({ actors, permissions }), ...policyRoutes({ policy, permissions })],
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

  it('reviewers read the policy; others get a bare 403 that reveals nothing of it', async () => {
    for (const who of ['admin', 'auditor', 'dpo']) {
      const r = await call('GET', '/v1/policy', who);
      expect(r.statusCode, who).toBe(200);
      expect(r.json()).toMatchObject({ name: 'guarded', text: guardedText, timezone: 'Asia/Shanghai' });
    }
    for (const url of ['/v1/policy', '/v1/policy/review', '/v1/policy/versions']) {
      const r = await call('GET', url, 'tm');
      expect(r.statusCode).toBe(403);
      expect(r.json()).toEqual({
        code: 'FORBIDDEN',
        message: 'This action is not permitted.',
        requestId: expect.any(String),
      });
      expect(r.body).not.toMatch(/guarded|telemarketing|quota|admin/);
    }
  });

  it('an administrator replaces the policy with YAML text; bad text is a 400 naming the path', async () => {
    const next = guardedText
      .replace('version: "2025.1"', 'version: "2025.2"')
      .replace('daily: 200', 'daily: 150');
    const r = await call('PUT', '/v1/policy', 'admin', next, 'text/plain');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ changed: true, version: '2025.2', previous: { version: '2025.1' } });
    expect((await policy.active()).byPurpose.get('telemarketing')?.get('telemarketing')?.quota?.daily).toBe(
      150,
    );

    const same = await call('PUT', '/v1/policy', 'admin', JSON.stringify({ text: next }), 'application/json');
    expect(same.json().changed).toBe(false);

    const bad = await call(
      'PUT',
      '/v1/policy',
      'admin',
      next.replace('mobile: token', 'mobile: everything'),
      'text/plain',
    );
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({
      code: 'POLICY_INVALID',
      details: {
        issues: [
          {
            path: 'grants[0].fields.mobile',
            line: expect.any(Number),
            problem: expect.stringMatching(/deny, masked/),
          },
        ],
      },
    });
    expect((await call('PUT', '/v1/policy', 'dpo', next, 'text/plain')).statusCode).toBe(403);
    const versions = await call('GET', '/v1/policy/versions', 'auditor');
    expect(versions.json().versions.map((v: { version: string }) => v.version)).toEqual(['2025.1', '2025.2']);
  });

  it('the access review, for privacy officers and auditors', async () => {
    const r = await call('GET', '/v1/policy/review?days=30', 'dpo');
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.policy.version).toBe('2025.2');
    const tm = body.grants.find((g: { role: string }) => g.role === 'telemarketing');
    expect(tm.fields).toContainEqual({
      field: 'mobile',
      view: 'token',
      via: 'grant',
      lastUsed: null,
      used: false,
    });
    expect(body.grants.some((g: { role: string }) => g.role === 'admin')).toBe(false);
    expect((await call('GET', '/v1/policy/review?days=0', 'dpo')).statusCode).toBe(400);
  });

  it('approvals: any actor requests, an approver other than the requester decides', async () => {
    const req = await call('POST', '/v1/approvals', 'tm', {
      purpose: 'telemarketing',
      subjects: 50,
      reason: 'spring campaign leads',
    });
    expect(req.statusCode).toBe(201);
    const id = req.json().id as string;
    expect(req.json()).toMatchObject({ status: 'pending', requestedBy: ids.tm, requestedSubjects: 50 });

    expect((await call('POST', `/v1/approvals/${id}/decision`, 'tm', { approve: true })).json().code).toBe(
      'FORBIDDEN',
    );
    const own = await call('POST', '/v1/approvals', 'boss', {
      purpose: 'telemarketing',
      hours: 2,
      reason: 'my own overtime',
    });
    const self = await call('POST', `/v1/approvals/${own.json().id}/decision`, 'boss', { approve: true });
    expect([self.statusCode, self.json().code]).toEqual([403, 'POLICY_APPROVAL_SELF']);

    const ok = await call('POST', `/v1/approvals/${id}/decision`, 'boss', {
      approve: true,
      subjects: 20,
      hours: 8,
    });
    expect(ok.json()).toMatchObject({
      status: 'approved',
      remaining: 20,
      decidedBy: ids.boss,
      expiresAt: '2025-03-10T10:00:00.000Z',
    });
    const twice = await call('POST', `/v1/approvals/${id}/decision`, 'boss2', { approve: false });
    expect([twice.statusCode, twice.json().code]).toEqual([409, 'POLICY_APPROVAL_DECIDED']);

    // The requester sees his own; an approver sees all.
    expect(
      (await call('GET', '/v1/approvals', 'tm')).json().approvals.map((a: { id: string }) => a.id),
    ).toEqual([id]);
    expect(
      (await call('GET', '/v1/approvals?status=pending', 'boss2'))
        .json()
        .approvals.map((a: { id: string }) => a.id),
    ).toEqual([own.json().id]);
    const bad = await call('POST', '/v1/approvals', 'tm', {
      purpose: 'telemarketing',
      reason: 'no scope given',
    });
    expect(bad.json().code).toBe('VALIDATION_FAILED');
    const unknown = await call('POST', '/v1/approvals', 'tm', {
      purpose: 'nope',
      hours: 1,
      reason: 'unknown purpose here',
    });
    expect(unknown.json().code).toBe('POLICY_UNKNOWN_PURPOSE');
  });

  it('the OpenAPI document describes the routes', async () => {
    const doc = (await call('GET', '/openapi.json')).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/policy',
        '/v1/policy/review',
        '/v1/approvals',
        '/v1/approvals/{id}/decision',
        '/v1/actors',
        '/v1/assignments',
      ]),
    );
  });
});
