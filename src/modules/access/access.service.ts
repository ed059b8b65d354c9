import type { Kysely, Transaction } from 'kysely';
import { createBatchCommit, createGroupCommit } from '../../db/index.js';
import {
  type AttrValue,
  type AuditEvent,
  type DbExecutor,
  type Recorder,
  requireRecorder,
} from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import type { Keyring } from '../../lib/crypto/index.js';
import type { AppError } from '../../lib/errors.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import type { Principal } from '../../lib/principal.js';
import type { Detect } from '../detect/index.js';
import type { ContextQuery, Decision, DecisionContext, PolicyService, View } from '../policy/index.js';
import { maskValue, type OpenedSubjects, openSubjectsFields, type Vault } from '../vault/index.js';
import { accessError } from './access.errors.js';
import { eventsForActor, eventsForSubject, type HistoryCursor, insertEvents } from './access.repo.js';
import type { AccessEventRow } from './access.tables.js';
import { createReasonSealer } from './reasons.js';
import { createTokenSealer } from './tokens.js';

/**
 * The read path, and the only code that decrypts PI for a caller (DESIGN principle 2):
 * decide → decrypt only what the decision allows → apply the view → append the access event and
 * its ledger entry, all in one transaction. Denied attempts are recorded too, and so are reads of
 * erased or unknown subjects and resolutions of bad tokens. There is no switch that skips the
 * record: a read whose record cannot be written does not happen.
 *
 * Reads that arrive together are processed together (group commit, src/db/groupcommit.ts): one
 * transaction and one fsync per batch, the subjects' fields opened with one query per table, the
 * access events and ledger entries inserted with one statement each. Each read still gets its own
 * decision, its own access event and its own ledger entry.
 */
export const MAX_BATCH = 1000;
export const MAX_FIELDS = 64;
export const CONTACT_PURPOSE = 'contact';
export const DEFAULT_TOKEN_TTL_S = 24 * 3600;

/** Reason codes the access module adds to the policy's (decide.ts REASONS) in access events. */
export const ACCESS_REASONS = [
  'SUBJECT_NOT_FOUND',
  'SUBJECT_ERASED',
  'CANARY',
  'ISSUER_NOT_ALLOWED',
  'TOKEN_INVALID',
  'TOKEN_EXPIRED',
  'NO_MATCH_VISIBLE',
  'ACTOR_SUSPENDED',
  'DETECT_APPROVAL_REQUIRED',
] as const;

/** One read attempt as the guard sees it: ids and codes only. */
export interface GuardItem {
  actor: string;
  kind: string;
  roles: readonly string[];
  subject: string | null;
  purpose: string;
  action: string;
  at: Date;
  breakGlass: boolean;
  /** The actor holds a live approval for this purpose. */
  approved: boolean;
  /** The decision already found a live assignment of the subject to the actor (no need to look again). */
  assigned?: boolean | undefined;
  recipient?: string | undefined;
  issuedTo?: string | undefined;
}

/**
 * Insider detection's hook in the read path (the detect module implements it; app.ts wires it).
 * `before` runs in the read's transaction before any decision is acted on: a blocked read is
 * refused and recorded (ACTOR_SUSPENDED, DETECT_APPROVAL_REQUIRED), and each read gets its
 * explanation (recorded in its ledger entry). `after` runs in the same transaction once the
 * events are written, with their leaf hashes.
 */
export interface ReadGuard {
  before(
    trx: DbExecutor,
    items: readonly GuardItem[],
  ): Promise<{ block: (string | undefined)[]; explained: (string | null)[] }>;
  after(
    trx: DbExecutor,
    items: readonly GuardItem[],
    outcomes: readonly { allowed: boolean; leaf: string; tokens: number; miss?: boolean }[],
  ): Promise<void>;
}

