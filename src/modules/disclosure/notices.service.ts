import type { Kysely } from 'kysely';
import { type AuditEvent, type Recorder, requireRecorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { ed25519Sign, type Keyring } from '../../lib/crypto/index.js';
import { isAppError } from '../../lib/errors.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import { type Consent, type ConsentRecord, canonicalJson } from '../consent/index.js';
import { disclosureError } from './disclosure.errors.js';
import {
  deletionNoticesFor,
  deliveredTo,
  getDeletionNotice,
  getRecipient,
  insertDeletionNotices,
  pendingDeletionNotices,
  recipientsOfActor,
  updateDeletionNotice,
} from './disclosure.repo.js';
import type { DeletionNoticesTable } from './disclosure.tables.js';

/**
 * Deletion notices (PIPL art. 15 and 47, GDPR art. 19): when a subject withdraws consent, every
 * recipient that received him under that purpose is told, in a signed notice, to delete; notices
 * are pushed (webhook, file) or pulled by the recipient's actor. One job of the disclosure module,
 * behind its door; createDisclosure hands these methods out as its own.
 */
export interface DeletionNoticesDeps {
  db: Kysely<any>;
  clock: Clock;
  record: Recorder;
  keyring: Pick<Keyring, 'signingKey' | 'publicKeyRaw'>;
  consent: Pick<Consent, 'onWithdrawal' | 'consentedSubjects'>;
  ids?: IdSource;
  /** The recipient's pseudonym for a subject (as in its exports). */
  refFor: (recipientId: string, subjectId: string) => string;
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

export function createDeletionNotices(deps: DeletionNoticesDeps) {
  requireRecorder(deps.record, 'createDeletionNotices');
  const ids = deps.ids ?? randomId;
  const { refFor } = deps;

  // PIPL art. 15 and 47, GDPR art. 19: after a withdrawal, each recipient that received the
  // subject under the withdrawn purpose is told to delete. Queued in the withdrawal's transaction.
  deps.consent.onWithdrawal(async (trx, withdrawn: readonly ConsentRecord[]) => {
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
