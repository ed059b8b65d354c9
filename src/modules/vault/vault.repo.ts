import { CompiledQuery } from 'kysely';
import { type DialectName, MAX_BIND_PARAMS, toBuffer } from '../../db/dialect.js';
import type { DbExecutor } from '../../lib/audit.js';
import type { SubjectRow } from './vault.tables.js';

/**
 * The vault's SQL. Bulk writes go through `insertFlat`: multi-row INSERTs with parameters in one
 * flat array, the statement text built once per shape and reused, so an import batch costs a few
 * statements and no per-row query-builder work.
 */
const statementCache = new Map<string, string>();

function insertSql(dialect: DialectName, table: string, columns: readonly string[], rows: number): string {
  const key = `${dialect}\0${table}\0${rows}`;
  let text = statementCache.get(key);
  if (text) return text;
  const width = columns.length;
  const tuples: string[] = new Array(rows);
  if (dialect === 'sqlite') {
    const tuple = `(${new Array(width).fill('?').join(',')})`;
    tuples.fill(tuple);
  } else {
    let p = 1;
    for (let r = 0; r < rows; r++) {
      const one: string[] = new Array(width);
      for (let c = 0; c < width; c++) one[c] = `$${p++}`;
      tuples[r] = `(${one.join(',')})`;
    }
  }
  text = `insert into ${table} (${columns.join(', ')}) values ${tuples.join(',')}`;
  // Full batches share one shape; the cap only bounds odd-sized tails.
  if (statementCache.size > 256) statementCache.clear();
  statementCache.set(key, text);
  return text;
}

