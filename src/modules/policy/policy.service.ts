import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DialectName } from '../../db/index.js';
import { isUniqueViolation } from '../../db/index.js';
import { type AuditEvent, type DbExecutor, type Recorder, requireRecorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { type AppError, commonError } from '../../lib/errors.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import type { Principal } from '../../lib/principal.js';
import {
  type CompiledGrant,
  type CompiledPolicy,
  compilePolicy,
  permitsAction,
  plainRoles,
} from './compile.js';
import { type Decision, type DecisionContext, type DecisionInput, decide } from './decide.js';
import { policyError } from './policy.errors.js';
import { approvals, type Db, type Executor, grantUsage, policyVersions, quota } from './policy.repo.js';
import type { ApprovalRow, ApprovalStatus, GrantUsageRow } from './policy.tables.js';
import { type AccessReview, review } from './review.js';

/** The role the default policy lets decide approvals (`approvals.decide` in `permissions:`). */
export const APPROVER_ROLE = 'approver';

export interface PolicyServiceDeps {
  db: Db;
  dialect: DialectName;
  clock: Clock;
  ids?: IdSource;
  /** Appends administrative events (policy.changed, approval.*) in the same transaction. */
  record: Recorder;
  /** Loaded by init() when the database holds no policy yet; default: policies/default.yaml. */
  policyFile?: string;
  /** Whether an actor is assigned a subject at a time (actors.isAssigned); without it, never. */
  isAssigned?: (actorId: string, subjectId: string, at: Date, executor?: DbExecutor) => Promise<boolean>;
  /**
   * The consent hook the consent module fills in. Without it, consent is never present, so a grant
   * that requires consent denies: consent is never silently assumed.
   */
  hasConsent?: (
    subjectId: string,
    purpose: string,
    recipient?: string,
    executor?: DbExecutor,
  ) => Promise<boolean>;
  /**
   * Batch forms of the two hooks above, for contexts() (the read path's group-committed batches).
   * Without them contexts() falls back to one call per read.
   */
  assignedAmong?: (
    pairs: readonly { actorId: string; subjectId: string }[],
    at: Date,
    executor?: DbExecutor,
  ) => Promise<Set<string>>;
  consentedAmong?: (
    subjectIds: readonly string[],
    purpose: string,
    recipient: string | undefined,
    at: Date,
    executor?: DbExecutor,
  ) => Promise<Set<string>>;
  /** How long the cached policy is trusted before the database is asked for a newer one (ms). */
  refreshMs?: number;
}

export interface PolicyVersionInfo {
  seq: number;
  name: string;
  version: string;
  hash: string;
  loadedAt: string;
  loadedBy: string | null;
}

export interface LoadResult {
  changed: boolean;
  name: string;
  version: string;
  hash: string;
  previous: { version: string; hash: string } | null;
}

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

export interface ContextQuery {
  principal: Principal;
  purpose: string;
  subjectId: string;
  at: Date;
  /** The third party the read is for (consent per recipient); a partner principal is its own recipient. */
  recipient?: string;
}

export interface UseRecord {
  principal: Pick<Principal, 'id'>;
  subjectId: string;
  at: Date;
  decision: Decision;
}

/** Requests: a count of subjects and/or a number of hours; defaults when the approver does not narrow. */
export const APPROVAL_DEFAULT_HOURS = 24;
export const APPROVAL_MAX_HOURS = 24 * 30;
export const APPROVAL_MAX_SUBJECTS = 100_000;
export const APPROVAL_MIN_REASON = 10;

/**
 * The packaged default policy ("guarded"). Found by walking up from this file, so it resolves the
 * same from src/ (tsx, vitest) and from dist/src/ (the build).
 */
export function defaultPolicyFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'policies', 'default.yaml');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return resolve('policies/default.yaml');
}

export function readPolicyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw policyError('POLICY_FILE_UNREADABLE', { cause: e, details: { file: path } });
  }
}

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

export type PolicyService = ReturnType<typeof createPolicyService>;

