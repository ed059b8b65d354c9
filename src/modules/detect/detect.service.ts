import type { Kysely } from 'kysely';
import { Counter, Registry } from 'prom-client';
import { type AttrValue, type DbExecutor, type Recorder, requireRecorder } from '../../lib/audit.js';
import type { Clock } from '../../lib/clock.js';
import { type IdSource, randomId } from '../../lib/ids.js';
import { type DetectConfig, parseDetectConfig } from './config.js';
import { detectError } from './detect.errors.js';
import {
  activeSuspensions,
  alertCounts,
  dailySince,
  getAlert,
  insertAlert,
  insertSuppression,
  insertSuspension,
  liftSuspensions,
  listAlerts,
  listSuspensions,
  liveSuppressions,
  updateAlert,
  upsertDaily,
} from './detect.repo.js';
import type { AlertsTable, DailyTable, SuspensionsTable } from './detect.tables.js';
import {
  createEngine,
  type DayRow,
  DETECTORS,
  type Engine,
  type Explanation,
  type Finding,
  type Observation,
  type Ref,
} from './engine.js';

/**
 * Alerts and insider detection: what the privacy and security team must look at — a canary
 * tripped, break-glass access, an insider reading beyond his job — and the suspension that stops
 * him on his next read. Alerts are raised inside the transaction of the event that caused them and
 * recorded in the ledger, so an alert can be neither lost nor quietly dropped.
 *
 * Explain first, then score: every read attempt gets an explanation (assignment, an open case, a
 * consented disclosure, an approval, break-glass, the dial of a token, routine population-wide duty
 * named in the policy) or none; the detectors (engine.ts) score what stays unexplained and every
 * volume against the actor's own and its peer group's baselines.
 */
export type Severity = 'low' | 'medium' | 'high' | 'critical';

export const ALERT_STATES = ['open', 'acknowledged', 'true_positive', 'false_positive', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number] | 'closed';

export interface AlertInput {
  kind: string;
  severity: Severity;
  actor?: string | null;
  subject?: string | null;
  attrs?: Record<string, AttrValue>;
  detector?: string;
  evidence?: readonly string[];
}

export interface Alert {
  id: string;
  kind: string;
  severity: Severity;
  actor: string | null;
  subject: string | null;
  attrs: Record<string, AttrValue>;
  status: AlertState;
  createdAt: string;
  closedAt: string | null;
  detector: string | null;
  assignee: string | null;
  reason: string | null;
  updatedAt: string | null;
  /** Ledger leaf hashes of the events behind the alert. */
  evidence: string[];
}

export interface EvidenceItem {
  leafHash: string;
  /** Null until the sequencer has integrated the entry. */
  index: number | null;
  treeSize: number | null;
  proof: string[] | null;
}

export interface Suspension {
  id: string;
  actor: string;
  mode: 'suspend' | 'approval';
  status: 'active' | 'lifted';
  alert: string | null;
  reason: string;
  createdBy: string | null;
  createdAt: string;
  liftedBy: string | null;
  liftedAt: string | null;
  liftReason: string | null;
}

/** One read attempt as the read path shows it to the guard (ids and codes only). */
export interface GuardItem {
  actor: string;
  kind: string;
  roles: readonly string[];
  subject: string | null;
  purpose: string;
  action: string;
  at: Date;
  breakGlass: boolean;
  approved: boolean;
  /** The read's decision already found a live assignment (explained without a lookup). */
  assigned?: boolean | undefined;
  /** `assigned` is the decision's answer either way: no assignment lookup for this read. */
  assignedKnown?: boolean | undefined;
  /** When the actor's account was created (ISO), when known. */
  since?: string | undefined;
  recipient?: string | undefined;
  /** For a token resolution: the actor the token was issued to. */
  issuedTo?: string | undefined;
}

export interface GuardOutcome {
  allowed: boolean;
  leaf: string;
  tokens: number;
  miss?: boolean;
}

/**
 * Something that can explain a read by an open case for that subject: a ticket, a rights request
 * or a complaint being handled. The rights module registers one (`addCaseSource`); each returns the
 * `actor\0subject` keys it explains.
 */
export type CaseSource = (
  pairs: readonly { actorId: string; subjectId: string }[],
  at: Date,
  ex: DbExecutor,
) => Promise<Set<string>>;

