import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import { type DialectName, insertObjects, MAX_BIND_PARAMS, placeholder } from '../../db/index.js';
import type { ConsentsTable, ConsentTables, NoticesTable } from './consent.tables.js';

type Db = Kysely<ConsentTables> | Transaction<ConsentTables>;
type AnyDb = Kysely<any> | Transaction<any>;

const db_ = (d: AnyDb) => d as unknown as Db;

/** Subject ids per IN list for small lookups. */
export const CHECK_CHUNK = 5000;
/** Subject ids per IN list in the batch consent check: few round trips, under MAX_BIND_PARAMS. */
const BATCH_CHUNK = MAX_BIND_PARAMS - 10;

export async function insertNotice(db: AnyDb, row: NoticesTable): Promise<void> {
  await db_(db).insertInto('notices').values(row).execute();
}

export async function getNotice(db: AnyDb, id: string): Promise<NoticesTable | undefined> {
  return db_(db).selectFrom('notices').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function getNoticeByVersion(
  db: AnyDb,
  key: string,
  version: number,
): Promise<NoticesTable | undefined> {
  return db_(db)
    .selectFrom('notices')
    .selectAll()
    .where('key', '=', key)
    .where('version', '=', version)
    .executeTakeFirst();
}

export async function latestNoticeVersion(db: AnyDb, key: string): Promise<number> {
  const r = await db_(db)
    .selectFrom('notices')
    .select((eb) => eb.fn.max('version').as('v'))
    .where('key', '=', key)
    .executeTakeFirst();
  return Number(r?.v ?? 0);
}

export async function listNotices(db: AnyDb, key?: string): Promise<NoticesTable[]> {
  let q = db_(db).selectFrom('notices').selectAll();
  if (key) q = q.where('key', '=', key);
  return q.orderBy('key').orderBy('version', 'desc').limit(1000).execute();
}

const CONSENT_COLUMNS = [
  'id',
  'subject_id',
  'purpose',
  'recipient_id',
  'fields',
  'notice_id',
  'notice_sha256',
  'method',
  'given_by',
  'given_at',
  'expires_at',
  'withdrawn_at',
  'withdrawal_method',
  'withdrawn_by',
  'sep_sensitive',
  'sep_third_party',
  'sep_cross_border',
  'evidence_ref',
  'source',
  'import_id',
  'recorded_at',
  'recorded_by',
] as const satisfies readonly (keyof ConsentsTable)[];

/** Multi-row INSERTs (src/db/bulk.ts): an import writes its consent records a chunk at a time. */
export async function insertConsents(db: AnyDb, rows: readonly ConsentsTable[]): Promise<void> {
  await insertObjects(db, 'consents', CONSENT_COLUMNS, rows);
}

export async function getConsent(db: AnyDb, id: string): Promise<ConsentsTable | undefined> {
  return db_(db).selectFrom('consents').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Records not withdrawn and not expired at `at` (given before it), for a withdrawal. */
export async function activeForWithdrawal(
  db: AnyDb,
  q: { subjectId: string; purpose: string; recipientId?: string | null | undefined; at: string },
): Promise<ConsentsTable[]> {
  let s = db_(db)
    .selectFrom('consents')
    .selectAll()
    .where('subject_id', '=', q.subjectId)
    .where('purpose', '=', q.purpose)
    .where('withdrawn_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', q.at)]));
  if (q.recipientId === null) s = s.where('recipient_id', 'is', null);
  else if (q.recipientId !== undefined) s = s.where('recipient_id', '=', q.recipientId);
  return s.orderBy('given_at').execute();
}

export async function markWithdrawn(
  db: AnyDb,
  ids: readonly string[],
  w: { at: string; method: string; by: string | null },
): Promise<number> {
  let n = 0;
  for (let i = 0; i < ids.length; i += CHECK_CHUNK) {
    const r = await db_(db)
      .updateTable('consents')
      .set({ withdrawn_at: w.at, withdrawal_method: w.method, withdrawn_by: w.by })
      .where('id', 'in', ids.slice(i, i + CHECK_CHUNK))
      .where('withdrawn_at', 'is', null)
      .executeTakeFirst();
    n += Number(r.numUpdatedRows);
  }
  return n;
}

export async function listConsents(
  db: AnyDb,
  q: { subjectId?: string; purpose?: string; recipientId?: string; limit: number; after?: string },
): Promise<ConsentsTable[]> {
  let s = db_(db).selectFrom('consents').selectAll();
  if (q.subjectId) s = s.where('subject_id', '=', q.subjectId);
  if (q.purpose) s = s.where('purpose', '=', q.purpose);
  if (q.recipientId) s = s.where('recipient_id', '=', q.recipientId);
  if (q.after) s = s.where('id', '>', q.after);
  return s.orderBy('given_at').orderBy('id').limit(q.limit).execute();
}

export interface CheckRow {
  subject_id: string;
  fields: string;
  sep_sensitive: number;
  sep_cross_border: number;
}

type CheckQuery = { purpose: string; recipientId: string | null; at: string };

