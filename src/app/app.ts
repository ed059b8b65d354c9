import type { FastifyRequest } from 'fastify';
import type { DbExecutor } from '../lib/audit.js';
import { isAppError } from '../lib/errors.js';
import { type Principal, permissionsFrom } from '../lib/http/index.js';
import { createGatewayFromConfig, type MessageGateway } from '../lib/messaging/index.js';
import { mobileSegments } from '../lib/synthetic/index.js';
import { type Access, accessRoutes, createAccess } from '../modules/access/index.js';
import { type Actors, actorsRoutes, createActors, toPrincipal } from '../modules/actors/index.js';
import { type Consent, consentRoutes, createConsent } from '../modules/consent/index.js';
import { createDetect, type Detect, detectRoutes } from '../modules/detect/index.js';
import {
  type CanaryVault,
  createCanaries,
  createDisclosure,
  type DisclosureService,
  disclosureRoutes,
  recipientsActingAs,
} from '../modules/disclosure/index.js';
import { createIncidents, type Incidents, incidentsRoutes } from '../modules/incidents/index.js';
import {
  createLedger,
  createLedgerProver,
  type Ledger,
  ledgerRoutes,
  signNote,
} from '../modules/ledger/index.js';
import { createPolicyService, type PolicyService, policyRoutes } from '../modules/policy/index.js';
import { createRights, loadRules, type Rights, rightsRoutes } from '../modules/rights/index.js';
import {
  createSessions,
  type Sessions,
  sessionAuthenticator,
  sessionRoutes,
} from '../modules/session/index.js';
import { createTrace, type Trace, traceRoutes } from '../modules/trace/index.js';
import {
  countLiveSubjects,
  createVault,
  loadCatalog,
  lookupHashed,
  lookupHasherInit,
  lookupMany,
  lookupToday,
  type Vault,
} from '../modules/vault/index.js';
import { type AttemptLog, createAttemptLog } from './attempts.js';
import type { RouteDef } from './http/index.js';
import type { Infra } from './infra.js';
import { createRateLimiter, DEFAULT_RATE_LIMITS, type RateLimiter } from './ratelimit.js';

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
  trace: Trace;
  /** The outside messaging system (SMS, mail): portal codes, breach notices. */
  messaging: MessageGateway;
  rights: Rights;
  incidents: Incidents;
  sessions: Sessions;
}

export interface App extends Infra, Services {
  routes: RouteDef<any, any, any, any>[];
  authenticate(token: string): Promise<Principal | undefined>;
  /** The console's session cookie (+ CSRF header on state-changing requests) → principal. */
  authenticateRequest(request: FastifyRequest): Promise<Principal | undefined>;
  /** Per-actor limits in subjects (docs/security.md); `rateLimit.wait` answers without charging. */
  rateLimit: RateLimiter;
  /** Refused attempts of authenticated actors, coalesced into access events (docs/access.md). */
  attempts: AttemptLog;
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
  /** The messaging gateway (tests pass a fake); default from CUSTODIAN_MESSAGING. */
  messaging?: MessageGateway;
}

