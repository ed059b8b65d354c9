import { z } from 'zod';
import { commonError } from '../../lib/errors.js';
import { publicIssues } from '../../lib/zodissues.js';

/**
 * Actors: employees, services (integrations such as the telephony system) and partners (third-party
 * recipients with their own credentials). Each has roles, which the policy grants views to, and
 * attributes (department, region) that grants may require.
 */
export const ACTOR_KINDS = ['employee', 'service', 'partner'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

/**
 * Roles the shipped policies and the services know. Other lower_snake_case role names are allowed
 * (a policy may define its own); these have fixed meanings: `admin` manages actors, assignments
 * and the policy (and reads no personal information unless a policy grants it); `approver`
 * decides approval requests; `privacy_officer` and `auditor` see the access review.
 */
export const KNOWN_ROLES = [
  'telemarketing',
  'support',
  'billing',
  'sales_manager',
  'approver',
  'admin',
  'privacy_officer',
  'auditor',
  'contact_service',
  'partner',
] as const;

export const ADMIN_ROLE = 'admin';

export type ActorStatus = 'active' | 'disabled';

export interface Actor {
  id: string;
  /** Unique handle in the organisation (e.g. a staff number or a system name). */
  name: string;
  kind: ActorKind;
  roles: string[];
  attributes: Record<string, string>;
  status: ActorStatus;
  createdAt: string;
  createdBy: string | null;
  disabledAt: string | null;
}

export interface ApiKeyInfo {
  id: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export const roleName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be lower_snake_case: a-z, 0-9 and _, at most 64 characters');
export const actorName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/,
    'must be letters, digits and . _ : @ -, at most 128 characters',
  );
export const attributes = z
  .record(
    z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'attribute names are lower_snake_case'),
    z.string().min(1).max(128),
  )
  .refine((a) => Object.keys(a).length <= 32, 'at most 32 attributes');
export const roles = z
  .array(roleName)
  .max(32)
  .transform((rs) => [...new Set(rs)].sort());

export const NewActorSchema = z.strictObject({
  name: actorName,
  kind: z.enum(ACTOR_KINDS),
  roles: roles,
  attributes: attributes.default({}),
});
export type NewActor = z.input<typeof NewActorSchema>;

export const ActorPatchSchema = z
  .strictObject({ roles: roles.optional(), attributes: attributes.optional() })
  .refine((p) => p.roles !== undefined || p.attributes !== undefined, 'name roles or attributes');
export type ActorPatch = z.input<typeof ActorPatchSchema>;

/** Subject ids are opaque; this bounds them to printable identifier characters. */
export const subjectIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/);

/**
 * Parses with a zod schema; a failure is VALIDATION_FAILED naming the schema's own paths (never the
 * values, nor keys taken from the input: an attribute named by a mobile shows as `*`).
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw commonError('VALIDATION_FAILED', {
    cause: r.error,
    details: { issues: publicIssues(r.error, schema) },
  });
}
