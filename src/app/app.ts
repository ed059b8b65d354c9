import type { Principal } from '../lib/http/index.js';
import { type Access, accessRoutes, createAccess } from '../modules/access/index.js';
import { type Actors, actorsRoutes, createActors, toPrincipal } from '../modules/actors/index.js';
import { type Consent, consentRoutes, createConsent } from '../modules/consent/index.js';
import { createDetect, type Detect, detectRoutes } from '../modules/detect/index.js';
import { createDisclosure, type DisclosureService, disclosureRoutes } from '../modules/disclosure/index.js';
import { createLedger, type Ledger, ledgerRoutes } from '../modules/ledger/index.js';
import { createPolicyService, type PolicyService, policyRoutes } from '../modules/policy/index.js';
import { createVault, loadCatalog, type Vault } from '../modules/vault/index.js';
import type { RouteDef } from './http/index.js';
import type { Infra } from './infra.js';
import { createRateLimiter } from './ratelimit.js';

/**
 * The composition root: the one place that knows every module and wires their deps. Modules never
 * import each other's internals or this file; they receive what they need here. Every module's
 * administrative events and every access decision go to the same ledger, in the caller's
 * transaction (`ledger.append`).
 */
export interface Services {
  ledger: Ledger;
  vault: Vault;
  actors: Actors;
  policy: PolicyService;
  consent: Consent;
  detect: Detect;
  access: Access;
  disclosure: DisclosureService;
}

export interface App extends Infra, Services {
  routes: RouteDef<any, any, any, any>[];
  authenticate(token: string): Promise<Principal | undefined>;
  rateLimit(principal: Principal): void;
  /** Background work for a long-running server: the ledger sequencer and checkpoint cadence. */
  startBackground(): void;
  close(): Promise<void>;
}

export interface AppOptions {
  /** Sequencer cadence for `startBackground` (ms). */
  integrateEveryMs?: number;
  checkpointEveryMs?: number;
  /** Detection worker cadence for `startBackground` (ms). */
  detectEveryMs?: number;
}

