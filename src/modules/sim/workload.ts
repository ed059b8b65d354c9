import { Rng, type StreamKey, streamKey } from '../../lib/synthetic/index.js';
import { externalId } from './customers.js';
import type { ConsentRecord, Employee, Organisation, Partner } from './org.js';
import { TELEPHONY_SERVICE } from './org.js';
import {
  around,
  CALLING_HOURS,
  DAY_MS,
  type HourProfile,
  iso,
  localDayOfMonth,
  localMidnight,
  localWeekday,
  OFFICE_HOURS,
  PARTNER_HOURS,
  timesInDay,
} from './time.js';

/**
 * Normal activity of the synthetic organisation, as a time-ordered stream of events. Each actor is
 * its own deterministic stream (seeded by actor and day), and the streams are merged by time; an
 * actor holds only the sorted instants of its current day, so a year of a large organisation
 * streams in bounded memory.
 */

export type EventKind = 'read' | 'assign' | 'contact';

export interface WorkloadEvent {
  /** ISO-8601 UTC, to the second. */
  readonly at: string;
  /** Employee, partner or service external id. */
  readonly actor: string;
  readonly purpose: string;
  /** Customer external id. */
  readonly subject: string;
  readonly fields: readonly string[];
  /**
   * read: a read of the fields; assign: a ticket assigns the customer to a support agent (no PI is
   * read); contact: the telephony service resolves a contact token to place a call.
   */
  readonly kind: EventKind;
}

export interface WorkloadOptions {
  readonly org: Organisation;
  /** The first local (UTC+8) day is the one containing `start`. */
  readonly start: Date;
  readonly days: number;
  /** Defaults to the organisation's seed; another seed gives another workload for the same org. */
  readonly seed?: string;
  /** Multiplies every volume (1 = the volumes in docs/simulation.md). */
  readonly scale?: number;
}

/** Daily volumes per actor on a full working day (see docs/simulation.md). */
export const VOLUMES = {
  /** Lead reads per telemarketer; the guarded policy's quota is 200. */
  telemarketerReads: 110,
  /** Share of lead reads followed by a call through the contact token. */
  callShare: 0.7,
  /** Support tickets per customer per working day, spread over the agents. */
  ticketsPerCustomer: 0.002,
  billingReads: 250,
  /** Billing reads per clerk on the 1st–3rd of the month (invoice run); the quota is 2000. */
  billingRunReads: 1400,
  /** Share of a distributor's referred customers it contacts per day. */
  referralReadShare: 1 / 90,
  investigations: 2,
} as const;

interface Timed {
  readonly t: number;
  readonly ev: WorkloadEvent;
}

type Stream = Generator<Timed, void, undefined>;

/** Whether a consent for `purpose` (and recipient) is in force at t. */
export function consentValidAt(
  consents: readonly ConsentRecord[],
  purpose: string,
  recipient: string | null,
  t: number,
): boolean {
  return consents.some(
    (c) =>
      c.purpose === purpose &&
      c.recipient_id === recipient &&
      Date.parse(c.given_at) <= t &&
      (c.withdrawn_at === null || Date.parse(c.withdrawn_at) > t) &&
      (c.expires_at === null || Date.parse(c.expires_at) > t),
  );
}

/** Follow-up events an actor owes (a call after a read): kept sorted, released in time. */
class Pending {
  private items: Timed[] = [];
  add(x: Timed): void {
    let k = this.items.length;
    while (k > 0 && this.items[k - 1]!.t > x.t) k--;
    this.items.splice(k, 0, x);
  }
  *until(t: number): Generator<Timed> {
    while (this.items.length > 0 && this.items[0]!.t <= t) yield this.items.shift()!;
  }
}

interface Ctx {
  readonly org: Organisation;
  readonly seed: string;
  readonly midnights: readonly number[];
  readonly scale: number;
}

function actorKey(ctx: Ctx, actor: string): StreamKey {
  return streamKey(ctx.seed, `workload:${actor}`);
}

const LEAD_FIELDS = ['name', 'mobile', 'company'] as const;
const SUPPORT_FIELDS = ['name', 'mobile', 'email', 'company', 'address'] as const;

