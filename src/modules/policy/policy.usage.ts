import type { AppError } from '../../lib/errors.js';
import type { Principal } from '../../lib/principal.js';
import type { CompiledGrant, CompiledPolicy } from './compile.js';
import type { Decision, DecisionContext } from './decide.js';
import type { PolicyServiceDeps } from './policy.deps.js';
import { policyError } from './policy.errors.js';
import { approvals, type Executor, grantUsage, quota } from './policy.repo.js';
import type { GrantUsageRow } from './policy.tables.js';
import type { PolicyVersions } from './policy.versions.js';

// The read path's use of the policy: what decide() needs to know about each read (contexts), and
// the bookkeeping of allowed reads (recordUses): distinct subjects per day against quotas,
// approvals consumed, and the grant usage the access review reads. Both in the caller's
// transaction, for a batch of reads (a single read is a batch of one).

export interface ContextQuery {
  principal: Principal;
  purpose: string;
  subjectId: string;
  at: Date;
  /** The third party the read is for (consent per recipient); a partner principal is its own recipient. */
  recipient?: string;
  /**
   * Look the assignment up even when no grant asks for it (the insider guard explains every read
   * by it): the context's `assigned` is then known for this read, in the batch's one lookup.
   */
  wantAssigned?: boolean;
}

export interface UseRecord {
  principal: Pick<Principal, 'id'>;
  subjectId: string;
  at: Date;
  decision: Decision;
}

function grantsFor(p: CompiledPolicy, roles: readonly string[], purpose: string): CompiledGrant[] {
  const byRole = p.byPurpose.get(purpose);
  if (!byRole) return [];
  const out: CompiledGrant[] = [];
  for (const r of roles) {
    const g = byRole.get(r);
    if (g) out.push(g);
  }
  return out;
}