export async function createApp(infra: Infra, options: AppOptions = {}): Promise<App> {
  const { database, keyring, clock, config, logger } = infra;
  const { db, dialect } = database;
  const ledger = createLedger({ db, dialect, keyring, origin: config.ledgerOrigin, clock, logger });
  const record = ledger.append;
  const catalog = loadCatalog(config.catalogFile);
  const vault = createVault({ db, dialect, keyring, catalog, clock, record });
  const actors = createActors({
    db,
    dialect,
    clock,
    record,
    resolveSubjects: (ids) => vault.resolveExternalIds(ids),
  });
  const consent = createConsent({
    db,
    dialect,
    clock,
    keyring,
    record,
    lookup: (field, value) => vault.lookup(field, value),
    knownSubjects: (ex, ids) => vault.knownSubjects(ex, ids),
  });
  const policy = createPolicyService({
    db,
    dialect,
    clock,
    record,
    ...(config.policyFile ? { policyFile: config.policyFile } : {}),
    isAssigned: (actorId, subjectId, at, ex) => actors.isAssigned(actorId, subjectId, at, ex),
    hasConsent: async (subjectId, purpose, recipient, ex) => {
      const executor = ex ?? db;
      const at = clock.now();
      const check = (recipientId: string | null) =>
        consent.hasConsent(executor, { subjectId, purpose, recipientId, at });
      if (!recipient) return check(null);
      if (await check(recipient)) return true;
      // A partner reading with its own API key: consent names the recipient the partner actor is.
      for (const r of await disclosureRef!.recipientsOfActor(recipient, executor))
        if (await check(r.id)) return true;
      return false;
    },
    // Batch forms for the read path's group-committed batches (one query per batch, not per read).
    assignedAmong: (pairs, at, ex) => actors.assignedAmong(pairs, at, ex),
    consentedAmong: async (subjectIds, purpose, recipient, at, ex) => {
      const executor = ex ?? db;
      const ok = await consent.consentedSubjects(executor, subjectIds, purpose, recipient ?? null, at);
      if (!recipient) return ok;
      // As in hasConsent: a partner actor's consent names the recipient the partner actor is.
      for (const r of await disclosureRef!.recipientsOfActor(recipient, executor)) {
        const rest = subjectIds.filter((s) => !ok.has(s));
        if (rest.length === 0) break;
        for (const s of await consent.consentedSubjects(executor, rest, purpose, r.id, at)) ok.add(s);
      }
      return ok;
    },
  });
  await policy.init();
  const detect = createDetect({
    db,
    clock,
    record,
    assignedAmong: (pairs, at, ex) => actors.assignedAmong(pairs, at, ex),
    consentedAmong: async (subjectIds, purpose, recipient, at, ex) => {
      const ok = await consent.consentedSubjects(ex, subjectIds, purpose, recipient, at);
      if (!recipient) return ok;
      for (const r of await disclosureRef!.recipientsOfActor(recipient, ex)) {
        const rest = subjectIds.filter((s) => !ok.has(s));
        if (rest.length === 0) break;
        for (const s of await consent.consentedSubjects(ex, rest, purpose, r.id, at)) ok.add(s);
      }
      return ok;
    },
    policyText: () => {
      const p = policy.current();
      return p ? { hash: p.hash, text: p.text } : undefined;
    },
  });
  await detect.init();
  // Late-bound: disclosure needs access (the reader) and access needs disclosure (canary check).
  let disclosureRef: DisclosureService | undefined;
  const access = createAccess({
    db,
    clock,
    keyring,
    vault,
    policy,
    record,
    detect,
    guard: detect,
    isCanary: (ex, subjectId) => disclosureRef!.canaries.isCanary(ex, subjectId),
    // A contact token resolves only while the actor it was issued to may still see the field.
    principalOf: async (id) => {
      const a = await actors.get(id).catch(() => undefined);
      return a && a.status === 'active' ? toPrincipal(a) : undefined;
    },
  });
  const disclosure = createDisclosure({
    db,
    dialect,
    clock,
    keyring,
    record,
    consent,
    detect,
    read: (trx, req) => access.readForDisclosure(trx, req),
    vault: {
      catalog: vault.catalog,
      createMany: (inputs, o) => vault.createMany(inputs, { trx: o.trx, by: o.actor ?? null }),
    },
    canaries: {
      mobilePool: { prefix: config.canaryMobilePrefix },
      emailDomain: config.canaryEmailDomain,
    },
    jurisdiction: config.jurisdiction,
    sensitiveFields: catalog.fields.filter((f) => f.sensitivity === 'sensitive').map((f) => f.name),
  });
  disclosureRef = disclosure;

  const routes = [
    ...accessRoutes({
      access,
      vault,
      myAssignments: async (actorId, limit) =>
        (await actors.assignments({ actor: actorId, limit })).map((a) => a.subjectId),
    }),
    ...actorsRoutes({ actors }),
    ...policyRoutes({ policy }),
    ...ledgerRoutes({ ledger }),
    ...consentRoutes({ consent }),
    ...disclosureRoutes({ disclosure }),
    ...detectRoutes({
      detect,
      prove: async (leafHash) => {
        const size = await ledger.size();
        const p = await ledger.inclusionProof({ leafHash, size });
        return { index: p.index, size, proof: p.proof };
      },
      actorExists: async (id) => Boolean(await actors.get(id).catch(() => undefined)),
    }),
  ];
  const rateLimit = createRateLimiter(clock);
  let background = false;
  let detectTimer: ReturnType<typeof setInterval> | undefined;

  return {
    ...infra,
    ledger,
    vault,
    actors,
    policy,
    consent,
    detect,
    access,
    disclosure,
    routes,
    authenticate: (token) => actors.authenticate(token),
    rateLimit,
    startBackground() {
      background = true;
      ledger.startSequencer({
        intervalMs: options.integrateEveryMs ?? 200,
        checkpointIntervalMs: options.checkpointEveryMs ?? 10_000,
      });
      // Detection's worker: day-end detectors and the daily counts, every few seconds.
      detectTimer = setInterval(() => {
        detect.tick().catch((e) => logger.error({ err: (e as Error).name }, 'detect tick failed'));
      }, options.detectEveryMs ?? 5_000);
      detectTimer.unref?.();
    },
    async close() {
      await access.drain();
      if (detectTimer) clearInterval(detectTimer);
      await detect.flush().catch(() => {});
      if (background) await ledger.stop();
      else await ledger.integrate();
      await database.close();
    },
  };
}
