/*
 * Canaries are indistinguishable from real customers (issue 11 item 4). Threat: an insider or the
 * holder of the telephony key resolves contact tokens and learns which leads are canaries from a
 * distinct answer (a special code, a "monitored" message), then strips them from a stolen list so
 * the leak no longer trips. A canary's token must resolve exactly as a real customer's; the trip
 * is recorded internally only (access event attribute, alert).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../helpers/db.js';
import { bearer, createWorld, type World } from './fixtures.js';

describeEachDialect('a canary contact token answers like a real customer', (dialect) => {
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
  const shape = (v: unknown): unknown =>
    v && typeof v === 'object'
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .map(([k, x]) => [k, shape(x)])
            .sort(),
        )
      : typeof v;

  it('same status and shape for a canary and a real customer; the trip is recorded internally', async () => {
    const real = w.subjects[0]!;
    const canary = w.subjects[1]!;
    await w.app.testDb.db
      .insertInto('canaries')
      .values({
        subject_id: canary,
        seq: 1,
        pool: 'test',
        unique_to_kind: 'export',
        unique_to_id: 'dsc_test',
        recipient_id: null,
        mobile_hash: Buffer.alloc(32, 1),
        email_hash: Buffer.alloc(32, 2),
        created_at: new Date().toISOString(),
        trip_count: 0,
        last_tripped_at: null,
      })
      .execute();
    const a = await dial(await issue(real));
    const b = await dial(await issue(canary));
    expect(b.statusCode).toBe(a.statusCode);
    expect(a.statusCode).toBe(200);
    expect(shape(b.json())).toEqual(shape(a.json()));
    expect(b.body).not.toMatch(/canary|monitor/i);
    const ev = (await w.app.access.history(canary)).find((e) => e.action === 'resolve_token')!;
    expect(ev).toBeDefined();
    const alerts = await w.app.detect.list({ kind: 'canary_token_resolved' });
    expect(alerts.map((x) => x.subject)).toEqual([canary]);
  });
});

/*
 * Threat: an insider tells the canaries in a portfolio apart by their consent state. Under the
 * guarded policy telemarketing needs the customer's consent; a canary without one would be the
 * only lead in the portfolio that fails CONSENT_REQUIRED. Planted with `like` (the portfolio's
 * customers), each canary carries a copy of one customer's consent records and reads alike.
 */
describeEachDialect('a portfolio canary reads like a customer of the portfolio', (dialect) => {
  let w: World;
  beforeAll(async () => {
    w = await createWorld(dialect);
  });
  afterAll(async () => w?.destroy());

  const read = (subjectId: string) =>
    w.app.access.read(w.tm.principal, { subjectId, purpose: 'telemarketing', fields: ['name', 'mobile'] });
  const shape = (v: unknown): unknown =>
    v && typeof v === 'object'
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .map(([k, x]) => [k, shape(x)])
            .sort(),
        )
      : typeof v;

  it('consent copied from the portfolio: allowed, same shape; consent records like a customer’s', async () => {
    const consenting = w.portfolio.filter((s) => s !== w.noConsent);
    const canaries = await w.app.disclosure.canaries.plantPortfolioCanaries(w.tm.id, 3, { like: consenting });
    await w.app.actors.assign(
      canaries.map((subjectId) => ({ actor: w.tm.id, subjectId })),
      { by: w.admin.id },
    );
    const real = await read(consenting[0]!);
    expect(real.allowed).toBe(true);
    for (const c of canaries) {
      const r = await read(c);
      expect(r.allowed).toBe(true);
      expect(shape(r)).toEqual(shape(real));
      const [mine] = await w.app.consent.list({ subjectId: c });
      const [theirs] = await w.app.consent.list({ subjectId: consenting[0]! });
      expect(mine).toBeDefined();
      expect(Object.keys(mine!).sort()).toEqual(Object.keys(theirs!).sort());
      const same = ({
        purpose,
        recipientId,
        fields,
        noticeId,
        noticeSha256,
        method,
        givenBy,
        separate,
      }: any) => ({ purpose, recipientId, fields, noticeId, noticeSha256, method, givenBy, separate });
      expect(same(mine)).toEqual(same(theirs));
      expect(JSON.stringify(mine)).not.toMatch(/canary/i);
    }
  });

  it('a canary copying a customer without consent is refused exactly as that customer', async () => {
    const [c] = await w.app.disclosure.canaries.plantPortfolioCanaries(w.tm.id, 1, { like: [w.noConsent] });
    await w.app.actors.assign([{ actor: w.tm.id, subjectId: c! }], { by: w.admin.id });
    const real = await read(w.noConsent);
    const canary = await read(c!);
    expect(real.allowed).toBe(false);
    expect(canary.allowed).toBe(false);
    expect(shape(canary)).toEqual(shape(real));
    expect(real.reasons).toContain('CONSENT_REQUIRED');
    expect(canary.reasons).toEqual(real.reasons);
    expect(canary.remedy).toEqual(real.remedy);
  });
});
