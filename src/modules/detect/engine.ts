/**
 * The detectors: a streaming, in-memory scorer over access events. Pure (no database, no clock of
 * its own), so the read path can run it inline and a replay can push stored events through it at
 * memory speed. Each observation says who read what, when, how it was explained (or not); each
 * finding names the detector, the value, the limit it crossed, a severity and its evidence (the
 * references of the events behind it, whose ledger leaf hashes the caller fills in).
 *
 * Baselines are learnt from the organisation's own history: for each actor the last 30 days of its
 * own daily counts, and for its peer group (same role) the daily maxima of every member; a limit is
 * the larger of the own and peer limits (a reading that either explains is not flagged), never
 * below the cold-start floor. Days on which an actor was flagged do not enter its own baseline.
 */

export const DETECTORS = [
  'unexplained',
  'distinct_hour',
  'distinct_day',
  'velocity',
  'off_hours',
  'enumeration',
  'lookup_fishing',
  'tokens_undialed',
  'denied_spike',
  'service_pattern',
  'new_account',
  'low_and_slow',
] as const;
export type DetectorName = (typeof DETECTORS)[number];

export type Level = 'low' | 'medium' | 'high';

export const EXPLANATIONS = [
  'assignment',
  'case',
  'disclosure',
  'consent',
  'approval',
  'break_glass',
  'token_dial',
  'routine',
] as const;
export type Explanation = (typeof EXPLANATIONS)[number];

/** A handle on one access event; `leaf` is filled once the event's ledger entry exists. */
export interface Ref {
  leaf: string;
  at: number;
}

export interface Observation {
  at: number;
  actor: string;
  /** The actor's first role: its peer group. */
  role: string;
  subject: string | null;
  purpose: string;
  action: string;
  explained: Explanation | null;
  /** A service account (its usual pattern is learnt and departures flagged). */
  service?: boolean;
  /** When the account was created (ms), when known: tells a dormant account from a new one. */
  since?: number | undefined;
  ref: Ref;
}

export interface Outcome {
  allowed: boolean;
  /** Contact tokens issued by this read. */
  tokens?: number;
  /** For a token resolution: the actor the token was issued to. */
  dialFor?: string;
  /** For a lookup: no visible match. */
  miss?: boolean;
}

export interface Finding {
  detector: DetectorName;
  actor: string;
  level: Level;
  value: number;
  limit: number;
  /** Local day (yyyy-mm-dd) the finding belongs to. */
  day: string;
  evidence: Ref[];
}

export interface Thresholds {
  /** Unexplained distinct subjects per day. */
  unexplained: number;
  /**
   * The floor for unexplained subjects once a baseline exists (the actor's own week, or 20
   * actor-days of its peer group): 1.5 × the learnt maxima still raise it for staff whose work
   * leaves more reads unexplained.
   */
  unexplainedLearnt: number;
  distinctHour: number;
  distinctDay: number;
  /** Reads per minute. */
  velocity: number;
  offHours: number;
  /** Ascending run of subject ids. */
  enumeration: number;
  lookupsHour: number;
  missesHour: number;
  /** Tokens issued in a day of which fewer than 20% were dialed. */
  tokensUndialed: number;
  deniedHour: number;
  /** Reads in a day of a (purpose, action) a service account never used before. */
  serviceNew: number;
  /** Days an account counts as new. */
  newAccountDays: number;
  newAccountDistinct: number;
  /** Unexplained distinct subjects over 7 and over 30 days. */
  lowSlow7: number;
  lowSlow30: number;
}

export const COLD_START: Thresholds = {
  unexplained: 25,
  unexplainedLearnt: 10,
  distinctHour: 300,
  distinctDay: 2500,
  velocity: 30,
  offHours: 20,
  enumeration: 30,
  lookupsHour: 40,
  missesHour: 20,
  tokensUndialed: 20,
  deniedHour: 60,
  serviceNew: 5,
  newAccountDays: 7,
  newAccountDistinct: 60,
  lowSlow7: 50,
  lowSlow30: 120,
};

