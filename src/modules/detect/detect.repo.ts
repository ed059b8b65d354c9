import type { Kysely, Transaction } from 'kysely';
import type {
  AlertsTable,
  DailyTable,
  DetectTables,
  SuppressionsTable,
  SuspensionsTable,
} from './detect.tables.js';

type Db = Kysely<DetectTables> | Transaction<DetectTables>;

export async function insertAlert(db: Db, row: AlertsTable): Promise<void> {
  await db.insertInto('alerts').values(row).execute();
}

export interface AlertQuery {
  status?: string;
  actorId?: string;
  kind?: string;
  detector?: string;
  assignee?: string;
  since?: string;
  /** Paging: alerts created before this (created_at, id) position. */
  before?: { at: string; id: string };
  limit: number;
}

export async function listAlerts(db: Db, q: AlertQuery): Promise<AlertsTable[]> {
  let s = db.selectFrom('alerts').selectAll();
  if (q.status) s = s.where('status', '=', q.status);
  if (q.actorId) s = s.where('actor_id', '=', q.actorId);
  if (q.kind) s = s.where('kind', '=', q.kind);
  if (q.detector) s = s.where('detector', '=', q.detector);
  if (q.assignee) s = s.where('assignee', '=', q.assignee);
  if (q.since) s = s.where('created_at', '>=', q.since);
  if (q.before) {
    const b = q.before;
    s = s.where((eb) =>
      eb.or([eb('created_at', '<', b.at), eb.and([eb('created_at', '=', b.at), eb('id', '<', b.id)])]),
    );
  }
  return s.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
}

export async function getAlert(db: Db, id: string): Promise<AlertsTable | undefined> {
  return db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateAlert(
  db: Db,
  id: string,
  from: readonly string[],
  set: Partial<Pick<AlertsTable, 'status' | 'assignee' | 'reason' | 'updated_at' | 'closed_at'>>,
): Promise<number> {
  const r = await db
    .updateTable('alerts')
    .set(set)
    .where('id', '=', id)
    .where('status', 'in', [...from])
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

export async function alertCounts(
  db: Db,
  since: string,
): Promise<{ detector: string | null; kind: string; status: string; n: number }[]> {
  const rows = await db
    .selectFrom('alerts')
    .select(['detector', 'kind', 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('created_at', '>=', since)
    .groupBy(['detector', 'kind', 'status'])
    .execute();
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

export async function insertSuspension(db: Db, row: SuspensionsTable): Promise<void> {
  await db.insertInto('detect_suspensions').values(row).execute();
}

export async function activeSuspensions(
  db: Db,
  actorIds: readonly string[],
): Promise<Pick<SuspensionsTable, 'actor_id' | 'mode' | 'id'>[]> {
  if (actorIds.length === 0) return [];
  return db
    .selectFrom('detect_suspensions')
    .select(['actor_id', 'mode', 'id'])
    .where('actor_id', 'in', [...actorIds])
    .where('status', '=', 'active')
    .execute();
}

export async function liftSuspensions(
  db: Db,
  actorId: string,
  set: { lifted_by: string | null; lifted_at: string; lift_reason: string },
): Promise<number> {
  const r = await db
    .updateTable('detect_suspensions')
    .set({ ...set, status: 'lifted' })
    .where('actor_id', '=', actorId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

export async function listSuspensions(db: Db, activeOnly: boolean): Promise<SuspensionsTable[]> {
  let s = db.selectFrom('detect_suspensions').selectAll();
  if (activeOnly) s = s.where('status', '=', 'active');
  return s.orderBy('created_at', 'desc').limit(1000).execute();
}

export async function insertSuppression(db: Db, row: SuppressionsTable): Promise<void> {
  await db.insertInto('detect_suppressions').values(row).execute();
}

export async function liveSuppressions(db: Db, at: string): Promise<SuppressionsTable[]> {
  return db.selectFrom('detect_suppressions').selectAll().where('expires_at', '>', at).execute();
}

export async function upsertDaily(db: Db, rows: readonly DailyTable[]): Promise<void> {
  for (const r of rows) {
    await db
      .insertInto('detect_daily')
      .values(r)
      .onConflict((oc) =>
        oc.columns(['day', 'actor_id']).doUpdateSet({
          role: r.role,
          reads: r.reads,
          explained: r.explained,
          subjects: r.subjects,
          unexplained_subjects: r.unexplained_subjects,
          off_hours: r.off_hours,
          denied: r.denied,
        }),
      )
      .execute();
  }
}

export async function dailySince(db: Db, day: string): Promise<DailyTable[]> {
  return db.selectFrom('detect_daily').selectAll().where('day', '>=', day).orderBy('day').execute();
}
