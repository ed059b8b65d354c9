import type { Kysely, Transaction } from 'kysely';
import { insertObjects } from '../../db/index.js';
import type { AccessEventRow, AccessTables } from './access.tables.js';

type Db = Kysely<AccessTables> | Transaction<AccessTables>;

/** The access_events columns in insertion order (the repo's inserts and the benchmarks' bulk fills). */
export const ACCESS_EVENT_COLUMNS = [
  'id',
  'at',
  'actor_id',
  'purpose',
  'subject_id',
  'action',
  'fields',
  'views',
  'allowed',
  'reasons',
  'request_id',
  'leaf_hash',
] as const satisfies readonly (keyof AccessEventRow)[];

/**
 * Appends access events: one multi-row INSERT per chunk (src/db/bulk.ts); the read path's batches
 * insert hundreds at a time.
 */
export async function insertEvents(db: Db, rows: readonly AccessEventRow[]): Promise<void> {
  await insertObjects(db, 'access_events', ACCESS_EVENT_COLUMNS, rows);
}

/** Where a page of a subject's history starts: after (or before) this event in `at, id` order. */
export interface HistoryCursor {
  at: string;
  id: string;
}

/**
 * A page of a subject's access events by keyset: ordered by (at, id), newest first unless `order`
 * is 'asc', starting after `after` (the last row of the previous page). Served by the index
 * (subject_id, at, id) at any depth: the range condition is written as `at <= ? AND (at < ? OR
 * id < ?)` so both dialects seek on `at` (a row-value comparison is not used by every planner).
 */
export async function eventsForSubject(
  db: Db,
  subjectId: string,
  q: { since?: string; limit: number; after?: HistoryCursor; order?: 'asc' | 'desc'; actor?: string },
): Promise<AccessEventRow[]> {
  const desc = (q.order ?? 'desc') === 'desc';
  let s = db.selectFrom('access_events').selectAll().where('subject_id', '=', subjectId);
  if (q.since) s = s.where('at', '>=', q.since);
  if (q.actor) s = s.where('actor_id', '=', q.actor);
  const c = q.after;
  if (c) {
    s = desc
      ? s.where('at', '<=', c.at).where((e) => e.or([e('at', '<', c.at), e('id', '<', c.id)]))
      : s.where('at', '>=', c.at).where((e) => e.or([e('at', '>', c.at), e('id', '>', c.id)]));
  }
  const dir = desc ? 'desc' : 'asc';
  return s.orderBy('at', dir).orderBy('id', dir).limit(q.limit).execute();
}

export async function eventsForActor(
  db: Db,
  actorId: string,
  q: { since?: string; until?: string; limit: number },
): Promise<AccessEventRow[]> {
  let s = db.selectFrom('access_events').selectAll().where('actor_id', '=', actorId);
  if (q.since) s = s.where('at', '>=', q.since);
  if (q.until) s = s.where('at', '<', q.until);
  return s.orderBy('at', 'asc').orderBy('id', 'asc').limit(q.limit).execute();
}
