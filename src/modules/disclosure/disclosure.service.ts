import type { Kysely, Transaction } from 'kysely';
import { z } from 'zod';
import type { DialectName } from '../../db/index.js';
import { type AuditEvent, type DbExecutor, type Recorder, requireRecorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { blindIndexer, ed25519Sign, type Keyring, secureFloat, sha256 } from '../../lib/crypto/index.js';
import { type AppError, isAppError } from '../../lib/errors.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import { type Consent, type ConsentRecord, canonicalJson } from '../consent/index.js';
import type { Detect } from '../detect/index.js';
import { type CompiledPolicy, type DisclosureDecision, decideDisclosure } from '../policy/index.js';
import { type CanaryConfig, type CanaryVault, createCanaries } from './canary.service.js';
import { canaryError, disclosureError } from './disclosure.errors.js';
import {
  deletionNoticesFor,
  deliveredTo,
  disclosuresBy,
  disclosuresOfSubject,
  getDeletionNotice,
  getDisclosure,
  getRecipient,
  getRecipientByName,
  insertDeletionNotices,
  insertDisclosure,
  insertItems,
  insertRecipient,
  itemsOf,
  listDisclosures,
  listRecipients,
  lockActorQuota,
  markItemsDelivered,
  pendingDeletionNotices,
  recipientsOfActor,
  subjectsSentTo,
  updateDeletionNotice,
  updateDisclosure,
  updateRecipient,
} from './disclosure.repo.js';
import type {
  DeletionNoticesTable,
  DisclosureItemsTable,
  DisclosuresTable,
  RecipientsTable,
} from './disclosure.tables.js';
import { type ExportRow, placeCanaries, serialise } from './exportfile.js';
import {
  DEFAULT_TRANSFER_CAPS,
  type Recipient,
  type RecipientInput,
  RecipientInputSchema,
  type RecipientPatch,
  RecipientPatchSchema,
  type TransferMechanism,
} from './recipients.js';

/**
 * Disclosure: provision of PI to a third party (PIPL art. 23). A disclosure is a policy decision
 * like a read (ADR 0016): the releasing employee needs a `disclose` grant of the active policy for
 * the purpose, the recipient and every field, with its assignment and daily quota conditions,
 * checked before anything else. Nothing leaves without a lawful basis either: each subject's
 * separate consent for that recipient and purpose is checked, and if any lacks it the whole request
 * is refused, naming how many and which (pseudonymous ids), unless the caller asks explicitly for
 * the consented subset. Every disclosed copy carries canaries unique to it, naming the releaser.
 *
 * The data goes to the recipient, never to the employee: a disclosure is created awaiting pick-up,
 * and the recipient's own actor fetches it (CSV or JSON) once; the file is decrypted and
 * serialised at that fetch, with consent checked again. The reader is the access module's: it
 * decrypts and records one access event per subject in the ledger. This module records one
 * disclosure item per subject and a ledger entry per disclosure that commits (SHA-256) to the exact
 * list of items.
 */
export type DisclosureReader = (
  trx: Transaction<any>,
  req: {
    subjectIds: string[];
    fields: string[];
    purpose: string;
    recipientId: string;
    disclosureId: string;
    actorId: string;
  },
) => Promise<Map<string, Record<string, string>>>;

export interface DisclosureDeps {
  db: Kysely<any>;
  dialect: DialectName;
  clock: Clock;
  keyring: Pick<Keyring, 'indexKey' | 'signingKey' | 'publicKeyRaw'>;
  ids?: IdSource;
  record: Recorder;
  /**
   * The consent module's door. `effectiveRecords` and `grantMany` (optional; the composition
   * root's full door has them) give every planted canary a copy of a disclosed customer's consent
   * record, so a canary's consent state does not set it apart (ADR 0008).
   */
  consent: Pick<Consent, 'consentedSubjects' | 'allConsentedSubjects' | 'onWithdrawal'> &
    Partial<Pick<Consent, 'effectiveRecords' | 'grantMany'>>;
  detect: Pick<Detect, 'raise'>;
  read: DisclosureReader;
  /**
   * The active compiled policy, whose `disclose:` grants decide who may release what; undefined
   * when none is loaded (every disclosure is then refused).
   */
  policy: (executor: DbExecutor) => Promise<CompiledPolicy | undefined>;
  /** Of these subjects, those with a live assignment to the actor at `at` (one query per batch). */
  assignedAmong: (
    actorId: string,
    subjectIds: readonly string[],
    at: Date,
    executor: DbExecutor,
  ) => Promise<Set<string>>;
  /** Creates canary subjects in the vault. */
  vault: CanaryVault;
  canaries?: CanaryConfig | undefined;
  /** The organisation's jurisdiction (ISO 3166-1 alpha-2); recipients elsewhere are cross-border. */
  jurisdiction?: string;
  /** Fields that are sensitive PI (PIPL art. 28): disclosing one needs the sensitive separate flag. */
  sensitiveFields?: readonly string[];
  /** People a year per destination each transfer mechanism covers. */
  transferCaps?: Partial<Record<TransferMechanism, number>>;
  /** How many missing ids a refusal lists (the count is always exact). Default 1000. */
  maxRefusalIds?: number;
  /** Uniform in [0, 1): canary counts and positions. Default: the CSPRNG (tests may seed it). */
  random?: () => number;
}

const ID = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/);
export const MAX_DISCLOSURE_SUBJECTS = 5_000_000;

