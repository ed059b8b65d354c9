import { type Kysely, sql, type Transaction } from 'kysely';
import { toBuffer } from '../../db/index.js';
import type {
  RightsCodesTable,
  RightsComplaintsTable,
  RightsEntryHeadsTable,
  RightsNoticesTable,
  RightsRequestRecipientsTable,
  RightsRequestsTable,
  RightsSubjectCommitsTable,
  RightsSubjectHeadsTable,
  RightsTables,
} from './rights.tables.js';

export type Db = Kysely<RightsTables> | Transaction<RightsTables>;

const CHUNK = 1000;

// --- one-time codes and sessions -------------------------------------------------------------------

export async function insertCode(db: Db, row: RightsCodesTable): Promise<void> {
  await db.insertInto('rights_codes').values(row).execute();
}

export async function countCodes(
  db: Db,
  by: { addressKey?: string; subjectId?: string; since: string },
): Promise<number> {
  let q = db
    .selectFrom('rights_codes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('created_at', '>=', by.since);
  if (by.addressKey) q = q.where('address_key', '=', by.addressKey);
  if (by.subjectId) q = q.where('subject_id', '=', by.subjectId);
  const r = await q.executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function getCode(db: Db, id: string): Promise<RightsCodesTable | undefined> {
  const r = await db.selectFrom('rights_codes').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? { ...r, code_hash: toBuffer(r.code_hash), attempts: Number(r.attempts) } : undefined;
}

/** Counts one attempt, only while the code is live and under `max` attempts; false otherwise. */
export async function takeAttempt(db: Db, id: string, max: number, now: string): Promise<boolean> {
  const r = await db
    .updateTable('rights_codes')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('id', '=', id)
    .where('attempts', '<', max)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function markCodeUsed(db: Db, id: string, at: string): Promise<boolean> {
  const r = await db
    .updateTable('rights_codes')
    .set({ used_at: at })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function insertSession(db: Db, row: RightsSessionRow): Promise<void> {
  await db.insertInto('rights_sessions').values(row).execute();
}

type RightsSessionRow = RightsTables['rights_sessions'];

export async function sessionByHash(db: Db, hash: string): Promise<RightsSessionRow | undefined> {
  return db.selectFrom('rights_sessions').selectAll().where('token_hash', '=', hash).executeTakeFirst();
}

export async function revokeSession(db: Db, hash: string, at: string): Promise<void> {
  await db.updateTable('rights_sessions').set({ revoked_at: at }).where('token_hash', '=', hash).execute();
}

// --- requests ----------------------------------------------------------------------------------------

function requestRow(r: RightsRequestsTable): RightsRequestsTable {
  return {
    ...r,
    details: r.details === null ? null : toBuffer(r.details),
    outcome: r.outcome === null ? null : toBuffer(r.outcome),
    paused_ms: Number(r.paused_ms),
    extensions: Number(r.extensions),
  };
}

export async function insertRequest(db: Db, row: RightsRequestsTable): Promise<void> {
  await db.insertInto('rights_requests').values(row).execute();
}

export async function getRequest(db: Db, id: string): Promise<RightsRequestsTable | undefined> {
  const r = await db.selectFrom('rights_requests').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? requestRow(r) : undefined;
}

export async function listRequests(
  db: Db,
  q: { subjectId?: string; status?: readonly string[]; assignee?: string; dueBefore?: string; limit: number },
): Promise<RightsRequestsTable[]> {
  let s = db.selectFrom('rights_requests').selectAll();
  if (q.subjectId) s = s.where('subject_id', '=', q.subjectId);
  if (q.status && q.status.length > 0) s = s.where('status', 'in', q.status);
  if (q.assignee) s = s.where('assignee', '=', q.assignee);
  if (q.dueBefore) s = s.where('due_at', '<', q.dueBefore);
  const rows = await s.orderBy('due_at').orderBy('id').limit(q.limit).execute();
  return rows.map(requestRow);
}

/** Updates a request only from the status the caller read (optimistic: a concurrent change wins). */
export async function updateRequest(
  db: Db,
  id: string,
  from: string,
  patch: Partial<RightsRequestsTable>,
): Promise<boolean> {
  const r = await db
    .updateTable('rights_requests')
    .set(patch)
    .where('id', '=', id)
    .where('status', '=', from)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function insertRequestRecipients(
  db: Db,
  rows: readonly RightsRequestRecipientsTable[],
): Promise<void> {
  if (rows.length > 0)
    await db
      .insertInto('rights_request_recipients')
      .values([...rows])
      .execute();
}

export async function requestRecipients(
  db: Db,
  requestIds: readonly string[],
): Promise<RightsRequestRecipientsTable[]> {
  if (requestIds.length === 0) return [];
  return db
    .selectFrom('rights_request_recipients')
    .selectAll()
    .where('request_id', 'in', [...requestIds])
    .orderBy('recipient_id')
    .execute();
}

export async function confirmRecipient(
  db: Db,
  requestId: string,
  recipientId: string,
  at: string,
): Promise<boolean> {
  const r = await db
    .updateTable('rights_request_recipients')
    .set({ status: 'confirmed', confirmed_at: at })
    .where('request_id', '=', requestId)
    .where('recipient_id', '=', recipientId)
    .where('status', '=', 'notified')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

// --- complaints --------------------------------------------------------------------------------------

function complaintRow(r: RightsComplaintsTable): RightsComplaintsTable {
  return {
    ...r,
    details: toBuffer(r.details),
    response: r.response === null ? null : toBuffer(r.response),
    escalation: r.escalation === null ? null : toBuffer(r.escalation),
  };
}

export async function insertComplaint(db: Db, row: RightsComplaintsTable): Promise<void> {
  await db.insertInto('rights_complaints').values(row).execute();
}

export async function getComplaint(db: Db, id: string): Promise<RightsComplaintsTable | undefined> {
  const r = await db.selectFrom('rights_complaints').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? complaintRow(r) : undefined;
}

export async function listComplaints(
  db: Db,
  q: { subjectId?: string; status?: readonly string[]; limit: number },
): Promise<RightsComplaintsTable[]> {
  let s = db.selectFrom('rights_complaints').selectAll();
  if (q.subjectId) s = s.where('subject_id', '=', q.subjectId);
  if (q.status && q.status.length > 0) s = s.where('status', 'in', q.status);
  const rows = await s.orderBy('due_at').orderBy('id').limit(q.limit).execute();
  return rows.map(complaintRow);
}

export async function updateComplaint(
  db: Db,
  id: string,
  from: readonly string[],
  patch: Partial<RightsComplaintsTable>,
): Promise<boolean> {
  const r = await db
    .updateTable('rights_complaints')
    .set(patch)
    .where('id', '=', id)
    .where('status', 'in', [...from])
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

// --- notices -----------------------------------------------------------------------------------------

export async function insertNotices(db: Db, rows: readonly RightsNoticesTable[]): Promise<void> {
  if (rows.length > 0)
    await db
      .insertInto('rights_notices')
      .values([...rows])
      .execute();
}

export async function listNotices(db: Db, subjectId: string, limit: number): Promise<RightsNoticesTable[]> {
  const rows = await db
    .selectFrom('rights_notices')
    .selectAll()
    .where('subject_id', '=', subjectId)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, content: toBuffer(r.content) }));
}

// --- completeness ------------------------------------------------------------------------------------

function commitRow(r: RightsSubjectCommitsTable): RightsSubjectCommitsTable {
  return { ...r, size: Number(r.size), tree_root: toBuffer(r.tree_root), map_root: toBuffer(r.map_root) };
}

export async function latestCommit(db: Db): Promise<RightsSubjectCommitsTable | undefined> {
  const r = await db
    .selectFrom('rights_subject_commits')
    .selectAll()
    .orderBy('size', 'desc')
    .limit(1)
    .executeTakeFirst();
  return r ? commitRow(r) : undefined;
}

export async function insertCommit(db: Db, row: RightsSubjectCommitsTable): Promise<void> {
  await db.insertInto('rights_subject_commits').values(row).execute();
}

export async function subjectIndexes(db: Db, subjectId: string, below: number): Promise<number[]> {
  const rows = await db
    .selectFrom('rights_subject_entries')
    .select('idx')
    .where('subject_id', '=', subjectId)
    .where('idx', '<', below)
    .orderBy('idx')
    .execute();
  return rows.map((r) => Number(r.idx));
}

export async function insertSubjectEntries(
  db: Db,
  rows: readonly { subject_id: string; idx: number }[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK)
    await db
      .insertInto('rights_subject_entries')
      .values(rows.slice(i, i + CHUNK))
      .execute();
}

/** The chain head after each entry (migration 0018); an existing row is left as it is. */
export async function insertEntryHeads(db: Db, rows: readonly RightsEntryHeadsTable[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK)
    await db
      .insertInto('rights_entry_heads')
      .values(rows.slice(i, i + CHUNK))
      .onConflict((oc) => oc.columns(['subject_id', 'pos']).doNothing())
      .execute();
}

/**
 * A page of a subject's chain, newest first: positions `top`, `top - 1`, … down to `top - limit`
 * (one more than the page, for the head before its oldest entry). Served from the primary key.
 */
export async function entryHeadsDown(
  db: Db,
  subjectId: string,
  top: number,
  limit: number,
): Promise<RightsEntryHeadsTable[]> {
  const rows = await db
    .selectFrom('rights_entry_heads')
    .selectAll()
    .where('subject_id', '=', subjectId)
    .where('pos', '<=', top)
    .where('pos', '>=', top - limit)
    .orderBy('pos', 'desc')
    .execute();
  return rows.map((r) => ({ ...r, pos: Number(r.pos), idx: Number(r.idx), head: toBuffer(r.head) }));
}

/** Rows in the subject index and in the per-entry heads (equal once every subject is backfilled). */
export async function chainRowCounts(db: Db): Promise<{ entries: number; heads: number }> {
  const [a, b] = await Promise.all([
    db
      .selectFrom('rights_subject_entries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst(),
    db
      .selectFrom('rights_entry_heads')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst(),
  ]);
  return { entries: Number(a?.n ?? 0), heads: Number(b?.n ?? 0) };
}

/** Subjects (after `after`, by id) whose newest position has no per-entry head: to backfill. */
export async function subjectsWithoutEntryHeads(
  db: Db,
  after: string,
  limit: number,
): Promise<RightsSubjectHeadsTable[]> {
  const rows = await db
    .selectFrom('rights_subject_heads as h')
    .selectAll('h')
    .where('h.subject_id', '>', after)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('rights_entry_heads as e')
            .select(sql<number>`1`.as('one'))
            .whereRef('e.subject_id', '=', 'h.subject_id')
            .whereRef('e.pos', '=', 'h.count'),
        ),
      ),
    )
    .orderBy('h.subject_id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    ...r,
    bucket: Number(r.bucket),
    count: Number(r.count),
    head: toBuffer(r.head),
  }));
}

