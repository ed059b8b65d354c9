import {
  insertFlat as bulkInsertFlat,
  type DialectName,
  lockForUpdate,
  MAX_BIND_PARAMS,
  toBuffer,
} from '../../db/index.js';
import type { DbExecutor } from '../../lib/audit.js';
import { decodeEntries, type Entry } from './entries.js';
import { SUBJECT_META_COLUMNS, type SubjectRow, type SubjectStore } from './vault.tables.js';

/**
 * The vault's SQL. Bulk writes go through `insertFlat`: multi-row INSERTs with parameters in one
 * flat array (src/db/bulk.ts), so an import batch costs a few statements and no per-row
 * query-builder work.
 */

/** Inserts rows given as one flat parameter array (row-major), within MAX_BIND_PARAMS per statement. */
export async function insertFlat(
  db: DbExecutor,
  table: string,
  columns: readonly string[],
  params: readonly unknown[],
): Promise<void> {
  await bulkInsertFlat(db, table, columns, params, { yieldBetween: true });
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

const IN_CHUNK = Math.floor(MAX_BIND_PARAMS / 2);

function toSubject(r: any): SubjectRow {
  return {
    id: r.id,
    external_id: r.external_id,
    created_at: r.created_at,
    updated_at: r.updated_at,
    erased_at: r.erased_at ?? null,
    fingerprint: r.fingerprint == null ? null : toBuffer(r.fingerprint),
  };
}

const bytesOrNull = (v: unknown): Buffer | null => (v == null ? null : toBuffer(v));

function toStore(r: any): SubjectStore {
  return {
    kek_version: r.kek_version == null ? null : Number(r.kek_version),
    wrapped_key: bytesOrNull(r.wrapped_key),
    sealed: bytesOrNull(r.sealed),
    lookup_keys: bytesOrNull(r.lookup_keys),
  };
}

export async function findByExternalIds(
  db: DbExecutor,
  externalIds: readonly string[],
): Promise<SubjectRow[]> {
  const out: SubjectRow[] = [];
  for (const part of chunks(externalIds, IN_CHUNK)) {
    const rows = await db
      .selectFrom('subjects')
      .select(SUBJECT_META_COLUMNS)
      .where('external_id', 'in', part)
      .execute();
    for (const r of rows) out.push(toSubject(r));
  }
  return out;
}

export async function existingIds(db: DbExecutor, ids: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const part of chunks(ids, IN_CHUNK)) {
    const rows = await db.selectFrom('subjects').select('id').where('id', 'in', part).execute();
    for (const r of rows) out.push(r.id as string);
  }
  return out;
}

/** A subject's metadata with its sealed-field list (null once erased), for SubjectMeta. */
export type SubjectWithFields = SubjectRow & { sealed: Buffer | null };

/**
 * With `lockFor` (the dialect), the row stays locked until the transaction ends: updates and erasure
 * read-modify-write the row, and two of them at once must not lose one another's change.
 */
export function getSubject(
  db: DbExecutor,
  id: string,
  lockFor?: DialectName,
): Promise<SubjectWithFields | undefined> {
  return subjectWithFields(db, 'id', id, lockFor);
}

export function getSubjectByExternalId(
  db: DbExecutor,
  externalId: string,
): Promise<SubjectWithFields | undefined> {
  return subjectWithFields(db, 'external_id', externalId);
}

async function subjectWithFields(
  db: DbExecutor,
  by: 'id' | 'external_id',
  value: string,
  lockFor?: DialectName,
): Promise<SubjectWithFields | undefined> {
  const q = db
    .selectFrom('subjects')
    .select([...SUBJECT_META_COLUMNS, 'sealed'])
    .where(by, '=', value);
  const r = await (lockFor ? lockForUpdate(q, lockFor) : q).executeTakeFirst();
  return r ? { ...toSubject(r), sealed: bytesOrNull(r.sealed) } : undefined;
}

export type KeyedSubject = SubjectStore & { id: string; erased_at: string | null };

/** The rows of the subjects that exist among `ids`, with their keys and sealed fields (see getSubject for `lockFor`). */
export async function getKeyedSubjects(
  db: DbExecutor,
  ids: readonly string[],
  lockFor?: DialectName,
): Promise<KeyedSubject[]> {
  const out: KeyedSubject[] = [];
  for (const part of chunks(ids, IN_CHUNK)) {
    const q = db
      .selectFrom('subjects')
      .select(['id', 'erased_at', 'kek_version', 'wrapped_key', 'sealed', 'lookup_keys'])
      .where('id', 'in', part);
    const rows = await (lockFor ? lockForUpdate(q, lockFor) : q).execute();
    for (const r of rows) out.push({ id: r.id, erased_at: r.erased_at ?? null, ...toStore(r) });
  }
  return out;
}

export async function lookupHash(db: DbExecutor, field: string, hash: Buffer): Promise<string[]> {
  const rows = await db
    .selectFrom('blind_index')
    .select('subject_id')
    .where('field', '=', field)
    .where('hash', '=', hash)
    .execute();
  return rows.map((r) => r.subject_id as string).sort();
}

