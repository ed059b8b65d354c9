import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { policyError } from './policy.errors.js';

/**
 * The policy file (YAML): purposes with their legal basis, and grants of role × purpose × field →
 * view with conditions. Anything not granted is denied. Unknown keys are errors (a misspelt
 * `assigment: false` must not silently leave the default in place). Every error names the path
 * and, where it can, the line.
 */
export const VIEWS = ['deny', 'masked', 'token', 'plain'] as const;
export type View = (typeof VIEWS)[number];

/** PIPL art. 13: the seven legal bases for processing. Only `consent` needs consent records. */
export const LEGAL_BASES = [
  'consent',
  'contract',
  'hr_management',
  'legal_duty',
  'emergency',
  'news_reporting',
  'public_information',
] as const;
export type LegalBasis = (typeof LEGAL_BASES)[number];

export const DEFAULT_TIMEZONE = 'Asia/Shanghai';
export const MAX_POLICY_BYTES = 256 * 1024;

const NAME_RE = /^[a-z][a-z0-9_]{0,63}$/;
const identifier = z
  .string()
  .regex(NAME_RE, 'must be lower_snake_case: a-z, 0-9 and _, at most 64 characters');
const fieldKey = z.union([z.literal('*'), identifier], {
  error: 'a field must be lower_snake_case or "*" (every field not listed)',
});
const view = z.enum(VIEWS, { error: `must be one of ${VIEWS.join(', ')}` });
const fieldViews = z
  .record(fieldKey, view)
  .refine((r) => Object.keys(r).length > 0, 'must name at least one field (or "*")');
const time = z
  .string()
  .regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'must be a time HH:MM between 00:00 and 24:00');

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const PurposeSchema = z.strictObject({
  basis: z.enum(LEGAL_BASES, { error: `must be one of the PIPL art. 13 bases: ${LEGAL_BASES.join(', ')}` }),
  /** PIPL art. 16: refusing an optional purpose must not block the service. */
  necessary: z.boolean({ error: 'must be true or false (PIPL art. 16: necessary or optional)' }),
  description: z.string().max(500).optional(),
});

const GrantSchema = z.strictObject({
  role: identifier,
  purpose: identifier,
  description: z.string().max(500).optional(),
  fields: fieldViews,
  /** Least privilege: reads are limited to assigned subjects unless a grant says otherwise. */
  assignment: z.boolean().default(true),
  quota: z
    .strictObject({
      /** Distinct subjects per actor, purpose and (policy-timezone) day. */
      daily: z.number().int().min(1).max(10_000_000),
      /** Whether an approval lets the actor go past the quota. */
      approval_unlocks: z.boolean().default(false),
    })
    .optional(),
  hours: z
    .strictObject({ from: time, to: time })
    .refine((h) => h.from !== h.to, 'from and to must differ')
    .optional(),
  approval: z.boolean().default(false),
  /** Defaults to true when the purpose's basis is consent. */
  consent: z.boolean().optional(),
  /** Attribute-based condition: the actor's attribute must be one of the listed values. */
  attributes: z.record(identifier, z.array(z.string().min(1).max(128)).min(1)).optional(),
  /**
   * The grant serves only contact-token resolution (the telephony or mail integration): it turns a
   * valid, unexpired token an authorised employee holds into a number for the dialer, and never
   * reads by subject id (single reads, batches, lookups and disclosures under it are denied).
   */
  token_only: z.boolean().default(false),
  /** Views granted under break-glass (a mandatory reason; alerts). */
  break_glass: z.strictObject({ fields: fieldViews }).optional(),
});

/**
 * A disclosure grant: a role may provide the named fields to the named recipients (ids, or "*" for
 * every enabled recipient) for a purpose, under the same conditions a read has: assignment of
 * every subject to the releasing employee unless `assignment: false`, and a daily quota of
 * subjects per actor. Consent and the recipient's own checks stay the disclosure module's.
 */
const DiscloseSchema = z.strictObject({
  role: identifier,
  purpose: identifier,
  recipients: z.array(z.string().regex(/^(\*|[A-Za-z0-9_.:-]{1,128})$/, 'a recipient id or "*"')).min(1),
  /** Fields that may leave; "*" (the default) is every field. */
  fields: z.array(fieldKey).min(1).default(['*']),
  assignment: z.boolean().default(true),
  quota: z.strictObject({ daily: z.number().int().min(1).max(100_000_000) }).optional(),
  description: z.string().max(500).optional(),
});

