import type { Kysely, Transaction } from 'kysely';
import type { AlertsTable, DetectTables } from './detect.tables.js';

type Db = Kysely<DetectTables> | Transaction<DetectTables>;

export async function insertAlert(db: Db, row: AlertsTable): Promise<void> {
  await db.insertInto('alerts').values(row).execute();
}

export async function listAlerts(
  db: Db,
  q: { status?: string; actorId?: string; kind?: string; since?: string; limit: number },
): Promise<AlertsTable[]> {
  let s = db.selectFrom('alerts').selectAll();
  if (q.status) s = s.where('status', '=', q.status);
  if (q.actorId) s = s.where('actor_id', '=', q.actorId);
  if (q.kind) s = s.where('kind', '=', q.kind);
  if (q.since) s = s.where('created_at', '>=', q.since);
  return s.orderBy('created_at', 'desc').orderBy('id').limit(q.limit).execute();
}

export async function getAlert(db: Db, id: string): Promise<AlertsTable | undefined> {
  return db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function closeAlert(db: Db, id: string, at: string): Promise<number> {
  const r = await db
    .updateTable('alerts')
    .set({ status: 'closed', closed_at: at })
    .where('id', '=', id)
    .where('status', '=', 'open')
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}
