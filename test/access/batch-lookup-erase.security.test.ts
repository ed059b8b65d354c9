/*
 * Threat: the bulk paths around the single read. A batch that answers for subjects the caller may
 * not read, or fails whole (or silently) on one bad id; a lookup that is an oracle for "is this
 * number a customer" or puts the searched value in a URL or a log; an erased customer whose data
 * still comes back; and an employee account driven by a script "as fast as the API allows"
 * (bulk-scrape-2020), which the per-actor rate limit must slow long before quotas and detectors act.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_BATCH } from '../../src/modules/access/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { bearer, createWorld, piIn, type World } from './fixtures.js';
import { digits, provenEntries } from './helpers.js';

describeEachDialect('batch read, lookup, erasure and rate limits', (dialect) => {
  let w: World;
  let erased: string;
  let tokenOfErased: string;

  beforeAll(async () => {
    w = await createWorld(dialect);
    erased = w.portfolio[1]!;
    tokenOfErased = (
      await w.app.access.read(w.tm.principal, {
        subjectId: erased,
        purpose: 'telemarketing',
        fields: ['mobile'],
      })
    ).fields.mobile!.value!;
    const del = await w.http.inject({
      method: 'DELETE',
      url: `/v1/subjects/${erased}`,
      headers: bearer(w.dpo),
    });
    expect(del.statusCode).toBe(200);
  });
  afterAll(async () => w?.destroy());

  const batch = (who: World['tm'], body: unknown) =>
    w.http.inject({
      method: 'POST',
      url: '/v1/subjects/read-batch',
      headers: bearer(who),
      payload: body as object,
    });

  it('a batch answers each subject on its own: read, denied, erased, unknown — each recorded', async () => {
    const unknown = 'sub_doesnotexist000000000000000';
    const live = w.subjects.filter((s) => s !== erased).slice(0, 5);
    const res = await batch(w.billing, {
      purpose: 'billing',
      fields: ['name', 'email'],
      subjects: [...live, erased, unknown],
    });
    expect(res.statusCode).toBe(200);
    const results = res.json().results as {
      subject: string;
      allowed: boolean;
      code?: string;
      fields: Record<string, { view: string; value?: string }>;
      evidence: string;
    }[];
    expect(results.map((r) => r.subject)).toEqual([...live, erased, unknown]);
    for (const [i, s] of live.entries()) {
      expect(results[i]).toMatchObject({
        allowed: true,
        fields: { name: { view: 'plain', value: w.records.get(s)!.name }, email: { view: 'masked' } },
      });
      expect(results[i]!.code).toBeUndefined();
    }
    expect(results[5]).toMatchObject({ allowed: false, code: 'ACCESS_SUBJECT_ERASED', fields: {} });
    expect(results[6]).toMatchObject({ allowed: false, code: 'ACCESS_SUBJECT_NOT_FOUND', fields: {} });
    // One access event and one ledger entry per subject, denied ones included.
    const entries = await provenEntries(
      w,
      results.map((r) => r.evidence),
    );
    expect(entries.map((e) => [e.subject, e.kind, e.attrs.reasons])).toEqual([
      ...live.map((s) => [s, 'access.read', []]),
      [erased, 'access.read.denied', ['SUBJECT_ERASED']],
      [unknown, 'access.read.denied', ['SUBJECT_NOT_FOUND']],
    ]);
  });

  it('a batch gives a telemarketer only his own leads; the others are refused without a value', async () => {
    const mine = w.portfolio.filter((s) => s !== erased && s !== w.noConsent).slice(0, 2);
    const theirs = w.subjects.filter((s) => !w.portfolio.includes(s)).slice(0, 3);
    const res = await batch(w.tm, {
      purpose: 'telemarketing',
      fields: ['name', 'mobile'],
      subjects: [...mine, ...theirs],
    });
    expect(res.statusCode).toBe(200);
    const results = res.json().results;
    expect(results.map((r: { allowed: boolean }) => r.allowed)).toEqual([true, true, false, false, false]);
    for (const r of results.slice(2)) expect(r).toMatchObject({ code: 'ACCESS_DENIED', fields: {} });
    const plainOfTheirs = theirs.flatMap((s) => {
      const rec = w.records.get(s)!;
      return [rec.name, rec.company, digits(rec.mobile).slice(-8)];
    });
    expect(piIn(res.body, plainOfTheirs)).toEqual([]);
  });

  it('a batch names its subjects: none, or more than the limit, is refused before anything is read', async () => {
    for (const subjects of [[], Array.from({ length: MAX_BATCH + 1 }, (_, i) => `sub_${i}`)]) {
      const reads = async () =>
        (await w.app.access.actorEvents(w.billing.id)).filter((e) => e.action !== 'attempt');
      const before = (await reads()).length;
      const res = await batch(w.billing, { purpose: 'billing', fields: ['name'], subjects });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('VALIDATION_FAILED');
      // Nothing read; the refused attempt itself is evidence (issue 11, item 7).
      expect((await reads()).length).toBe(before);
      await w.app.attempts.drain();
      const attempt = (await w.app.access.actorEvents(w.billing.id)).find(
        (e) => e.action === 'attempt' && e.reasons.includes('VALIDATION_FAILED'),
      );
      expect(attempt).toMatchObject({ allowed: false, purpose: 'billing', subject: null });
    }
    const r = await w.app.access
      .readBatch(w.billing.principal, { subjectIds: [], purpose: 'billing', fields: ['name'] })
      .catch((e) => e);
    expect(r.code).toBe('ACCESS_BATCH_TOO_LARGE');
  });

  it('lookup takes the value in the body, matches any spelling of it, and records the lookup without the value', async () => {
    const target = w.portfolio[0]!;
    const mobile = w.records.get(target)!.mobile;
    const d = digits(mobile).slice(-11);
    const spellings = [mobile, `+86 ${d.slice(0, 3)} ${d.slice(3, 7)} ${d.slice(7)}`, `86-${d}`];
    for (const value of spellings) {
      const res = await w.http.inject({
        method: 'POST',
        url: '/v1/subjects/lookup',
        headers: bearer(w.tm),
        payload: { purpose: 'telemarketing', field: 'mobile', value },
      });
      expect(res.statusCode, value).toBe(200);
      expect(res.json().subjects).toEqual([target]);
    }
    const lookups = (await w.app.access.actorEvents(w.tm.id)).filter((e) => e.action === 'lookup');
    expect(lookups.length).toBe(spellings.length);
    const entries = await provenEntries(
      w,
      lookups.map((e) => e.leafHash),
    );
    for (const e of entries) {
      expect(e).toMatchObject({
        kind: 'access.lookup',
        actor: w.tm.id,
        subject: null,
        purpose: 'telemarketing',
      });
      expect(e.attrs.matches).toEqual([target]);
      expect(JSON.stringify(e)).not.toContain(d.slice(-8));
    }
    // There is no lookup by URL: a GET with the value in the query string is not a route.
    const viaUrl = await w.http.inject({
      method: 'GET',
      url: `/v1/subjects/lookup?field=mobile&value=${d}`,
      headers: bearer(w.tm),
    });
    expect(viaUrl.statusCode).not.toBe(200);
    expect(piIn(viaUrl.body, w.piNeedles)).toEqual([]);
  });

  it('lookup is no oracle: a customer he may not read and a number nobody has look the same', async () => {
    const outsider = w.subjects.find((s) => !w.portfolio.includes(s))!;
    const ask = (value: string) =>
      w.http.inject({
        method: 'POST',
        url: '/v1/subjects/lookup',
        headers: bearer(w.tm),
        payload: { purpose: 'telemarketing', field: 'mobile', value },
      });
    const a = await ask(w.records.get(outsider)!.mobile);
    const b = await ask('13900000000');
    expect(a.statusCode).toBe(200);
    expect(b.statusCode).toBe(200);
    expect(a.json().subjects).toEqual([]);
    expect(b.json().subjects).toEqual([]);
    expect(Object.keys(a.json()).sort()).toEqual(Object.keys(b.json()).sort());
    // A field that is not searchable is refused, naming the field, never the value.
    const byName = await w.http.inject({
      method: 'POST',
      url: '/v1/subjects/lookup',
      headers: bearer(w.tm),
      payload: { purpose: 'telemarketing', field: 'name', value: w.records.get(outsider)!.name },
    });
    expect(byName.statusCode).toBe(400);
    expect(piIn(byName.body, w.piNeedles)).toEqual([]);
  });

  it('after erasure a read fails with 410 ACCESS_SUBJECT_ERASED (recorded), a token issued before no longer resolves, and lookup finds nothing', async () => {
    const res = await w.http.inject({
      method: 'GET',
      url: `/v1/subjects/${erased}?purpose=billing&fields=name`,
      headers: bearer(w.billing),
    });
    expect(res.statusCode).toBe(410);
    expect(res.json().code).toBe('ACCESS_SUBJECT_ERASED');
    const ev = (await w.app.access.history(erased)).find(
      (e) => e.actor === w.billing.id && e.action === 'read' && !e.allowed,
    );
    expect(ev?.reasons).toEqual(['SUBJECT_ERASED']);

    const dial = await w.http.inject({
      method: 'POST',
      url: '/v1/contact/resolve',
      headers: bearer(w.telephony),
      payload: { token: tokenOfErased },
    });
    expect(dial.statusCode).toBe(410);
    expect(dial.json().code).toBe('ACCESS_SUBJECT_ERASED');

    const look = await w.http.inject({
      method: 'POST',
      url: '/v1/subjects/lookup',
      headers: bearer(w.tm),
      payload: { purpose: 'telemarketing', field: 'mobile', value: w.records.get(erased)!.mobile },
    });
    expect(look.json().subjects).toEqual([]);
    // Someone the policy would not let read it learns nothing about the erasure either.
    const outsider = await w.http.inject({
      method: 'GET',
      url: `/v1/subjects/${erased}?purpose=billing&fields=name`,
      headers: bearer(w.tm),
    });
    expect(outsider.statusCode).toBe(403);
  });

  it('an employee driven by a script is rate limited per actor (429 RATE_LIMITED); a service and other employees are not', async () => {
    const lead = w.portfolio[0]!;
    const url = `/v1/subjects/${lead}?purpose=telemarketing&fields=name`;
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++)
      statuses.push((await w.http.inject({ method: 'GET', url, headers: bearer(w.tm2) })).statusCode);
    const first429 = statuses.indexOf(429);
    expect(first429).toBeGreaterThan(0);
    expect(first429).toBeLessThanOrEqual(40); // the employee burst
    expect(statuses.slice(first429).every((s) => s === 429)).toBe(true);
    const limited = await w.http.inject({ method: 'GET', url, headers: bearer(w.tm2) });
    expect(limited.json()).toMatchObject({
      code: 'RATE_LIMITED',
      details: { retryAfterMs: expect.any(Number) },
    });
    // Rate-limited requests never reached the read path: no access event for them.
    const events = (await w.app.access.actorEvents(w.tm2.id)).filter((e) => e.action === 'read');
    expect(events.length).toBe(first429);

    // Per actor: another employee is unaffected, and the telephony service has a large bucket (its
    // reads by subject id are refused by policy — it only resolves tokens — but never rate limited).
    expect((await w.http.inject({ method: 'GET', url, headers: bearer(w.tm) })).statusCode).not.toBe(429);
    const service = await Promise.all(
      Array.from({ length: 60 }, () =>
        w.http.inject({
          method: 'GET',
          url: `/v1/subjects/${lead}?purpose=contact&fields=mobile`,
          headers: bearer(w.telephony),
        }),
      ),
    );
    expect(service.map((r) => r.statusCode)).toEqual(service.map(() => 403));
    // The bucket refills with time.
    w.clock.advance(2000);
    expect((await w.http.inject({ method: 'GET', url, headers: bearer(w.tm2) })).statusCode).toBe(403); // refilled: reaches the policy (tm2 has no assignment)
  });
});