export const DisclosureRequestSchema = z
  .object({
    recipientId: ID,
    purpose: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/),
    fields: z
      .array(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/))
      .min(1)
      .max(100),
    subjectIds: z.array(ID).max(MAX_DISCLOSURE_SUBJECTS).optional(),
    allConsented: z.boolean().optional(),
    /** Disclose only the consented subset instead of refusing the whole request. */
    consentedOnly: z.boolean().optional(),
    format: z.enum(['csv', 'json', 'api']),
  })
  .refine((r) => Boolean(r.subjectIds) !== Boolean(r.allConsented), 'give subjectIds or allConsented');

export type DisclosureRequest = z.input<typeof DisclosureRequestSchema>;

export interface Disclosure {
  id: string;
  recipientId: string;
  purpose: string;
  basis: string;
  fields: string[];
  format: string;
  jurisdiction: string;
  crossBorder: boolean;
  requested: number;
  /** Real subjects disclosed (canaries not counted). */
  subjects: number;
  /** Subjects left out for lack of consent (with consentedOnly). */
  excluded: number;
  /** Subjects the reader withheld, or whose consent was withdrawn before an API pick-up. */
  withheld: number;
  canaries: number;
  /** Every disclosure is created awaiting pick-up by the recipient's own actor. */
  status: 'delivered' | 'awaiting_pickup';
  contentSha256: string | null;
  createdAt: string;
  createdBy: string;
  deliveredAt: string | null;
}

/** What the releasing employee gets: the record, never the data (that goes to the recipient). */
export interface DisclosureResult {
  disclosure: Disclosure;
}

/** The releasing actor: its id and roles, as the principal carries them. */
export interface Releaser {
  id: string;
  roles: readonly string[];
}

/** What the recipient's actor fetches: the file, serialised at the fetch. */
export interface Delivery {
  disclosure: Disclosure;
  content: string;
  contentType: 'text/csv; charset=utf-8' | 'application/json; charset=utf-8';
}

export interface OutgoingDeletionNotice {
  id: string;
  recipientId: string;
  webhookUrl: string | null;
  /** Canonical JSON; the signature is over exactly these bytes (UTF-8). */
  body: string;
  /** Ed25519, base64. */
  signature: string;
  /** Raw Ed25519 public key, base64. */
  publicKey: string;
}

export type DeletionNoticeSender = (n: OutgoingDeletionNotice) => Promise<void>;

export interface DeletionNotice {
  id: string;
  recipientId: string;
  reason: string;
  payload: Record<string, unknown>;
  signature: string;
  status: string;
  attempts: number;
  createdAt: string;
  deliveredAt: string | null;
}

export const DELETION_FORMAT = 'custodian-deletion-request/1';

function toRecipient(r: RecipientsTable): Recipient {
  return {
    id: r.id,
    name: r.name,
    contact: r.contact,
    jurisdiction: r.jurisdiction,
    purposes: JSON.parse(r.purposes) as string[],
    contractRef: r.contract_ref,
    retentionDays: Number(r.retention_days),
    piaRef: r.pia_ref,
    piaAt: r.pia_at,
    transfer: r.transfer_mechanism
      ? {
          mechanism: r.transfer_mechanism as TransferMechanism,
          ref: r.transfer_ref ?? '',
          validUntil: r.transfer_valid_until,
        }
      : null,
    actorId: r.actor_id,
    webhookUrl: r.webhook_url,
    status: r.status as Recipient['status'],
    createdAt: r.created_at,
    createdBy: r.created_by,
    updatedAt: r.updated_at,
  };
}

function toDisclosure(r: DisclosuresTable): Disclosure {
  return {
    id: r.id,
    recipientId: r.recipient_id,
    purpose: r.purpose,
    basis: r.basis,
    fields: JSON.parse(r.fields) as string[],
    format: r.format,
    jurisdiction: r.jurisdiction,
    crossBorder: Number(r.cross_border) === 1,
    requested: Number(r.requested_count),
    subjects: Number(r.subject_count),
    excluded: Number(r.excluded_count),
    withheld: Number(r.withheld_count),
    canaries: Number(r.canary_count),
    status: r.status as Disclosure['status'],
    contentSha256: r.content_sha256,
    createdAt: r.created_at,
    createdBy: r.created_by,
    deliveredAt: r.delivered_at,
  };
}

function toDeletionNotice(r: DeletionNoticesTable): DeletionNotice {
  return {
    id: r.id,
    recipientId: r.recipient_id,
    reason: r.reason,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    signature: r.signature,
    status: r.status,
    attempts: Number(r.attempts),
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
  };
}

/** SHA-256 over the sorted ids, one per line: what the ledger entry commits to. */
function itemsDigest(subjectIds: readonly string[]): string {
  const sorted = [...subjectIds].sort();
  return sha256(Buffer.from(sorted.join('\n'), 'utf8')).toString('hex');
}

export type DisclosureService = ReturnType<typeof createDisclosure>;