function checkQuery(db: AnyDb, q: CheckQuery) {
  let s = db_(db)
    .selectFrom('consents')
    .select(['subject_id', 'fields', 'sep_sensitive', 'sep_cross_border'])
    .where('purpose', '=', q.purpose);
  // PIPL art. 23: provision to another processor needs a separate consent for that recipient; a
  // bundled or general consent does not count.
  s =
    q.recipientId === null
      ? s.where('recipient_id', 'is', null)
      : s.where('recipient_id', '=', q.recipientId).where('sep_third_party', '=', 1);
  // PIPL art. 15: a withdrawal stops processing from its time on; an expired consent is no basis.
  return s
    .where('given_at', '<=', q.at)
    .where((eb) => eb.or([eb('withdrawn_at', 'is', null), eb('withdrawn_at', '>', q.at)]))
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', q.at)]));
}

const statements = new Map<string, string>();

/**
 * The batch check's statement text for `n` ids, built once per shape and reused: a check of a
 * million subjects is a few dozen statements and no per-id query-builder work. Same predicates as
 * `checkQuery`.
 */
function checkSql(dialect: DialectName, withRecipient: boolean, n: number): string {
  const key = `${dialect}\0${withRecipient}\0${n}`;
  let text = statements.get(key);
  if (text) return text;
  let p = 0;
  const ph = () => placeholder(dialect, ++p);
  const head =
    'select subject_id, fields, sep_sensitive, sep_cross_border from consents where purpose = ' +
    ph() +
    (withRecipient ? ` and recipient_id = ${ph()} and sep_third_party = 1` : ' and recipient_id is null') +
    ` and given_at <= ${ph()} and (withdrawn_at is null or withdrawn_at > ${ph()})` +
    ` and (expires_at is null or expires_at > ${ph()}) and subject_id in (`;
  const ids: string[] = new Array(n);
  for (let i = 0; i < n; i++) ids[i] = ph();
  text = `${head}${ids.join(',')})`;
  if (statements.size > 64) statements.clear();
  statements.set(key, text);
  return text;
}

/** Effective consent rows at `at` for these subjects (several rows per subject possible). */
export async function checkRows(
  db: AnyDb,
  dialect: DialectName,
  q: CheckQuery & { subjectIds: readonly string[] },
): Promise<CheckRow[]> {
  if (q.subjectIds.length === 1)
    return checkQuery(db, q).where('subject_id', '=', q.subjectIds[0]!).execute();
  const out: CheckRow[] = [];
  const head: unknown[] = q.recipientId === null ? [q.purpose] : [q.purpose, q.recipientId];
  head.push(q.at, q.at, q.at);
  for (let i = 0; i < q.subjectIds.length; i += BATCH_CHUNK) {
    const part = q.subjectIds.slice(i, i + BATCH_CHUNK);
    const r = await db.executeQuery<CheckRow>(
      CompiledQuery.raw(checkSql(dialect, q.recipientId !== null, part.length), [...head, ...part]),
    );
    for (const row of r.rows) out.push(row);
  }
  return out;
}

/** Every effective consent row at `at` for the purpose and recipient. */
export async function allCheckRows(db: AnyDb, q: CheckQuery): Promise<CheckRow[]> {
  return checkQuery(db, q).execute();
}

/**
 * Whole records in effect at `at` for these subjects (given by then, not withdrawn by then, not
 * expired), optionally of one purpose and recipient (a recipient's records only with the
 * third-party separate flag, as in the check). For small lists: the canaries' look-alike consents.
 */
export async function effectiveRows(
  db: AnyDb,
  subjectIds: readonly string[],
  q: { at: string; purpose?: string; recipientId?: string | null },
): Promise<ConsentsTable[]> {
  const out: ConsentsTable[] = [];
  for (let i = 0; i < subjectIds.length; i += CHECK_CHUNK) {
    let s = db_(db)
      .selectFrom('consents')
      .selectAll()
      .where('subject_id', 'in', subjectIds.slice(i, i + CHECK_CHUNK) as string[])
      .where('given_at', '<=', q.at)
      .where((eb) => eb.or([eb('withdrawn_at', 'is', null), eb('withdrawn_at', '>', q.at)]))
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', q.at)]));
    if (q.purpose !== undefined) s = s.where('purpose', '=', q.purpose);
    if (q.recipientId === null) s = s.where('recipient_id', 'is', null);
    else if (q.recipientId !== undefined)
      s = s.where('recipient_id', '=', q.recipientId).where('sep_third_party', '=', 1);
    for (const r of await s.orderBy('subject_id').orderBy('given_at').orderBy('id').execute()) out.push(r);
  }
  return out;
}

/** Keys of records already present, for an idempotent import. */
export async function existingImportKeys(db: AnyDb, subjectIds: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < subjectIds.length; i += CHECK_CHUNK) {
    const rows = await db_(db)
      .selectFrom('consents')
      .select(['subject_id', 'purpose', 'recipient_id', 'given_at', 'notice_id'])
      .where('subject_id', 'in', subjectIds.slice(i, i + CHECK_CHUNK) as string[])
      .execute();
    for (const r of rows)
      out.add(importKey(r.subject_id, r.purpose, r.recipient_id, r.given_at, r.notice_id));
  }
  return out;
}

export function importKey(
  subjectId: string,
  purpose: string,
  recipientId: string | null,
  givenAt: string,
  noticeId: string,
): string {
  return `${subjectId}\u0000${purpose}\u0000${recipientId ?? ''}\u0000${givenAt}\u0000${noticeId}`;
}
