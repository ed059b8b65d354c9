import type { Kysely } from 'kysely';
import { type DbExecutor, type Recorder, requireRecorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { blindIndexer, deriveKey, type Keyring } from '../../lib/crypto/index.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import {
  type Random,
  randomIdentity,
  type StreamKey,
  type SyntheticIdentity,
  secureRandom,
  streamKey,
} from '../../lib/synthetic/index.js';
import type { CheckOptions, Consent, ConsentRecord, GrantInput } from '../consent/index.js';
import type { Detect } from '../detect/index.js';
import {
  allCanaryIds,
  canariesUniqueTo,
  canaryByContactHash,
  canaryHashesAmong,
  canaryIdsAmong,
  countCanaries,
  getCanary,
  insertCanaries,
  insertTrip,
  noteTrip,
  reserveSeq,
} from './canary.repo.js';
import { normaliseContact, normaliseEmail, normaliseMobile } from './contact.js';
import { canaryError } from './disclosure.errors.js';
import type { CanariesTable } from './disclosure.tables.js';

/**
 * Canaries: synthetic subjects drawn from the CSPRNG out of the very distributions the customers
 * come from (src/lib/synthetic: names, companies, addresses, ID numbers with valid check digits,
 * mobiles under the real carriers' segments in their shares, e-mails in the usual shapes at the
 * usual providers), so that no field and no statistic sets them apart. Each is placed in exactly
 * one view — one export to one recipient, or one actor's portfolio — so a call, message or mail to
 * it names that export or actor. They are vault subjects like the rest, registered here with keyed
 * hashes of their contact points only; that registration is the only mark, and it never leaves.
 *
 * Canaries are never counted as customers (`canaryIds`, `count`), never contacted by the
 * organisation's own workflows (`isCanary`, which the access module calls when it resolves a
 * contact token), and never given to two recipients (a fresh set per export).
 */
export interface CanaryConfig {
  /** Canaries per export, drawn uniformly from [min, max]. Default 1–3. */
  perExport?: { min: number; max: number };
  /**
   * The external id of canary `seq`. Default: `C` + 8 digits counted down from the top of the range,
   * away from customers' ids. A deployment whose staff see external ids should map them into its
   * own format (unique, and not taken by a customer).
   */
  externalId?: (seq: number) => string;
}

/**
 * What canaries need of the vault (its `Vault` satisfies it): subjects are created through it, in
 * the caller's transaction, so they are encrypted and blind-indexed exactly like customers and
 * exist if and only if the export or assignment that holds them commits.
 */
export interface CanaryVault {
  readonly catalog: { readonly names: readonly string[] };
  /**
   * Which of these values some subject already holds in `field` (the blind index; no decryption).
   * A canary never shares a mobile, e-mail or ID number with a real subject. Called outside any
   * transaction; for a field that is not searchable, answer an empty set.
   */
  taken(field: 'mobile' | 'email' | 'id_number', values: readonly string[]): Promise<ReadonlySet<string>>;
  createMany(
    inputs: readonly { externalId?: string; fields: Readonly<Record<string, string>> }[],
    options: { trx: DbExecutor; actor?: string | null },
  ): Promise<readonly { id: string }[]>;
}

export interface CanaryDeps {
  db: Kysely<any>;
  clock: Clock;
  keyring: Pick<Keyring, 'indexKey'>;
  ids?: IdSource;
  record: Recorder;
  detect: Pick<Detect, 'raise'>;
  vault: CanaryVault;
  config?: CanaryConfig | undefined;
  /** Where identities are drawn from. Default: the CSPRNG (tests may pass a seeded source). */
  random?: Random;
  /**
   * The consent module's door, for the canaries' consent records (a copy of a real customer's, see
   * `consentLike`). Without it canaries get none, and a read or disclosure that needs consent
   * tells them apart.
   */
  consent?: Partial<Pick<Consent, 'effectiveRecords' | 'grantMany'>> | undefined;
}

/** Which of a template subject's records a canary copies: all in effect, or one purpose's. */
export interface ConsentScope {
  purpose: string;
  /** null: records without a recipient. */
  recipientId: string | null;
  options?: CheckOptions;
}

