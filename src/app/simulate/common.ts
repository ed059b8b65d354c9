import { type Actor, toPrincipal } from '../../modules/actors/index.js';
import { leafHash, parseVkey, verifyCheckpoint, verifyInclusion } from '../../modules/ledger/index.js';
import type { OrganisationOptions, WorkloadEvent } from '../../modules/sim/index.js';
import type { Instance, PolicyName } from './instance.js';
import { type LoadedOrganisation, loadOrganisation, organisationFor } from './organisation.js';
import type { Checks } from './report.js';

/** What a scenario is given: its instance, its options, where to report, and a progress line. */
export interface ScenarioOptions {
  seed: string;
  subjects: number;
  days: number;
  policy: PolicyName;
}

export interface ScenarioContext {
  inst: Instance;
  opts: ScenarioOptions;
  checks: Checks;
  log(line: string): void;
  /** Counts about the organisation, filled by setupOrganisation. */
  organisation: Record<string, number>;
  /** Figures a scenario reports beyond its checks (e.g. detection's per-pattern times). */
  figures?: Record<string, unknown>;
}

export interface ScenarioDef {
  name: string;
  title: string;
  /** The shared/seeds articles the scenario draws on. */
  seeds: string;
  policies: readonly PolicyName[];
  defaults: { subjects: number; days: number };
  /** Runs below this many customers cannot exercise every expectation; the run is raised to it. */
  minSubjects?: number;
  /** Where the simulated clock starts (the organisation is loaded then). */
  start: Date;
  run(ctx: ScenarioContext): Promise<void>;
}

export const DAY_MS = 86_400_000;

/** An instant given as local (Asia/Shanghai, UTC+8) date and time, the zone of every policy here. */
export function local(date: string, time = '00:00'): Date {
  return new Date(`${date}T${time}:00+08:00`);
}

export function localDate(t: Date | number): string {
  return new Date((typeof t === 'number' ? t : t.getTime()) + 8 * 3_600_000).toISOString().slice(0, 10);
}

export async function setupOrganisation(
  ctx: ScenarioContext,
  options: Omit<OrganisationOptions, 'seed' | 'customers'> = {},
): Promise<LoadedOrganisation> {
  const org = organisationFor(ctx.inst.app, {
    seed: ctx.opts.seed,
    customers: ctx.opts.subjects,
    ...options,
  });
  ctx.log(`loading organisation: ${org.customerCount} customers, ${org.employees.length} employees…`);
  const loaded = await loadOrganisation(ctx.inst.app, org, { log: ctx.log });
  Object.assign(ctx.organisation, {
    customers: loaded.counts.imported,
    rejectedByImport: loaded.counts.rejectedRows,
    employees: loaded.counts.employees,
    partners: loaded.counts.partners,
    consents: loaded.counts.consents,
    assignments: loaded.counts.assignments,
  });
  return loaded;
}

export const principal = (a: { actor: Actor }) => toPrincipal(a.actor);

/**
 * Integrates pending ledger entries, signs a checkpoint, and checks each leaf hash the way an
 * outsider would: the checkpoint and verifier key over HTTP, the signature with the key, the
 * inclusion proof against the signed root.
 */
export async function proveLeaves(
  inst: Instance,
  leaves: readonly string[],
  key: string,
): Promise<{ size: number; root: string; verified: number; failed: number; indexes: number[] }> {
  await inst.app.access.drain();
  await inst.app.ledger.integrate();
  await inst.app.ledger.checkpoint();
  const note = (await inst.request(undefined, 'GET', '/v1/ledger/checkpoint')).body as string;
  const vkey = (await inst.request(undefined, 'GET', '/v1/ledger/public-key')).body.vkey as string;
  const cp = verifyCheckpoint(note, parseVkey(vkey));
  let verified = 0;
  let failed = 0;
  const indexes: number[] = [];
  for (const [k, leaf] of leaves.entries()) {
    // The first proof through the API (GET /v1/ledger/proof/inclusion, as an outsider with a key
    // would fetch it), the rest from the same service without the per-key rate limit.
    let p: { index: number; size: number; leafHash: string; proof: string[] };
    if (k === 0) {
      const r = await inst.request(key, 'GET', `/v1/ledger/proof/inclusion?leaf=${leaf}&size=${cp.size}`);
      if (r.status !== 200) {
        failed++;
        continue;
      }
      p = r.body;
    } else {
      try {
        p = await inst.app.ledger.inclusionProof({ leafHash: leaf, size: cp.size });
      } catch {
        failed++;
        continue;
      }
    }
    const ok =
      p.leafHash === leaf &&
      verifyInclusion({
        index: p.index,
        size: cp.size,
        leafHash: Buffer.from(leaf, 'hex'),
        proof: p.proof.map((h) => Buffer.from(h, 'hex')),
        root: cp.root,
      });
    if (ok) {
      verified++;
      indexes.push(p.index);
    } else failed++;
  }
  return { size: cp.size, root: cp.root.toString('hex'), verified, failed, indexes };
}