/** Removes the blind-index entries a subject's row lists (by primary key: no scan). */
export async function deleteIndexEntries(
  db: DbExecutor,
  subjectId: string,
  entries: readonly Entry[],
): Promise<void> {
  for (const e of entries) {
    await db
      .deleteFrom('blind_index')
      .where('field', '=', e.name)
      .where('hash', '=', e.value)
      .where('subject_id', '=', subjectId)
      .execute();
  }
}

/** A live subject's new sealed fields and index entries (the wrapped key is unchanged). */
export async function writeRecord(
  db: DbExecutor,
  id: string,
  r: { sealed: Buffer; lookupKeys: Buffer; updatedAt: string; fingerprint: Buffer | null },
): Promise<void> {
  await db
    .updateTable('subjects')
    .set({ sealed: r.sealed, lookup_keys: r.lookupKeys, updated_at: r.updatedAt, fingerprint: r.fingerprint })
    .where('id', '=', id)
    .execute();
}

/**
 * Crypto-shredding: the wrapped key, the ciphertexts and the blind-index entries go; the row stays,
 * marked erased, so the subject id remains a valid reference in the ledger and elsewhere.
 */
export async function shred(db: DbExecutor, id: string, at: string): Promise<void> {
  const r = await db.selectFrom('subjects').select('lookup_keys').where('id', '=', id).executeTakeFirst();
  const keys = r?.lookup_keys == null ? [] : decodeEntries(toBuffer(r.lookup_keys));
  if (keys) await deleteIndexEntries(db, id, keys);
  // A malformed list cannot name its entries: fall back to a scan so nothing stays findable.
  else await db.deleteFrom('blind_index').where('subject_id', '=', id).execute();
  await db
    .updateTable('subjects')
    .set({
      erased_at: at,
      updated_at: at,
      fingerprint: null,
      kek_version: null,
      wrapped_key: null,
      sealed: null,
      lookup_keys: null,
    })
    .where('id', '=', id)
    .execute();
}

// --- rotation -------------------------------------------------------------------------------------

export async function keysAfter(
  db: DbExecutor,
  afterId: string,
  belowVersion: number,
  limit: number,
): Promise<{ subject_id: string; kek_version: number; wrapped_key: Buffer }[]> {
  const rows = await db
    .selectFrom('subjects')
    .select(['id', 'kek_version', 'wrapped_key'])
    .where('id', '>', afterId)
    .where('kek_version', '<', belowVersion)
    .where('wrapped_key', 'is not', null)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    subject_id: r.id,
    kek_version: Number(r.kek_version),
    wrapped_key: toBuffer(r.wrapped_key),
  }));
}

/**
 * Compare-and-set on the version read: a key erased or rewrapped meanwhile is left alone (a plain
 * overwrite could bring an erased key back).
 */
export async function rewrapKey(
  db: DbExecutor,
  subjectId: string,
  fromVersion: number,
  toVersion: number,
  wrapped: Buffer,
): Promise<boolean> {
  const r = await db
    .updateTable('subjects')
    .set({ kek_version: toVersion, wrapped_key: wrapped })
    .where('id', '=', subjectId)
    .where('kek_version', '=', fromVersion)
    .where('wrapped_key', 'is not', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function countKeysByVersion(db: DbExecutor): Promise<Map<number, number>> {
  const rows = await db
    .selectFrom('subjects')
    .select(['kek_version', (eb) => eb.fn.countAll().as('n')])
    .where('wrapped_key', 'is not', null)
    .groupBy('kek_version')
    .execute();
  return new Map(rows.map((r) => [Number(r.kek_version), Number(r.n)]));
}

/**
 * Bulk blind-index lookup (trace): which subjects hold each of `hashes` in `field`. One query per
 * chunk of 500 hashes on the (field, hash, subject_id) B-tree; no subject row is read. With `lanes`
 * > 1, that many chunks are in flight at once (PostgreSQL: on as many pooled connections, so the
 * round trips overlap; ADR 0012, 2026-12-06).
 */
export async function lookupHashes(
  db: DbExecutor,
  field: string,
  hashes: readonly Buffer[],
  lanes = 1,
): Promise<{ hash: Buffer; subjectId: string }[]> {
  const out: { hash: Buffer; subjectId: string }[] = [];
  const CHUNK = 500;
  let next = 0;
  const lane = async () => {
    while (next < hashes.length) {
      const part = hashes.slice(next, next + CHUNK);
      next += CHUNK;
      const rows = await db
        .selectFrom('blind_index')
        .select(['hash', 'subject_id'])
        .where('field', '=', field)
        .where('hash', 'in', part)
        .execute();
      for (const r of rows) out.push({ hash: toBuffer(r.hash), subjectId: r.subject_id as string });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, lanes) }, lane));
  return out;
}

/** How many subjects are live (not erased): the population a trace's null hypothesis draws from. */
export async function countLive(db: DbExecutor): Promise<number> {
  const r = await db
    .selectFrom('subjects')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('erased_at', 'is', null)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}