function* telemarketer(ctx: Ctx, e: Employee): Stream {
  const { org } = ctx;
  const size = org.portfolioSize(e.external_id);
  if (size === 0) return;
  const key = actorKey(ctx, e.external_id);
  const rng = new Rng();
  const pending = new Pending();
  for (let d = 0; d < ctx.midnights.length; d++) {
    const midnight = ctx.midnights[d]!;
    const weekday = localWeekday(midnight + 12 * 3_600_000);
    rng.reseed(key, d * 1_000_000);
    // Telesales works six days a week, Saturdays at half volume.
    const mean =
      weekday === 0 ? 0 : weekday === 6 ? VOLUMES.telemarketerReads / 2 : VOLUMES.telemarketerReads;
    const n = Math.min(190, around(rng, mean * ctx.scale, 0.2));
    const times = timesInDay(rng, midnight, CALLING_HOURS, n);
    for (let k = 0; k < n; k++) {
      const t = times[k]!;
      yield* pending.until(t);
      rng.reseed(key, d * 1_000_000 + k + 1);
      // Leads are worked in the order the dialler offers them; one without a valid consent is
      // usually skipped, but a hurried agent sometimes opens it anyway (the policy then denies it).
      let i = org.portfolioAt(e.external_id, rng.int(size));
      for (let tries = 0; tries < 3; tries++) {
        if (org.consentInForce(i, 'telemarketing', null, t)) break;
        i = org.portfolioAt(e.external_id, rng.int(size));
      }
      const subject = externalId(i);
      yield {
        t,
        ev: {
          at: iso(t),
          actor: e.external_id,
          purpose: 'telemarketing',
          subject,
          fields: LEAD_FIELDS,
          kind: 'read',
        },
      };
      if (rng.chance(VOLUMES.callShare)) {
        const tc = t + 5_000 + rng.int(40_000);
        pending.add({
          t: tc,
          ev: {
            at: iso(tc),
            actor: TELEPHONY_SERVICE,
            purpose: 'contact',
            subject,
            fields: ['mobile'],
            kind: 'contact',
          },
        });
      }
    }
  }
  yield* pending.until(Number.POSITIVE_INFINITY);
}

function* supportAgent(ctx: Ctx, e: Employee, agents: number): Stream {
  const { org } = ctx;
  const key = actorKey(ctx, e.external_id);
  const rng = new Rng();
  const pending = new Pending();
  for (let d = 0; d < ctx.midnights.length; d++) {
    const midnight = ctx.midnights[d]!;
    const weekday = localWeekday(midnight + 12 * 3_600_000);
    rng.reseed(key, d * 1_000_000);
    const perAgent = (org.customerCount * VOLUMES.ticketsPerCustomer) / agents;
    const n = around(rng, perAgent * (weekday === 0 || weekday === 6 ? 0.4 : 1) * ctx.scale, 0.3);
    const times = timesInDay(rng, midnight, OFFICE_HOURS, n);
    for (let k = 0; k < n; k++) {
      const t = times[k]!;
      yield* pending.until(t);
      rng.reseed(key, d * 1_000_000 + k + 1);
      // A ticket from any customer: opening it assigns the customer to the agent, who then looks
      // at the record a few times while working on it.
      const subject = externalId(rng.int(org.customerCount));
      yield {
        t,
        ev: {
          at: iso(t),
          actor: e.external_id,
          purpose: 'customer_support',
          subject,
          fields: [],
          kind: 'assign',
        },
      };
      let tr = t;
      const reads = rng.range(1, 3);
      for (let r = 0; r < reads; r++) {
        tr += 20_000 + rng.int(15 * 60_000);
        const fields = SUPPORT_FIELDS.filter((_f, j) => j < 2 || rng.chance(0.4));
        pending.add({
          t: tr,
          ev: {
            at: iso(tr),
            actor: e.external_id,
            purpose: 'customer_support',
            subject,
            fields,
            kind: 'read',
          },
        });
      }
    }
  }
  yield* pending.until(Number.POSITIVE_INFINITY);
}

function* simpleReader(
  ctx: Ctx,
  actor: string,
  purpose: string,
  profile: HourProfile,
  volume: (midnight: number, weekday: number) => number,
  subjectAt: (rng: Rng, t: number) => { subject: string; fields: readonly string[] } | null,
): Stream {
  const key = actorKey(ctx, actor);
  const rng = new Rng();
  for (let d = 0; d < ctx.midnights.length; d++) {
    const midnight = ctx.midnights[d]!;
    rng.reseed(key, d * 1_000_000);
    const n = around(rng, volume(midnight, localWeekday(midnight + 12 * 3_600_000)) * ctx.scale, 0.2);
    const times = timesInDay(rng, midnight, profile, n);
    for (let k = 0; k < n; k++) {
      const t = times[k]!;
      rng.reseed(key, d * 1_000_000 + k + 1);
      const s = subjectAt(rng, t);
      if (s)
        yield { t, ev: { at: iso(t), actor, purpose, subject: s.subject, fields: s.fields, kind: 'read' } };
    }
  }
}

function billingClerk(ctx: Ctx, e: Employee): Stream {
  const n = ctx.org.customerCount;
  return simpleReader(
    ctx,
    e.external_id,
    'billing',
    OFFICE_HOURS,
    (midnight, weekday) =>
      weekday === 0 || weekday === 6
        ? 0
        : Math.min(
            1900,
            localDayOfMonth(midnight + 12 * 3_600_000) <= 3 ? VOLUMES.billingRunReads : VOLUMES.billingReads,
          ),
    (rng) => ({
      subject: externalId(rng.int(n)),
      fields: rng.chance(0.3) ? ['name', 'address', 'company', 'email'] : ['name', 'address', 'company'],
    }),
  );
}

