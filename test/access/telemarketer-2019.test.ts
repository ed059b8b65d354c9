/*
 * Scenario telemarketer-2019, guarded (shared/SCENARIOS.md; seeds 000, 001, 002, 004).
 *
 * Threat: a telemarketing employee whose job gives him access to customers' contact details reads
 * the names and phone numbers of customers outside his portfolio, and passes a list to a
 * distributor's staff who cold-call them. Under the guarded policy he sees masked names and dials
 * through contact tokens (only the telephony integration resolves them; he never sees a number),
 * reading outside his portfolio is denied, going past his daily quota needs an approval, and every
 * attempt — denied ones included — is in access_events and in the ledger, provably.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TOKEN_PREFIX } from '../../src/modules/access/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { bearer, createWorld, guardedWithQuota, piIn, type World } from './fixtures.js';
import { digits, provenEntries } from './helpers.js';

const QUOTA = 3;

describeEachDialect('telemarketer-2019 under the guarded policy', (dialect) => {
  let w: World;
  /** Every request the telemarketer made that should have left an access event, in order. */
  const attempts: { subject: string; allowed: boolean; action: string }[] = [];

  beforeAll(async () => {
    w = await createWorld(dialect);
    // The guarded policy with a small daily quota, loaded the way an administrator would.
    const loaded = await w.app.policy.load(guardedWithQuota(QUOTA), { by: w.admin.id });
    expect(loaded.changed).toBe(true);
  });
  afterAll(async () => w?.destroy());

  const readLead = async (subjectId: string) => {
    w.clock.advance(1000); // events are listed in time order
    const res = await w.http.inject({
      method: 'GET',
      url: `/v1/subjects/${subjectId}?purpose=telemarketing&fields=name,mobile,company`,
      headers: bearer(w.tm),
    });
    attempts.push({ subject: subjectId, allowed: res.statusCode === 200, action: 'read' });
    return res;
  };

  it('he sees his portfolio, masked names and companies, and a contact token instead of each number', async () => {
    const mine = await w.http.inject({ method: 'GET', url: '/v1/me/assignments', headers: bearer(w.tm) });
    expect([...mine.json().subjects].sort()).toEqual([...w.portfolio].sort());
    for (const s of w.portfolio.slice(0, 2)) {
      const res = await readLead(s);
      expect(res.statusCode).toBe(200);
      const rec = w.records.get(s)!;
      const body = res.json();
      expect(body.fields.name.view).toBe('masked');
      expect(body.fields.company.view).toBe('masked');
      expect(body.fields.mobile.view).toBe('token');
      expect(body.fields.mobile.value.startsWith(TOKEN_PREFIX)).toBe(true);
      // Nothing he could hand to a distributor: no name, no company, no digits of the number.
      expect(
        piIn(res.body, [rec.name, rec.company, digits(rec.mobile).slice(-8), rec.email, rec.id_number]),
      ).toEqual([]);
    }
  });

  it('the telephony integration dials through the token; he cannot resolve it himself', async () => {
    const lead = w.portfolio[0]!;
    const res = await readLead(lead);
    const token = res.json().fields.mobile.value as string;

    const dial = await w.http.inject({
      method: 'POST',
      url: '/v1/contact/resolve',
      headers: bearer(w.telephony),
      payload: { token },
    });
    expect(dial.statusCode).toBe(200);
    expect(digits(dial.json().value).slice(-11)).toBe(digits(w.records.get(lead)!.mobile).slice(-11));

    for (const who of [w.tm, w.tm2, w.support]) {
      w.clock.advance(1000);
      const self = await w.http.inject({
        method: 'POST',
        url: '/v1/contact/resolve',
        headers: bearer(who),
        payload: { token },
      });
      expect(self.statusCode).toBe(403);
      expect(self.json().code).toBe('ACCESS_DENIED');
      expect(piIn(self.body, w.piNeedles)).toEqual([]);
      if (who === w.tm) attempts.push({ subject: lead, allowed: false, action: 'resolve_token' });
    }
    // A tampered token is refused outright (it is sealed, not signed-and-readable).
    const forged = `${token.slice(0, -4)}AAAA`;
    const bad = await w.http.inject({
      method: 'POST',
      url: '/v1/contact/resolve',
      headers: bearer(w.telephony),
      payload: { token: forged },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('ACCESS_TOKEN_INVALID');

    // The resolution is an access event of the telephony service naming whom the token was issued to.
    const tel = await w.app.access.actorEvents(w.telephony.id);
    const resolved = tel.find((e) => e.action === 'resolve_token' && e.allowed);
    expect(resolved).toMatchObject({
      subject: lead,
      purpose: 'contact',
      fields: ['mobile'],
      views: { mobile: 'plain' },
    });
    const [entry] = await provenEntries(w, [resolved!.leafHash]);
    expect(entry).toMatchObject({ kind: 'access.resolve_token', actor: w.telephony.id, subject: lead });
    expect(entry!.attrs).toMatchObject({ issued_to: w.tm.id, issued_for: 'telemarketing' });
  });

  it('reading customers outside his portfolio is denied, with nothing learned from the refusal', async () => {
    const outside = w.subjects.filter((s) => !w.portfolio.includes(s)).slice(0, 3);
    for (const s of outside) {
      const res = await readLead(s);
      expect(res.statusCode).toBe(403);
      const { requestId: _, ...body } = res.json();
      expect(body).toEqual({
        code: 'ACCESS_DENIED',
        message: 'Access to this record for this purpose is not permitted.',
      });
    }
  });

  it('past his daily quota a new lead needs an approval, which an approver grants', async () => {
    // Two distinct leads read so far; one more fits the quota of 3, the next does not.
    const [, , third, fourth] = w.portfolio;
    expect((await readLead(third!)).statusCode).toBe(200);
    const over = await readLead(fourth!);
    expect(over.statusCode).toBe(403);
    expect(over.json()).toMatchObject({
      code: 'ACCESS_QUOTA_EXCEEDED',
      details: { remedy: 'request_approval' },
    });
    expect(piIn(over.body, w.piNeedles)).toEqual([]);
    // Re-reading a lead already read today costs nothing.
    expect((await readLead(w.portfolio[0]!)).statusCode).toBe(200);

    const req = await w.http.inject({
      method: 'POST',
      url: '/v1/approvals',
      headers: bearer(w.tm),
      payload: {
        purpose: 'telemarketing',
        subjects: 1,
        reason: 'Customer asked for a call back about the renewal',
      },
    });
    expect(req.statusCode).toBe(201);
    // He cannot approve it himself; the approver can.
    const self = await w.http.inject({
      method: 'POST',
      url: `/v1/approvals/${req.json().id}/decision`,
      headers: bearer(w.tm),
      payload: { approve: true },
    });
    expect(self.statusCode).toBe(403);
    const ok = await w.http.inject({
      method: 'POST',
      url: `/v1/approvals/${req.json().id}/decision`,
      headers: bearer(w.approver),
      payload: { approve: true },
    });
    expect(ok.statusCode).toBe(200);

    const after = await readLead(fourth!);
    expect(after.statusCode).toBe(200);
    expect(after.json().reasons).toContain('APPROVAL_USED');
    // The approval covered one subject: the next new lead is refused again.
    expect((await readLead(w.portfolio[4]!)).statusCode).toBe(403);
  });

  it('every attempt, denied ones included, is an access event and a ledger entry with a valid inclusion proof', async () => {
    await w.app.access.drain();
    const events = (await w.app.access.actorEvents(w.tm.id)).filter((e) => e.action !== 'lookup');
    expect(events.map((e) => ({ subject: e.subject, allowed: e.allowed, action: e.action }))).toEqual(
      attempts,
    );
    expect(events.filter((e) => !e.allowed).length).toBeGreaterThanOrEqual(6);
    const entries = await provenEntries(
      w,
      events.map((e) => e.leafHash),
    );
    entries.forEach((entry, i) => {
      const e = events[i]!;
      expect(entry).toMatchObject({
        kind: `access.${e.action}${e.allowed ? '' : '.denied'}`,
        actor: w.tm.id,
        subject: e.subject,
        purpose: e.action === 'resolve_token' ? 'contact' : 'telemarketing',
      });
      expect(entry.attrs.reasons).toEqual(e.reasons);
    });
    // The signed checkpoint covers them: a regulator can check the proofs against it.
    const cp = await w.app.ledger.checkpoint();
    expect(cp.size).toBeGreaterThanOrEqual(events.length);
  });
});
