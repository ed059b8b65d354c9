/*
 * The telephony integration (role contact_service, purpose contact). Threat: whoever holds the
 * telephony service's API key reads any customer's plain mobile by subject id — single reads,
 * batches of 1,000, lookups — with no assignment, 50,000 a day, so the contact-token design is
 * bypassed by one leaked credential (security review, item 1). The service may only turn a valid,
 * unexpired contact token an authorised employee holds into a number for the dialer; its use is
 * bounded by a daily quota in the policy; every attempt, refused or not, is an access event.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../helpers/db.js';
import { bearer, createWorld, GUARDED, piIn, type World } from './fixtures.js';

/** The guarded policy with a small contact quota, to see the bound without 5,000 calls. */
function guardedWithContactQuota(daily: number): string {
  return GUARDED.replace(/version: "[^"]*"/, `version: "test-contact-${daily}"`).replace(
    /(role: contact_service\n[\s\S]*?daily: )5000/,
    `$1${daily}`,
  );
}

describeEachDialect('the contact service only resolves tokens', (dialect) => {
  let w: World;
  beforeAll(async () => {
    w = await createWorld(dialect);
  });
  afterAll(async () => w?.destroy());

  const issue = async (subjectId: string) => {
    const r = await w.app.access.read(w.tm.principal, {
      subjectId,
      purpose: 'telemarketing',
      fields: ['mobile'],
    });
    expect(r.allowed).toBe(true);
    return r.fields.mobile!.value!;
  };
  const dial = (token: string) =>
    w.http.inject({
      method: 'POST',
      url: '/v1/contact/resolve',
      headers: bearer(w.telephony),
      payload: { token },
    });

  it('reading by subject id is refused, for one subject, a batch and a lookup, and each attempt is recorded', async () => {
    const subject = w.subjects[0]!;
    const one = await w.http.inject({
      method: 'GET',
      url: `/v1/subjects/${subject}?purpose=contact&fields=mobile`,
      headers: bearer(w.telephony),
    });
    expect(one.statusCode).toBe(403);
    expect(one.json().code).toBe('ACCESS_DENIED');
    expect(piIn(one.body, w.piNeedles)).toEqual([]);

    const batch = await w.http.inject({
      method: 'POST',
      url: '/v1/subjects/read-batch',
      headers: bearer(w.telephony),
      payload: { purpose: 'contact', fields: ['mobile'], subjects: w.subjects },
    });
    expect(batch.statusCode).toBe(200);
    expect(batch.json().results.every((r: { allowed: boolean }) => !r.allowed)).toBe(true);
    expect(piIn(batch.body, w.piNeedles)).toEqual([]);

    const mobile = w.records.get(subject)!.mobile;
    const lookup = await w.http.inject({
      method: 'POST',
      url: '/v1/subjects/lookup',
      headers: bearer(w.telephony),
      payload: { purpose: 'contact', field: 'mobile', value: mobile },
    });
    expect(lookup.statusCode).toBe(200);
    expect(lookup.json().subjects).toEqual([]);

    const evs = await w.app.access.actorEvents(w.telephony.id);
    const denied = evs.filter((e) => e.action === 'read' && !e.allowed);
    expect(denied.length).toBe(1 + w.subjects.length);
    expect(denied.every((e) => e.reasons.includes('TOKEN_REQUIRED'))).toBe(true);
    expect(evs.some((e) => e.action === 'lookup' && !e.allowed)).toBe(true);
  });

  it('a valid token an employee holds becomes the number for the dialer, recorded', async () => {
    const subject = w.portfolio[0]!;
    const res = await dial(await issue(subject));
    expect(res.statusCode).toBe(200);
    expect(res.json().value.endsWith(w.records.get(subject)!.mobile)).toBe(true);
    const ev = (await w.app.access.history(subject)).find((e) => e.action === 'resolve_token')!;
    expect(ev).toMatchObject({ actor: w.telephony.id, allowed: true, purpose: 'contact' });
  });

  it('an expired token is refused and recorded', async () => {
    const token = await issue(w.portfolio[1]!);
    w.clock.advance(25 * 3600 * 1000);
    const res = await dial(token);
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('ACCESS_TOKEN_INVALID');
    w.clock.advance(-25 * 3600 * 1000);
  });

  it('resolutions are bounded by the daily quota in the policy', async () => {
    await w.app.policy.load(guardedWithContactQuota(1), { by: null });
    // The quota counts distinct subjects a day: portfolio[0] was already dialled today.
    const again = await dial(await issue(w.portfolio[0]!));
    expect(again.statusCode).toBe(200);
    const over = await dial(await issue(w.portfolio[2]!));
    expect(over.statusCode).toBe(403);
    expect(piIn(over.body, w.piNeedles)).toEqual([]);
    const ev = (await w.app.access.history(w.portfolio[2]!)).find((e) => e.action === 'resolve_token')!;
    expect(ev.allowed).toBe(false);
    expect(ev.reasons).toContain('QUOTA_EXCEEDED');
  });
});