function privacyOfficer(ctx: Ctx, e: Employee): Stream {
  const n = ctx.org.customerCount;
  return simpleReader(
    ctx,
    e.external_id,
    'investigation',
    OFFICE_HOURS,
    (_, weekday) => (weekday === 0 || weekday === 6 ? 0 : VOLUMES.investigations),
    (rng) => ({ subject: externalId(rng.int(n)), fields: ['name', 'mobile'] }),
  );
}

function distributor(ctx: Ctx, p: Partner): Stream {
  const { org } = ctx;
  const n = org.customerCount;
  // Roughly how many customers consented to this partner: sampled once so volumes need no scan.
  const probe = new Rng(actorKey(ctx, p.external_id), 0xffffffff);
  let hits = 0;
  const samples = Math.min(n, 2000);
  for (let s = 0; s < samples; s++) if (org.referralPartnerOf(probe.int(n)) === p.external_id) hits++;
  const referred = (hits / samples) * n;
  return simpleReader(
    ctx,
    p.external_id,
    'partner_referral',
    PARTNER_HOURS,
    (_, weekday) => (weekday === 0 ? 0.2 : 1) * referred * VOLUMES.referralReadShare,
    (rng, t) => {
      // Rejection sampling over the cheap consent plan: the partner works its own referrals,
      // preferring those whose consent is still in force.
      let fallback: number | null = null;
      for (let tries = 0; tries < 20_000; tries++) {
        const i = rng.int(n);
        if (org.referralPartnerOf(i) !== p.external_id) continue;
        if (org.consentInForce(i, 'partner_referral', p.external_id, t))
          return { subject: externalId(i), fields: ['name', 'mobile'] };
        fallback ??= i;
        if (tries > 200) break;
      }
      return fallback === null ? null : { subject: externalId(fallback), fields: ['name', 'mobile'] };
    },
  );
}

/** Merges time-ordered streams; ties go to the stream listed first, so the order is reproducible. */
export function* mergeByTime(streams: readonly Generator<Timed, void, undefined>[]): Generator<Timed> {
  const heap: { head: Timed; ord: number; it: Generator<Timed, void, undefined> }[] = [];
  const less = (a: (typeof heap)[number], b: (typeof heap)[number]) =>
    a.head.t < b.head.t || (a.head.t === b.head.t && a.ord < b.ord);
  const up = (k: number) => {
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (!less(heap[k]!, heap[p]!)) break;
      [heap[k], heap[p]] = [heap[p]!, heap[k]!];
      k = p;
    }
  };
  const down = (k: number) => {
    for (;;) {
      const l = 2 * k + 1;
      const r = l + 1;
      let m = k;
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
      if (m === k) return;
      [heap[k], heap[m]] = [heap[m]!, heap[k]!];
      k = m;
    }
  };
  streams.forEach((it, ord) => {
    const first = it.next();
    if (!first.done) {
      heap.push({ head: first.value, ord, it });
      up(heap.length - 1);
    }
  });
  while (heap.length > 0) {
    const top = heap[0]!;
    yield top.head;
    const next = top.it.next();
    if (next.done) {
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        down(0);
      }
    } else {
      if (next.value.t < top.head.t) throw new Error('workload stream went back in time');
      top.head = next.value;
      down(0);
    }
  }
}

/** The organisation's normal activity over `days` local days from `start`, in time order. */
export function* generateWorkload(opts: WorkloadOptions): Generator<WorkloadEvent> {
  const { org } = opts;
  if (!Number.isSafeInteger(opts.days) || opts.days < 0) throw new RangeError('days must be a whole number');
  const scale = opts.scale ?? 1;
  if (!(scale >= 0)) throw new RangeError('scale must be ≥ 0');
  const first = localMidnight(opts.start.getTime());
  const ctx: Ctx = {
    org,
    seed: opts.seed ?? org.seed,
    scale,
    midnights: Array.from({ length: opts.days }, (_, d) => first + d * DAY_MS),
  };
  const supportAgents = org.byRole('support');
  const streams: Stream[] = [
    ...org.byRole('telemarketing').map((e) => telemarketer(ctx, e)),
    ...supportAgents.map((e) => supportAgent(ctx, e, supportAgents.length)),
    ...org.byRole('billing').map((e) => billingClerk(ctx, e)),
    ...org.byRole('privacy_officer').map((e) => privacyOfficer(ctx, e)),
    ...org.partners.filter((p) => p.kind === 'distributor').map((p) => distributor(ctx, p)),
  ];
  for (const x of mergeByTime(streams)) yield x.ev;
}
