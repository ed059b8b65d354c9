import { type Kysely, sql, type Transaction } from 'kysely';
import type { ApprovalRow, ApprovalStatus, GrantUsageRow, PolicyVersionRow } from './policy.tables.js';

/** Repositories take a Kysely instance or a transaction; services open transactions. */
export type Db = Kysely<any>;
export type Executor = Kysely<any> | Transaction<any>;

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function policyRow(r: any): PolicyVersionRow {
  return { ...r, seq: num(r.seq) };
}

export const policyVersions = {
  async latest(db: Executor): Promise<PolicyVersionRow | undefined> {
    const r = await db
      .selectFrom('policy_versions')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r ? policyRow(r) : undefined;
  },
  async latestHash(db: Executor): Promise<{ seq: number; hash: string } | undefined> {
    const r = await db
      .selectFrom('policy_versions')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r ? { seq: num(r.seq), hash: r.hash as string } : undefined;
  },
  async byVersion(db: Executor, version: string): Promise<PolicyVersionRow[]> {
    const rows = await db.selectFrom('policy_versions').selectAll().where('version', '=', version).execute();
    return rows.map(policyRow);
  },
  async list(db: Executor): Promise<Omit<PolicyVersionRow, 'body'>[]> {
    const rows = await db
      .selectFrom('policy_versions')
      .select(['seq', 'version', 'name', 'hash', 'loaded_at', 'loaded_by'])
      .orderBy('seq', 'asc')
      .execute();
    return rows.map((r: any) => ({ ...r, seq: num(r.seq) }));
  },
  async insert(db: Executor, row: PolicyVersionRow): Promise<void> {
    await db.insertInto('policy_versions').values(row).execute();
  },
};

