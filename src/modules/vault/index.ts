/**
 * The vault module's only door: subjects, the field catalog, encryption at rest, blind indexes,
 * masking, CSV import and key rotation.
 *
 * INTERNAL — access module only: `openSubjectFields` and `openSubjectsFields` decrypt. The access
 * module is the single place that decides, decrypts and records a read (DESIGN principle 2); an
 * architecture test forbids every other module from importing them.
 */
import type { DbExecutor } from '../../lib/audit.js';
import type { Catalog } from './catalog.js';
import { checkContext, Invalid } from './fieldtypes.js';
import { vaultError } from './vault.errors.js';
import { countLive, lookupHashes } from './vault.repo.js';
import { coreOf, type OpenedSubjects, openMany, openOneSubject, type Vault } from './vault.service.js';

export {
  type Catalog,
  createCatalog,
  DEFAULT_FIELDS,
  defaultCatalog,
  type Field,
  type FieldDef,
  type FieldSpec,
  loadCatalog,
  type MaskSpec,
  parseCatalogFile,
} from './catalog.js';
export { type Category, FIELD_TYPES, type FieldTypeName, type Sensitivity } from './fieldtypes.js';
export {
  type ImportOptions,
  type ImportProgress,
  type ImportResult,
  importSubjects,
  type RowProblem,
} from './import.js';
export { keyVersionCounts, type RotateOptions, type RotateResult, rotateKeys } from './rotate.js';
export { registerVaultCommands } from './vault.commands.js';
export { VAULT_ERRORS, type VaultErrorCode, vaultError } from './vault.errors.js';
export {
  type CreateOptions,
  createVault,
  type MutationOptions,
  type OpenedSubjects,
  type SubjectInput,
  type SubjectMeta,
  type Vault,
  type VaultDeps,
} from './vault.service.js';

/**
 * INTERNAL — access module only. Decrypts `fields` of one subject inside the caller's transaction
 * (so the ledger entry for the read commits with it). Fields without a value are absent from the
 * result. Throws VAULT_SUBJECT_NOT_FOUND, VAULT_SUBJECT_ERASED (crypto-shredded) or
 * VAULT_FIELD_UNKNOWN.
 */
export function openSubjectFields(
  vault: Vault,
  trx: DbExecutor,
  subjectId: string,
  fields: readonly string[],
): Promise<Record<string, string>> {
  return openOneSubject(coreOf(vault), trx, subjectId, fields);
}

/**
 * INTERNAL — access module only. The bulk form for exports: one query per table for many subjects;
 * erased and unknown ids are listed instead of failing the whole call.
 */
export function openSubjectsFields(
  vault: Vault,
  trx: DbExecutor,
  subjectIds: readonly string[],
  fields: readonly string[],
): Promise<OpenedSubjects> {
  return openMany(coreOf(vault), trx, subjectIds, fields);
}

/** The field's mask over a normalised value (what openSubjectFields returns), for masked views. */
export function maskValue(catalog: Catalog, field: string, value: string): string {
  const f = catalog.field(field);
  if (!f) throw vaultError('VAULT_FIELD_UNKNOWN');
  return f.maskValue(value);
}

/**
 * Bulk blind-index lookup (the trace module matches leaked rows with it): each value is normalised
 * by the field's type (a mobile with spaces or +86, an ID number in lower case), hashed under the
 * blind-index key and looked up, without decrypting anything. Returns input value → subject ids
 * (sorted); values that do not normalise, or match nobody, are absent.
 */
export async function lookupMany(
  vault: Vault,
  field: string,
  values: readonly string[],
): Promise<Map<string, string[]>> {
  const core = coreOf(vault);
  const f = core.catalog.field(field);
  if (!f) throw vaultError('VAULT_FIELD_UNKNOWN');
  if (!f.searchable) throw vaultError('VAULT_FIELD_NOT_SEARCHABLE', { details: { field } });
  const ctx = checkContext(core.clock.now());
  // Raw variants of one value (+86 138…, 138 …) normalise alike: each distinct normalised value is
  // hashed and looked up once.
  const byNormal = new Map<string, string[]>();
  for (const value of values) {
    const v = f.check(value, ctx);
    if (v instanceof Invalid) continue;
    const inputs = byNormal.get(v);
    if (inputs) inputs.push(value);
    else byNormal.set(v, [value]);
  }
  const byHash = new Map<string, string[]>();
  const hashes: Buffer[] = [];
  for (const [v, inputs] of byNormal) {
    const h = core.hash(field, v);
    byHash.set(h.toString('latin1'), inputs);
    hashes.push(h);
  }
  const out = new Map<string, string[]>();
  for (const { hash, subjectId } of await lookupHashes(core.db, field, hashes)) {
    for (const value of byHash.get(hash.toString('latin1')) ?? []) {
      const ids = out.get(value);
      if (ids) ids.push(subjectId);
      else out.set(value, [subjectId]);
    }
  }
  for (const ids of out.values()) ids.sort();
  return out;
}

/** Live (not erased) subjects in the vault, canaries included. */
export function countLiveSubjects(vault: Vault): Promise<number> {
  return countLive(coreOf(vault).db);
}