/** The entry at a ledger index hashes to its leaf (RFC 9162: SHA-256(0x00 ‖ entry)). */
export async function entryMatchesLeaf(inst: Instance, index: number, leaf: string): Promise<boolean> {
  const [e] = await inst.app.ledger.entries(index, 1);
  return Boolean(e) && leafHash(e!.bytes).toString('hex') === leaf;
}

/** Ledger entries of a kind (scans the log; fine at simulation sizes). */
export async function ledgerEntriesOfKind(
  inst: Instance,
  kind: string,
  from = 0,
): Promise<{ index: number; leafHash: string; attrs: Record<string, unknown> }[]> {
  await inst.app.ledger.integrate();
  const size = await inst.app.ledger.size();
  const out: { index: number; leafHash: string; attrs: Record<string, unknown> }[] = [];
  for (let i = from; i < size; i += 1000) {
    for (const e of await inst.app.ledger.entries(i, Math.min(1000, size - i))) {
      if (e.event.kind === kind)
        out.push({ index: e.index, leafHash: e.leafHash, attrs: { ...e.event.attrs } });
    }
  }
  return out;
}

export interface ReplayStats {
  reads: number;
  allowed: number;
  denied: number;
  contacts: number;
  contactsResolved: number;
  assigned: number;
  /** (role, purpose) pairs with at least one allowed read, and the last local day of one. */
  used: Map<string, string>;
  deniedReasons: Map<string, number>;
  /** For watched subjects: the actors whose reads (or token resolutions) of them were allowed. */
  readers: Map<string, Set<string>>;
}

/**
 * Replays sim's workload (or any event stream) through the services on the simulated clock: reads
 * as the actor, contact events as the telephony service resolving the token the telemarketer's
 * read returned, ticket assignments as the administrator assigning for a week.
 */
export async function replayWorkload(
  ctx: ScenarioContext,
  loaded: LoadedOrganisation,
  events: Iterable<WorkloadEvent>,
  watch: ReadonlySet<string> = new Set(),
): Promise<ReplayStats> {
  const { app } = ctx.inst;
  const stats: ReplayStats = {
    reads: 0,
    allowed: 0,
    denied: 0,
    contacts: 0,
    contactsResolved: 0,
    assigned: 0,
    used: new Map(),
    deniedReasons: new Map(),
    readers: new Map(),
  };
  const saw = (subjectId: string, actorId: string) => {
    if (!watch.has(subjectId)) return;
    const set = stats.readers.get(subjectId) ?? new Set<string>();
    stats.readers.set(subjectId, set.add(actorId));
  };
  const tokens = new Map<string, string>();
  const telephony = [...loaded.services.values()][0];
  const actorOf = (ext: string) =>
    loaded.employees.get(ext) ?? loaded.partners.get(ext) ?? loaded.services.get(ext);
  for (const ev of events) {
    const subjectId = loaded.subjects.get(ev.subject);
    const who = actorOf(ev.actor);
    if (!subjectId || !who) continue;
    ctx.inst.clock.set(ev.at);
    if (ev.kind === 'assign') {
      const until = new Date(Date.parse(ev.at) + 7 * DAY_MS).toISOString();
      const r = await app.actors.assign([{ actor: who.actor.id, subjectId, expiresAt: until }], {
        by: loaded.admin.actor.id,
      });
      stats.assigned += r.assigned;
    } else if (ev.kind === 'contact') {
      stats.contacts++;
      const token = tokens.get(subjectId);
      if (!token || !telephony) continue;
      try {
        const p = principal(telephony);
        await app.access.resolveToken(p, { token });
        stats.contactsResolved++;
        saw(subjectId, p.id);
        for (const role of p.roles) stats.used.set(`${role}/contact`, localDate(Date.parse(ev.at)));
      } catch {
        // A token past its expiry or a denied resolution is recorded by the access module.
      }
    } else {
      stats.reads++;
      const p = principal(who);
      const r = await app.access.read(p, { subjectId, purpose: ev.purpose, fields: [...ev.fields] });
      if (r.allowed) {
        stats.allowed++;
        saw(subjectId, p.id);
        for (const role of p.roles) stats.used.set(`${role}/${ev.purpose}`, localDate(Date.parse(ev.at)));
        const token = Object.values(r.fields).find((f) => f.view === 'token')?.value;
        if (token) tokens.set(subjectId, token);
      } else {
        stats.denied++;
        for (const reason of r.reasons)
          stats.deniedReasons.set(reason, (stats.deniedReasons.get(reason) ?? 0) + 1);
      }
    }
  }
  return stats;
}

export function countsOf(m: Map<string, number>): string {
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}