/** Canaries drawn and checked unique, waiting for the transaction that plants them. */
export interface CanaryReservation {
  readonly first: number;
  readonly identities: readonly SyntheticIdentity[];
}

export type TripChannel = 'call' | 'sms' | 'email' | 'other';

export interface TripInput {
  channel: TripChannel;
  /** The monitored number or address that was called, texted or mailed. */
  contact: string;
  /** When it happened (the gateway's time). */
  at: string;
  /** The caller's number or the sender's address: kept only as a keyed hash. */
  from?: string | undefined;
}

export interface TripResult {
  tripId: string;
  matched: boolean;
  alertId: string | null;
  /** What the canary was unique to (for the privacy team; the gateway route does not return it). */
  uniqueTo: { kind: 'disclosure' | 'actor'; id: string; recipientId: string | null } | null;
}

export interface Canary {
  subjectId: string;
  uniqueTo: { kind: 'disclosure' | 'actor'; id: string; recipientId: string | null };
  createdAt: string;
  tripCount: number;
  lastTrippedAt: string | null;
}

function toCanary(r: CanariesTable): Canary {
  return {
    subjectId: r.subject_id,
    uniqueTo: {
      kind: r.unique_to_kind as 'disclosure' | 'actor',
      id: r.unique_to_id,
      recipientId: r.recipient_id,
    },
    createdAt: r.created_at,
    tripCount: Number(r.trip_count),
    lastTrippedAt: r.last_tripped_at,
  };
}

export type Canaries = ReturnType<typeof createCanaries>;

/** Sequence numbers taken from the database counter at a time. */
const RESERVE_BLOCK = 64;
/** Default external ids are `C` + 8 digits, counted down from the top. */
const MAX_EXTERNAL = 100_000_000;

