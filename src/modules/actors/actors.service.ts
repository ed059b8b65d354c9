import { type DialectName, isUniqueViolation, toBuffer } from '../../db/index.js';
import { type AuditEvent, type DbExecutor, type Recorder, requireRecorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { apiKeyId, apiKeyMatches, newApiKey, sha256 } from '../../lib/crypto/index.js';
import { commonError } from '../../lib/errors.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import type { Principal } from '../../lib/principal.js';
import { actorsError } from './actors.errors.js';
import {
  actorsRepo,
  assignmentsRepo,
  type Db,
  type Executor,
  keysRepo,
  requestsRepo,
} from './actors.repo.js';
import type { ActorRequestRow, ActorRow, AssignmentRow } from './actors.tables.js';
import { type AssignmentEntry, parseAssignmentCsv } from './csv.js';
import {
  type Actor,
  type ActorKind,
  type ActorPatch,
  ActorPatchSchema,
  ADMIN_ROLE,
  type ApiKeyInfo,
  type NewActor,
  NewActorSchema,
  parseInput,
  subjectIdSchema,
} from './model.js';

export interface ActorsDeps {
  db: Db;
  dialect: DialectName;
  clock: Clock;
  ids?: IdSource;
  /** Appends administrative events (actor.*, key.*, assignment.*) in the same transaction. */
  record: Recorder;
  /**
   * Of these roles, those whose current policy allows plain personal information (any field with
   * view plain for any purpose). Creating an actor with one, or granting one, needs a second
   * administrator (four-eyes). The policy module answers it; without it no role counts as such.
   */
  plainRoles?: (roles: readonly string[]) => string[];
  /** Resolves the organisation's external subject ids to subject ids (the vault provides it). */
  resolveSubjects?: (externalIds: readonly string[]) => Promise<ReadonlyMap<string, string>>;
  /**
   * How long (ms) an authenticated key is trusted from memory (default 0: every request asks the
   * database). Any change to an actor or key made through this service forgets every cached key at
   * once; a change made by another node is seen within this time (docs/adr/0017).
   */
  authCacheMs?: number;
}

/** The most keys kept in memory; past it the cache starts afresh. */
const AUTH_CACHE_MAX = 10_000;

/** Why one row of a bulk assignment was not applied. Rows are named by line/index, never by value. */
export type AssignmentRejection =
  | 'UNKNOWN_ACTOR'
  | 'ACTOR_DISABLED'
  | 'INVALID_SUBJECT'
  | 'UNRESOLVED_SUBJECT'
  | 'INVALID_EXPIRY'
  | 'EXPIRED';

export interface AssignResult {
  /** Assignments written (created, renewed or revived). */
  assigned: number;
  rejected: { line: number; code: AssignmentRejection }[];
}

export interface UnassignResult {
  /** Live assignments removed. */
  removed: number;
  rejected: { line: number; code: AssignmentRejection }[];
}

export interface Assignment {
  actorId: string;
  subjectId: string;
  assignedAt: string;
  assignedBy: string | null;
  expiresAt: string | null;
}

export const MAX_ASSIGNMENTS_PER_BATCH = 100_000;

/** Anything a bulk call accepts: the CSV parser's rows or JSON entries. */
export type AssignmentInput = Omit<AssignmentEntry, 'line'> & { line?: number };

function toActor(r: ActorRow): Actor {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind as ActorKind,
    roles: JSON.parse(r.roles) as string[],
    attributes: JSON.parse(r.attributes) as Record<string, string>,
    status: r.status,
    createdAt: r.created_at,
    createdBy: r.created_by,
    disabledAt: r.disabled_at,
  };
}

export function toPrincipal(
  a: Pick<Actor, 'id' | 'kind' | 'roles' | 'attributes'> & { createdAt?: string },
): Principal {
  return {
    id: a.id,
    kind: a.kind,
    roles: a.roles,
    attributes: a.attributes,
    ...(a.createdAt ? { since: a.createdAt } : {}),
  };
}