export const quota = {
  /** Undoes markReadMany for one row (recordUses leaves no trace of a read it refuses). */
  async unmarkRead(
    db: Executor,
    k: { actorId: string; purpose: string; day: string; subjectId: string },
  ): Promise<void> {
    await db
      .deleteFrom('quota_usage')
      .where('actor_id', '=', k.actorId)
      .where('purpose', '=', k.purpose)
      .where('day', '=', k.day)
      .where('subject_id', '=', k.subjectId)
      .execute();
  },

  /**
   * Counts one more distinct subject. With a limit, the increment happens only while the count is
   * below it: one statement, atomic on both dialects (on PostgreSQL a concurrent increment waits for
   * the row lock and then re-checks the condition), so two reads cannot both take the last slot.
   * Returns false when the limit was reached.
   */
  async increment(
    db: Executor,
    k: { actorId: string; purpose: string; day: string },
    limit: number | null,
  ): Promise<boolean> {
    if (limit !== null && limit < 1) return false;
    const r = await db
      .insertInto('quota_counters')
      .values({ actor_id: k.actorId, purpose: k.purpose, day: k.day, used: 1 })
      .onConflict((oc) => {
        const upd = oc
          .columns(['actor_id', 'purpose', 'day'])
          .doUpdateSet({ used: sql`quota_counters.used + 1` });
        return limit === null ? upd : upd.where('quota_counters.used', '<', limit);
      })
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  },

  /**
   * Per read: whether the actor already read the subject for the purpose that day, and the day's
   * count. One counter query for all, and one usage query per (actor, purpose, day) with the
   * subjects as an IN list.
   */
  async stateMany(
    db: Executor,
    keys: readonly { actorId: string; purpose: string; day: string; subjectId: string }[],
  ): Promise<{ used: number; alreadyRead: boolean }[]> {
    const groups = new Map<
      string,
      { actorId: string; purpose: string; day: string; subjects: Set<string> }
    >();
    for (const k of keys) {
      const g = `${k.actorId}\0${k.purpose}\0${k.day}`;
      const e = groups.get(g);
      if (e) e.subjects.add(k.subjectId);
      else
        groups.set(g, {
          actorId: k.actorId,
          purpose: k.purpose,
          day: k.day,
          subjects: new Set([k.subjectId]),
        });
    }
    const list = [...groups.values()];
    const used = new Map<string, number>();
    const read = new Set<string>();
    for (let i = 0; i < list.length; i += 1000) {
      const part = list.slice(i, i + 1000);
      const rows = await db
        .selectFrom('quota_counters')
        .select(['actor_id', 'purpose', 'day', 'used'])
        .where('actor_id', 'in', [...new Set(part.map((g) => g.actorId))])
        .where('purpose', 'in', [...new Set(part.map((g) => g.purpose))])
        .where('day', 'in', [...new Set(part.map((g) => g.day))])
        .execute();
      for (const r of rows) used.set(`${r.actor_id}\0${r.purpose}\0${r.day}`, num(r.used));
    }
    for (const g of list) {
      const subjects = [...g.subjects];
      for (let i = 0; i < subjects.length; i += 5000) {
        const rows = await db
          .selectFrom('quota_usage')
          .select('subject_id')
          .where('actor_id', '=', g.actorId)
          .where('purpose', '=', g.purpose)
          .where('day', '=', g.day)
          .where('subject_id', 'in', subjects.slice(i, i + 5000))
          .execute();
        for (const r of rows) read.add(`${g.actorId}\0${g.purpose}\0${g.day}\0${r.subject_id}`);
      }
    }
    return keys.map((k) => ({
      used: used.get(`${k.actorId}\0${k.purpose}\0${k.day}`) ?? 0,
      alreadyRead: read.has(`${k.actorId}\0${k.purpose}\0${k.day}\0${k.subjectId}`),
    }));
  },

  /**
   * Inserts the (actor, purpose, day, subject) rows in one statement; returns the `actor\0purpose\0day\0subject` keys
   * that were new (RETURNING gives only the rows actually inserted, on both dialects).
   */
  async markReadMany(
    db: Executor,
    rows: readonly { actorId: string; purpose: string; day: string; subjectId: string; at: string }[],
  ): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < rows.length; i += 5000) {
      const inserted = await db
        .insertInto('quota_usage')
        .values(
          rows.slice(i, i + 5000).map((k) => ({
            actor_id: k.actorId,
            purpose: k.purpose,
            day: k.day,
            subject_id: k.subjectId,
            first_at: k.at,
          })),
        )
        .onConflict((oc) => oc.columns(['actor_id', 'purpose', 'day', 'subject_id']).doNothing())
        .returning(['actor_id', 'purpose', 'day', 'subject_id'])
        .execute();
      for (const r of inserted) out.add(`${r.actor_id}\0${r.purpose}\0${r.day}\0${r.subject_id}`);
    }
    return out;
  },

  /** increment() by `n` at once: all n fit under the limit, or nothing changes (false). */
  async incrementBy(
    db: Executor,
    k: { actorId: string; purpose: string; day: string },
    n: number,
    limit: number | null,
  ): Promise<boolean> {
    if (limit !== null && n > limit) return false;
    const r = await db
      .insertInto('quota_counters')
      .values({ actor_id: k.actorId, purpose: k.purpose, day: k.day, used: n })
      .onConflict((oc) => {
        const upd = oc
          .columns(['actor_id', 'purpose', 'day'])
          .doUpdateSet({ used: sql`quota_counters.used + ${n}` });
        return limit === null ? upd : upd.where(sql`quota_counters.used + ${n}`, '<=', limit);
      })
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  },

  async prune(db: Executor, beforeDay: string): Promise<number> {
    const a = await db.deleteFrom('quota_usage').where('day', '<', beforeDay).executeTakeFirst();
    await db.deleteFrom('quota_counters').where('day', '<', beforeDay).execute();
    return Number(a.numDeletedRows ?? 0);
  },
};