export interface AccessDeps {
  db: Kysely<any>;
  clock: Clock;
  keyring: Keyring;
  ids?: IdSource;
  vault: Vault;
  policy: Pick<PolicyService, 'contexts' | 'decide' | 'recordUses'>;
  /** The ledger's append, in the caller's transaction. */
  record: Recorder;
  detect?: Pick<Detect, 'raise'>;
  /** Insider detection (suspension check, explanation, inline counters); none: reads are not scored. */
  guard?: ReadGuard;
  /**
   * The active actor a contact token was issued to (undefined when disabled or unknown), so a
   * resolution re-checks that actor's decision at dial time. Without it, the token alone suffices.
   */
  principalOf?: (actorId: string) => Promise<Principal | undefined>;
  /** Canaries are never contacted by the organisation's own workflows. */
  isCanary?: (executor: DbExecutor, subjectId: string) => Promise<boolean>;
  tokenTtlSeconds?: number;
  /** Most reads committed together (default 256). */
  maxGroup?: number;
}

export interface FieldResult {
  view: View;
  /** Plain value, masked value, or contact token, by view; absent when denied or the field is empty. */
  value?: string;
}

export interface ReadResult {
  subject: string;
  purpose: string;
  allowed: boolean;
  fields: Record<string, FieldResult>;
  /** Stable reason codes (denials, BREAK_GLASS, APPROVAL_USED). For the record, not for the caller. */
  reasons: string[];
  /** A denial an approval would lift. */
  remedy?: 'request_approval';
  /** Leaf hash of the ledger entry that records this decision. */
  evidence: string;
}

export interface ReadRequest {
  subjectId: string;
  purpose: string;
  fields: readonly string[];
  requestId?: string;
  breakGlassReason?: string;
  /** A recipient the read is made for (consent per recipient). */
  recipient?: string;
}

export interface AccessEvent {
  id: string;
  at: string;
  actor: string;
  purpose: string;
  subject: string | null;
  action: string;
  fields: string[];
  views: Record<string, string>;
  allowed: boolean;
  reasons: string[];
  leafHash: string;
}

function toEvent(r: AccessEventRow): AccessEvent {
  return {
    id: r.id,
    at: r.at,
    actor: r.actor_id,
    purpose: r.purpose,
    subject: r.subject_id,
    action: r.action,
    fields: JSON.parse(r.fields) as string[],
    views: JSON.parse(r.views) as Record<string, string>,
    allowed: Boolean(r.allowed),
    reasons: JSON.parse(r.reasons) as string[],
    leafHash: r.leaf_hash,
  };
}

/**
 * Turns a recorded denial into the error the caller sees: what to do, never which rule refused.
 * Erased and unknown subjects are told apart only for a caller the policy would have let read them.
 */
export function denialError(r: Pick<ReadResult, 'reasons' | 'remedy'>): AppError {
  if (r.reasons.includes('SUBJECT_ERASED')) return accessError('ACCESS_SUBJECT_ERASED');
  if (r.reasons.includes('SUBJECT_NOT_FOUND')) return accessError('ACCESS_SUBJECT_NOT_FOUND');
  if (r.reasons.includes('ACTOR_SUSPENDED')) return accessError('ACCESS_ACTOR_SUSPENDED');
  if (r.reasons.includes('DETECT_APPROVAL_REQUIRED'))
    return accessError('ACCESS_APPROVAL_REQUIRED', { details: { remedy: 'request_approval' } });
  if (r.remedy === 'request_approval') {
    return r.reasons.includes('QUOTA_EXCEEDED')
      ? accessError('ACCESS_QUOTA_EXCEEDED', { details: { remedy: 'request_approval' } })
      : accessError('ACCESS_APPROVAL_REQUIRED', { details: { remedy: 'request_approval' } });
  }
  return accessError('ACCESS_DENIED');
}

/** One read waiting for its batch. */
interface ReadItem {
  principal: Principal;
  req: ReadRequest;
  at: Date;
  action: 'read' | 'resolve_token';
  /** Extra ledger attributes (a token's issuer). */
  attrs?: Record<string, AttrValue>;
  /**
   * For a token resolution: the actor the token was issued to (undefined when no longer active)
   * and the purpose it was issued for. The call goes through only if that actor may still see the
   * field for that purpose now — assignment, consent and calling hours are checked at dial time.
   */
  issuer?: { principal: Principal | undefined; purpose: string };
}

/** An authenticated actor's attempt that was refused before any decision (see recordAttempts). */
export interface AttemptRecord {
  actor: string;
  /** Route template, e.g. 'GET /v1/subjects/:id'. */
  route: string;
  status: number;
  /** The error code the caller got (e.g. VALIDATION_FAILED, RATE_LIMITED). */
  code: string;
  /** The purpose and subject named, when they were well-formed. */
  purpose?: string;
  subject?: string;
  requestId?: string;
  /** Identical attempts coalesced into this one record (>= 1). */
  count: number;
}

