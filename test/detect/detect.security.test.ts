/*
 * Threat: an insider with broad access (lax policy, a billing clerk, a script driving an employee
 * key) reads far beyond his job and nobody notices; or a suspension that does not take effect on
 * the very next read, that the suspended actor lifts himself, or that leaves no trace in the
 * ledger. Alerts that cannot be worked (no evidence, no verdict with reason) are as bad as none.
 */

import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { bearer, createWorld, type World } from '../access/fixtures.js';
import { describeEachDialect } from '../helpers/db.js';

const LAX = readFileSync('policies/lax.yaml', 'utf8');

describeEachDialect('detect', (dialect) => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld(dialect, { subjects: 300, policy: LAX });
  });
  afterEach(async () => {
    await w.destroy();
  });

  it('explains assigned reads and scores the rest; a burst suspends the actor on the next read', async () => {
    const { app } = w;
    // Portfolio reads are explained.
    for (const s of w.portfolio.slice(0, 5)) {
      const r = await app.access.read(w.tm.principal, {
        subjectId: s,
        purpose: 'telemarketing',
        fields: ['name'],
      });
      expect(r.allowed).toBe(true);
    }
    // A batch of 300 outside his work in one call: the velocity/unexplained ladder suspends mid-batch.
    const out = await app.access.readBatch(w.support.principal, {
      subjectIds: w.subjects,
      purpose: 'customer_support',
      fields: ['name', 'mobile'],
    });
    const allowed = out.filter((r) => r.allowed).length;
    expect(allowed).toBeLessThanOrEqual(200);
    expect(allowed).toBeGreaterThan(0);
    expect(out.filter((r) => r.reasons.includes('ACTOR_SUSPENDED')).length).toBeGreaterThan(0);
    expect(await app.detect.isSuspended(w.support.id)).toBe(true);
    // The very next read is refused with a stable code, and recorded.
    const res = await w.http.inject({
      method: 'GET',
      url: `/v1/subjects/${w.tickets[0]}?purpose=customer_support&fields=name`,
      headers: bearer(w.support),
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('ACCESS_ACTOR_SUSPENDED');
    const events = await app.access.actorEvents(w.support.id, { limit: 1000 });
    expect(events.some((e) => e.reasons.includes('ACTOR_SUSPENDED'))).toBe(true);
    // Alerts carry evidence with ledger indexes and proofs.
    const list = await w.http.inject({
      method: 'GET',
      url: '/v1/alerts?actor=' + w.support.id,
      headers: bearer(w.dpo),
    });
    expect(list.statusCode).toBe(200);
    const alerts = list.json().alerts as { id: string; detector: string }[];
    expect(alerts.length).toBeGreaterThan(0);
    await app.access.drain();
    await app.ledger.integrate();
    const one = await w.http.inject({
      method: 'GET',
      url: `/v1/alerts/${alerts[0]!.id}`,
      headers: bearer(w.dpo),
    });
    expect(one.statusCode).toBe(200);
    const ev = one.json().evidence as { index: number | null; proof: string[] | null }[];
    expect(ev.length).toBeGreaterThan(0);
    expect(ev[0]!.index).not.toBeNull();
    // The actor cannot lift his own suspension; another approver can, with a reason.
    await expect(app.detect.reinstate(w.support.id, w.support.id, 'it was me, sorry')).rejects.toMatchObject({
      code: 'DETECT_SELF_ACTION',
    });
    const noReason = await w.http.inject({
      method: 'POST',
      url: `/v1/actors/${w.support.id}/reinstate`,
      headers: bearer(w.approver),
      payload: { reason: '' },
    });
    expect(noReason.statusCode).toBe(400);
    const ok = await w.http.inject({
      method: 'POST',
      url: `/v1/actors/${w.support.id}/reinstate`,
      headers: bearer(w.approver),
      payload: { reason: 'investigated: test traffic' },
    });
    expect(ok.statusCode).toBe(200);
    expect(await app.detect.isSuspended(w.support.id)).toBe(false);
    const summary = await w.http.inject({ method: 'GET', url: '/v1/detect/summary', headers: bearer(w.dpo) });
    expect(summary.statusCode).toBe(200);
    expect(summary.json().reads).toBeGreaterThan(0);
  });

  it('under a grant with no assignment condition, portfolio reads are still explained by the assignment and the rest are not', async () => {
    // The guard takes the assignment from the decision's own lookup (no second trip): a read the
    // policy does not gate on assignment must not come out "explained" for lack of a lookup.
    const { app } = w;
    const before = await app.detect.summary(1);
    for (const s of w.portfolio.slice(0, 6)) {
      const r = await app.access.read(w.tm.principal, {
        subjectId: s,
        purpose: 'telemarketing',
        fields: ['name'],
      });
      expect(r.allowed).toBe(true);
    }
    const outside = w.subjects.filter((s) => !w.portfolio.includes(s)).slice(0, 4);
    for (const s of outside) {
      const r = await app.access.read(w.tm.principal, {
        subjectId: s,
        purpose: 'telemarketing',
        fields: ['name'],
      });
      expect(r.allowed).toBe(true);
    }
    const after = await app.detect.summary(1);
    expect(after.reads - before.reads).toBe(10);
    expect(after.explained - before.explained).toBe(6);
  });

  it('a read of a customer whose open request the reader handles is explained by the case, from the moment it is assigned', async () => {
    const { app } = w;
    const subjectId = w.subjects.find((s) => !w.tickets.includes(s))!;
    const explainedAfterRead = async () => {
      const before = app.detect.engine().counts().explained;
      const r = await app.access.read(w.support.principal, {
        subjectId,
        purpose: 'customer_support',
        fields: ['name'],
      });
      expect(r.allowed).toBe(true);
      return app.detect.engine().counts().explained - before;
    };
    // Outside his tickets, no case: unexplained (and the set of case holders is now cached).
    expect(await explainedAfterRead()).toBe(0);
    const req = await app.rights.requests.file({
      subjectId,
      kind: 'access',
      requester: 'subject',
      filedBy: null,
    });
    await app.rights.requests.assign(req.id, w.support.id, w.dpo.id);
    // Assigned in this process: the cache is dropped at once, the very next read is explained.
    expect(await explainedAfterRead()).toBe(1);
  });

  it('alerts have a lifecycle: ack, assign, false positive with reason and suppression', async () => {
    const { app } = w;
    const s = await app.detect.suspend(w.tm.id, w.dpo.id, 'manual check of a report');
    expect(s.status).toBe('active');
    const r = await app.access.read(w.tm.principal, {
      subjectId: w.portfolio[0]!,
      purpose: 'telemarketing',
      fields: ['name'],
    });
    expect(r.allowed).toBe(false);
    expect(r.reasons).toEqual(['ACTOR_SUSPENDED']);
    await app.detect.reinstate(w.tm.id, w.approver.id, 'report was mistaken');
    // Off-hours alert by hand through the ledger-backed raise.
    const id = await app.database.db.transaction().execute((trx) =>
      app.detect.raise(trx, {
        kind: 'detect.off_hours',
        detector: 'off_hours',
        severity: 'low',
        actor: w.tm.id,
      }),
    );
    const h = bearer(w.dpo);
    expect(
      (await w.http.inject({ method: 'POST', url: `/v1/alerts/${id}/ack`, headers: h })).statusCode,
    ).toBe(200);
    expect(
      (
        await w.http.inject({
          method: 'POST',
          url: `/v1/alerts/${id}/assign`,
          headers: h,
          payload: { assignee: w.dpo.id },
        })
      ).statusCode,
    ).toBe(200);
    const noReason = await w.http.inject({
      method: 'POST',
      url: `/v1/alerts/${id}/false-positive`,
      headers: h,
      payload: {},
    });
    expect(noReason.statusCode).toBe(400);
    const fp = await w.http.inject({
      method: 'POST',
      url: `/v1/alerts/${id}/false-positive`,
      headers: h,
      payload: { reason: 'night shift this week', suppressDays: 7 },
    });
    expect(fp.statusCode).toBe(200);
    expect(fp.json().alert.status).toBe('false_positive');
    const again = await w.http.inject({ method: 'POST', url: `/v1/alerts/${id}/ack`, headers: h });
    expect(again.statusCode).toBe(409);
    // A telemarketer may not see the queue.
    expect(
      (await w.http.inject({ method: 'GET', url: '/v1/alerts', headers: bearer(w.tm) })).statusCode,
    ).toBe(403);
  });
});
