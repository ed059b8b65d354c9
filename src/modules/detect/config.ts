import { parse } from 'yaml';
import { z } from 'zod';
import { COLD_START, type Thresholds } from './engine.js';

/**
 * The `detection:` section of the policy file: the severity ladder (what each level does), the
 * population-wide duties that explain a read by themselves (billing reads every customer it
 * invoices), the service roles whose usual pattern is learnt, and threshold floors.
 *
 *   detection:
 *     actions: { low: alert, medium: approval, high: suspend }
 *     ladder: { medium: 2, high: 4 }      # value / limit above which a finding is medium, high
 *     routine: [{ role: billing, purpose: billing }]
 *     service_roles: [contact_service]
 *     off_hours: { from: 22, to: 6 }
 *     thresholds: { velocity: 30, unexplained: 25 }
 */
const Action = z.enum(['alert', 'approval', 'suspend']);

const thresholdKeys = Object.keys(COLD_START) as (keyof Thresholds)[];

export const DetectSchema = z.strictObject({
  actions: z
    .strictObject({
      low: Action.default('alert'),
      medium: Action.default('approval'),
      high: Action.default('suspend'),
    })
    .prefault({}),
  ladder: z
    .strictObject({ medium: z.number().min(1).default(2), high: z.number().min(1).default(4) })
    .prefault({}),
  routine: z.array(z.strictObject({ role: z.string().max(64), purpose: z.string().max(64) })).default([]),
  service_roles: z.array(z.string().max(64)).default(['contact_service']),
  off_hours: z
    .strictObject({ from: z.number().int().min(0).max(23), to: z.number().int().min(0).max(23) })
    .default({ from: 22, to: 6 }),
  utc_offset_hours: z.number().min(-12).max(14).default(8),
  thresholds: z
    .record(z.string(), z.number().positive())
    .refine((r) => Object.keys(r).every((k) => (thresholdKeys as string[]).includes(k)), 'unknown threshold')
    .default({}),
});

export interface DetectConfig {
  actions: {
    low: 'alert' | 'approval' | 'suspend';
    medium: 'alert' | 'approval' | 'suspend';
    high: 'alert' | 'approval' | 'suspend';
  };
  ladder: { medium: number; high: number };
  routine: { role: string; purpose: string }[];
  serviceRoles: string[];
  offHours: { from: number; to: number };
  utcOffsetHours: number;
  thresholds: Partial<Thresholds>;
}

/** The detection section of a policy text (defaults when absent or unreadable: detection never blocks a policy). */
export function parseDetectConfig(policyText: string | undefined): DetectConfig {
  let section: unknown = {};
  if (policyText) {
    try {
      section = (parse(policyText) as { detection?: unknown } | null)?.detection ?? {};
    } catch {
      section = {};
    }
  }
  const r = DetectSchema.safeParse(section);
  const d = r.success ? r.data : DetectSchema.parse({});
  return {
    actions: d.actions,
    ladder: d.ladder,
    routine: d.routine,
    serviceRoles: d.service_roles,
    offHours: d.off_hours,
    utcOffsetHours: d.utc_offset_hours,
    thresholds: d.thresholds as Partial<Thresholds>,
  };
}