/**
 * Actions outside the read path that the routes check (who may do what), each to its roles. The
 * disclosure module's three (recipients, disclosures, canary trips) are listed here too.
 */
export const PERMISSIONS = [
  'subjects.write',
  'subjects.erase',
  'subjects.history',
  'recipients.manage',
  'disclosures.read',
  'canaries.report_trip',
  'actors.manage',
  'assignments.manage',
  'sessions.manage',
  'notices.manage',
  'consents.write',
  'consents.read',
  'policy.read',
  'policy.load',
  'approvals.decide',
  'ledger.read_entries',
  'alerts.read',
  'alerts.manage',
  'suspensions.manage',
  'incidents.read',
  'incidents.manage',
  'rights.read',
  'rights.handle',
  'traces.read',
  'traces.run',
  'canaries.plan',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export function isPermission(action: string): action is Permission {
  return (PERMISSIONS as readonly string[]).includes(action);
}

/** The permissions a policy file without a `permissions:` section (or action) gets: the roles of before. */
export const DEFAULT_PERMISSIONS: Readonly<Record<Permission, readonly string[]>> = {
  'subjects.write': ['admin', 'ingest'],
  'subjects.erase': ['admin', 'privacy_officer'],
  'subjects.history': ['privacy_officer', 'auditor', 'admin'],
  'recipients.manage': ['privacy_officer', 'admin'],
  'disclosures.read': ['privacy_officer', 'partner_manager', 'auditor', 'admin'],
  'canaries.report_trip': ['canary_gateway', 'contact_service'],
  /** Actors, their keys and the four-eyes requests to create them (a key's own rotation is free). */
  'actors.manage': ['admin'],
  'assignments.manage': ['admin'],
  /** List and revoke other actors' console sessions. */
  'sessions.manage': ['admin'],
  /** Publish privacy notices and import consent records. */
  'notices.manage': ['privacy_officer', 'admin'],
  'consents.write': ['consent_recorder', 'portal', 'privacy_officer', 'admin'],
  'consents.read': ['consent_recorder', 'portal', 'privacy_officer', 'admin', 'auditor'],
  /** The active policy, its versions and its access review. */
  'policy.read': ['admin', 'privacy_officer', 'auditor'],
  'policy.load': ['admin'],
  /** Decide approval requests, and see every request (others see their own). */
  'approvals.decide': ['approver'],
  /** The ledger's private entry bundles (who read whom); the tree and checkpoints are public. */
  'ledger.read_entries': ['privacy_officer', 'auditor', 'security', 'admin'],
  'alerts.read': ['privacy_officer', 'security', 'auditor', 'admin'],
  'alerts.manage': ['privacy_officer', 'security', 'auditor', 'admin'],
  /** List, impose and lift detection's suspensions of actors. */
  'suspensions.manage': ['privacy_officer', 'security', 'auditor', 'admin', 'approver'],
  'incidents.read': ['privacy_officer', 'security', 'auditor'],
  'incidents.manage': ['privacy_officer', 'security'],
  'rights.read': ['privacy_officer', 'auditor'],
  'rights.handle': ['privacy_officer'],
  'traces.read': ['privacy_officer', 'security', 'auditor'],
  'traces.run': ['privacy_officer'],
  /** How many canaries a recipient's share needs (canary sizing). */
  'canaries.plan': ['privacy_officer', 'security', 'auditor', 'admin'],
};

export const PolicySchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a short name: letters, digits, . _ -'),
    version: z
      .union([z.string().min(1).max(64), z.number()], { error: 'must be a string or a number' })
      .transform((v) => String(v))
      .refine((v) => /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(v), 'must be letters, digits and . _ + -'),
    timezone: z
      .string()
      .default(DEFAULT_TIMEZONE)
      .refine(isTimeZone, 'must be an IANA time zone, e.g. Asia/Shanghai'),
    description: z.string().max(2000).optional(),
    purposes: z.record(identifier, PurposeSchema),
    grants: z.array(GrantSchema).default([]),
    /** Who may provide PI to which recipient, for which purpose (a disclosure is a decision too). */
    disclose: z.array(DiscloseSchema).default([]),
    /** Action → roles, for every permission the routes check outside the read path. */
    permissions: z.partialRecord(z.enum(PERMISSIONS), z.array(identifier)).optional(),
    /** Insider detection's ladder and tuning, validated by the detect module (docs/detect.md). */
    detection: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((p, ctx) => {
    p.disclose.forEach((g, i) => {
      if (!Object.hasOwn(p.purposes, g.purpose))
        ctx.addIssue({
          code: 'custom',
          path: ['disclose', i, 'purpose'],
          message: 'is not declared under purposes',
        });
    });
    const seen = new Map<string, number>();
    p.grants.forEach((g, i) => {
      if (!Object.hasOwn(p.purposes, g.purpose)) {
        ctx.addIssue({
          code: 'custom',
          path: ['grants', i, 'purpose'],
          message: 'is not declared under purposes',
        });
      }
      const key = `${g.role}\0${g.purpose}`;
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['grants', i],
          message: `repeats role and purpose of grants[${first}]; merge them into one grant`,
        });
      } else seen.set(key, i);
    });
  });