/** The ledger indexes of each subject's entries, in log order. */
export async function indexesOf(db: Db, subjectIds: readonly string[]): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  if (subjectIds.length === 0) return out;
  const rows = await db
    .selectFrom('rights_subject_entries')
    .select(['subject_id', 'idx'])
    .where('subject_id', 'in', [...subjectIds])
    .orderBy('subject_id')
    .orderBy('idx')
    .execute();
  for (const r of rows) {
    let l = out.get(r.subject_id);
    if (!l) {
      l = [];
      out.set(r.subject_id, l);
    }
    l.push(Number(r.idx));
  }
  return out;
}

export async function headsOf(db: Db, subjectIds: readonly string[]): Promise<RightsSubjectHeadsTable[]> {
  const out: RightsSubjectHeadsTable[] = [];
  for (let i = 0; i < subjectIds.length; i += CHUNK) {
    const rows = await db
      .selectFrom('rights_subject_heads')
      .selectAll()
      .where('subject_id', 'in', subjectIds.slice(i, i + CHUNK))
      .execute();
    for (const r of rows) out.push({ ...r, count: Number(r.count), head: toBuffer(r.head) });
  }
  return out;
}

export async function upsertHeads(db: Db, rows: readonly RightsSubjectHeadsTable[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK)
    await db
      .insertInto('rights_subject_heads')
      .values(rows.slice(i, i + CHUNK))
      .onConflict((oc) =>
        oc
          .column('subject_id')
          .doUpdateSet((eb) => ({ count: eb.ref('excluded.count'), head: eb.ref('excluded.head') })),
      )
      .execute();
}

