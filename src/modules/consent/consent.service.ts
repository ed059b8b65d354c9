import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { DialectName } from '../../db/index.js';
import { type AuditEvent, type DbExecutor, type Recorder, requireRecorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { type Keyring, sha256 } from '../../lib/crypto/index.js';
import { type AppError, isAppError } from '../../lib/errors.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import { consentError } from './consent.errors.js';
import {
  activeForWithdrawal,
  allCheckRows,
  type CheckRow,
  checkRows,
  existingImportKeys,
  getConsent,
  getNotice,
  getNoticeByVersion,
  importKey,
  insertConsents,
  insertNotice,
  latestNoticeVersion,
  listConsents,
  listNotices,
  markWithdrawn,
} from './consent.repo.js';
import type { ConsentsTable, NoticesTable } from './consent.tables.js';
import { GIVEN_BY, ImportRowSchema, LOOKUP_COLUMNS, METHODS, parseCsv } from './importcsv.js';
import {
  FIELD_RE,
  ID_RE,
  NOTICE_REF_RE,
  type Notice,
  type NoticeDeclarations,
  type NoticeInput,
  NoticeInputSchema,
  noticeScope,
  PURPOSE_RE,
} from './notice.js';
import {
  type ConsentReceipt,
  RECEIPT_FORMAT,
  type SignedReceipt,
  signReceipt,
  verifyReceipt,
} from './receipt.js';

/**
 * Consent records (PIPL art. 13–17, 23, 28–31, 39): who agreed to what, for which purpose and
 * recipient, having seen which notice (by SHA-256), how, when, until when, and whether it was the
 * separate consent (单独同意) the law requires for sensitive PI, provision to a third party and
 * transfers abroad. Every change is appended to the ledger in the same transaction.
 *
 * `hasConsent` and `consentedSubjects` are what the policy engine's "consent required" condition
 * and the disclosure module ask: true only for a record given at or before the time asked, not
 * withdrawn by then, not expired, and — for a recipient — carrying the third-party separate flag.
 */
export type ConsentMethod = (typeof METHODS)[number];
export type GivenBy = (typeof GIVEN_BY)[number];

export interface Separate {
  sensitive: boolean;
  thirdParty: boolean;
  crossBorder: boolean;
}

export interface ConsentRecord {
  id: string;
  subjectId: string;
  purpose: string;
  recipientId: string | null;
  fields: string[];
  noticeId: string;
  noticeSha256: string;
  method: string;
  givenBy: string;
  givenAt: string;
  expiresAt: string | null;
  withdrawnAt: string | null;
  withdrawalMethod: string | null;
  separate: Separate;
  evidenceRef: string | null;
  source: string;
  importId: string | null;
  recordedAt: string;
  recordedBy: string | null;
}

const isoTime = z.iso.datetime({ offset: true });

export const GrantInputSchema = z.object({
  subjectId: z.string().regex(ID_RE),
  purpose: z.string().regex(PURPOSE_RE),
  recipientId: z.string().regex(ID_RE).nullish(),
  fields: z.array(z.string().regex(FIELD_RE)).min(1).max(200),
  /** A notice id, or key@version. */
  noticeId: z.string().regex(NOTICE_REF_RE),
  method: z.enum(METHODS),
  givenBy: z.enum(GIVEN_BY).optional(),
  givenAt: isoTime.optional(),
  expiresAt: isoTime.nullish(),
  separate: z
    .object({
      sensitive: z.boolean().optional(),
      thirdParty: z.boolean().optional(),
      crossBorder: z.boolean().optional(),
    })
    .optional(),
  evidenceRef: z.string().min(1).max(256).nullish(),
});

export type GrantInput = z.input<typeof GrantInputSchema>;

export const WithdrawInputSchema = z.union([
  z.object({ consentId: z.string().regex(ID_RE) }),
  z.object({
    subjectId: z.string().regex(ID_RE),
    purpose: z.string().regex(PURPOSE_RE),
    /** Omitted: every record for the purpose, recipients included. */
    recipientId: z.string().regex(ID_RE).optional(),
  }),
]);

export type WithdrawInput = z.input<typeof WithdrawInputSchema>;

export interface ConsentCheck {
  subjectId: string;
  purpose: string;
  recipientId?: string | null | undefined;
  at: Date | string;
  /** Every one of these fields must be covered by the record. */
  fields?: readonly string[] | undefined;
  /** PIPL art. 39: the record must carry the cross-border separate flag. */
  crossBorder?: boolean | undefined;
  /** PIPL art. 29: the record must carry the sensitive-PI separate flag. */
  sensitive?: boolean | undefined;
}

export type CheckOptions = Pick<ConsentCheck, 'fields' | 'crossBorder' | 'sensitive'>;

export type ImportRowResult =
  | { line: number; status: 'imported'; consentId: string }
  | { line: number; status: 'duplicate' }
  | { line: number; status: 'rejected'; code: string; field?: string };

export interface ImportResult {
  importId: string;
  total: number;
  imported: number;
  duplicates: number;
  rejected: number;
  rows: ImportRowResult[];
}

/** Called inside the withdrawal's transaction (the disclosure module queues deletion notices). */
export type WithdrawalListener = (trx: DbExecutor, withdrawn: readonly ConsentRecord[]) => Promise<void>;

export interface ConsentDeps {
  db: Kysely<any>;
  dialect: DialectName;
  clock: Clock;
  keyring: Pick<Keyring, 'signingKey' | 'publicKeyRaw'>;
  ids?: IdSource;
  record: Recorder;
  /** Blind-index lookup of a subject by a field value (the vault's `lookup`), for imports. */
  lookup?: (field: string, value: string) => Promise<readonly string[]>;
  /** Which of these subject ids exist (the vault); when absent ids are taken as given. */
  knownSubjects?: (db: DbExecutor, ids: readonly string[]) => Promise<ReadonlySet<string>>;
}

export type Consent = ReturnType<typeof createConsent>;

function toNotice(r: NoticesTable): Notice {
  return {
    id: r.id,
    key: r.key,
    version: Number(r.version),
    language: r.language,
    text: r.body,
    sha256: r.sha256,
    declarations: JSON.parse(r.declarations) as NoticeDeclarations,
    recipientId: r.recipient_id,
    publishedAt: r.published_at,
    publishedBy: r.published_by,
  };
}

export function toConsentRecord(r: ConsentsTable): ConsentRecord {
  return {
    id: r.id,
    subjectId: r.subject_id,
    purpose: r.purpose,
    recipientId: r.recipient_id,
    fields: JSON.parse(r.fields) as string[],
    noticeId: r.notice_id,
    noticeSha256: r.notice_sha256,
    method: r.method,
    givenBy: r.given_by,
    givenAt: r.given_at,
    expiresAt: r.expires_at,
    withdrawnAt: r.withdrawn_at,
    withdrawalMethod: r.withdrawal_method,
    separate: {
      sensitive: Number(r.sep_sensitive) === 1,
      thirdParty: Number(r.sep_third_party) === 1,
      crossBorder: Number(r.sep_cross_border) === 1,
    },
    evidenceRef: r.evidence_ref,
    source: r.source,
    importId: r.import_id,
    recordedAt: r.recorded_at,
    recordedBy: r.recorded_by,
  };
}

const iso = (t: Date | string) => (typeof t === 'string' ? new Date(t) : t).toISOString();

function givenEvent(r: ConsentsTable): AuditEvent {
  return {
    kind: 'consent.given',
    at: r.recorded_at,
    actor: r.recorded_by,
    subject: r.subject_id,
    purpose: r.purpose,
    attrs: {
      consent: r.id,
      recipient: r.recipient_id,
      notice: r.notice_id,
      notice_sha256: r.notice_sha256,
      method: r.method,
      given_at: r.given_at,
      fields: JSON.parse(r.fields) as string[],
      sensitive: r.sep_sensitive === 1,
      third_party: r.sep_third_party === 1,
      cross_border: r.sep_cross_border === 1,
      source: r.source,
    },
  };
}

/**
 * Validates a consent against the notice shown and builds its row. Throws an AppError naming the
 * first mismatch (no PI in it).
 */
function buildRow(
  notice: Notice,
  g: z.output<typeof GrantInputSchema> & { withdrawnAt?: string | undefined },
  ctx: { id: string; now: string; by: string | null; source: string; importId: string | null },
): ConsentsTable {
  const recipientId = g.recipientId ?? null;
  const sep = g.separate ?? {};
  const d = notice.declarations;
  if (recipientId !== null && d.thirdParty?.recipientId !== recipientId)
    throw consentError('CONSENT_RECIPIENT_NOT_IN_NOTICE', { details: { notice: notice.id } });
  if (sep.thirdParty && recipientId === null)
    throw consentError('CONSENT_RECIPIENT_NOT_IN_NOTICE', { details: { notice: notice.id } });
  const scope = noticeScope(notice, recipientId);
  if (!scope.purposes.has(g.purpose))
    throw consentError('CONSENT_PURPOSE_NOT_IN_NOTICE', {
      details: { notice: notice.id, purpose: g.purpose },
    });
  const outside = g.fields.filter((f) => !scope.fields.has(f));
  if (outside.length)
    throw consentError('CONSENT_FIELDS_NOT_IN_NOTICE', { details: { notice: notice.id, fields: outside } });
  if (sep.crossBorder && (!d.crossBorder || recipientId === null))
    throw consentError('CONSENT_CROSS_BORDER_NOT_IN_NOTICE', { details: { notice: notice.id } });
  if (sep.sensitive && !d.sensitive)
    throw consentError('CONSENT_SENSITIVE_NOT_IN_NOTICE', { details: { notice: notice.id } });
  const givenAt = g.givenAt ? iso(g.givenAt) : ctx.now;
  const expiresAt = g.expiresAt ? iso(g.expiresAt) : null;
  const withdrawnAt = g.withdrawnAt ? iso(g.withdrawnAt) : null;
  if (givenAt > ctx.now || (expiresAt !== null && expiresAt <= givenAt))
    throw consentError('CONSENT_TIME_INVALID');
  if (withdrawnAt !== null && (withdrawnAt < givenAt || withdrawnAt > ctx.now))
    throw consentError('CONSENT_TIME_INVALID');
  const fields = [...new Set(g.fields)].sort();
  return {
    id: ctx.id,
    subject_id: g.subjectId,
    purpose: g.purpose,
    recipient_id: recipientId,
    fields: JSON.stringify(fields),
    notice_id: notice.id,
    notice_sha256: notice.sha256,
    method: g.method,
    given_by: g.givenBy ?? 'subject',
    given_at: givenAt,
    expires_at: expiresAt,
    withdrawn_at: withdrawnAt,
    withdrawal_method: withdrawnAt ? g.method : null,
    withdrawn_by: null,
    sep_sensitive: sep.sensitive ? 1 : 0,
    sep_third_party: sep.thirdParty ? 1 : 0,
    sep_cross_border: sep.crossBorder ? 1 : 0,
    evidence_ref: g.evidenceRef ?? null,
    source: ctx.source,
    import_id: ctx.importId,
    recorded_at: ctx.now,
    recorded_by: ctx.by,
  };
}

/** A matcher of check rows against the fields and flags asked for; caches parsed field lists. */
function rowMatcher(opts: CheckOptions): (r: CheckRow) => boolean {
  const want = opts.fields && opts.fields.length > 0 ? [...new Set(opts.fields)] : undefined;
  const cache = new Map<string, boolean>();
  return (r) => {
    if (opts.crossBorder && Number(r.sep_cross_border) !== 1) return false;
    if (opts.sensitive && Number(r.sep_sensitive) !== 1) return false;
    if (!want) return true;
    let ok = cache.get(r.fields);
    if (ok === undefined) {
      const have = new Set(JSON.parse(r.fields) as string[]);
      ok = want.every((f) => have.has(f));
      cache.set(r.fields, ok);
    }
    return ok;
  };
}

export function createConsent(deps: ConsentDeps) {
  requireRecorder(deps.record, 'createConsent');
  const ids = deps.ids ?? randomId;
  const listeners: WithdrawalListener[] = [];
  const now = () => deps.clock.now().toISOString();

  async function loadNotice(db: DbExecutor, ref: string): Promise<Notice> {
    const at = /^([a-z0-9][a-z0-9_.-]{0,63})@([1-9][0-9]{0,8})$/.exec(ref);
    const row = at ? await getNoticeByVersion(db, at[1]!, Number(at[2])) : await getNotice(db, ref);
    if (!row) throw consentError('CONSENT_NOTICE_NOT_FOUND', { details: { notice: ref } });
    return toNotice(row);
  }

  async function assertSubjects(db: DbExecutor, subjectIds: readonly string[]): Promise<void> {
    if (!deps.knownSubjects) return;
    const known = await deps.knownSubjects(db, subjectIds);
    const missing = subjectIds.filter((s) => !known.has(s));
    if (missing.length)
      throw consentError('CONSENT_SUBJECT_NOT_FOUND', { details: { subjects: missing.length } });
  }

  function receiptFor(r: ConsentRecord, n: Notice): SignedReceipt {
    const receipt: ConsentReceipt = {
      format: RECEIPT_FORMAT,
      consentId: r.id,
      subjectId: r.subjectId,
      purpose: r.purpose,
      recipientId: r.recipientId,
      fields: r.fields,
      notice: { id: n.id, key: n.key, version: n.version, sha256: n.sha256 },
      method: r.method,
      givenBy: r.givenBy,
      givenAt: r.givenAt,
      expiresAt: r.expiresAt,
      withdrawnAt: r.withdrawnAt,
      separate: r.separate,
      evidenceRef: r.evidenceRef,
      processor: { name: n.declarations.processor.name, contact: n.declarations.processor.contact },
      issuedAt: now(),
    };
    return signReceipt(deps.keyring, receipt);
  }

  async function check(db: DbExecutor, subjectIds: readonly string[], q: Omit<ConsentCheck, 'subjectId'>) {
    const rows = await checkRows(db, deps.dialect, {
      purpose: q.purpose,
      recipientId: q.recipientId ?? null,
      at: iso(q.at),
      subjectIds,
    });
    const match = rowMatcher(q);
    const out = new Set<string>();
    for (const r of rows) if (match(r)) out.add(r.subject_id);
    return out;
  }

  return {
    /** Raw 32-byte Ed25519 public key (base64) that verifies receipts. */
    publicKey: deps.keyring.publicKeyRaw.toString('base64'),

    /** Publishes the next version of a notice (PIPL 14: a changed notice is a new version). */
    async publishNotice(input: NoticeInput, by: string | null): Promise<Notice> {
      const parsed = NoticeInputSchema.safeParse(input);
      if (!parsed.success)
        throw consentError('CONSENT_NOTICE_INVALID', {
          details: {
            issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), problem: i.message })),
          },
        });
      const n = parsed.data;
      return deps.db.transaction().execute(async (trx) => {
        const version = (await latestNoticeVersion(trx, n.key)) + 1;
        const row: NoticesTable = {
          id: ids('ntc'),
          key: n.key,
          version,
          language: n.language,
          body: n.text,
          sha256: sha256(Buffer.from(n.text, 'utf8')).toString('hex'),
          declarations: JSON.stringify(n.declarations),
          recipient_id: n.declarations.thirdParty?.recipientId ?? null,
          published_at: now(),
          published_by: by,
        };
        await insertNotice(trx, row);
        await deps.record(trx, [
          {
            kind: 'notice.published',
            at: row.published_at,
            actor: by,
            attrs: { notice: row.id, key: row.key, version, sha256: row.sha256, recipient: row.recipient_id },
          },
        ]);
        return toNotice(row);
      });
    },

    async getNotice(ref: string): Promise<Notice> {
      return loadNotice(deps.db, ref);
    },

    async listNotices(key?: string): Promise<Notice[]> {
      return (await listNotices(deps.db, key)).map(toNotice);
    },

    /** Records a consent and returns it with a signed receipt for the person. */
    async grant(
      input: GrantInput,
      by: string | null,
      opts: { source?: 'api' | 'cli' } = {},
    ): Promise<{ consent: ConsentRecord; receipt: SignedReceipt }> {
      const g = GrantInputSchema.parse(input);
      return deps.db.transaction().execute(async (trx) => {
        const notice = await loadNotice(trx, g.noticeId);
        await assertSubjects(trx, [g.subjectId]);
        const row = buildRow(notice, g, {
          id: ids('cns'),
          now: now(),
          by,
          source: opts.source ?? 'api',
          importId: null,
        });
        await insertConsents(trx, [row]);
        await deps.record(trx, [givenEvent(row)]);
        const consent = toConsentRecord(row);
        return { consent, receipt: receiptFor(consent, notice) };
      });
    },

    /**
     * Records consents in the caller's transaction, without receipts: for records that the
     * organisation itself creates (canary subjects get the same kind of record as the customers
     * around them, so nothing sets them apart in an export). Each input is validated like a grant.
     */
    async grantMany(
      trx: DbExecutor,
      inputs: readonly GrantInput[],
      ctx: { by: string | null; source: string },
    ): Promise<ConsentRecord[]> {
      const notices = new Map<string, Notice>();
      const rows: ConsentsTable[] = [];
      const at = now();
      for (const input of inputs) {
        const g = GrantInputSchema.parse(input);
        let n = notices.get(g.noticeId);
        if (!n) {
          n = await loadNotice(trx, g.noticeId);
          notices.set(g.noticeId, n);
        }
        rows.push(
          buildRow(n, g, { id: ids('cns'), now: at, by: ctx.by, source: ctx.source, importId: null }),
        );
      }
      await insertConsents(trx, rows);
      await deps.record(trx, rows.map(givenEvent));
      return rows.map(toConsentRecord);
    },

    /**
     * PIPL art. 15: withdrawal is as easy as consent and stops processing from now on; what was
     * done before stays lawful. Withdrawing without a recipient withdraws every record for the
     * purpose, the recipients' included.
     */
    async withdraw(
      input: WithdrawInput,
      ctx: { by: string | null; method: ConsentMethod },
    ): Promise<ConsentRecord[]> {
      const w = WithdrawInputSchema.parse(input);
      return deps.db.transaction().execute(async (trx) => {
        const at = now();
        let rows: ConsentsTable[];
        if ('consentId' in w) {
          const r = await getConsent(trx, w.consentId);
          if (!r) throw consentError('CONSENT_NOT_FOUND');
          rows = r.withdrawn_at === null && (r.expires_at === null || r.expires_at > at) ? [r] : [];
        } else {
          rows = await activeForWithdrawal(trx, { ...w, at });
        }
        if (rows.length === 0) throw consentError('CONSENT_NOT_ACTIVE');
        await markWithdrawn(
          trx,
          rows.map((r) => r.id),
          { at, method: ctx.method, by: ctx.by },
        );
        const withdrawn = rows.map((r) =>
          toConsentRecord({ ...r, withdrawn_at: at, withdrawal_method: ctx.method, withdrawn_by: ctx.by }),
        );
        await deps.record(
          trx,
          withdrawn.map((r) => ({
            kind: 'consent.withdrawn',
            at,
            actor: ctx.by,
            subject: r.subjectId,
            purpose: r.purpose,
            attrs: { consent: r.id, recipient: r.recipientId, method: ctx.method },
          })),
        );
        for (const l of listeners) await l(trx, withdrawn);
        return withdrawn;
      });
    },

    /** Registers a listener run inside every withdrawal's transaction. */
    onWithdrawal(listener: WithdrawalListener): void {
      listeners.push(listener);
    },

    async get(id: string): Promise<ConsentRecord> {
      const r = await getConsent(deps.db, id);
      if (!r) throw consentError('CONSENT_NOT_FOUND');
      return toConsentRecord(r);
    },

    async list(
      q: { subjectId?: string; purpose?: string; recipientId?: string; limit?: number; after?: string } = {},
    ): Promise<ConsentRecord[]> {
      const rows = await listConsents(deps.db, { ...q, limit: Math.min(Math.max(q.limit ?? 100, 1), 1000) });
      return rows.map(toConsentRecord);
    },

    /** A freshly signed receipt of the record's current state. */
    async receipt(id: string): Promise<SignedReceipt> {
      const r = await getConsent(deps.db, id);
      if (!r) throw consentError('CONSENT_NOT_FOUND');
      const c = toConsentRecord(r);
      return receiptFor(c, await loadNotice(deps.db, c.noticeId));
    },

    /** Checks a receipt against this deployment's key. */
    verifyReceipt(signed: unknown): boolean {
      return verifyReceipt(signed, deps.keyring.publicKeyRaw);
    },

    /** One indexed lookup: is there an effective consent for this subject, purpose and recipient? */
    async hasConsent(db: DbExecutor, q: ConsentCheck): Promise<boolean> {
      return (await check(db, [q.subjectId], q)).has(q.subjectId);
    },

    /** The subset of `subjectIds` with an effective consent (batched IN lists on the same index). */
    async consentedSubjects(
      db: DbExecutor,
      subjectIds: readonly string[],
      purpose: string,
      recipientId: string | null | undefined,
      at: Date | string,
      opts: CheckOptions = {},
    ): Promise<Set<string>> {
      if (subjectIds.length === 0) return new Set();
      return check(db, subjectIds, { purpose, recipientId, at, ...opts });
    },

    /** Every subject with an effective consent for the purpose and recipient, in index order. */
    async allConsentedSubjects(
      db: DbExecutor,
      purpose: string,
      recipientId: string | null | undefined,
      at: Date | string,
      opts: CheckOptions = {},
    ): Promise<string[]> {
      const rows = await allCheckRows(db, { purpose, recipientId: recipientId ?? null, at: iso(at) });
      const match = rowMatcher(opts);
      const out = new Set<string>();
      for (const r of rows) if (match(r)) out.add(r.subject_id);
      return [...out];
    },

    /**
     * Imports existing consents with their evidence from CSV (columns in importcsv.ts). Returns a
     * result per row and never throws halfway: bad rows are rejected with a code, rows already
     * present are reported as duplicates (so re-running an import is safe), and the rest are
     * written in batches, each in one transaction with its ledger entries.
     */
    async importCsv(text: string, by: string | null): Promise<ImportResult> {
      const importId = ids('imp');
      const file = parseCsv(text);
      const results: ImportRowResult[] = file.malformed.map((line) => ({
        line,
        status: 'rejected' as const,
        code: 'VALIDATION_FAILED',
      }));
      const hasId = file.header.includes('subject_id');
      const lookupCol = LOOKUP_COLUMNS.find((c) => file.header.includes(c));
      if (!hasId && !lookupCol)
        throw consentError('CONSENT_IMPORT_INVALID', { details: { missing: 'subject_id' } });
      const at = now();
      const notices = new Map<string, Notice | AppError>();
      type Pending = { line: number; row: ConsentsTable };
      const pending: Pending[] = [];
      const reject = (line: number, e: unknown, field?: string) =>
        results.push({
          line,
          status: 'rejected',
          code: isAppError(e) ? e.code : 'VALIDATION_FAILED',
          ...(field ? { field } : {}),
        });

      for (const raw of file.rows) {
        const parsed = ImportRowSchema.safeParse(raw.values);
        if (!parsed.success) {
          reject(raw.line, undefined, String(parsed.error.issues[0]?.path[0] ?? ''));
          continue;
        }
        const v = parsed.data;
        let subjectId = v.subject_id;
        if (!subjectId) {
          const col = LOOKUP_COLUMNS.find((c) => v[c] !== undefined);
          if (!col || !deps.lookup) {
            reject(raw.line, consentError('CONSENT_SUBJECT_NOT_FOUND'), col ?? 'subject_id');
            continue;
          }
          let found: readonly string[];
          try {
            found = await deps.lookup(col, v[col]!);
          } catch {
            // The vault rejects values it cannot normalise; the row is rejected, the value not echoed.
            reject(raw.line, undefined, col);
            continue;
          }
          if (found.length !== 1) {
            reject(
              raw.line,
              consentError(found.length === 0 ? 'CONSENT_SUBJECT_NOT_FOUND' : 'CONSENT_SUBJECT_AMBIGUOUS'),
              col,
            );
            continue;
          }
          subjectId = found[0]!;
        }
        let notice = notices.get(v.notice);
        if (!notice) {
          try {
            notice = await loadNotice(deps.db, v.notice);
          } catch (e) {
            notice = e as AppError;
          }
          notices.set(v.notice, notice);
        }
        if (!(notice as Notice).declarations) {
          reject(raw.line, notice, 'notice');
          continue;
        }
        try {
          const row = buildRow(
            notice as Notice,
            {
              subjectId,
              purpose: v.purpose,
              recipientId: v.recipient_id ?? null,
              fields: v.fields,
              noticeId: (notice as Notice).id,
              method: v.method,
              givenBy: v.given_by,
              givenAt: v.given_at,
              expiresAt: v.expires_at ?? null,
              withdrawnAt: v.withdrawn_at,
              separate: { sensitive: v.sensitive, thirdParty: v.third_party, crossBorder: v.cross_border },
              evidenceRef: v.evidence_ref ?? null,
            },
            { id: ids('cns'), now: at, by, source: 'import', importId },
          );
          pending.push({ line: raw.line, row });
        } catch (e) {
          reject(raw.line, e);
        }
      }

      if (deps.knownSubjects && pending.length) {
        const known = await deps.knownSubjects(deps.db, [...new Set(pending.map((p) => p.row.subject_id))]);
        for (let i = pending.length - 1; i >= 0; i--) {
          if (!known.has(pending[i]!.row.subject_id)) {
            reject(pending[i]!.line, consentError('CONSENT_SUBJECT_NOT_FOUND'), 'subject_id');
            pending.splice(i, 1);
          }
        }
      }

      const BATCH = 2000;
      for (let i = 0; i < pending.length; i += BATCH) {
        const batch = pending.slice(i, i + BATCH);
        try {
          await deps.db.transaction().execute(async (trx) => {
            const existing = await existingImportKeys(trx, [...new Set(batch.map((p) => p.row.subject_id))]);
            const fresh: Pending[] = [];
            for (const p of batch) {
              const k = importKey(
                p.row.subject_id,
                p.row.purpose,
                p.row.recipient_id,
                p.row.given_at,
                p.row.notice_id,
              );
              if (existing.has(k)) results.push({ line: p.line, status: 'duplicate' });
              else {
                existing.add(k);
                fresh.push(p);
              }
            }
            await insertConsents(
              trx,
              fresh.map((p) => p.row),
            );
            const events: AuditEvent[] = [];
            for (const p of fresh) {
              events.push({ ...givenEvent(p.row), attrs: { ...givenEvent(p.row).attrs, import: importId } });
              if (p.row.withdrawn_at)
                events.push({
                  kind: 'consent.withdrawn',
                  at,
                  actor: by,
                  subject: p.row.subject_id,
                  purpose: p.row.purpose,
                  attrs: {
                    consent: p.row.id,
                    recipient: p.row.recipient_id,
                    withdrawn_at: p.row.withdrawn_at,
                  },
                });
            }
            await deps.record(trx, events);
            for (const p of fresh) results.push({ line: p.line, status: 'imported', consentId: p.row.id });
          });
        } catch {
          for (const p of batch) {
            const idx = results.findIndex((r) => r.line === p.line);
            if (idx >= 0) results.splice(idx, 1);
            results.push({ line: p.line, status: 'rejected', code: 'INTERNAL' });
          }
        }
      }

      results.sort((a, b) => a.line - b.line);
      const count = (s: ImportRowResult['status']) => results.filter((r) => r.status === s).length;
      if (count('imported') > 0)
        await deps.db.transaction().execute(async (trx) => {
          await deps.record(trx, [
            {
              kind: 'consent.imported',
              at,
              actor: by,
              attrs: { import: importId, imported: count('imported'), rejected: count('rejected') },
            },
          ]);
        });
      return {
        importId,
        total: results.length,
        imported: count('imported'),
        duplicates: count('duplicate'),
        rejected: count('rejected'),
        rows: results,
      };
    },
  };
}