/** The system actor that reads contact points to send breach notices (policy role breach_notifier). */
export const INCIDENT_NOTIFIER: Principal = {
  id: 'svc_incident_notifier',
  kind: 'service',
  roles: ['breach_notifier'],
  attributes: {},
};

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
    // Four-eyes on roles the policy lets read plain PI (policy is created below; asked at call time).
    plainRoles: (roles) => policy.plainRoles(roles),
    authCacheMs: config.authCacheMs,
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
  /**
   * Of `subjectIds`, those with consent for `purpose` to `recipient`. A partner reading with its own
   * API key: its consent names the recipient the partner actor is. One definition for the policy's
   * read path and detection's explanations.
   */
  const consentedAmong = async (
    subjectIds: readonly string[],
    purpose: string,
    recipient: string | null,
    at: Date,
    ex: DbExecutor,
  ): Promise<Set<string>> => {
    const ok = await consent.consentedSubjects(ex, subjectIds, purpose, recipient, at);
    if (!recipient) return ok;
    for (const r of await recipientsActingAs(ex, recipient)) {
      const rest = subjectIds.filter((s) => !ok.has(s));
      if (rest.length === 0) break;
      for (const s of await consent.consentedSubjects(ex, rest, purpose, r.id, at)) ok.add(s);
    }
    return ok;
  };
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
      for (const r of await recipientsActingAs(executor, recipient)) if (await check(r.id)) return true;
      return false;
    },
    // Batch forms for the read path's group-committed batches (one query per batch, not per read).
    assignedAmong: (pairs, at, ex) => actors.assignedAmong(pairs, at, ex),
    consentedAmong: (subjectIds, purpose, recipient, at, ex) =>
      consentedAmong(subjectIds, purpose, recipient ?? null, at, ex ?? db),
  });
  await policy.init();
  const detect = createDetect({
    db,
    clock,
    record,
    assignedAmong: (pairs, at, ex) => actors.assignedAmong(pairs, at, ex),
    consentedAmong,
    policyText: () => {
      const p = policy.current();
      return p ? { hash: p.hash, text: p.text } : undefined;
    },
  });
  await detect.init();
  /** The active policy, or undefined when none is loaded (disclosure routes and decisions). */
  const activePolicy = async (ex?: DbExecutor) => {
    try {
      return await policy.active(ex);
    } catch (e) {
      if (isAppError(e) && e.code === 'POLICY_NOT_LOADED') return undefined;
      throw e;
    }
  };
  // The canary registry comes before the read path (which asks it whether a subject is a canary)
  // and goes into the disclosure service (which plants canaries and reads through the read path).
  const canaryVault: CanaryVault = {
    catalog: vault.catalog,
    createMany: (inputs, o) => vault.createMany(inputs, { trx: o.trx, by: o.actor ?? null }),
    taken: async (field, values) =>
      catalog.field(field)?.searchable ? new Set((await lookupMany(vault, field, values)).keys()) : new Set(),
  };
  const canaries = createCanaries({ db, clock, keyring, record, detect, vault: canaryVault, config: {} });
  const access = createAccess({
    db,
    clock,
    keyring,
    vault,
    policy,
    record,
    detect,
    guard: detect,
    isCanary: (ex, subjectId) => canaries.isCanary(ex, subjectId),
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
    // A disclosure is a policy decision (ADR 0016): the active policy's `disclose:` grants, and
    // the actors module's assignments for the grants that require them.
    policy: (ex) => activePolicy(ex),
    assignedAmong: async (actorId, subjectIds, at, ex) => {
      const live = await actors.assignedAmong(
        subjectIds.map((subjectId) => ({ actorId, subjectId })),
        at,
        ex,
      );
      return new Set(subjectIds.filter((s) => live.has(`${actorId}\0${s}`)));
    },
    vault: canaryVault,
    canaryService: canaries,
    jurisdiction: config.jurisdiction,
    sensitiveFields: catalog.fields.filter((f) => f.sensitivity === 'sensitive').map((f) => f.name),
  });
  const trace = createTrace({
    db,
    clock,
    keyring,
    record,
    vault: {
      lookupMany: (field, values) => lookupMany(vault, field, values),
      lookupHashed: (field, hashes) => lookupHashed(vault, field, hashes),
      lookupHasherInit: () => lookupHasherInit(vault),
      lookupToday: () => lookupToday(vault),
      resolveExternalIds: (ids) => vault.resolveExternalIds(ids),
      countLive: () => countLiveSubjects(vault),
      fieldNames: catalog.names,
      searchable: catalog.fields.filter((f) => f.searchable).map((f) => f.name),
    },
    ledger: {
      integrate: () => ledger.integrate(),
      checkpoint: () => ledger.checkpoint(),
      inclusionProof: (q) => ledger.inclusionProof(q),
    },
    retentionDays: config.traceRetentionDays,
    // Canary mobiles are drawn from every allocated segment: guessing one is 1 in all of them.
    canarySpace: mobileSegments().length * 100_000_000,
  });
  const messaging = options.messaging ?? createGatewayFromConfig(config);
  const rights = createRights({
    db,
    clock,
    keyring,
    record,
    messaging,
    ledger,
    prover: createLedgerProver({ db }),
    lookup: (field, value) => vault.lookup(field, value),
    read: (principal, req) => access.read(principal, req),
    fields: vault.catalog.fields.map((f) => f.name),
    actorRoles: async (ids) => {
      const out = new Map<string, string[]>();
      for (const id of ids) {
        const a = await actors.get(id).catch(() => undefined);
        if (a) out.set(id, [...a.roles]);
      }
      return out;
    },
    consent,
    receivedBy: (subjectId) => disclosure.receivedBy(subjectId),
    erase: async (subjectId, by) => {
      await vault.erase(subjectId, { by });
    },
    rules: loadRules(config.rightsRulesFile),
    jurisdiction: config.jurisdiction,
    logger,
  });
  detect.addCaseSource((pairs, at, ex) => rights.openCasesAmong(pairs, at, ex));
  const alertSource = async (id: string) => {
    const a = await detect.get(id);
    return { actor: a.actor, at: a.createdAt, kind: a.kind };
  };
  const incidents = createIncidents({
    db,
    clock,
    record,
    sign: (body) => signNote(body, config.ledgerOrigin, keyring.signingKey, keyring.publicKeyRaw),
    ledgerSize: () => ledger.size(),
    inclusionProof: (leafHash) => ledger.inclusionProof({ leafHash }),
    sources: {
      alert: alertSource,
      canary: alertSource,
      // A trace: aware when it was run; the actor is its first-ranked candidate when that is a person.
      trace: async (id: string) => {
        const t = await trace.getTrace(id);
        const top = t.candidates[0];
        const actor = top?.kind === 'actor' ? (top.members[0]?.id ?? null) : null;
        return { actor, at: t.createdAt, kind: 'trace' };
      },
    },
    // Accounts stopped by detection (suspended) or by an administrator (disabled).
    suspendedActors: async () => [
      ...new Set([
        ...(await detect.suspensions(true)).filter((s) => s.mode === 'suspend').map((s) => s.actor),
        ...(await actors.list({ status: 'disabled' })).map((a) => a.id),
      ]),
    ],
    // PIPL 57 notices: contact points read through the access path (decision + access event each).
    readContacts: async (subjectIds) => {
      const out = new Map<string, { mobile?: string; email?: string }>();
      const results = await access.readBatch(INCIDENT_NOTIFIER, {
        subjectIds,
        purpose: 'breach_notification',
        fields: ['mobile', 'email'],
      });
      for (const r of results) {
        if (!r.allowed) continue;
        const mobile = r.fields.mobile?.view === 'plain' ? r.fields.mobile.value : undefined;
        const email = r.fields.email?.view === 'plain' ? r.fields.email.value : undefined;
        out.set(r.subject, { ...(mobile ? { mobile } : {}), ...(email ? { email } : {}) });
      }
      return out;
    },
    gateway: messaging,
    toPortal: (trx, items) => rights.notices.add(trx, items),
    actions: {
      // Detection's suspension: effective on the actor's very next read, lifted only by another.
      suspend_actor: async (target, by) => {
        const s = await detect.suspend(target, by ?? 'operator', 'suspended from an incident');
        return { status: 'suspended', suspension: s.id };
      },
      revoke_keys: async (target, by) => {
        let revoked = 0;
        for (const k of await actors.keys(target))
          if (!k.revokedAt) {
            await actors.revokeKey(k.id, { by });
            revoked++;
          }
        return { revoked };
      },
      // The new key is not returned through the incident: the actor's administrator issues it anew.
      rotate_keys: async (target, by) => {
        const r = await actors.rotateKey(target, { by });
        return { keyId: r.keyId, retired: r.retired };
      },
      disable_recipient: async (target, by) => {
        const r = await disclosure.updateRecipient(target, { status: 'disabled' }, by);
        return { status: r.status };
      },
    },
  });

  // Console sessions: the cookie is Secure whenever the server speaks TLS.
  const secureCookies = Boolean(config.tlsCert && config.tlsKey);
  const activePrincipal = async (id: string) => {
    const a = await actors.get(id).catch(() => undefined);
    return a && a.status === 'active' ? toPrincipal(a) : undefined;
  };
  const sessions = createSessions({
    db,
    clock,
    record,
    authenticateKey: (t) => actors.authenticate(t),
    principalOf: activePrincipal,
    actorId: async (ref) => (await actors.get(ref)).id,
  });

  // Who may do what outside the read path: the active policy file's `permissions:` (docs/policy.md).
  const permissions = permissionsFrom((roles, action) => policy.permits(roles, action));
  const routes = [
    ...accessRoutes({
      access,
      vault,
      permissions,
      myAssignments: async (actorId, limit) =>
        (await actors.assignments({ actor: actorId, limit })).map((a) => a.subjectId),
    }),
    ...actorsRoutes({ actors, permissions }),
    ...policyRoutes({ policy, permissions }),
    ...ledgerRoutes({ ledger, permissions }),
    ...consentRoutes({ consent, permissions }),
    ...disclosureRoutes({ disclosure, permissions }),
    ...detectRoutes({
      detect,
      permissions,
      prove: async (leafHash) => {
        const size = await ledger.size();
        const p = await ledger.inclusionProof({ leafHash, size });
        return { index: p.index, size, proof: p.proof };
      },
      actorExists: async (id) => Boolean(await actors.get(id).catch(() => undefined)),
    }),
    ...traceRoutes({ trace, permissions }),
    ...rightsRoutes({ rights, permissions, recipientsOfActor: (id) => disclosure.recipientsOfActor(id) }),
    ...incidentsRoutes({ incidents, permissions }),
    ...sessionRoutes({ sessions, secure: secureCookies, permissions }),
  ];
  const rateLimit = createRateLimiter(clock, { ...DEFAULT_RATE_LIMITS, ...config.rateLimits });
  const attempts = createAttemptLog({ write: (a) => access.recordAttempts(a), logger });
  let background = false;
  let detectTimer: ReturnType<typeof setInterval> | undefined;
  let traceSweep: NodeJS.Timeout | undefined;

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
    trace,
    messaging,
    rights,
    incidents,
    sessions,
    routes,
    authenticate: (token) => actors.authenticate(token),
    authenticateRequest: sessionAuthenticator(sessions, secureCookies),
    rateLimit,
    attempts,
    startBackground() {
      background = true;
      ledger.startSequencer({
        intervalMs: options.integrateEveryMs ?? 200,
        // At least one checkpoint a second while entries are pending (issue 11, item 9; as Sunlight
        // does): a fresh read's inclusion proof is checkable within about a second.
        checkpointIntervalMs: options.checkpointEveryMs ?? 1000,
      });
      // Uploaded leaked files are erased once their retention has passed (checked hourly).
      traceSweep = setInterval(() => void trace.eraseExpired().catch(() => undefined), 3_600_000);
      traceSweep.unref();
      // Detection's worker: day-end detectors and the daily counts, every few seconds.
      detectTimer = setInterval(() => {
        detect.tick().catch((e) => logger.error({ err: (e as Error).name }, 'detect tick failed'));
      }, options.detectEveryMs ?? 5_000);
      detectTimer.unref?.();
      rights.startBackground(options.checkpointEveryMs ?? 10_000);
    },
    async close() {
      if (traceSweep) clearInterval(traceSweep);
      await trace.close();
      await rights.stop();
      await rights.drain();
      await attempts.drain();
      await access.drain();
      if (detectTimer) clearInterval(detectTimer);
      await detect.flush().catch(() => {});
      if (background) await ledger.stop();
      else await ledger.integrate();
      await database.close();
    },
  };
}