// Compared against when a key id is unknown, so a miss costs the same hash-and-compare as a hit.
const DUMMY_HASH = Buffer.alloc(32);

export type Actors = ReturnType<typeof createActors>;

/** A four-eyes request: an actor change that waits for a second administrator's approval. */
export interface ActorRequest {
  id: string;
  action: 'create' | 'update';
  /** The actor an update targets. */
  target: string | null;
  /** The actor's name (create) and the requested roles and attributes. */
  name: string | null;
  kind: ActorKind | null;
  roles: string[] | null;
  /** The requested roles whose policy allows plain personal information. */
  privilegedRoles: string[];
  status: 'pending' | 'approved' | 'rejected';
  requestedBy: string;
  requestedAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  /** The actor created or changed on approval. */
  actor: string | null;
}

function toRequest(r: ActorRequestRow): ActorRequest {
  const p = JSON.parse(r.payload) as { name?: string; kind?: ActorKind; roles?: string[] };
  return {
    id: r.id,
    action: r.action,
    target: r.target_id,
    name: p.name ?? null,
    kind: p.kind ?? null,
    roles: p.roles ?? null,
    privilegedRoles: JSON.parse(r.privileged_roles) as string[],
    status: r.status,
    requestedBy: r.requested_by,
    requestedAt: r.requested_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    actor: r.result_actor_id,
  };
}