export type PolicyDoc = z.output<typeof PolicySchema>;
export type GrantDoc = PolicyDoc['grants'][number];
export type PurposeDoc = PolicyDoc['purposes'][string];

export interface PolicyIssue {
  /** e.g. grants[0].fields.mobile */
  path: string;
  /** 1-based line in the policy text, when known. */
  line?: number;
  problem: string;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(top level)' : out;
}

/** Parses and validates a policy text; throws POLICY_INVALID with `details.issues` (path, line, problem). */
export function parsePolicy(text: string): PolicyDoc {
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES) {
    throw invalid([{ path: '(file)', problem: `is larger than ${MAX_POLICY_BYTES} bytes` }]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw invalid(
      doc.errors.map((e) => ({
        path: '(yaml)',
        line: lineCounter.linePos(e.pos[0]).line,
        problem: e.code === 'DUPLICATE_KEY' ? 'duplicate key' : `YAML syntax error (${e.code})`,
      })),
    );
  }
  let raw: unknown;
  try {
    // maxAliasCount bounds alias expansion ("billion laughs").
    raw = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    throw invalid([{ path: '(yaml)', problem: 'too many aliases' }], e);
  }
  const parsed = PolicySchema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  const issues: PolicyIssue[] = parsed.error.issues.map((i) => {
    let path = [...i.path];
    if (i.code === 'unrecognized_keys') {
      const keys = (i as { keys?: string[] }).keys ?? [];
      if (keys.length === 1) path = [...path, keys[0]!];
    }
    const line = lineOf(doc, lineCounter, path);
    return { path: formatPath(path), ...(line ? { line } : {}), problem: problemOf(i, raw) };
  });
  issues.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  throw invalid(issues);
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function problemOf(i: z.core.$ZodIssue, raw: unknown): string {
  if (i.code === 'unrecognized_keys')
    return `unknown key${i.keys.length > 1 ? 's' : ''}: ${i.keys.join(', ')}`;
  if (
    (i.code === 'invalid_type' || i.code === 'invalid_union' || i.code === 'invalid_value') &&
    valueAt(raw, i.path) === undefined
  ) {
    return i.message.startsWith('Invalid') ? 'is required' : `is required (${i.message})`;
  }
  return i.message;
}

/** The line of the deepest node on `path` that exists: a map entry's key line, a list item's line. */
function lineOf(doc: Document, lc: LineCounter, path: readonly PropertyKey[]): number | undefined {
  let node: unknown = doc.contents;
  let line: number | undefined = rangeLine(node, lc);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) break;
      line = rangeLine(pair.key, lc) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (node === undefined) break;
      line = rangeLine(node, lc) ?? line;
    } else break;
  }
  return line;
}

function rangeLine(node: unknown, lc: LineCounter): number | undefined {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range ? lc.linePos(range[0]).line : undefined;
}

function invalid(issues: PolicyIssue[], cause?: unknown) {
  return policyError('POLICY_INVALID', { details: { issues }, ...(cause ? { cause } : {}) });
}

/** One line per issue, for the CLI. */
export function describeIssues(issues: readonly PolicyIssue[]): string {
  return issues.map((i) => `  ${i.line ? `line ${i.line}: ` : ''}${i.path}: ${i.problem}`).join('\n');
}
