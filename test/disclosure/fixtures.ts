import { readFileSync } from 'node:fs';
import type { DialectName } from '../../src/db/index.js';
import { createConsent } from '../../src/modules/consent/index.js';
import { createDetect } from '../../src/modules/detect/index.js';
import {
  type CanaryConfig,
  type CanaryVault,
  createDisclosure,
  type DisclosureDeps,
  type DisclosureReader,
} from '../../src/modules/disclosure/index.js';
import { compilePolicy, defaultPolicyFile } from '../../src/modules/policy/index.js';
import { type CustomerRecord, customersCsv, generateCustomers } from '../../src/modules/sim/index.js';
import {
  createVault,
  defaultCatalog,
  importSubjects,
  lookupMany,
  openSubjectsFields,
} from '../../src/modules/vault/index.js';
import { baseSetup } from '../consent/fixtures.js';

/** Canaries of the test organisation: the defaults (1–3 per export, drawn from the CSPRNG). */
export const CANARY_CONFIG: CanaryConfig = {};

/** The vault as the canaries see it (what the composition root wires). */
export function canaryVaultOf(vault: ReturnType<typeof createVault>): CanaryVault {
  return {
    catalog: vault.catalog,
    createMany: (inputs, o) => vault.createMany(inputs, { trx: o.trx, by: o.actor ?? null }),
    taken: async (field, values) =>
      vault.catalog.field(field)?.searchable
        ? new Set((await lookupMany(vault, field, values)).keys())
        : new Set(),
  };
}

/** A small deterministic PRNG (mulberry32) for canary counts and positions. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The test reader: what the access module provides in production (decide, decrypt, record),
 * reduced to the decryption, over the real vault. openSubjectsFields is allowed in tests only.
 */
export function vaultReader(vault: ReturnType<typeof createVault>): DisclosureReader {
  return async (trx, req) => (await openSubjectsFields(vault, trx, req.subjectIds, req.fields)).values;
}

/** The default (guarded) policy, whose `disclose:` grants the tests release under. */
export const DEFAULT_POLICY = compilePolicy(readFileSync(defaultPolicyFile(), 'utf8'));

/** Releasers under the default policy: the privacy office (no assignment, 250,000 a day). */
export const OFFICER = { id: 'act_pm', roles: ['privacy_officer'] } as const;

export async function disclosureSetup(
  dialect: DialectName,
  opts: Partial<Pick<DisclosureDeps, 'transferCaps' | 'jurisdiction'>> & {
    canaries?: Partial<CanaryConfig>;
  } = {},
) {
  const base = await baseSetup(dialect);
  const { d, clock, keyring, record } = base;
  const consent = createConsent({ db: d.db, dialect, clock, keyring, record });
  const vault = createVault({ db: d.db, dialect, keyring, catalog: defaultCatalog, clock, record });
  const detect = createDetect({ db: d.db, clock, record });
  const read = vaultReader(vault);
  // The active policy: the default, or one a test sets.
  let active = DEFAULT_POLICY;
  const setPolicy = (text: string) => {
    active = compilePolicy(text);
  };
  // The real assignments (actors module), as the composition root wires them.
  const { actors } = base;
  const assignedAmong: DisclosureDeps['assignedAmong'] = async (actorId, subjectIds, at, ex) => {
    const live = await actors.assignedAmong(
      subjectIds.map((subjectId) => ({ actorId, subjectId })),
      at,
      ex,
    );
    return new Set(subjectIds.filter((s) => live.has(`${actorId}\0${s}`)));
  };
  const make = (over: Partial<DisclosureDeps> = {}) =>
    createDisclosure({
      db: d.db,
      dialect,
      clock,
      keyring,
      record,
      consent,
      detect,
      read,
      policy: async () => active,
      assignedAmong,
      vault: canaryVaultOf(vault),
      canaries: { ...CANARY_CONFIG, ...(opts.canaries ?? {}) },
      random: seededRandom(42),
      sensitiveFields: ['id_number'],
      ...(opts.transferCaps ? { transferCaps: opts.transferCaps } : {}),
      ...(opts.jurisdiction ? { jurisdiction: opts.jurisdiction } : {}),
      ...over,
    });
  const disclosure = make();

  /**
   * Customers from the sim generator, imported into the vault through its CSV import (which
   * rejects the few generated values it does not accept); the first `count` imported are returned,
   * in generation order.
   */
  let next = 0;
  async function customers(count: number): Promise<{ ids: string[]; records: Map<string, CustomerRecord> }> {
    const want = Math.ceil(count * 1.2) + 10;
    const recs = [
      ...generateCustomers({
        seed: 'custodian-tests',
        count: want,
        start: next,
      }),
    ];
    next += want;
    await importSubjects(
      vault,
      customersCsv({
        seed: 'custodian-tests',
        count: want,
        start: next - want,
      }),
    );
    const byExt = await vault.resolveExternalIds(recs.map((r) => r.external_id));
    const picked = recs.filter((r) => byExt.has(r.external_id)).slice(0, count);
    if (picked.length < count) throw new Error('the vault rejected too many generated customers');
    const ids = picked.map((r) => byExt.get(r.external_id)!);
    return { ids, records: new Map(picked.map((r, i) => [ids[i]!, r])) };
  }

  return { ...base, consent, vault, detect, read, setPolicy, disclosure, make, customers };
}
