import { type Kysely, sql, type Transaction } from 'kysely';
import { insertObjects } from '../../db/index.js';
import { type AffectedLine, CHUNK_LINES, chunkSubjects, parseLines } from './affected.js';
import type {
  IncidentActionRow,
  IncidentAffectedChunkRow,
  IncidentClockRow,
  IncidentDeliveryRow,
  IncidentNoticeRow,
  IncidentRow,
  IncidentScopeRow,
  IncidentTables,
  IncidentTimelineRow,
} from './incidents.tables.js';

type Db = Kysely<IncidentTables> | Transaction<IncidentTables>;

export async function insertIncident(db: Db, row: IncidentRow): Promise<void> {
  await db.insertInto('incidents').values(row).execute();
}

export async function getIncident(db: Db, id: string): Promise<IncidentRow | undefined> {
  return db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateIncident(db: Db, id: string, patch: Partial<IncidentRow>): Promise<void> {
  await db.updateTable('incidents').set(patch).where('id', '=', id).execute();
}

/** Newest first; `before` is the (opened_at, id) of the last row of the previous page. */
export async function listIncidents(
  db: Db,
  q: { status?: string; limit: number; before?: { openedAt: string; id: string } },
): Promise<IncidentRow[]> {
  let s = db.selectFrom('incidents').selectAll();
  if (q.status) s = s.where('status', '=', q.status);
  if (q.before) {
    const b = q.before;
    s = s.where((eb) =>
      eb.or([
        eb('opened_at', '<', b.openedAt),
        eb.and([eb('opened_at', '=', b.openedAt), eb('id', '<', b.id)]),
      ]),
    );
  }
  return s.orderBy('opened_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
}

export async function countIncidents(db: Db, status?: string): Promise<number> {
  let s = db.selectFrom('incidents').select((eb) => eb.fn.countAll<number | string>().as('n'));
  if (status) s = s.where('status', '=', status);
  return Number((await s.executeTakeFirstOrThrow()).n);
}

// --- scope ------------------------------------------------------------------------------------

export interface ScopeQuery {
  actors: readonly string[];
  recipients: readonly string[];
  actions: readonly string[];
  from?: string | undefined;
  until?: string | undefined;
}

export interface ScopeGroup {
  subject_id: string;
  fields: string;
  views: string;
  n: number | string;
  first_at: string;
  last_at: string;
}

/**
 * The access events a scope covers: allowed decisions only (a denied read returned nothing), with
 * a subject, in the window, made by one of the actors, or disclosing to one of the recipients.
 * The disclosure arm takes the subjects the recipients were sent (disclosure_items) and their
 * 'disclose' events in the window: an access event row names no recipient (its ledger entry does).
 */
function scopeWhere(db: Db, q: ScopeQuery) {
  let s = db.selectFrom('access_events').where('allowed', '=', 1).where('subject_id', 'is not', null);
  if (q.from) s = s.where('at', '>=', q.from);
  if (q.until) s = s.where('at', '<', q.until);
  return s.where((eb) => {
    const arms = [];
    if (q.actors.length > 0 && q.actions.length > 0)
      arms.push(eb.and([eb('actor_id', 'in', [...q.actors]), eb('action', 'in', [...q.actions])]));
    if (q.recipients.length > 0)
      arms.push(
        eb.and([
          eb('action', '=', 'disclose'),
          eb(
            'subject_id',
            'in',
            eb
              .selectFrom('disclosure_items')
              .innerJoin('disclosures', 'disclosures.id', 'disclosure_items.disclosure_id')
              .select('disclosure_items.subject_id')
              .where('disclosures.recipient_id', 'in', [...q.recipients]),
          ),
        ]),
      );
    // No arm: or() of nothing is false, an empty scope (the service refuses empty criteria first).
    return eb.or(arms);
  });
}

/**
 * Per subject, field set and views: events, first and last time. Aggregated in the database, in
 * one pass (the per-customer lines and the fields/views summary both come from these groups); the
 * access_events_scope index covers it, so only index entries are read.
 */
export async function scopeGroups(db: Db, q: ScopeQuery): Promise<ScopeGroup[]> {
  return scopeWhere(db, q)
    .select((eb) => [
      'subject_id',
      'fields',
      'views',
      eb.fn.countAll<number | string>().as('n'),
      eb.fn.min('at').as('first_at'),
      eb.fn.max('at').as('last_at'),
    ])
    .groupBy(['subject_id', 'fields', 'views'])
    .execute() as Promise<ScopeGroup[]>;
}

/** One subject's events in a scope (for its inclusion proofs). */
export async function scopeEventsOf(
  db: Db,
  q: ScopeQuery,
  subjectId: string,
  limit: number,
): Promise<
  { id: string; at: string; actor_id: string; action: string; fields: string; leaf_hash: string }[]
> {
  return scopeWhere(db, q)
    .where('subject_id', '=', subjectId)
    .select(['id', 'at', 'actor_id', 'action', 'fields', 'leaf_hash'])
    .orderBy('at')
    .orderBy('id')
    .limit(limit)
    .execute();
}

export async function insertScope(db: Db, row: IncidentScopeRow): Promise<void> {
  await db.insertInto('incident_scopes').values(row).execute();
}

export async function getScope(db: Db, id: string, version: number): Promise<IncidentScopeRow | undefined> {
  return db
    .selectFrom('incident_scopes')
    .selectAll()
    .where('incident_id', '=', id)
    .where('version', '=', version)
    .executeTakeFirst();
}

export async function listScopes(db: Db, id: string): Promise<IncidentScopeRow[]> {
  return db
    .selectFrom('incident_scopes')
    .selectAll()
    .where('incident_id', '=', id)
    .orderBy('version')
    .execute();
}

const CHUNK_COLUMNS = [
  'incident_id',
  'version',
  'chunk',
  'first_subject',
  'last_subject',
  'subjects',
  'lines',
] as const satisfies readonly (keyof IncidentAffectedChunkRow)[];

/** A version's signed list, as chunk rows (affected.ts); raw multi-row inserts (src/db/bulk.ts). */
export async function insertAffected(db: Db, chunks: readonly IncidentAffectedChunkRow[]): Promise<void> {
  await insertObjects(db, 'incident_affected_chunks', CHUNK_COLUMNS, chunks);
}

/** Chunks of a version in list order, from the one holding the first subject after `after`. */
function chunksFrom(db: Db, id: string, version: number, after: string | undefined) {
  let s = db
    .selectFrom('incident_affected_chunks')
    .select('lines')
    .where('incident_id', '=', id)
    .where('version', '=', version);
  if (after !== undefined) s = s.where('last_subject', '>', after);
  return s.orderBy('chunk');
}

/** Up to `limit` lines of a version's list after the subject `after`, in list order. */
export async function affectedPage(
  db: Db,
  id: string,
  version: number,
  q: { after?: string; limit: number },
): Promise<AffectedLine[]> {
  const rows = await chunksFrom(db, id, version, q.after)
    .limit(Math.ceil(q.limit / CHUNK_LINES) + 1)
    .execute();
  const out: AffectedLine[] = [];
  for (const r of rows) {
    for (const l of parseLines(r.lines)) {
      if (q.after !== undefined && l.subject <= q.after) continue;
      out.push(l);
      if (out.length === q.limit) return out;
    }
  }
  return out;
}

/** Every subject id of a version's list, in list order. */
export async function affectedIds(db: Db, id: string, version: number): Promise<string[]> {
  const rows = await chunksFrom(db, id, version, undefined).execute();
  return rows.flatMap((r) => chunkSubjects(r.lines));
}

/**
 * Up to `limit` affected subjects of a version with no delivery yet for this incident, in list
 * order, after the subject `after` (the last of the previous batch; none to start from the top, as a
 * resumed run does). One query for the deliveries of each chunk's subjects.
 */
export async function undelivered(
  db: Db,
  id: string,
  version: number,
  limit: number,
  after?: string,
): Promise<string[]> {
  const out: string[] = [];
  let from = after;
  for (;;) {
    const [chunk] = await chunksFrom(db, id, version, from).limit(1).execute();
    if (!chunk) return out;
    const subjects = chunkSubjects(chunk.lines).filter((s) => from === undefined || s > from);
    const delivered = new Set(
      (
        await db
          .selectFrom('incident_deliveries')
          .select('subject_id')
          .where('incident_id', '=', id)
          .where('subject_id', 'in', subjects)
          .execute()
      ).map((d) => d.subject_id),
    );
    for (const s of subjects) {
      if (delivered.has(s)) continue;
      out.push(s);
      if (out.length === limit) return out;
    }
    from = subjects[subjects.length - 1];
  }
}

// --- clocks, notices, deliveries, actions, timeline -------------------------------------------

export async function clocksOf(db: Db, id: string): Promise<IncidentClockRow[]> {
  return db.selectFrom('incident_clocks').selectAll().where('incident_id', '=', id).execute();
}

export async function insertClock(db: Db, row: IncidentClockRow): Promise<void> {
  await db.insertInto('incident_clocks').values(row).execute();
}

export async function updateClock(
  db: Db,
  id: string,
  name: string,
  patch: Partial<IncidentClockRow>,
): Promise<void> {
  await db
    .updateTable('incident_clocks')
    .set(patch)
    .where('incident_id', '=', id)
    .where('name', '=', name)
    .execute();
}

export async function insertNotice(db: Db, row: IncidentNoticeRow): Promise<void> {
  await db.insertInto('incident_notices').values(row).execute();
}

export async function noticesOf(db: Db, id: string): Promise<IncidentNoticeRow[]> {
  return db
    .selectFrom('incident_notices')
    .selectAll()
    .where('incident_id', '=', id)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export async function getNotice(db: Db, noticeId: string): Promise<IncidentNoticeRow | undefined> {
  return db.selectFrom('incident_notices').selectAll().where('id', '=', noticeId).executeTakeFirst();
}

export async function markNoticeSubmitted(db: Db, noticeId: string, at: string): Promise<number> {
  const r = await db
    .updateTable('incident_notices')
    .set({ status: 'submitted', submitted_at: at })
    .where('id', '=', noticeId)
    .where('status', '=', 'draft')
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

export async function insertDeliveries(db: Db, rows: readonly IncidentDeliveryRow[]): Promise<void> {
  if (rows.length === 0) return;
  for (let i = 0; i < rows.length; i += 1000)
    await db
      .insertInto('incident_deliveries')
      .values(rows.slice(i, i + 1000) as IncidentDeliveryRow[])
      .execute();
}

export async function deliveryCounts(db: Db, id: string): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('incident_deliveries')
    .select((eb) => ['status', eb.fn.countAll<number | string>().as('n')])
    .where('incident_id', '=', id)
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

export async function deliveriesForSubject(
  db: Db,
  subjectId: string,
  limit: number,
): Promise<(IncidentDeliveryRow & { body: string })[]> {
  return db
    .selectFrom('incident_deliveries as d')
    .innerJoin('incident_notices as n', 'n.id', 'd.notice_id')
    .selectAll('d')
    .select('n.body')
    .where('d.subject_id', '=', subjectId)
    .orderBy('d.at', 'desc')
    .orderBy('d.id')
    .limit(limit)
    .execute();
}

export async function insertAction(db: Db, row: IncidentActionRow): Promise<void> {
  await db.insertInto('incident_actions').values(row).execute();
}

export async function actionsOf(db: Db, id: string): Promise<IncidentActionRow[]> {
  return db
    .selectFrom('incident_actions')
    .selectAll()
    .where('incident_id', '=', id)
    .orderBy('at')
    .orderBy('id')
    .execute();
}

export async function nextSeq(db: Db, id: string): Promise<number> {
  const r = await db
    .selectFrom('incident_timeline')
    .select(sql<number | string | null>`max(seq)`.as('m'))
    .where('incident_id', '=', id)
    .executeTakeFirst();
  return Number(r?.m ?? 0) + 1;
}

export async function insertTimeline(db: Db, rows: readonly IncidentTimelineRow[]): Promise<void> {
  if (rows.length)
    await db
      .insertInto('incident_timeline')
      .values(rows as IncidentTimelineRow[])
      .execute();
}

export async function timelineOf(db: Db, id: string): Promise<IncidentTimelineRow[]> {
  return db
    .selectFrom('incident_timeline')
    .selectAll()
    .where('incident_id', '=', id)
    .orderBy('seq')
    .execute();
}
