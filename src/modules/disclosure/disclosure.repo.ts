import { type Kysely, sql, type Transaction } from 'kysely';
import { type DialectName, insertFlat, rowsPerStatement } from '../../db/index.js';
import type {
  DeletionNoticesTable,
  DisclosureItemsTable,
  DisclosuresTable,
  DisclosureTables,
  RecipientsTable,
} from './disclosure.tables.js';

type Db = Kysely<DisclosureTables> | Transaction<DisclosureTables>;
type AnyDb = Kysely<any> | Transaction<any>;
const d_ = (d: AnyDb) => d as unknown as Db;

const IN_CHUNK = 5000;

// --- recipients --------------------------------------------------------------------------------

export async function insertRecipient(db: AnyDb, row: RecipientsTable): Promise<void> {
  await d_(db).insertInto('recipients').values(row).execute();
}

export async function getRecipient(db: AnyDb, id: string): Promise<RecipientsTable | undefined> {
  return d_(db).selectFrom('recipients').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function getRecipientByName(db: AnyDb, name: string): Promise<RecipientsTable | undefined> {
  return d_(db).selectFrom('recipients').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function recipientsOfActor(db: AnyDb, actorId: string): Promise<RecipientsTable[]> {
  return d_(db).selectFrom('recipients').selectAll().where('actor_id', '=', actorId).execute();
}

export async function listRecipients(db: AnyDb): Promise<RecipientsTable[]> {
  return d_(db).selectFrom('recipients').selectAll().orderBy('name').limit(10_000).execute();
}

export async function updateRecipient(
  db: AnyDb,
  id: string,
  patch: Partial<Omit<RecipientsTable, 'id' | 'created_at' | 'created_by'>>,
): Promise<void> {
  await d_(db).updateTable('recipients').set(patch).where('id', '=', id).execute();
}

// --- disclosures and their items ---------------------------------------------------------------

export async function insertDisclosure(db: AnyDb, row: DisclosuresTable): Promise<void> {
  await d_(db).insertInto('disclosures').values(row).execute();
}

export async function getDisclosure(db: AnyDb, id: string): Promise<DisclosuresTable | undefined> {
  return d_(db).selectFrom('disclosures').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listDisclosures(
  db: AnyDb,
  q: { recipientId?: string; limit: number },
): Promise<DisclosuresTable[]> {
  let s = d_(db).selectFrom('disclosures').selectAll();
  if (q.recipientId) s = s.where('recipient_id', '=', q.recipientId);
  return s.orderBy('created_at', 'desc').orderBy('id').limit(q.limit).execute();
}

export async function updateDisclosure(
  db: AnyDb,
  id: string,
  patch: Partial<Omit<DisclosuresTable, 'id'>>,
  onlyIfStatus?: string,
): Promise<number> {
  let u = d_(db).updateTable('disclosures').set(patch).where('id', '=', id);
  if (onlyIfStatus) u = u.where('status', '=', onlyIfStatus);
  const r = await u.executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/**
 * Serialises an actor's disclosures for the daily quota: on PostgreSQL a transaction-scoped
 * advisory lock per actor, so two concurrent creates cannot both count the same day's total and
 * both pass. SQLite has one writer: its transactions never interleave.
 */
export async function lockActorQuota(db: AnyDb, dialect: DialectName, actorId: string): Promise<void> {
  if (dialect !== 'postgres') return;
  await sql`select pg_advisory_xact_lock(hashtext(${`custodian.disclosure.quota:${actorId}`}))`.execute(db);
}

/** The actor's disclosures for a purpose created at or after `since`: time and subject count. */
export async function disclosuresBy(
  db: AnyDb,
  actorId: string,
  purpose: string,
  since: string,
): Promise<{ created_at: string; subject_count: number }[]> {
  return d_(db)
    .selectFrom('disclosures')
    .select(['created_at', 'subject_count'])
    .where('created_by', '=', actorId)
    .where('purpose', '=', purpose)
    .where('created_at', '>=', since)
    .execute();
}

/**
 * One row per subject: multi-row INSERTs with one flat parameter array (src/db/bulk.ts), so a
 * million items are a hundred statements and no per-row builder work.
 */
export async function insertItems(
  db: AnyDb,
  _dialect: DialectName,
  disclosureId: string,
  subjectIds: readonly string[],
  deliveredAt: (subjectId: string) => string | null,
): Promise<void> {
  // One statement's worth of parameters at a time, so a million items never sit in one array.
  const per = rowsPerStatement(ITEM_COLUMNS.length);
  for (let i = 0; i < subjectIds.length; i += per) {
    const n = Math.min(per, subjectIds.length - i);
    const params: unknown[] = new Array(n * 3);
    for (let k = 0; k < n; k++) {
      const s = subjectIds[i + k]!;
      params[3 * k] = disclosureId;
      params[3 * k + 1] = s;
      params[3 * k + 2] = deliveredAt(s);
    }
    await insertFlat(db, 'disclosure_items', ITEM_COLUMNS, params);
  }
}

const ITEM_COLUMNS = ['disclosure_id', 'subject_id', 'delivered_at'] as const;

export async function itemsOf(db: AnyDb, disclosureId: string): Promise<DisclosureItemsTable[]> {
  return d_(db)
    .selectFrom('disclosure_items')
    .selectAll()
    .where('disclosure_id', '=', disclosureId)
    .execute();
}

export async function markItemsDelivered(
  db: AnyDb,
  disclosureId: string,
  subjectIds: readonly string[],
  at: string,
): Promise<void> {
  for (let i = 0; i < subjectIds.length; i += IN_CHUNK) {
    await d_(db)
      .updateTable('disclosure_items')
      .set({ delivered_at: at })
      .where('disclosure_id', '=', disclosureId)
      .where('subject_id', 'in', subjectIds.slice(i, i + IN_CHUNK) as string[])
      .execute();
  }
}

/** Delivered items of these subjects for a purpose (and recipient): who must be told to delete. */
export async function deliveredTo(
  db: AnyDb,
  q: { subjectIds: readonly string[]; purpose: string; recipientId: string | null },
): Promise<{ subject_id: string; disclosure_id: string; recipient_id: string }[]> {
  const out: { subject_id: string; disclosure_id: string; recipient_id: string }[] = [];
  for (let i = 0; i < q.subjectIds.length; i += IN_CHUNK) {
    let s = d_(db)
      .selectFrom('disclosure_items as i')
      .innerJoin('disclosures as d', 'd.id', 'i.disclosure_id')
      .select(['i.subject_id', 'i.disclosure_id', 'd.recipient_id'])
      .where('i.subject_id', 'in', q.subjectIds.slice(i, i + IN_CHUNK) as string[])
      .where('i.delivered_at', 'is not', null)
      .where('d.purpose', '=', q.purpose);
    if (q.recipientId !== null) s = s.where('d.recipient_id', '=', q.recipientId);
    for (const r of await s.execute()) out.push(r);
  }
  return out;
}

/** Distinct real subjects delivered (or awaiting pick-up) to a destination since `since` (cross-border yearly count). */
export async function subjectsSentTo(db: AnyDb, jurisdiction: string, since: string): Promise<Set<string>> {
  const rows = await d_(db)
    .selectFrom('disclosure_items as i')
    .innerJoin('disclosures as d', 'd.id', 'i.disclosure_id')
    .leftJoin('canaries as c', 'c.subject_id', 'i.subject_id')
    .select('i.subject_id')
    .distinct()
    .where('d.jurisdiction', '=', jurisdiction)
    .where('d.created_at', '>=', since)
    // A delivery awaiting pick-up is on its way: it counts toward the year like a delivered one.
    .where((eb) => eb.or([eb('i.delivered_at', 'is not', null), eb('d.status', '=', 'awaiting_pickup')]))
    .where('c.subject_id', 'is', null)
    .execute();
  return new Set(rows.map((r) => r.subject_id));
}

/** Disclosures that delivered this subject (its "who received my data" list). */
export async function disclosuresOfSubject(db: AnyDb, subjectId: string): Promise<DisclosuresTable[]> {
  return d_(db)
    .selectFrom('disclosure_items as i')
    .innerJoin('disclosures as d', 'd.id', 'i.disclosure_id')
    .selectAll('d')
    .where('i.subject_id', '=', subjectId)
    .where('i.delivered_at', 'is not', null)
    .orderBy('d.created_at')
    .execute();
}

// --- deletion notices --------------------------------------------------------------------------

export async function insertDeletionNotices(db: AnyDb, rows: readonly DeletionNoticesTable[]): Promise<void> {
  if (rows.length)
    await d_(db)
      .insertInto('deletion_notices')
      .values(rows as DeletionNoticesTable[])
      .execute();
}

export async function pendingDeletionNotices(db: AnyDb, limit: number): Promise<DeletionNoticesTable[]> {
  return d_(db)
    .selectFrom('deletion_notices')
    .selectAll()
    .where('status', '=', 'pending')
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit)
    .execute();
}

export async function deletionNoticesFor(
  db: AnyDb,
  q: { recipientId?: string; status?: string; limit: number },
): Promise<DeletionNoticesTable[]> {
  let s = d_(db).selectFrom('deletion_notices').selectAll();
  if (q.recipientId) s = s.where('recipient_id', '=', q.recipientId);
  if (q.status) s = s.where('status', '=', q.status);
  return s.orderBy('created_at').orderBy('id').limit(q.limit).execute();
}

export async function getDeletionNotice(db: AnyDb, id: string): Promise<DeletionNoticesTable | undefined> {
  return d_(db).selectFrom('deletion_notices').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateDeletionNotice(
  db: AnyDb,
  id: string,
  patch: Partial<Omit<DeletionNoticesTable, 'id'>>,
): Promise<void> {
  await d_(db).updateTable('deletion_notices').set(patch).where('id', '=', id).execute();
}
