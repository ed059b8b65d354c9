import type { Kysely } from 'kysely';
import type { AuditEvent, DbExecutor, Recorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { createSha256 } from '../../lib/crypto/index.js';
import { AppError } from '../../lib/errors.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import { type AffectedLine, listLine, toChunks } from './affected.js';
import {
  type ClockName,
  type ClockState,
  clockState,
  GRADES,
  type Grade,
  gradeFor,
  type IncidentRules,
  maxGrade,
  planClocks,
  rulesWith,
} from './grading.js';
import { incidentsError } from './incidents.errors.js';
import * as repo from './incidents.repo.js';
import type { IncidentRow, IncidentScopeRow } from './incidents.tables.js';
import { buildDraft, EMPTY_FACTS, type IncidentFacts, type NoticeDraft, smsText } from './notices.js';

/**
 * Breach response: an incident is opened the moment someone becomes aware (the legal clocks start
 * there), scoped exactly from the access events (never decrypting, never estimating), graded by the
 * affected count, notified to the regulator and the people concerned, and acted on through the
 * other modules' doors. Every change is a timeline row and a ledger entry in the same transaction.
 * The register of every incident, notified or not, is the incidents table (GDPR art. 33(5)).
 */

// --- outside systems and other modules, as narrow interfaces (wired in src/app/app.ts) ----------

/** The messaging gateway (structurally identical to src/lib/messaging's, which rights provides). */
export interface Message {
  channel: 'sms' | 'email';
  to: string;
  subject?: string;
  body: string;
  tag: string;
}
export interface MessageGateway {
  send(message: Message): Promise<{ id: string }>;
}

export interface SourceInfo {
  actor: string | null;
  at: string;
  kind: string;
}

export interface IncidentsDeps {
  db: Kysely<any>;
  clock: Clock;
  ids?: IdSource;
  record: Recorder;
  rules?: Partial<IncidentRules>;
  /** Signs a note body (ending in a newline) with the ledger's Ed25519 key (C2SP signed note). */
  sign: (body: string) => string;
  /** The ledger's current size, stated in the signed scope. */
  ledgerSize: () => Promise<number>;
  inclusionProof?: (
    leafHash: string,
  ) => Promise<{ index: number; size: number; root: string; proof: string[] }>;
  /** Resolve a source reference: alerts (detect.get) today; traces and complaints when they exist. */
  sources?: Partial<Record<'alert' | 'canary' | 'trace' | 'complaint', (id: string) => Promise<SourceInfo>>>;
  /** Actors whose accounts are suspended (disabled) now. */
  suspendedActors?: () => Promise<string[]>;
  /**
   * Reads each subject's contact points through the access module's read path, as the incident
   * notifier (a system actor) for purpose breach_notification: one decision and one access event
   * per subject. Returns only what the policy let through.
   */
  readContacts?: (subjectIds: readonly string[]) => Promise<Map<string, { mobile?: string; email?: string }>>;
  gateway?: MessageGateway;
  /**
   * Shows each notified customer his notice in the portal (the rights module's notices), written in
   * the delivery's transaction so a delivery and its portal copy land together.
   */
  toPortal?: (
    trx: DbExecutor,
    items: readonly { subjectId: string; source: string; ref: string; title: string; body: string }[],
  ) => Promise<unknown>;
  actions?: Partial<{
    suspend_actor: (target: string, by: string | null) => Promise<Record<string, string | number>>;
    revoke_keys: (target: string, by: string | null) => Promise<Record<string, string | number>>;
    rotate_keys: (target: string, by: string | null) => Promise<Record<string, string | number>>;
    disable_recipient: (target: string, by: string | null) => Promise<Record<string, string | number>>;
    request_deletion: (
      target: string,
      subjectIds: readonly string[],
      by: string | null,
    ) => Promise<Record<string, string | number>>;
  }>;
}

export const SOURCE_KINDS = ['alert', 'canary', 'trace', 'complaint', 'manual'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];
export const ACTION_KINDS = [
  'suspend_actor',
  'revoke_keys',
  'rotate_keys',
  'disable_recipient',
  'request_deletion',
] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];
export const SCOPE_ACTIONS = ['read', 'resolve_token', 'disclose'] as const;
export const MAX_NOTIFY_BATCH = 1000;

export interface OpenInput {
  title: string;
  source: SourceKind;
  sourceRef?: string | undefined;
  /** Who became aware, and when (default: the alert's time for an alert, else now). */
  awareBy?: string | undefined;
  awareAt?: string | undefined;
  criticalInfrastructure?: boolean | undefined;
  highRisk?: boolean | undefined;
  facts?: Partial<IncidentFacts> | undefined;
}

export interface ScopeCriteria {
  actors?: string[] | undefined;
  recipients?: string[] | undefined;
  /** Include every account suspended at the time the scope is taken. */
  suspendedActors?: boolean | undefined;
  from?: string | undefined;
  until?: string | undefined;
  actions?: (typeof SCOPE_ACTIONS)[number][] | undefined;
}

export interface ScopeSummary {
  version: number;
  change: string;
  criteria: ScopeCriteria & { resolvedActors: string[] };
  affected: number;
  events: number;
  fields: Record<string, number>;
  views: Record<string, number>;
  listSha256: string;
  ledgerSize: number;
  signedNote: string;
  added: number;
  removed: number;
  reason: string | null;
  createdAt: string;
  createdBy: string | null;
}

