import type { Kysely, Transaction } from 'kysely';
import { MAX_BIND_PARAMS } from '../../db/index.js';
import type { ActorRequestRow, ActorRow, ApiKeyRow, AssignmentRow } from './actors.tables.js';

/** Repositories take a Kysely instance or a transaction; services open transactions. */
export type Db = Kysely<any>;
export type Executor = Kysely<any> | Transaction<any>;

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

export const actorsRepo = {
  async insert(db: Executor, row: ActorRow): Promise<void> {
    await db.insertInto('actors').values(row).execute();
  },
  async get(db: Executor, id: string): Promise<ActorRow | undefined> {
    return (await db.selectFrom('actors').selectAll().where('id', '=', id).executeTakeFirst()) as
      | ActorRow
      | undefined;
  },
  async byName(db: Executor, name: string): Promise<ActorRow | undefined> {
    return (await db.selectFrom('actors').selectAll().where('name', '=', name).executeTakeFirst()) as
      | ActorRow
      | undefined;
  },
  async list(
    db: Executor,
    f: { status?: string | undefined; kind?: string | undefined },
  ): Promise<ActorRow[]> {
    let q = db.selectFrom('actors').selectAll();
    if (f.status) q = q.where('status', '=', f.status);
    if (f.kind) q = q.where('kind', '=', f.kind);
    return (await q.orderBy('created_at').orderBy('id').execute()) as ActorRow[];
  },
  async update(db: Executor, id: string, patch: Partial<ActorRow>): Promise<void> {
    await db.updateTable('actors').set(patch).where('id', '=', id).execute();
  },
  /** Actors whose id or name is in `refs`, in bounded statements. */
  async resolve(db: Executor, refs: readonly string[]): Promise<Pick<ActorRow, 'id' | 'name' | 'status'>[]> {
    const out: Pick<ActorRow, 'id' | 'name' | 'status'>[] = [];
    for (const part of chunks(refs, Math.floor(MAX_BIND_PARAMS / 2))) {
      const rows = await db
        .selectFrom('actors')
        .select(['id', 'name', 'status'])
        .where((eb) => eb.or([eb('id', 'in', part), eb('name', 'in', part)]))
        .execute();
      out.push(...(rows as Pick<ActorRow, 'id' | 'name' | 'status'>[]));
    }
    return out;
  },
};