export function createActors(deps: ActorsDeps) {
  requireRecorder(deps.record, 'createActors');
  const ids = deps.ids ?? randomId;
  const now = () => deps.clock.now();
  const keyCache = createKeyCache(deps.authCacheMs ?? 0);

  async function record(trx: Executor, events: AuditEvent[]): Promise<void> {
    if (events.length > 0) await deps.record(trx, events);
  }

  /** Stores a new live key (its hash only) for `actorId`. */
  async function insertKey(trx: Executor, actorId: string, key: { id: string; hash: Buffer }, at: string) {
    await keysRepo.insert(trx, {
      id: key.id,
      actor_id: actorId,
      hash: key.hash,
      created_at: at,
      expires_at: null,
      revoked_at: null,
    });
  }

  async function mustGet(db: Executor, ref: string): Promise<ActorRow> {
    const row = (await actorsRepo.get(db, ref)) ?? (await actorsRepo.byName(db, ref));
    if (!row) throw actorsError('ACTORS_NOT_FOUND');
    return row;
  }

  /** Refuses a change that would leave no active administrator (nobody could manage actors). */
  async function keepAnAdmin(trx: Executor, changing: ActorRow, stillAdmin: boolean): Promise<void> {
    if (stillAdmin || changing.status !== 'active' || !toActor(changing).roles.includes(ADMIN_ROLE)) return;
    const others = (await actorsRepo.list(trx, { status: 'active' })).filter(
      (r) => r.id !== changing.id && toActor(r).roles.includes(ADMIN_ROLE),
    );
    if (others.length === 0) throw actorsError('ACTORS_LAST_ADMIN');
  }

  async function resolveEntries(
    entries: readonly AssignmentInput[],
    opts: { requireActive: boolean; checkExpiry: boolean },
  ): Promise<{
    ok: { actorId: string; subjectId: string; expiresAt: string | null }[];
    rejected: AssignResult['rejected'];
  }> {
    if (entries.length > MAX_ASSIGNMENTS_PER_BATCH) {
      throw actorsError('ACTORS_BATCH_TOO_LARGE', {
        details: { max: MAX_ASSIGNMENTS_PER_BATCH, given: entries.length },
      });
    }
    const rejected: AssignResult['rejected'] = [];
    const at = now();
    const externals = [
      ...new Set(entries.flatMap((e) => (e.externalId && !e.subjectId ? [e.externalId] : []))),
    ];
    const resolved =
      externals.length > 0 && deps.resolveSubjects
        ? await deps.resolveSubjects(externals)
        : new Map<string, string>();
    const refs = [...new Set(entries.map((e) => e.actor).filter((a) => a.length > 0))];
    const actors = refs.length > 0 ? await actorsRepo.resolve(deps.db, refs) : [];
    const byId = new Map(actors.map((a) => [a.id, a]));
    const byName = new Map(actors.map((a) => [a.name, a]));
    const ok = new Map<string, { actorId: string; subjectId: string; expiresAt: string | null }>();
    type Row = { actorId: string; subjectId: string; expiresAt: string | null };
    const classify = (e: AssignmentInput): Row | AssignmentRejection => {
      const actor = byId.get(e.actor) ?? byName.get(e.actor);
      if (!actor) return 'UNKNOWN_ACTOR';
      if (opts.requireActive && actor.status !== 'active') return 'ACTOR_DISABLED';
      let subjectId: string | undefined;
      if (e.subjectId !== undefined && e.externalId !== undefined) return 'INVALID_SUBJECT';
      if (e.subjectId !== undefined) {
        if (!subjectIdSchema.safeParse(e.subjectId).success) return 'INVALID_SUBJECT';
        subjectId = e.subjectId;
      } else if (e.externalId !== undefined) {
        subjectId = resolved.get(e.externalId);
        if (!subjectId) return 'UNRESOLVED_SUBJECT';
      } else return 'INVALID_SUBJECT';
      let expiresAt: string | null = null;
      if (opts.checkExpiry && e.expiresAt !== undefined) {
        const t = Date.parse(e.expiresAt);
        if (Number.isNaN(t)) return 'INVALID_EXPIRY';
        if (t <= at.getTime()) return 'EXPIRED';
        expiresAt = new Date(t).toISOString();
      }
      return { actorId: actor.id, subjectId, expiresAt };
    };
    entries.forEach((e, i) => {
      const r = classify(e);
      // A later row for the same pair wins.
      if (typeof r === 'string') rejected.push({ line: e.line ?? i, code: r });
      else ok.set(`${r.actorId}\0${r.subjectId}`, r);
    });
    return { ok: [...ok.values()], rejected };
  }

  function countBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, number> {
    const m = new Map<string, number>();
    for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
    return m;
  }

  /**
   * The roles among `roles` that need a second administrator: those the policy lets read plain PI,
   * and the administrator role itself (else one administrator makes a second one, his own
   * accomplice, and approves through it).
   */
  function plainRolesOf(roles: readonly string[]): string[] {
    if (!deps.plainRoles) return [];
    const out = deps.plainRoles(roles);
    if (roles.includes(ADMIN_ROLE) && !out.includes(ADMIN_ROLE)) out.push(ADMIN_ROLE);
    return out;
  }

  async function insertActor(
    trx: Executor,
    v: ReturnType<typeof NewActorSchema.parse>,
    by: string | null,
    extra: AuditEvent[],
  ): Promise<{ actor: Actor; apiKey: string }> {
    const at = now().toISOString();
    const row: ActorRow = {
      id: ids('act'),
      name: v.name,
      kind: v.kind,
      roles: JSON.stringify(v.roles),
      attributes: JSON.stringify(v.attributes),
      status: 'active',
      created_at: at,
      created_by: by,
      disabled_at: null,
    };
    const key = newApiKey();
    if (await actorsRepo.byName(trx, v.name)) throw actorsError('ACTORS_NAME_TAKEN');
    await actorsRepo.insert(trx, row);
    await insertKey(trx, row.id, key, at);
    await record(trx, [
      ...extra,
      {
        kind: 'actor.created',
        at,
        actor: by,
        attrs: { target: row.id, kind: v.kind, roles: v.roles, key: key.id },
      },
    ]);
    return { actor: toActor(row), apiKey: key.token };
  }

  async function updateActor(
    trx: Executor,
    row: ActorRow,
    v: ReturnType<typeof ActorPatchSchema.parse>,
    by: string | null,
    extra: AuditEvent[],
  ): Promise<Actor> {
    if (v.roles) await keepAnAdmin(trx, row, v.roles.includes(ADMIN_ROLE));
    const next: Partial<ActorRow> = {};
    if (v.roles) next.roles = JSON.stringify(v.roles);
    if (v.attributes) next.attributes = JSON.stringify(v.attributes);
    await actorsRepo.update(trx, row.id, next);
    const out = toActor({ ...row, ...next });
    await record(trx, [
      ...extra,
      {
        kind: 'actor.updated',
        at: now().toISOString(),
        actor: by,
        attrs: { target: row.id, roles: out.roles, attributes: Object.keys(out.attributes).sort() },
      },
    ]);
    return out;
  }

  /** Roles an update adds that allow plain PI (roles the actor already holds need no new approval). */
  function grantedPlainRoles(row: ActorRow, roles: readonly string[] | undefined): string[] {
    if (!roles) return [];
    const held = new Set(JSON.parse(row.roles) as string[]);
    return plainRolesOf(roles.filter((r) => !held.has(r)));
  }

  const actors = {
    /**
     * Creates an actor and its first API key; the key is returned here once and never again. An
     * administrator (`by` an actor) cannot create one whose roles allow plain personal information:
     * that takes a request and a second administrator's approval (`request`, `approveRequest`).
     * `by: null` is the host operator (CLI with the database and key file, bootstrap, simulation).
     */
    async create(input: NewActor, opts: { by: string | null }): Promise<{ actor: Actor; apiKey: string }> {
      const v = parseInput(NewActorSchema, input);
      if (opts.by !== null) {
        const privileged = plainRolesOf(v.roles);
        if (privileged.length > 0)
          throw actorsError('ACTORS_FOUR_EYES_REQUIRED', { details: { roles: privileged } });
      }
      try {
        return await deps.db.transaction().execute((trx) => insertActor(trx, v, opts.by, []));
      } catch (e) {
        if (isUniqueViolation(e)) throw actorsError('ACTORS_NAME_TAKEN', { cause: e });
        throw e;
      }
    },

    /** By id or by name. */
    async get(ref: string): Promise<Actor> {
      return toActor(await mustGet(deps.db, ref));
    },

    async list(
      f: {
        status?: 'active' | 'disabled' | undefined;
        kind?: ActorKind | undefined;
        role?: string | undefined;
      } = {},
    ): Promise<Actor[]> {
      const rows = await actorsRepo.list(deps.db, f);
      const all = rows.map(toActor);
      return f.role ? all.filter((a) => a.roles.includes(f.role!)) : all;
    },

    /**
     * Replaces roles and/or attributes. Granting a role that allows plain personal information takes
     * a request and a second administrator's approval when `by` is an actor (four-eyes).
     */
    async update(ref: string, patch: ActorPatch, opts: { by: string | null }): Promise<Actor> {
      const v = parseInput(ActorPatchSchema, patch);
      return keyCache.forgetAfter(() =>
        deps.db.transaction().execute(async (trx) => {
          const row = await mustGet(trx, ref);
          if (opts.by !== null) {
            const privileged = grantedPlainRoles(row, v.roles);
            if (privileged.length > 0)
              throw actorsError('ACTORS_FOUR_EYES_REQUIRED', { details: { roles: privileged } });
          }
          return updateActor(trx, row, v, opts.by, []);
        }),
      );
    },

    /**
     * Files a four-eyes request: a new actor (`create`) or new roles for one (`update`) that the
     * policy lets read plain personal information. Recorded; nothing changes until another
     * administrator approves.
     */
    async request(
      input: { action: 'create'; actor: NewActor } | { action: 'update'; target: string; patch: ActorPatch },
      opts: { by: string },
    ): Promise<ActorRequest> {
      const at = now().toISOString();
      return deps.db.transaction().execute(async (trx) => {
        let row: ActorRequestRow;
        if (input.action === 'create') {
          const v = parseInput(NewActorSchema, input.actor);
          const privileged = plainRolesOf(v.roles);
          if (privileged.length === 0) throw actorsError('ACTORS_REQUEST_NOT_NEEDED');
          if (await actorsRepo.byName(trx, v.name)) throw actorsError('ACTORS_NAME_TAKEN');
          row = {
            id: ids('areq'),
            action: 'create',
            target_id: null,
            payload: JSON.stringify(v),
            privileged_roles: JSON.stringify(privileged),
            status: 'pending',
            requested_by: opts.by,
            requested_at: at,
            decided_by: null,
            decided_at: null,
            result_actor_id: null,
          };
        } else {
          const v = parseInput(ActorPatchSchema, input.patch);
          const target = await mustGet(trx, input.target);
          const privileged = grantedPlainRoles(target, v.roles);
          if (privileged.length === 0) throw actorsError('ACTORS_REQUEST_NOT_NEEDED');
          row = {
            id: ids('areq'),
            action: 'update',
            target_id: target.id,
            payload: JSON.stringify(v),
            privileged_roles: JSON.stringify(privileged),
            status: 'pending',
            requested_by: opts.by,
            requested_at: at,
            decided_by: null,
            decided_at: null,
            result_actor_id: null,
          };
        }
        await requestsRepo.insert(trx, row);
        await record(trx, [
          {
            kind: 'actor.request.filed',
            at,
            actor: opts.by,
            attrs: {
              request: row.id,
              action: row.action,
              ...(row.target_id ? { target: row.target_id } : {}),
              roles: JSON.parse(row.privileged_roles) as string[],
            },
          },
        ]);
        return toRequest(row);
      });
    },

    async requests(
      q: { status?: 'pending' | 'approved' | 'rejected'; limit?: number } = {},
    ): Promise<ActorRequest[]> {
      return (
        await requestsRepo.list(deps.db, { status: q.status, limit: Math.min(q.limit ?? 200, 1000) })
      ).map(toRequest);
    },

    async getRequest(id: string): Promise<ActorRequest> {
      const r = await requestsRepo.get(deps.db, id);
      if (!r) throw actorsError('ACTORS_REQUEST_NOT_FOUND');
      return toRequest(r);
    },

    /**
     * A second administrator approves: only now is the actor created (its key returned here, once,
     * to the approver) or the role granted, in the same transaction as the approval's record. The
     * requester cannot approve his own request; the approver must be an active administrator.
     */
    async approveRequest(
      id: string,
      opts: { by: string },
    ): Promise<{ request: ActorRequest; actor: Actor; apiKey?: string }> {
      return keyCache.forgetAfter(() =>
        deps.db.transaction().execute(async (trx) => {
          const r = await requestsRepo.get(trx, id);
          if (!r) throw actorsError('ACTORS_REQUEST_NOT_FOUND');
          if (r.requested_by === opts.by) throw actorsError('ACTORS_REQUEST_SELF');
          if (r.status !== 'pending') throw actorsError('ACTORS_REQUEST_DECIDED');
          const approver = await actorsRepo.get(trx, opts.by);
          if (!approver || approver.status !== 'active' || !toActor(approver).roles.includes(ADMIN_ROLE))
            throw commonError('FORBIDDEN');
          const at = now().toISOString();
          const approved: AuditEvent = {
            kind: 'actor.request.approved',
            at,
            actor: opts.by,
            attrs: { request: r.id, action: r.action, requestedBy: r.requested_by },
          };
          let actor: Actor;
          let apiKey: string | undefined;
          if (r.action === 'create') {
            const v = parseInput(NewActorSchema, JSON.parse(r.payload));
            try {
              ({ actor, apiKey } = await insertActor(trx, v, opts.by, [approved]));
            } catch (e) {
              if (isUniqueViolation(e)) throw actorsError('ACTORS_NAME_TAKEN', { cause: e });
              throw e;
            }
          } else {
            const target = await mustGet(trx, r.target_id!);
            actor = await updateActor(
              trx,
              target,
              parseInput(ActorPatchSchema, JSON.parse(r.payload)),
              opts.by,
              [approved],
            );
          }
          const decided = {
            status: 'approved' as const,
            decided_by: opts.by,
            decided_at: at,
            result_actor_id: actor.id,
          };
          if (!(await requestsRepo.decide(trx, r.id, decided))) throw actorsError('ACTORS_REQUEST_DECIDED');
          return { request: toRequest({ ...r, ...decided }), actor, ...(apiKey ? { apiKey } : {}) };
        }),
      );
    },

    /** Another administrator (or the requester, withdrawing it) rejects a pending request; recorded. */
    async rejectRequest(id: string, opts: { by: string }): Promise<ActorRequest> {
      return deps.db.transaction().execute(async (trx) => {
        const r = await requestsRepo.get(trx, id);
        if (!r) throw actorsError('ACTORS_REQUEST_NOT_FOUND');
        const at = now().toISOString();
        const decided = {
          status: 'rejected' as const,
          decided_by: opts.by,
          decided_at: at,
          result_actor_id: null,
        };
        if (!(await requestsRepo.decide(trx, r.id, decided))) throw actorsError('ACTORS_REQUEST_DECIDED');
        await record(trx, [{ kind: 'actor.request.rejected', at, actor: opts.by, attrs: { request: r.id } }]);
        return toRequest({ ...r, ...decided });
      });
    },

    /** Disables an actor: its keys stop authenticating at once. Not reversible by design. */
    async disable(ref: string, opts: { by: string | null }): Promise<Actor> {
      let out: Actor | undefined;
      await keyCache.forgetAfter(() =>
        deps.db.transaction().execute(async (trx) => {
          const row = await mustGet(trx, ref);
          if (row.status === 'disabled') {
            out = toActor(row);
            return;
          }
          await keepAnAdmin(trx, row, false);
          const at = now().toISOString();
          await actorsRepo.update(trx, row.id, { status: 'disabled', disabled_at: at });
          const revoked = await keysRepo.revokeAll(trx, row.id, at);
          out = toActor({ ...row, status: 'disabled', disabled_at: at });
          await record(trx, [
            { kind: 'actor.disabled', at, actor: opts.by, attrs: { target: row.id, keysRevoked: revoked } },
          ]);
        }),
      );
      return out!;
    },

    /**
     * Issues a new key and retires the old ones: at once, or after `graceSeconds` so a service can
     * switch over without an outage. The new key is returned once.
     */
    async rotateKey(
      ref: string,
      opts: { by: string | null; graceSeconds?: number },
    ): Promise<{ keyId: string; apiKey: string; retired: number; oldKeysExpireAt: string | null }> {
      const grace = opts.graceSeconds ?? 0;
      if (!Number.isInteger(grace) || grace < 0 || grace > 7 * 86_400) {
        throw commonError('VALIDATION_FAILED', { details: { fields: ['graceSeconds'] } });
      }
      const key = newApiKey();
      let retired = 0;
      let until: string | null = null;
      await keyCache.forgetAfter(() =>
        deps.db.transaction().execute(async (trx) => {
          const row = await mustGet(trx, ref);
          if (row.status !== 'active') throw actorsError('ACTORS_DISABLED');
          const t = now();
          const at = t.toISOString();
          if (grace > 0) {
            until = new Date(t.getTime() + grace * 1000).toISOString();
            retired = await keysRepo.expireAll(trx, row.id, until);
          } else {
            retired = await keysRepo.revokeAll(trx, row.id, at);
          }
          await insertKey(trx, row.id, key, at);
          await record(trx, [
            {
              kind: 'key.rotated',
              at,
              actor: opts.by,
              attrs: { target: row.id, key: key.id, retired, graceSeconds: grace },
            },
          ]);
        }),
      );
      return { keyId: key.id, apiKey: key.token, retired, oldKeysExpireAt: until };
    },

    async revokeKey(keyId: string, opts: { by: string | null }): Promise<void> {
      await keyCache.forgetAfter(() =>
        deps.db.transaction().execute(async (trx) => {
          const k = await keysRepo.get(trx, keyId);
          if (!k) throw actorsError('ACTORS_KEY_NOT_FOUND');
          const at = now().toISOString();
          if (await keysRepo.revoke(trx, keyId, at)) {
            await record(trx, [
              { kind: 'key.revoked', at, actor: opts.by, attrs: { target: k.actor_id, key: keyId } },
            ]);
          }
        }),
      );
    },

    async keys(ref: string): Promise<ApiKeyInfo[]> {
      const row = await mustGet(deps.db, ref);
      return (await keysRepo.forActor(deps.db, row.id)).map((k) => ({
        id: k.id,
        createdAt: k.created_at,
        expiresAt: k.expires_at,
        revokedAt: k.revoked_at,
      }));
    },

    /**
     * Bearer token → principal, or undefined for anything not a live key of an active actor. One
     * primary-key lookup; the hash comparison is constant-time and happens even when the key id is
     * unknown, so timing does not tell a wrong id from a wrong secret.
     */
    async authenticate(token: string): Promise<Principal | undefined> {
      const keyId = apiKeyId(token);
      if (!keyId) return undefined;
      const at = now().toISOString();
      const cached = keyCache.get(token, at);
      if (cached) return cached;
      const generation = keyCache.generation();
      const k = await keysRepo.withActor(deps.db, keyId);
      const matches = apiKeyMatches(token, k ? toBuffer(k.hash) : DUMMY_HASH);
      if (!k || !matches) return undefined;
      if (k.revoked_at !== null) return undefined;
      if (k.expires_at !== null && k.expires_at <= at) return undefined;
      if (k.actor.status !== 'active') return undefined;
      const principal = toPrincipal(toActor(k.actor));
      keyCache.put(token, principal, k.expires_at, generation);
      return principal;
    },

    /**
     * Bulk assignment. Rows that cannot be applied are reported (by line or index) and the rest are
     * applied; nothing is half-written. Records one 'assignment.added' event per assignee.
     */
    async assign(entries: readonly AssignmentInput[], opts: { by: string | null }): Promise<AssignResult> {
      const { ok, rejected } = await resolveEntries(entries, { requireActive: true, checkExpiry: true });
      if (ok.length > 0) {
        const at = now().toISOString();
        const rows: AssignmentRow[] = ok.map((e) => ({
          actor_id: e.actorId,
          subject_id: e.subjectId,
          assigned_at: at,
          assigned_by: opts.by,
          expires_at: e.expiresAt,
          removed_at: null,
        }));
        await deps.db.transaction().execute(async (trx) => {
          await assignmentsRepo.upsert(trx, rows);
          const events: AuditEvent[] = [...countBy(ok, (e) => e.actorId)].map(([assignee, count]) => ({
            kind: 'assignment.added',
            at,
            actor: opts.by,
            attrs: { target: assignee, count },
          }));
          await record(trx, events);
        });
      }
      return { assigned: ok.length, rejected };
    },

    async assignCsv(text: string, opts: { by: string | null }): Promise<AssignResult> {
      return actors.assign(parseAssignmentCsv(text), opts);
    },

    async unassign(
      entries: readonly AssignmentInput[],
      opts: { by: string | null },
    ): Promise<UnassignResult> {
      const { ok, rejected } = await resolveEntries(entries, { requireActive: false, checkExpiry: false });
      let removed = 0;
      if (ok.length > 0) {
        const at = now().toISOString();
        const perActor = new Map<string, string[]>();
        for (const e of ok) {
          const list = perActor.get(e.actorId) ?? [];
          list.push(e.subjectId);
          perActor.set(e.actorId, list);
        }
        await deps.db.transaction().execute(async (trx) => {
          const events: AuditEvent[] = [];
          for (const [actorId, subjects] of perActor) {
            const n = await assignmentsRepo.remove(trx, actorId, subjects, at);
            removed += n;
            if (n > 0)
              events.push({
                kind: 'assignment.removed',
                at,
                actor: opts.by,
                attrs: { target: actorId, count: n },
              });
          }
          await record(trx, events);
        });
      }
      return { removed, rejected };
    },

    async unassignCsv(text: string, opts: { by: string | null }): Promise<UnassignResult> {
      return actors.unassign(parseAssignmentCsv(text), opts);
    },

    /** Whether the actor is assigned the subject at `at`: one primary-key lookup. */
    async isAssigned(actorId: string, subjectId: string, at: Date, executor?: DbExecutor): Promise<boolean> {
      return assignmentsRepo.isLive(executor ?? deps.db, actorId, subjectId, at.toISOString());
    },

    /**
     * isAssigned() for many pairs at once (the read path's batches): the `actor\0subject` keys of
     * the pairs assigned at `at`.
     */
    async assignedAmong(
      pairs: readonly { actorId: string; subjectId: string }[],
      at: Date,
      executor?: DbExecutor,
    ): Promise<Set<string>> {
      if (pairs.length === 0) return new Set();
      return assignmentsRepo.liveAmong(executor ?? deps.db, pairs, at.toISOString());
    },

    /** Live assignments, by actor and/or subject. */
    async assignments(
      f: { actor?: string | undefined; subjectId?: string | undefined; limit?: number | undefined } = {},
    ): Promise<Assignment[]> {
      const actorId = f.actor ? (await mustGet(deps.db, f.actor)).id : undefined;
      const rows = await assignmentsRepo.list(deps.db, {
        actorId,
        subjectId: f.subjectId,
        at: now().toISOString(),
        limit: Math.min(f.limit ?? 1000, 10_000),
      });
      return rows.map((r) => ({
        actorId: r.actor_id,
        subjectId: r.subject_id,
        assignedAt: r.assigned_at,
        assignedBy: r.assigned_by,
        expiresAt: r.expires_at,
      }));
    },
  };
  return actors;
}

