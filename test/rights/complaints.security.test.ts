/*
 * Threat: staff mark a complaint "resolved" when nothing was resolved (complaint-li-ming, seed 004:
 * the customer's complaint was closed twice without an answer). A complaint must close only when the
 * complainant confirms it, or by escalation after its response deadline with a written explanation
 * and the regulator's channel shown to him. No staff role, not even an administrator or the privacy
 * officer, can close one through the API; each attempt is refused and recorded.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { createFakeGateway } from '../../src/lib/messaging/index.js';
import { buildHttp, createTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDialect } from '../helpers/db.js';

describeEachDialect('complaints cannot be closed by staff', (dialect) => {
  let app: TestApp;
  let http: FastifyInstance;
  let subjectId: string;
  const keys: Record<string, string> = {};
  const clock = fixedClock('2026-03-01T00:00:00.000Z');

  beforeAll(async () => {
    app = await createTestApp(dialect, { clock, app: { messaging: createFakeGateway() } });
    http = buildHttp(app);
    await http.ready();
    subjectId = (await app.vault.create({ fields: { name: '李明', mobile: '13800138000' } })).id;
    for (const role of ['privacy_officer', 'admin', 'support', 'auditor']) {
      const { apiKey } = await app.actors.create(
        { name: `${role}-1`, kind: 'employee', roles: [role] },
        { by: null },
      );
      keys[role] = apiKey;
    }
  });
  afterAll(async () => {
    await http?.close();
    await app?.destroy();
  });

  const post = (role: string, url: string, payload?: unknown) =>
    http.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${keys[role]}` },
      ...(payload ? { payload } : {}),
    });

  it('refuses every staff attempt to close, and keeps it open after a response', async () => {
    const filed = await post('privacy_officer', '/v1/complaints', {
      subjectId,
      what: 'Keeps getting sales calls from companies claiming to be partners',
    });
    expect(filed.statusCode).toBe(201);
    const id = filed.json().complaint.id as string;
    for (const role of ['privacy_officer', 'admin', 'support', 'auditor']) {
      const r = await post(role, `/v1/complaints/${id}/close`, {});
      expect(r.statusCode).toBe(403);
      expect(['RIGHTS_COMPLAINT_STAFF_CANNOT_CLOSE', 'FORBIDDEN']).toContain(r.json().code);
    }
    const resp = await post('privacy_officer', `/v1/complaints/${id}/respond`, {
      text: 'We found nothing wrong on our side.',
    });
    expect(resp.json().complaint.status).toBe('responded');
    // Escalation before the deadline is refused.
    const early = await post('privacy_officer', `/v1/complaints/${id}/escalate`, {
      text: 'We cannot resolve this and refer it to the regulator.',
    });
    expect(early.statusCode).toBe(409);
    expect(early.json().code).toBe('RIGHTS_COMPLAINT_NOT_DUE');
    // The staff API key is not a subject session: the complainant's confirm route refuses it.
    const asStaff = await post('privacy_officer', `/v1/portal/complaints/${id}/confirm`, { resolved: true });
    expect(asStaff.statusCode).toBe(401);
    expect((await app.rights.complaints.get(id)).status).toBe('responded');
    // The refusals are on the record.
    await app.ledger.integrate();
    const entries = await app.ledger.entries(0, 1000);
    expect(entries.filter((e) => e.event.kind === 'rights.complaint.close_refused').length).toBe(1);

    // After the deadline: escalation with a written explanation; the regulator's channel is his.
    clock.advance(16 * 86_400_000);
    const tooShort = await post('privacy_officer', `/v1/complaints/${id}/escalate`, { text: 'no' });
    expect(tooShort.statusCode).toBe(400);
    const esc = await post('privacy_officer', `/v1/complaints/${id}/escalate`, {
      text: 'Our investigation did not find the source; the recipient refused to say where it got the data.',
    });
    expect(esc.statusCode).toBe(200);
    const c = esc.json().complaint;
    expect(c.status).toBe('escalated');
    expect(c.escalation).toContain('recipient refused');
    expect(c.regulator.channel).toContain('12377');
  });
});
