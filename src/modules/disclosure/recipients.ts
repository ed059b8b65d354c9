import { z } from 'zod';

/**
 * Recipients: third parties that receive PI (another processor, PIPL art. 23). A recipient is not
 * enabled without a recorded personal-information impact assessment (PIPL art. 55); one outside
 * the organisation's jurisdiction also needs a transfer mechanism on file before anything is
 * disclosed to it (PIPL art. 38–40; the 2024 cross-border provisions): the standard contract,
 * certification, or the CAC security assessment (valid 3 years).
 */
export const TRANSFER_MECHANISMS = ['standard_contract', 'certification', 'cac_assessment'] as const;
export type TransferMechanism = (typeof TRANSFER_MECHANISMS)[number];

const ref = z.string().trim().min(1).max(256);
const purpose = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/);

export const TransferSchema = z.object({
  mechanism: z.enum(TRANSFER_MECHANISMS),
  ref,
  /** When the mechanism stops covering transfers (a CAC assessment is valid 3 years). */
  validUntil: z.iso.datetime({ offset: true }).optional(),
});

const webhook = z
  .url()
  .max(2000)
  .refine((u) => /^https:\/\//.test(u) || /^http:\/\/(localhost|127\.0\.0\.1)(:\d+)?\//.test(u), {
    message: 'must be https (http only to localhost)',
  });

export const RecipientInputSchema = z.object({
  name: z.string().trim().min(1).max(200),
  /** Business contact the notice names (PIPL art. 23): an office, not a customer. */
  contact: z.string().trim().min(1).max(500),
  jurisdiction: z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2 code'),
  purposes: z.array(purpose).min(1).max(100),
  contractRef: ref,
  retentionDays: z.number().int().min(1).max(36_500),
  piaRef: ref.optional(),
  transfer: TransferSchema.optional(),
  /** The partner's own actor (API key) for pulling deliveries and deletion notices. */
  actorId: z.string().min(1).max(128).optional(),
  webhookUrl: webhook.optional(),
});

export type RecipientInput = z.input<typeof RecipientInputSchema>;

export const RecipientPatchSchema = z
  .object({
    contact: z.string().trim().min(1).max(500).optional(),
    purposes: z.array(purpose).min(1).max(100).optional(),
    contractRef: ref.optional(),
    retentionDays: z.number().int().min(1).max(36_500).optional(),
    piaRef: ref.optional(),
    transfer: TransferSchema.nullable().optional(),
    actorId: z.string().min(1).max(128).nullable().optional(),
    webhookUrl: webhook.nullable().optional(),
    status: z.enum(['enabled', 'disabled']).optional(),
  })
  .refine((p) => Object.values(p).some((v) => v !== undefined), 'nothing to change');

export type RecipientPatch = z.input<typeof RecipientPatchSchema>;

export interface Recipient {
  id: string;
  name: string;
  contact: string;
  jurisdiction: string;
  purposes: string[];
  contractRef: string;
  retentionDays: number;
  piaRef: string | null;
  piaAt: string | null;
  transfer: { mechanism: TransferMechanism; ref: string; validUntil: string | null } | null;
  actorId: string | null;
  webhookUrl: string | null;
  status: 'pending' | 'enabled' | 'disabled';
  createdAt: string;
  createdBy: string | null;
  updatedAt: string;
}

/**
 * How many people a year each mechanism covers for one destination (2024 provisions, for a
 * non-critical operator, non-sensitive PI): standard contract or certification below 1,000,000;
 * the CAC assessment above. Configuration, not constants: the figures are to be confirmed.
 */
export const DEFAULT_TRANSFER_CAPS: Readonly<Record<TransferMechanism, number>> = {
  standard_contract: 1_000_000,
  certification: 1_000_000,
  cac_assessment: Number.POSITIVE_INFINITY,
};