export function createCanaries(deps: CanaryDeps) {
  requireRecorder(deps.record, 'createCanaries');
  const ids = deps.ids ?? randomId;
  const hash = blindIndexer(deps.keyring as Keyring);
  const random = deps.random ?? secureRandom;
  let consent = deps.consent;
  // The company pool canaries' employers come from is keyed by the key file, not the database or
  // the code, so the pool cannot be listed by someone holding either. Every other draw is fresh
  // from the CSPRNG: nothing can be regenerated.
  const companyKey: StreamKey = streamKey(
    deriveKey(deps.keyring as Keyring, 'canaries/companies/v1').toString('hex'),
    'company',
  );
  const cfg = deps.config;
  // Sequence numbers only order canaries (and seed the default external id); one counter row.
  const pool = 'csprng';
  const perExport = cfg?.perExport ?? { min: 1, max: 3 };
  if (
    !(
      Number.isInteger(perExport.min) &&
      perExport.min >= 1 &&
      Number.isInteger(perExport.max) &&
      perExport.max >= perExport.min
    )
  )
    throw canaryError('CANARY_NOT_CONFIGURED', { details: { perExport: 'min ≥ 1 and max ≥ min' } });
  const mobileHash = (m: string) => hash('canary.mobile', m);
  const emailHash = (e: string) => hash('canary.email', e);

  const externalIdOf =
    cfg?.externalId ?? ((seq: number) => `C${String(MAX_EXTERNAL - 1 - seq).padStart(8, '0')}`);
  const searched = (['mobile', 'email', 'id_number'] as const).filter((f) =>
    deps.vault.catalog.names.includes(f),
  );

  /**
   * `n` identities from the CSPRNG, none sharing a mobile, e-mail or ID number with a subject (the
   * vault's blind index), an earlier canary (the registry's keyed hashes) or each other: a hit is
   * dropped and drawn again, which leaves the distribution that of the draws.
   */
  // Contact points drawn by reservations not yet committed (concurrent exports draw before either
  // has planted, so the database cannot tell them apart yet), with when they may be forgotten:
  // by then the canary is planted (and the database check sees it) or was never used.
  const drawnRecently = new Map<string, number>();
  const HOLD_MS = 10 * 60_000;
  async function draw(n: number): Promise<SyntheticIdentity[]> {
    const out: SyntheticIdentity[] = [];
    const now = performance.now();
    for (const [k, until] of drawnRecently) if (until < now) drawnRecently.delete(k);
    const seen = new Set<string>(drawnRecently.keys());
    for (let round = 0; out.length < n; round++) {
      if (round >= 20) throw canaryError('CANARY_POOL_EXHAUSTED');
      const batch: SyntheticIdentity[] = [];
      while (batch.length < n - out.length) {
        const c = randomIdentity(random, companyKey);
        // The stored hashes are of the normalised forms: two drawn e-mails that normalise alike
        // (case, dots, tags) are the same contact point.
        const keys = [
          `m:${normaliseMobile(c.mobile)}`,
          `e:${normaliseEmail(c.email)}`,
          `i:${c.id_number.toUpperCase()}`,
        ];
        if (keys.some((k) => seen.has(k))) continue;
        for (const k of keys) seen.add(k);
        batch.push(c);
      }
      const hits = new Set<SyntheticIdentity>();
      for (const f of searched) {
        const taken = await deps.vault.taken(
          f,
          batch.map((c) => c[f]),
        );
        for (const c of batch) if (taken.has(c[f])) hits.add(c);
      }
      const known = await canaryHashesAmong(
        deps.db,
        batch.map((c) => mobileHash(normaliseMobile(c.mobile)!)),
        batch.map((c) => emailHash(normaliseEmail(c.email)!)),
      );
      for (const c of batch)
        if (
          known.has(mobileHash(normaliseMobile(c.mobile)!).toString('hex')) ||
          known.has(emailHash(normaliseEmail(c.email)!).toString('hex'))
        )
          hits.add(c);
      for (const c of batch) if (!hits.has(c)) out.push(c);
    }
    const until = performance.now() + HOLD_MS;
    for (const c of out)
      for (const k of [
        `m:${normaliseMobile(c.mobile)}`,
        `e:${normaliseEmail(c.email)}`,
        `i:${c.id_number.toUpperCase()}`,
      ])
        drawnRecently.set(k, until);
    return out;
  }

  /**
   * Reserves `n` consecutive sequence numbers. Numbers are taken from the database counter in
   * blocks, in a short transaction of its own, and handed out from memory (a hi-lo allocator):
   * concurrent exports and processes never wait on each other or get the same numbers. A number
   * reserved by an export that then fails is simply never used.
   */
  let block = { next: 0, end: 0 };
  // One refill at a time: concurrent exports wait for it instead of each taking (and wasting) a block.
  let refilling: Promise<void> | null = null;
  async function reserveSeqs(n: number): Promise<number> {
    for (;;) {
      if (block.end - block.next >= n) {
        const first = block.next;
        block.next += n;
        return first;
      }
      if (!refilling) {
        refilling = (async () => {
          const k = Math.max(n, RESERVE_BLOCK);
          const first = await deps.db.transaction().execute((trx) => reserveSeq(trx, pool, k));
          if (first + k > MAX_EXTERNAL) throw canaryError('CANARY_POOL_EXHAUSTED');
          block = { next: first, end: first + k };
        })().finally(() => {
          refilling = null;
        });
      }
      await refilling;
    }
  }

  /**
   * Draws `n` canaries and reserves their sequence numbers, outside any transaction (the vault's
   * blind index is read here). Pass the result to `plant` in the transaction that uses them.
   */
  async function reserve(n: number): Promise<CanaryReservation> {
    if (!cfg) throw canaryError('CANARY_NOT_CONFIGURED');
    const first = await reserveSeqs(n);
    return { first, identities: await draw(n) };
  }

  type Target = {
    kind: 'disclosure' | 'actor';
    id: string;
    recipientId?: string | null;
    /** The employee who released the export (disclosure canaries). */
    releasedBy?: string | null;
  };

  /**
   * Creates canaries `first ..` in the vault (one call for all groups) and registers each group as
   * unique to its export or actor, all in the caller's transaction. Returns the subject ids per group.
   */
  async function plantGroups(
    trx: DbExecutor,
    groups: readonly { to: Target; n: number }[],
    reservation: CanaryReservation,
  ): Promise<string[][]> {
    if (!cfg) throw canaryError('CANARY_NOT_CONFIGURED');
    const total = groups.reduce((a, g) => a + Math.max(0, g.n), 0);
    if (total === 0) return groups.map(() => []);
    if (total > reservation.identities.length)
      throw canaryError('CANARY_NOT_CONFIGURED', { details: { reserved: reservation.identities.length } });
    const first = reservation.first;
    const records = reservation.identities.slice(0, total);
    const fields = new Set(deps.vault.catalog.names);
    const created = await deps.vault.createMany(
      records.map((r, k) => ({
        externalId: externalIdOf(first + k),
        fields: Object.fromEntries(Object.entries(r).filter(([f, v]) => v !== '' && fields.has(f))),
      })),
      { trx },
    );
    const at = deps.clock.now().toISOString();
    const rows: CanariesTable[] = [];
    const out: string[][] = [];
    let k = 0;
    for (const g of groups) {
      const ids: string[] = [];
      for (let j = 0; j < g.n; j++, k++) {
        const r = records[k]!;
        rows.push({
          subject_id: created[k]!.id,
          seq: first + k,
          pool,
          unique_to_kind: g.to.kind,
          unique_to_id: g.to.id,
          recipient_id: g.to.recipientId ?? null,
          released_by: g.to.releasedBy ?? null,
          mobile_hash: mobileHash(normaliseMobile(r.mobile)!),
          email_hash: emailHash(normaliseEmail(r.email)!),
          created_at: at,
          trip_count: 0,
          last_tripped_at: null,
        });
        ids.push(created[k]!.id);
      }
      out.push(ids);
    }
    await insertCanaries(trx, rows);
    await deps.record(
      trx,
      groups
        .filter((g) => g.n > 0)
        .map((g) => ({
          kind: 'canary.planted',
          at,
          actor: null,
          attrs: {
            unique_to_kind: g.to.kind,
            unique_to_id: g.to.id,
            recipient: g.to.recipientId ?? null,
            released_by: g.to.releasedBy ?? null,
            count: g.n,
          },
        })),
    );
    return out;
  }

  async function plant(
    trx: DbExecutor,
    to: Target,
    reservation: CanaryReservation,
    n: number,
  ): Promise<string[]> {
    return (await plantGroups(trx, [{ to, n }], reservation))[0]!;
  }

  /**
   * Each canary gets a copy of the consent records in effect for its template — a real subject of
   * the same view (a disclosed customer, a customer of the same portfolio) — in the caller's
   * transaction, through the consent module's `grantMany` (validated against the notice, one
   * normal `consent.given` ledger entry each). A copy keeps what the record says (notice, purpose,
   * recipient, fields, method, who gave it, when, expiry, separate flags, source); the evidence
   * reference is redrawn in the same shape (two people never share one). Nothing in the record
   * marks it as a canary's: that stays in the registry. Each canary's template is drawn from
   * `like` with the canaries' CSPRNG. Returns the records created.
   */
  async function consentLike(
    trx: DbExecutor,
    canaryIds: readonly string[],
    like: readonly string[] | undefined,
    scope?: ConsentScope,
  ): Promise<ConsentRecord[]> {
    const pairs = templatesFor(canaryIds, like);
    const c = consent;
    if (!c?.effectiveRecords || !c.grantMany || pairs.length === 0) return [];
    const at = deps.clock.now();
    const templates = await c.effectiveRecords(
      trx,
      [...new Set(pairs.map((p) => p.like))],
      at,
      scope ? { purpose: scope.purpose, recipientId: scope.recipientId, ...(scope.options ?? {}) } : {},
    );
    const bySubject = new Map<string, ConsentRecord[]>();
    for (const t of templates) {
      const l = bySubject.get(t.subjectId) ?? [];
      l.push(t);
      bySubject.set(t.subjectId, l);
    }
    // grantMany records one source for its batch: one call per source.
    const bySource = new Map<string, GrantInput[]>();
    for (const p of pairs)
      for (const t of bySubject.get(p.like) ?? []) {
        const l = bySource.get(t.source) ?? [];
        l.push({
          subjectId: p.canary,
          purpose: t.purpose,
          recipientId: t.recipientId,
          fields: t.fields,
          noticeId: t.noticeId,
          method: t.method as GrantInput['method'],
          givenBy: t.givenBy as GrantInput['givenBy'],
          givenAt: t.givenAt,
          expiresAt: t.expiresAt,
          separate: t.separate,
          evidenceRef: t.evidenceRef === null ? null : reshape(t.evidenceRef),
        });
        bySource.set(t.source, l);
      }
    const out: ConsentRecord[] = [];
    for (const [source, inputs] of bySource)
      out.push(...(await c.grantMany(trx, inputs, { by: null, source })));
    return out;
  }

  /** A template drawn (CSPRNG) from `like` for each canary; none without `like`. */
  function templatesFor(canaryIds: readonly string[], like?: readonly string[]) {
    if (!like || like.length === 0) return [];
    return canaryIds.map((canary) => ({ canary, like: like[random.int(like.length)]! }));
  }

  /** The same shape, fresh characters: digits for digits, letters for letters of the same case. */
  function reshape(ref: string): string {
    const digits = '0123456789';
    const lower = 'abcdefghijklmnopqrstuvwxyz';
    const pick = (set: string) => set[random.int(set.length)]!;
    let out = '';
    for (const ch of ref)
      out += /[0-9]/.test(ch)
        ? pick(digits)
        : /[a-z]/.test(ch)
          ? pick(lower)
          : /[A-Z]/.test(ch)
            ? pick(lower).toUpperCase()
            : ch;
    return out;
  }

  return {
    configured: Boolean(cfg),
    perExport,

    /** Draws `n` canaries and reserves their numbers (before the transaction that plants them). */
    reserve,

    /** Creates and registers canaries unique to an export or actor, in the caller's transaction. */
    plant,

    /** Copies of real subjects' consent records for canaries (see `consentLike`), in `trx`. */
    consentLike,

    /**
     * Binds the consent module's door after construction (the disclosure service does, with its
     * own `consent` dependency), when it was not passed in `deps.consent`.
     */
    useConsent(c: CanaryDeps['consent']): void {
      consent ??= c;
    },

    /**
     * Plants `n` canaries for an actor's portfolio and returns their subject ids; the caller (the
     * actors module, wired by the composition root) assigns them to the actor. `like`: real
     * customers of that portfolio; each canary gets a copy of the consent records in effect for
     * one of them (drawn from the CSPRNG), so a read that needs consent treats it like a customer.
     * Without `like` the canaries get no consent records.
     */
    async plantPortfolioCanaries(
      actorId: string,
      n: number,
      opts: { like?: readonly string[] } = {},
    ): Promise<string[]> {
      const first = await reserve(n);
      return deps.db.transaction().execute(async (trx) => {
        const ids = await plant(trx, { kind: 'actor', id: actorId }, first, n);
        await consentLike(trx, ids, opts.like);
        return ids;
      });
    },

    /** The batch form: many portfolios in one transaction. Returns actor id → canary subject ids. */
    async plantPortfolioCanariesMany(
      entries: readonly { actorId: string; n: number; like?: readonly string[] }[],
    ): Promise<Map<string, string[]>> {
      const total = entries.reduce((a, e) => a + Math.max(0, e.n), 0);
      const first = await reserve(total);
      const groups = entries.map((e) => ({
        to: { kind: 'actor' as const, id: e.actorId },
        n: Math.max(0, e.n),
      }));
      const planted = await deps.db.transaction().execute(async (trx) => {
        const p = await plantGroups(trx, groups, first);
        for (const [i, e] of entries.entries()) await consentLike(trx, p[i]!, e.like);
        return p;
      });
      const out = new Map<string, string[]>();
      entries.forEach((e, i) => {
        out.set(e.actorId, [...(out.get(e.actorId) ?? []), ...planted[i]!]);
      });
      return out;
    },

    /** For the access module: a canary is never contacted by the organisation's own workflows. */
    async isCanary(db: DbExecutor, subjectId: string): Promise<boolean> {
      return (await getCanary(db, subjectId)) !== undefined;
    },

    /** The canaries among these subjects (so counts of customers can leave them out). */
    async canaryIds(db: DbExecutor, subjectIds: readonly string[]): Promise<Set<string>> {
      if (subjectIds.length === 0) return new Set();
      // For a long list, reading every canary id (there are far fewer) beats probing each subject.
      if (subjectIds.length > 10_000 && (await countCanaries(db)) < subjectIds.length) {
        const all = await allCanaryIds(db);
        return new Set(subjectIds.filter((s) => all.has(s)));
      }
      return canaryIdsAmong(db, subjectIds);
    },

    async count(db: DbExecutor = deps.db): Promise<number> {
      return countCanaries(db);
    },

    async uniqueTo(kind: 'disclosure' | 'actor', id: string, db: DbExecutor = deps.db): Promise<Canary[]> {
      return (await canariesUniqueTo(db, kind, id)).map(toCanary);
    },

    /**
     * A monitored number or address was contacted. A match raises an alert naming the one export
     * (disclosure and recipient) or actor the canary was unique to; an unknown contact point is
     * recorded as a non-match. Only keyed hashes of the contact point and caller are stored.
     */
    async trip(input: TripInput, reportedBy: string): Promise<TripResult> {
      const contact = normaliseContact(input.contact);
      if (!contact) throw canaryError('CANARY_CONTACT_INVALID');
      const h = contact.kind === 'mobile' ? mobileHash(contact.value) : emailHash(contact.value);
      const from = input.from ? normaliseContact(input.from) : undefined;
      const callerHash = input.from
        ? hash('canary.caller', from ? from.value : input.from.trim().toLowerCase())
        : null;
      const occurredAt = new Date(input.at).toISOString();
      return deps.db.transaction().execute(async (trx) => {
        const receivedAt = deps.clock.now().toISOString();
        const tripId = ids('trp');
        const c = await canaryByContactHash(trx, contact.kind, h);
        let alertId: string | null = null;
        if (c) {
          await noteTrip(trx, c.subject_id, receivedAt);
          alertId = await deps.detect.raise(trx, {
            kind: 'canary.tripped',
            severity: 'critical',
            actor: c.unique_to_kind === 'actor' ? c.unique_to_id : null,
            subject: c.subject_id,
            attrs: {
              trip: tripId,
              canary: c.subject_id,
              unique_to_kind: c.unique_to_kind,
              unique_to_id: c.unique_to_id,
              disclosure: c.unique_to_kind === 'disclosure' ? c.unique_to_id : null,
              recipient: c.recipient_id,
              released_by: c.released_by ?? null,
              channel: input.channel,
              occurred_at: occurredAt,
            },
          });
        }
        await insertTrip(trx, {
          id: tripId,
          occurred_at: occurredAt,
          received_at: receivedAt,
          channel: input.channel,
          contact_kind: contact.kind,
          contact_hash: h,
          caller_hash: callerHash,
          matched: c ? 1 : 0,
          canary_subject_id: c?.subject_id ?? null,
          alert_id: alertId,
          reported_by: reportedBy,
        });
        await deps.record(trx, [
          c
            ? {
                kind: 'canary.tripped',
                at: receivedAt,
                actor: reportedBy,
                subject: c.subject_id,
                attrs: {
                  trip: tripId,
                  alert: alertId,
                  unique_to_kind: c.unique_to_kind,
                  unique_to_id: c.unique_to_id,
                  recipient: c.recipient_id,
                  released_by: c.released_by ?? null,
                  channel: input.channel,
                },
              }
            : {
                kind: 'canary.trip_unmatched',
                at: receivedAt,
                actor: reportedBy,
                attrs: { trip: tripId, channel: input.channel, contact_kind: contact.kind },
              },
        ]);
        return {
          tripId,
          matched: Boolean(c),
          alertId,
          uniqueTo: c
            ? {
                kind: c.unique_to_kind as 'disclosure' | 'actor',
                id: c.unique_to_id,
                recipientId: c.recipient_id,
              }
            : null,
        };
      });
    },
  };
}
