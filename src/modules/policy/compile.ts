import { sha256 } from '../../lib/crypto/index.js';
import { type LocalTime, localTime, parseClockTime } from './localtime.js';
import {
  DEFAULT_PERMISSIONS,
  isPermission,
  type LegalBasis,
  PERMISSIONS,
  type Permission,
  type PolicyDoc,
  parsePolicy,
  type View,
} from './schema.js';

/**
 * A policy compiled into lookup maps: purpose → role → grant, field → view. Decisions read only
 * these maps (no parsing, no I/O). Compiled policies are cached by the hash of their text.
 */
export interface Purpose {
  readonly name: string;
  readonly basis: LegalBasis;
  readonly necessary: boolean;
  readonly description: string | undefined;
}

export interface FieldViews {
  /** Fields named in the grant. */
  readonly views: ReadonlyMap<string, View>;
  /** The view of every field not named ("*"); deny unless the grant says otherwise. */
  readonly defaultView: View;
}

export interface CompiledGrant extends FieldViews {
  readonly role: string;
  readonly purpose: string;
  readonly assignment: boolean;
  readonly approval: boolean;
  readonly consent: boolean;
  /** Set when the grant turns off the consent check of a consent-based purpose (review finding). */
  readonly consentWaived: boolean;
  readonly quota: { readonly daily: number; readonly approvalUnlocks: boolean } | undefined;
  /** Local minutes since midnight, [from, to); wraps past midnight when from > to. */
  readonly hours: { readonly from: number; readonly to: number } | undefined;
  readonly attributes: ReadonlyMap<string, ReadonlySet<string>> | undefined;
  readonly breakGlass: FieldViews | undefined;
  /** Usable only to resolve a contact token (never a read by subject id). */
  readonly tokenOnly: boolean;
}

/** A disclosure grant, compiled. */
export interface CompiledDisclose {
  readonly role: string;
  readonly purpose: string;
  /** Recipient ids; undefined = every recipient ("*"). */
  readonly recipients: ReadonlySet<string> | undefined;
  /** Fields that may leave; undefined = every field ("*"). */
  readonly fields: ReadonlySet<string> | undefined;
  readonly assignment: boolean;
  readonly quota: { readonly daily: number } | undefined;
}

export interface CompiledPolicy {
  readonly name: string;
  readonly version: string;
  /** SHA-256 (hex) of the policy text. */
  readonly hash: string;
  readonly text: string;
  readonly timezone: string;
  readonly local: LocalTime;
  readonly purposes: ReadonlyMap<string, Purpose>;
  readonly grants: readonly CompiledGrant[];
  readonly byPurpose: ReadonlyMap<string, ReadonlyMap<string, CompiledGrant>>;
  readonly disclose: readonly CompiledDisclose[];
  /** Action → roles (the file's `permissions:`, else the defaults). */
  readonly permissions: ReadonlyMap<Permission, ReadonlySet<string>>;
}

export const VIEW_RANK: Readonly<Record<View, number>> = { deny: 0, masked: 1, token: 2, plain: 3 };

export function policyHash(text: string): string {
  return sha256(Buffer.from(text, 'utf8')).toString('hex');
}

function fieldViews(fields: Readonly<Record<string, View>>): FieldViews {
  const views = new Map<string, View>();
  let defaultView: View = 'deny';
  for (const [k, v] of Object.entries(fields)) {
    if (k === '*') defaultView = v;
    else views.set(k, v);
  }
  return { views, defaultView };
}

export function compileDoc(doc: PolicyDoc, text: string, hash = policyHash(text)): CompiledPolicy {
  const purposes = new Map<string, Purpose>();
  for (const [name, p] of Object.entries(doc.purposes)) {
    purposes.set(name, { name, basis: p.basis, necessary: p.necessary, description: p.description });
  }
  const grants: CompiledGrant[] = [];
  const byPurpose = new Map<string, Map<string, CompiledGrant>>();
  for (const g of doc.grants) {
    const basis = purposes.get(g.purpose)?.basis;
    const consentByBasis = basis === 'consent';
    const compiled: CompiledGrant = {
      role: g.role,
      purpose: g.purpose,
      ...fieldViews(g.fields),
      assignment: g.assignment,
      approval: g.approval,
      consent: g.consent ?? consentByBasis,
      consentWaived: consentByBasis && g.consent === false,
      quota: g.quota ? { daily: g.quota.daily, approvalUnlocks: g.quota.approval_unlocks } : undefined,
      hours: g.hours ? { from: parseClockTime(g.hours.from), to: parseClockTime(g.hours.to) } : undefined,
      attributes: g.attributes
        ? new Map(Object.entries(g.attributes).map(([k, vs]) => [k, new Set(vs)] as const))
        : undefined,
      breakGlass: g.break_glass ? fieldViews(g.break_glass.fields) : undefined,
      tokenOnly: g.token_only,
    };
    grants.push(compiled);
    let roles = byPurpose.get(g.purpose);
    if (!roles) {
      roles = new Map();
      byPurpose.set(g.purpose, roles);
    }
    roles.set(g.role, compiled);
  }
  const disclose: CompiledDisclose[] = doc.disclose.map((g) => ({
    role: g.role,
    purpose: g.purpose,
    recipients: g.recipients.includes('*') ? undefined : new Set(g.recipients),
    fields: g.fields.includes('*') ? undefined : new Set(g.fields),
    assignment: g.assignment,
    quota: g.quota ? { daily: g.quota.daily } : undefined,
  }));
  const permissions = new Map<Permission, ReadonlySet<string>>();
  for (const p of PERMISSIONS) permissions.set(p, new Set(doc.permissions?.[p] ?? DEFAULT_PERMISSIONS[p]));
  return {
    disclose,
    permissions,
    name: doc.name,
    version: doc.version,
    hash,
    text,
    timezone: doc.timezone,
    local: localTime(doc.timezone),
    purposes,
    grants,
    byPurpose,
  };
}

