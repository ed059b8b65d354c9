import { toBuffer } from '../../db/index.js';
import type { DbExecutor } from '../../lib/audit.js';
import type { TraceRunRow } from './trace.tables.js';

/**
 * The trace's own table, and read-only queries over the evidence other modules write: access events
 * (access), disclosures and canaries (disclosure). The trace never writes to those tables; reading
 * them here, rather than through one bulk function per module, keeps a trace over millions of
 * events to a few indexed queries (ADR 0012).
 */
const CHUNK = 500;

function chunks<T>(xs: readonly T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

export interface Window {
  since?: string | undefined;
  until: string;
}

/** A field the leak carries and the views that could have produced it. */
export interface FieldNeed {
  field: string;
  views: readonly ('plain' | 'masked')[];
}

export interface ReadRow {
  id: string;
  at: string;
  actor_id: string;
  subject_id: string;
  action: string;
  views: string;
  leaf_hash: string;
}

export interface DisclosedRow {
  disclosure_id: string;
  recipient_id: string;
  subject_id: string;
  fields: string;
  created_at: string;
}

// Views are stored as JSON.stringify({field: view}): `"mobile":"plain"` is an exact substring.
function viewLike(eb: any, need: FieldNeed) {
  return eb.or(need.views.map((v) => eb('views', 'like', `%"${need.field}":"${v}"%`)));
}

export async function readsOfSubjects(
  db: DbExecutor,
  subjectIds: readonly string[],
  w: Window,
): Promise<ReadRow[]> {
  const out: ReadRow[] = [];
  for (const part of chunks(subjectIds)) {
    let q = db
      .selectFrom('access_events')
      .select(['id', 'at', 'actor_id', 'subject_id', 'action', 'views', 'leaf_hash'])
      .where('subject_id', 'in', part)
      .where('allowed', '=', 1)
      .where('at', '<=', w.until);
    if (w.since) q = q.where('at', '>=', w.since);
    out.push(...((await q.execute()) as ReadRow[]));
  }
  return out;
}

export async function disclosedOfSubjects(
  db: DbExecutor,
  subjectIds: readonly string[],
  w: Window,
): Promise<DisclosedRow[]> {
  const out: DisclosedRow[] = [];
  for (const part of chunks(subjectIds)) {
    let q = db
      .selectFrom('disclosure_items as i')
      .innerJoin('disclosures as d', 'd.id', 'i.disclosure_id')
      .select(['i.disclosure_id', 'd.recipient_id', 'i.subject_id', 'd.fields', 'd.created_at'])
      .where('i.subject_id', 'in', part)
      .where('d.created_at', '<=', w.until);
    if (w.since) q = q.where('d.created_at', '>=', w.since);
    out.push(...((await q.execute()) as DisclosedRow[]));
  }
  return out;
}

/**
 * What an actor saw: its allowed reads (not disclosures) in the window, each in views that reproduce
 * every needed field. The counts and the sets below are the same rows, grouped or listed.
 */
function seenReads(db: DbExecutor, needs: readonly FieldNeed[], w: Window) {
  let q = db
    .selectFrom('access_events')
    .where('allowed', '=', 1)
    .where('action', '!=', 'disclose')
    .where('subject_id', 'is not', null)
    .where('at', '<=', w.until);
  if (w.since) q = q.where('at', '>=', w.since);
  for (const n of needs) q = q.where((eb: any) => viewLike(eb, n));
  return q;
}

/** Per actor: distinct subjects read in views that reproduce every needed field (one event). */
export async function actorSeenCounts(
  db: DbExecutor,
  actorIds: readonly string[],
  needs: readonly FieldNeed[],
  w: Window,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const part of chunks(actorIds)) {
    const rows = (await seenReads(db, needs, w)
      .select((eb: any) => ['actor_id', eb.fn.count(eb.fn('distinct', ['subject_id'])).as('n')])
      .where('actor_id', 'in', part)
      .groupBy('actor_id')
      .execute()) as { actor_id: string; n: unknown }[];
    for (const r of rows) out.set(r.actor_id, Number(r.n));
  }
  return out;
}

/**
 * What each of the leading actors saw, in full: one query for all of them (distinct actor/subject
 * pairs), not one per actor (ADR 0012).
 */
export async function actorSeenSets(
  db: DbExecutor,
  actorIds: readonly string[],
  needs: readonly FieldNeed[],
  w: Window,
): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>(actorIds.map((id) => [id, new Set<string>()]));
  for (const part of chunks(actorIds)) {
    const rows = await seenReads(db, needs, w)
      .select(['actor_id', 'subject_id'])
      .distinct()
      .where('actor_id', 'in', part)
      .execute();
    for (const r of rows as { actor_id: string; subject_id: string }[])
      out.get(r.actor_id)!.add(r.subject_id);
  }
  return out;
}

/** What a recipient received: disclosure items in the window whose disclosure carried every needed field. */
function received(db: DbExecutor, needs: readonly FieldNeed[], w: Window) {
  let q = db
    .selectFrom('disclosure_items as i')
    .innerJoin('disclosures as d', 'd.id', 'i.disclosure_id')
    .where('d.created_at', '<=', w.until);
  if (w.since) q = q.where('d.created_at', '>=', w.since);
  if (needs.length)
    q = q.where((eb: any) => eb.and(needs.map((n) => eb('d.fields', 'like', `%"${n.field}"%`))));
  return q;
}