export interface Incident {
  id: string;
  title: string;
  status: 'open' | 'closed';
  source: { kind: string; ref: string | null };
  awareBy: string | null;
  awareAt: string;
  openedBy: string | null;
  openedAt: string;
  criticalInfrastructure: boolean;
  highRisk: boolean;
  grade: Grade;
  gradeFloor: Grade | null;
  affected: number;
  scopeVersion: number;
  facts: IncidentFacts;
  individuals: { decision: 'pending' | 'notify' | 'not_notify'; reason: string | null };
  handledAt: string | null;
  closedAt: string | null;
  updatedAt: string;
}

export interface IncidentDetail extends Incident {
  clocks: ClockState[];
  /** Clocks warning or breached now. */
  warnings: { clock: ClockName; status: string; leftMs: number }[];
  scope: ScopeSummary | null;
  notices: {
    id: string;
    audience: string;
    status: string;
    createdAt: string;
    submittedAt: string | null;
    missing: string[];
  }[];
  deliveries: Record<string, number>;
  actions: {
    id: string;
    kind: string;
    target: string;
    outcome: string;
    detail: Record<string, unknown>;
    at: string;
    by: string | null;
  }[];
}

export interface TimelineItem {
  seq: number;
  at: string;
  kind: string;
  actor: string | null;
  detail: Record<string, unknown>;
  leafHash: string;
}

export interface SubjectNotice {
  incidentId: string;
  noticeId: string;
  at: string;
  channel: string | null;
  status: string;
  text: string;
}

function toIncident(r: IncidentRow): Incident {
  return {
    id: r.id,
    title: r.title,
    status: r.status as Incident['status'],
    source: { kind: r.source_kind, ref: r.source_ref },
    awareBy: r.aware_by,
    awareAt: r.aware_at,
    openedBy: r.opened_by,
    openedAt: r.opened_at,
    criticalInfrastructure: r.critical_infrastructure === 1,
    highRisk: r.high_risk === 1,
    grade: r.grade as Grade,
    gradeFloor: (r.grade_floor as Grade | null) ?? null,
    affected: Number(r.affected_count),
    scopeVersion: r.scope_version,
    facts: { ...EMPTY_FACTS, ...(JSON.parse(r.facts) as Partial<IncidentFacts>) },
    individuals: {
      decision: r.individuals_decision as Incident['individuals']['decision'],
      reason: r.no_notify_reason,
    },
    handledAt: r.handled_at,
    closedAt: r.closed_at,
    updatedAt: r.updated_at,
  };
}

function toScope(r: IncidentScopeRow): ScopeSummary {
  const c = JSON.parse(r.criteria) as ScopeSummary['criteria'] & { added?: number; removed?: number };
  const { added = 0, removed = 0, ...criteria } = c;
  return {
    version: r.version,
    change: r.change,
    criteria,
    affected: Number(r.affected_count),
    events: Number(r.event_count),
    fields: JSON.parse(r.fields) as Record<string, number>,
    views: JSON.parse(r.views) as Record<string, number>,
    listSha256: r.list_sha256,
    ledgerSize: Number(r.ledger_size),
    signedNote: r.signed_note,
    added,
    removed,
    reason: r.reason,
    createdAt: r.created_at,
    createdBy: r.created_by,
  };
}

/** The body of the signed statement over a scope (a C2SP signed note). */
export function scopeNoteBody(s: {
  incidentId: string;
  version: number;
  affected: number;
  events: number;
  ledgerSize: number;
  listSha256: string;
}): string {
  return [
    'custodian/incident-scope/v1',
    `incident ${s.incidentId}`,
    `version ${s.version}`,
    `affected ${s.affected}`,
    `events ${s.events}`,
    `ledger-size ${s.ledgerSize}`,
    `list-sha256 ${s.listSha256}`,
    '',
  ].join('\n');
}

export type Incidents = ReturnType<typeof createIncidents>;

