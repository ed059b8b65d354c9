import type { Kysely } from 'kysely';
import type { AuditEvent, DbExecutor, Recorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import {
  deriveKey,
  hmacSha256,
  type Keyring,
  open,
  randomDigits,
  randomToken,
  safeEqual,
  seal,
} from '../../lib/crypto/index.js';
import { commonError, isAppError } from '../../lib/errors.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import type { Logger } from '../../lib/log.js';
import type { MessageGateway } from '../../lib/messaging/index.js';
import type { Principal } from '../../lib/principal.js';
import { decodeEntry, type Ledger, type LedgerProver, type ProvenEntry, signNote } from '../ledger/index.js';
import {
  bucketHash,
  bucketOf,
  chainStep,
  commitmentBody,
  decodeCursor,
  encodeCursor,
  fillBuckets,
  HISTORY_FORMAT,
  type HistoryBundle,
  type HistoryPage,
  MAP_BUCKETS,
  mapPath,
  mapRoot,
  PAGE_FORMAT,
  subjectKey,
  ZERO_HEAD,
} from './completeness.js';
import { canExtend, complaintDue, dueDate, type JurisdictionRule, type Rules, ruleFor } from './deadlines.js';
import { rightsError } from './rights.errors.js';
import * as repo from './rights.repo.js';
import type { RightsComplaintsTable, RightsRequestsTable } from './rights.tables.js';

export const CODE_TTL_MS = 10 * 60_000;
export const CODE_MAX_ATTEMPTS = 5;
export const SESSION_TTL_MS = 15 * 60_000;
/** Codes per address: 5 per 15 minutes, 20 per day; per subject: 5 per hour (silently). */
export const LIMITS = { addressWindow: 5, addressDay: 20, subjectHour: 5 } as const;
export const SESSION_PREFIX = 'pss';
/** The principal the portal reads a subject's own record with (policy role `data_subject`). */
export const PORTAL_PRINCIPAL: Principal = {
  id: 'rights-portal',
  kind: 'service',
  roles: ['data_subject'],
  attributes: {},
};
export const SUBJECT_ACCESS_PURPOSE = 'subject_access';

export const REQUEST_KINDS = [
  'access',
  'copy',
  'portability',
  'correction',
  'deletion',
  'restriction',
  'explanation',
  'withdrawal',
] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];
/** PIPL art. 49: what relatives of a deceased person may do for their own lawful interests. */
export const RELATIVE_KINDS: readonly RequestKind[] = ['access', 'copy', 'correction', 'deletion'];
export const OPEN_REQUEST_STATES = ['received', 'in_progress', 'waiting_subject'] as const;
export const OPEN_COMPLAINT_STATES = ['open', 'responded', 'reopened'] as const;

export interface RightsDeps {
  db: Kysely<any>;
  clock: Clock;
  keyring: Keyring;
  ids?: IdSource;
  record: Recorder;
  messaging: MessageGateway;
  ledger: Pick<Ledger, 'latestCheckpoint' | 'entries' | 'origin' | 'vkey' | 'consistencyProof'>;
  prover: LedgerProver;
  /** Blind-index lookup (vault.lookup): subject ids whose field equals the value. */
  lookup(field: 'mobile' | 'email', value: string): Promise<string[]>;
  /** The access module's read path: the only door that decrypts. */
  read(
    principal: Principal,
    req: { subjectId: string; purpose: string; fields: readonly string[]; requestId?: string },
  ): Promise<{
    allowed: boolean;
    fields: Record<string, { view: string; value?: string }>;
    evidence: string;
  }>;
  /** Catalog field names, shown to the subject. */
  fields: readonly string[];
  actorRoles(actorIds: readonly string[]): Promise<Map<string, string[]>>;
  consent: {
    list(q: { subjectId: string; limit?: number }): Promise<ConsentView[]>;
    get(id: string): Promise<{ subjectId: string }>;
    withdraw(input: { consentId: string }, ctx: { by: string | null; method: 'web' }): Promise<unknown[]>;
  };
  /** Disclosures that delivered this subject (recipient ids). */
  receivedBy(
    subjectId: string,
  ): Promise<{ id: string; recipientId: string; purpose: string; createdAt: string }[]>;
  erase?(subjectId: string, by: string): Promise<void>;
  rules: Rules;
  jurisdiction: string;
  logger?: Pick<Logger, 'warn'>;
}

export interface ConsentView {
  id: string;
  purpose: string;
  recipientId: string | null;
  fields: string[];
  givenAt: string;
  expiresAt: string | null;
  withdrawnAt: string | null;
}

export interface RightsRequest {
  id: string;
  subjectId: string;
  kind: RequestKind;
  requester: 'subject' | 'relative' | 'staff';
  filedBy: string | null;
  evidenceRef: string | null;
  details: string | null;
  jurisdiction: string;
  status: string;
  assignee: string | null;
  receivedAt: string;
  dueAt: string;
  pausedAt: string | null;
  extensions: number;
  refusalReason: string | null;
  outcome: { summary?: string; remedies?: string; extensionReason?: string; pauseReason?: string } | null;
  closedAt: string | null;
  /** Answered (completed or refused) after the due date. */
  late: boolean;
  /** Recipients a correction or deletion was passed on to (GDPR art. 19), until each confirms. */
  recipients: { recipientId: string; status: string; notifiedAt: string; confirmedAt: string | null }[];
}

export interface Complaint {
  id: string;
  subjectId: string;
  filedBy: string;
  details: { what: string; who?: string | undefined; when?: string | undefined };
  links: { traces: string[]; incidents: string[] };
  status: string;
  assignee: string | null;
  receivedAt: string;
  dueAt: string;
  response: string | null;
  respondedAt: string | null;
  escalation: string | null;
  escalatedAt: string | null;
  closedAt: string | null;
  /** Where he can take it if not satisfied (always shown). */
  regulator: { name: string; channel: string };
}

export interface Notice {
  id: string;
  source: string;
  ref: string | null;
  title: string;
  body: string;
  createdAt: string;
}

export interface HistoryEvent {
  index: number;
  at: string;
  kind: string;
  /** Role(s) of who acted; `data_subject` is the subject himself through the portal. */
  roles: string[];
  /** Stable pseudonymous reference to the staff member (HMAC of the actor id), or null. */
  staffRef: string | null;
  purpose: string | null;
  fields: string[];
  views: string[];
  reasons: string[];
  /** Why it was allowed, in words (or that it was denied). */
  allowedBecause: string;
  recipient: string | null;
  leafHash: string;
}

export interface History {
  subjectId: string;
  size: number;
  events: HistoryEvent[];
  /** The downloadable, independently checkable form (docs/rights.md). */
  bundle: HistoryBundle;
}

/** One page of the portal history, newest first (docs/rights.md, "Paging"). */
export interface HistoryPageView {
  subjectId: string;
  size: number;
  /** Newest first, as in `page.entries`. */
  events: HistoryEvent[];
  page: HistoryPage;
  /** Cursor of the next, older page; null on the page that holds his oldest entry. */
  next: string | null;
}