/** Inserts rows given as one flat parameter array (row-major), within MAX_BIND_PARAMS per statement. */
export async function insertFlat(
  db: DbExecutor,
  dialect: DialectName,
  table: string,
  columns: readonly string[],
  params: readonly unknown[],
): Promise<void> {
  const width = columns.length;
  const total = params.length / width;
  const perStatement = Math.floor(MAX_BIND_PARAMS / width);
  for (let start = 0; start < total; start += perStatement) {
    const n = Math.min(perStatement, total - start);
    const slice = n === total ? params : params.slice(start * width, (start + n) * width);
    await db.executeQuery(CompiledQuery.raw(insertSql(dialect, table, columns, n), slice as unknown[]));
  }
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

export async function findByExternalIds(
  db: DbExecutor,
  externalIds: readonly string[],
): Promise<SubjectRow[]> {
  const out: SubjectRow[] = [];
  for (const part of chunks(externalIds, IN_CHUNK)) {
    const rows = await db.selectFrom('subjects').selectAll().where('external_id', 'in', part).execute();
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

export async function getSubject(db: DbExecutor, id: string): Promise<SubjectRow | undefined> {
  const r = await db.selectFrom('subjects').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toSubject(r) : undefined;
}

export async function getSubjectByExternalId(
  db: DbExecutor,
  externalId: string,
): Promise<SubjectRow | undefined> {
  const r = await db
    .selectFrom('subjects')
    .selectAll()
    .where('external_id', '=', externalId)
    .executeTakeFirst();
  return r ? toSubject(r) : undefined;
}

export interface KeyedSubject {
  id: string;
  erased_at: string | null;
  kek_version: number | null;
  wrapped_key: Buffer | null;
}

/** Subjects with their wrapped data keys (null once erased), for the ids that exist. */
export async function getKeyedSubjects(db: DbExecutor, ids: readonly string[]): Promise<KeyedSubject[]> {
  const out: KeyedSubject[] = [];
  for (const part of chunks(ids, IN_CHUNK)) {
    const rows = await db
      .selectFrom('subjects as s')
      .leftJoin('subject_keys as k', 'k.subject_id', 's.id')
      .select([
        's.id as id',
        's.erased_at as erased_at',
        'k.kek_version as kek_version',
        'k.wrapped_key as wrapped_key',
      ])
      .where('s.id', 'in', part)
      .execute();
    for (const r of rows) {
      out.push({
        id: r.id,
        erased_at: r.erased_at ?? null,
        kek_version: r.kek_version == null ? null : Number(r.kek_version),
        wrapped_key: r.wrapped_key == null ? null : toBuffer(r.wrapped_key),
      });
    }
  }
  return out;
}

export async function getFieldRows(
  db: DbExecutor,
  ids: readonly string[],
  fields: readonly string[],
): Promise<{ subject_id: string; field: string; ciphertext: Buffer }[]> {
  const out: { subject_id: string; field: string; ciphertext: Buffer }[] = [];
  if (fields.length === 0) return out;
  for (const part of chunks(ids, Math.max(1, IN_CHUNK - fields.length))) {
    const rows = await db
      .selectFrom('subject_fields')
      .select(['subject_id', 'field', 'ciphertext'])
      .where('subject_id', 'in', part)
      .where('field', 'in', fields)
      .execute();
    for (const r of rows)
      out.push({ subject_id: r.subject_id, field: r.field, ciphertext: toBuffer(r.ciphertext) });
  }
  return out;
}

export async function fieldNames(db: DbExecutor, id: string): Promise<string[]> {
  const rows = await db
    .selectFrom('subject_fields')
    .select('field')
    .where('subject_id', '=', id)
    .orderBy('field')
    .execute();
  return rows.map((r) => r.field as string);
}

/** Erasure deletes a subject's index rows in its own transaction, so no join is needed here. */
export async function lookupHash(db: DbExecutor, field: string, hash: Buffer): Promise<string[]> {
  const rows = await db
    .selectFrom('blind_index')
    .select('subject_id')
    .where('field', '=', field)
    .where('hash', '=', hash)
    .execute();
  return rows.map((r) => r.subject_id as string).sort();
}

export async function deleteFields(db: DbExecutor, id: string, fields: readonly string[]): Promise<void> {
  if (fields.length === 0) return;
  await db.deleteFrom('subject_fields').where('subject_id', '=', id).where('field', 'in', fields).execute();
  await db.deleteFrom('blind_index').where('subject_id', '=', id).where('field', 'in', fields).execute();
}

export async function touchSubject(
  db: DbExecutor,
  id: string,
  updatedAt: string,
  fingerprint: Buffer | null,
): Promise<void> {
  await db.updateTable('subjects').set({ updated_at: updatedAt, fingerprint }).where('id', '=', id).execute();
}

/** Crypto-shredding: the wrapped key and blind indexes go; the subject row stays, marked erased. */
export async function shred(db: DbExecutor, id: string, at: string): Promise<void> {
  await db.deleteFrom('subject_keys').where('subject_id', '=', id).execute();
  await db.deleteFrom('blind_index').where('subject_id', '=', id).execute();
  await db
    .updateTable('subjects')
    .set({ erased_at: at, updated_at: at, fingerprint: null })
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
    .selectFrom('subject_keys')
    .select(['subject_id', 'kek_version', 'wrapped_key'])
    .where('subject_id', '>', afterId)
    .where('kek_version', '<', belowVersion)
    .orderBy('subject_id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    subject_id: r.subject_id,
    kek_version: Number(r.kek_version),
    wrapped_key: toBuffer(r.wrapped_key),
  }));
}

/**
 * Compare-and-set on the version read: a key erased or rewrapped meanwhile is left alone (a plain
 * delete-and-insert could bring an erased key back).
 */
export async function rewrapKey(
  db: DbExecutor,
  subjectId: string,
  fromVersion: number,
  toVersion: number,
  wrapped: Buffer,
): Promise<boolean> {
  const r = await db
    .updateTable('subject_keys')
    .set({ kek_version: toVersion, wrapped_key: wrapped })
    .where('subject_id', '=', subjectId)
    .where('kek_version', '=', fromVersion)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function countKeysByVersion(db: DbExecutor): Promise<Map<number, number>> {
  const rows = await db
    .selectFrom('subject_keys')
    .select(['kek_version', (eb) => eb.fn.countAll().as('n')])
    .groupBy('kek_version')
    .execute();
  return new Map(rows.map((r) => [Number(r.kek_version), Number(r.n)]));
}