export async function headsInBuckets(db: Db, buckets: readonly number[]): Promise<RightsSubjectHeadsTable[]> {
  const out: RightsSubjectHeadsTable[] = [];
  for (let i = 0; i < buckets.length; i += CHUNK) {
    const rows = await db
      .selectFrom('rights_subject_heads')
      .selectAll()
      .where('bucket', 'in', buckets.slice(i, i + CHUNK))
      .execute();
    for (const r of rows)
      out.push({ ...r, bucket: Number(r.bucket), count: Number(r.count), head: toBuffer(r.head) });
  }
  return out;
}

export async function upsertBuckets(
  db: Db,
  rows: readonly { bucket: number; hash: Buffer }[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK)
    await db
      .insertInto('rights_subject_buckets')
      .values(rows.slice(i, i + CHUNK))
      .onConflict((oc) => oc.column('bucket').doUpdateSet((eb) => ({ hash: eb.ref('excluded.hash') })))
      .execute();
}

export async function allBuckets(db: Db): Promise<Map<number, Buffer>> {
  const rows = await db.selectFrom('rights_subject_buckets').selectAll().execute();
  return new Map(rows.map((r) => [Number(r.bucket), toBuffer(r.hash)]));
}

/**
 * `actor\0subject` keys among `pairs` where the actor is assigned an open request or complaint of
 * that subject (closed_at not set): the case that explains his reads of the record (detect).
 */