/**
 * Bootstrap for `custodian init`: creates the first administrator when no active one exists and
 * returns its API key (once). Later calls change nothing and return no key.
 */
export async function ensureAdmin(
  actors: Actors,
  opts: { name?: string } = {},
): Promise<{ created: boolean; actor: Actor; apiKey?: string }> {
  const admins = await actors.list({ status: 'active', role: ADMIN_ROLE });
  if (admins[0]) return { created: false, actor: admins[0] };
  const { actor, apiKey } = await actors.create(
    { name: opts.name ?? 'admin', kind: 'employee', roles: [ADMIN_ROLE], attributes: {} },
    { by: null },
  );
  return { created: true, actor, apiKey };
}

/**
 * Authenticated keys kept in memory for `ttlMs` (monotonic time), by the SHA-256 of the token so no
 * secret outlives its request. A key's own expiry is still checked on every hit (by the service's
 * clock). `forgetAfter` wraps a change to actors or keys: everything cached is forgotten when it
 * ends, and a lookup that began before the change never caches its (possibly stale) answer.
 */
function createKeyCache(ttlMs: number) {
  const entries = new Map<string, { principal: Principal; keyExpiresAt: string | null; until: number }>();
  let gen = 0;
  const digest = (token: string) => sha256(Buffer.from(token)).toString('base64');
  return {
    get(token: string, at: string): Principal | undefined {
      if (ttlMs === 0) return undefined;
      const d = digest(token);
      const e = entries.get(d);
      if (!e) return undefined;
      if (performance.now() < e.until && (e.keyExpiresAt === null || at < e.keyExpiresAt)) return e.principal;
      entries.delete(d);
      return undefined;
    },
    generation: () => gen,
    put(token: string, principal: Principal, keyExpiresAt: string | null, since: number): void {
      if (ttlMs === 0 || since !== gen) return;
      if (entries.size >= AUTH_CACHE_MAX) entries.clear();
      entries.set(digest(token), { principal, keyExpiresAt, until: performance.now() + ttlMs });
    },
    async forgetAfter<T>(change: () => Promise<T>): Promise<T> {
      gen++;
      try {
        return await change();
      } finally {
        gen++;
        entries.clear();
      }
    },
  };
}
