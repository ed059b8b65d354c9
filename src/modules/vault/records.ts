import type { Catalog } from './catalog.js';
import { type CheckContext, fieldTypes, Invalid } from './fieldtypes.js';

/**
 * Pure helpers shared by the service and the import: external-id rules and the canonical form of a
 * record that the fingerprint hashes.
 */
const EXTERNAL_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const FAR_PAST: CheckContext = { today: '99991231' };

/**
 * External ids are stored in the clear (they key imports and link back to the organisation's own
 * systems), so they must not be PI themselves: a value that is a valid mainland mobile number or
 * ID number is refused, and '@' is outside the allowed characters.
 */
export function externalIdProblem(id: string): 'VAULT_EXTERNAL_ID_INVALID' | undefined {
  if (!EXTERNAL_ID.test(id)) return 'VAULT_EXTERNAL_ID_INVALID';
  if (id.length >= 11 && id.length <= 18) {
    const asMobile = fieldTypes.cn_mobile.normalise(id, FAR_PAST, 32);
    if (typeof asMobile === 'string') return 'VAULT_EXTERNAL_ID_INVALID';
    const asId = fieldTypes.cn_id_number.normalise(id, FAR_PAST, 32);
    if (typeof asId === 'string') return 'VAULT_EXTERNAL_ID_INVALID';
  }
  return undefined;
}

/**
 * The canonical bytes of a record for its fingerprint: fields sorted by name, `name NUL value SOH`.
 * Normalised values never hold control characters other than newline and tab, so the encoding is
 * unambiguous.
 */
export function canonicalRecord(values: ReadonlyMap<string, string>): string {
  const names = [...values.keys()].sort();
  let out = '';
  for (const n of names) out += `${n}\u0000${values.get(n)!}\u0001`;
  return out;
}

export interface CheckedFields {
  /** Field name → normalised value, for fields given a value. */
  readonly set: Map<string, string>;
  /** Fields given null: to be removed (updates only). */
  readonly unset: string[];
}

/**
 * The first bad field: its position among the given fields, and its name only when the name is the
 * catalog's (an unknown name is the caller's input and is never repeated in an error).
 */
export type FieldProblem = { position: number; field?: string; code: string };

/** Validates a field map against the catalog; returns the first problem instead of throwing. */
export function checkFields(
  catalog: Catalog,
  ctx: CheckContext,
  fields: Readonly<Record<string, string | null | undefined>>,
): CheckedFields | FieldProblem {
  const set = new Map<string, string>();
  const unset: string[] = [];
  let position = -1;
  for (const [name, raw] of Object.entries(fields)) {
    position++;
    const f = catalog.field(name);
    if (!f) return { position, code: 'VAULT_FIELD_UNKNOWN' };
    if (raw === undefined) continue;
    if (raw === null) {
      unset.push(name);
      continue;
    }
    if (typeof raw !== 'string') return { position, field: name, code: 'VAULT_VALUE_MALFORMED' };
    const v = f.check(raw, ctx);
    if (v instanceof Invalid) return { position, field: name, code: v.code };
    set.set(name, v);
  }
  return { set, unset };
}