export function createPolicyUsage(deps: PolicyServiceDeps, versions: PolicyVersions) {
  return {
    /**
     * Gathers what decide() needs to know about each read, asking only what the principal's grants
     * for the purpose depend on (assignment, quota, approval, consent); break-glass is the caller's.
     * In the caller's transaction, with recordUses(); a single read is a batch of one. A fixed
     * number of queries per batch (per actor for quota usage and assignments), not a few per read.
     * Reads in one batch see the state before the batch; recordUses() then enforces quotas and
     * approvals atomically, so a stale count can never let a read past a limit.
     */
    async contexts(executor: Executor, qs: readonly ContextQuery[]): Promise<DecisionContext[]> {
      const p = await versions.active(executor);
      const out: DecisionContext[] = new Array(qs.length);
      const needAssign: number[] = [];
      const needQuota: number[] = [];
      const needApproval: number[] = [];
      const needConsent: number[] = [];
      for (let i = 0; i < qs.length; i++) {
        const q = qs[i]!;
        out[i] = { at: q.at, assigned: false, usedToday: 0, alreadyReadToday: false };
        let assignment = false;
        let quotaNeeded = false;
        let approval = false;
        let consent = false;
        for (const g of grantsFor(p, q.principal.roles, q.purpose)) {
          if (g.assignment) assignment = true;
          if (g.quota) quotaNeeded = true;
          if (g.approval || g.quota?.approvalUnlocks) approval = true;
          if (g.consent) consent = true;
        }
        if ((assignment || q.wantAssigned) && (deps.assignedAmong || deps.isAssigned)) needAssign.push(i);
        if (quotaNeeded || approval) needQuota.push(i);
        if (approval) needApproval.push(i);
        if (consent) needConsent.push(i);
      }
      if (needAssign.length > 0) {
        if (deps.assignedAmong) {
          // One `at` per batch is what the read path passes; the earliest is the strictest for expiry.
          const at = new Date(Math.max(...needAssign.map((i) => qs[i]!.at.getTime())));
          const live = await deps.assignedAmong(
            needAssign.map((i) => ({ actorId: qs[i]!.principal.id, subjectId: qs[i]!.subjectId })),
            at,
            executor,
          );
          for (const i of needAssign)
            out[i]!.assigned = live.has(`${qs[i]!.principal.id}\0${qs[i]!.subjectId}`);
        } else {
          for (const i of needAssign) {
            const q = qs[i]!;
            out[i]!.assigned = await deps.isAssigned!(q.principal.id, q.subjectId, q.at, executor);
          }
        }
      }
      if (needQuota.length > 0) {
        const states = await quota.stateMany(
          executor,
          needQuota.map((i) => {
            const q = qs[i]!;
            return {
              actorId: q.principal.id,
              purpose: q.purpose,
              day: p.local.day(q.at),
              subjectId: q.subjectId,
            };
          }),
        );
        needQuota.forEach((i, j) => {
          const s = states[j]!;
          out[i]!.alreadyReadToday = s.alreadyRead;
          out[i]!.usedToday = Math.max(0, s.used - (s.alreadyRead ? 1 : 0));
        });
      }
      if (needApproval.length > 0) {
        const at = new Date(Math.min(...needApproval.map((i) => qs[i]!.at.getTime())));
        const rows = await approvals.activeAmong(executor, {
          actorIds: [...new Set(needApproval.map((i) => qs[i]!.principal.id))],
          purposes: [...new Set(needApproval.map((i) => qs[i]!.purpose))],
          at: at.toISOString(),
        });
        for (const i of needApproval) {
          const q = qs[i]!;
          const iso = q.at.toISOString();
          // Earliest expiry first; an exhausted one only for a re-read (it consumes nothing).
          const a = rows.find(
            (r) =>
              r.requested_by === q.principal.id &&
              r.purpose === q.purpose &&
              r.expires_at !== null &&
              r.expires_at > iso &&
              (out[i]!.alreadyReadToday || r.remaining === null || r.remaining > 0),
          );
          if (a?.expires_at)
            out[i]!.approval = { id: a.id, remaining: a.remaining, expiresAt: new Date(a.expires_at) };
        }
      }
      if (needConsent.length > 0) {
        const recipientOf = (q: ContextQuery) =>
          q.recipient ?? (q.principal.kind === 'partner' ? q.principal.id : undefined);
        if (deps.consentedAmong) {
          const groups = new Map<string, number[]>();
          for (const i of needConsent) {
            const q = qs[i]!;
            const key = `${q.purpose}\0${recipientOf(q) ?? ''}`;
            const g = groups.get(key);
            if (g) g.push(i);
            else groups.set(key, [i]);
          }
          for (const idx of groups.values()) {
            const q0 = qs[idx[0]!]!;
            const at = new Date(Math.max(...idx.map((i) => qs[i]!.at.getTime())));
            const ok = await deps.consentedAmong(
              [...new Set(idx.map((i) => qs[i]!.subjectId))],
              q0.purpose,
              recipientOf(q0),
              at,
              executor,
            );
            for (const i of idx) out[i]!.consent = ok.has(qs[i]!.subjectId);
          }
        } else {
          for (const i of needConsent) {
            const q = qs[i]!;
            out[i]!.consent = deps.hasConsent
              ? await deps.hasConsent(q.subjectId, q.purpose, recipientOf(q), executor)
              : false;
          }
        }
      }
      return out;
    },

    /**
     * Carries out allowed decisions' bookkeeping in the caller's transaction, in order: the
     * distinct-subject rows (one statement), each (actor, purpose, day) counter and each approval
     * moved by its batch's count (one conditional statement each), the grant-usage rows the access
     * review reads (one statement). When a counter or an approval cannot take the whole group (a
     * limit reached), that group is applied one read at a time. Returns, per use, nothing or the
     * refusal of a read that left no trace: POLICY_QUOTA_EXCEEDED (a concurrent read took the last
     * quota slot) or POLICY_APPROVAL_EXHAUSTED (the approval's last subject); the caller records
     * that read as denied. Denied decisions change nothing here.
     */
    async recordUses(executor: Executor, us: readonly UseRecord[]): Promise<(AppError | undefined)[]> {
      const out: (AppError | undefined)[] = new Array(us.length).fill(undefined);
      const p = await versions.active(executor);
      const keyOf = (u: UseRecord) => {
        const day = p.local.day(u.at);
        return {
          actorId: u.principal.id,
          purpose: u.decision.purpose,
          day,
          subjectId: u.subjectId,
          at: u.at.toISOString(),
        };
      };
      const keys = us.map(keyOf);
      const k4 = (k: (typeof keys)[number]) => `${k.actorId}\0${k.purpose}\0${k.day}\0${k.subjectId}`;
      const first = new Map<string, number>();
      keys.forEach((k, i) => {
        if (us[i]!.decision.allowed && !first.has(k4(k))) first.set(k4(k), i);
      });
      const inserted = await quota.markReadMany(
        executor,
        [...first.values()].map((i) => keys[i]!),
      );
      // New distinct subjects, grouped by counter.
      const groups = new Map<string, number[]>();
      for (const [key, i] of first) {
        if (!inserted.has(key)) continue;
        const k = keys[i]!;
        const g = `${k.actorId}\0${k.purpose}\0${k.day}`;
        const list = groups.get(g);
        if (list) list.push(i);
        else groups.set(g, [i]);
      }
      const limitOf = (d: Decision) =>
        d.obligations.includes('count_quota') ? (d.quota?.limit ?? null) : null;
      const approvalOf = (d: Decision) =>
        d.obligations.includes('consume_approval') ? d.approvalId : undefined;
      for (const idx of groups.values()) {
        const k = keys[idx[0]!]!;
        const limits = new Set(idx.map((i) => limitOf(us[i]!.decision)));
        const perApproval = new Map<string, number>();
        for (const i of idx) {
          const a = approvalOf(us[i]!.decision);
          if (a) perApproval.set(a, (perApproval.get(a) ?? 0) + 1);
        }
        let whole = limits.size === 1;
        const taken: [string, number][] = [];
        if (whole) {
          for (const [a, n] of perApproval) {
            if (!(await approvals.consumeBy(executor, a, n))) {
              whole = false;
              break;
            }
            taken.push([a, n]);
          }
        }
        if (whole && !(await quota.incrementBy(executor, k, idx.length, [...limits][0]!))) whole = false;
        if (whole) continue;
        for (const [a, n] of taken) await approvals.refundBy(executor, a, n);
        // One at a time, in order: the first reads that fit are taken, the rest refused.
        for (const i of idx) {
          const d = us[i]!.decision;
          const usage = { actorId: k.actorId, purpose: k.purpose, day: k.day, subjectId: keys[i]!.subjectId };
          const a = approvalOf(d);
          if (a && !(await approvals.consume(executor, a))) {
            await quota.unmarkRead(executor, usage);
            out[i] = policyError('POLICY_APPROVAL_EXHAUSTED');
            continue;
          }
          if (!(await quota.increment(executor, k, limitOf(d)))) {
            await quota.unmarkRead(executor, usage);
            if (a) await approvals.refund(executor, a);
            out[i] = policyError('POLICY_QUOTA_EXCEEDED');
          }
        }
      }
      // A repeat of a subject refused above is refused too (it was never marked read).
      keys.forEach((k, i) => {
        const f = first.get(k4(k));
        if (f !== undefined && f !== i && out[f]) out[i] = out[f];
      });
      const usage = new Map<string, GrantUsageRow>();
      us.forEach((u, i) => {
        if (!u.decision.allowed || out[i]) return;
        for (const g of u.decision.uses) {
          const row = {
            role: g.role,
            purpose: u.decision.purpose,
            field: g.field,
            view: g.view,
            via: g.via,
            day: keys[i]!.day,
          };
          usage.set(`${row.role}\0${row.purpose}\0${row.field}\0${row.view}\0${row.via}\0${row.day}`, row);
        }
      });
      await grantUsage.record(executor, [...usage.values()]);
      return out;
    },

    /** Deletes distinct-subject rows older than `days` days (quota history is only needed for today). */
    async pruneQuotaUsage(days = 35): Promise<number> {
      const p = await versions.active();
      const before = p.local.day(new Date(deps.clock.now().getTime() - days * 86_400_000));
      return quota.prune(deps.db, before);
    },
  };
}