export const grantUsage = {
  async record(db: Executor, rows: readonly GrantUsageRow[]): Promise<void> {
    if (rows.length === 0) return;
    await db
      .insertInto('grant_usage')
      .values([...rows])
      .onConflict((oc) => oc.columns(['role', 'purpose', 'field', 'view', 'via', 'day']).doNothing())
      .execute();
  },
  /** Per grant, the last day it was used on or after `since`. */
  async since(db: Executor, since: string): Promise<(Omit<GrantUsageRow, 'day'> & { last_day: string })[]> {
    const rows = await db
      .selectFrom('grant_usage')
      .select(['role', 'purpose', 'field', 'view', 'via', (eb) => eb.fn.max('day').as('last_day')])
      .where('day', '>=', since)
      .groupBy(['role', 'purpose', 'field', 'view', 'via'])
      .execute();
    return rows as any;
  },
};

function approvalRow(r: any): ApprovalRow {
  return {
    ...r,
    requested_subjects: numOrNull(r.requested_subjects),
    requested_hours: numOrNull(r.requested_hours),
    remaining: numOrNull(r.remaining),
  };
}

export const approvals = {
  async insert(db: Executor, row: ApprovalRow): Promise<void> {
    await db.insertInto('approvals').values(row).execute();
  },
  async get(db: Executor, id: string): Promise<ApprovalRow | undefined> {
    const r = await db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? approvalRow(r) : undefined;
  },
  async list(
    db: Executor,
    f: { status?: ApprovalStatus | undefined; requestedBy?: string | undefined; limit: number },
  ): Promise<ApprovalRow[]> {
    let q = db.selectFrom('approvals').selectAll();
    if (f.status) q = q.where('status', '=', f.status);
    if (f.requestedBy) q = q.where('requested_by', '=', f.requestedBy);
    const rows = await q.orderBy('requested_at', 'desc').orderBy('id').limit(f.limit).execute();
    return rows.map(approvalRow);
  },
  /** Decides a pending request; false when it was no longer pending (a concurrent decision). */
  async decide(
    db: Executor,
    id: string,
    d: Pick<ApprovalRow, 'status' | 'decided_by' | 'decided_at' | 'expires_at' | 'remaining'>,
  ): Promise<boolean> {
    const r = await db
      .updateTable('approvals')
      .set(d)
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  },
  /** The approved, unexpired approvals of these actors for these purposes, earliest expiry first. */
  async activeAmong(
    db: Executor,
    k: { actorIds: readonly string[]; purposes: readonly string[]; at: string },
  ): Promise<ApprovalRow[]> {
    if (k.actorIds.length === 0) return [];
    const rows = await db
      .selectFrom('approvals')
      .selectAll()
      .where('requested_by', 'in', [...k.actorIds])
      .where('purpose', 'in', [...k.purposes])
      .where('status', '=', 'approved')
      .where('expires_at', '>', k.at)
      .orderBy('expires_at', 'asc')
      .orderBy('id')
      .execute();
    return rows.map(approvalRow);
  },
  /** consume() of `n` subjects at once: all n, or nothing (false). */
  async consumeBy(db: Executor, id: string, n: number): Promise<boolean> {
    const r = await db
      .updateTable('approvals')
      .set({ remaining: sql`remaining - ${n}` })
      .where('id', '=', id)
      .where('remaining', '>=', n)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  },
  async refundBy(db: Executor, id: string, n: number): Promise<void> {
    await db
      .updateTable('approvals')
      .set({ remaining: sql`remaining + ${n}` })
      .where('id', '=', id)
      .execute();
  },
  /** Gives back a subject taken by consume() (recordUses undoing its own work). */
  async refund(db: Executor, id: string): Promise<void> {
    await db.updateTable('approvals').set({ remaining: sql`remaining + 1` }).where('id', '=', id).execute();
  },
  /** Takes one subject off a counted approval; false when none is left. */
  async consume(db: Executor, id: string): Promise<boolean> {
    const r = await db
      .updateTable('approvals')
      .set({ remaining: sql`remaining - 1` })
      .where('id', '=', id)
      .where('remaining', '>', 0)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  },
};
