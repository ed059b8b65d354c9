import type { Kysely, Transaction } from 'kysely';
import { z } from 'zod';
import type { DialectName } from '../../db/index.js';
import { type DbExecutor, type Recorder, requireRecorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { blindIndexer, type Keyring, secureFloat, sha256 } from '../../lib/crypto/index.js';
import { type AppError, isAppError } from '../../lib/errors.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import type { Consent, ConsentRecord } from '../consent/index.js';
import type { Detect } from '../detect/index.js';
import { type CompiledPolicy, type DisclosureDecision, decideDisclosure } from '../policy/index.js';
import { type Canaries, type CanaryConfig, type CanaryVault, createCanaries } from './canary.service.js';
import { canaryError, disclosureError } from './disclosure.errors.js';
import {
  disclosuresBy,
  disclosuresOfSubject,
  getDisclosure,
  getRecipient,
  insertDisclosure,
  insertItems,
  itemsOf,
  listDisclosures,
  lockActorQuota,
  markItemsDelivered,
  subjectsSentTo,
  updateDisclosure,
} from './disclosure.repo.js';
import type { DisclosureItemsTable, DisclosuresTable } from './disclosure.tables.js';
import { type ExportRow, placeCanaries, serialise } from './exportfile.js';
import { createDeletionNotices } from './notices.service.js';
import { DEFAULT_TRANSFER_CAPS, type Recipient, type TransferMechanism } from './recipients.js';
import { createRecipients, toRecipient } from './recipients.service.js';

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
  /**
   * The canary registry, when the composition root built it first (the read path asks it whether a
   * subject is a canary before this service exists). Default: one built from the deps above.
   */
  canaryService?: Canaries;
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
  const canaries =
    deps.canaryService ??
    createCanaries({
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

  const recipients = createRecipients({
    db: deps.db,
    clock: deps.clock,
    record: deps.record,
    ...(deps.ids ? { ids: deps.ids } : {}),
  });
  const notices = createDeletionNotices({
    db: deps.db,
    clock: deps.clock,
    record: deps.record,
    keyring: deps.keyring,
    consent: deps.consent,
    ...(deps.ids ? { ids: deps.ids } : {}),
    refFor,
  });

  // No person stands behind a canary's consent: a withdrawal of one is someone probing. It is
  // handled exactly as a customer's (deletion notice included, notices.service.ts); the privacy
  // team is told.
  deps.consent.onWithdrawal(async (trx, withdrawn: readonly ConsentRecord[]) => {
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
  });

  return {
    canaries,
    // Recipients and deletion notices are jobs of their own (recipients.service.ts,
    // notices.service.ts), handed out here so the module's door stays one service.
    ...recipients,
    ...notices,

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
  };
}
