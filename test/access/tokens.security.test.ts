/*
 * Contact tokens. Threat: a token that outlives the reason it was issued — the telemarketer is
 * taken off the lead, the customer withdraws consent (PIPL art. 15: processing stops from then),
 * the employee is let go, or it is past calling hours — yet the telephony system still dials the
 * customer for him; and a token that can be forged, altered or used to learn the number. A token
 * resolves only while the actor it was issued to may still see the field for its purpose, and
 * every resolution, refused or not, is recorded.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TOKEN_PREFIX } from '../../src/modules/access/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { AFTER_HOURS, bearer, createWorld, piIn, type World } from './fixtures.js';
import { provenEntries } from './helpers.js';

describeEachDialect('contact tokens', (dialect) => {
  let w: World;
  beforeAll(async () => {
    w = await createWorld(dialect);
  });
  afterAll(async () => w?.destroy());

  // The clock only moves forward here (a per-actor rate limiter, like any, assumes it does).
  const issue = async (subjectId: string, who = w.tm) => {
    const r = await w.app.access.read(who.principal, {
      subjectId,
      purpose: 'telemarketing',
      fields: ['mobile'],
    });
    expect(r.allowed).toBe(true);
    return r.fields.mobile!.value!;
  };
  const dial = (token: string) => {
    w.clock.advance(1000); // the history lists the latest first
    return w.http.inject({
      method: 'POST',
      url: '/v1/contact/resolve',
      headers: bearer(w.telephony),
      payload: { token },
    });
  };

  /** The resolution's access event (the latest of the telephony service for this subject). */
  const lastResolution = async (subject: string) => {
    const evs = (await w.app.access.history(subject)).filter((e) => e.action === 'resolve_token');
    return evs[0]!;
  };

  it('a token names nothing readable and cannot be altered or forged', async () => {
    const token = await issue(w.portfolio[0]!);
    expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
    expect(piIn(token, w.piNeedles)).toEqual([]);
    expect(token).not.toContain(w.portfolio[0]!);
    expect(token).not.toContain(w.tm.id);
    const body = token.slice(TOKEN_PREFIX.length);
    const flipped = `${TOKEN_PREFIX}${body.slice(0, 10)}${body[10] === 'A' ? 'B' : 'A'}${body.slice(11)}`;
    for (const bad of [flipped, `${TOKEN_PREFIX}AAAA`, 'ctt_', `${token}x`]) {
      const res = await dial(bad);
      expect(res.statusCode, bad.slice(0, 12)).toBe(400);
      expect(res.json().code).toBe('ACCESS_TOKEN_INVALID');
    }
    // Refused resolutions are recorded too (no subject: nothing could be read from the token).
    const evs = (await w.app.access.actorEvents(w.telephony.id)).filter(
      (e) => e.action === 'resolve_token' && !e.allowed,
    );
    expect(evs.length).toBeGreaterThanOrEqual(4);
    expect(evs.every((e) => e.reasons[0] === 'TOKEN_INVALID' && e.subject === null)).toBe(true);
  });

  it('taken off the lead, the telemarketer’s tokens for it stop working', async () => {
    const subject = w.portfolio[2]!;
    const token = await issue(subject);
    expect((await dial(token)).statusCode).toBe(200);
    await w.app.actors.unassign([{ actor: w.tm.id, subjectId: subject }], { by: w.admin.id });
    expect((await dial(token)).statusCode).toBe(403);
    expect((await lastResolution(subject)).reasons).toEqual(['ISSUER_NOT_ALLOWED']);
  });

  it('after the customer withdraws consent, no call goes through (PIPL art. 15)', async () => {
    const subject = w.portfolio[3]!;
    const token = await issue(subject);
    expect((await dial(token)).statusCode).toBe(200);
    await w.app.consent.withdraw(
      { subjectId: subject, purpose: 'telemarketing' },
      { by: null, method: 'phone' },
    );
    expect((await dial(token)).statusCode).toBe(403);
  });

  it('a token issued in office hours does not ring after 21:00 (the issuer’s hours are checked at dial time)', async () => {
    const subject = w.portfolio[0]!;
    const token = await issue(subject);
    expect((await dial(token)).statusCode).toBe(200);
    w.clock.set(AFTER_HOURS);
    const late = await dial(token);
    expect(late.statusCode).toBe(403);
    expect(late.json()).toMatchObject({ code: 'ACCESS_DENIED' });
    expect(piIn(late.body, w.piNeedles)).toEqual([]);
    const e = await lastResolution(subject);
    expect(e).toMatchObject({ allowed: false, reasons: ['ISSUER_NOT_ALLOWED'] });
    const [entry] = await provenEntries(w, [e.leafHash]);
    expect(entry).toMatchObject({ kind: 'access.resolve_token.denied', attrs: { issued_to: w.tm.id } });
  });

  it('a disabled employee’s tokens stop working at once', async () => {
    w.clock.set('2025-03-11T02:00:00.000Z'); // the next morning, 10:00 in Shanghai
    const subject = w.portfolio[4]!;
    const token = await issue(subject);
    expect((await dial(token)).statusCode).toBe(200);
    await w.app.actors.disable(w.tm.id, { by: w.admin.id });
    expect((await dial(token)).statusCode).toBe(403);
    expect((await lastResolution(subject)).reasons).toEqual(['ISSUER_NOT_ALLOWED']);
  });

  it('an expired token is refused and the attempt names its subject', async () => {
    const subject = w.portfolio[0]!;
    const token = await issue(subject);
    w.clock.advance(25 * 3600 * 1000);
    const res = await dial(token);
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('ACCESS_TOKEN_INVALID');
    const e = await lastResolution(subject);
    expect(e).toMatchObject({ allowed: false, reasons: ['TOKEN_EXPIRED'], actor: w.telephony.id });
  });
});
