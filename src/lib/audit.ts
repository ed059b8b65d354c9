import type { Kysely, Transaction } from 'kysely';

/**
 * What a module hands to the ledger: an event with pseudonymous ids only (never PI), appended in
 * the caller's own transaction so the event and the change it records commit or fail together.
 * The ledger module implements `Recorder`; other modules receive it in their deps, so none of them
 * depends on the ledger's internals and the ledger depends on none of them.
 */
export type AttrValue = string | number | boolean | null | readonly string[];

export interface AuditEvent {
  /** e.g. 'access.read', 'access.denied', 'policy.changed', 'actor.created', 'keys.rotated' */
  kind: string;
  /** ISO-8601 UTC; the ledger fills it from its clock when absent. */
  at?: string;
  /** Actor id, or null for the system itself. */
  actor: string | null;
  /** Pseudonymous subject id, when the event concerns one subject. */
  subject?: string | null;
  purpose?: string | null;
  attrs?: Readonly<Record<string, AttrValue>>;
}

export type DbExecutor = Kysely<any> | Transaction<any>;

/** Appends events inside `trx`; returns each entry's leaf hash (hex), in order. */
export type Recorder = (trx: DbExecutor, events: readonly AuditEvent[]) => Promise<string[]>;

/**
 * The recorder is a required dependency of every service that reads, discloses or changes what
 * matters: the type says so, and this check refuses a caller that got around the type (plain
 * JavaScript, an `as any`). There is no switch that turns auditing off.
 */
export function requireRecorder(record: Recorder | undefined, service: string): Recorder {
  if (typeof record !== 'function') throw new TypeError(`${service}: the audit recorder is required`);
  return record;
}
