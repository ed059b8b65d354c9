import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttp, createTestApp, type TestApp } from '../helpers/app.js';
import { enabledDialects } from '../helpers/db.js';

/*
 * Threat: a stolen or forged browser session. A cross-site page that makes the signed-in browser
 * change state (CSRF), a session that outlives sign-out, revocation, its idle timeout or its
 * actor, a login link used twice, or a database copy that lets someone resume a session (tokens
 * stored in clear). Each case below must fail closed.
 */
for (const dialect of enabledDialects()) {
  describe(`console sessions (${dialect})`, () => {
    let app: TestApp;
    let server: ReturnType<typeof buildHttp>;
    let now = Date.parse('2026-03-01T09:00:00Z');
    let adminKey: string;
    let adminId: string;

    beforeAll(async () => {
      app = await createTestApp(dialect, { clock: { now: () => new Date(now) } });
      server = buildHttp(app);
      const a = await app.actors.create(
        { name: 'root', kind: 'employee', roles: ['admin'], attributes: {} },
        { by: null },
      );
      adminKey = a.apiKey;
      adminId = a.actor.id;
    });
    afterAll(async () => {
      await server.close();
      await app.destroy();
    });

    function cookiesOf(res: { headers: Record<string, unknown> }) {
      const raw = res.headers['set-cookie'];
      const list = (Array.isArray(raw) ? raw : [raw]).filter(Boolean) as string[];
      const jar: Record<string, string> = {};
      for (const c of list) {
        const [kv] = c.split(';');
        const i = kv!.indexOf('=');
        jar[kv!.slice(0, i)] = kv!.slice(i + 1);
      }
      return { jar, list };
    }

    async function signIn(body: Record<string, string>) {
      const res = await server.inject({ method: 'POST', url: '/v1/session', payload: body });
      return { res, ...cookiesOf(res) };
    }

    it('exchanges an API key for an httpOnly SameSite=Strict cookie; the key is not echoed', async () => {
      const { res, jar, list } = await signIn({ apiKey: adminKey });
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain(adminKey);
      expect(jar.custodian_session).toMatch(/^cts_/);
      expect(jar.custodian_csrf).toMatch(/^csrf_/);
      const sessionCookie = list.find((c) => c.startsWith('custodian_session='))!;
      expect(sessionCookie).toMatch(/HttpOnly/);
      expect(sessionCookie).toMatch(/SameSite=Strict/);
      expect(list.find((c) => c.startsWith('custodian_csrf='))).not.toMatch(/HttpOnly/);
      const me = await server.inject({
        method: 'GET',
        url: '/v1/session',
        cookies: { custodian_session: jar.custodian_session! },
      });
      expect(me.statusCode).toBe(200);
      expect(me.json()).toMatchObject({ actor: { id: adminId }, via: 'session' });
      // Only the hash is stored.
      const rows = await app.database.db.selectFrom('web_sessions').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(jar.custodian_session);
      expect(JSON.stringify(rows)).not.toContain(jar.custodian_csrf);
    });

    it('rejects a wrong API key', async () => {
      const { res } = await signIn({ apiKey: 'ctk_aaaaaaaaaaaaaaaa_' + 'a'.repeat(52) });
      expect(res.statusCode).toBe(401);
    });

    it('refuses a state-changing request without the CSRF header, accepts it with', async () => {
      const { jar } = await signIn({ apiKey: adminKey });
      const cookies = { custodian_session: jar.custodian_session!, custodian_csrf: jar.custodian_csrf! };
      const body = { name: 'x1', kind: 'employee', roles: [], attributes: {} };
      const no = await server.inject({ method: 'POST', url: '/v1/actors', cookies, payload: body });
      expect(no.statusCode).toBe(403);
      expect(no.json().code).toBe('SESSION_CSRF_MISSING');
      const wrong = await server.inject({
        method: 'POST',
        url: '/v1/actors',
        cookies,
        headers: { 'x-csrf-token': 'csrf_' + 'b'.repeat(52) },
        payload: body,
      });
      expect(wrong.statusCode).toBe(403);
      const ok = await server.inject({
        method: 'POST',
        url: '/v1/actors',
        cookies,
        headers: { 'x-csrf-token': jar.custodian_csrf! },
        payload: body,
      });
      expect(ok.statusCode).toBe(201);
    });

    it('ends on idle timeout, and on sign-out', async () => {
      const { jar } = await signIn({ apiKey: adminKey });
      const cookies = { custodian_session: jar.custodian_session! };
      now += 29 * 60_000;
      expect((await server.inject({ method: 'GET', url: '/v1/session', cookies })).statusCode).toBe(200);
      now += 29 * 60_000; // active 29 min ago: still alive
      expect((await server.inject({ method: 'GET', url: '/v1/session', cookies })).statusCode).toBe(200);
      now += 31 * 60_000;
      expect((await server.inject({ method: 'GET', url: '/v1/session', cookies })).statusCode).toBe(401);

      const second = await signIn({ apiKey: adminKey });
      const c2 = { custodian_session: second.jar.custodian_session! };
      const out = await server.inject({
        method: 'DELETE',
        url: '/v1/session',
        cookies: c2,
        headers: { 'x-csrf-token': second.jar.custodian_csrf! },
      });
      expect(out.statusCode).toBe(200);
      expect((await server.inject({ method: 'GET', url: '/v1/session', cookies: c2 })).statusCode).toBe(401);
    });

    it('stops when the actor is disabled or the session is revoked by an administrator', async () => {
      const u = await app.actors.create(
        { name: 'clerk', kind: 'employee', roles: ['customer_service'], attributes: {} },
        { by: null },
      );
      const s1 = await signIn({ apiKey: u.apiKey });
      const c1 = { custodian_session: s1.jar.custodian_session! };
      const me = (await server.inject({ method: 'GET', url: '/v1/session', cookies: c1 })).json();
      const revoke = await server.inject({
        method: 'POST',
        url: `/v1/sessions/${me.session.id}/revoke`,
        headers: { authorization: `Bearer ${adminKey}` },
      });
      expect(revoke.statusCode).toBe(200);
      expect((await server.inject({ method: 'GET', url: '/v1/session', cookies: c1 })).statusCode).toBe(401);

      const s2 = await signIn({ apiKey: u.apiKey });
      await app.actors.disable(u.actor.id, { by: null });
      const c2 = { custodian_session: s2.jar.custodian_session! };
      expect((await server.inject({ method: 'GET', url: '/v1/session', cookies: c2 })).statusCode).toBe(401);
    });

    it('a login link works once and expires', async () => {
      const link = await app.sessions.issueLink(adminId);
      const ok = await signIn({ link: link.token });
      expect(ok.res.statusCode).toBe(200);
      expect((await signIn({ link: link.token })).res.statusCode).toBe(401);
      const late = await app.sessions.issueLink(adminId);
      now += 11 * 60_000;
      const r = await signIn({ link: late.token });
      expect(r.res.statusCode).toBe(401);
      expect(r.res.json().code).toBe('SESSION_LINK_INVALID');
    });

    it('records sign-in and revocation in the ledger', async () => {
      await app.ledger.integrate();
      const kinds = (await app.ledger.entries(0, 1000)).map((e) => e.event.kind);
      expect(kinds).toContain('session.started');
      expect(kinds).toContain('session.revoked');
      expect(kinds).toContain('session.link_issued');
    });
  });
}
