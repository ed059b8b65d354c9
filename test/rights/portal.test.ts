/*
 * Threats: (1) an operator who shows a customer a history with reads left out (the 2019 complaint
 * was "resolved" without anyone learning who had his data) — the completeness commitment must make
 * any omission, in the download or in the store, detectable by a verifier that trusts only the key;
 * (2) an attacker probing which phone numbers are customers through the portal's login — the
 * answer must not depend on whether the number is on file; (3) a portal session reaching anything
 * but the subject's own record.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { createFakeGateway, type FakeGateway } from '../../src/lib/messaging/index.js';
import { type HistoryBundle, verifyHistory } from '../../src/modules/rights/index.js';
import { buildHttp, createTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDialect, sql } from '../helpers/db.js';

const MOBILE = '13800138000';
const OTHER = '13900139001';
const VERIFIER = join(import.meta.dirname, '../../scripts/verify-subject.mjs');

function standalone(bundle: HistoryBundle): { ok: boolean; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'custodian-history-'));
  const file = join(dir, 'history.json');
  writeFileSync(file, JSON.stringify(bundle));
  try {
    return { ok: true, out: execFileSync(process.execPath, [VERIFIER, file], { encoding: 'utf8' }) };
  } catch (e) {
    return { ok: false, out: String((e as { stdout?: string }).stdout ?? '') };
  }
}

describeEachDialect('rights portal', (dialect) => {
  let app: TestApp;
  let http: FastifyInstance;
  let fake: FakeGateway;
  let subjectId: string;
  let other: string;
  const clock = fixedClock('2026-03-02T02:00:00.000Z');

  beforeAll(async () => {
    fake = createFakeGateway();
    app = await createTestApp(dialect, { clock, app: { messaging: fake } });
    http = buildHttp(app);
    await http.ready();
    subjectId = (
      await app.vault.create({
        fields: { name: '李明', mobile: MOBILE, email: 'li.ming@example.cn', company: '某某科技' },
      })
    ).id;
    other = (await app.vault.create({ fields: { name: '王芳', mobile: '13700137000' } })).id;
    const { actor } = await app.actors.create(
      { name: 'billing-1', kind: 'employee', roles: ['billing'] },
      { by: null },
    );
    const p = { id: actor.id, kind: 'employee' as const, roles: ['billing'], attributes: {} };
    for (let i = 0; i < 5; i++)
      await app.access.read(p, { subjectId, purpose: 'billing', fields: ['name', 'address', 'company'] });
    await app.access.read(p, { subjectId: other, purpose: 'billing', fields: ['name'] });
  });
  afterAll(async () => {
    await http?.close();
    await app?.destroy();
  });

  async function login(address: string) {
    const res = await http.inject({ method: 'POST', url: '/v1/portal/login', payload: { address } });
    await app.rights.drain();
    return res;
  }

  it('answers the same whether or not the number is on file, and sends a code only to one on file', async () => {
    const on = await login(MOBILE);
    const off = await login(OTHER);
    expect(on.statusCode).toBe(202);
    expect(off.statusCode).toBe(202);
    const a = on.json();
    const b = off.json();
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    expect(a.challenge).toMatch(/^chl_/);
    expect(b.challenge).toMatch(/^chl_/);
    expect(fake.lastTo(MOBILE)?.body).toMatch(/\b\d{6}\b/);
    expect(fake.lastTo(OTHER)).toBeUndefined();
    // A code for an address not on file never opens a session.
    const v = await http.inject({
      method: 'POST',
      url: '/v1/portal/verify',
      payload: { challenge: b.challenge, code: '000000' },
    });
    expect(v.statusCode).toBe(401);
    expect(v.json().code).toBe('RIGHTS_CODE_INVALID');
  });

  it('limits codes per address, with the same answer for numbers on file and not', async () => {
    for (let i = 0; i < 4; i++) await login('13600136000');
    const limited = await login('13600136000');
    expect(limited.statusCode).toBe(202); // 5th of the window still allowed
    const over = await login('13600136000');
    expect(over.statusCode).toBe(429);
    expect(over.json().code).toBe('RIGHTS_RATE_LIMITED');
  });

  it('a code expires after 10 minutes and allows a few tries', async () => {
    const { challenge } = (await login('+86 138 0013 8000')).json();
    const code = /\b(\d{6})\b/.exec(fake.lastTo('+86 138 0013 8000')!.body)![1]!;
    const wrong = code === '999999' ? '999998' : '999999';
    for (let i = 0; i < 5; i++) {
      const r = await http.inject({
        method: 'POST',
        url: '/v1/portal/verify',
        payload: { challenge, code: wrong },
      });
      expect(r.statusCode).toBe(401);
    }
    const late = await http.inject({
      method: 'POST',
      url: '/v1/portal/verify',
      payload: { challenge, code },
    });
    expect(late.statusCode).toBe(401); // tries used up
    const second = (await login(MOBILE)).json();
    const code2 = /\b(\d{6})\b/.exec(fake.lastTo(MOBILE)!.body)![1]!;
    clock.advance(10 * 60_000 + 1);
    const expired = await http.inject({
      method: 'POST',
      url: '/v1/portal/verify',
      payload: { challenge: second.challenge, code: code2 },
    });
    expect(expired.statusCode).toBe(401);
  });

  let token = '';
  it('a valid code opens a short session that reads his own data, recorded', async () => {
    clock.advance(3_600_000);
    const { challenge } = (await login(MOBILE)).json();
    const code = /\b(\d{6})\b/.exec(fake.lastTo(MOBILE)!.body)![1]!;
    const v = await http.inject({ method: 'POST', url: '/v1/portal/verify', payload: { challenge, code } });
    expect(v.statusCode).toBe(200);
    token = v.json().token;
    // A used code does not work twice.
    const again = await http.inject({
      method: 'POST',
      url: '/v1/portal/verify',
      payload: { challenge, code },
    });
    expect(again.statusCode).toBe(401);
    const me = await http.inject({
      method: 'GET',
      url: '/v1/portal/me',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(me.statusCode).toBe(200);
    expect(me.json().subject).toBe(subjectId);
    expect(me.json().fields.mobile).toContain(MOBILE);
    const events = await app.access.history(subjectId);
    expect(events.some((e) => e.actor === 'rights-portal' && e.purpose === 'subject_access')).toBe(true);
    // Cookie form (the web portal keeps the token in an httpOnly cookie).
    const viaCookie = await http.inject({
      method: 'GET',
      url: '/v1/portal/me',
      headers: { cookie: `custodian_portal=${token}` },
    });
    expect(viaCookie.statusCode).toBe(200);
    // No session, an API key, or an expired session: refused.
    for (const headers of [{}, { authorization: 'Bearer ctk_not_a_session' }]) {
      const r = await http.inject({ method: 'GET', url: '/v1/portal/history', headers });
      expect(r.statusCode).toBe(401);
      expect(r.json().code).toBe('RIGHTS_SESSION_REQUIRED');
    }
  });

  it('his history verifies; leaving out one entry, in the download or in the store, is detected', async () => {
    await app.access.drain();
    await app.ledger.integrate();
    await app.ledger.checkpoint();
    const committed = await app.rights.commitSubjects();
    expect(committed?.subjects).toBeGreaterThanOrEqual(2);
    const res = await http.inject({
      method: 'GET',
      url: '/v1/portal/history/download',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(200);
    const h = res.json() as {
      events: { kind: string; roles: string[]; staffRef: string | null; allowedBecause: string }[];
      bundle: HistoryBundle;
    };
    const reads = h.events.filter((e) => e.kind === 'access.read' && e.roles.includes('billing'));
    expect(reads).toHaveLength(5);
    expect(reads[0]!.staffRef).toMatch(/^staff-[0-9a-f]{12}$/);
    expect(reads[0]!.allowedBecause).toContain('billing');
    // Nothing about the other customer.
    expect(JSON.stringify(h)).not.toContain(other);

    expect(verifyHistory(h.bundle)).toMatchObject({ ok: true });
    expect(standalone(h.bundle).ok).toBe(true);

    // 1. Left out of the download.
    const cut = { ...h.bundle, entries: h.bundle.entries.filter((_, i) => i !== 2) };
    const r1 = verifyHistory(cut);
    expect(r1.ok).toBe(false);
    expect(r1.problems.join()).toContain('completeness');
    const s1 = standalone(cut);
    expect(s1.ok).toBe(false);
    expect(s1.out).toContain('completeness');

    // 2. Left out of the store (the operator deletes one row of his index).
    const victim = h.bundle.entries[1]!.index;
    await sql`DELETE FROM rights_subject_entries WHERE subject_id = ${subjectId} AND idx = ${victim}`.execute(
      app.database.db,
    );
    const again = (await app.rights.history(subjectId)).bundle;
    expect(again.entries).toHaveLength(h.bundle.entries.length - 1);
    expect(verifyHistory(again).ok).toBe(false);
    expect(standalone(again).ok).toBe(false);

    // 3. A forged commitment (signed by another key) is refused.
    const forged = {
      ...h.bundle,
      commitment: {
        ...h.bundle.commitment,
        note: h.bundle.commitment.note.replace(/\u2014 .*\n$/, '— x AAAAAAAA\n'),
      },
    };
    expect(verifyHistory(forged).ok).toBe(false);
  });

  it('consents: list and withdraw in one call; notices; requests; complaints close only on his word', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const cs = await http.inject({ method: 'GET', url: '/v1/portal/consents', headers: auth });
    expect(cs.statusCode).toBe(200);
    const rq = await http.inject({
      method: 'POST',
      url: '/v1/portal/requests',
      headers: auth,
      payload: { kind: 'copy' },
    });
    expect(rq.statusCode).toBe(201);
    expect(rq.json().request.dueAt > rq.json().request.receivedAt).toBe(true);
    const mine = await http.inject({ method: 'GET', url: '/v1/portal/requests', headers: auth });
    expect(mine.json().requests).toHaveLength(1);

    await app.rights.notices.add(app.database.db, [
      {
        subjectId,
        source: 'incident',
        ref: 'inc_test',
        title: 'A leak touched your record',
        body: 'What happened …',
      },
    ]);
    const ns = await http.inject({ method: 'GET', url: '/v1/portal/notices', headers: auth });
    expect(ns.json().notices[0].ref).toBe('inc_test');

    const c = await http.inject({
      method: 'POST',
      url: '/v1/portal/complaints',
      headers: auth,
      payload: {
        what: 'Sales calls from a "partner" every week',
        who: 'a caller from 400-…',
        when: 'since October',
      },
    });
    expect(c.statusCode).toBe(201);
    const complaint = c.json().complaint;
    expect(complaint.regulator.channel).toContain('12377');
    const confirm = await http.inject({
      method: 'POST',
      url: `/v1/portal/complaints/${complaint.id}/confirm`,
      headers: auth,
      payload: { resolved: true },
    });
    expect(confirm.json().complaint.status).toBe('closed');
  });
});
