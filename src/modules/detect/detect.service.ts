import type { Kysely } from 'kysely';
import { type AttrValue, type DbExecutor, type Recorder, requireRecorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import { detectError } from './detect.errors.js';
import { closeAlert, getAlert, insertAlert, listAlerts } from './detect.repo.js';
import type { AlertsTable } from './detect.tables.js';

/**
 * Alerts: what the privacy and security team must look at — a canary tripped, break-glass access,
 * an insider reading beyond his job. Raised inside the transaction of the event that caused it and
 * recorded in the ledger, so an alert can be neither lost nor quietly dropped.
 */
export type Severity = 'low' | 'medium' | 'high' | 'critical';

export interface AlertInput {
  kind: string;
  severity: Severity;
  actor?: string | null;
  subject?: string | null;
  attrs?: Record<string, AttrValue>;
}

export interface Alert {
  id: string;
  kind: string;
  severity: Severity;
  actor: string | null;
  subject: string | null;
  attrs: Record<string, AttrValue>;
  status: 'open' | 'closed';
  createdAt: string;
  closedAt: string | null;
}

export interface DetectDeps {
  db: Kysely<any>;
  clock: Clock;
  ids?: IdSource;
  record: Recorder;
}

export type Detect = ReturnType<typeof createDetect>;

function toAlert(r: AlertsTable): Alert {
  return {
    id: r.id,
    kind: r.kind,
    severity: r.severity as Severity,
    actor: r.actor_id,
    subject: r.subject_id,
    attrs: JSON.parse(r.attrs) as Record<string, AttrValue>,
    status: r.status as Alert['status'],
    createdAt: r.created_at,
    closedAt: r.closed_at,
  };
}

export function createDetect(deps: DetectDeps) {
  requireRecorder(deps.record, 'createDetect');
  const ids = deps.ids ?? randomId;
  return {
    /** Raises an alert inside `trx` (the caller's transaction) and records it in the ledger. */
    async raise(trx: DbExecutor, input: AlertInput): Promise<string> {
      const id = ids('alr');
      const at = deps.clock.now().toISOString();
      await insertAlert(trx, {
        id,
        kind: input.kind,
        severity: input.severity,
        actor_id: input.actor ?? null,
        subject_id: input.subject ?? null,
        attrs: JSON.stringify(input.attrs ?? {}),
        status: 'open',
        created_at: at,
        closed_at: null,
      });
      await deps.record(trx, [
        {
          kind: 'alert.raised',
          at,
          actor: input.actor ?? null,
          subject: input.subject ?? null,
          attrs: { alert: id, alert_kind: input.kind, severity: input.severity },
        },
      ]);
      return id;
    },
    async list(
      q: { status?: 'open' | 'closed'; actorId?: string; kind?: string; since?: string; limit?: number } = {},
    ): Promise<Alert[]> {
      return (await listAlerts(deps.db, { ...q, limit: Math.min(q.limit ?? 100, 1000) })).map(toAlert);
    },
    async get(id: string): Promise<Alert> {
      const r = await getAlert(deps.db, id);
      if (!r) throw detectError('DETECT_ALERT_NOT_FOUND');
      return toAlert(r);
    },
    async close(id: string, by: string): Promise<void> {
      await deps.db.transaction().execute(async (trx) => {
        const r = await getAlert(trx, id);
        if (!r) throw detectError('DETECT_ALERT_NOT_FOUND');
        const at = deps.clock.now().toISOString();
        if ((await closeAlert(trx, id, at)) === 0) throw detectError('DETECT_ALERT_CLOSED');
        await deps.record(trx, [{ kind: 'alert.closed', at, actor: by, attrs: { alert: id } }]);
      });
    },
  };
}
