import type { Kysely, Transaction } from 'kysely';
import { MAX_BIND_PARAMS } from '../../db/index.js';
import type { CanariesTable, CanaryTripsTable, DisclosureTables } from './disclosure.tables.js';

type Db = Kysely<DisclosureTables> | Transaction<DisclosureTables>;
type AnyDb = Kysely<any> | Transaction<any>;
const d_ = (d: AnyDb) => d as unknown as Db;

const IN_CHUNK = 5000;

/**
 * Reserves `n` consecutive sequence numbers of a pool and returns the first. The counter row is
 * updated in the caller's transaction, so two concurrent plantings never get the same numbers
 * (the UPDATE takes the row lock on PostgreSQL; SQLite has one writer).
 */
export async function reserveSeq(db: AnyDb, pool: string, n: number): Promise<number> {
  await d_(db)
    .insertInto('canary_counters')
    .values({ pool, next_seq: 0 })
    .onConflict((oc) => oc.column('pool').doNothing())
    .execute();
  const r = await d_(db)
    .updateTable('canary_counters')
    .set((eb) => ({ next_seq: eb('next_seq', '+', n) }))
    .where('pool', '=', pool)
    .returning('next_seq')
    .executeTakeFirstOrThrow();
  return Number(r.next_seq) - n;
}

export async function insertCanaries(db: AnyDb, rows: readonly CanariesTable[]): Promise<void> {
  const per = Math.floor(MAX_BIND_PARAMS / 11);
  for (let i = 0; i < rows.length; i += per)
    await d_(db)
      .insertInto('canaries')
      .values(rows.slice(i, i + per) as CanariesTable[])
      .execute();
}

export async function canaryByContactHash(
  db: AnyDb,
  kind: 'mobile' | 'email',
  hash: Buffer,
): Promise<CanariesTable | undefined> {
  return d_(db)
    .selectFrom('canaries')
    .selectAll()
    .where(kind === 'mobile' ? 'mobile_hash' : 'email_hash', '=', hash)
    .executeTakeFirst();
}

export async function getCanary(db: AnyDb, subjectId: string): Promise<CanariesTable | undefined> {
  return d_(db).selectFrom('canaries').selectAll().where('subject_id', '=', subjectId).executeTakeFirst();
}

export async function canaryIdsAmong(db: AnyDb, subjectIds: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < subjectIds.length; i += IN_CHUNK) {
    const rows = await d_(db)
      .selectFrom('canaries')
      .select('subject_id')
      .where('subject_id', 'in', subjectIds.slice(i, i + IN_CHUNK) as string[])
      .execute();
    for (const r of rows) out.add(r.subject_id);
  }
  return out;
}

export async function canariesUniqueTo(
  db: AnyDb,
  kind: 'disclosure' | 'actor',
  id: string,
): Promise<CanariesTable[]> {
  return d_(db)
    .selectFrom('canaries')
    .selectAll()
    .where('unique_to_kind', '=', kind)
    .where('unique_to_id', '=', id)
    .orderBy('seq')
    .execute();
}

export async function allCanaryIds(db: AnyDb): Promise<Set<string>> {
  return new Set(
    (await d_(db).selectFrom('canaries').select('subject_id').execute()).map((r) => r.subject_id),
  );
}

export async function countCanaries(db: AnyDb): Promise<number> {
  const r = await d_(db)
    .selectFrom('canaries')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function insertTrip(db: AnyDb, row: CanaryTripsTable): Promise<void> {
  await d_(db).insertInto('canary_trips').values(row).execute();
}

export async function noteTrip(db: AnyDb, subjectId: string, at: string): Promise<void> {
  await d_(db)
    .updateTable('canaries')
    .set((eb) => ({ trip_count: eb('trip_count', '+', 1), last_tripped_at: at }))
    .where('subject_id', '=', subjectId)
    .execute();
}

export async function listTrips(db: AnyDb, limit: number): Promise<CanaryTripsTable[]> {
  return d_(db).selectFrom('canary_trips').selectAll().orderBy('received_at', 'desc').limit(limit).execute();
}

/** Which of these contact-point hashes (hex) an existing canary already holds. */
export async function canaryHashesAmong(
  db: AnyDb,
  mobileHashes: readonly Buffer[],
  emailHashes: readonly Buffer[],
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const [col, hashes] of [
    ['mobile_hash', mobileHashes],
    ['email_hash', emailHashes],
  ] as const)
    for (let i = 0; i < hashes.length; i += IN_CHUNK) {
      const rows = await d_(db)
        .selectFrom('canaries')
        .select(col)
        .where(col, 'in', hashes.slice(i, i + IN_CHUNK) as Buffer[])
        .execute();
      for (const r of rows) out.add(Buffer.from((r as Record<string, Uint8Array>)[col]!).toString('hex'));
    }
  return out;
}
