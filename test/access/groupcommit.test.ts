/*
 * Group commit of the read path (src/db/groupcommit.ts). Threat: under load, an acknowledged read
 * whose access event or ledger entry was never written (principle 2 broken by a batching shortcut),
 * two concurrent reads both taking the last quota slot, or one faulty read rolling back everyone
 * else's batch. Concurrent reads must share transactions, each be acknowledged only once its own
 * event and entry are committed, and fail alone.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ReadResult } from '../../src/modules/access/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { createWorld, guardedWithQuota, type World } from './fixtures.js';
import { codeOf, provenEntries } from './helpers.js';

describeEachDialect('group commit of concurrent reads', (dialect) => {
  let w: World;
  beforeAll(async () => {
    w = await createWorld(dialect, { subjects: 40 });
  });
  afterAll(async () => w?.destroy());

  const countEvents = async () =>
    Number(
      (await sql<{ n: number }>`select count(*) as n from access_events`.execute(w.app.database.db)).rows[0]!
        .n,
    );

  it('200 concurrent reads are all acknowledged, share a few transactions, and are all recorded', async () => {
    const before = await countEvents();
    const stats0 = w.app.access.stats();
    const actors = [w.billing, w.dpo, w.telephony, w.tm, w.support];
    const purposes = ['billing', 'investigation', 'contact', 'telemarketing', 'customer_support'];
    const reads = Array.from({ length: 200 }, (_, i) => {
      const a = i % actors.length;
      return w.app.access.read(actors[a]!.principal, {
        subjectId: w.subjects[i % w.subjects.length]!,
        purpose: purposes[a]!,
        fields: ['name', 'mobile'],
      });
    });
    const results = await Promise.all(reads);
    expect(results).toHaveLength(200);
    // Allowed and denied alike, each has its own evidence…
    expect(new Set(results.map((r) => r.evidence)).size).toBe(200);
    expect(results.some((r) => r.allowed)).toBe(true);
    expect(results.some((r) => !r.allowed)).toBe(true);
    // …already committed when the promise resolved (no drain needed to see it).
    expect((await countEvents()) - before).toBe(200);
    // And they were batched: far fewer transactions than reads.
    const s = w.app.access.stats();
    expect(s.items - stats0.items).toBe(200);
    expect(s.batches - stats0.batches).toBeLessThanOrEqual(10);
    // Every one is in the ledger, provably.
    const entries = await provenEntries(
      w,
      results.map((r) => r.evidence),
    );
    entries.forEach((e, i) => {
      const r = results[i]!;
      expect(e).toMatchObject({
        subject: r.subject,
        purpose: r.purpose,
        kind: r.allowed ? 'access.read' : 'access.read.denied',
      });
    });
  });

  it('a read that fails inside a batch fails alone; the others commit and nothing of it is left', async () => {
    const before = await countEvents();
    const stats0 = w.app.access.stats();
    const subject = w.subjects[7]!;
    const good = Array.from({ length: 30 }, (_, i) =>
      w.app.access.read(w.billing.principal, {
        subjectId: w.subjects[i % 20]!,
        purpose: 'billing',
        fields: ['name'],
      }),
    );
    // A request id too large for a ledger entry (64 KiB): its record cannot be written, so the read
    // cannot happen. Nothing is mocked: the ledger refuses the entry inside the shared transaction.
    const bad = w.app.access.read(w.billing.principal, {
      subjectId: subject,
      purpose: 'billing',
      fields: ['name'],
      requestId: 'r'.repeat(70_000),
    });
    const more = Array.from({ length: 30 }, (_, i) =>
      w.app.access.read(w.dpo.principal, {
        subjectId: w.subjects[20 + (i % 20)]!,
        purpose: 'investigation',
        fields: ['name'],
      }),
    );
    const settled = await Promise.allSettled([...good, bad, ...more]);
    const failed = settled.filter((s) => s.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect((failed[0] as PromiseRejectedResult).reason.code).toBe('LEDGER_EVENT_INVALID');
    expect(settled[30]!.status).toBe('rejected');
    const ok = settled
      .filter((s): s is PromiseFulfilledResult<ReadResult> => s.status === 'fulfilled')
      .map((s) => s.value);
    expect(ok.every((r) => r.allowed)).toBe(true);
    expect((await countEvents()) - before).toBe(60);
    expect(w.app.access.stats().retried - stats0.retried).toBeGreaterThanOrEqual(1);
    // The failed read left no event, no ledger entry and no quota use.
    const huge = (await w.app.access.history(subject)).filter((e) => e.actor === w.billing.id);
    expect(huge.every((e) => e.fields.length === 1)).toBe(true);
    await provenEntries(
      w,
      ok.map((r) => r.evidence),
    );
  });

  it('concurrent reads past a quota: exactly the quota is granted, the rest are denied and recorded', async () => {
    await w.app.policy.load(guardedWithQuota(3), { by: w.admin.id });
    // A fresh telemarketer's portfolio (nothing read today yet).
    const leads = w.portfolio.filter((s) => s !== w.noConsent).slice(0, 8);
    expect(leads.length).toBe(8);
    await w.app.actors.assign(
      leads.map((subjectId) => ({ actor: w.tm2.id, subjectId })),
      { by: w.admin.id },
    );
    const results = await Promise.all(
      leads.map((subjectId) =>
        w.app.access.read(w.tm2.principal, { subjectId, purpose: 'telemarketing', fields: ['name'] }),
      ),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(3);
    const denied = results.filter((r) => !r.allowed);
    expect(denied).toHaveLength(5);
    for (const r of denied) {
      expect(codeOf(r)).toBe('ACCESS_QUOTA_EXCEEDED');
      expect(r.remedy).toBe('request_approval');
    }
    const entries = await provenEntries(
      w,
      results.map((r) => r.evidence),
    );
    expect(entries.filter((e) => e.kind === 'access.read.denied')).toHaveLength(5);
    // Re-reads of the three granted leads are free, even concurrently and twice each.
    const granted = results.filter((r) => r.allowed).map((r) => r.subject);
    const again = await Promise.all(
      [...granted, ...granted].map((subjectId) =>
        w.app.access.read(w.tm2.principal, { subjectId, purpose: 'telemarketing', fields: ['name'] }),
      ),
    );
    expect(again.every((r) => r.allowed)).toBe(true);
  });
});
