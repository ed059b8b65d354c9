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

export async function eventsForSubject(
  db: Db,
  subjectId: string,
  q: { since?: string; limit: number },
): Promise<AccessEventRow[]> {
  let s = db.selectFrom('access_events').selectAll().where('subject_id', '=', subjectId);
  if (q.since) s = s.where('at', '>=', q.since);
  return s.orderBy('at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
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