export interface DetectDeps {
  db: Kysely<any>;
  clock: Clock;
  ids?: IdSource;
  record: Recorder;
  /** Live assignments (portfolio, tickets) among the pairs: `actor\0subject` keys. */
  assignedAmong?: (
    pairs: readonly { actorId: string; subjectId: string }[],
    at: Date,
    ex: DbExecutor,
  ) => Promise<Set<string>>;
  /** Subjects with consent in force for the purpose and recipient (partner reads). */
  consentedAmong?: (
    subjectIds: readonly string[],
    purpose: string,
    recipient: string | null,
    at: Date,
    ex: DbExecutor,
  ) => Promise<Set<string>>;
  /** The active policy's text and hash (its `detection:` section is the ladder); synchronous, cached. */
  policyText?: () => { hash: string; text: string } | undefined;
  cases?: CaseSource[];
}

export type Detect = ReturnType<typeof createDetect>;

function toAlert(r: AlertsTable): Alert {
  return {
    id: r.id,
    kind: r.kind,
    severity: r.severity as Severity,
    actor: r.actor_id,
    subject: r.subject_id,
    attrs: JSON.parse(r.attrs) as Record<string, AttrValue>,
    status: r.status as AlertState,
    createdAt: r.created_at,
    closedAt: r.closed_at,
    detector: r.detector ?? null,
    assignee: r.assignee ?? null,
    reason: r.reason ?? null,
    updatedAt: r.updated_at ?? null,
    evidence: r.evidence ? (JSON.parse(r.evidence) as string[]) : [],
  };
}

function toSuspension(r: SuspensionsTable): Suspension {
  return {
    id: r.id,
    actor: r.actor_id,
    mode: r.mode as Suspension['mode'],
    status: r.status as Suspension['status'],
    alert: r.alert_id,
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: r.created_at,
    liftedBy: r.lifted_by,
    liftedAt: r.lifted_at,
    liftReason: r.lift_reason,
  };
}

const LEVEL_SEVERITY: Record<'low' | 'medium' | 'high', Severity> = {
  low: 'low',
  medium: 'medium',
  high: 'high',
};

/** Transitions: which states an action may start from, and the state it leads to. */
const TRANSITIONS = {
  ack: { from: ['open'], to: 'acknowledged' },
  true_positive: { from: ['open', 'acknowledged'], to: 'true_positive' },
  false_positive: { from: ['open', 'acknowledged'], to: 'false_positive' },
  resolve: { from: ['open', 'acknowledged', 'true_positive', 'false_positive'], to: 'resolved' },
} as const;
export type AlertAction = keyof typeof TRANSITIONS;

export const MIN_REASON = 5;