export function createDisclosure(deps: DisclosureDeps) {
  requireRecorder(deps.record, 'createDisclosure');
  const ids = deps.ids ?? randomId;
  const random = deps.random ?? secureFloat;
  const home = deps.jurisdiction ?? 'CN';
  const sensitive = new Set(deps.sensitiveFields ?? []);
  const caps = { ...DEFAULT_TRANSFER_CAPS, ...(deps.transferCaps ?? {}) };
  const maxIds = deps.maxRefusalIds ?? 1000;
  const hash = blindIndexer(deps.keyring as Keyring);
  const canaries = createCanaries({
    db: deps.db,
    clock: deps.clock,
    keyring: deps.keyring,
    ...(deps.ids ? { ids: deps.ids } : {}),
    record: deps.record,
    detect: deps.detect,
    vault: deps.vault,
    config: deps.canaries,
  });

  canaries.useConsent(deps.consent);

  /**
   * The recipient's pseudonym for a subject: stable for one recipient (it can match rows across
   * its deliveries and act on deletion notices), unlinkable across recipients, and no use to
   * anyone without the index key.
   */
  const refFor = (recipientId: string, subjectId: string) =>
    `r${hash('disclosure.ref', `${recipientId}\u0000${subjectId}`).subarray(0, 15).toString('base64url')}`;

  /** Everything about the recipient that must hold before any data leaves to it. */
  async function checkRecipient(db: DbExecutor, recipientId: string, purpose: string, at: string) {
    const row = await getRecipient(db, recipientId);
    if (!row) throw disclosureError('DISCLOSURE_RECIPIENT_NOT_FOUND');
    const r = toRecipient(row);
    // PIPL art. 55: an impact assessment before provision to another processor.
    if (!r.piaRef)
      throw disclosureError('DISCLOSURE_IMPACT_ASSESSMENT_MISSING', { details: { recipient: r.id } });
    if (r.status !== 'enabled')
      throw disclosureError('DISCLOSURE_RECIPIENT_NOT_ENABLED', { details: { recipient: r.id } });
    if (!r.purposes.includes(purpose))
      throw disclosureError('DISCLOSURE_PURPOSE_NOT_ALLOWED', { details: { recipient: r.id, purpose } });
    const crossBorder = r.jurisdiction !== home;
    // PIPL art. 38–40: a transfer abroad needs a mechanism on file, still valid.
    if (crossBorder && (!r.transfer || (r.transfer.validUntil !== null && r.transfer.validUntil <= at)))
      throw disclosureError('DISCLOSURE_TRANSFER_ASSESSMENT_MISSING', {
        details: { recipient: r.id, jurisdiction: r.jurisdiction },
      });
    return { recipient: r, crossBorder };
  }

  /** 2024 cross-border provisions: people per calendar year per destination, capped by mechanism. */
  async function checkTransferVolume(
    db: DbExecutor,
    r: Recipient,
    subjectIds: readonly string[],
    at: string,
  ): Promise<void> {
    const cap = caps[r.transfer!.mechanism];
    if (!Number.isFinite(cap)) return;
    const since = `${at.slice(0, 4)}-01-01T00:00:00.000Z`;
    const sent = await subjectsSentTo(db, r.jurisdiction, since);
    let total = sent.size;
    for (const s of subjectIds) if (!sent.has(s)) total++;
    if (total > cap)
      throw disclosureError('DISCLOSURE_TRANSFER_VOLUME_EXCEEDED', {
        details: { jurisdiction: r.jurisdiction, mechanism: r.transfer!.mechanism, cap, wouldReach: total },
      });
  }

  function checkOptions(fields: readonly string[], crossBorder: boolean) {
    return { fields, crossBorder, sensitive: fields.some((f) => sensitive.has(f)) };
  }

  function canaryCount(): number {
    const { min, max } = canaries.perExport;
    return min + Math.floor(random() * (max - min + 1));
  }

  /** Why a DISCLOSURE_NOT_PERMITTED was refused: for the ledger entry only, never the response. */
  const refusalReasons = new WeakMap<AppError, string[]>();

  function notPermitted(reasons: readonly string[]): AppError {
    const e = disclosureError('DISCLOSURE_NOT_PERMITTED');
    refusalReasons.set(e, [...reasons]);
    return e;
  }

  /**
   * Subjects this actor disclosed today for the purpose, the day being the policy's time-zone day.
   * Rows of the last 26 hours are read (any zone's day lies within) and kept by their local day.
   */
  async function usedToday(
    db: DbExecutor,
    policy: CompiledPolicy,
    actorId: string,
    purpose: string,
    now: Date,
  ) {
    const today = policy.local.day(now);
    const since = new Date(now.getTime() - 26 * 3_600_000).toISOString();
    let used = 0;
    for (const row of await disclosuresBy(db, actorId, purpose, since))
      if (policy.local.day(new Date(row.created_at)) === today) used += Number(row.subject_count);
    return used;
  }

  /**
   * decideDisclosure over `subjectIds` (`count` of them leave). Assignment is looked up only when it
   * decides the outcome: a grant without it, or a refusal for another reason, needs no lookup.
   */
  async function decideOn(
    db: DbExecutor,
    policy: CompiledPolicy,
    actor: Releaser,
    r: { purpose: string; recipientId: string },
    fields: readonly string[],
    subjectIds: readonly string[],
    count: number,
    now: Date,
    knownAssigned: boolean,
  ): Promise<DisclosureDecision & { allAssigned: boolean }> {
    const base = {
      roles: actor.roles,
      purpose: r.purpose,
      recipientId: r.recipientId,
      fields,
      subjects: count,
      usedToday: await usedToday(db, policy, actor.id, r.purpose, now),
    };
    const first = decideDisclosure(policy, { ...base, allAssigned: knownAssigned });
    if (first.allowed || knownAssigned || !first.reasons.includes('ASSIGNMENT_REQUIRED'))
      return { ...first, allAssigned: knownAssigned };
    const assigned = await deps.assignedAmong(actor.id, subjectIds, now, db);
    const all = subjectIds.every((s) => assigned.has(s));
    return { ...decideDisclosure(policy, { ...base, allAssigned: all }), allAssigned: all };
  }

  /**
   * Canaries named in a disclosure request: someone holds a canary's subject id (a portfolio's, or
   * an export's that came back). The caller saw the same outcome as for a customer without
   * consent; the privacy team gets an alert (internal only) naming the actor and the canaries.
   */
  async function canaryNamed(
    trx: DbExecutor,
    actorId: string,
    r: z.output<typeof DisclosureRequestSchema>,
    named: readonly string[],
    disclosureId: string | null,
  ) {
    if (named.length === 0) return;
    await deps.detect.raise(trx, {
      kind: 'canary_named_in_disclosure',
      severity: 'high',
      actor: actorId,
      subject: named[0]!,
      attrs: {
        canaries: [...named].sort(),
        purpose: r.purpose,
        recipient: r.recipientId,
        disclosure: disclosureId,
      },
    });
  }

  async function recordRefusal(
    e: AppError,
    r: z.output<typeof DisclosureRequestSchema>,
    actorId: string,
    named: readonly string[] = [],
  ) {
    const d = (e.details ?? {}) as Record<string, unknown>;
    const reasons = refusalReasons.get(e);
    await deps.db.transaction().execute(async (trx) => {
      await canaryNamed(trx, actorId, r, named, null);
      await deps.record(trx, [
        {
          kind: 'disclosure.refused',
          actor: actorId,
          purpose: r.purpose,
          attrs: {
            recipient: r.recipientId,
            code: e.code,
            requested: typeof d.requested === 'number' ? d.requested : (r.subjectIds?.length ?? null),
            missing: typeof d.missing === 'number' ? d.missing : null,
            ...(reasons ? { reasons, fields: [...new Set(r.fields)].sort() } : {}),
          },
        },
      ]);
    });
  }

  function exportRows(
    recipientId: string,
    order: readonly string[],
    data: Map<string, Record<string, string>>,
  ) {
    const rows: ExportRow[] = [];
    for (const s of order) {
      const values = data.get(s);
      if (values) rows.push({ ref: refFor(recipientId, s), values });
    }
    return rows;
  }

  // PIPL art. 15 and 47, GDPR art. 19: after a withdrawal, each recipient that received the
  // subject under the withdrawn purpose is told to delete. Queued in the withdrawal's transaction.
  deps.consent.onWithdrawal(async (trx, withdrawn: readonly ConsentRecord[]) => {
    // No person stands behind a canary's consent: a withdrawal of one is someone probing (it is
    // handled below exactly as a customer's, deletion notice included); the privacy team is told.
    const probed = await canaries.canaryIds(trx, [...new Set(withdrawn.map((w) => w.subjectId))]);
    for (const c of probed)
      await deps.detect.raise(trx, {
        kind: 'canary_consent_withdrawn',
        severity: 'high',
        subject: c,
        attrs: {
          consents: withdrawn
            .filter((w) => w.subjectId === c)
            .map((w) => w.id)
            .sort(),
          method: withdrawn.find((w) => w.subjectId === c)?.withdrawalMethod ?? null,
        },
      });
    const groups = new Map<string, { purpose: string; recipientId: string | null; subjects: Set<string> }>();
    for (const w of withdrawn) {
      const k = `${w.purpose}\u0000${w.recipientId ?? ''}`;
      let g = groups.get(k);
      if (!g) {
        g = { purpose: w.purpose, recipientId: w.recipientId, subjects: new Set() };
        groups.set(k, g);
      }
      g.subjects.add(w.subjectId);
    }
    const byRecipient = new Map<string, { purposes: Set<string>; items: Map<string, Set<string>> }>();
    const now = deps.clock.now();
    for (const g of groups.values()) {
      const delivered = await deliveredTo(trx, { ...g, subjectIds: [...g.subjects] });
      // A recipient whose own separate consent from the subject still stands (only a general
      // record was withdrawn) may keep what it received: no notice for that pair.
      const still = new Map<string, Set<string>>();
      for (const rid of new Set(delivered.map((d) => d.recipient_id)))
        still.set(
          rid,
          await deps.consent.consentedSubjects(
            trx,
            [...new Set(delivered.filter((d) => d.recipient_id === rid).map((d) => d.subject_id))],
            g.purpose,
            rid,
            now,
          ),
        );
      for (const row of delivered) {
        if (still.get(row.recipient_id)?.has(row.subject_id)) continue;
        let r = byRecipient.get(row.recipient_id);
        if (!r) {
          r = { purposes: new Set(), items: new Map() };
          byRecipient.set(row.recipient_id, r);
        }
        r.purposes.add(g.purpose);
        const ds = r.items.get(row.subject_id) ?? new Set<string>();
        r.items.set(row.subject_id, ds);
        ds.add(row.disclosure_id);
      }
    }
    if (byRecipient.size === 0) return;
    const at = now.toISOString();
    const rows: DeletionNoticesTable[] = [];
    const events: AuditEvent[] = [];
    for (const [recipientId, r] of byRecipient) {
      const id = ids('dln');
      const payload = {
        format: DELETION_FORMAT,
        notice: id,
        recipient: recipientId,
        reason: 'consent_withdrawn',
        basis: 'PIPL art. 15, 47',
        purposes: [...r.purposes].sort(),
        records: [...r.items].map(([s, ds]) => ({
          ref: refFor(recipientId, s),
          disclosures: [...ds].sort(),
        })),
        issuedAt: at,
      };
      const body = canonicalJson(payload);
      rows.push({
        id,
        recipient_id: recipientId,
        reason: 'consent_withdrawn',
        payload: body,
        signature: ed25519Sign(deps.keyring.signingKey, Buffer.from(body, 'utf8')).toString('base64'),
        status: 'pending',
        attempts: 0,
        created_at: at,
        last_attempt_at: null,
        delivered_at: null,
        last_error: null,
      });
      for (const s of r.items.keys())
        events.push({
          kind: 'deletion_notice.queued',
          at,
          actor: null,
          subject: s,
          attrs: { notice: id, recipient: recipientId, reason: 'consent_withdrawn' },
        });
    }
    await insertDeletionNotices(trx, rows);
    await deps.record(trx, events);
  });

  return {
    canaries,

    // --- recipients ----------------------------------------------------------------------------

    async addRecipient(input: RecipientInput, by: string | null): Promise<Recipient> {
      const r = RecipientInputSchema.parse(input);
      return deps.db.transaction().execute(async (trx) => {
        if (await getRecipientByName(trx, r.name)) throw disclosureError('DISCLOSURE_RECIPIENT_EXISTS');
        const at = deps.clock.now().toISOString();
        const row: RecipientsTable = {
          id: ids('rcp'),
          name: r.name,
          contact: r.contact,
          jurisdiction: r.jurisdiction,
          purposes: JSON.stringify([...new Set(r.purposes)].sort()),
          contract_ref: r.contractRef,
          retention_days: r.retentionDays,
          pia_ref: r.piaRef ?? null,
          pia_at: r.piaRef ? at : null,
          transfer_mechanism: r.transfer?.mechanism ?? null,
          transfer_ref: r.transfer?.ref ?? null,
          transfer_valid_until: r.transfer?.validUntil ? new Date(r.transfer.validUntil).toISOString() : null,
          actor_id: r.actorId ?? null,
          webhook_url: r.webhookUrl ?? null,
          // PIPL art. 55: not enabled without an impact assessment.
          status: r.piaRef ? 'enabled' : 'pending',
          created_at: at,
          created_by: by,
          updated_at: at,
        };
        await insertRecipient(trx, row);
        await deps.record(trx, [
          {
            kind: 'recipient.created',
            at,
            actor: by,
            attrs: {
              recipient: row.id,
              jurisdiction: row.jurisdiction,
              purposes: r.purposes,
              status: row.status,
              pia: row.pia_ref !== null,
              transfer: row.transfer_mechanism,
            },
          },
        ]);
        return toRecipient(row);
      });
    },

    async updateRecipient(id: string, patch: RecipientPatch, by: string | null): Promise<Recipient> {
      const p = RecipientPatchSchema.parse(patch);
      return deps.db.transaction().execute(async (trx) => {
        const row = await getRecipient(trx, id);
        if (!row) throw disclosureError('DISCLOSURE_RECIPIENT_NOT_FOUND');
        const at = deps.clock.now().toISOString();
        const set: Partial<RecipientsTable> = { updated_at: at };
        if (p.contact !== undefined) set.contact = p.contact;
        if (p.purposes !== undefined) set.purposes = JSON.stringify([...new Set(p.purposes)].sort());
        if (p.contractRef !== undefined) set.contract_ref = p.contractRef;
        if (p.retentionDays !== undefined) set.retention_days = p.retentionDays;
        if (p.piaRef !== undefined) {
          set.pia_ref = p.piaRef;
          set.pia_at = at;
        }
        if (p.transfer !== undefined) {
          set.transfer_mechanism = p.transfer?.mechanism ?? null;
          set.transfer_ref = p.transfer?.ref ?? null;
          set.transfer_valid_until = p.transfer?.validUntil
            ? new Date(p.transfer.validUntil).toISOString()
            : null;
        }
        if (p.actorId !== undefined) set.actor_id = p.actorId;
        if (p.webhookUrl !== undefined) set.webhook_url = p.webhookUrl;
        if (p.status !== undefined) {
          if (p.status === 'enabled' && !(set.pia_ref ?? row.pia_ref))
            throw disclosureError('DISCLOSURE_IMPACT_ASSESSMENT_MISSING', { details: { recipient: id } });
          set.status = p.status;
        } else if (set.pia_ref && row.status === 'pending') set.status = 'enabled';
        await updateRecipient(trx, id, set);
        await deps.record(trx, [
          {
            kind: 'recipient.updated',
            at,
            actor: by,
            attrs: {
              recipient: id,
              changed: Object.keys(p).filter((k) => (p as Record<string, unknown>)[k] !== undefined),
            },
          },
        ]);
        return toRecipient({ ...row, ...set });
      });
    },

    async getRecipient(id: string): Promise<Recipient> {
      const r = await getRecipient(deps.db, id);
      if (!r) throw disclosureError('DISCLOSURE_RECIPIENT_NOT_FOUND');
      return toRecipient(r);
    },

    async listRecipients(): Promise<Recipient[]> {
      return (await listRecipients(deps.db)).map(toRecipient);
    },

    /** `executor`: the caller's transaction, when called inside one (SQLite has one connection). */
    async recipientsOfActor(actorId: string, executor: DbExecutor = deps.db): Promise<Recipient[]> {
      return (await recipientsOfActor(executor, actorId)).map(toRecipient);
    },

    // --- disclosures ---------------------------------------------------------------------------

    /**
     * Decides the disclosure under the policy's `disclose:` grants first (before any consent work),
     * then checks every subject's basis and, if all hold (or the caller asked for the consented
     * subset), decides again on what would leave (assignment, quota), records the disclosure and
     * one item per subject, and plants fresh canaries naming the releaser; all in one transaction.
     * Nothing is read or returned here: the recipient's actor fetches the file (`deliver`).
     */
    async create(input: DisclosureRequest, actor: Releaser): Promise<DisclosureResult> {
      const r = DisclosureRequestSchema.parse(input);
      const fields = [...new Set(r.fields)];
      // Canaries the caller named (never disclosed): raised as an alert whatever the outcome.
      let named: string[] = [];
      try {
        // The grant first: an actor with no disclose grant for this purpose, recipient and these
        // fields learns nothing else (not the recipient's state, not who lacks consent).
        const policy = await deps.policy(deps.db);
        if (!policy) throw notPermitted(['NO_POLICY']);
        const grant = decideDisclosure(policy, {
          roles: actor.roles,
          purpose: r.purpose,
          recipientId: r.recipientId,
          fields,
          subjects: 0,
          usedToday: 0,
          allAssigned: true,
        });
        if (!grant.allowed) throw notPermitted(grant.reasons);
        // DESIGN principle 4: every disclosed copy is marked. No canaries, no disclosure.
        if (!canaries.configured) throw canaryError('CANARY_NOT_CONFIGURED');
        const nCanaries = canaryCount();
        const firstCanary = await canaries.reserve(nCanaries);
        return await deps.db.transaction().execute(async (trx) => {
          // One create per actor at a time past this point: the quota count below stays true.
          await lockActorQuota(trx, deps.dialect, actor.id);
          const now = deps.clock.now();
          const at = now.toISOString();
          const active = (await deps.policy(trx)) ?? policy;
          // Named subjects: assignment and quota before consent is looked at (no consent state of
          // someone else's customers is revealed). The count is the request's unless the caller
          // takes the consented subset, whose size is known only after the consent check.
          let knownAssigned = false;
          let requested: string[] | undefined;
          if (!r.allConsented) {
            requested = [...new Set(r.subjectIds!)];
            const pre = await decideOn(
              trx,
              active,
              actor,
              r,
              fields,
              requested,
              r.consentedOnly ? 0 : requested.length,
              now,
              false,
            );
            if (!pre.allowed) throw notPermitted(pre.reasons);
            knownAssigned = pre.allAssigned;
          }
          const { recipient, crossBorder } = await checkRecipient(trx, r.recipientId, r.purpose, at);
          const opts = checkOptions(fields, crossBorder);
          let consented: Set<string>;
          // A canary (from an actor's portfolio or an earlier export) is never handed out twice,
          // and must not be told apart by the count either: named, it is treated exactly as a
          // customer without a matching consent (missing, or excluded with consentedOnly); the
          // export gets canaries of its own below. The privacy team learns of it by an alert.
          if (r.allConsented) {
            const all = await deps.consent.allConsentedSubjects(trx, r.purpose, r.recipientId, now, opts);
            // Not named by the caller: canaries holding a consent for this recipient (an earlier
            // export's) are simply not among "everyone consented".
            const planted = await canaries.canaryIds(trx, all);
            requested = planted.size ? all.filter((s) => !planted.has(s)) : all;
            consented = new Set(requested);
          } else {
            consented = await deps.consent.consentedSubjects(
              trx,
              requested!,
              r.purpose,
              r.recipientId,
              now,
              opts,
            );
            named = [...(await canaries.canaryIds(trx, requested!))];
            for (const c of named) consented.delete(c);
          }
          const asked = requested!;
          const missing = asked.filter((s) => !consented.has(s));
          if (missing.length > 0 && !r.consentedOnly)
            throw disclosureError('DISCLOSURE_CONSENT_MISSING', {
              details: {
                requested: asked.length,
                missing: missing.length,
                subjectIds: missing.slice(0, maxIds),
                truncated: missing.length > maxIds,
              },
            });
          const subjects = asked.filter((s) => consented.has(s));
          if (subjects.length === 0)
            throw disclosureError('DISCLOSURE_NOTHING_TO_DISCLOSE', {
              details: { requested: asked.length, missing: missing.length },
            });
          // The decision on what would leave: these subjects, this many, under the lock.
          const final = await decideOn(
            trx,
            active,
            actor,
            r,
            fields,
            subjects,
            subjects.length,
            now,
            knownAssigned,
          );
          if (!final.allowed) throw notPermitted(final.reasons);
          if (crossBorder) await checkTransferVolume(trx, recipient, subjects, at);

          const id = ids('dsc');
          const canaryIds = await canaries.plant(
            trx,
            { kind: 'disclosure', id, recipientId: recipient.id, releasedBy: actor.id },
            firstCanary,
            nCanaries,
          );
          // Each canary holds a copy of a disclosed customer's consent for this purpose and
          // recipient (the same notice, fields, separate flags), so its consent state is a
          // customer's: a consent check, a listing or a later withdrawal treats it alike.
          await canaries.consentLike(trx, canaryIds, subjects, {
            purpose: r.purpose,
            recipientId: recipient.id,
            options: opts,
          });
          const order = placeCanaries(subjects, canaryIds, random);
          const row: DisclosuresTable = {
            id,
            recipient_id: recipient.id,
            purpose: r.purpose,
            basis: 'consent',
            fields: JSON.stringify(fields),
            format: r.format,
            jurisdiction: recipient.jurisdiction,
            cross_border: crossBorder ? 1 : 0,
            requested_count: asked.length,
            subject_count: subjects.length,
            excluded_count: missing.length,
            withheld_count: 0,
            canary_count: canaryIds.length,
            status: 'awaiting_pickup',
            content_sha256: null,
            created_at: at,
            created_by: actor.id,
            delivered_at: null,
          };
          await insertDisclosure(trx, row);
          await insertItems(trx, deps.dialect, id, order, () => null);
          await deps.record(trx, [
            {
              kind: 'disclosure.created',
              at,
              actor: actor.id,
              purpose: r.purpose,
              attrs: {
                disclosure: id,
                recipient: recipient.id,
                format: r.format,
                fields,
                basis: 'consent',
                cross_border: crossBorder,
                jurisdiction: recipient.jurisdiction,
                requested: asked.length,
                subjects: subjects.length,
                excluded: missing.length,
                canaries: canaryIds.length,
                items_sha256: itemsDigest(order),
                ...(final.quota !== undefined ? { quota: final.quota } : {}),
              },
            },
          ]);
          await canaryNamed(trx, actor.id, r, named, id);
          return { disclosure: toDisclosure(row) };
        });
      } catch (e) {
        if (isAppError(e) && e.code.startsWith('DISCLOSURE_')) await recordRefusal(e, r, actor.id, named);
        else if (named.length)
          await deps.db.transaction().execute((trx) => canaryNamed(trx, actor.id, r, named, null));
        throw e;
      }
    },

    /**
     * The recipient's own actor fetches a delivery (any format), once. The file is decrypted and
     * serialised now, through the access module's reader (an access event and ledger entry per
     * subject), and the basis is checked again: this is when the data leaves, so a subject who
     * withdrew in between is left out. Anyone else, the releasing employee included, gets
     * DISCLOSURE_NOT_FOUND as if the disclosure did not exist.
     */
    async deliver(disclosureId: string, actorId: string): Promise<Delivery> {
      return deps.db.transaction().execute(async (trx) => {
        const d = await getDisclosure(trx, disclosureId);
        const rcp = d ? await getRecipient(trx, d.recipient_id) : undefined;
        // Someone else's delivery looks like no delivery at all.
        if (!d || !rcp || !rcp.actor_id || rcp.actor_id !== actorId)
          throw disclosureError('DISCLOSURE_NOT_FOUND');
        if (d.status !== 'awaiting_pickup') throw disclosureError('DISCLOSURE_ALREADY_DELIVERED');
        const now = deps.clock.now();
        const at = now.toISOString();
        const { crossBorder } = await checkRecipient(trx, d.recipient_id, d.purpose, at);
        const fields = JSON.parse(d.fields) as string[];
        const items = (await itemsOf(trx, d.id)).map((i) => i.subject_id);
        const canarySet = new Set((await canaries.uniqueTo('disclosure', d.id, trx)).map((c) => c.subjectId));
        const real = items.filter((s) => !canarySet.has(s));
        const options = checkOptions(fields, crossBorder);
        const consented = await deps.consent.consentedSubjects(
          trx,
          items,
          d.purpose,
          d.recipient_id,
          now,
          options,
        );
        // A canary is checked like the customers: one whose consent copy (given when the export
        // was created) has lapsed since — withdrawn by someone probing, or expired like its
        // template — is withheld and counted as a customer would be. A canary that never had one
        // (planted without the consent door) always goes: it is the export's mark.
        const canaryItems = items.filter((s) => canarySet.has(s));
        const unconsented = canaryItems.filter((s) => !consented.has(s));
        const lapsed = new Set(
          unconsented.length && deps.consent.effectiveRecords
            ? (
                await deps.consent.effectiveRecords(trx, unconsented, d.created_at, {
                  purpose: d.purpose,
                  recipientId: d.recipient_id,
                  ...options,
                })
              ).map((c) => c.subjectId)
            : [],
        );
        const order = placeCanaries(
          real.filter((s) => consented.has(s)),
          canaryItems.filter((s) => !lapsed.has(s)),
          random,
        );
        const data = await deps.read(trx, {
          subjectIds: order,
          fields,
          purpose: d.purpose,
          recipientId: d.recipient_id,
          disclosureId: d.id,
          actorId,
        });
        const delivered = order.filter((s) => data.has(s));
        const format = d.format === 'csv' ? 'csv' : 'json';
        const content = serialise(
          format,
          {
            disclosure: d.id,
            recipient: d.recipient_id,
            purpose: d.purpose,
            fields,
            createdAt: d.created_at,
          },
          exportRows(d.recipient_id, order, data),
        );
        const contentSha256 = sha256(Buffer.from(content, 'utf8')).toString('hex');
        const withheld = real.length - delivered.filter((s) => !canarySet.has(s)).length + lapsed.size;
        const n = await updateDisclosure(
          trx,
          d.id,
          { status: 'delivered', delivered_at: at, withheld_count: withheld, content_sha256: contentSha256 },
          'awaiting_pickup',
        );
        if (n === 0) throw disclosureError('DISCLOSURE_ALREADY_DELIVERED');
        await markItemsDelivered(trx, d.id, delivered, at);
        await deps.record(trx, [
          {
            kind: 'disclosure.delivered',
            at,
            actor: actorId,
            purpose: d.purpose,
            attrs: {
              disclosure: d.id,
              recipient: d.recipient_id,
              released_by: d.created_by,
              format: d.format,
              delivered: delivered.length,
              withheld,
              items_sha256: itemsDigest(delivered),
              content_sha256: contentSha256,
            },
          },
        ]);
        return {
          disclosure: toDisclosure({
            ...d,
            status: 'delivered',
            delivered_at: at,
            withheld_count: withheld,
            content_sha256: contentSha256,
          }),
          content,
          contentType: format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
        };
      });
    },

    async get(id: string): Promise<Disclosure> {
      const r = await getDisclosure(deps.db, id);
      if (!r) throw disclosureError('DISCLOSURE_NOT_FOUND');
      return toDisclosure(r);
    },

    async list(q: { recipientId?: string; limit?: number } = {}): Promise<Disclosure[]> {
      return (await listDisclosures(deps.db, { ...q, limit: Math.min(q.limit ?? 100, 1000) })).map(
        toDisclosure,
      );
    },

    /** Subject ids of a disclosure's items (canaries included; use canaries.canaryIds to tell). */
    async items(id: string, db: DbExecutor = deps.db): Promise<DisclosureItemsTable[]> {
      return itemsOf(db, id);
    },

    /** Disclosures that delivered this subject: for the portal's "who received my data". */
    async receivedBy(subjectId: string): Promise<Disclosure[]> {
      return (await disclosuresOfSubject(deps.db, subjectId)).map(toDisclosure);
    },

    /** The recipient's pseudonym for a subject, as it appears in exports and deletion notices. */
    refFor,

    // --- deletion notices ----------------------------------------------------------------------

    async deletionNotices(
      q: { recipientId?: string; status?: string; limit?: number } = {},
    ): Promise<DeletionNotice[]> {
      return (await deletionNoticesFor(deps.db, { ...q, limit: Math.min(q.limit ?? 100, 1000) })).map(
        toDeletionNotice,
      );
    },

    /** Deletion notices waiting for the recipients whose partner actor this is (the pull model). */
    async deletionNoticesForActor(actorId: string, limit = 100): Promise<DeletionNotice[]> {
      const out: DeletionNotice[] = [];
      for (const r of await recipientsOfActor(deps.db, actorId))
        for (const n of await deletionNoticesFor(deps.db, { recipientId: r.id, status: 'pending', limit }))
          out.push(toDeletionNotice(n));
      return out.slice(0, limit);
    },

    /** The recipient's actor acknowledges a notice it pulled: delivered. */
    async acknowledgeDeletionNotice(id: string, actorId: string): Promise<void> {
      await deps.db.transaction().execute(async (trx) => {
        const n = await getDeletionNotice(trx, id);
        const rcp = n ? await getRecipient(trx, n.recipient_id) : undefined;
        if (!n || !rcp || rcp.actor_id !== actorId) throw disclosureError('DISCLOSURE_NOT_FOUND');
        if (n.status === 'delivered') return;
        const at = deps.clock.now().toISOString();
        await updateDeletionNotice(trx, id, {
          status: 'delivered',
          attempts: Number(n.attempts) + 1,
          last_attempt_at: at,
          delivered_at: at,
        });
        await deps.record(trx, [
          {
            kind: 'deletion_notice.delivered',
            at,
            actor: actorId,
            attrs: { notice: id, recipient: n.recipient_id, via: 'pull' },
          },
        ]);
      });
    },

    /**
     * Hands pending deletion notices to `send` (a webhook poster, a file writer; an outside system)
     * and marks each delivered when it returns. A failure is counted and retried on the next run;
     * its error is kept as a name, never a message (which could echo data).
     */
    async deliverDeletionNotices(
      send: DeletionNoticeSender,
      opts: { limit?: number } = {},
    ): Promise<{ delivered: number; failed: number }> {
      const pending = await pendingDeletionNotices(deps.db, opts.limit ?? 100);
      let delivered = 0;
      let failed = 0;
      const publicKey = deps.keyring.publicKeyRaw.toString('base64');
      for (const n of pending) {
        const rcp = await getRecipient(deps.db, n.recipient_id);
        const at = () => deps.clock.now().toISOString();
        try {
          await send({
            id: n.id,
            recipientId: n.recipient_id,
            webhookUrl: rcp?.webhook_url ?? null,
            body: n.payload,
            signature: n.signature,
            publicKey,
          });
        } catch (e) {
          failed++;
          await updateDeletionNotice(deps.db, n.id, {
            attempts: Number(n.attempts) + 1,
            last_attempt_at: at(),
            last_error: isAppError(e) ? e.code : ((e as Error)?.name ?? 'Error').slice(0, 64),
          });
          continue;
        }
        await deps.db.transaction().execute(async (trx) => {
          const t = at();
          await updateDeletionNotice(trx, n.id, {
            status: 'delivered',
            attempts: Number(n.attempts) + 1,
            last_attempt_at: t,
            delivered_at: t,
            last_error: null,
          });
          await deps.record(trx, [
            {
              kind: 'deletion_notice.delivered',
              at: t,
              actor: null,
              attrs: { notice: n.id, recipient: n.recipient_id },
            },
          ]);
        });
        delivered++;
      }
      return { delivered, failed };
    },
  };
}
