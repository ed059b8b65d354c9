import type { Kysely } from 'kysely';
import { type DbExecutor, type Recorder, requireRecorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import { disclosureError } from './disclosure.errors.js';
import {
  getRecipient,
  getRecipientByName,
  insertRecipient,
  listRecipients,
  recipientsOfActor,
  updateRecipient,
} from './disclosure.repo.js';
import type { RecipientsTable } from './disclosure.tables.js';
import {
  type Recipient,
  type RecipientInput,
  RecipientInputSchema,
  type RecipientPatch,
  RecipientPatchSchema,
  type TransferMechanism,
} from './recipients.js';

/**
 * The recipients register (PIPL art. 23, 38, 55): who may receive PI, for which purposes, under
 * which contract, impact assessment and cross-border mechanism. One job of the disclosure module,
 * behind its door; createDisclosure hands these methods out as its own.
 */
export interface RecipientsDeps {
  db: Kysely<any>;
  clock: Clock;
  record: Recorder;
  ids?: IdSource;
}

export function toRecipient(r: RecipientsTable): Recipient {
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

/**
 * The recipients a partner actor acts for (recipients.actor_id). Needs nothing but the database, so
 * the read path's consent check can ask it without the disclosure service (which depends on the
 * read path): no late binding in the composition root.
 */
export async function recipientsActingAs(db: DbExecutor, actorId: string): Promise<Recipient[]> {
  return (await recipientsOfActor(db, actorId)).map(toRecipient);
}

export function createRecipients(deps: RecipientsDeps) {
  requireRecorder(deps.record, 'createRecipients');
  const ids = deps.ids ?? randomId;
  return {
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
      return recipientsActingAs(executor, actorId);
    },
  };
}