export interface EngineOptions {
  thresholds?: Partial<Thresholds>;
  /** Offset of the organisation's local time from UTC, hours (default 8, Asia/Shanghai). */
  utcOffsetHours?: number;
  /** Off-hours: local hour from (inclusive) to (exclusive), wrapping midnight. */
  offHours?: { from: number; to: number };
  /** Severity by how far the value is above the limit: low above 1×, medium above `medium`×, high above `high`×. */
  ladder?: { medium: number; high: number };
  /** Whether a detector is suppressed for an actor at a time (investigator feedback). */
  suppressed?: (actor: string, detector: DetectorName, at: number) => boolean;
  /** Told each actor-day as it closes (for the daily table). */
  onDayClosed?: (row: DayRow) => void;
}

export interface DayRow {
  actor: string;
  role: string;
  day: string;
  reads: number;
  explained: number;
  subjects: number;
  unexplained: number;
  offHours: number;
  denied: number;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const HISTORY_DAYS = 30;
/** Active days (or, for a dormant account, days since creation) before a service's pattern is known. */
const SERVICE_KNOWN_DAYS = 3;

interface DayStat {
  day: number;
  reads: number;
  explained: number;
  subjects: number;
  unexplained: number;
  offHours: number;
  denied: number;
  maxHourSubjects: number;
  maxMinute: number;
  maxHourDenied: number;
  maxHourLookups: number;
  flagged: boolean;
}

interface ActorState {
  id: string;
  role: string;
  service: boolean;
  firstDay: number;
  /** The day the account was created, when known. */
  sinceDay: number | undefined;
  day: number;
  hour: number;
  reads: number;
  explained: number;
  daySubjects: Set<string>;
  dayUnexplained: Set<string>;
  hourSubjects: Set<string>;
  offHours: number;
  denied: number;
  hourDenied: number;
  hourLookups: number;
  hourMisses: number;
  maxHourSubjects: number;
  maxHourDenied: number;
  maxHourLookups: number;
  maxMinute: number;
  minute: number[];
  minuteHead: number;
  lastSubject: string | null;
  ascRun: number;
  tokens: number;
  dialed: number;
  /** (purpose, action) combinations seen before today, and today's reads of new ones. */
  combos: Set<string>;
  todayCombos: Set<string>;
  newCombos: number;
  history: DayStat[];
  /** Highest level reached today per detector (so a finding is raised once per level per day). */
  fired: Map<DetectorName, Level>;
  flaggedToday: boolean;
  /** Recent evidence: unexplained or otherwise notable reads. */
  recent: Ref[];
  recentAll: Ref[];
}

interface PeerDay {
  day: number;
  /** Members whose unflagged day went into these maxima. */
  members: number;
  subjects: number;
  unexplained: number;
  offHours: number;
  maxHourSubjects: number;
  maxMinute: number;
  denied: number;
}

const RANK: Record<Level, number> = { low: 1, medium: 2, high: 3 };
const RECENT = 64;

function pushRing(a: Ref[], r: Ref): void {
  if (a.length >= RECENT) a.shift();
  a.push(r);
}

export type Engine = ReturnType<typeof createEngine>;

export function createEngine(o: EngineOptions = {}) {
  let t: Thresholds = { ...COLD_START, ...o.thresholds };
  let offset = (o.utcOffsetHours ?? 8) * HOUR_MS;
  let off = o.offHours ?? { from: 22, to: 6 };
  let ladder = o.ladder ?? { medium: 2, high: 4 };
  const actors = new Map<string, ActorState>();
  /** role → recent days' maxima over its members (the peer baseline). */
  const peers = new Map<string, PeerDay[]>();
  const counters = new Map<DetectorName, number>();
  /** The first day the engine saw anything: accounts seen then are not "new", just unobserved before. */
  let firstSeenDay = Number.POSITIVE_INFINITY;
  let totalReads = 0;
  let totalExplained = 0;

  const dayOf = (at: number) => Math.floor((at + offset) / DAY_MS);
  const hourOf = (at: number) => Math.floor((at + offset) / HOUR_MS);
  const dayName = (d: number) => new Date(d * DAY_MS).toISOString().slice(0, 10);
  const isOffHours = (at: number) => {
    const h = Math.floor(((at + offset) % DAY_MS) / HOUR_MS);
    return off.from > off.to ? h >= off.from || h < off.to : h >= off.from && h < off.to;
  };

  function rowOf(s: ActorState): DayRow {
    return {
      actor: s.id,
      role: s.role,
      day: dayName(s.day),
      reads: s.reads,
      explained: s.explained,
      subjects: s.daySubjects.size,
      unexplained: s.dayUnexplained.size,
      offHours: s.offHours,
      denied: s.denied,
    };
  }

  /**
   * A service account's usual pattern is known after 3 active days. One that has existed, while
   * detection was watching, for 3 days without acting is known too: dormant, so whatever it starts
   * doing departs from its pattern. (An old account on detection's first days is not dormant: there
   * is no history yet to say it was idle.)
   */
  const knowsPattern = (s: ActorState) =>
    s.history.length >= SERVICE_KNOWN_DAYS ||
    (s.history.length === 0 &&
      s.sinceDay !== undefined &&
      s.day - Math.max(s.sinceDay, firstSeenDay) >= SERVICE_KNOWN_DAYS);

  function fresh(
    ob: { actor: string; role: string; service?: boolean | undefined; since?: number | undefined },
    day: number,
  ): ActorState {
    return {
      id: ob.actor,
      role: ob.role,
      service: Boolean(ob.service),
      firstDay: day,
      sinceDay: ob.since !== undefined ? dayOf(ob.since) : undefined,
      day,
      hour: -1,
      reads: 0,
      explained: 0,
      daySubjects: new Set(),
      dayUnexplained: new Set(),
      hourSubjects: new Set(),
      offHours: 0,
      denied: 0,
      hourDenied: 0,
      hourLookups: 0,
      hourMisses: 0,
      maxHourSubjects: 0,
      maxHourDenied: 0,
      maxHourLookups: 0,
      maxMinute: 0,
      minute: [],
      minuteHead: 0,
      lastSubject: null,
      ascRun: 0,
      tokens: 0,
      dialed: 0,
      combos: new Set(),
      todayCombos: new Set(),
      newCombos: 0,
      history: [],
      fired: new Map(),
      flaggedToday: false,
      recent: [],
      recentAll: [],
    };
  }

  /**
   * Own limit from the actor's unflagged history, peer limit from its role's daily maxima. With a
   * `learnt` floor, that floor replaces the cold-start one once a baseline exists (7 days of the
   * actor's own, or 20 actor-days of its peer group's).
   */
  function limit(
    s: ActorState,
    floor: number,
    own: (d: DayStat) => number,
    peer?: (p: PeerDay) => number,
    learnt?: number,
  ) {
    let ownMax = -1;
    let n = 0;
    for (const d of s.history) {
      if (d.flagged || d.day < s.day - HISTORY_DAYS) continue;
      n++;
      ownMax = Math.max(ownMax, own(d));
    }
    let peerMax = -1;
    let peerDays = 0;
    if (peer) {
      for (const p of peers.get(s.role) ?? [])
        if (p.day >= s.day - HISTORY_DAYS) {
          peerMax = Math.max(peerMax, peer(p));
          peerDays += p.members;
        }
    }
    // Too little history of its own (under a week): the peer group's and the floor's say.
    const ownLimit = n >= 7 ? Math.ceil(ownMax * 1.5) : -1;
    const peerLimit = peerMax >= 0 ? Math.ceil(peerMax * 1.5) : -1;
    const base = learnt !== undefined && (n >= 7 || peerDays >= 20) ? learnt : floor;
    return Math.max(base, ownLimit, peerLimit);
  }

  /** Tokens issued today of which fewer than 20% were dialed. */
  function undialed(s: ActorState, findings: Finding[]): void {
    if (s.tokens >= t.tokensUndialed && s.dialed < s.tokens * 0.2)
      flag(s, 'tokens_undialed', s.tokens - s.dialed, t.tokensUndialed, s.recentAll, findings, s.day);
  }

  /** Finishes the actor's day (its stats enter its history and its peers' baseline). */
  function closeDay(s: ActorState, findings: Finding[]): void {
    undialed(s, findings);
    const stat: DayStat = {
      day: s.day,
      reads: s.reads,
      explained: s.explained,
      subjects: s.daySubjects.size,
      unexplained: s.dayUnexplained.size,
      offHours: s.offHours,
      denied: s.denied,
      maxHourSubjects: Math.max(s.maxHourSubjects, s.hourSubjects.size),
      maxMinute: s.maxMinute,
      maxHourDenied: Math.max(s.maxHourDenied, s.hourDenied),
      maxHourLookups: Math.max(s.maxHourLookups, s.hourLookups),
      flagged: s.flaggedToday,
    };
    if (s.reads > 0 || s.denied > 0) {
      o.onDayClosed?.(rowOf(s));
      s.history.push(stat);
      if (s.history.length > HISTORY_DAYS) s.history.shift();
      if (!s.flaggedToday) {
        const list = peers.get(s.role) ?? [];
        let p = list.find((x) => x.day === s.day);
        if (!p) {
          p = {
            day: s.day,
            members: 0,
            subjects: 0,
            unexplained: 0,
            offHours: 0,
            maxHourSubjects: 0,
            maxMinute: 0,
            denied: 0,
          };
          list.push(p);
          while (list.length > 0 && list[0]!.day < s.day - HISTORY_DAYS) list.shift();
          peers.set(s.role, list);
        }
        p.members++;
        p.subjects = Math.max(p.subjects, stat.subjects);
        p.unexplained = Math.max(p.unexplained, stat.unexplained);
        p.offHours = Math.max(p.offHours, stat.offHours);
        p.maxHourSubjects = Math.max(p.maxHourSubjects, stat.maxHourSubjects);
        p.maxMinute = Math.max(p.maxMinute, stat.maxMinute);
        p.denied = Math.max(p.denied, stat.maxHourDenied);
      }
    }
    s.reads = 0;
    s.explained = 0;
    s.daySubjects = new Set();
    s.dayUnexplained = new Set();
    s.hourSubjects = new Set();
    s.offHours = 0;
    s.denied = 0;
    s.hourDenied = 0;
    s.hourLookups = 0;
    s.hourMisses = 0;
    s.maxHourSubjects = 0;
    s.maxHourDenied = 0;
    s.maxHourLookups = 0;
    s.maxMinute = 0;
    s.tokens = 0;
    s.dialed = 0;
    s.newCombos = 0;
    for (const c of s.todayCombos) s.combos.add(c);
    s.todayCombos = new Set();
    s.fired.clear();
    s.flaggedToday = false;
    s.recent = [];
    s.recentAll = [];
  }

  function roll(s: ActorState, at: number, findings: Finding[]): void {
    const d = dayOf(at);
    if (d !== s.day) {
      closeDay(s, findings);
      s.day = d;
    }
    const h = hourOf(at);
    if (h !== s.hour) {
      s.maxHourSubjects = Math.max(s.maxHourSubjects, s.hourSubjects.size);
      s.maxHourDenied = Math.max(s.maxHourDenied, s.hourDenied);
      s.maxHourLookups = Math.max(s.maxHourLookups, s.hourLookups);
      s.hourSubjects = new Set();
      s.hourDenied = 0;
      s.hourLookups = 0;
      s.hourMisses = 0;
      s.hour = h;
    }
  }

  /**
   * Flags `value` when it passes the actor's limit for the detector (the floor, its own and its peer
   * group's baselines). The floor is checked first: the limit (which reads the history) is computed
   * only for a value above it, and the limit is never below the floor (the `learnt` one once a
   * baseline exists, when given).
   */
  function beyond(
    s: ActorState,
    detector: DetectorName,
    value: number,
    floor: number,
    own: (d: DayStat) => number,
    peer: ((p: PeerDay) => number) | undefined,
    evidence: readonly Ref[],
    out: Finding[],
    learnt?: number,
  ): void {
    if (value > Math.min(floor, learnt ?? floor))
      flag(s, detector, value, limit(s, floor, own, peer, learnt), evidence, out);
  }

  function flag(
    s: ActorState,
    detector: DetectorName,
    value: number,
    lim: number,
    evidence: readonly Ref[],
    out: Finding[],
    day = s.day,
  ): void {
    if (value <= lim) return;
    const ratio = value / Math.max(1, lim);
    const level: Level = ratio > ladder.high ? 'high' : ratio > ladder.medium ? 'medium' : 'low';
    const prev = s.fired.get(detector);
    if (prev && RANK[prev] >= RANK[level]) return;
    if (o.suppressed?.(s.id, detector, evidence.at(-1)?.at ?? day * DAY_MS)) return;
    s.fired.set(detector, level);
    s.flaggedToday = true;
    counters.set(detector, (counters.get(detector) ?? 0) + 1);
    out.push({
      detector,
      actor: s.id,
      level,
      value,
      limit: lim,
      day: dayName(day),
      evidence: evidence.slice(-20),
    });
  }

  function stateOf(ob: Observation, findings: Finding[]): ActorState {
    let s = actors.get(ob.actor);
    if (!s) {
      s = fresh(ob, dayOf(ob.at));
      firstSeenDay = Math.min(firstSeenDay, s.firstDay);
      actors.set(ob.actor, s);
    }
    roll(s, ob.at, findings);
    return s;
  }

  return {
    thresholds: () => t,
    /** A new policy's tuning, keeping what was learnt. */
    reconfigure(n: Pick<EngineOptions, 'thresholds' | 'utcOffsetHours' | 'offHours' | 'ladder'>): void {
      t = { ...COLD_START, ...n.thresholds };
      offset = (n.utcOffsetHours ?? 8) * HOUR_MS;
      off = n.offHours ?? { from: 22, to: 6 };
      ladder = n.ladder ?? { medium: 2, high: 4 };
    },
    /**
     * One access attempt (before its decision: counts what the actor tried). Returns what it
     * triggered; cheap enough for the read path.
     */
    observe(ob: Observation): Finding[] {
      const findings: Finding[] = [];
      const s = stateOf(ob, findings);
      totalReads++;
      s.reads++;
      pushRing(s.recentAll, ob.ref);
      if (ob.explained) {
        totalExplained++;
        s.explained++;
      }
      const combo = `${ob.purpose}/${ob.action}`;
      if (ob.action === 'lookup') {
        s.hourLookups++;
        beyond(
          s,
          'lookup_fishing',
          s.hourLookups,
          t.lookupsHour,
          (d) => d.maxHourLookups * 2,
          undefined,
          s.recentAll,
          findings,
        );
      }
      // Velocity: reads in the last minute.
      const q = s.minute;
      q.push(ob.at);
      while (q[s.minuteHead]! < ob.at - 60_000) s.minuteHead++;
      if (s.minuteHead > 1024) {
        q.splice(0, s.minuteHead);
        s.minuteHead = 0;
      }
      const perMinute = q.length - s.minuteHead;
      if (perMinute > s.maxMinute) s.maxMinute = perMinute;
      beyond(
        s,
        'velocity',
        perMinute,
        t.velocity,
        (d) => d.maxMinute,
        (p) => p.maxMinute,
        s.recentAll,
        findings,
      );
      if (isOffHours(ob.at)) {
        s.offHours++;
        pushRing(s.recent, ob.ref);
        beyond(
          s,
          'off_hours',
          s.offHours,
          t.offHours,
          (d) => d.offHours,
          (p) => p.offHours,
          s.recent,
          findings,
        );
      }
      s.todayCombos.add(combo);
      if (s.service && knowsPattern(s) && !s.combos.has(combo)) {
        s.newCombos++;
        flag(s, 'service_pattern', s.newCombos, t.serviceNew, s.recentAll, findings);
      }
      if (ob.subject !== null) {
        const before = s.daySubjects.size;
        s.daySubjects.add(ob.subject);
        const isNew = s.daySubjects.size > before;
        s.hourSubjects.add(ob.subject);
        if (isNew) {
          beyond(
            s,
            'distinct_hour',
            s.hourSubjects.size,
            t.distinctHour,
            (d) => d.maxHourSubjects,
            (p) => p.maxHourSubjects,
            s.recentAll,
            findings,
          );
          beyond(
            s,
            'distinct_day',
            s.daySubjects.size,
            t.distinctDay,
            (d) => d.subjects,
            (p) => p.subjects,
            s.recentAll,
            findings,
          );
          const young = s.firstDay > firstSeenDay && s.day - s.firstDay < t.newAccountDays;
          if (young)
            beyond(
              s,
              'new_account',
              s.daySubjects.size,
              t.newAccountDistinct,
              () => 0,
              (p) => p.subjects,
              s.recentAll,
              findings,
            );
        }
        if (!ob.explained) {
          const b = s.dayUnexplained.size;
          s.dayUnexplained.add(ob.subject);
          if (s.dayUnexplained.size > b) {
            pushRing(s.recent, ob.ref);
            const n = s.dayUnexplained.size;
            beyond(
              s,
              'unexplained',
              n,
              t.unexplained,
              (d) => d.unexplained,
              (p) => p.unexplained,
              s.recent,
              findings,
              t.unexplainedLearnt,
            );
            // Enumeration: unexplained reads whose subject ids keep ascending.
            if (s.lastSubject !== null && ob.subject > s.lastSubject) s.ascRun++;
            else s.ascRun = 0;
            s.lastSubject = ob.subject;
            if (s.ascRun > t.enumeration) flag(s, 'enumeration', s.ascRun, t.enumeration, s.recent, findings);
            // Low and slow: a few dozen a day for weeks (7 and 30 days, today included).
            if (n % 5 === 0) {
              let w7 = n;
              let w30 = n;
              for (const d of s.history) {
                if (d.day >= s.day - 6) w7 += d.unexplained;
                if (d.day >= s.day - 29) w30 += d.unexplained;
              }
              if (w7 > t.lowSlow7) flag(s, 'low_and_slow', w7, t.lowSlow7, s.recent, findings);
              else if (w30 > t.lowSlow30) flag(s, 'low_and_slow', w30, t.lowSlow30, s.recent, findings);
            }
          }
        }
      }
      return findings;
    },

    /** What the decision made of it (denials, tokens, dials, lookup misses). */
    outcome(ob: Observation, r: Outcome): Finding[] {
      const findings: Finding[] = [];
      const s = stateOf(ob, findings);
      if (!r.allowed) {
        s.denied++;
        s.hourDenied++;
        pushRing(s.recent, ob.ref);
        beyond(
          s,
          'denied_spike',
          s.hourDenied,
          t.deniedHour,
          (d) => d.maxHourDenied,
          (p) => p.denied,
          s.recent,
          findings,
        );
      }
      if (r.tokens) s.tokens += r.tokens;
      if (r.dialFor) {
        const issuer = actors.get(r.dialFor);
        if (issuer) issuer.dialed++;
      }
      if (r.miss) {
        s.hourMisses++;
        if (s.hourMisses > t.missesHour)
          flag(s, 'lookup_fishing', s.hourMisses, t.missesHour, s.recentAll, findings);
      }
      return findings;
    },

    /**
     * The background worker's beat: closes every actor's finished day, and checks today's tokens
     * (a call follows a lead's read within a minute; an actor whose tokens go undialed through the
     * day is caught at the next beat, not at midnight).
     */
    tick(now: number): Finding[] {
      const findings: Finding[] = [];
      const d = dayOf(now);
      for (const s of actors.values()) {
        if (s.day < d) {
          closeDay(s, findings);
          s.day = d;
        } else undialed(s, findings);
      }
      return findings;
    },

    /** Seeds an actor's own history (from stored daily counts) so baselines survive restarts. */
    seed(row: DayRow): void {
      const day = Math.floor(Date.parse(`${row.day}T00:00:00Z`) / DAY_MS);
      let s = actors.get(row.actor);
      if (!s) {
        s = fresh({ actor: row.actor, role: row.role }, day);
        s.day = day + 1;
        actors.set(row.actor, s);
      }
      s.firstDay = Math.min(s.firstDay, day);
      firstSeenDay = Math.min(firstSeenDay, day);
      s.history.push({
        day,
        reads: row.reads,
        explained: row.explained,
        subjects: row.subjects,
        unexplained: row.unexplained,
        offHours: row.offHours,
        denied: row.denied,
        maxHourSubjects: row.subjects,
        maxMinute: Math.min(row.reads, 60),
        maxHourDenied: row.denied,
        maxHourLookups: 0,
        flagged: false,
      });
      s.history.sort((a, b) => a.day - b.day);
      if (s.history.length > HISTORY_DAYS) s.history.shift();
    },

    /** Per actor and local day: what the day so far counted (for the daily table and the dashboard). */
    today(): DayRow[] {
      const out: DayRow[] = [];
      for (const s of actors.values()) if (s.reads > 0 || s.denied > 0) out.push(rowOf(s));
      return out;
    },

    counts(): { reads: number; explained: number; findings: Record<string, number> } {
      return { reads: totalReads, explained: totalExplained, findings: Object.fromEntries(counters) };
    },
  };
}
