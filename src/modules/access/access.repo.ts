import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import { MAX_BIND_PARAMS } from '../../db/index.js';
import type { AccessEventRow, AccessTables } from './access.tables.js';

type Db = Kysely<AccessTables> | Transaction<AccessTables>;

const COLUMNS = [
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

/** PostgreSQL numbers its placeholders ($1, $2, …), SQLite does not (?): asked of the executor once per call. */
function numbered(db: Db): boolean {
  return db.selectFrom('access_events').select('id').where('id', '=', '').compile().sql.includes('$1');
}

const statements = new Map<string, string>();
function insertSql(pgStyle: boolean, rows: number): string {
  const key = `${pgStyle ? 'pg' : 'sq'}:${rows}`;
  let text = statements.get(key);
  if (!text) {
    const tuples: string[] = [];
    for (let r = 0; r < rows; r++) {
      const ps = COLUMNS.map((_, c) => (pgStyle ? `$${r * COLUMNS.length + c + 1}` : '?'));
      tuples.push(`(${ps.join(',')})`);
    }
    text = `INSERT INTO access_events (${COLUMNS.join(',')}) VALUES ${tuples.join(',')}`;
    if (statements.size > 512) statements.clear();
    statements.set(key, text);
  }
  return text;
}

/**
 * Appends access events: one multi-row INSERT per chunk with bound parameters (the read path's
 * batches insert hundreds at a time; building them through the query builder cost more than the
 * database's own work).
 */
export async function insertEvents(db: Db, rows: readonly AccessEventRow[]): Promise<void> {
  if (rows.length === 0) return;
  const pgStyle = numbered(db);
  const per = Math.floor(MAX_BIND_PARAMS / COLUMNS.length);
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    const params: unknown[] = [];
    for (const r of chunk) for (const c of COLUMNS) params.push(r[c]);
    await db.executeQuery(CompiledQuery.raw(insertSql(pgStyle, chunk.length), params));
  }
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