/** Entries per page of the portal history: default and most. */
export const PAGE_DEFAULT = 50;
export const PAGE_MAX = 500;

const iso = (d: Date) => d.toISOString();

export type Rights = ReturnType<typeof createRights>;

/** How long the set of staff holding an open case is trusted before it is read again. */
const CASE_HOLDERS_TTL_MS = 5_000;

export function createRights(deps: RightsDeps) {
  const { db, clock } = deps;
  const ids = deps.ids ?? randomId;
  const codeKey = deriveKey(deps.keyring, 'rights/code/v1');
  const addressKey = deriveKey(deps.keyring, 'rights/address/v1');
  const sessionKey = deriveKey(deps.keyring, 'rights/session/v1');
  const staffKey = deriveKey(deps.keyring, 'rights/staffref/v1');
  const textKey = deriveKey(deps.keyring, 'rights/text/v1');
  const now = () => clock.now();
  const pending = new Set<Promise<unknown>>();

  const sealJson = (id: string, col: string, v: unknown) =>
    seal(textKey, Buffer.from(JSON.stringify(v), 'utf8'), Buffer.from(`${id}\0${col}`, 'utf8'));
  const openJson = <T>(id: string, col: string, b: Buffer | null): T | null =>
    b === null
      ? null
      : (JSON.parse(open(textKey, b, Buffer.from(`${id}\0${col}`, 'utf8')).toString('utf8')) as T);

  const rule = (j: string): JurisdictionRule => ruleFor(deps.rules, j);
  const staffRef = (actorId: string) => `staff-${hmacSha256(staffKey, actorId).toString('hex').slice(0, 12)}`;

  // --- subject authentication ----------------------------------------------------------------------

  function normaliseAddress(address: string): {
    field: 'mobile' | 'email';
    channel: 'sms' | 'email';
    key: string;
  } {
    const a = address.trim();
    if (a.includes('@')) return { field: 'email', channel: 'email', key: a.toLowerCase() };
    let digits = a.replace(/[\s()+-]/g, '');
    if (digits.startsWith('0086')) digits = digits.slice(4);
    else if (digits.startsWith('86') && digits.length === 13) digits = digits.slice(2);
    return { field: 'mobile', channel: 'sms', key: digits };
  }

  /**
   * Sends a one-time code to the address if it is on file. The answer is the same either way (a
   * challenge id), the same database work is done either way (a code row is written, with no subject
   * when none matched), and the message goes out after the answer, so neither the response nor its
   * timing tells whether the number is on file.
   */
  async function requestCode(address: string): Promise<{ challenge: string; expiresAt: string }> {
    const a = normaliseAddress(address);
    let subjects: string[];
    try {
      subjects = await deps.lookup(a.field, address.trim());
    } catch (e) {
      // A malformed address says nothing about who is on file.
      throw isAppError(e) && e.code.startsWith('VAULT_')
        ? commonError('VALIDATION_FAILED', { details: { fields: ['address'] } })
        : e;
    }
    const t = now();
    const akey = hmacSha256(addressKey, a.field, a.key).toString('hex');
    const subjectId = subjects[0] ?? null;
    const code = randomDigits(6);
    const id = ids('chl');
    const expiresAt = iso(new Date(t.getTime() + CODE_TTL_MS));
    let send = false;
    await db.transaction().execute(async (trx) => {
      const [win, day] = await Promise.all([
        repo.countCodes(trx, { addressKey: akey, since: iso(new Date(t.getTime() - 15 * 60_000)) }),
        repo.countCodes(trx, { addressKey: akey, since: iso(new Date(t.getTime() - 86_400_000)) }),
      ]);
      if (win >= LIMITS.addressWindow || day >= LIMITS.addressDay) throw rightsError('RIGHTS_RATE_LIMITED');
      // Per subject (several addresses may reach one person): over the limit, no code is sent, but
      // the answer stays the same, so the limit cannot be used to link two addresses.
      const perSubject = subjectId
        ? await repo.countCodes(trx, { subjectId, since: iso(new Date(t.getTime() - 3_600_000)) })
        : await repo.countCodes(trx, { addressKey: '', since: iso(t) });
      send = subjectId !== null && perSubject < LIMITS.subjectHour;
      await repo.insertCode(trx, {
        id,
        subject_id: send ? subjectId : null,
        address_key: akey,
        channel: a.channel,
        code_hash: hmacSha256(codeKey, id, code),
        created_at: iso(t),
        expires_at: expiresAt,
        attempts: 0,
        used_at: null,
      });
      await deps.record(trx, [
        {
          kind: 'rights.login.requested',
          at: iso(t),
          actor: null,
          // Pseudonymous: the subject when one matched (his history shows every sign-in attempt).
          subject: send ? subjectId : null,
          attrs: { challenge: id, channel: a.channel },
        },
      ]);
    });
    if (send) {
      const p = deps.messaging
        .send({
          channel: a.channel,
          to: address.trim(),
          subject: 'Your verification code',
          body: `Your Custodian verification code is ${code}. It expires in 10 minutes. If you did not ask for it, ignore this message.`,
          tag: 'portal.code',
        })
        .catch((e: unknown) =>
          deps.logger?.warn({ tag: 'portal.code', code: isAppError(e) ? e.code : 'Error' }, 'code not sent'),
        )
        .finally(() => pending.delete(p));
      pending.add(p);
    }
    return { challenge: id, expiresAt };
  }

  /** Checks a code; a valid one opens a session. Every failure looks the same. */
  async function verifyCode(challenge: string, code: string): Promise<{ token: string; expiresAt: string }> {
    const t = now();
    const at = iso(t);
    const row = /^chl_[a-z2-7]{26}$/.test(challenge) ? await repo.getCode(db, challenge) : undefined;
    if (!row) throw rightsError('RIGHTS_CODE_INVALID');
    const result = await db.transaction().execute(async (trx) => {
      if (!(await repo.takeAttempt(trx, row.id, CODE_MAX_ATTEMPTS, at))) return undefined;
      const ok = /^\d{6}$/.test(code) && safeEqual(hmacSha256(codeKey, row.id, code), row.code_hash);
      if (!ok || row.subject_id === null) {
        await deps.record(trx, [
          {
            kind: 'rights.login.failed',
            at,
            actor: null,
            subject: row.subject_id,
            attrs: { challenge: row.id },
          },
        ]);
        return undefined;
      }
      if (!(await repo.markCodeUsed(trx, row.id, at))) return undefined;
      return openSession(trx, row.subject_id, row.id);
    });
    if (!result) throw rightsError('RIGHTS_CODE_INVALID');
    return result;
  }

  async function openSession(
    trx: DbExecutor,
    subjectId: string,
    via: string | null,
  ): Promise<{ token: string; expiresAt: string; sessionId: string }> {
    const t = now();
    const token = randomToken(SESSION_PREFIX);
    const sessionId = ids('pss');
    const expiresAt = iso(new Date(t.getTime() + SESSION_TTL_MS));
    await repo.insertSession(trx as never, {
      id: sessionId,
      token_hash: hmacSha256(sessionKey, token).toString('hex'),
      subject_id: subjectId,
      created_at: iso(t),
      expires_at: expiresAt,
      revoked_at: null,
    });
    await deps.record(trx, [
      {
        kind: 'rights.session.opened',
        at: iso(t),
        actor: null,
        subject: subjectId,
        attrs: { session: sessionId, ...(via ? { challenge: via } : {}) },
      },
    ]);
    return { token, expiresAt, sessionId };
  }

  /** For the web portal (httpOnly cookie) and tests: opens a session for a subject already verified. */
  async function createSession(
    subjectId: string,
  ): Promise<{ token: string; expiresAt: string; sessionId: string }> {
    return db.transaction().execute((trx) => openSession(trx, subjectId, null));
  }

  async function validateSession(
    token: string | undefined,
  ): Promise<{ subjectId: string; sessionId: string; expiresAt: string } | undefined> {
    if (!token || !token.startsWith(`${SESSION_PREFIX}_`) || token.length > 100) return undefined;
    const row = await repo.sessionByHash(db, hmacSha256(sessionKey, token).toString('hex'));
    if (!row || row.revoked_at !== null || row.expires_at <= iso(now())) return undefined;
    return { subjectId: row.subject_id, sessionId: row.id, expiresAt: row.expires_at };
  }

  async function endSession(token: string): Promise<void> {
    const s = await validateSession(token);
    if (!s) return;
    await db.transaction().execute(async (trx) => {
      await repo.revokeSession(trx, hmacSha256(sessionKey, token).toString('hex'), iso(now()));
      await deps.record(trx, [
        { kind: 'rights.session.closed', actor: null, subject: s.subjectId, attrs: { session: s.sessionId } },
      ]);
    });
  }

  // --- the subject's own data ----------------------------------------------------------------------

  /** His record, decrypted for him alone, through the access module's read path (recorded). */
  async function myData(subjectId: string, sessionId: string) {
    const r = await deps.read(PORTAL_PRINCIPAL, {
      subjectId,
      purpose: SUBJECT_ACCESS_PURPOSE,
      fields: deps.fields,
      requestId: sessionId,
    });
    if (!r.allowed) throw rightsError('RIGHTS_PORTAL_READ_DENIED');
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.fields)) if (v.value !== undefined) fields[k] = v.value;
    return { subject: subjectId, fields, evidence: r.evidence };
  }

  // --- completeness commitments --------------------------------------------------------------------

  let commitLock: Promise<unknown> = Promise.resolve();
  let backfilled = false;

  /**
   * Per-entry chain heads (migration 0018) for subjects committed before they existed: recomputed
   * from his indexes and the ledger's leaf hashes, a batch of subjects per transaction. Runs once per
   * process, under the commit lock and before the first commitment (which extends the chains and
   * would otherwise leave the old positions empty). A chain that does not reach the stored head
   * means the derived tables lost or gained rows; what the store holds is written anyway, so the
   * subject's verifier reports it (the store is not trusted to fix itself).
   */
  async function backfillEntryHeads(): Promise<number> {
    const run = () => backfillUnlocked();
    const next = commitLock.then(run, run);
    commitLock = next.catch(() => undefined);
    return next;
  }

  async function backfillUnlocked(): Promise<number> {
    const counts = await repo.chainRowCounts(db);
    if (counts.entries === counts.heads) return 0;
    let after = '';
    let done = 0;
    let mismatched = 0;
    for (;;) {
      const batch = await repo.subjectsWithoutEntryHeads(db, after, 200);
      if (batch.length === 0) break;
      after = batch[batch.length - 1]!.subject_id;
      const indexes = await repo.indexesOf(
        db,
        batch.map((b) => b.subject_id),
      );
      const leaves = await deps.prover.leafHashes([...indexes.values()].flat());
      const rows: { subject_id: string; pos: number; idx: number; head: Buffer }[] = [];
      for (const b of batch) {
        let head: Buffer = ZERO_HEAD;
        let pos = 0;
        for (const idx of indexes.get(b.subject_id) ?? []) {
          const leaf = leaves.get(idx);
          if (!leaf) continue;
          head = chainStep(head, idx, leaf);
          pos++;
          rows.push({ subject_id: b.subject_id, pos, idx, head });
        }
        if (pos !== b.count || !head.equals(b.head)) mismatched++;
      }
      await db.transaction().execute((trx) => repo.insertEntryHeads(trx, rows));
      done += batch.length;
    }
    if (mismatched > 0)
      deps.logger?.warn(
        { tag: 'rights.backfill', subjects: done, mismatched },
        'per-entry heads backfilled; some chains do not reach their stored head',
      );
    return done;
  }

  /**
   * Extends every touched subject's chain with the entries up to the latest signed checkpoint, and
   * signs a commitment to all chains at that size (ADR 0013). Idempotent; runs on the sequencer's
   * cadence and on demand.
   */
  function commitSubjects(): Promise<{ size: number; subjects: number; entries: number } | undefined> {
    const run = async () => {
      if (!backfilled) {
        await backfillUnlocked();
        backfilled = true;
      }
      const cp = await deps.ledger.latestCheckpoint();
      const last = await repo.latestCommit(db);
      const from = last?.size ?? 0;
      if (!cp || cp.size <= from) return undefined;
      const touched = new Map<string, { idx: number; leaf: Buffer }[]>();
      let count = 0;
      for (let i = from; i < cp.size; ) {
        const batch = await deps.ledger.entries(i, Math.min(1000, cp.size - i));
        if (batch.length === 0) break;
        for (const e of batch) {
          const s = e.event.subject;
          if (!s) continue;
          let list = touched.get(s);
          if (!list) {
            list = [];
            touched.set(s, list);
          }
          list.push({ idx: e.index, leaf: Buffer.from(e.leafHash, 'hex') });
          count++;
        }
        i = batch[batch.length - 1]!.index + 1;
        // Let the event loop turn between pages: on SQLite every await above resolves at once, and
        // ten seconds of a hostile flood's entries (10,000–20,000) read and hashed in one turn
        // held /healthz ~100 ms every 10 s (ADR 0018).
        await new Promise<void>((r) => setImmediate(r));
      }
      const at = iso(now());
      return db.transaction().execute(async (trx) => {
        const again = await repo.latestCommit(trx);
        if ((again?.size ?? 0) !== from) return undefined; // another process committed meanwhile
        const subjects = [...touched.keys()];
        const heads = new Map((await repo.headsOf(trx, subjects)).map((h) => [h.subject_id, h]));
        const newHeads = [];
        const entryRows = [];
        const headRows = [];
        const dirty = new Set<number>();
        for (const [s, list] of touched) {
          const h = heads.get(s);
          let head: Buffer = h?.head ?? ZERO_HEAD;
          let n = h?.count ?? 0;
          for (const e of list) {
            head = chainStep(head, e.idx, e.leaf);
            n++;
            entryRows.push({ subject_id: s, idx: e.idx });
            headRows.push({ subject_id: s, pos: n, idx: e.idx, head });
          }
          const bucket = bucketOf(s);
          dirty.add(bucket);
          newHeads.push({ subject_id: s, bucket, count: n, head });
        }
        await repo.insertSubjectEntries(trx, entryRows);
        await repo.insertEntryHeads(trx, headRows);
        await repo.upsertHeads(trx, newHeads);
        const members = await repo.headsInBuckets(trx, [...dirty]);
        const byBucket = new Map<number, { key: string; count: number; head: string }[]>();
        for (const m of members) {
          let l = byBucket.get(m.bucket);
          if (!l) {
            l = [];
            byBucket.set(m.bucket, l);
          }
          l.push({
            key: subjectKey(m.subject_id).toString('hex'),
            count: m.count,
            head: m.head.toString('hex'),
          });
        }
        await repo.upsertBuckets(
          trx,
          [...dirty].map((b) => ({ bucket: b, hash: bucketHash(byBucket.get(b) ?? []) })),
        );
        const root = mapRoot(fillBuckets(await repo.allBuckets(trx)));
        const treeRoot = Buffer.from(cp.root, 'hex');
        const note = signNote(
          commitmentBody(deps.ledger.origin, cp.size, treeRoot, root),
          deps.ledger.origin,
          deps.keyring.signingKey,
          deps.keyring.publicKeyRaw,
        );
        await repo.insertCommit(trx, {
          size: cp.size,
          tree_root: treeRoot,
          map_root: root,
          note,
          checkpoint: cp.note,
          created_at: at,
        });
        await deps.record(trx, [
          {
            kind: 'ledger.subjects.committed',
            at,
            actor: null,
            attrs: { size: cp.size, map: root.toString('hex'), subjects: subjects.length, entries: count },
          },
        ]);
        return { size: cp.size, subjects: subjects.length, entries: count };
      });
    };
    const next = commitLock.then(run, run);
    commitLock = next.catch(() => undefined);
    return next;
  }

  /** What the portal shows of each entry: who (role, pseudonymous reference), why, what. */
  async function toEvents(proven: readonly ProvenEntry[]): Promise<HistoryEvent[]> {
    const decoded = proven.map((p) => ({ p, e: decodeEntry(p.entry) }));
    const actors = [...new Set(decoded.map((d) => d.e.actor).filter((a): a is string => a !== null))];
    const roles = await deps.actorRoles(actors.filter((a) => a !== PORTAL_PRINCIPAL.id));
    roles.set(PORTAL_PRINCIPAL.id, ['data_subject']);
    return decoded.map(({ p, e }) => {
      const a = e.attrs;
      const reasons = Array.isArray(a.reasons) ? [...(a.reasons as string[])] : [];
      const denied = e.kind.endsWith('.denied');
      const r = e.actor ? (roles.get(e.actor) ?? []) : [];
      return {
        index: p.index,
        at: e.at,
        kind: e.kind,
        roles: r,
        staffRef: e.actor && e.actor !== PORTAL_PRINCIPAL.id ? staffRef(e.actor) : null,
        purpose: e.purpose,
        fields: Array.isArray(a.fields) ? [...(a.fields as string[])] : [],
        views: Array.isArray(a.views) ? [...(a.views as string[])] : [],
        reasons,
        allowedBecause: explain(e.kind, denied, r, e.purpose, a, reasons),
        recipient: typeof a.recipient === 'string' ? a.recipient : null,
        leafHash: p.leafHash,
      };
    });
  }

  /** The subject's entries up to the latest commitment, with proofs and his completeness proof. */
  async function history(subjectId: string, opts: { since?: number } = {}): Promise<History> {
    for (let attempt = 0; ; attempt++) {
      const c = await repo.latestCommit(db);
      if (!c) throw rightsError('RIGHTS_NO_COMMITMENT');
      const bucket = bucketOf(subjectId);
      const [indexes, members, buckets] = await Promise.all([
        repo.subjectIndexes(db, subjectId, c.size),
        repo.headsInBuckets(db, [bucket]),
        repo.allBuckets(db),
      ]);
      // A commitment that landed while we read would mix two states: read again.
      const c2 = await repo.latestCommit(db);
      if (c2?.size !== c.size && attempt < 3) continue;
      const proven = await deps.prover.entriesWithProofs(indexes, c.size);
      const events = await toEvents(proven);
      const all = fillBuckets(buckets);
      const bundle: HistoryBundle = {
        format: HISTORY_FORMAT,
        subject: subjectId,
        origin: deps.ledger.origin,
        vkey: deps.ledger.vkey(),
        checkpoint: c.checkpoint,
        commitment: { note: c.note, size: c.size, ...bucketProof(all, bucket, members) },
        entries: proven.map(entryJson),
      };
      if (opts.since !== undefined && opts.since >= 1 && opts.since <= c.size) {
        const cons = await deps.ledger.consistencyProof(opts.since, c.size);
        // The checkpoint he saw is his to supply when verifying; the proof is ours.
        bundle.consistency = { checkpoint: '', proof: cons.proof };
      }
      if (buckets.size > MAP_BUCKETS) throw new Error('bucket table corrupt');
      return { subjectId, size: c.size, events, bundle };
    }
  }

  /** His bucket of the signed map as a history serves it: its members, hex, and its audit path. */
  function bucketProof(
    filled: readonly Buffer[],
    bucket: number,
    members: readonly { subject_id: string; count: number; head: Buffer }[],
  ) {
    return {
      bucket,
      members: members.map((m) => ({
        key: subjectKey(m.subject_id).toString('hex'),
        count: m.count,
        head: m.head.toString('hex'),
      })),
      path: mapPath(filled, bucket).map((h) => h.toString('hex')),
    };
  }

  /** A proven entry as a history serves it. */
  function entryJson(p: { index: number; entry: Buffer; proof: string[] }) {
    return { index: p.index, entry: p.entry.toString('base64'), proof: p.proof };
  }

  /** The filled bucket hashes of the latest commitment the newest page was served at. */
  let mapCache: { size: number; buckets: Buffer[] } | undefined;
  function fillBucketsChecked(stored: Map<number, Buffer>): Buffer[] {
    if (stored.size > MAP_BUCKETS) throw new Error('bucket table corrupt');
    return fillBuckets(stored);
  }

  /**
   * One page of the subject's history up to the latest commitment, newest first: positions
   * `cursor` (default: his newest) down to `cursor - limit + 1`, each entry with its inclusion proof,
   * the head before the page and after it (migration 0018), and on the newest page his bucket of the
   * signed map. A page verifies on its own (`verifyHistoryPage`); a walk of pages proves the whole
   * history complete (`verifyHistoryWalk`). Costs proofs for `limit` entries, not his whole history.
   */
  async function historyPage(
    subjectId: string,
    opts: { limit?: number; cursor?: string } = {},
  ): Promise<HistoryPageView> {
    const limit = opts.limit ?? PAGE_DEFAULT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > PAGE_MAX) throw commonError('VALIDATION_FAILED');
    let top: number | undefined;
    if (opts.cursor !== undefined) {
      top = decodeCursor(opts.cursor);
      if (top === undefined) throw rightsError('RIGHTS_CURSOR_INVALID');
    }
    for (let attempt = 0; ; attempt++) {
      const c = await repo.latestCommit(db);
      if (!c) throw rightsError('RIGHTS_NO_COMMITMENT');
      const mine = (await repo.headsOf(db, [subjectId]))[0];
      const count = mine?.count ?? 0;
      if (top !== undefined && top > count) throw rightsError('RIGHTS_CURSOR_INVALID');
      const to = top ?? count;
      const rows = to > 0 ? await repo.entryHeadsDown(db, subjectId, to, limit) : [];
      const newest = to === count;
      const bucket = bucketOf(subjectId);
      const cached = mapCache?.size === c.size ? mapCache.buckets : undefined;
      const [members, buckets] = newest
        ? await Promise.all([
            repo.headsInBuckets(db, [bucket]),
            cached ?? repo.allBuckets(db).then(fillBucketsChecked),
          ])
        : [[], undefined];
      // A commitment that landed while we read would mix two states: read again.
      const c2 = await repo.latestCommit(db);
      if (c2?.size !== c.size && attempt < 3) continue;
      const from = Math.max(1, to - limit + 1);
      const inPage = rows.filter((r) => r.pos >= from); // newest first
      const prev = rows.find((r) => r.pos === from - 1);
      const headAt = rows.find((r) => r.pos === to);
      const proven = await deps.prover.entriesWithProofs(
        inPage.map((r) => r.idx),
        c.size,
      );
      const byIdx = new Map(proven.map((p) => [p.index, p]));
      const ordered = inPage.map((r) => byIdx.get(r.idx)).filter((p): p is ProvenEntry => p !== undefined);
      const page: HistoryPage = {
        format: PAGE_FORMAT,
        subject: subjectId,
        origin: deps.ledger.origin,
        vkey: deps.ledger.vkey(),
        checkpoint: c.checkpoint,
        commitment: { note: c.note, size: c.size },
        count,
        from,
        to,
        // What the store holds; a missing row gives a head the verifier will refuse.
        prevHead: (from === 1 ? ZERO_HEAD : (prev?.head ?? ZERO_HEAD)).toString('hex'),
        head: (to === 0 ? ZERO_HEAD : (headAt?.head ?? ZERO_HEAD)).toString('hex'),
        entries: ordered.map(entryJson),
      };
      if (newest && buckets) {
        // Buckets change only when a commitment is signed: keep the filled array for this size.
        if (c2?.size === c.size) mapCache = { size: c.size, buckets };
        page.completeness = bucketProof(buckets, bucket, members);
      }
      return {
        subjectId,
        size: c.size,
        events: await toEvents(ordered),
        page,
        next: from > 1 ? encodeCursor(from - 1) : null,
      };
    }
  }

  function explain(
    kind: string,
    denied: boolean,
    roles: string[],
    purpose: string | null,
    a: Record<string, unknown>,
    reasons: string[],
  ): string {
    if (denied) return `denied (${reasons.join(', ') || 'no grant'})`;
    if (kind === 'access.disclose')
      return `disclosed to recipient ${String(a.recipient)} for ${purpose} (disclosure ${String(a.disclosure)}), on your consent or another recorded basis`;
    if (kind.startsWith('access.')) {
      const extra = reasons.length > 0 ? `; ${reasons.join(', ')}` : '';
      return `policy ${String(a.policy ?? '?')} grants role ${roles.join('/') || '?'} this view for ${purpose}${extra}`;
    }
    return kind;
  }

  // --- consents ------------------------------------------------------------------------------------

  async function myConsents(subjectId: string) {
    return deps.consent.list({ subjectId, limit: 1000 });
  }

  /** PIPL art. 15: one call, as easy as the consent was to give. */
  async function withdrawMyConsent(subjectId: string, consentId: string) {
    const c = await deps.consent.get(consentId).catch(() => undefined);
    if (!c || c.subjectId !== subjectId) throw rightsError('RIGHTS_REQUEST_NOT_FOUND');
    return deps.consent.withdraw({ consentId }, { by: null, method: 'web' });
  }

  // --- rights requests -----------------------------------------------------------------------------

  function clockState(r: RightsRequestsTable) {
    return {
      receivedAt: new Date(r.received_at),
      pausedMs: r.paused_ms,
      pausedAt: r.paused_at ? new Date(r.paused_at) : null,
      extensions: r.extensions,
    };
  }

  function toRequest(r: RightsRequestsTable, recipients: RightsRequest['recipients'] = []): RightsRequest {
    const details = openJson<{ text?: string }>(r.id, 'details', r.details);
    return {
      id: r.id,
      subjectId: r.subject_id,
      kind: r.kind as RequestKind,
      requester: r.requester as RightsRequest['requester'],
      filedBy: r.filed_by,
      evidenceRef: r.evidence_ref,
      details: details?.text ?? null,
      jurisdiction: r.jurisdiction,
      status: r.status,
      assignee: r.assignee,
      receivedAt: r.received_at,
      dueAt: r.due_at,
      pausedAt: r.paused_at,
      extensions: r.extensions,
      refusalReason: r.refusal_reason,
      outcome: openJson(r.id, 'outcome', r.outcome),
      closedAt: r.closed_at,
      late: r.closed_at !== null && r.closed_at > r.due_at,
      recipients,
    };
  }

  async function withRecipients(rows: RightsRequestsTable[]): Promise<RightsRequest[]> {
    const recs = await repo.requestRecipients(
      db,
      rows.map((r) => r.id),
    );
    return rows.map((r) =>
      toRequest(
        r,
        recs
          .filter((x) => x.request_id === r.id)
          .map((x) => ({
            recipientId: x.recipient_id,
            status: x.status,
            notifiedAt: x.notified_at,
            confirmedAt: x.confirmed_at,
          })),
      ),
    );
  }

  function requestEvent(
    r: RightsRequestsTable,
    what: string,
    by: string | null,
    extra: Record<string, string | number> = {},
  ): AuditEvent {
    return {
      kind: `rights.request.${what}`,
      actor: by,
      subject: r.subject_id,
      attrs: { request: r.id, kind: r.kind, status: r.status, due: r.due_at, ...extra },
    };
  }

  async function fileRequest(input: {
    subjectId: string;
    kind: RequestKind;
    requester: 'subject' | 'relative' | 'staff';
    filedBy: string | null;
    evidenceRef?: string | undefined;
    details?: string | undefined;
    jurisdiction?: string | undefined;
  }): Promise<RightsRequest> {
    if (input.requester === 'relative') {
      if (!input.evidenceRef) throw rightsError('RIGHTS_EVIDENCE_REQUIRED');
      if (!RELATIVE_KINDS.includes(input.kind)) throw rightsError('RIGHTS_STATE_INVALID');
    }
    const j = input.jurisdiction ?? deps.jurisdiction;
    const rl = rule(j);
    const t = now();
    const id = ids('rrq');
    const row: RightsRequestsTable = {
      id,
      subject_id: input.subjectId,
      kind: input.kind,
      requester: input.requester,
      filed_by: input.filedBy,
      evidence_ref: input.evidenceRef ?? null,
      details: input.details ? sealJson(id, 'details', { text: input.details }) : null,
      jurisdiction: j,
      status: 'received',
      assignee: null,
      received_at: iso(t),
      due_at: '',
      paused_at: null,
      paused_ms: 0,
      extensions: 0,
      refusal_reason: null,
      outcome: null,
      closed_at: null,
      updated_at: iso(t),
    };
    row.due_at = iso(dueDate(rl, clockState(row), t));
    await db.transaction().execute(async (trx) => {
      await repo.insertRequest(trx, row);
      await deps.record(trx, [requestEvent(row, 'received', input.filedBy, { requester: input.requester })]);
    });
    return toRequest(row);
  }

  async function getRequest(id: string): Promise<RightsRequest> {
    const r = await repo.getRequest(db, id);
    if (!r) throw rightsError('RIGHTS_REQUEST_NOT_FOUND');
    return (await withRecipients([r]))[0]!;
  }

  async function listRequests(
    q: { subjectId?: string; status?: readonly string[]; assignee?: string; limit?: number } = {},
  ): Promise<RightsRequest[]> {
    return withRecipients(await repo.listRequests(db, { ...q, limit: Math.min(q.limit ?? 100, 1000) }));
  }

  /** One state change: read, check, update from the status read, record — in one transaction. */
  async function transition(
    id: string,
    by: string,
    what: string,
    allowed: readonly string[],
    change: (
      r: RightsRequestsTable,
      t: Date,
      trx: DbExecutor,
    ) => Promise<Partial<RightsRequestsTable>> | Partial<RightsRequestsTable>,
    extra: Record<string, string | number> = {},
  ): Promise<RightsRequest> {
    const updated = await db.transaction().execute(async (trx) => {
      const r = await repo.getRequest(trx, id);
      if (!r) throw rightsError('RIGHTS_REQUEST_NOT_FOUND');
      if (!allowed.includes(r.status))
        throw rightsError('RIGHTS_STATE_INVALID', { details: { status: r.status } });
      const t = now();
      const patch = { ...(await change(r, t, trx)), updated_at: iso(t) };
      const next = { ...r, ...patch };
      if (!(await repo.updateRequest(trx, id, r.status, patch))) throw rightsError('RIGHTS_STATE_INVALID');
      await deps.record(trx, [requestEvent(next, what, by, extra)]);
      return next;
    });
    return (await withRecipients([updated]))[0]!;
  }

  /**
   * Who holds an open case, refreshed at most every CASE_HOLDERS_TTL_MS (another process may assign
   * one) and at once when this one assigns: a read by anyone else needs no case lookup. A stale set
   * can only leave a read unexplained for those seconds (an alert to dismiss), never allow one.
   */
  let caseHolders: { set: Set<string>; at: number } | undefined;
  async function openCasesAmong(
    pairs: readonly { actorId: string; subjectId: string }[],
    _at: Date,
    ex: DbExecutor,
  ): Promise<Set<string>> {
    if (!caseHolders || performance.now() - caseHolders.at > CASE_HOLDERS_TTL_MS) {
      const at = performance.now();
      caseHolders = { set: await repo.openCaseAssignees(ex as never), at };
    }
    const holders = caseHolders.set;
    const mine = pairs.filter((p) => holders.has(p.actorId));
    return mine.length === 0 ? new Set() : repo.openCasesAmong(ex as never, mine);
  }
  const assigned = <T>(r: T): T => {
    caseHolders = undefined;
    return r;
  };

  const requests = {
    file: fileRequest,
    get: getRequest,
    list: listRequests,
    assign: async (id: string, assignee: string, by: string) =>
      assigned(
        await transition(
          id,
          by,
          'assigned',
          ['received', 'in_progress'],
          () => ({ assignee, status: 'in_progress' }),
          {
            assignee,
          },
        ),
      ),
    /** Waiting for the subject (identity, a detail): the clock stops. */
    pause: (id: string, reason: string, by: string) =>
      transition(id, by, 'paused', ['received', 'in_progress'], (r, t) => {
        if (!reason.trim()) throw rightsError('RIGHTS_REASON_REQUIRED');
        const outcome = { ...(openJson<object>(r.id, 'outcome', r.outcome) ?? {}), pauseReason: reason };
        return { status: 'waiting_subject', paused_at: iso(t), outcome: sealJson(r.id, 'outcome', outcome) };
      }),
    resume: (id: string, by: string) =>
      transition(id, by, 'resumed', ['waiting_subject'], (r, t) => {
        const pausedMs = r.paused_ms + Math.max(0, t.getTime() - new Date(r.paused_at!).getTime());
        const s = { ...clockState(r), pausedMs, pausedAt: null };
        return {
          status: r.assignee ? 'in_progress' : 'received',
          paused_at: null,
          paused_ms: pausedMs,
          due_at: iso(dueDate(rule(r.jurisdiction), s, t)),
        };
      }),
    /** GDPR art. 12(3): once, with the reason told to the subject, before the first period ends. */
    extend: (id: string, reason: string, by: string) =>
      transition(id, by, 'extended', ['received', 'in_progress', 'waiting_subject'], (r, t) => {
        if (!reason.trim()) throw rightsError('RIGHTS_REASON_REQUIRED');
        const rl = rule(r.jurisdiction);
        const s = clockState(r);
        if (!canExtend(rl, s) || t.getTime() >= dueDate(rl, s, t).getTime())
          throw rightsError('RIGHTS_EXTENSION_NOT_ALLOWED');
        const outcome = { ...(openJson<object>(r.id, 'outcome', r.outcome) ?? {}), extensionReason: reason };
        return {
          extensions: 1,
          due_at: iso(dueDate(rl, { ...s, extensions: 1 }, t)),
          outcome: sealJson(r.id, 'outcome', outcome),
        };
      }),
    /** PIPL art. 50: a refusal carries its reasons and the subject's remedies. */
    refuse: (id: string, reason: string, by: string, remedies?: string) =>
      transition(id, by, 'refused', ['received', 'in_progress', 'waiting_subject'], (r, t) => {
        if (reason.trim().length < 10) throw rightsError('RIGHTS_REASON_REQUIRED');
        const rl = rule(r.jurisdiction);
        const rem =
          remedies ??
          `You may complain to ${rl.regulator.name} (${rl.regulator.channel}) or bring an action before a people's court (PIPL art. 50).`;
        const outcome = { ...(openJson<object>(r.id, 'outcome', r.outcome) ?? {}), remedies: rem };
        return {
          status: 'refused',
          refusal_reason: reason,
          closed_at: iso(t),
          paused_at: null,
          outcome: sealJson(r.id, 'outcome', outcome),
        };
      }),
    /**
     * Answers the request. A correction or deletion is passed on to every recipient that received
     * his data (GDPR art. 19), each tracked until it confirms. A deletion with `erase` crypto-shreds
     * the record (the vault's erasure).
     */
    complete: async (id: string, by: string, o: { summary?: string; erase?: boolean } = {}) => {
      const before = await repo.getRequest(db, id);
      if (
        before &&
        o.erase &&
        before.kind === 'deletion' &&
        deps.erase &&
        OPEN_REQUEST_STATES.includes(before.status as never)
      )
        await deps.erase(before.subject_id, by);
      const received = before ? await deps.receivedBy(before.subject_id) : [];
      return transition(id, by, 'completed', ['received', 'in_progress'], async (r, t, trx) => {
        if (r.kind === 'correction' || r.kind === 'deletion') {
          const recipients = [...new Set(received.map((d) => d.recipientId))].sort();
          await repo.insertRequestRecipients(
            trx as never,
            recipients.map((rid) => ({
              request_id: r.id,
              recipient_id: rid,
              status: 'notified',
              notified_at: iso(t),
              confirmed_at: null,
            })),
          );
          await deps.record(
            trx,
            recipients.map((rid) => ({
              kind: 'rights.request.passed_on',
              at: iso(t),
              actor: by,
              subject: r.subject_id,
              attrs: { request: r.id, kind: r.kind, recipient: rid, basis: 'GDPR art. 19; PIPL art. 47' },
            })),
          );
        }
        const outcome = { ...(openJson<object>(r.id, 'outcome', r.outcome) ?? {}), summary: o.summary ?? '' };
        return { status: 'completed', closed_at: iso(t), outcome: sealJson(r.id, 'outcome', outcome) };
      });
    },
    /** A recipient (its partner actor, or staff on its word) confirms it acted on the request. */
    async confirmRecipient(id: string, recipientId: string, by: string): Promise<RightsRequest> {
      await db.transaction().execute(async (trx) => {
        const r = await repo.getRequest(trx, id);
        if (!r) throw rightsError('RIGHTS_REQUEST_NOT_FOUND');
        if (!(await repo.confirmRecipient(trx, id, recipientId, iso(now()))))
          throw rightsError('RIGHTS_RECIPIENT_NOT_FOUND');
        await deps.record(trx, [requestEvent(r, 'recipient_confirmed', by, { recipient: recipientId })]);
      });
      return getRequest(id);
    },
    /** Open requests due before `until` (the daily list), soonest first; paused ones are listed apart. */
    async due(until: Date): Promise<{ due: RightsRequest[]; waiting: RightsRequest[] }> {
      const rows = await repo.listRequests(db, {
        status: ['received', 'in_progress'],
        dueBefore: iso(until),
        limit: 1000,
      });
      const waiting = await repo.listRequests(db, { status: ['waiting_subject'], limit: 1000 });
      return { due: await withRecipients(rows), waiting: await withRecipients(waiting) };
    },
  };

  // --- complaints ----------------------------------------------------------------------------------

  function toComplaint(r: RightsComplaintsTable): Complaint {
    const j = deps.jurisdiction;
    return {
      id: r.id,
      subjectId: r.subject_id,
      filedBy: r.filed_by,
      details: openJson(r.id, 'details', r.details)!,
      links: JSON.parse(r.links) as Complaint['links'],
      status: r.status,
      assignee: r.assignee,
      receivedAt: r.received_at,
      dueAt: r.due_at,
      response: openJson<{ text: string }>(r.id, 'response', r.response)?.text ?? null,
      respondedAt: r.responded_at,
      escalation: openJson<{ text: string }>(r.id, 'escalation', r.escalation)?.text ?? null,
      escalatedAt: r.escalated_at,
      closedAt: r.closed_at,
      regulator: rule(j).regulator,
    };
  }

  function complaintEvent(
    r: RightsComplaintsTable,
    what: string,
    by: string | null,
    extra: Record<string, string | number> = {},
  ): AuditEvent {
    return {
      kind: `rights.complaint.${what}`,
      actor: by,
      subject: r.subject_id,
      attrs: { complaint: r.id, status: r.status, due: r.due_at, ...extra },
    };
  }

  async function changeComplaint(
    id: string,
    by: string | null,
    what: string,
    from: readonly string[],
    change: (r: RightsComplaintsTable, t: Date) => Partial<RightsComplaintsTable>,
  ): Promise<Complaint> {
    const next = await db.transaction().execute(async (trx) => {
      const r = await repo.getComplaint(trx, id);
      if (!r) throw rightsError('RIGHTS_COMPLAINT_NOT_FOUND');
      if (!from.includes(r.status))
        throw rightsError('RIGHTS_STATE_INVALID', { details: { status: r.status } });
      const t = now();
      const patch = { ...change(r, t), updated_at: iso(t) };
      if (!(await repo.updateComplaint(trx, id, [r.status], patch)))
        throw rightsError('RIGHTS_STATE_INVALID');
      const n = { ...r, ...patch };
      await deps.record(trx, [complaintEvent(n, what, by)]);
      return n;
    });
    return toComplaint(next);
  }

  const complaints = {
    /** Filed by the subject (portal) or by staff on his behalf (`filedBy` = the actor id). */
    async file(input: {
      subjectId: string;
      filedBy: string;
      what: string;
      who?: string | undefined;
      when?: string | undefined;
      traces?: string[] | undefined;
      incidents?: string[] | undefined;
    }): Promise<Complaint> {
      const t = now();
      const id = ids('cmp');
      const row: RightsComplaintsTable = {
        id,
        subject_id: input.subjectId,
        filed_by: input.filedBy,
        details: sealJson(id, 'details', { what: input.what, who: input.who, when: input.when }),
        links: JSON.stringify({ traces: input.traces ?? [], incidents: input.incidents ?? [] }),
        status: 'open',
        assignee: null,
        received_at: iso(t),
        due_at: iso(complaintDue(rule(deps.jurisdiction), t)),
        response: null,
        responded_at: null,
        escalation: null,
        escalated_at: null,
        closed_at: null,
        updated_at: iso(t),
      };
      await db.transaction().execute(async (trx) => {
        await repo.insertComplaint(trx, row);
        await deps.record(trx, [
          complaintEvent(row, 'filed', input.filedBy === 'subject' ? null : input.filedBy),
        ]);
      });
      return toComplaint(row);
    },
    async get(id: string): Promise<Complaint> {
      const r = await repo.getComplaint(db, id);
      if (!r) throw rightsError('RIGHTS_COMPLAINT_NOT_FOUND');
      return toComplaint(r);
    },
    async list(
      q: { subjectId?: string; status?: readonly string[]; limit?: number } = {},
    ): Promise<Complaint[]> {
      return (await repo.listComplaints(db, { ...q, limit: Math.min(q.limit ?? 100, 1000) })).map(
        toComplaint,
      );
    },
    link: (id: string, by: string, add: { traces?: string[]; incidents?: string[] }) =>
      changeComplaint(id, by, 'linked', OPEN_COMPLAINT_STATES, (r) => {
        const l = JSON.parse(r.links) as Complaint['links'];
        return {
          links: JSON.stringify({
            traces: [...new Set([...l.traces, ...(add.traces ?? [])])],
            incidents: [...new Set([...l.incidents, ...(add.incidents ?? [])])],
          }),
        };
      }),
    assign: async (id: string, assignee: string, by: string) =>
      assigned(await changeComplaint(id, by, 'assigned', OPEN_COMPLAINT_STATES, () => ({ assignee }))),
    /** Staff answer him; the complaint stays open until he confirms or it is escalated. */
    respond: (id: string, by: string, text: string) =>
      changeComplaint(id, by, 'responded', OPEN_COMPLAINT_STATES, (r, t) => {
        if (text.trim().length < 10) throw rightsError('RIGHTS_REASON_REQUIRED');
        return { status: 'responded', response: sealJson(r.id, 'response', { text }), responded_at: iso(t) };
      }),
    /** Only the complainant closes (resolved) or reopens (not resolved) his complaint. */
    confirm: async (id: string, subjectId: string, resolved: boolean) => {
      const r = await repo.getComplaint(db, id);
      if (!r || r.subject_id !== subjectId) throw rightsError('RIGHTS_COMPLAINT_NOT_FOUND');
      return changeComplaint(
        id,
        null,
        resolved ? 'confirmed' : 'reopened',
        ['responded', 'open', 'reopened'],
        (_r, t) => (resolved ? { status: 'closed', closed_at: iso(t) } : { status: 'reopened' }),
      );
    },
    /**
     * After the response deadline, staff may end their handling by escalation: a written
     * explanation, and the regulator's channel is shown to him. Never before the deadline.
     */
    escalate: (id: string, by: string, explanation: string) =>
      changeComplaint(id, by, 'escalated', OPEN_COMPLAINT_STATES, (r, t) => {
        if (explanation.trim().length < 20) throw rightsError('RIGHTS_REASON_REQUIRED');
        if (t.toISOString() < r.due_at)
          throw rightsError('RIGHTS_COMPLAINT_NOT_DUE', { details: { due: r.due_at } });
        return {
          status: 'escalated',
          escalation: sealJson(r.id, 'escalation', { text: explanation }),
          escalated_at: iso(t),
          closed_at: iso(t),
        };
      }),
    /** Staff cannot close a complaint alone; the attempt is refused, and recorded. */
    async staffClose(id: string, by: string): Promise<never> {
      const r = await repo.getComplaint(db, id);
      if (!r) throw rightsError('RIGHTS_COMPLAINT_NOT_FOUND');
      await db.transaction().execute((trx) => deps.record(trx, [complaintEvent(r, 'close_refused', by)]));
      throw rightsError('RIGHTS_COMPLAINT_STAFF_CANNOT_CLOSE');
    },
    /**
     * The investigation: every actor that read his record and every recipient that received it,
     * with the proofs anyone can check (the same bundle the portal gives him). Recorded.
     */
    async investigation(id: string, by: string) {
      const r = await repo.getComplaint(db, id);
      if (!r) throw rightsError('RIGHTS_COMPLAINT_NOT_FOUND');
      const h = await history(r.subject_id);
      await db
        .transaction()
        .execute((trx) => deps.record(trx, [complaintEvent(r, 'investigated', by, { size: h.size })]));
      const readers = new Map<
        string,
        {
          staffRef: string | null;
          roles: string[];
          reads: number;
          first: string;
          last: string;
          purposes: Set<string>;
        }
      >();
      const recipients = new Map<string, { disclosures: number; first: string; last: string }>();
      for (const e of h.events) {
        if (!e.kind.startsWith('access.') || e.kind.endsWith('.denied')) continue;
        if (e.kind === 'access.disclose' && e.recipient) {
          const x = recipients.get(e.recipient) ?? { disclosures: 0, first: e.at, last: e.at };
          x.disclosures++;
          x.last = e.at;
          recipients.set(e.recipient, x);
          continue;
        }
        const entry = h.bundle.entries.find((b) => b.index === e.index);
        const actor = entry ? decodeEntry(Buffer.from(entry.entry, 'base64')).actor : null;
        if (!actor) continue;
        const x = readers.get(actor) ?? {
          staffRef: e.staffRef,
          roles: e.roles,
          reads: 0,
          first: e.at,
          last: e.at,
          purposes: new Set<string>(),
        };
        x.reads++;
        x.last = e.at;
        if (e.purpose) x.purposes.add(e.purpose);
        readers.set(actor, x);
      }
      return {
        complaint: toComplaint(r),
        readers: [...readers].map(([actor, x]) => ({ actor, ...x, purposes: [...x.purposes] })),
        recipients: [...recipients].map(([recipient, x]) => ({ recipient, ...x })),
        history: h,
      };
    },
  };

  // --- notices -------------------------------------------------------------------------------------

  const notices = {
    /**
     * For the incidents module (and complaints): notices shown in his portal, written in the
     * caller's transaction with a ledger entry each. Sending them is the caller's (messaging).
     */
    async add(
      executor: DbExecutor,
      items: readonly { subjectId: string; source: string; ref?: string; title: string; body: string }[],
    ): Promise<string[]> {
      const at = iso(now());
      const rows = items.map((n) => {
        const id = ids('ntc');
        return {
          id,
          subject_id: n.subjectId,
          source: n.source,
          ref: n.ref ?? null,
          content: sealJson(id, 'content', { title: n.title, body: n.body }),
          created_at: at,
        };
      });
      await repo.insertNotices(executor as never, rows);
      await deps.record(
        executor,
        rows.map((r) => ({
          kind: 'rights.notice.added',
          at,
          actor: null,
          subject: r.subject_id,
          attrs: { notice: r.id, source: r.source, ...(r.ref ? { ref: r.ref } : {}) },
        })),
      );
      return rows.map((r) => r.id);
    },
    async list(subjectId: string): Promise<Notice[]> {
      return (await repo.listNotices(db, subjectId, 200)).map((r) => {
        const c = openJson<{ title: string; body: string }>(r.id, 'content', r.content)!;
        return {
          id: r.id,
          source: r.source,
          ref: r.ref,
          title: c.title,
          body: c.body,
          createdAt: r.created_at,
        };
      });
    },
  };

  // --- background ----------------------------------------------------------------------------------

  let timer: NodeJS.Timeout | undefined;
  function startBackground(everyMs = 10_000): void {
    if (timer) return;
    const tick = () => {
      commitSubjects()
        .catch((e: unknown) =>
          deps.logger?.warn(
            { code: isAppError(e) ? e.code : (e as Error)?.name },
            'subject commitment failed',
          ),
        )
        .finally(() => {
          if (timer) {
            timer = setTimeout(tick, everyMs);
            timer.unref();
          }
        });
    };
    timer = setTimeout(tick, everyMs);
    timer.unref();
  }

  return {
    now,
    rules: deps.rules,
    jurisdiction: deps.jurisdiction,
    requestCode,
    verifyCode,
    createSession,
    validateSession,
    endSession,
    myData,
    history,
    historyPage,
    backfillEntryHeads,
    myConsents,
    withdrawMyConsent,
    commitSubjects,
    requests,
    complaints,
    notices,
    staffRef,
    /** Detection's case source: an open request or complaint assigned to the actor explains his reads. */
    openCasesAmong,
    startBackground,
    async stop(): Promise<void> {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await commitLock;
    },
    /** Waits for messages handed to the gateway after an answer (tests, shutdown). */
    async drain(): Promise<void> {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}