/** What one access event records. */
interface LogEvent {
  at: Date;
  actor: string;
  purpose: string;
  subject: string | null;
  action: string;
  fields: readonly string[];
  views: Record<string, View>;
  allowed: boolean;
  reasons: readonly string[];
  requestId?: string | undefined;
  attrs?: Record<string, AttrValue>;
}

const OPENED: ReadonlySet<View> = new Set<View>(['plain', 'masked', 'token']);

function allDenied(fields: readonly string[]): Record<string, View> {
  const views: Record<string, View> = {};
  for (const f of fields) views[f] = 'deny';
  return views;
}

export type Access = ReturnType<typeof createAccess>;

/** The stages of the read path the service times (see `stages()`). */
export type Stage = 'decide' | 'detect' | 'decrypt' | 'bookkeeping' | 'view' | 'record';

export function createAccess(deps: AccessDeps) {
  requireRecorder(deps.record, 'createAccess');
  const ids = deps.ids ?? randomId;
  const tokens = createTokenSealer(deps.keyring);
  const reasonSealer = createReasonSealer(deps.keyring);
  const ttl = deps.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_S;
  const catalogFields = new Set(deps.vault.catalog.fields.map((f) => f.name));
  const stageMs: Record<Stage | 'reads', number> = {
    reads: 0,
    decide: 0,
    detect: 0,
    decrypt: 0,
    bookkeeping: 0,
    view: 0,
    record: 0,
  };

  /** The requested fields, each once, all in the catalog. */
  function checkFields(fields: readonly string[]): string[] {
    const unique = [...new Set(fields)];
    if (unique.length === 0 || unique.length > MAX_FIELDS) throw accessError('ACCESS_UNKNOWN_FIELD');
    // The position of the first unknown field, never its name (the caller's input: it may be PI).
    const position = unique.findIndex((f) => !catalogFields.has(f));
    if (position >= 0) throw accessError('ACCESS_UNKNOWN_FIELD', { details: { position } });
    return unique;
  }

  /** Writes the access events and their ledger entries in `trx` (one statement each); returns the leaf hashes. */
  async function logMany(trx: DbExecutor, evs: readonly LogEvent[]): Promise<string[]> {
    if (evs.length === 0) return [];
    const audit: AuditEvent[] = new Array(evs.length);
    const rows: AccessEventRow[] = new Array(evs.length);
    const eventIds: string[] = new Array(evs.length);
    for (let i = 0; i < evs.length; i++) {
      const e = evs[i]!;
      // The event id goes into the entry: two identical reads in the same millisecond are still two
      // entries with two different leaf hashes, each the handle of exactly one access event.
      eventIds[i] = ids('evt');
      const views: string[] = [];
      for (const f in e.views) views.push(`${f}=${e.views[f]}`);
      audit[i] = {
        kind: e.allowed ? `access.${e.action}` : `access.${e.action}.denied`,
        at: e.at.toISOString(),
        actor: e.actor,
        subject: e.subject,
        purpose: e.purpose,
        attrs: {
          event: eventIds[i]!,
          fields: [...e.fields],
          views,
          reasons: [...e.reasons],
          ...(e.requestId ? { request: e.requestId } : {}),
          ...e.attrs,
        },
      };
    }
    const leaves = await deps.record(trx, audit);
    for (let i = 0; i < evs.length; i++) {
      const e = evs[i]!;
      rows[i] = {
        id: eventIds[i]!,
        at: audit[i]!.at!,
        actor_id: e.actor,
        purpose: e.purpose,
        subject_id: e.subject,
        action: e.action,
        fields: JSON.stringify(e.fields),
        views: JSON.stringify(e.views),
        allowed: e.allowed ? 1 : 0,
        reasons: JSON.stringify(e.reasons),
        request_id: e.requestId ?? null,
        leaf_hash: leaves[i]!,
      };
    }
    await insertEvents(trx as Transaction<any>, rows);
    return leaves;
  }

  /**
   * Opens, for the subjects of the allowed reads, the fields their views need (token fields too, so
   * a token is only issued for a value that exists). One vault call per distinct field set.
   */
  async function openFor(
    trx: DbExecutor,
    wanted: readonly { subject: string; fields: readonly string[] }[],
  ): Promise<Map<string, OpenedSubjects>> {
    const groups = new Map<string, { fields: readonly string[]; subjects: Set<string> }>();
    for (const w of wanted) {
      const key = w.fields.join(',');
      const g = groups.get(key);
      if (g) g.subjects.add(w.subject);
      else groups.set(key, { fields: w.fields, subjects: new Set([w.subject]) });
    }
    const out = new Map<string, OpenedSubjects>();
    for (const [key, g] of groups)
      out.set(key, await openSubjectsFields(deps.vault, trx, [...g.subjects], g.fields));
    return out;
  }

  /**
   * The batch's decisions and their consequences, inside `trx`. Never throws for a denial, an
   * erased or unknown subject, or a quota taken by a concurrent read: each is recorded and comes
   * back as `allowed: false`. A throw is a fault (the database) and rolls the batch back.
   */
  async function processReads(trx: Transaction<any>, items: readonly ReadItem[]): Promise<ReadResult[]> {
    const n = items.length;
    let lapAt = performance.now();
    const lap = (stage: Stage) => {
      const t = performance.now();
      stageMs[stage] += t - lapAt;
      lapAt = t;
    };
    stageMs.reads += n;
    const decisions: Decision[] = new Array(n);
    const extra: (string | undefined)[] = new Array(n);
    // 1. Decide, with what the policy needs to know gathered for the whole batch at once.
    //    A canary's token resolves exactly as a real customer's would (the caller must not be able
    //    to tell them apart); the trip is recorded internally only — a ledger attribute and an alert.
    const canary: boolean[] = new Array(n).fill(false);
    for (let i = 0; i < n; i++) {
      const { req, action } = items[i]!;
      if (action === 'resolve_token' && deps.isCanary && (await deps.isCanary(trx, req.subjectId)))
        canary[i] = true;
    }
    const queries: ContextQuery[] = items.map(({ principal, req, at }) => ({
      principal,
      purpose: req.purpose,
      subjectId: req.subjectId,
      at,
      ...(req.recipient ? { recipient: req.recipient } : {}),
      // The guard explains reads by assignment: fetched here with the decision's, not a second trip.
      ...(deps.guard ? { wantAssigned: true } : {}),
    }));
    // The issuers of tokens being resolved are asked about in the same batch.
    const issuerAt: number[] = [];
    for (let i = 0; i < n; i++) {
      const { issuer, req, at } = items[i]!;
      if (!issuer || extra[i]) continue;
      if (!issuer.principal) {
        extra[i] = 'ISSUER_NOT_ALLOWED';
        continue;
      }
      issuerAt[i] = queries.length;
      queries.push({ principal: issuer.principal, purpose: issuer.purpose, subjectId: req.subjectId, at });
    }
    const contexts = await deps.policy.contexts(trx, queries);
    for (let i = 0; i < n; i++) {
      const j = issuerAt[i];
      if (j === undefined) continue;
      const { issuer, req } = items[i]!;
      const field = req.fields[0]!;
      const d = deps.policy.decide({
        principal: issuer!.principal!,
        purpose: issuer!.purpose,
        subjectId: req.subjectId,
        fields: [field],
        context: contexts[j]!,
      });
      const view = d.views[field] ?? 'deny';
      if (!d.allowed || (view !== 'token' && view !== 'plain')) extra[i] = 'ISSUER_NOT_ALLOWED';
    }
    for (let i = 0; i < n; i++) {
      const { principal, req, action } = items[i]!;
      const ctx: DecisionContext = contexts[i]!;
      // Only the token path says so: a token_only grant (the telephony integration) never reads by id.
      if (action === 'resolve_token') ctx.viaToken = true;
      if (req.breakGlassReason !== undefined) ctx.breakGlass = { reason: req.breakGlassReason };
      decisions[i] = deps.policy.decide({
        principal,
        purpose: req.purpose,
        subjectId: req.subjectId,
        fields: req.fields,
        context: ctx,
      });
    }
    lap('decide');
    // 1b. Insider detection: a suspended actor's read goes no further; each read is explained.
    let guardItems: GuardItem[] | undefined;
    let explained: (string | null)[] | undefined;
    if (deps.guard) {
      guardItems = items.map(({ principal, req, at, action, issuer, attrs }, i) => ({
        actor: principal.id,
        kind: principal.kind,
        roles: principal.roles,
        subject: req.subjectId,
        purpose: req.purpose,
        action,
        at,
        breakGlass: req.breakGlassReason !== undefined,
        approved: Boolean(contexts[i]!.approval),
        assigned: contexts[i]!.assigned,
        assignedKnown: true,
        since: principal.since,
        recipient: req.recipient,
        issuedTo: issuer && typeof attrs?.issued_to === 'string' ? attrs.issued_to : undefined,
      }));
      const g = await deps.guard.before(trx, guardItems);
      explained = g.explained;
      for (let i = 0; i < n; i++) if (g.block[i] && !extra[i]) extra[i] = g.block[i];
    }
    lap('detect');
    // 2. Open what the allowed views need, for every allowed read at once.
    const wanted: { subject: string; fields: string[] }[] = [];
    const openKey: (string | undefined)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const d = decisions[i]!;
      if (!d.allowed || extra[i]) continue;
      const fields = items[i]!.req.fields.filter((f) => OPENED.has(d.views[f] ?? 'deny'));
      openKey[i] = fields.join(',');
      wanted.push({ subject: items[i]!.req.subjectId, fields });
    }
    const opened = wanted.length > 0 ? await openFor(trx, wanted) : new Map<string, OpenedSubjects>();
    lap('decrypt');
    // 3. Bookkeeping of the allowed reads (quota, approval, grant usage), for the batch at once.
    const values: (Record<string, string> | undefined)[] = new Array(n);
    const using: number[] = [];
    for (let i = 0; i < n; i++) {
      if (!decisions[i]!.allowed || extra[i]) continue;
      const o = opened.get(openKey[i]!)!;
      const subjectId = items[i]!.req.subjectId;
      values[i] = o.values.get(subjectId);
      if (!values[i]) extra[i] = o.erased.includes(subjectId) ? 'SUBJECT_ERASED' : 'SUBJECT_NOT_FOUND';
      else using.push(i);
    }
    const refused = await deps.policy.recordUses(
      trx,
      using.map((i) => ({
        principal: items[i]!.principal,
        subjectId: items[i]!.req.subjectId,
        at: items[i]!.at,
        decision: decisions[i]!,
      })),
    );
    using.forEach((i, j) => {
      // A read earlier in this batch or in another process took the last quota slot or approval:
      // this read is denied, and recorded (recordUses leaves no trace of a refused read).
      if (refused[j]) {
        const d = decisions[i]!;
        decisions[i] = {
          ...d,
          allowed: false,
          views: {},
          reasons: ['QUOTA_EXCEEDED'],
          remedy: 'request_approval',
          obligations: [],
        };
      }
    });
    lap('bookkeeping');
    const results: ReadResult[] = new Array(n);
    const events: LogEvent[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const { principal, req, at, action, attrs } = items[i]!;
      const d = decisions[i]!;
      const allowed = d.allowed && !extra[i];
      const fields: Record<string, FieldResult> = {};
      const views: Record<string, View> = allowed ? {} : allDenied(req.fields);
      if (allowed) {
        const exp = Math.floor(at.getTime() / 1000) + ttl;
        for (const f of req.fields) {
          const view = d.views[f] ?? 'deny';
          views[f] = view;
          const v = values[i]![f];
          if (view === 'deny' || v === undefined) fields[f] = { view };
          else if (view === 'plain') fields[f] = { view, value: v };
          else if (view === 'masked') fields[f] = { view, value: maskValue(deps.vault.catalog, f, v) };
          else
            fields[f] = {
              view,
              value: tokens.issue({ s: req.subjectId, f, a: principal.id, p: req.purpose, e: exp }),
            };
        }
      }
      const reasons: string[] = extra[i] ? [extra[i]!] : d.reasons;
      results[i] = { subject: req.subjectId, purpose: req.purpose, allowed, fields, reasons, evidence: '' };
      if (!allowed && !extra[i] && d.remedy) results[i]!.remedy = d.remedy;
      if (extra[i] === 'DETECT_APPROVAL_REQUIRED') results[i]!.remedy = 'request_approval';
      events[i] = {
        at,
        actor: principal.id,
        purpose: req.purpose,
        subject: req.subjectId,
        action,
        fields: req.fields,
        views,
        allowed,
        reasons,
        requestId: req.requestId,
        attrs: {
          policy: d.policy.version,
          ...attrs,
          ...(explained ? { explained: explained[i] ?? 'none' } : {}),
          ...(canary[i] ? { canary: true } : {}),
        },
      };
    }
    lap('view');
    // 4. Record every decision, allowed or not, in the same transaction.
    const leaves = await logMany(trx, events);
    if (deps.guard && guardItems) {
      await deps.guard.after(
        trx,
        guardItems,
        results.map((r, i) => {
          let tokens = 0;
          for (const f in events[i]!.views) if (events[i]!.views[f] === 'token') tokens++;
          return { allowed: r.allowed, leaf: leaves[i]!, tokens };
        }),
      );
    }
    for (let i = 0; i < n; i++) {
      const r = results[i]!;
      r.evidence = leaves[i]!;
      if (canary[i]) {
        // Internal only: the response the caller gets is the same as for any customer.
        await deps.detect?.raise(trx, {
          kind: 'canary_token_resolved',
          severity: 'high',
          actor: items[i]!.principal.id,
          subject: r.subject,
          attrs: { purpose: r.purpose, allowed: r.allowed, evidence: r.evidence },
        });
      }
      if (r.allowed && decisions[i]!.obligations.includes('alert:break_glass')) {
        const reason = items[i]!.req.breakGlassReason ?? '';
        await deps.detect?.raise(trx, {
          kind: 'break_glass',
          severity: 'high',
          actor: items[i]!.principal.id,
          subject: r.subject,
          // The reason is the actor's own justification, kept for the privacy team's review. Free
          // text may hold personal information: sealed, only its length in clear (reasons.ts).
          attrs: {
            purpose: r.purpose,
            reasonLength: reason.length,
            reasonSealed: reasonSealer.seal(items[i]!.principal.id, r.subject, reason),
            evidence: r.evidence,
          },
        });
      }
    }
    lap('record');
    return results;
  }

  const reads = createBatchCommit(deps.db, processReads, { maxBatch: deps.maxGroup ?? 256 });
  const group = createGroupCommit(deps.db);

  function item(
    principal: Principal,
    req: ReadRequest,
    action: ReadItem['action'] = 'read',
    attrs?: ReadItem['attrs'],
  ): ReadItem {
    const it: ReadItem = {
      principal,
      req: { ...req, fields: checkFields(req.fields) },
      at: deps.clock.now(),
      action,
    };
    if (attrs) it.attrs = attrs;
    return it;
  }

  return {
    /**
     * One audited read. Concurrent reads share a durable transaction (group commit); the promise
     * resolves once the decision and its record are committed. A denial resolves with
     * `allowed: false` (recorded); use `denialError` to turn it into the caller's error.
     */
    async read(principal: Principal, req: ReadRequest): Promise<ReadResult> {
      return reads.submit(item(principal, req));
    },

    /**
     * Up to MAX_BATCH subjects for one purpose and field set, in one transaction, each with its own
     * decision and record. No bulk listing: the caller names the subjects.
     */
    async readBatch(
      principal: Principal,
      req: { subjectIds: readonly string[]; purpose: string; fields: readonly string[]; requestId?: string },
    ): Promise<ReadResult[]> {
      const fields = checkFields(req.fields);
      if (req.subjectIds.length === 0 || req.subjectIds.length > MAX_BATCH) {
        throw accessError('ACCESS_BATCH_TOO_LARGE', { details: { max: MAX_BATCH } });
      }
      const at = deps.clock.now();
      const items: ReadItem[] = req.subjectIds.map((subjectId) => ({
        principal,
        req: {
          subjectId,
          purpose: req.purpose,
          fields,
          ...(req.requestId ? { requestId: req.requestId } : {}),
        },
        at,
        action: 'read',
      }));
      return deps.db.transaction().execute((trx) => processReads(trx, items));
    },

    /**
     * Finds subjects by an exact value of a searchable field (blind index: no decryption). Returns
     * only subjects this actor may read for the purpose, so lookup is no oracle for whether a phone
     * number belongs to a customer; the lookup itself is an access event (without the value).
     */
    async lookup(
      principal: Principal,
      req: { purpose: string; field: string; value: string; requestId?: string },
    ): Promise<{ subjects: string[]; evidence: string }> {
      checkFields([req.field]);
      const found = await deps.vault.lookup(req.field, req.value);
      const at = deps.clock.now();
      const r = await group.run(async (trx) => {
        const guardItem: GuardItem = {
          actor: principal.id,
          kind: principal.kind,
          roles: principal.roles,
          subject: null,
          purpose: req.purpose,
          action: 'lookup',
          at,
          breakGlass: false,
          approved: false,
        };
        const blocked = deps.guard ? (await deps.guard.before(trx, [guardItem])).block[0] : undefined;
        if (blocked) {
          const [evidence] = await logMany(trx, [
            {
              at,
              actor: principal.id,
              purpose: req.purpose,
              subject: null,
              action: 'lookup',
              fields: [req.field],
              views: {},
              allowed: false,
              reasons: [blocked],
              requestId: req.requestId,
            },
          ]);
          await deps.guard!.after(trx, [guardItem], [{ allowed: false, leaf: evidence!, tokens: 0 }]);
          return { subjects: [] as string[], evidence: evidence!, blocked };
        }
        const contexts = await deps.policy.contexts(
          trx,
          found.map((subjectId) => ({ principal, purpose: req.purpose, subjectId, at })),
        );
        const visible = found.filter(
          (subjectId, i) =>
            deps.policy.decide({
              principal,
              purpose: req.purpose,
              subjectId,
              fields: [req.field],
              context: contexts[i]!,
            }).allowed,
        );
        const [evidence] = await logMany(trx, [
          {
            at,
            actor: principal.id,
            purpose: req.purpose,
            subject: null,
            action: 'lookup',
            fields: [req.field],
            views: {},
            allowed: visible.length > 0,
            reasons: visible.length > 0 ? [] : ['NO_MATCH_VISIBLE'],
            requestId: req.requestId,
            // Ids only; a value shared by very many subjects is recorded by count past the first 1,000.
            attrs: { matches: visible.slice(0, 1000), matchCount: visible.length },
          },
        ]);
        await deps.guard?.after(
          trx,
          [guardItem],
          [{ allowed: visible.length > 0, leaf: evidence!, tokens: 0, miss: visible.length === 0 }],
        );
        return { subjects: visible, evidence: evidence!, blocked: undefined as string | undefined };
      });
      if (r.blocked) throw denialError({ reasons: [r.blocked] });
      return { subjects: r.subjects, evidence: r.evidence };
    },

    /**
     * The telephony or mail integration resolves a contact token at dial time. The employee who
     * holds the token never sees the number; the resolution is an access event naming both, and
     * it passes its own decision (the resolver's role, purpose `contact`). A forged or expired
     * token is refused and the attempt recorded.
     */
    async resolveToken(
      principal: Principal,
      req: { token: string; requestId?: string },
    ): Promise<{ value: string; evidence: string }> {
      const claims = tokens.open(req.token);
      const at = deps.clock.now();
      if (!claims || claims.e * 1000 < at.getTime()) {
        await group.run((trx) =>
          logMany(trx, [
            {
              at,
              actor: principal.id,
              purpose: CONTACT_PURPOSE,
              subject: claims?.s ?? null,
              action: 'resolve_token',
              fields: claims ? [claims.f] : [],
              views: claims ? { [claims.f]: 'deny' } : {},
              allowed: false,
              reasons: [claims ? 'TOKEN_EXPIRED' : 'TOKEN_INVALID'],
              requestId: req.requestId,
              attrs: claims ? { issued_to: claims.a, issued_for: claims.p } : {},
            },
          ]),
        );
        throw accessError('ACCESS_TOKEN_INVALID');
      }
      const issuer = deps.principalOf
        ? { principal: await deps.principalOf(claims.a), purpose: claims.p }
        : undefined;
      const r = await reads.submit({
        ...(issuer ? { issuer } : {}),
        principal,
        req: {
          subjectId: claims.s,
          purpose: CONTACT_PURPOSE,
          fields: [claims.f],
          ...(req.requestId ? { requestId: req.requestId } : {}),
        },
        at,
        action: 'resolve_token',
        attrs: { issued_to: claims.a, issued_for: claims.p },
      });
      const f = r.fields[claims.f];
      if (!r.allowed) throw denialError(r);
      if (f?.view !== 'plain' || f.value === undefined) throw accessError('ACCESS_DENIED');
      return { value: f.value, evidence: r.evidence };
    },

    /**
     * Provision to a third party: the disclosure module has checked the basis (separate consent,
     * recipient, assessment); this decrypts the fields and records one 'disclose' event per subject
     * delivered. Erased and unknown subjects are left out of the result (the caller counts them).
     */
    async readForDisclosure(
      trx: Transaction<any>,
      req: {
        subjectIds: readonly string[];
        fields: readonly string[];
        purpose: string;
        recipientId: string;
        disclosureId: string;
        actorId: string;
      },
    ): Promise<Map<string, Record<string, string>>> {
      const fields = checkFields(req.fields);
      const at = deps.clock.now();
      const opened = await openSubjectsFields(deps.vault, trx, req.subjectIds, fields);
      const views: Record<string, View> = Object.fromEntries(fields.map((f) => [f, 'plain' as View]));
      const events: LogEvent[] = [];
      for (const subjectId of opened.values.keys()) {
        events.push({
          at,
          actor: req.actorId,
          purpose: req.purpose,
          subject: subjectId,
          action: 'disclose',
          fields,
          views,
          allowed: true,
          reasons: [],
          attrs: { recipient: req.recipientId, disclosure: req.disclosureId },
        });
      }
      await logMany(trx, events);
      return opened.values;
    },

    /** Who read this subject's record, when, for what, and the ledger handle of each decision. */
    async history(
      subjectId: string,
      q: {
        since?: string;
        limit?: number;
        after?: HistoryCursor;
        order?: 'asc' | 'desc';
        actor?: string;
      } = {},
    ): Promise<AccessEvent[]> {
      return (
        await eventsForSubject(deps.db, subjectId, { ...q, limit: Math.min(q.limit ?? 200, 5000) })
      ).map(toEvent);
    },

    async actorEvents(
      actorId: string,
      q: { since?: string; until?: string; limit?: number } = {},
    ): Promise<AccessEvent[]> {
      return (
        await eventsForActor(deps.db, actorId, { ...q, limit: Math.min(q.limit ?? 1000, 100_000) })
      ).map(toEvent);
    },

    async drain(): Promise<void> {
      await reads.drain();
      await group.drain();
    },
    /**
     * Attempts an authenticated actor made that never reached a decision: a malformed request
     * (missing purpose, bad field list) or one refused by the rate limiter. Each is an access event
     * (action 'attempt', not allowed, the error code as its reason) with its ledger entry, so a
     * probe leaves evidence like a read does (docs/access.md, "Rejected attempts"). `count` > 1
     * records repeats coalesced by the caller within one window.
     */
    async recordAttempts(attempts: readonly AttemptRecord[]): Promise<void> {
      if (attempts.length === 0) return;
      const at = deps.clock.now();
      await deps.db.transaction().execute((trx) =>
        logMany(
          trx,
          attempts.map((a) => ({
            at,
            actor: a.actor,
            purpose: a.purpose ?? 'unknown',
            subject: a.subject ?? null,
            action: 'attempt',
            fields: [],
            views: {},
            allowed: false,
            reasons: [a.code],
            requestId: a.requestId,
            attrs: { route: a.route, status: a.status, count: a.count },
          })),
        ),
      );
    },

    /**
     * The break-glass reason of an alert (its attrs.reasonSealed), for the privacy team's review;
     * undefined when it does not open for this actor and subject.
     */
    openBreakGlassReason(actor: string, subject: string, sealed: string): string | undefined {
      return reasonSealer.open(actor, subject, sealed);
    },

    /** Group-commit counters of the single-read path (transactions, reads in them, batches retried one by one). */
    stats: () => reads.stats(),

    /**
     * Wall time spent in each stage of the read path since creation, summed over every read (all
     * paths), in milliseconds, with the number of reads: the benchmark's per-stage cost. The
     * transaction's commit is outside these stages.
     */
    stages: (): Readonly<Record<Stage | 'reads', number>> => ({ ...stageMs }),
  };
}