/** Staff who hold an open request or complaint (the read path skips the case lookup for others). */
export async function openCaseAssignees(db: Db): Promise<Set<string>> {
  const out = new Set<string>();
  for (const table of ['rights_requests', 'rights_complaints'] as const) {
    const rows = await db
      .selectFrom(table)
      .select('assignee')
      .distinct()
      .where('assignee', 'is not', null)
      .where('closed_at', 'is', null)
      .execute();
    for (const r of rows) out.add(r.assignee!);
  }
  return out;
}

export async function openCasesAmong(
  db: Db,
  pairs: readonly { actorId: string; subjectId: string }[],
): Promise<Set<string>> {
  const out = new Set<string>();
  if (pairs.length === 0) return out;
  const actors = [...new Set(pairs.map((p) => p.actorId))];
  const subjects = [...new Set(pairs.map((p) => p.subjectId))];
  const wanted = new Set(pairs.map((p) => `${p.actorId}\0${p.subjectId}`));
  for (const table of ['rights_requests', 'rights_complaints'] as const) {
    for (let i = 0; i < subjects.length; i += 500) {
      const rows = await db
        .selectFrom(table)
        .select(['assignee', 'subject_id'])
        .where('assignee', 'in', actors)
        .where('subject_id', 'in', subjects.slice(i, i + 500))
        .where('closed_at', 'is', null)
        .execute();
      for (const r of rows) {
        const k = `${r.assignee}\0${r.subject_id}`;
        if (wanted.has(k)) out.add(k);
      }
    }
  }
  return out;
}