export function createDetect(deps: DetectDeps) {
  requireRecorder(deps.record, 'createDetect');
  const ids = deps.ids ?? randomId;
  const cases: CaseSource[] = [...(deps.cases ?? [])];
  let config: DetectConfig = parseDetectConfig(undefined);
  let configHash: string | undefined;
  /** Follows the active policy: a new version's detection section applies from the next read. */
  function refreshConfig(): void {
    const p = deps.policyText?.();
    if (!p || p.hash === configHash) return;
    configHash = p.hash;
    config = parseDetectConfig(p.text);
    engine.reconfigure({
      thresholds: config.thresholds,
      utcOffsetHours: config.utcOffsetHours,
      offHours: config.offHours,
      ladder: config.ladder,
    });
  }
  /** actor → detector → suppressed until (ms). */
  const suppressions = new Map<string, Map<string, number>>();
  const closedDays: DayRow[] = [];
  const registry = new Registry();
  const findingsTotal = new Counter({
    name: 'custodian_detect_findings_total',
    help: 'Detector findings by detector and level',
    labelNames: ['detector', 'level'],
    registers: [registry],
  });
  const readsTotal = new Counter({
    name: 'custodian_detect_reads_total',
    help: 'Read attempts scored, by explanation (none = unexplained)',
    labelNames: ['explanation'],
    registers: [registry],
  });
  const suspensionsTotal = new Counter({
    name: 'custodian_detect_suspensions_total',
    help: 'Actors suspended or put under approval by detection',
    labelNames: ['mode'],
    registers: [registry],
  });
  for (const d of DETECTORS)
    for (const l of ['low', 'medium', 'high']) findingsTotal.inc({ detector: d, level: l }, 0);

  const engine: Engine = makeEngine();
  function makeEngine(): Engine {
    return createEngine({
      thresholds: config.thresholds,
      utcOffsetHours: config.utcOffsetHours,
      offHours: config.offHours,
      ladder: config.ladder,
      suppressed: (actor, detector, at) => (suppressions.get(actor)?.get(detector) ?? 0) > at,
      onDayClosed: (row) => closedDays.push(row),
    });
  }

  /** Per read attempt, what the guard's `before` saw (so `after` can score the outcome). */
  const pending = new WeakMap<GuardItem, Observation>();
  /** Findings found in `before`, raised as alerts in `after` (once the evidence has leaf hashes). */
  const deferred = new WeakMap<GuardItem, { findings: Finding[]; suspension?: string }>();

  const routine = () => config.routine;
  const isRoutine = (roles: readonly string[], purpose: string) =>
    roles.some((r) => routine().some((x) => x.role === r && x.purpose === purpose));

  async function explain(trx: DbExecutor, items: readonly GuardItem[]): Promise<(Explanation | null)[]> {
    const out: (Explanation | null)[] = new Array(items.length).fill(null);
    const rest: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (it.action === 'resolve_token' && it.issuedTo) out[i] = 'token_dial';
      else if (it.approved) out[i] = 'approval';
      else if (it.breakGlass) out[i] = 'break_glass';
      else if (it.assigned && it.subject !== null) out[i] = 'assignment';
      else if (it.subject !== null) rest.push(i);
    }
    if (rest.length === 0) return out;
    const at = items[rest[0]!]!.at;
    const pair = (i: number) => ({ actorId: items[i]!.actor, subjectId: items[i]!.subject! });
    const pairs = rest.map(pair);
    // Reads whose decision already looked the assignment up need no second trip.
    const unknown = rest.filter((i) => !items[i]!.assignedKnown).map(pair);
    const assigned =
      deps.assignedAmong && unknown.length > 0
        ? await deps.assignedAmong(unknown, at, trx)
        : new Set<string>();
    const open = new Set<string>();
    for (const c of cases) for (const k of await c(pairs, at, trx)) open.add(k);
    const partnerReads = new Map<string, number[]>();
    for (const i of rest) {
      const it = items[i]!;
      const key = `${it.actor}\0${it.subject}`;
      if (assigned.has(key)) out[i] = 'assignment';
      else if (open.has(key)) out[i] = 'case';
      else if (isRoutine(it.roles, it.purpose)) out[i] = 'routine';
      else if (it.kind === 'partner' && deps.consentedAmong) {
        const k = `${it.purpose}\0${it.recipient ?? it.actor}`;
        partnerReads.set(k, [...(partnerReads.get(k) ?? []), i]);
      }
    }
    for (const [k, list] of partnerReads) {
      const [purpose, recipient] = k.split('\0') as [string, string];
      const ok = await deps.consentedAmong!(
        list.map((i) => items[i]!.subject!),
        purpose,
        recipient,
        at,
        trx,
      );
      for (const i of list) if (ok.has(items[i]!.subject!)) out[i] = 'consent';
    }
    return out;
  }

  async function raiseIn(trx: DbExecutor, input: AlertInput): Promise<string> {
    const id = ids('alr');
    const at = deps.clock.now().toISOString();
    await insertAlert(trx, {
      id,
      kind: input.kind,
      severity: input.severity,
      actor_id: input.actor ?? null,
      subject_id: input.subject ?? null,
      attrs: JSON.stringify(input.attrs ?? {}),
      status: 'open',
      created_at: at,
      closed_at: null,
      detector: input.detector ?? null,
      assignee: null,
      reason: null,
      updated_at: at,
      evidence: input.evidence ? JSON.stringify(input.evidence) : null,
    });
    await deps.record(trx, [
      {
        kind: 'alert.raised',
        at,
        actor: input.actor ?? null,
        subject: input.subject ?? null,
        attrs: {
          alert: id,
          alert_kind: input.kind,
          severity: input.severity,
          ...(input.detector ? { detector: input.detector } : {}),
        },
      },
    ]);
    return id;
  }

  async function suspendIn(
    trx: DbExecutor,
    s: {
      actor: string;
      mode: 'suspend' | 'approval';
      reason: string;
      by: string | null;
      alert?: string | null;
    },
  ): Promise<string> {
    const id = ids('sus');
    const at = deps.clock.now().toISOString();
    await insertSuspension(trx, {
      id,
      actor_id: s.actor,
      mode: s.mode,
      status: 'active',
      alert_id: s.alert ?? null,
      reason: s.reason,
      created_by: s.by,
      created_at: at,
      lifted_by: null,
      lifted_at: null,
      lift_reason: null,
    });
    await deps.record(trx, [
      {
        kind: s.mode === 'suspend' ? 'actor.suspended' : 'actor.approval_required',
        at,
        actor: s.by,
        subject: null,
        attrs: { target: s.actor, suspension: id, reason: s.reason, ...(s.alert ? { alert: s.alert } : {}) },
      },
    ]);
    suspensionsTotal.inc({ mode: s.mode });
    return id;
  }

  function actionFor(f: Finding): 'alert' | 'approval' | 'suspend' {
    return config.actions[f.level];
  }

  async function raiseFindings(trx: DbExecutor, findings: readonly Finding[]): Promise<string[]> {
    const out: string[] = [];
    for (const f of findings) {
      findingsTotal.inc({ detector: f.detector, level: f.level });
      out.push(
        await raiseIn(trx, {
          kind: `detect.${f.detector}`,
          detector: f.detector,
          severity: LEVEL_SEVERITY[f.level],
          actor: f.actor,
          attrs: { value: f.value, limit: f.limit, day: f.day, level: f.level, action: actionFor(f) },
          evidence: f.evidence.map((r) => r.leaf).filter((l) => l !== ''),
        }),
      );
    }
    return out;
  }

  function observation(it: GuardItem, explained: Explanation | null): Observation {
    return {
      at: it.at.getTime(),
      actor: it.actor,
      role: it.roles[0] ?? it.kind,
      subject: it.subject,
      purpose: it.purpose,
      action: it.action,
      explained,
      service: it.kind === 'service' || it.roles.some((r) => config.serviceRoles.includes(r)),
      ...(it.since ? { since: Date.parse(it.since) } : {}),
      ref: { leaf: '', at: it.at.getTime() },
    };
  }

  const service = {
    engine: () => engine,
    registry,

    /** Loads the ladder from the policy, live suppressions, and the last 30 days of baselines. */
    async init(): Promise<void> {
      configHash = undefined;
      refreshConfig();
      const now = deps.clock.now();
      for (const s of await liveSuppressions(deps.db, now.toISOString())) {
        const m = suppressions.get(s.actor_id) ?? new Map<string, number>();
        m.set(s.detector, Math.max(m.get(s.detector) ?? 0, Date.parse(s.expires_at)));
        suppressions.set(s.actor_id, m);
      }
      const since = new Date(now.getTime() - 30 * 86_400_000).toISOString().slice(0, 10);
      for (const r of await dailySince(deps.db, since))
        engine.seed({
          actor: r.actor_id,
          role: r.role,
          day: r.day,
          reads: Number(r.reads),
          explained: Number(r.explained),
          subjects: Number(r.subjects),
          unexplained: Number(r.unexplained_subjects),
          offHours: Number(r.off_hours),
          denied: Number(r.denied),
        });
    },

    config: () => config,

    /** An open case explains reads of its subject by its handler (the rights module feeds this). */
    addCaseSource(source: CaseSource): void {
      cases.push(source);
    },

    /** Raises an alert inside `trx` (the caller's transaction) and records it in the ledger. */
    raise: raiseIn,

    /**
     * The read path's guard, in the read's transaction before anything is decrypted: which reads
     * of the batch may not go ahead (the actor is suspended, or needs an approval), and the
     * explanation of each. A read that crosses a suspending threshold suspends the actor there and
     * then: it and the rest of the batch are refused.
     */
    async before(
      trx: DbExecutor,
      items: readonly GuardItem[],
    ): Promise<{ block: (string | undefined)[]; explained: (Explanation | null)[] }> {
      refreshConfig();
      const actorsIn = [...new Set(items.map((i) => i.actor))];
      const active = await activeSuspensions(trx, actorsIn);
      const mode = new Map<string, string>();
      for (const a of active) if (mode.get(a.actor_id) !== 'suspend') mode.set(a.actor_id, a.mode);
      const explained = await explain(trx, items);
      const block: (string | undefined)[] = new Array(items.length);
      for (let i = 0; i < items.length; i++) {
        const it = items[i]!;
        const m = mode.get(it.actor);
        if (m === 'suspend') {
          block[i] = 'ACTOR_SUSPENDED';
          continue;
        }
        // Under approval the attempts still count: a script that keeps going climbs to suspension.
        if (m === 'approval' && !it.approved) block[i] = 'DETECT_APPROVAL_REQUIRED';
        const ob = observation(it, explained[i]!);
        readsTotal.inc({ explanation: ob.explained ?? 'none' });
        pending.set(it, ob);
        const findings = engine.observe(ob);
        if (findings.length === 0) continue;
        const d: { findings: Finding[]; suspension?: string } = { findings };
        const worst = findings.map(actionFor).sort((a, b) => rankAction(b) - rankAction(a))[0]!;
        if (worst !== 'alert' && mode.get(it.actor) !== worst) {
          d.suspension = await suspendIn(trx, {
            actor: it.actor,
            mode: worst,
            by: null,
            reason: `detector:${findings.map((f) => f.detector).join(',')}`,
          });
          mode.set(it.actor, worst);
          if (worst === 'suspend') block[i] = 'ACTOR_SUSPENDED';
          else if (!it.approved) block[i] = 'DETECT_APPROVAL_REQUIRED';
        }
        deferred.set(it, d);
      }
      return { block, explained };
    },

    /** In the same transaction, once the events are written: outcomes scored, alerts raised. */
    async after(
      trx: DbExecutor,
      items: readonly GuardItem[],
      outcomes: readonly GuardOutcome[],
    ): Promise<void> {
      const findings: Finding[] = [];
      for (let i = 0; i < items.length; i++) {
        const it = items[i]!;
        const o = outcomes[i]!;
        let ob = pending.get(it);
        if (ob) ob.ref.leaf = o.leaf;
        else ob = { ...observation(it, null), ref: { leaf: o.leaf, at: it.at.getTime() } };
        findings.push(
          ...engine.outcome(ob, {
            allowed: o.allowed,
            tokens: o.tokens,
            ...(it.issuedTo ? { dialFor: it.issuedTo } : {}),
            ...(o.miss ? { miss: true } : {}),
          }),
        );
      }
      for (let i = 0; i < items.length; i++) {
        const d = deferred.get(items[i]!);
        if (!d) continue;
        await raiseFindings(trx, d.findings);
      }
      if (findings.length > 0) {
        // Outcome findings (denials, lookups) act too: the ladder's action for the worst.
        await raiseFindings(trx, findings);
        const byActor = new Map<string, Finding[]>();
        for (const f of findings) byActor.set(f.actor, [...(byActor.get(f.actor) ?? []), f]);
        for (const [actor, fs] of byActor) {
          const worst = fs.map(actionFor).sort((a, b) => rankAction(b) - rankAction(a))[0]!;
          if (worst === 'alert') continue;
          const active = await activeSuspensions(trx, [actor]);
          if (active.some((a) => a.mode === 'suspend' || a.mode === worst)) continue;
          await suspendIn(trx, {
            actor,
            mode: worst,
            by: null,
            reason: `detector:${fs.map((f) => f.detector).join(',')}`,
          });
        }
      }
    },

    /**
     * The background worker's step: closes finished days (day-end detectors such as tokens never
     * dialed) and writes the daily counts. Called every few seconds by `startBackground`.
     */
    async tick(): Promise<number> {
      const findings = engine.tick(deps.clock.now().getTime());
      if (findings.length > 0)
        await deps.db.transaction().execute(async (trx) => {
          await raiseFindings(trx, findings);
          for (const f of findings) {
            const act = actionFor(f);
            if (act === 'alert') continue;
            if ((await activeSuspensions(trx, [f.actor])).length > 0) continue;
            await suspendIn(trx, { actor: f.actor, mode: act, by: null, reason: `detector:${f.detector}` });
          }
        });
      await service.flush();
      return findings.length;
    },

    /** Writes the closed days and today's counts so far to the daily table. */
    async flush(): Promise<void> {
      const rows: DailyTable[] = [...closedDays.splice(0), ...engine.today()].map((r) => ({
        day: r.day,
        actor_id: r.actor,
        role: r.role,
        reads: r.reads,
        explained: r.explained,
        subjects: r.subjects,
        unexplained_subjects: r.unexplained,
        off_hours: r.offHours,
        denied: r.denied,
      }));
      if (rows.length > 0) await deps.db.transaction().execute((trx) => upsertDaily(trx, rows));
    },

    async list(
      q: {
        status?: AlertState;
        actorId?: string;
        kind?: string;
        detector?: string;
        assignee?: string;
        since?: string;
        before?: { at: string; id: string };
        limit?: number;
      } = {},
    ): Promise<Alert[]> {
      return (await listAlerts(deps.db, { ...q, limit: Math.min(q.limit ?? 100, 1000) })).map(toAlert);
    },

    async get(id: string): Promise<Alert> {
      const r = await getAlert(deps.db, id);
      if (!r) throw detectError('DETECT_ALERT_NOT_FOUND');
      return toAlert(r);
    },

    /** An alert's evidence: each leaf hash with its ledger index and an inclusion proof. */
    async evidence(
      alert: Alert,
      prove: (leafHash: string) => Promise<{ index: number; size: number; proof: string[] } | undefined>,
    ): Promise<EvidenceItem[]> {
      const out: EvidenceItem[] = [];
      const leaves = [...alert.evidence];
      const own = alert.attrs.evidence;
      if (typeof own === 'string' && own) leaves.push(own);
      for (const leaf of leaves) {
        const p = await prove(leaf).catch(() => undefined);
        out.push({
          leafHash: leaf,
          index: p?.index ?? null,
          treeSize: p?.size ?? null,
          proof: p?.proof ?? null,
        });
      }
      return out;
    },

    /** ack / true_positive / false_positive / resolve; a verdict needs a reason. */
    async transition(
      id: string,
      action: AlertAction,
      by: string,
      o: { reason?: string; suppressDays?: number } = {},
    ): Promise<Alert> {
      const tr = TRANSITIONS[action];
      const needsReason = action !== 'ack';
      if (needsReason && (o.reason ?? '').trim().length < MIN_REASON)
        throw detectError('DETECT_REASON_REQUIRED');
      await deps.db.transaction().execute(async (trx) => {
        const r = await getAlert(trx, id);
        if (!r) throw detectError('DETECT_ALERT_NOT_FOUND');
        const at = deps.clock.now().toISOString();
        const closing = tr.to === 'resolved' || tr.to === 'false_positive';
        const n = await updateAlert(trx, id, tr.from, {
          status: tr.to,
          updated_at: at,
          ...(o.reason ? { reason: o.reason } : {}),
          ...(closing ? { closed_at: at } : {}),
        });
        if (n === 0) throw detectError('DETECT_ALERT_CLOSED');
        await deps.record(trx, [
          {
            kind: `alert.${tr.to}`,
            at,
            actor: by,
            attrs: { alert: id, ...(o.reason ? { reason: o.reason } : {}) },
          },
        ]);
        // Feedback: a false positive may suppress its detector for the actor for a while.
        if (action === 'false_positive' && o.suppressDays && r.detector && r.actor_id) {
          const expires = new Date(Date.parse(at) + o.suppressDays * 86_400_000).toISOString();
          await insertSuppression(trx, {
            id: ids('sup'),
            actor_id: r.actor_id,
            detector: r.detector,
            reason: o.reason ?? '',
            alert_id: id,
            created_by: by,
            created_at: at,
            expires_at: expires,
          });
          await deps.record(trx, [
            {
              kind: 'detect.suppressed',
              at,
              actor: by,
              attrs: { alert: id, target: r.actor_id, detector: r.detector, until: expires },
            },
          ]);
          const m = suppressions.get(r.actor_id) ?? new Map<string, number>();
          m.set(r.detector, Date.parse(expires));
          suppressions.set(r.actor_id, m);
        }
      });
      return service.get(id);
    },

    async assign(id: string, assignee: string, by: string): Promise<Alert> {
      await deps.db.transaction().execute(async (trx) => {
        if (!(await getAlert(trx, id))) throw detectError('DETECT_ALERT_NOT_FOUND');
        const at = deps.clock.now().toISOString();
        const n = await updateAlert(trx, id, ['open', 'acknowledged', 'true_positive'], {
          assignee,
          updated_at: at,
        });
        if (n === 0) throw detectError('DETECT_ALERT_CLOSED');
        await deps.record(trx, [{ kind: 'alert.assigned', at, actor: by, attrs: { alert: id, assignee } }]);
      });
      return service.get(id);
    },

    /** Kept for callers of the first alerts API: close = resolve. */
    async close(id: string, by: string): Promise<void> {
      await service.transition(id, 'resolve', by, { reason: 'closed' });
    },

    /** Suspends an actor by hand (an investigator); effective on its very next read. */
    async suspend(actorId: string, by: string, reason: string, alert?: string): Promise<Suspension> {
      if (reason.trim().length < MIN_REASON) throw detectError('DETECT_REASON_REQUIRED');
      if (actorId === by) throw detectError('DETECT_SELF_ACTION');
      const id = await deps.db.transaction().execute(async (trx) => {
        if ((await activeSuspensions(trx, [actorId])).some((a) => a.mode === 'suspend'))
          throw detectError('DETECT_ALREADY_SUSPENDED');
        return suspendIn(trx, { actor: actorId, mode: 'suspend', reason, by, alert: alert ?? null });
      });
      return (await service.suspensions(false)).find((s) => s.id === id)!;
    },

    /** Lifts every active suspension of the actor: only someone else, with a reason. */
    async reinstate(actorId: string, by: string, reason: string): Promise<number> {
      if (reason.trim().length < MIN_REASON) throw detectError('DETECT_REASON_REQUIRED');
      if (actorId === by) throw detectError('DETECT_SELF_ACTION');
      return deps.db.transaction().execute(async (trx) => {
        const at = deps.clock.now().toISOString();
        const n = await liftSuspensions(trx, actorId, { lifted_by: by, lifted_at: at, lift_reason: reason });
        if (n === 0) throw detectError('DETECT_NOT_SUSPENDED');
        await deps.record(trx, [
          { kind: 'actor.reinstated', at, actor: by, attrs: { target: actorId, reason, lifted: n } },
        ]);
        return n;
      });
    },

    async isSuspended(actorId: string): Promise<boolean> {
      return (await activeSuspensions(deps.db, [actorId])).length > 0;
    },

    async suspensions(activeOnly = true): Promise<Suspension[]> {
      return (await listSuspensions(deps.db, activeOnly)).map(toSuspension);
    },

    /** The dashboard's figures: explained share (from the daily counts) and alerts per detector. */
    async summary(days = 30): Promise<{
      from: string;
      reads: number;
      explained: number;
      explainedShare: number | null;
      alerts: { detector: string; open: number; total: number }[];
      suspended: number;
    }> {
      await service.flush();
      const now = deps.clock.now();
      const from = new Date(now.getTime() - days * 86_400_000).toISOString();
      let reads = 0;
      let explained = 0;
      for (const r of await dailySince(deps.db, from.slice(0, 10))) {
        reads += Number(r.reads);
        explained += Number(r.explained);
      }
      const per = new Map<string, { open: number; total: number }>();
      for (const c of await alertCounts(deps.db, from)) {
        const key = c.detector ?? c.kind;
        const e = per.get(key) ?? { open: 0, total: 0 };
        e.total += c.n;
        if (c.status === 'open' || c.status === 'acknowledged') e.open += c.n;
        per.set(key, e);
      }
      return {
        from,
        reads,
        explained,
        explainedShare: reads > 0 ? explained / reads : null,
        alerts: [...per].map(([detector, v]) => ({ detector, ...v })).sort((a, b) => b.total - a.total),
        suspended: (await service.suspensions(true)).length,
      };
    },

    /** Replays stored observations through a fresh engine (the benchmark and a rebuild): findings. */
    replay(events: Iterable<Observation & { allowed?: boolean }>): { events: number; findings: number } {
      const e = createEngine({
        thresholds: config.thresholds,
        utcOffsetHours: config.utcOffsetHours,
        offHours: config.offHours,
        ladder: config.ladder,
      });
      let n = 0;
      let f = 0;
      for (const ob of events) {
        n++;
        f += e.observe(ob).length;
        if (ob.allowed === false) f += e.outcome(ob, { allowed: false }).length;
      }
      return { events: n, findings: f };
    },
  };
  return service;
}

function rankAction(a: 'alert' | 'approval' | 'suspend'): number {
  return a === 'suspend' ? 3 : a === 'approval' ? 2 : 1;
}

export type { Ref };
