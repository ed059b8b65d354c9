import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  CATEGORIES,
  type Category,
  type CheckContext,
  type Checked,
  FIELD_TYPES,
  type FieldType,
  type FieldTypeName,
  FULL_MASK,
  fieldTypes,
  keepMask,
  SENSITIVITIES,
  type Sensitivity,
} from './fieldtypes.js';
import { vaultError } from './vault.errors.js';

/**
 * The field catalog: which fields a subject may have, their type, whether they carry a blind
 * index, their default mask and GB/T 35273 class. The built-in catalog is the registration record;
 * a deployment extends it with a YAML or JSON file (CUSTODIAN_CATALOG_FILE): a list of
 * `{ name, type, searchable?, mask?, sensitivity?, category?, maxLength? }`, either at the top level or
 * under `fields:`. An entry with the name of a built-in field replaces it.
 */
export type MaskSpec = 'default' | 'full' | { readonly keepFirst: number; readonly keepLast: number };

export interface FieldDef {
  readonly name: string;
  readonly type: FieldTypeName;
  readonly searchable: boolean;
  readonly sensitivity: Sensitivity;
  readonly category: Category;
  readonly mask: MaskSpec;
  readonly maxLength: number;
}

export interface Field extends FieldDef {
  /** Validates and normalises an input value. */
  check(input: string, ctx: CheckContext): Checked;
  /** Masks a normalised value for a masked view. */
  maskValue(value: string): string;
}

export interface Catalog {
  /** The specs it was built from (e.g. to rebuild it in a worker thread). */
  readonly specs: readonly FieldSpec[];
  readonly fields: readonly Field[];
  readonly names: readonly string[];
  field(name: string): Field | undefined;
}

/** The registration record (name, phone, e-mail, company: what the 2019 leak carried; ID and address). */
export const DEFAULT_FIELDS: readonly FieldSpec[] = [
  { name: 'name', type: 'person_name' },
  { name: 'mobile', type: 'cn_mobile', searchable: true },
  { name: 'email', type: 'email', searchable: true },
  { name: 'company', type: 'company' },
  { name: 'id_number', type: 'cn_id_number', searchable: true, sensitivity: 'sensitive' },
  { name: 'address', type: 'address' },
];

// Field names become SQL values and CSV headers; `external_id` is the import's key column, and the
// blind-index key derivation reserves names starting with '#'.
const FIELD_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const RESERVED = new Set(['external_id', 'id', 'subject_id']);
const MASK = /^(default|full|keep:(\d{1,2}):(\d{1,2}))$/;
const TEXT_LIKE: ReadonlySet<FieldTypeName> = new Set(['text', 'address', 'company', 'person_name']);

const FieldSpecSchema = z
  .object({
    name: z.string(),
    type: z.string(),
    searchable: z.boolean().optional(),
    mask: z.string().optional(),
    sensitivity: z.string().optional(),
    category: z.string().optional(),
    maxLength: z.number().int().positive().max(65_536).optional(),
  })
  .strict();

export type FieldSpec = z.input<typeof FieldSpecSchema>;

const FieldListSchema = z.array(FieldSpecSchema);

function invalid(message: string): Error {
  return vaultError('VAULT_CATALOG_INVALID', { message: `field catalog: ${message}` });
}

function parseMask(spec: string | undefined, field: string): MaskSpec {
  if (spec === undefined || spec === 'default') return 'default';
  const m = MASK.exec(spec);
  if (!m) throw invalid(`field "${field}": mask must be default, full or keep:FIRST:LAST`);
  if (spec === 'full') return 'full';
  return { keepFirst: Number(m[2]), keepLast: Number(m[3]) };
}

function buildField(spec: FieldSpec): Field {
  const { name } = spec;
  if (!FIELD_NAME.test(name) || RESERVED.has(name)) {
    throw invalid(`"${name}" is not a valid field name (a-z, 0-9, _; not external_id, id or subject_id)`);
  }
  if (!(FIELD_TYPES as readonly string[]).includes(spec.type)) {
    throw invalid(`field "${name}": unknown type "${spec.type}" (known: ${FIELD_TYPES.join(', ')})`);
  }
  const t: FieldType = fieldTypes[spec.type as FieldTypeName];
  if (spec.sensitivity !== undefined && !(SENSITIVITIES as readonly string[]).includes(spec.sensitivity)) {
    throw invalid(`field "${name}": sensitivity must be ${SENSITIVITIES.join(' or ')}`);
  }
  if (spec.category !== undefined && !(CATEGORIES as readonly string[]).includes(spec.category)) {
    throw invalid(`field "${name}": category must be one of ${CATEGORIES.join(', ')}`);
  }
  if (spec.maxLength !== undefined && !TEXT_LIKE.has(t.name)) {
    throw invalid(`field "${name}": maxLength applies to text, address, company and person_name only`);
  }
  const mask = parseMask(spec.mask, name);
  const maxLength = spec.maxLength ?? t.maxLength;
  const maskValue =
    mask === 'default'
      ? t.mask
      : mask === 'full'
        ? () => FULL_MASK
        : (v: string) => keepMask(v, mask.keepFirst, mask.keepLast);
  return {
    name,
    type: t.name,
    searchable: spec.searchable ?? false,
    sensitivity: (spec.sensitivity as Sensitivity | undefined) ?? t.sensitivity,
    category: (spec.category as Category | undefined) ?? t.category,
    mask,
    maxLength,
    check: (input, ctx) => t.normalise(input, ctx, maxLength),
    maskValue,
  };
}

/** Builds a catalog from specs; later specs replace earlier ones of the same name. */
export function createCatalog(specs: readonly FieldSpec[]): Catalog {
  const byName = new Map<string, Field>();
  for (const s of specs) byName.set(s.name, buildField(s));
  const fields = [...byName.values()];
  return {
    specs: [...specs],
    fields,
    names: fields.map((f) => f.name),
    field: (name) => byName.get(name),
  };
}

/** Parses a catalog extension file's text (YAML, of which JSON is a subset). */
export function parseCatalogFile(text: string): FieldSpec[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    throw invalid('the file is not valid YAML or JSON');
  }
  const raw = Array.isArray(doc)
    ? doc
    : doc !== null && typeof doc === 'object' && Object.keys(doc).length === 1 && 'fields' in doc
      ? (doc as { fields: unknown }).fields
      : undefined;
  if (!Array.isArray(raw)) throw invalid('expected a list of fields, at the top level or under "fields:"');
  const parsed = FieldListSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(`fields.${issue.path.join('.')}: ${issue.message}`);
  }
  const list = parsed.data;
  const seen = new Set<string>();
  for (const f of list) {
    if (seen.has(f.name)) throw invalid(`field "${f.name}" is listed twice`);
    seen.add(f.name);
  }
  return list;
}

/** The default catalog, extended by `file` when given. */
export function loadCatalog(file?: string): Catalog {
  if (file === undefined) return createCatalog(DEFAULT_FIELDS);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw vaultError('VAULT_CATALOG_INVALID', {
      message: `field catalog: cannot read ${file}`,
      cause: e,
    });
  }
  return createCatalog([...DEFAULT_FIELDS, ...parseCatalogFile(text)]);
}

export const defaultCatalog: Catalog = createCatalog(DEFAULT_FIELDS);
