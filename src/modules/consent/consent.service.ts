import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { DialectName } from '../../db/index.js';
import { type DbExecutor, type Recorder, requireRecorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { type Keyring, sha256 } from '../../lib/crypto/index.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import { issuePath } from '../../lib/zodissues.js';
import { consentError } from './consent.errors.js';
import {
  activeForWithdrawal,
  allCheckRows,
  type CheckRow,
  checkRows,
  effectiveRows,
  getConsent,
  getNotice,
  getNoticeByVersion,
  insertConsents,
  insertNotice,
  latestNoticeVersion,
  listConsents,
  listNotices,
  markWithdrawn,
} from './consent.repo.js';
import type { ConsentsTable, NoticesTable } from './consent.tables.js';
import { GIVEN_BY, METHODS } from './importcsv.js';
import { importConsentsCsv } from './importer.js';
import {
  FIELD_RE,
  ID_RE,
  NOTICE_REF_RE,
  type Notice,
  type NoticeDeclarations,
  type NoticeInput,
  NoticeInputSchema,
  PURPOSE_RE,
} from './notice.js';
import {
  type ConsentReceipt,
  RECEIPT_FORMAT,
  type SignedReceipt,
  signReceipt,
  verifyReceipt,
} from './receipt.js';
import { buildRow, givenEvent, iso } from './rows.js';

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
    // Not repeated: the reference is the caller's input.
    if (!row) throw consentError('CONSENT_NOTICE_NOT_FOUND');
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
            issues: parsed.error.issues.map((i) => ({
              path: issuePath(i.path, NoticeInputSchema),
              problem: i.code === 'custom' ? i.message : i.code,
            })),
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
     * The records in effect at `at` for these subjects: every purpose, or, given a purpose (and a
     * recipient, or null for none), exactly the records `consentedSubjects` counts, the field and
     * flag options included. For small lists (it returns whole records).
     */
    async effectiveRecords(
      db: DbExecutor,
      subjectIds: readonly string[],
      at: Date | string,
      q: { purpose?: string; recipientId?: string | null } & CheckOptions = {},
    ): Promise<ConsentRecord[]> {
      if (subjectIds.length === 0) return [];
      const rows = await effectiveRows(db, subjectIds, {
        at: iso(at),
        ...(q.purpose !== undefined ? { purpose: q.purpose, recipientId: q.recipientId ?? null } : {}),
      });
      const match = rowMatcher(q);
      return rows.filter((r) => match(r)).map(toConsentRecord);
    },

    /**
     * Imports existing consents with their evidence from CSV (columns in importcsv.ts; the import
     * itself in importer.ts). Returns a result per row and never throws halfway.
     */
    importCsv(text: string, by: string | null): Promise<ImportResult> {
      return importConsentsCsv({ deps, ids, now, loadNotice }, text, by);
    },
  };
}