/** Per recipient: distinct subjects disclosed to it with every needed field (one disclosure). */
export async function recipientSeenCounts(
  db: DbExecutor,
  recipientIds: readonly string[],
  needs: readonly FieldNeed[],
  w: Window,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const part of chunks(recipientIds)) {
    const rows = (await received(db, needs, w)
      .select((eb: any) => ['d.recipient_id', eb.fn.count(eb.fn('distinct', ['i.subject_id'])).as('n')])
      .where('d.recipient_id', 'in', part)
      .groupBy('d.recipient_id')
      .execute()) as { recipient_id: string; n: unknown }[];
    for (const r of rows) out.set(r.recipient_id, Number(r.n));
  }
  return out;
}

/** What each of the leading recipients received, in full: one query for all of them. */
export async function recipientSeenSets(
  db: DbExecutor,
  recipientIds: readonly string[],
  needs: readonly FieldNeed[],
  w: Window,
): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>(recipientIds.map((id) => [id, new Set<string>()]));
  for (const part of chunks(recipientIds)) {
    const rows = await received(db, needs, w)
      .select(['d.recipient_id', 'i.subject_id'])
      .distinct()
      .where('d.recipient_id', 'in', part)
      .execute();
    for (const r of rows as { recipient_id: string; subject_id: string }[])
      out.get(r.recipient_id)!.add(r.subject_id);
  }
  return out;
}

export interface CanaryRow {
  subject_id: string;
  unique_to_kind: string;
  unique_to_id: string;
  recipient_id: string | null;
}

export async function canariesAmong(db: DbExecutor, subjectIds: readonly string[]): Promise<CanaryRow[]> {
  const out: CanaryRow[] = [];
  for (const part of chunks(subjectIds))
    out.push(
      ...((await db
        .selectFrom('canaries')
        .select(['subject_id', 'unique_to_kind', 'unique_to_id', 'recipient_id'])
        .where('subject_id', 'in', part)
        .execute()) as CanaryRow[]),
    );
  return out;
}

/** Canaries placed in each actor's view, and in each recipient's exports. */
export async function canaryCounts(
  db: DbExecutor,
  actorIds: readonly string[],
  recipientIds: readonly string[],
): Promise<{ actors: Map<string, number>; recipients: Map<string, number> }> {
  const actors = new Map<string, number>();
  const recipients = new Map<string, number>();
  for (const part of chunks(actorIds)) {
    const rows = await db
      .selectFrom('canaries')
      .select((eb: any) => ['unique_to_id', eb.fn.countAll().as('n')])
      .where('unique_to_kind', '=', 'actor')
      .where('unique_to_id', 'in', part)
      .groupBy('unique_to_id')
      .execute();
    for (const r of rows as { unique_to_id: string; n: unknown }[]) actors.set(r.unique_to_id, Number(r.n));
  }
  for (const part of chunks(recipientIds)) {
    const rows = await db
      .selectFrom('canaries')
      .select((eb: any) => ['recipient_id', eb.fn.countAll().as('n')])
      .where('recipient_id', 'in', part)
      .groupBy('recipient_id')
      .execute();
    for (const r of rows as { recipient_id: string; n: unknown }[])
      recipients.set(r.recipient_id, Number(r.n));
  }
  return { actors, recipients };
}

/** Canary subjects tripped (a call, message or mail to them) in the window. */
export async function trippedCanaries(db: DbExecutor, w: Window): Promise<{ subject: string; at: string }[]> {
  let q = db
    .selectFrom('canary_trips')
    .select(['canary_subject_id', 'occurred_at'])
    .where('matched', '=', 1)
    .where('canary_subject_id', 'is not', null)
    .where('occurred_at', '<=', w.until);
  if (w.since) q = q.where('occurred_at', '>=', w.since);
  return (await q.execute()).map((r: any) => ({
    subject: r.canary_subject_id as string,
    at: r.occurred_at as string,
  }));
}

// --- trace runs -----------------------------------------------------------------------------------

export async function insertRun(db: DbExecutor, row: TraceRunRow): Promise<void> {
  await db.insertInto('trace_runs').values(row).execute();
}

export async function getRun(db: DbExecutor, id: string): Promise<TraceRunRow | undefined> {
  const r = await db.selectFrom('trace_runs').selectAll().where('id', '=', id).executeTakeFirst();
  if (!r) return undefined;
  return { ...r, input_sealed: r.input_sealed == null ? null : toBuffer(r.input_sealed) } as TraceRunRow;
}

export async function listRuns(
  db: DbExecutor,
  limit: number,
): Promise<Omit<TraceRunRow, 'input_sealed' | 'result'>[]> {
  return (await db
    .selectFrom('trace_runs')
    .select([
      'id',
      'created_at',
      'created_by',
      'inputs',
      'input_format',
      'input_bytes',
      'erase_after',
      'erased_at',
      'summary',
    ])
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute()) as Omit<TraceRunRow, 'input_sealed' | 'result'>[];
}

export async function expiredRuns(db: DbExecutor, now: string): Promise<string[]> {
  const rows = await db
    .selectFrom('trace_runs')
    .select('id')
    .where('erase_after', '<=', now)
    .where('erased_at', 'is', null)
    .execute();
  return rows.map((r: any) => r.id as string);
}

export async function eraseInput(db: DbExecutor, id: string, at: string): Promise<void> {
  await db
    .updateTable('trace_runs')
    .set({ input_sealed: null, erased_at: at })
    .where('id', '=', id)
    .execute();
}

export type TraceRunRowLike = Omit<TraceRunRow, 'input_sealed'>;