export function createPolicyService(deps: PolicyServiceDeps) {
  requireRecorder(deps.record, 'createPolicyService');
  const ids = deps.ids ?? randomId;
  const refreshMs = deps.refreshMs ?? 5_000;
  let cached: CompiledPolicy | undefined;
  let cachedSeq = 0;
  let checkedAt = Number.NEGATIVE_INFINITY;

  async function record(trx: Executor, events: AuditEvent[]): Promise<void> {
    if (events.length > 0) await deps.record(trx, events);
  }

  function remember(p: CompiledPolicy, seq: number): void {
    cached = p;
    cachedSeq = seq;
    checkedAt = deps.clock.now().getTime();
  }

  // Reads through the caller's executor: on SQLite a transaction holds the only connection, so a
  // query on deps.db from inside it would wait forever.
  async function refresh(db: Executor = deps.db): Promise<CompiledPolicy | undefined> {
    const head = await policyVersions.latestHash(db);
    if (!head) return undefined;
    if (cached && head.seq === cachedSeq) {
      checkedAt = deps.clock.now().getTime();
      return cached;
    }
    const row = await policyVersions.latest(db);
    if (!row) return undefined;
    remember(compilePolicy(row.body), row.seq);
    return cached;
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

  const service = {
    /** Loads the policy from the database, or the policy file when the database has none yet. */
    async init(): Promise<CompiledPolicy> {
      const p = await refresh();
      if (p) return p;
      const file = deps.policyFile ?? defaultPolicyFile();
      await service.load(readPolicyFile(file), { by: null });
      return cached!;
    },

    /**
     * Validates and activates a policy text. Unchanged text is a no-op. A version names one text:
     * reusing a version for a different text is refused. Records 'policy.changed' (version, hash)
     * in the same transaction as the new version row.
     */
    async load(text: string, opts: { by: string | null }): Promise<LoadResult> {
      const compiled = compilePolicy(text);
      let result: LoadResult | undefined;
      let seq = 0;
      try {
        await deps.db.transaction().execute(async (trx) => {
          const latest = await policyVersions.latest(trx);
          const previous = latest ? { version: latest.version, hash: latest.hash } : null;
          if (latest?.hash === compiled.hash) {
            result = {
              changed: false,
              name: compiled.name,
              version: compiled.version,
              hash: compiled.hash,
              previous,
            };
            seq = latest.seq;
            return;
          }
          const sameVersion = await policyVersions.byVersion(trx, compiled.version);
          if (sameVersion.some((r) => r.hash !== compiled.hash)) {
            throw policyError('POLICY_VERSION_REUSED', { details: { version: compiled.version } });
          }
          seq = (latest?.seq ?? 0) + 1;
          const at = deps.clock.now().toISOString();
          await policyVersions.insert(trx, {
            seq,
            version: compiled.version,
            name: compiled.name,
            hash: compiled.hash,
            body: text,
            loaded_at: at,
            loaded_by: opts.by,
          });
          await record(trx, [
            {
              kind: 'policy.changed',
              at,
              actor: opts.by,
              attrs: {
                name: compiled.name,
                version: compiled.version,
                hash: compiled.hash,
                previousVersion: previous?.version ?? null,
                previousHash: previous?.hash ?? null,
              },
            },
          ]);
          result = {
            changed: true,
            name: compiled.name,
            version: compiled.version,
            hash: compiled.hash,
            previous,
          };
        });
      } catch (e) {
        if (isUniqueViolation(e)) throw commonError('CONFLICT', { cause: e });
        throw e;
      }
      remember(compiled, seq);
      return result!;
    },

    async loadFile(path: string, opts: { by: string | null }): Promise<LoadResult> {
      return service.load(readPolicyFile(path), opts);
    },

    /**
     * The active policy, re-checked against the database at most every `refreshMs`. Inside a
     * transaction, pass it as `executor`.
     */
    async active(executor?: Executor): Promise<CompiledPolicy> {
      if (cached && deps.clock.now().getTime() - checkedAt < refreshMs) return cached;
      const p = await refresh(executor);
      if (!p) throw policyError('POLICY_NOT_LOADED');
      return p;
    },

    /** The cached active policy (no I/O); undefined before init()/load(). */
    current(): CompiledPolicy | undefined {
      return cached;
    },

    /**
     * Of these roles, those the active policy lets see some field in plain (four-eyes on creating
     * or granting them). Before a policy is loaded every role counts, the cautious side.
     */
    plainRoles(roles: readonly string[]): string[] {
      return cached ? plainRoles(cached, roles) : [...new Set(roles)];
    },

    /**
     * Whether one of these roles holds `action` (a `permissions:` name) under the active policy
     * (the cache, checked against the database as active() does), or under the defaults before one
     * is loaded. The routes' one answer to "who may do what".
     */
    async permits(roles: readonly string[], action: string): Promise<boolean> {
      const stale = !cached || deps.clock.now().getTime() - checkedAt >= refreshMs;
      return permitsAction(stale ? ((await refresh()) ?? cached) : cached, roles, action);
    },

    /** decide() against the cached active policy. Pure apart from reading the cache. */
    decide(input: DecisionInput): Decision {
      if (!cached) throw policyError('POLICY_NOT_LOADED');
      return decide(cached, input);
    },

    async show(): Promise<PolicyVersionInfo & { text: string; timezone: string }> {
      const row = await policyVersions.latest(deps.db);
      if (!row) throw policyError('POLICY_NOT_LOADED');
      const p = compilePolicy(row.body);
      return {
        seq: row.seq,
        name: row.name,
        version: row.version,
        hash: row.hash,
        loadedAt: row.loaded_at,
        loadedBy: row.loaded_by,
        text: row.body,
        timezone: p.timezone,
      };
    },

    async versions(): Promise<PolicyVersionInfo[]> {
      const rows = await policyVersions.list(deps.db);
      return rows.map((r) => ({
        seq: r.seq,
        name: r.name,
        version: r.version,
        hash: r.hash,
        loadedAt: r.loaded_at,
        loadedBy: r.loaded_by,
      }));
    },

    /**
     * Gathers what decide() needs to know about each read, asking only what the principal's grants
     * for the purpose depend on (assignment, quota, approval, consent); break-glass is the caller's.
     * In the caller's transaction, with recordUses(); a single read is a batch of one. A fixed
     * number of queries per batch (per actor for quota usage and assignments), not a few per read.
     * Reads in one batch see the state before the batch; recordUses() then enforces quotas and
     * approvals atomically, so a stale count can never let a read past a limit.
     */
    async contexts(executor: Executor, qs: readonly ContextQuery[]): Promise<DecisionContext[]> {
      const p = await service.active(executor);
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
        if (assignment && (deps.assignedAmong || deps.isAssigned)) needAssign.push(i);
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
      const p = await service.active(executor);
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
      const p = await service.active();
      const before = p.local.day(new Date(deps.clock.now().getTime() - days * 86_400_000));
      return quota.prune(deps.db, before);
    },

    async requestApproval(
      by: Pick<Principal, 'id'>,
      input: { purpose: string; subjects?: number | undefined; hours?: number | undefined; reason: string },
    ): Promise<Approval> {
      const p = await service.active();
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
      if (!permitsAction(cached, by.roles, 'approvals.decide')) throw commonError('FORBIDDEN');
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

    /** Access review of the active policy over the last `days` days (default 30). */
    async review(opts: { days?: number } = {}): Promise<AccessReview> {
      const p = await service.active();
      const days = opts.days ?? 30;
      const now = deps.clock.now();
      const since = p.local.day(new Date(now.getTime() - (days - 1) * 86_400_000));
      const until = p.local.day(now);
      const rows = await grantUsage.since(deps.db, since);
      return review(
        p,
        rows.map((r) => ({
          role: r.role,
          purpose: r.purpose,
          field: r.field,
          view: r.view as any,
          via: r.via as 'grant' | 'break_glass',
          lastUsed: r.last_day,
        })),
        { since, until },
      );
    },
  };
  return service;
}

function inRange(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max;
}

/** The approver may narrow a request, not widen it. */
function capped(given: number | undefined, requested: number | null): number | null {
  if (given === undefined) return requested;
  return requested === null ? given : Math.min(given, requested);
}
