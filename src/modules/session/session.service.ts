import type { Kysely } from 'kysely';
import type { Recorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { hashToken, newToken, tokenMatches } from '../../lib/crypto/index.js';
import { commonError } from '../../lib/errors.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import type { Principal } from '../../lib/principal.js';
import { sessionError } from './session.errors.js';
import * as repo from './session.repo.js';
import type { WebSessionsTable } from './session.tables.js';

/**
 * Staff sessions for the web console. The browser exchanges an API key (once, over TLS or
 * loopback) or a one-time login link for a session token in an httpOnly cookie, so the browser
 * never keeps an API key. Sessions end on idle, at an absolute limit, on sign-out, or when revoked
 * (by an administrator, or because the actor was disabled: every request re-reads the actor).
 * Only hashes of the session token, the CSRF token and the link are stored.
 */
export const SESSION_IDLE_MS = 30 * 60_000;
export const SESSION_ABSOLUTE_MS = 12 * 3_600_000;
export const LOGIN_LINK_TTL_MS = 10 * 60_000;
/** last_seen_at is written at most this often per session (one write per minute, not per request). */
const TOUCH_EVERY_MS = 60_000;

export interface SessionDeps {
  db: Kysely<any>;
  clock: Clock;
  record: Recorder;
  ids?: IdSource;
  /** API key → principal (the actors module's authenticate). */
  authenticateKey(token: string): Promise<Principal | undefined>;
  /** Actor id → principal while the actor is active; undefined otherwise. */
  principalOf(actorId: string): Promise<Principal | undefined>;
  /** Resolves an actor id or name to its id (throws when unknown). */
  actorId(ref: string): Promise<string>;
  idleMs?: number;
  absoluteMs?: number;
}

export interface SessionInfo {
  id: string;
  actor: string;
  method: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

export interface StartedSession {
  /** Goes in the httpOnly cookie; never shown to scripts. */
  token: string;
  /** Goes in a script-readable cookie; echoed by the SPA in x-csrf-token. */
  csrf: string;
  session: SessionInfo;
  principal: Principal;
}

export interface ResumedSession {
  session: SessionInfo;
  principal: Principal;
  csrfHash: string;
}

function toInfo(r: WebSessionsTable): SessionInfo {
  return {
    id: r.id,
    actor: r.actor_id,
    method: r.method,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
  };
}

export type Sessions = ReturnType<typeof createSessions>;

export function createSessions(deps: SessionDeps) {
  const ids = deps.ids ?? randomId;
  const idleMs = deps.idleMs ?? SESSION_IDLE_MS;
  const absoluteMs = deps.absoluteMs ?? SESSION_ABSOLUTE_MS;
  const now = () => deps.clock.now();

  async function open(principal: Principal, method: 'api_key' | 'login_link'): Promise<StartedSession> {
    const at = now();
    const t = newToken('cts');
    const c = newToken('csrf');
    const row: WebSessionsTable = {
      id: ids('ses'),
      token_hash: t.hash,
      csrf_hash: c.hash,
      actor_id: principal.id,
      method,
      created_at: at.toISOString(),
      last_seen_at: at.toISOString(),
      expires_at: new Date(at.getTime() + absoluteMs).toISOString(),
      revoked_at: null,
    };
    await deps.db.transaction().execute(async (trx) => {
      await repo.insertSession(trx, row);
      await deps.record(trx, [
        {
          kind: 'session.started',
          at: row.created_at,
          actor: principal.id,
          attrs: { session: row.id, method },
        },
      ]);
    });
    return { token: t.token, csrf: c.token, session: toInfo(row), principal };
  }

  return {
    idleMs,
    /** API key → session. The key is checked exactly as a Bearer request would check it. */
    async startWithKey(apiKey: string): Promise<StartedSession> {
      const principal = await deps.authenticateKey(apiKey);
      if (!principal) throw commonError('AUTH_INVALID');
      return open(principal, 'api_key');
    },

    /** One-time login link → session. A link works once, within LOGIN_LINK_TTL_MS. */
    async startWithLink(link: string): Promise<StartedSession> {
      const at = now().toISOString();
      const row = await deps.db.transaction().execute((trx) => repo.consumeLink(trx, hashToken(link), at));
      if (!row) throw sessionError('SESSION_LINK_INVALID');
      const principal = await deps.principalOf(row.actor_id);
      if (!principal) throw sessionError('SESSION_LINK_INVALID');
      return open(principal, 'login_link');
    },

    /** Issues a one-time login link for an actor (CLI, operator). Returns the secret once. */
    async issueLink(actorRef: string): Promise<{ token: string; actor: string; expiresAt: string }> {
      const actorId = await deps.actorId(actorRef);
      if (!(await deps.principalOf(actorId))) throw commonError('FORBIDDEN');
      const at = now();
      const t = newToken('ctl');
      const expiresAt = new Date(at.getTime() + LOGIN_LINK_TTL_MS).toISOString();
      await deps.db.transaction().execute(async (trx) => {
        await repo.insertLink(trx, {
          token_hash: t.hash,
          actor_id: actorId,
          created_at: at.toISOString(),
          expires_at: expiresAt,
          used_at: null,
        });
        await deps.record(trx, [
          { kind: 'session.link_issued', at: at.toISOString(), actor: null, attrs: { target: actorId } },
        ]);
      });
      return { token: t.token, actor: actorId, expiresAt };
    },

    /**
     * Cookie token → live session and its actor's current principal, or undefined when unknown,
     * revoked, idle too long, past its absolute end, or the actor is no longer active.
     */
    async resume(token: string): Promise<ResumedSession | undefined> {
      if (!/^cts_[a-z2-7]{52}$/.test(token)) return undefined;
      const row = await repo.byTokenHash(deps.db, hashToken(token));
      if (!row || !tokenMatches(token, row.token_hash)) return undefined;
      const at = now();
      if (row.revoked_at !== null) return undefined;
      if (row.expires_at <= at.toISOString()) return undefined;
      if (Date.parse(row.last_seen_at) + idleMs <= at.getTime()) return undefined;
      const principal = await deps.principalOf(row.actor_id);
      if (!principal) return undefined;
      if (at.getTime() - Date.parse(row.last_seen_at) >= TOUCH_EVERY_MS) {
        row.last_seen_at = at.toISOString();
        await repo.touch(deps.db, row.id, row.last_seen_at);
      }
      return { session: toInfo(row), principal, csrfHash: row.csrf_hash };
    },

    csrfMatches(presented: string | undefined, csrfHash: string): boolean {
      return typeof presented === 'string' && presented.length < 200 && tokenMatches(presented, csrfHash);
    },

    /** Ends one session (sign-out, or an administrator's revocation). */
    async revoke(id: string, by: string | null): Promise<void> {
      const at = now().toISOString();
      await deps.db.transaction().execute(async (trx) => {
        const row = await repo.byId(trx, id);
        if (!row) throw sessionError('SESSION_NOT_FOUND');
        if ((await repo.revoke(trx, { id }, at)) === 0) return;
        await deps.record(trx, [
          { kind: 'session.revoked', at, actor: by, attrs: { session: id, target: row.actor_id } },
        ]);
      });
    },

    /** Ends every live session of an actor. */
    async revokeActor(actorRef: string, by: string | null): Promise<number> {
      const actorId = await deps.actorId(actorRef);
      const at = now().toISOString();
      return deps.db.transaction().execute(async (trx) => {
        const n = await repo.revoke(trx, { actorId }, at);
        if (n > 0)
          await deps.record(trx, [
            { kind: 'session.revoked', at, actor: by, attrs: { target: actorId, count: n } },
          ]);
        return n;
      });
    },

    async list(q: { actorId?: string; active?: boolean; limit?: number } = {}): Promise<SessionInfo[]> {
      const rows = await repo.list(deps.db, {
        ...(q.actorId ? { actorId: q.actorId } : {}),
        ...(q.active ? { activeAt: now().toISOString() } : {}),
        limit: q.limit ?? 100,
      });
      return rows.map(toInfo);
    },
  };
}
