import type { DialectName } from '../../db/index.js';
import type { AuditEvent, DbExecutor, Recorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import type { IdSource } from '../../lib/ids.js';
import type { Db, Executor } from './policy.repo.js';

/** What the policy service is built from (every part of it: versions, usage, approvals, review). */
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

/** deps.record, skipping an empty list of events. */
export function eventsRecorder(
  deps: PolicyServiceDeps,
): (trx: Executor, events: AuditEvent[]) => Promise<void> {
  return async (trx, events) => {
    if (events.length > 0) await deps.record(trx, events);
  };
}
