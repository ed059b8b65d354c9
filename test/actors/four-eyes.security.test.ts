/*
 * Four-eyes on privileged actors. Threat: an administrator, who reads no personal information
 * himself, creates a contact_service, billing or partner actor (or grants himself or a puppet such
 * a role, or makes a second administrator to approve through), receives its API key and bulk-reads
 * plain PI with no one else involved (security review, item 2). Creating an actor, or granting a
 * role, whose policy allows plain PI takes a recorded request and a second administrator's
 * approval; only then is the actor created (its key returned once, to the approver) or the role
 * granted. The requester cannot approve his own request.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { ensureAdmin } from '../../src/modules/actors/index.js';
import { buildHttp, createTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDialect } from '../helpers/db.js';

describeEachDialect('four-eyes on actors whose policy allows plain PI', (dialect) => {
  let app: TestApp;
  let http: FastifyInstance;
  let alice: { id: string; key: string };
  let bob: { id: string; key: string };

  beforeAll(async () => {
    app = await createTestApp(dialect, { clock: fixedClock('2025-03-10T02:00:00.000Z') });
    const first = await ensureAdmin(app.actors);
    alice = { id: first.actor.id, key: first.apiKey! };
    // The host operator (by: null) bootstraps a second administrator.
    const second = await app.actors.create(
      { name: 'admin.bob', kind: 'employee', roles: ['admin'] },
      { by: null },
    );
    bob = { id: second.actor.id, key: second.apiKey };
    http = buildHttp(app);
    await http.ready();
  });
  afterAll(async () => {
    await http?.close();
    await app?.destroy();
  });

  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, key: string, payload?: object) =>
    http.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}` },
      ...(payload ? { payload } : {}),
    });

  it('the policy names the roles: billing, contact_service and partner see plain fields; support does not', () => {
    expect(
      app.policy.plainRoles(['billing', 'contact_service', 'partner', 'support', 'telemarketing']),
    ).toEqual(['billing', 'contact_service', 'partner']);
  });

  it('an administrator cannot create such an actor alone, nor another administrator', async () => {
    for (const roles of [['contact_service'], ['billing'], ['partner'], ['support', 'billing'], ['admin']]) {
      const r = await call('POST', '/v1/actors', alice.key, {
        name: `solo.${roles.join('.')}`,
        kind: 'service',
        roles,
      });
      expect(r.statusCode, roles.join()).toBe(409);
      expect(r.json().code).toBe('ACTORS_FOUR_EYES_REQUIRED');
      expect(r.body).not.toContain('ctk_');
    }
    // Roles without plain PI need no second person.
    const ok = await call('POST', '/v1/actors', alice.key, {
      name: 'agent.li',
      kind: 'employee',
      roles: ['support'],
    });
    expect(ok.statusCode).toBe(201);
    expect((await app.actors.list()).map((a) => a.name)).not.toContain('solo.contact_service');
  });

  it('request, self-approval refused, second administrator approves: only then the actor and its key', async () => {
    const filed = await call('POST', '/v1/actor-requests', alice.key, {
      action: 'create',
      actor: { name: 'telephony.gw', kind: 'service', roles: ['contact_service'] },
    });
    expect(filed.statusCode).toBe(201);
    const req = filed.json().request;
    expect(req).toMatchObject({
      status: 'pending',
      privilegedRoles: ['contact_service'],
      requestedBy: alice.id,
    });
    expect(filed.body).not.toContain('ctk_');
    expect((await app.actors.list()).map((a) => a.name)).not.toContain('telephony.gw');

    const self = await call('POST', `/v1/actor-requests/${req.id}/approve`, alice.key);
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe('ACTORS_REQUEST_SELF');
    expect((await app.actors.list()).map((a) => a.name)).not.toContain('telephony.gw');

    const approved = await call('POST', `/v1/actor-requests/${req.id}/approve`, bob.key);
    expect(approved.statusCode).toBe(200);
    const body = approved.json();
    expect(body.request).toMatchObject({ status: 'approved', decidedBy: bob.id, actor: body.actor.id });
    expect(body.apiKey).toMatch(/^ctk_/);
    expect(body.actor.roles).toEqual(['contact_service']);
    expect(approved.headers['cache-control']).toBe('no-store');

    // Decided once.
    const again = await call('POST', `/v1/actor-requests/${req.id}/approve`, bob.key);
    expect(again.json().code).toBe('ACTORS_REQUEST_DECIDED');

    // Recorded: filed by one, approved by the other, the actor created in the approval's transaction.
    await app.ledger.integrate();
    const rows = await app.testDb.db.selectFrom('ledger_entries').select(['entry']).execute();
    const text = rows.map((r) => Buffer.from(r.entry as Uint8Array).toString('utf8')).join('\n');
    for (const kind of ['actor.request.filed', 'actor.request.approved', 'actor.created'])
      expect(text, kind).toContain(kind);
  });

  it('granting such a role is a request too; a non-admin cannot file or approve', async () => {
    const agent = (await app.actors.list()).find((a) => a.name === 'agent.li')!;
    const direct = await call('PATCH', `/v1/actors/${agent.id}`, alice.key, {
      roles: ['support', 'billing'],
    });
    expect(direct.statusCode).toBe(409);
    expect(direct.json().code).toBe('ACTORS_FOUR_EYES_REQUIRED');
    expect((await app.actors.get(agent.id)).roles).toEqual(['support']);

    const filed = await call('POST', '/v1/actor-requests', bob.key, {
      action: 'update',
      target: agent.id,
      patch: { roles: ['support', 'billing'] },
    });
    expect(filed.statusCode).toBe(201);
    const id = filed.json().request.id;
    const support = await app.actors.create(
      { name: 'agent.wu', kind: 'employee', roles: ['support'] },
      { by: null },
    );
    expect((await call('POST', `/v1/actor-requests/${id}/approve`, support.apiKey)).statusCode).toBe(403);
    expect(
      (
        await call('POST', '/v1/actor-requests', support.apiKey, {
          action: 'update',
          target: agent.id,
          patch: { roles: ['billing'] },
        })
      ).statusCode,
    ).toBe(403);

    expect((await call('POST', `/v1/actor-requests/${id}/approve`, bob.key)).json().code).toBe(
      'ACTORS_REQUEST_SELF',
    );
    const ok = await call('POST', `/v1/actor-requests/${id}/approve`, alice.key);
    expect(ok.statusCode).toBe(200);
    expect(ok.json().apiKey).toBeUndefined();
    expect((await app.actors.get(agent.id)).roles.sort()).toEqual(['billing', 'support']);
    // Roles the actor already holds need no new approval.
    const keep = await call('PATCH', `/v1/actors/${agent.id}`, alice.key, { roles: ['billing'] });
    expect(keep.statusCode).toBe(200);
  });

  it('a request for roles without plain PI is refused as unneeded; a rejected request changes nothing', async () => {
    const unneeded = await call('POST', '/v1/actor-requests', alice.key, {
      action: 'create',
      actor: { name: 'agent.qian', kind: 'employee', roles: ['support'] },
    });
    expect(unneeded.json().code).toBe('ACTORS_REQUEST_NOT_NEEDED');
    const filed = await call('POST', '/v1/actor-requests', alice.key, {
      action: 'create',
      actor: { name: 'billing.bulk', kind: 'service', roles: ['billing'] },
    });
    const id = filed.json().request.id;
    const rejected = await call('POST', `/v1/actor-requests/${id}/reject`, bob.key);
    expect(rejected.json().request.status).toBe('rejected');
    expect((await call('POST', `/v1/actor-requests/${id}/approve`, bob.key)).json().code).toBe(
      'ACTORS_REQUEST_DECIDED',
    );
    expect((await app.actors.list()).map((a) => a.name)).not.toContain('billing.bulk');
    const pending = await call('GET', '/v1/actor-requests?status=pending', alice.key);
    expect(pending.json().requests).toEqual([]);
  });
});
