import type { Kysely, Transaction } from 'kysely';
import type { LoginLinksTable, SessionTables, WebSessionsTable } from './session.tables.js';

type Db = Kysely<SessionTables> | Transaction<SessionTables>;

export async function insertSession(db: Db, row: WebSessionsTable): Promise<void> {
  await db.insertInto('web_sessions').values(row).execute();
}

export async function byTokenHash(db: Db, hash: string): Promise<WebSessionsTable | undefined> {
  return db.selectFrom('web_sessions').selectAll().where('token_hash', '=', hash).executeTakeFirst();
}

export async function byId(db: Db, id: string): Promise<WebSessionsTable | undefined> {
  return db.selectFrom('web_sessions').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function touch(db: Db, id: string, at: string): Promise<void> {
  await db.updateTable('web_sessions').set({ last_seen_at: at }).where('id', '=', id).execute();
}

export async function revoke(db: Db, where: { id?: string; actorId?: string }, at: string): Promise<number> {
  let q = db.updateTable('web_sessions').set({ revoked_at: at }).where('revoked_at', 'is', null);
  if (where.id) q = q.where('id', '=', where.id);
  if (where.actorId) q = q.where('actor_id', '=', where.actorId);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows);
}

export async function list(
  db: Db,
  q: { actorId?: string; activeAt?: string; limit: number },
): Promise<WebSessionsTable[]> {
  let s = db.selectFrom('web_sessions').selectAll();
  if (q.actorId) s = s.where('actor_id', '=', q.actorId);
  if (q.activeAt) s = s.where('revoked_at', 'is', null).where('expires_at', '>', q.activeAt);
  return s.orderBy('created_at', 'desc').orderBy('id').limit(q.limit).execute();
}

export async function insertLink(db: Db, row: LoginLinksTable): Promise<void> {
  await db.insertInto('login_links').values(row).execute();
}

/** Marks a live link used; 1 when this call consumed it, 0 when it was used, expired or unknown. */
export async function consumeLink(db: Db, hash: string, at: string): Promise<LoginLinksTable | undefined> {
  const row = await db
    .selectFrom('login_links')
    .selectAll()
    .where('token_hash', '=', hash)
    .executeTakeFirst();
  if (!row || row.used_at !== null || row.expires_at <= at) return undefined;
  const r = await db
    .updateTable('login_links')
    .set({ used_at: at })
    .where('token_hash', '=', hash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1 ? row : undefined;
}
