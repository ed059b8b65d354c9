import type { Kysely } from 'kysely';
import { type DialectName, isUniqueViolation } from '../../db/index.js';
import { type AuditEvent, type DbExecutor, type Recorder, requireRecorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
// Bulk form of newDataKey + wrapDataKey + sealField (same layouts), added to src/lib/crypto for import.
import {
  blindIndexer,
  type Keyring,
  openField,
  sealField,
  sealNewSubject,
  unwrapDataKey,
} from '../../lib/crypto/index.js';
import { isAppError } from '../../lib/errors.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import type { Catalog } from './catalog.js';
import { decodeEntries, type Entry, encodeEntries } from './entries.js';
import { type CheckContext, checkContext, Invalid } from './fieldtypes.js';
import { FINGERPRINT_FIELD } from './importrows.js';
import { KeyState } from './keystate.js';
import { canonicalRecord, checkFields, externalIdProblem, type FieldProblem } from './records.js';
import { type VaultErrorCode, vaultError } from './vault.errors.js';
import * as repo from './vault.repo.js';
import { INDEX_COLUMNS, SUBJECT_COLUMNS, type SubjectRow } from './vault.tables.js';

export interface VaultDeps {
  db: Kysely<any>;
  dialect: DialectName;
  keyring: Keyring;
  catalog: Catalog;
  clock: Clock;
  /** Subject ids; `randomId` (`sub_` + 128 random bits) unless a test fixes them. */
  ids?: IdSource;
  /** When given, administrative events are appended in the same transaction as the change. */
  record: Recorder;
}

export interface SubjectInput {
  /**
   * The organisation's key for the person (not PI: see externalIdProblem). When absent the
   * subject's own id is used, so every subject has one.
   */
  externalId?: string | undefined;
  fields: Readonly<Record<string, string | null | undefined>>;
}

/** What may be said about a subject without reading PI: ids, times and which fields are held. */
export interface SubjectMeta {
  id: string;
  externalId: string;
  createdAt: string;
  updatedAt: string;
  erasedAt: string | null;
  erased: boolean;
  /** Names of the fields that hold a value (sealed), sorted. */
  fields: string[];
}

export interface MutationOptions {
  /** Recorded as the event's actor; null (the default) is the system or the operator at the CLI. */
  by?: string | null;
}

export interface CreateOptions extends MutationOptions {
  /** Run inside the caller's transaction (e.g. canaries created with the export that holds them). */
  trx?: DbExecutor;
}

export interface Vault {
  readonly catalog: Catalog;
  create(input: SubjectInput, options?: CreateOptions): Promise<SubjectMeta>;
  /** All or nothing, in one transaction (the caller's when `trx` is given). */
  createMany(inputs: readonly SubjectInput[], options?: CreateOptions): Promise<SubjectMeta[]>;
  /** Sets fields to new values; null removes a field. */
  update(
    subjectId: string,
    fields: Readonly<Record<string, string | null | undefined>>,
    options?: MutationOptions,
  ): Promise<SubjectMeta>;
  /** Subject ids whose `field` equals `value` once normalised (blind index; no decryption). */
  lookup(field: string, value: string): Promise<string[]>;
  get(subjectId: string): Promise<SubjectMeta>;
  findByExternalId(externalId: string): Promise<SubjectMeta | undefined>;
  /** Crypto-shredding; idempotent. */
  erase(subjectId: string, options?: MutationOptions): Promise<SubjectMeta>;
  /** External id → subject id for the live (not erased) subjects among `externalIds`. */
  resolveExternalIds(externalIds: readonly string[]): Promise<Map<string, string>>;
  /** Which of these subject ids exist (erased ones included: their ids stay valid references). */
  knownSubjects(db: DbExecutor, subjectIds: readonly string[]): Promise<Set<string>>;
}

/** What the import, rotation and the internal read path share with the service. */
export interface VaultCore {
  readonly db: Kysely<any>;
  readonly dialect: DialectName;
  readonly catalog: Catalog;
  readonly clock: Clock;
  readonly ids: IdSource;
  /** True when the caller injected `ids` (a worker thread could not use them). */
  readonly customIds: boolean;
  readonly record: Recorder;
  readonly keys: KeyState;
  /** HMAC-SHA-256 under the per-field blind-index key. */
  readonly hash: (field: string, normalised: string) => Buffer;
}

const cores = new WeakMap<Vault, VaultCore>();

export function coreOf(vault: Vault): VaultCore {
  const core = cores.get(vault);
  if (!core) throw new Error('not a vault created by createVault');
  return core;
}

function fail(code: string, details?: Record<string, unknown>): Error {
  return vaultError(code as VaultErrorCode, details ? { details } : {});
}

/** A field problem's details: where it is, and the field's name only when the catalog's. */
function problemDetails(p: FieldProblem): Record<string, unknown> {
  return { position: p.position, ...(p.field !== undefined ? { field: p.field } : {}) };
}

// --- rows for new subjects ------------------------------------------------------------------------

/** Flat parameter arrays for the subjects' rows and their blind-index entries (writeNew). */
export interface NewRows {
  subjects: unknown[];
  index: unknown[];
  ids: string[];
}

export function newRows(): NewRows {
  return { subjects: [], index: [], ids: [] };
}

/**
 * Adds one new subject's row to `out`: its data key wrapped under the current KEK, its sealed
 * fields and its blind-index entries. `names`, `sealed` and `hashes` are aligned (hash null for a
 * field that is not searchable).
 */
export function appendNew(
  out: NewRows,
  s: {
    id: string;
    externalId: string;
    now: string;
    fingerprint: Buffer;
    kekVersion: number;
    wrapped: Buffer;
    names: readonly string[];
    sealed: readonly Buffer[];
    hashes: readonly (Buffer | null)[];
  },
): void {
  const fields: Entry[] = new Array(s.names.length);
  const keys: Entry[] = [];
  for (let i = 0; i < s.names.length; i++) {
    const name = s.names[i]!;
    fields[i] = { name, value: s.sealed[i]! };
    const h = s.hashes[i];
    if (h) {
      keys.push({ name, value: h });
      out.index.push(name, h, s.id);
    }
  }
  out.ids.push(s.id);
  out.subjects.push(
    s.id,
    s.externalId,
    s.now,
    s.now,
    null,
    s.fingerprint,
    s.kekVersion,
    s.wrapped,
    encodeEntries(fields),
    encodeEntries(keys),
  );
}

/**
 * Seals one new subject into `out`: a fresh data key wrapped under the current KEK, each field
 * sealed under it, blind-index hashes for searchable fields and the record fingerprint.
 * `names`/`values` are aligned and hold only fields with a value.
 */
export function sealNew(
  core: VaultCore,
  ring: Keyring,
  out: NewRows,
  id: string,
  externalId: string,
  now: string,
  names: readonly string[],
  values: readonly string[],
  fingerprint: Buffer,
): void {
  const { key, sealed } = sealNewSubject(ring, id, names, values);
  appendNew(out, {
    id,
    externalId,
    now,
    fingerprint,
    kekVersion: key.kekVersion,
    wrapped: key.wrapped,
    names,
    sealed,
    hashes: names.map((n, i) => (core.catalog.field(n)?.searchable ? core.hash(n, values[i]!) : null)),
  });
}

export async function writeNew(trx: DbExecutor, rows: NewRows): Promise<void> {
  if (rows.ids.length === 0) return;
  await repo.insertFlat(trx, 'subjects', SUBJECT_COLUMNS, rows.subjects);
  if (rows.index.length > 0) await repo.insertFlat(trx, 'blind_index', INDEX_COLUMNS, rows.index);
}

export function fingerprintOf(core: VaultCore, values: ReadonlyMap<string, string>): Buffer {
  return core.hash(FINGERPRINT_FIELD, canonicalRecord(values));
}

/** The ledger caps an attribute array at 1,024 values: larger id lists go out as several events. */
const MAX_IDS_PER_EVENT = 1000;

function splitIds(e: AuditEvent): AuditEvent[] {
  const ids = e.attrs?.subjects;
  if (!Array.isArray(ids) || ids.length <= MAX_IDS_PER_EVENT) return [e];
  const out: AuditEvent[] = [];
  for (let i = 0; i < ids.length; i += MAX_IDS_PER_EVENT) {
    const part = ids.slice(i, i + MAX_IDS_PER_EVENT);
    out.push({ ...e, attrs: { ...e.attrs, count: part.length, subjects: part } });
  }
  return out;
}

export async function recordEvents(trx: DbExecutor, core: VaultCore, events: AuditEvent[]): Promise<void> {
  if (events.length > 0) await core.record(trx, events.flatMap(splitIds));
}

// --- reading (the access module's door: see openSubjectFields in index.ts) -------------------------

export function unwrapFor(core: VaultCore, subjectId: string, kekVersion: number, wrapped: Buffer): Buffer {
  const ring = core.keys.forVersion(kekVersion);
  try {
    return unwrapDataKey(ring, subjectId, { kekVersion, wrapped });
  } catch (e) {
    throw vaultError('VAULT_DECRYPT_FAILED', { cause: e, details: { subjectId } });
  }
}

function openOne(dataKey: Buffer, subjectId: string, field: string, ciphertext: Buffer): string {
  try {
    return openField(dataKey, subjectId, field, ciphertext);
  } catch (e) {
    throw vaultError('VAULT_DECRYPT_FAILED', { cause: e, details: { subjectId, field } });
  }
}

function checkFieldNames(core: VaultCore, fields: readonly string[]): void {
  fields.forEach((f, position) => {
    if (!core.catalog.field(f)) throw fail('VAULT_FIELD_UNKNOWN', { position });
  });
}

export interface OpenedSubjects {
  /** Subject id → field → plaintext (normalised) value, for the fields that hold one. */
  values: Map<string, Record<string, string>>;
  erased: string[];
  missing: string[];
}

/** A live subject's sealed fields, or VAULT_DECRYPT_FAILED when the stored list is malformed. */
function sealedEntries(subjectId: string, sealed: Buffer): Entry[] {
  const entries = decodeEntries(sealed);
  if (!entries) throw vaultError('VAULT_DECRYPT_FAILED', { details: { subjectId } });
  return entries;
}

export async function openMany(
  core: VaultCore,
  trx: DbExecutor,
  subjectIds: readonly string[],
  fields: readonly string[],
): Promise<OpenedSubjects> {
  checkFieldNames(core, fields);
  const keyed = await repo.getKeyedSubjects(trx, subjectIds);
  const byId = new Map(keyed.map((k) => [k.id, k]));
  const out: OpenedSubjects = { values: new Map(), erased: [], missing: [] };
  const wanted = new Set(fields);
  for (const id of subjectIds) {
    const k = byId.get(id);
    if (!k) {
      out.missing.push(id);
      continue;
    }
    // A row without its key is a shredded subject even if the erasure mark was never written.
    if (k.erased_at !== null || k.kek_version === null || k.wrapped_key === null || k.sealed === null) {
      out.erased.push(id);
      continue;
    }
    if (out.values.has(id)) continue;
    const values: Record<string, string> = {};
    if (wanted.size > 0) {
      const entries = sealedEntries(id, k.sealed);
      const dataKey = unwrapFor(core, id, k.kek_version, k.wrapped_key);
      try {
        for (const e of entries)
          if (wanted.has(e.name)) values[e.name] = openOne(dataKey, id, e.name, e.value);
      } finally {
        dataKey.fill(0);
      }
    }
    out.values.set(id, values);
  }
  return out;
}

export async function openOneSubject(
  core: VaultCore,
  trx: DbExecutor,
  subjectId: string,
  fields: readonly string[],
): Promise<Record<string, string>> {
  const r = await openMany(core, trx, [subjectId], fields);
  // The caller's id is not repeated: it may be anything a caller sent (a mobile in a path).
  if (r.missing.length > 0) throw fail('VAULT_SUBJECT_NOT_FOUND');
  if (r.erased.length > 0) throw fail('VAULT_SUBJECT_ERASED');
  return r.values.get(subjectId)!;
}

// --- the service ------------------------------------------------------------------------------------

/** Names of the fields a row holds (none once erased), sorted. */
function heldFields(row: repo.SubjectWithFields): string[] {
  return row.sealed === null ? [] : sealedEntries(row.id, row.sealed).map((e) => e.name);
}

function meta(row: SubjectRow, fields: string[]): SubjectMeta {
  return {
    id: row.id,
    externalId: row.external_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    erasedAt: row.erased_at,
    erased: row.erased_at !== null,
    fields,
  };
}

export function createVault(deps: VaultDeps): Vault {
  requireRecorder(deps.record, 'createVault');
  const index = blindIndexer(deps.keyring);
  const core: VaultCore = {
    db: deps.db,
    dialect: deps.dialect,
    catalog: deps.catalog,
    clock: deps.clock,
    ids: deps.ids ?? randomId,
    customIds: deps.ids !== undefined,
    record: deps.record,
    keys: new KeyState(deps.keyring),
    hash: index,
  };
  const { db, catalog } = core;
  // Today's date only changes daily; building it is most of a lookup's own CPU time otherwise.
  let ctxDay = Number.NaN;
  let ctxCached: CheckContext | undefined;
  const ctx = (): CheckContext => {
    const now = core.clock.now();
    const day = Math.floor(now.getTime() / 86_400_000);
    if (day !== ctxDay || !ctxCached) {
      ctxDay = day;
      ctxCached = checkContext(now);
    }
    return ctxCached;
  };

  async function createMany(
    inputs: readonly SubjectInput[],
    options: CreateOptions = {},
  ): Promise<SubjectMeta[]> {
    if (inputs.length === 0) return [];
    const c = ctx();
    const seen = new Set<string>();
    const prepared = inputs.map((input, i) => {
      const id = core.ids('sub');
      const externalId = input.externalId ?? id;
      const problem = externalIdProblem(externalId);
      if (problem) throw fail(problem, { index: i });
      if (seen.has(externalId)) throw fail('VAULT_EXTERNAL_ID_TAKEN', { index: i });
      seen.add(externalId);
      const checked = checkFields(catalog, c, input.fields);
      if ('code' in checked) throw fail(checked.code, { index: i, ...problemDetails(checked) });
      if (checked.set.size === 0) throw fail('VAULT_NO_FIELDS', { index: i });
      return { id, externalId, values: checked.set };
    });
    const now = core.clock.now().toISOString();
    const ring = core.keys.current();
    const rows = newRows();
    for (const p of prepared) {
      sealNew(
        core,
        ring,
        rows,
        p.id,
        p.externalId,
        now,
        [...p.values.keys()],
        [...p.values.values()],
        fingerprintOf(core, p.values),
      );
    }
    const write = async (trx: DbExecutor): Promise<void> => {
      const existing = await repo.findByExternalIds(
        trx,
        prepared.map((p) => p.externalId),
      );
      if (existing.length > 0) throw fail('VAULT_EXTERNAL_ID_TAKEN', { count: existing.length });
      await writeNew(trx, rows);
      await recordEvents(trx, core, [
        {
          kind: 'subject.created',
          actor: options.by ?? null,
          attrs: { count: rows.ids.length, subjects: rows.ids },
        },
      ]);
    };
    try {
      if (options.trx) await write(options.trx);
      else await db.transaction().execute(write);
    } catch (e) {
      // Another writer took one of the external ids between our check and our insert.
      if (!isAppError(e) && isUniqueViolation(e)) throw vaultError('VAULT_EXTERNAL_ID_TAKEN', { cause: e });
      throw e;
    }
    return prepared.map((p) => ({
      id: p.id,
      externalId: p.externalId,
      createdAt: now,
      updatedAt: now,
      erasedAt: null,
      erased: false,
      fields: [...p.values.keys()].sort(),
    }));
  }

  async function update(
    subjectId: string,
    fields: Readonly<Record<string, string | null | undefined>>,
    options: MutationOptions = {},
  ): Promise<SubjectMeta> {
    const checked = checkFields(catalog, ctx(), fields);
    if ('code' in checked) throw fail(checked.code, problemDetails(checked));
    if (checked.set.size === 0 && checked.unset.length === 0) throw fail('VAULT_NO_FIELDS');
    const now = core.clock.now().toISOString();
    return db.transaction().execute(async (trx) => {
      const row = await repo.getSubject(trx, subjectId, core.dialect);
      if (!row) throw fail('VAULT_SUBJECT_NOT_FOUND');
      if (row.erased_at) throw fail('VAULT_SUBJECT_ERASED');
      const updated = await applyUpdate(trx, core, subjectId, checked.set, checked.unset, now);
      const changed = updated?.changed ?? [];
      await recordEvents(trx, core, [
        {
          kind: 'subject.updated',
          actor: options.by ?? null,
          subject: subjectId,
          attrs: { fields: changed },
        },
      ]);
      // Without unlessFingerprint, applyUpdate always writes and says what the row holds now.
      return meta({ ...row, updated_at: now }, updated!.held);
    });
  }

  const vault: Vault = {
    catalog,
    create: async (input, options) => (await createMany([input], options))[0]!,
    createMany,
    update,
    async lookup(field, value) {
      const f = catalog.field(field);
      if (!f) throw fail('VAULT_FIELD_UNKNOWN');
      if (!f.searchable) throw fail('VAULT_FIELD_NOT_SEARCHABLE', { field });
      const v = f.check(value, ctx());
      if (v instanceof Invalid) throw fail(v.code, { field });
      return repo.lookupHash(db, field, core.hash(field, v));
    },
    async get(subjectId) {
      const row = await repo.getSubject(db, subjectId);
      if (!row) throw fail('VAULT_SUBJECT_NOT_FOUND');
      return meta(row, heldFields(row));
    },
    async findByExternalId(externalId) {
      const row = await repo.getSubjectByExternalId(db, externalId);
      return row ? meta(row, heldFields(row)) : undefined;
    },
    async erase(subjectId, options = {}) {
      return db.transaction().execute(async (trx) => {
        const row = await repo.getSubject(trx, subjectId, core.dialect);
        if (!row) throw fail('VAULT_SUBJECT_NOT_FOUND');
        if (!row.erased_at) {
          const at = core.clock.now().toISOString();
          await repo.shred(trx, subjectId, at);
          await recordEvents(trx, core, [
            { kind: 'subject.erased', actor: options.by ?? null, subject: subjectId },
          ]);
          return meta({ ...row, erased_at: at, updated_at: at }, []);
        }
        return meta(row, heldFields(row));
      });
    },
    async resolveExternalIds(externalIds) {
      const rows = await repo.findByExternalIds(db, [...new Set(externalIds)]);
      return new Map(rows.filter((r) => r.erased_at === null).map((r) => [r.external_id, r.id]));
    },
    async knownSubjects(executor, subjectIds) {
      return new Set(await repo.existingIds(executor, [...new Set(subjectIds)]));
    },
  };
  cores.set(vault, core);
  return vault;
}

/**
 * Sets and removes fields of a live subject under its existing data key, and refreshes its
 * fingerprint (which needs the values it keeps, so those are opened). Returns the changed names
 * and the names the row holds afterwards, both sorted.
 */
export async function applyUpdate(
  trx: DbExecutor,
  core: VaultCore,
  subjectId: string,
  set: ReadonlyMap<string, string>,
  unset: readonly string[],
  now: string,
  /** When the merged record's fingerprint equals this, nothing is written and null is returned. */
  unlessFingerprint?: Buffer | null,
): Promise<{ changed: string[]; held: string[] } | null> {
  const [k] = await repo.getKeyedSubjects(trx, [subjectId], core.dialect);
  if (!k || k.kek_version === null || k.wrapped_key === null || k.sealed === null)
    throw fail('VAULT_SUBJECT_ERASED', { subjectId });
  const present = sealedEntries(subjectId, k.sealed);
  const oldKeys = (k.lookup_keys && decodeEntries(k.lookup_keys)) || [];
  const dataKey = unwrapFor(core, subjectId, k.kek_version, k.wrapped_key);
  try {
    const gone = (f: string) => set.has(f) || unset.includes(f);
    const kept = present.filter((e) => !gone(e.name));
    const merged = new Map<string, string>();
    for (const e of kept) merged.set(e.name, openOne(dataKey, subjectId, e.name, e.value));
    for (const [f, v] of set) merged.set(f, v);
    for (const f of unset) merged.delete(f);
    if (merged.size === 0) throw fail('VAULT_NO_FIELDS', { subjectId });
    const fingerprint = fingerprintOf(core, merged);
    if (unlessFingerprint && fingerprint.equals(unlessFingerprint)) return null;
    const changed = [...set.keys(), ...unset.filter((f) => present.some((e) => e.name === f))];
    const fields: Entry[] = [...kept];
    const keys: Entry[] = oldKeys.filter((e) => !gone(e.name));
    const indexParams: unknown[] = [];
    for (const [f, v] of set) {
      fields.push({ name: f, value: sealField(dataKey, subjectId, f, v) });
      if (core.catalog.field(f)?.searchable) {
        const h = core.hash(f, v);
        keys.push({ name: f, value: h });
        indexParams.push(f, h, subjectId);
      }
    }
    await repo.deleteIndexEntries(
      trx,
      subjectId,
      oldKeys.filter((e) => gone(e.name)),
    );
    if (indexParams.length > 0) await repo.insertFlat(trx, 'blind_index', INDEX_COLUMNS, indexParams);
    await repo.writeRecord(trx, subjectId, {
      sealed: encodeEntries(fields),
      lookupKeys: encodeEntries(keys),
      updatedAt: now,
      fingerprint,
    });
    return { changed: changed.sort(), held: [...merged.keys()].sort() };
  } finally {
    dataKey.fill(0);
  }
}