export const keysRepo = {
  async insert(db: Executor, row: ApiKeyRow): Promise<void> {
    await db.insertInto('api_keys').values(row).execute();
  },
  /** The key and its actor, in one primary-key lookup. */
  async withActor(db: Executor, keyId: string): Promise<(ApiKeyRow & { actor: ActorRow }) | undefined> {
    const r = await db
      .selectFrom('api_keys as k')
      .innerJoin('actors as a', 'a.id', 'k.actor_id')
      .select([
        'k.id as k_id',
        'k.actor_id as k_actor_id',
        'k.hash as k_hash',
        'k.created_at as k_created_at',
        'k.expires_at as k_expires_at',
        'k.revoked_at as k_revoked_at',
        'a.id',
        'a.name',
        'a.kind',
        'a.roles',
        'a.attributes',
        'a.status',
        'a.created_at',
        'a.created_by',
        'a.disabled_at',
      ])
      .where('k.id', '=', keyId)
      .executeTakeFirst();
    if (!r) return undefined;
    const x = r as any;
    return {
      id: x.k_id,
      actor_id: x.k_actor_id,
      hash: x.k_hash,
      created_at: x.k_created_at,
      expires_at: x.k_expires_at,
      revoked_at: x.k_revoked_at,
      actor: {
        id: x.id,
        name: x.name,
        kind: x.kind,
        roles: x.roles,
        attributes: x.attributes,
        status: x.status,
        created_at: x.created_at,
        created_by: x.created_by,
        disabled_at: x.disabled_at,
      },
    };
  },
  async get(db: Executor, keyId: string): Promise<ApiKeyRow | undefined> {
    return (await db.selectFrom('api_keys').selectAll().where('id', '=', keyId).executeTakeFirst()) as
      | ApiKeyRow
      | undefined;
  },
  async forActor(db: Executor, actorId: string): Promise<ApiKeyRow[]> {
    return (await db
      .selectFrom('api_keys')
      .selectAll()
      .where('actor_id', '=', actorId)
      .orderBy('created_at')
      .orderBy('id')
      .execute()) as ApiKeyRow[];
  },
  /** Revokes the actor's live keys now; returns how many. */
  async revokeAll(db: Executor, actorId: string, at: string): Promise<number> {
    const r = await db
      .updateTable('api_keys')
      .set({ revoked_at: at })
      .where('actor_id', '=', actorId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  },
  /** Lets the actor's live keys run until `until` (a rotation grace period); returns how many. */
  async expireAll(db: Executor, actorId: string, until: string): Promise<number> {
    const r = await db
      .updateTable('api_keys')
      .set({ expires_at: until })
      .where('actor_id', '=', actorId)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', until)]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  },
  async revoke(db: Executor, keyId: string, at: string): Promise<boolean> {
    const r = await db
      .updateTable('api_keys')
      .set({ revoked_at: at })
      .where('id', '=', keyId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  },
};

export const assignmentsRepo = {
  /** Upserts assignments (re-assigning a removed or expired one revives it), in bounded statements. */
  async upsert(db: Executor, rows: readonly AssignmentRow[]): Promise<void> {
    for (const part of chunks(rows, Math.floor(MAX_BIND_PARAMS / 6))) {
      await db
        .insertInto('assignments')
        .values(part)
        .onConflict((oc) =>
          oc.columns(['actor_id', 'subject_id']).doUpdateSet((eb) => ({
            assigned_at: eb.ref('excluded.assigned_at'),
            assigned_by: eb.ref('excluded.assigned_by'),
            expires_at: eb.ref('excluded.expires_at'),
            removed_at: null,
          })),
        )
        .execute();
    }
  },
  /** Marks an actor's assignments of these subjects removed; returns how many were live. */
  async remove(db: Executor, actorId: string, subjectIds: readonly string[], at: string): Promise<number> {
    let n = 0;
    for (const part of chunks(subjectIds, MAX_BIND_PARAMS - 2)) {
      const r = await db
        .updateTable('assignments')
        .set({ removed_at: at })
        .where('actor_id', '=', actorId)
        .where('subject_id', 'in', part)
        .where('removed_at', 'is', null)
        .executeTakeFirst();
      n += Number(r.numUpdatedRows);
    }
    return n;
  },
  /** One primary-key lookup. */
  /**
   * The live (not removed, not expired at `at`) assignments among these (actor, subject) pairs, as
   * `actor\0subject` keys: one query per actor (IN list of subjects) instead of one per pair.
   */
  async liveAmong(
    db: Executor,
    pairs: readonly { actorId: string; subjectId: string }[],
    at: string,
  ): Promise<Set<string>> {
    const byActor = new Map<string, Set<string>>();
    for (const p of pairs) {
      const s = byActor.get(p.actorId);
      if (s) s.add(p.subjectId);
      else byActor.set(p.actorId, new Set([p.subjectId]));
    }
    const out = new Set<string>();
    for (const [actorId, subjects] of byActor) {
      const all = [...subjects];
      for (let i = 0; i < all.length; i += 5000) {
        const rows = await db
          .selectFrom('assignments')
          .select(['subject_id', 'expires_at'])
          .where('actor_id', '=', actorId)
          .where('subject_id', 'in', all.slice(i, i + 5000))
          .where('removed_at', 'is', null)
          .execute();
        for (const r of rows) {
          if (r.expires_at === null || (r.expires_at as string) > at)
            out.add(`${actorId}\0${r.subject_id as string}`);
        }
      }
    }
    return out;
  },
  async isLive(db: Executor, actorId: string, subjectId: string, at: string): Promise<boolean> {
    const r = await db
      .selectFrom('assignments')
      .select('expires_at')
      .where('actor_id', '=', actorId)
      .where('subject_id', '=', subjectId)
      .where('removed_at', 'is', null)
      .executeTakeFirst();
    return r !== undefined && (r.expires_at === null || (r.expires_at as string) > at);
  },
  async list(
    db: Executor,
    f: { actorId?: string | undefined; subjectId?: string | undefined; at: string; limit: number },
  ): Promise<AssignmentRow[]> {
    let q = db
      .selectFrom('assignments')
      .selectAll()
      .where('removed_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', f.at)]));
    if (f.actorId) q = q.where('actor_id', '=', f.actorId);
    if (f.subjectId) q = q.where('subject_id', '=', f.subjectId);
    return (await q.orderBy('actor_id').orderBy('subject_id').limit(f.limit).execute()) as AssignmentRow[];
  },
};

export const requestsRepo = {
  async insert(db: Executor, row: ActorRequestRow): Promise<void> {
    await db.insertInto('actor_requests').values(row).execute();
  },
  async get(db: Executor, id: string): Promise<ActorRequestRow | undefined> {
    return (await db.selectFrom('actor_requests').selectAll().where('id', '=', id).executeTakeFirst()) as
      | ActorRequestRow
      | undefined;
  },
  async list(db: Executor, f: { status?: string | undefined; limit: number }): Promise<ActorRequestRow[]> {
    let q = db.selectFrom('actor_requests').selectAll();
    if (f.status) q = q.where('status', '=', f.status);
    return (await q.orderBy('requested_at').orderBy('id').limit(f.limit).execute()) as ActorRequestRow[];
  },
  /** Decides a pending request; false when another decision came first (compare-and-set on status). */
  async decide(
    db: Executor,
    id: string,
    patch: Pick<ActorRequestRow, 'status' | 'decided_by' | 'decided_at' | 'result_actor_id'>,
  ): Promise<boolean> {
    const r = await db
      .updateTable('actor_requests')
      .set(patch)
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },
};
