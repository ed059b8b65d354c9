import { commonError } from '../../lib/errors.js';
import { randomId } from '../../lib/ids.js';
import type { Principal } from '../../lib/principal.js';
import { permitsAction } from './compile.js';
import { eventsRecorder, type PolicyServiceDeps } from './policy.deps.js';
import { policyError } from './policy.errors.js';
import { approvals } from './policy.repo.js';
import type { ApprovalRow, ApprovalStatus } from './policy.tables.js';
import type { PolicyVersions } from './policy.versions.js';

// Approvals: an actor over his quota (or under an `approval: true` grant) requests one; an actor
// holding `approvals.decide` grants it, narrowed to at most what was asked, or rejects it. The
// read path consumes them (policy.usage.ts).

/** The role the default policy lets decide approvals (`approvals.decide` in `permissions:`). */
export const APPROVER_ROLE = 'approver';

export type ApprovalState = ApprovalStatus | 'expired' | 'exhausted';

export interface Approval {
  id: string;
  requestedBy: string;
  purpose: string;
  requestedSubjects: number | null;
  requestedHours: number | null;
  reason: string;
  status: ApprovalState;
  requestedAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  expiresAt: string | null;
  remaining: number | null;
}

/** Requests: a count of subjects and/or a number of hours; defaults when the approver does not narrow. */
export const APPROVAL_DEFAULT_HOURS = 24;
export const APPROVAL_MAX_HOURS = 24 * 30;
export const APPROVAL_MAX_SUBJECTS = 100_000;
export const APPROVAL_MIN_REASON = 10;

function toApproval(r: ApprovalRow, now: Date): Approval {
  let status: ApprovalState = r.status;
  if (r.status === 'approved') {
    if (r.expires_at !== null && r.expires_at <= now.toISOString()) status = 'expired';
    else if (r.remaining !== null && r.remaining <= 0) status = 'exhausted';
  }
  return {
    id: r.id,
    requestedBy: r.requested_by,
    purpose: r.purpose,
    requestedSubjects: r.requested_subjects,
    requestedHours: r.requested_hours,
    reason: r.reason,
    status,
    requestedAt: r.requested_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    expiresAt: r.expires_at,
    remaining: r.remaining,
  };
}

export function createPolicyApprovals(deps: PolicyServiceDeps, versions: PolicyVersions) {
  const record = eventsRecorder(deps);
  const ids = deps.ids ?? randomId;
  return {
    async requestApproval(
      by: Pick<Principal, 'id'>,
      input: { purpose: string; subjects?: number | undefined; hours?: number | undefined; reason: string },
    ): Promise<Approval> {
      const p = await versions.active();
      if (!p.purposes.has(input.purpose)) throw policyError('POLICY_UNKNOWN_PURPOSE');
      const reason = input.reason.trim();
      const problems: string[] = [];
      if (reason.length < APPROVAL_MIN_REASON || reason.length > 2000) problems.push('reason');
      if (input.subjects === undefined && input.hours === undefined) problems.push('subjects');
      if (input.subjects !== undefined && !inRange(input.subjects, 1, APPROVAL_MAX_SUBJECTS))
        problems.push('subjects');
      if (input.hours !== undefined && !inRange(input.hours, 1, APPROVAL_MAX_HOURS)) problems.push('hours');
      if (problems.length > 0) throw commonError('VALIDATION_FAILED', { details: { fields: problems } });
      const now = deps.clock.now().toISOString();
      const row: ApprovalRow = {
        id: ids('apr'),
        requested_by: by.id,
        purpose: input.purpose,
        requested_subjects: input.subjects ?? null,
        requested_hours: input.hours ?? null,
        reason,
        status: 'pending',
        requested_at: now,
        decided_by: null,
        decided_at: null,
        expires_at: null,
        remaining: null,
      };
      await deps.db.transaction().execute(async (trx) => {
        await approvals.insert(trx, row);
        // The reason is free text and may name people: it stays in the approvals table.
        await record(trx, [
          {
            kind: 'approval.requested',
            at: now,
            actor: by.id,
            purpose: input.purpose,
            attrs: { approval: row.id, subjects: row.requested_subjects, hours: row.requested_hours },
          },
        ]);
      });
      return toApproval(row, deps.clock.now());
    },

    /**
     * An approver grants (for at most the subjects and hours requested, default 24 hours) or rejects
     * a pending request. Nobody decides his own request.
     */
    async decideApproval(
      by: Pick<Principal, 'id' | 'roles'>,
      id: string,
      input: { approve: boolean; subjects?: number | undefined; hours?: number | undefined },
    ): Promise<Approval> {
      if (!permitsAction(versions.current(), by.roles, 'approvals.decide')) throw commonError('FORBIDDEN');
      const nowDate = deps.clock.now();
      const now = nowDate.toISOString();
      let decided: ApprovalRow | undefined;
      await deps.db.transaction().execute(async (trx) => {
        const row = await approvals.get(trx, id);
        if (!row) throw policyError('POLICY_APPROVAL_NOT_FOUND');
        if (row.requested_by === by.id) throw policyError('POLICY_APPROVAL_SELF');
        if (row.status !== 'pending') throw policyError('POLICY_APPROVAL_DECIDED');
        let remaining: number | null = null;
        let expiresAt: string | null = null;
        if (input.approve) {
          const problems: string[] = [];
          if (input.subjects !== undefined && !inRange(input.subjects, 1, APPROVAL_MAX_SUBJECTS))
            problems.push('subjects');
          if (input.hours !== undefined && !inRange(input.hours, 1, APPROVAL_MAX_HOURS))
            problems.push('hours');
          if (problems.length > 0) throw commonError('VALIDATION_FAILED', { details: { fields: problems } });
          const subjects = capped(input.subjects, row.requested_subjects);
          const hours = capped(input.hours, row.requested_hours) ?? APPROVAL_DEFAULT_HOURS;
          remaining = subjects;
          expiresAt = new Date(nowDate.getTime() + hours * 3_600_000).toISOString();
        }
        const patch = {
          status: (input.approve ? 'approved' : 'rejected') as ApprovalStatus,
          decided_by: by.id,
          decided_at: now,
          expires_at: expiresAt,
          remaining,
        };
        if (!(await approvals.decide(trx, id, patch))) throw policyError('POLICY_APPROVAL_DECIDED');
        decided = { ...row, ...patch };
        await record(trx, [
          {
            kind: input.approve ? 'approval.granted' : 'approval.rejected',
            at: now,
            actor: by.id,
            purpose: row.purpose,
            attrs: {
              approval: id,
              requestedBy: row.requested_by,
              subjects: remaining,
              expiresAt,
            },
          },
        ]);
      });
      return toApproval(decided!, nowDate);
    },

    async getApproval(id: string): Promise<Approval> {
      const row = await approvals.get(deps.db, id);
      if (!row) throw policyError('POLICY_APPROVAL_NOT_FOUND');
      return toApproval(row, deps.clock.now());
    },

    async listApprovals(
      f: { status?: ApprovalStatus | undefined; requestedBy?: string | undefined; limit?: number } = {},
    ): Promise<Approval[]> {
      const rows = await approvals.list(deps.db, { ...f, limit: Math.min(f.limit ?? 200, 1000) });
      const now = deps.clock.now();
      return rows.map((r) => toApproval(r, now));
    },
  };
}

function inRange(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max;
}

/** The approver may narrow a request, not widen it. */
function capped(given: number | undefined, requested: number | null): number | null {
  if (given === undefined) return requested;
  return requested === null ? given : Math.min(given, requested);
}