const cache = new Map<string, CompiledPolicy>();
const MAX_CACHED = 16;

/** Parses, validates and compiles a policy text (cached by hash); throws POLICY_INVALID. */
export function compilePolicy(text: string): CompiledPolicy {
  const hash = policyHash(text);
  const hit = cache.get(hash);
  if (hit) return hit;
  const compiled = compileDoc(parsePolicy(text), text, hash);
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(hash, compiled);
  return compiled;
}

/** The view a grant gives a field, and the policy key it came from (the field itself or "*"). */
export function viewOf(g: FieldViews, field: string): View {
  return g.views.get(field) ?? g.defaultView;
}

/**
 * Of `roles`, those that some grant of `policy` lets see a field in plain (a named field or "*",
 * any purpose). Break-glass views are not counted: each break-glass read raises its own alert.
 * Creating an actor with such a role, or granting one, needs a second administrator (four-eyes).
 */
export function plainRoles(policy: CompiledPolicy, roles: readonly string[]): string[] {
  const plain = new Set<string>();
  for (const g of policy.grants) {
    if (g.defaultView === 'plain' || [...g.views.values()].includes('plain')) plain.add(g.role);
  }
  return [...new Set(roles)].filter((r) => plain.has(r));
}

/** Whether one of the principal's roles holds `action` under the policy's `permissions:`. */
export function permits(policy: CompiledPolicy, roles: readonly string[], action: Permission): boolean {
  const allowed = policy.permissions.get(action);
  return allowed !== undefined && roles.some((r) => allowed.has(r));
}

/**
 * permits() for an action a route names: under `policy`, or under the defaults while no policy is
 * loaded. An action the policy does not know is a programming error (thrown, never a silent deny).
 */
export function permitsAction(
  policy: CompiledPolicy | undefined,
  roles: readonly string[],
  action: string,
): boolean {
  if (!isPermission(action)) throw new Error(`unknown permission: ${action}`);
  if (policy) return permits(policy, roles, action);
  const allowed = DEFAULT_PERMISSIONS[action];
  return roles.some((r) => allowed.includes(r));
}

/** Each role named by the policy's `permissions:` (or the defaults), with the actions it holds. */
export function permissionsByRole(policy: CompiledPolicy): Map<string, Permission[]> {
  const out = new Map<string, Permission[]>();
  for (const action of PERMISSIONS) {
    for (const role of policy.permissions.get(action) ?? []) {
      const list = out.get(role) ?? [];
      list.push(action);
      out.set(role, list);
    }
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

export interface DisclosureDecisionInput {
  roles: readonly string[];
  purpose: string;
  recipientId: string;
  fields: readonly string[];
  /** Subjects in this disclosure. */
  subjects: number;
  /** Subjects this actor disclosed today (policy time zone) for this purpose, before this one. */
  usedToday: number;
  /** Every subject is assigned to the releasing actor. */
  allAssigned: boolean;
}

export interface DisclosureDecision {
  allowed: boolean;
  /** Stable codes for the record, never for the caller: NO_GRANT, FIELDS_DENIED, ASSIGNMENT_REQUIRED, QUOTA_EXCEEDED. */
  reasons: string[];
  /** The grant's daily limit when quota-bound. */
  quota?: number;
}

/**
 * A disclosure is a policy decision like a read: the releasing actor needs a `disclose` grant for
 * the purpose and the recipient covering every field, and passes its assignment and quota
 * conditions. Any one passing grant suffices (grants of several roles are alternatives).
 */
export function decideDisclosure(policy: CompiledPolicy, input: DisclosureDecisionInput): DisclosureDecision {
  const reasons = new Set<string>();
  let candidates = 0;
  for (const g of policy.disclose) {
    if (g.purpose !== input.purpose || !input.roles.includes(g.role)) continue;
    if (g.recipients && !g.recipients.has(input.recipientId)) continue;
    candidates++;
    const failures: string[] = [];
    if (g.fields && input.fields.some((f) => !g.fields!.has(f))) failures.push('FIELDS_DENIED');
    if (g.assignment && !input.allAssigned) failures.push('ASSIGNMENT_REQUIRED');
    if (g.quota && input.usedToday + input.subjects > g.quota.daily) failures.push('QUOTA_EXCEEDED');
    if (failures.length === 0)
      return { allowed: true, reasons: [], ...(g.quota ? { quota: g.quota.daily } : {}) };
    for (const r of failures) reasons.add(r);
  }
  if (candidates === 0) reasons.add('NO_GRANT');
  return { allowed: false, reasons: [...reasons].sort() };
}
