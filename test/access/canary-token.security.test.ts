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