export function createIncidents(deps: IncidentsDeps) {
  const { db, clock } = deps;
  const ids = deps.ids ?? randomId;
  const rules = rulesWith(deps.rules);
  const nowIso = () => clock.now().toISOString();

  /** Timeline rows and their ledger entries, in `trx`. */
  async function log(
    trx: DbExecutor,
    incidentId: string,
    items: {
      kind: string;
      actor: string | null;
      detail?: Record<string, string | number | boolean | null | readonly string[]>;
      subject?: string | null;
    }[],
  ): Promise<void> {
    const at = nowIso();
    const events: AuditEvent[] = items.map((i) => ({
      kind: `incident.${i.kind}`,
      at,
      actor: i.actor,
      subject: i.subject ?? null,
      attrs: { incident: incidentId, ...(i.detail ?? {}) },
    }));
    const leaves = await deps.record(trx, events);
    let seq = await repo.nextSeq(trx, incidentId);
    await repo.insertTimeline(
      trx,
      items.map((i, k) => ({
        id: ids('itl'),
        incident_id: incidentId,
        seq: seq++,
        at,
        kind: i.kind,
        actor: i.actor,
        detail: JSON.stringify(i.detail ?? {}),
        leaf_hash: leaves[k] ?? '',
      })),
    );
  }

  async function load(ex: DbExecutor, id: string): Promise<IncidentRow> {
    const r = await repo.getIncident(ex, id);
    if (!r) throw incidentsError('INCIDENTS_NOT_FOUND');
    return r;
  }
  const mustBeOpen = (r: IncidentRow) => {
    if (r.status !== 'open') throw incidentsError('INCIDENTS_CLOSED');
  };

  /**
   * Re-plans the clocks from the incident's current facts: new clocks start, changed deadlines move
   * (the old and new due times go into the timeline), clocks that no longer apply stop with a reason.
   */
  async function replanClocks(trx: DbExecutor, row: IncidentRow, by: string | null): Promise<void> {
    const planned = planClocks(
      {
        awareAt: row.aware_at,
        grade: row.grade as Grade,
        criticalInfrastructure: row.critical_infrastructure === 1,
        highRisk: row.high_risk === 1,
        handledAt: row.handled_at,
      },
      rules,
    );
    const existing = new Map((await repo.clocksOf(trx, row.id)).map((c) => [c.name, c]));
    const at = nowIso();
    const changes: Parameters<typeof log>[2] = [];
    for (const p of planned) {
      const e = existing.get(p.name);
      existing.delete(p.name);
      if (!e) {
        await repo.insertClock(trx, {
          incident_id: row.id,
          name: p.name,
          started_at: p.startedAt,
          due_at: p.dueAt,
          warn_at: p.warnAt,
          met_at: null,
          stopped_reason: null,
          updated_at: at,
        });
        changes.push({
          kind: 'clock.started',
          actor: by,
          detail: { clock: p.name, startedAt: p.startedAt, dueAt: p.dueAt },
        });
      } else if (e.due_at !== p.dueAt || e.stopped_reason) {
        await repo.updateClock(trx, row.id, p.name, {
          started_at: p.startedAt,
          due_at: p.dueAt,
          warn_at: p.warnAt,
          stopped_reason: null,
          updated_at: at,
        });
        changes.push({
          kind: 'clock.changed',
          actor: by,
          detail: { clock: p.name, from: e.due_at, dueAt: p.dueAt },
        });
      }
    }
    for (const e of existing.values()) {
      if (e.stopped_reason || e.met_at) continue;
      await repo.updateClock(trx, row.id, e.name, { stopped_reason: 'no_longer_applies', updated_at: at });
      changes.push({
        kind: 'clock.stopped',
        actor: by,
        detail: { clock: e.name, reason: 'no_longer_applies' },
      });
    }
    if (changes.length) await log(trx, row.id, changes);
  }

  async function meetClocks(trx: DbExecutor, id: string, names: readonly ClockName[], by: string | null) {
    const at = nowIso();
    const clocks = await repo.clocksOf(trx, id);
    const met = clocks.filter((c) => names.includes(c.name as ClockName) && !c.met_at && !c.stopped_reason);
    for (const c of met) await repo.updateClock(trx, id, c.name, { met_at: at, updated_at: at });
    if (met.length)
      await log(
        trx,
        id,
        met.map((c) => ({
          kind: 'clock.met',
          actor: by,
          detail: { clock: c.name, dueAt: c.due_at, marginMs: Date.parse(c.due_at) - Date.parse(at) },
        })),
      );
  }

  function resolveGrade(affected: number, floor: Grade | null): Grade {
    const g = gradeFor(affected, rules);
    return floor ? maxGrade(g, floor) : g;
  }

  async function detail(id: string): Promise<IncidentDetail> {
    const r = await load(db, id);
    const now = clock.now();
    const [clockRows, scopeRow, notices, deliveries, actions] = await Promise.all([
      repo.clocksOf(db, id),
      r.scope_version > 0 ? repo.getScope(db, id, r.scope_version) : Promise.resolve(undefined),
      repo.noticesOf(db, id),
      repo.deliveryCounts(db, id),
      repo.actionsOf(db, id),
    ]);
    const order = ['cac_initial', 'gdpr_authority', 'gdpr_individuals', 'cac_final'];
    const clocks = clockRows
      .map((c) =>
        clockState(
          {
            name: c.name as ClockName,
            startedAt: c.started_at,
            dueAt: c.due_at,
            warnAt: c.warn_at,
            metAt: c.met_at,
            stoppedReason: c.stopped_reason,
          },
          now,
        ),
      )
      .sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
    return {
      ...toIncident(r),
      clocks,
      warnings: clocks
        .filter((c) => c.status === 'warning' || c.status === 'breached')
        .map((c) => ({ clock: c.name, status: c.status, leftMs: c.leftMs })),
      scope: scopeRow ? toScope(scopeRow) : null,
      notices: notices.map((n) => ({
        id: n.id,
        audience: n.audience,
        status: n.status,
        createdAt: n.created_at,
        submittedAt: n.submitted_at,
        missing: (JSON.parse(n.body) as NoticeDraft).missing,
      })),
      deliveries,
      actions: actions.map((a) => ({
        id: a.id,
        kind: a.kind,
        target: a.target,
        outcome: a.outcome,
        detail: JSON.parse(a.detail) as Record<string, unknown>,
        at: a.at,
        by: a.by,
      })),
    };
  }

  async function draftContext(id: string) {
    const d = await detail(id);
    return buildDraftContext(d);
  }

  function buildDraftContext(d: IncidentDetail) {
    return {
      incidentId: d.id,
      title: d.title,
      source: d.source,
      awareAt: d.awareAt,
      grade: d.grade,
      affected: d.affected,
      events: d.scope?.events ?? 0,
      fields: d.scope?.fields ?? {},
      views: d.scope?.views ?? {},
      scope: d.scope
        ? {
            version: d.scope.version,
            listSha256: d.scope.listSha256,
            signedNote: d.scope.signedNote,
            ledgerSize: d.scope.ledgerSize,
          }
        : null,
      actions: d.actions.map((a) => ({ kind: a.kind, target: a.target, outcome: a.outcome, at: a.at })),
      clocks: d.clocks.map((c) => ({ name: c.name, dueAt: c.dueAt, status: c.status })),
      individuals: d.individuals,
      facts: d.facts,
    };
  }

  function cleanFacts(
    f: Partial<IncidentFacts> | undefined,
    base: IncidentFacts = EMPTY_FACTS,
  ): IncidentFacts {
    return { ...base, ...Object.fromEntries(Object.entries(f ?? {}).filter(([, v]) => v !== undefined)) };
  }

  const api = {
    rules,

    /** Opens an incident; the clocks start at the moment someone became aware. */
    async open(input: OpenInput, by: string | null): Promise<IncidentDetail> {
      let awareAt = input.awareAt;
      if (input.source !== 'manual') {
        const resolve = deps.sources?.[input.source];
        if (resolve && input.sourceRef) {
          let info: SourceInfo;
          try {
            info = await resolve(input.sourceRef);
          } catch (e) {
            throw incidentsError('INCIDENTS_SOURCE_NOT_FOUND', { cause: e });
          }
          // The organisation was aware when its own system raised the signal, if nobody says earlier.
          awareAt ??= info.at;
        }
      }
      awareAt = new Date(awareAt ?? nowIso()).toISOString();
      const at = nowIso();
      const id = ids('inc');
      const row: IncidentRow = {
        id,
        title: input.title,
        status: 'open',
        source_kind: input.source,
        source_ref: input.sourceRef ?? null,
        aware_by: input.awareBy ?? by,
        aware_at: awareAt,
        opened_by: by,
        opened_at: at,
        critical_infrastructure: input.criticalInfrastructure ? 1 : 0,
        high_risk: input.highRisk ? 1 : 0,
        grade: 'general',
        grade_floor: null,
        affected_count: 0,
        scope_version: 0,
        facts: JSON.stringify(cleanFacts(input.facts)),
        individuals_decision: 'pending',
        no_notify_reason: null,
        handled_at: null,
        closed_at: null,
        updated_at: at,
      };
      await db.transaction().execute(async (trx) => {
        await repo.insertIncident(trx, row);
        await log(trx, id, [
          {
            kind: 'opened',
            actor: by,
            detail: {
              source: input.source,
              sourceRef: input.sourceRef ?? null,
              awareAt,
              awareBy: row.aware_by,
            },
          },
        ]);
        await replanClocks(trx, row, by);
      });
      return detail(id);
    },

    get: detail,

    async list(q: { status?: 'open' | 'closed'; limit?: number; cursor?: string } = {}) {
      const limit = Math.min(Math.max(q.limit ?? 50, 1), 500);
      let before: { openedAt: string; id: string } | undefined;
      if (q.cursor) {
        const [openedAt, id] = Buffer.from(q.cursor, 'base64url').toString('utf8').split('|');
        if (openedAt && id) before = { openedAt, id };
      }
      const rows = await repo.listIncidents(db, {
        ...(q.status ? { status: q.status } : {}),
        limit: limit + 1,
        ...(before ? { before } : {}),
      });
      const page = rows.slice(0, limit).map(toIncident);
      const last = page.at(-1);
      return {
        incidents: page,
        total: await repo.countIncidents(db, q.status),
        nextCursor:
          rows.length > limit && last
            ? Buffer.from(`${last.openedAt}|${last.id}`, 'utf8').toString('base64url')
            : null,
      };
    },

    /** Updates the facts the notices are built from (PIPL 57 items, description). */
    async setFacts(id: string, facts: Partial<IncidentFacts>, by: string | null): Promise<IncidentDetail> {
      await db.transaction().execute(async (trx) => {
        const r = await load(trx, id);
        mustBeOpen(r);
        const merged = cleanFacts(facts, toIncident(r).facts);
        await repo.updateIncident(trx, id, { facts: JSON.stringify(merged), updated_at: nowIso() });
        await log(trx, id, [{ kind: 'facts_updated', actor: by, detail: { items: Object.keys(facts) } }]);
      });
      return detail(id);
    },

    /**
     * Takes (or re-takes) the scope: the affected customers, exactly, from the access events; signs
     * the sorted list with the ledger's key; regrades the incident and re-plans the clocks. A new
     * version is recorded as a widening, a narrowing or a replacement of the previous one.
     */
    async scope(
      id: string,
      criteria: ScopeCriteria,
      by: string | null,
      reason?: string,
    ): Promise<ScopeSummary> {
      const head = await load(db, id);
      mustBeOpen(head);
      let actors = [...new Set(criteria.actors ?? [])];
      if (criteria.suspendedActors)
        actors = [...new Set([...actors, ...((await deps.suspendedActors?.()) ?? [])])];
      const recipients = [...new Set(criteria.recipients ?? [])];
      if (actors.length === 0 && recipients.length === 0)
        throw incidentsError('INCIDENTS_SCOPE_EMPTY_CRITERIA');
      const q: repo.ScopeQuery = {
        actors,
        recipients,
        actions: criteria.actions?.length ? criteria.actions : [...SCOPE_ACTIONS],
        from: criteria.from ? new Date(criteria.from).toISOString() : undefined,
        until: criteria.until ? new Date(criteria.until).toISOString() : undefined,
      };
      const ledgerSize = await deps.ledgerSize();
      const groups = await repo.scopeGroups(db, q);
      // Merge (subject, field set, views) groups into one line per subject, and sum the events per
      // field and per view. A scope has few distinct field sets and view maps: each is parsed once.
      const parsed = new Map<string, unknown>();
      const parse = <T>(json: string): T => {
        let v = parsed.get(json);
        if (v === undefined) {
          v = JSON.parse(json);
          parsed.set(json, v);
        }
        return v as T;
      };
      const per = new Map<string, { events: number; first: string; last: string; fields: Set<string> }>();
      const fields: Record<string, number> = {};
      const views: Record<string, number> = {};
      let events = 0;
      for (const g of groups) {
        const n = Number(g.n);
        events += n;
        const fs = parse<string[]>(g.fields);
        for (const f of fs) fields[f] = (fields[f] ?? 0) + n;
        for (const view of Object.values(parse<Record<string, string>>(g.views)))
          views[view] = (views[view] ?? 0) + n;
        const cur = per.get(g.subject_id);
        if (!cur)
          per.set(g.subject_id, { events: n, first: g.first_at, last: g.last_at, fields: new Set(fs) });
        else {
          cur.events += n;
          if (g.first_at < cur.first) cur.first = g.first_at;
          if (g.last_at > cur.last) cur.last = g.last_at;
          for (const f of fs) cur.fields.add(f);
        }
      }
      const subjects = [...per.keys()].sort();
      const version = head.scope_version + 1;
      // The list's lines in subject order, stored as chunks of the list (affected.ts); the list's
      // SHA-256 is the hash of the chunks in order.
      const lines: AffectedLine[] = new Array(subjects.length);
      for (let i = 0; i < subjects.length; i++) {
        const s = subjects[i]!;
        const p = per.get(s)!;
        lines[i] = {
          subject: s,
          events: p.events,
          firstAt: p.first,
          lastAt: p.last,
          fields: [...p.fields].sort(),
        };
      }
      const chunks = toChunks(id, version, lines);
      const hasher = createSha256();
      for (const c of chunks) hasher.update(c.lines);
      const listSha256 = hasher.digest().toString('hex');
      const signedNote = deps.sign(
        scopeNoteBody({ incidentId: id, version, affected: lines.length, events, ledgerSize, listSha256 }),
      );
      let added = lines.length;
      let removed = 0;
      let change = 'initial';
      if (head.scope_version > 0) {
        const prev = new Set(await repo.affectedIds(db, id, head.scope_version));
        const now = new Set(subjects);
        added = subjects.filter((s) => !prev.has(s)).length;
        removed = [...prev].filter((s) => !now.has(s)).length;
        change = removed === 0 ? 'widen' : added === 0 ? 'narrow' : 'replace';
      }
      const resolved = {
        ...criteria,
        actions: q.actions as ScopeCriteria['actions'],
        resolvedActors: actors,
      };
      const at = nowIso();
      await db.transaction().execute(async (trx) => {
        const r = await load(trx, id);
        mustBeOpen(r);
        // Another scope landed in between: its version number is taken.
        if (r.scope_version !== head.scope_version)
          throw incidentsError('INCIDENTS_CLOSED', { message: 'The scope changed meanwhile; retry.' });
        await repo.insertScope(trx, {
          incident_id: id,
          version,
          change,
          criteria: JSON.stringify({ ...resolved, added, removed }),
          affected_count: lines.length,
          event_count: events,
          fields: JSON.stringify(fields),
          views: JSON.stringify(views),
          list_sha256: listSha256,
          ledger_size: ledgerSize,
          signed_note: signedNote,
          reason: reason ?? null,
          created_at: at,
          created_by: by,
        });
        await repo.insertAffected(trx, chunks);
        const grade = resolveGrade(lines.length, (r.grade_floor as Grade | null) ?? null);
        const updated = { ...r, affected_count: lines.length, scope_version: version, grade, updated_at: at };
        await repo.updateIncident(trx, id, {
          affected_count: lines.length,
          scope_version: version,
          grade,
          updated_at: at,
        });
        await log(trx, id, [
          {
            kind: version === 1 ? 'scoped' : 'scope_changed',
            actor: by,
            detail: {
              version,
              change,
              affected: lines.length,
              events,
              added,
              removed,
              listSha256,
              ledgerSize,
              reason: reason ?? null,
            },
          },
          ...(grade !== r.grade
            ? [{ kind: 'graded', actor: by, detail: { from: r.grade, grade, affected: lines.length } }]
            : []),
        ]);
        await replanClocks(trx, updated, by);
      });
      return toScope((await repo.getScope(db, id, version))!);
    },

    async scopes(id: string): Promise<ScopeSummary[]> {
      await load(db, id);
      return (await repo.listScopes(db, id)).map(toScope);
    },

    /** The signed list's lines (one page), which hash to the list-sha256 of the signed note. */
    async affected(id: string, q: { version?: number; after?: string; limit?: number } = {}) {
      const r = await load(db, id);
      const version = q.version ?? r.scope_version;
      const rows = await repo.affectedPage(db, id, version, {
        ...(q.after ? { after: q.after } : {}),
        limit: Math.min(q.limit ?? 1000, 100_000),
      });
      return {
        version,
        subjects: rows.map((a) => ({ ...a, fields: [...a.fields], line: listLine(a) })),
      };
    },

    /** One affected customer's events in the scope, each with its ledger inclusion proof. */
    async proofs(id: string, subjectId: string, limit = 100) {
      const r = await load(db, id);
      if (r.scope_version === 0) throw incidentsError('INCIDENTS_NOT_SCOPED');
      const s = toScope((await repo.getScope(db, id, r.scope_version))!);
      const evs = await repo.scopeEventsOf(
        db,
        {
          actors: s.criteria.resolvedActors,
          recipients: s.criteria.recipients ?? [],
          actions: s.criteria.actions ?? [...SCOPE_ACTIONS],
          from: s.criteria.from,
          until: s.criteria.until,
        },
        subjectId,
        Math.min(limit, 1000),
      );
      const out = [];
      for (const e of evs) {
        let proof: Awaited<ReturnType<NonNullable<IncidentsDeps['inclusionProof']>>> | null = null;
        try {
          proof = deps.inclusionProof ? await deps.inclusionProof(e.leaf_hash) : null;
        } catch {
          proof = null; // not yet integrated into the tree: retry after the sequencer runs
        }
        out.push({
          event: e.id,
          at: e.at,
          actor: e.actor_id,
          action: e.action,
          fields: JSON.parse(e.fields) as string[],
          leafHash: e.leaf_hash,
          proof,
        });
      }
      return out;
    },

    /**
     * Grade and clock inputs: raise the grade (never below the count's), mark critical
     * infrastructure or high risk, or record the end of handling (which starts the final-report clock).
     */
    async grade(
      id: string,
      input: {
        floor?: Grade | undefined;
        criticalInfrastructure?: boolean | undefined;
        highRisk?: boolean | undefined;
        handledAt?: string | undefined;
      },
      by: string | null,
    ): Promise<IncidentDetail> {
      await db.transaction().execute(async (trx) => {
        const r = await load(trx, id);
        mustBeOpen(r);
        const count = Number(r.affected_count);
        // "At least": never below the count's grade, nor below a grade a person already raised it to.
        if (input.floor && GRADES.indexOf(input.floor) < GRADES.indexOf(r.grade as Grade))
          throw incidentsError('INCIDENTS_GRADE_LOWER', { details: { grade: r.grade } });
        const floor = input.floor ?? (r.grade_floor as Grade | null) ?? null;
        const grade = resolveGrade(count, floor);
        const at = nowIso();
        const next: IncidentRow = {
          ...r,
          grade,
          grade_floor: floor,
          critical_infrastructure:
            input.criticalInfrastructure === undefined
              ? r.critical_infrastructure
              : input.criticalInfrastructure
                ? 1
                : 0,
          high_risk: input.highRisk === undefined ? r.high_risk : input.highRisk ? 1 : 0,
          handled_at: input.handledAt ? new Date(input.handledAt).toISOString() : r.handled_at,
          updated_at: at,
        };
        await repo.updateIncident(trx, id, {
          grade: next.grade,
          grade_floor: next.grade_floor,
          critical_infrastructure: next.critical_infrastructure,
          high_risk: next.high_risk,
          handled_at: next.handled_at,
          updated_at: at,
        });
        await log(trx, id, [
          {
            kind: 'graded',
            actor: by,
            detail: {
              from: r.grade,
              grade,
              floor,
              criticalInfrastructure: next.critical_infrastructure === 1,
              highRisk: next.high_risk === 1,
              handledAt: next.handled_at,
            },
          },
        ]);
        await replanClocks(trx, next, by);
      });
      return detail(id);
    },

    /** Drafts a notice from the incident's current facts, scope, actions and clocks; stored and recorded. */
    async draft(
      id: string,
      audience: NoticeDraft['audience'],
      by: string | null,
    ): Promise<{ id: string; draft: NoticeDraft }> {
      const ctx = await draftContext(id);
      const d = buildDraft(audience, ctx);
      const noticeId = ids('ntc');
      await db.transaction().execute(async (trx) => {
        mustBeOpen(await load(trx, id));
        await repo.insertNotice(trx, {
          id: noticeId,
          incident_id: id,
          audience,
          body: JSON.stringify(d),
          status: 'draft',
          created_at: nowIso(),
          created_by: by,
          submitted_at: null,
        });
        await log(trx, id, [
          { kind: 'notice_drafted', actor: by, detail: { notice: noticeId, audience, missing: d.missing } },
        ]);
      });
      return { id: noticeId, draft: d };
    },

    async notice(id: string, noticeId: string): Promise<{ id: string; status: string; draft: NoticeDraft }> {
      const n = await repo.getNotice(db, noticeId);
      if (!n || n.incident_id !== id) throw incidentsError('INCIDENTS_NOTICE_NOT_FOUND');
      return { id: n.id, status: n.status, draft: JSON.parse(n.body) as NoticeDraft };
    },

    /**
     * Records that a regulator notice was submitted (through the regulator's portal, by a person):
     * stops the CAC initial and GDPR authority clocks, or the final-report clock for a final report.
     */
    async submit(id: string, noticeId: string, by: string | null): Promise<IncidentDetail> {
      await db.transaction().execute(async (trx) => {
        await load(trx, id);
        const n = await repo.getNotice(trx, noticeId);
        if (!n || n.incident_id !== id || n.audience === 'individuals')
          throw incidentsError('INCIDENTS_NOTICE_NOT_FOUND');
        const d = JSON.parse(n.body) as NoticeDraft;
        if (d.missing.length)
          throw incidentsError('INCIDENTS_NOTICE_INCOMPLETE', { details: { missing: d.missing } });
        if ((await repo.markNoticeSubmitted(trx, noticeId, nowIso())) === 0)
          throw incidentsError('INCIDENTS_NOTICE_SUBMITTED');
        await log(trx, id, [
          { kind: 'notice_submitted', actor: by, detail: { notice: noticeId, audience: n.audience } },
        ]);
        await meetClocks(
          trx,
          id,
          n.audience === 'regulator_final' ? ['cac_final'] : ['cac_initial', 'gdpr_authority'],
          by,
        );
      });
      return detail(id);
    },

    /**
     * Sends the individuals' notice to every affected customer not yet notified, in batches: each
     * batch's contact points are read through the access module (purpose breach_notification, one
     * access event per customer), each message goes through the gateway, and each delivery is a row
     * and a ledger entry. Contact points are never stored here.
     */
    async notifyIndividuals(id: string, by: string | null, opts: { batchSize?: number } = {}) {
      const r = await load(db, id);
      mustBeOpen(r);
      if (r.scope_version === 0) throw incidentsError('INCIDENTS_NOT_SCOPED');
      if (!deps.readContacts || !deps.gateway) throw incidentsError('INCIDENTS_ACTION_UNAVAILABLE');
      const { id: noticeId, draft } = await api.draft(id, 'individuals', by);
      if (draft.missing.length)
        throw incidentsError('INCIDENTS_NOTICE_INCOMPLETE', { details: { missing: draft.missing } });
      await db.transaction().execute(async (trx) => {
        await repo.updateIncident(trx, id, {
          individuals_decision: 'notify',
          no_notify_reason: null,
          updated_at: nowIso(),
        });
        await log(trx, id, [
          { kind: 'individuals_decided', actor: by, detail: { decision: 'notify', notice: noticeId } },
        ]);
      });
      const batch = Math.min(Math.max(opts.batchSize ?? 500, 1), MAX_NOTIFY_BATCH);
      const counts: Record<string, number> = { sent: 0, failed: 0, no_contact: 0 };
      let batches = 0;
      let after: string | undefined;
      for (;;) {
        const subjects = await repo.undelivered(db, id, r.scope_version, batch, after);
        if (subjects.length === 0) break;
        after = subjects[subjects.length - 1];
        batches++;
        const contacts = await deps.readContacts(subjects);
        const rows: { subject: string; channel: string | null; messageId: string | null; status: string }[] =
          [];
        for (const s of subjects) {
          const c = contacts.get(s);
          const msg: Message | undefined = c?.mobile
            ? { channel: 'sms', to: c.mobile, body: smsText(draft.pipl57), tag: `incident:${id}` }
            : c?.email
              ? {
                  channel: 'email',
                  to: c.email,
                  subject: 'Notice of a personal-information security incident',
                  body: draft.text ?? '',
                  tag: `incident:${id}`,
                }
              : undefined;
          if (!msg) {
            rows.push({ subject: s, channel: null, messageId: null, status: 'no_contact' });
            continue;
          }
          try {
            const sent = await deps.gateway.send(msg);
            rows.push({ subject: s, channel: msg.channel, messageId: sent.id, status: 'sent' });
          } catch {
            rows.push({ subject: s, channel: msg.channel, messageId: null, status: 'failed' });
          }
        }
        await db.transaction().execute(async (trx) => {
          const at = nowIso();
          const leaves = await deps.record(
            trx,
            rows.map((x) => ({
              kind: 'incident.notice_delivered',
              at,
              actor: by,
              subject: x.subject,
              attrs: {
                incident: id,
                notice: noticeId,
                channel: x.channel,
                status: x.status,
                message: x.messageId,
              },
            })),
          );
          await repo.insertDeliveries(
            trx,
            rows.map((x, k) => ({
              id: ids('dlv'),
              incident_id: id,
              notice_id: noticeId,
              subject_id: x.subject,
              channel: x.channel,
              message_id: x.messageId,
              status: x.status,
              at,
              leaf_hash: leaves[k] ?? '',
            })),
          );
          await deps.toPortal?.(
            trx,
            rows
              .filter((x) => x.status !== 'no_contact')
              .map((x) => ({
                subjectId: x.subject,
                source: 'incident',
                ref: id,
                title: 'Notice of a personal-information security incident',
                body: draft.text ?? '',
              })),
          );
        });
        for (const x of rows) counts[x.status] = (counts[x.status] ?? 0) + 1;
        // A failed send is recorded and not retried in this run (its row exists): retry is a new incident action.
      }
      await db.transaction().execute(async (trx) => {
        await log(trx, id, [
          { kind: 'individuals_notified', actor: by, detail: { notice: noticeId, batches, ...counts } },
        ]);
        await meetClocks(trx, id, ['gdpr_individuals'], by);
      });
      return {
        notice: noticeId,
        batches,
        sent: counts.sent ?? 0,
        failed: counts.failed ?? 0,
        no_contact: counts.no_contact ?? 0,
      };
    },

    /** Records the decision not to notify the individuals, with its reason (PIPL 57; GDPR 34(3)). */
    async notToNotify(id: string, reason: string, by: string | null): Promise<IncidentDetail> {
      if (!reason.trim()) throw incidentsError('INCIDENTS_REASON_REQUIRED');
      await db.transaction().execute(async (trx) => {
        mustBeOpen(await load(trx, id));
        const at = nowIso();
        await repo.updateIncident(trx, id, {
          individuals_decision: 'not_notify',
          no_notify_reason: reason,
          updated_at: at,
        });
        await log(trx, id, [
          { kind: 'individuals_decided', actor: by, detail: { decision: 'not_notify', reason } },
        ]);
        const c = (await repo.clocksOf(trx, id)).find(
          (x) => x.name === 'gdpr_individuals' && !x.met_at && !x.stopped_reason,
        );
        if (c) {
          await repo.updateClock(trx, id, c.name, { stopped_reason: 'not_notified', updated_at: at });
          await log(trx, id, [
            { kind: 'clock.stopped', actor: by, detail: { clock: c.name, reason: 'not_notified' } },
          ]);
        }
      });
      return detail(id);
    },

    /**
     * Takes an action through the module that owns it (that module records its own change); the
     * incident records what was asked, by whom, and the outcome — a failure included.
     */
    async act(id: string, kind: ActionKind, target: string, by: string | null, note?: string) {
      const r = await load(db, id);
      mustBeOpen(r);
      const fn = deps.actions?.[kind];
      if (!fn) throw incidentsError('INCIDENTS_ACTION_UNAVAILABLE', { details: { action: kind } });
      let outcome = 'done';
      let result: Record<string, string | number> = {};
      let failure: AppError | undefined;
      try {
        if (kind === 'request_deletion') {
          if (r.scope_version === 0) throw incidentsError('INCIDENTS_NOT_SCOPED');
          const subjects = await repo.affectedIds(db, id, r.scope_version);
          result = await (fn as NonNullable<NonNullable<IncidentsDeps['actions']>['request_deletion']>)(
            target,
            subjects,
            by,
          );
        } else
          result = await (fn as (t: string, b: string | null) => Promise<Record<string, string | number>>)(
            target,
            by,
          );
      } catch (e) {
        outcome = 'failed';
        result = { error: e instanceof AppError ? e.code : 'ERROR' };
        failure =
          e instanceof AppError && e.status < 500
            ? e
            : incidentsError('INCIDENTS_ACTION_FAILED', { cause: e });
      }
      const actionId = ids('act');
      await db.transaction().execute(async (trx) => {
        const at = nowIso();
        await repo.insertAction(trx, {
          id: actionId,
          incident_id: id,
          kind,
          target,
          outcome,
          detail: JSON.stringify({ ...result, ...(note ? { note } : {}) }),
          at,
          by,
        });
        await log(trx, id, [
          { kind: 'action', actor: by, detail: { action: actionId, kind, target, outcome, ...result } },
        ]);
      });
      if (failure) throw failure;
      return { id: actionId, kind, target, outcome, result };
    },

    async timeline(id: string): Promise<TimelineItem[]> {
      await load(db, id);
      return (await repo.timelineOf(db, id)).map((t) => ({
        seq: t.seq,
        at: t.at,
        kind: t.kind,
        actor: t.actor,
        detail: JSON.parse(t.detail) as Record<string, unknown>,
        leafHash: t.leaf_hash,
      }));
    },

    /** Closes an incident: the individuals' decision must be made (notified, or a reason recorded). */
    async close(id: string, by: string | null, summary?: string): Promise<IncidentDetail> {
      await db.transaction().execute(async (trx) => {
        const r = await load(trx, id);
        mustBeOpen(r);
        if (r.individuals_decision === 'pending') throw incidentsError('INCIDENTS_DECISION_PENDING');
        const at = nowIso();
        const next = {
          ...r,
          status: 'closed',
          closed_at: at,
          handled_at: r.handled_at ?? at,
          updated_at: at,
        };
        await repo.updateIncident(trx, id, {
          status: 'closed',
          closed_at: at,
          handled_at: next.handled_at,
          updated_at: at,
        });
        await log(trx, id, [
          { kind: 'closed', actor: by, detail: { summary: summary ?? null, handledAt: next.handled_at } },
        ]);
        await replanClocks(trx, next, by);
      });
      return detail(id);
    },

    /** Notices delivered to one customer (for the portal). */
    async noticesFor(subjectId: string, limit = 100): Promise<SubjectNotice[]> {
      return (await repo.deliveriesForSubject(db, subjectId, Math.min(limit, 1000))).map((d) => {
        const body = JSON.parse(d.body) as NoticeDraft;
        return {
          incidentId: d.incident_id,
          noticeId: d.notice_id,
          at: d.at,
          channel: d.channel,
          status: d.status,
          text: body.text ?? '',
        };
      });
    },

    /** Everything the printable report shows. */
    async reportData(id: string) {
      const d = await detail(id);
      const ctx = buildDraftContext(d);
      return {
        incident: d,
        timeline: await api.timeline(id),
        scopes: await api.scopes(id),
        regulatorDraft: buildDraft('regulator', ctx),
        individualsDraft: buildDraft('individuals', ctx),
        generatedAt: nowIso(),
      };
    },
  };
  return api;
}
