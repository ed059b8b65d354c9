import { Permutation, Rng, streamKey } from '../../lib/synthetic/index.js';
import { type CustomerRecord, customerIndex, externalId } from './customers.js';
import type { Employee, Organisation, Partner, PartnerStaff } from './org.js';
import { CALLING_HOURS, DAY_MS, HOUR_MS, iso, localMidnight, OFFICE_HOURS, timeInDay } from './time.js';
import type { WorkloadEvent } from './workload.js';

/**
 * Incidents from shared/SCENARIOS.md as pure data: the events and artefacts an incident produces,
 * to be replayed against a Custodian deployment by whoever runs the scenario. Nothing here decides
 * what the system should do about them.
 */

export interface LeakedRow {
  /** Not in the handed-over file; kept so tests and the trace can check who was on it. */
  readonly external_id: string;
  readonly name: string;
  readonly mobile: string;
  readonly company: string;
}

export interface ColdCall {
  readonly at: string;
  /** The partner's staff member who called. */
  readonly caller: string;
  readonly partner: string;
  readonly external_id: string;
  readonly mobile: string;
  /** What the caller named: the customer, and the customer's company. */
  readonly mentions: readonly ('name' | 'company')[];
}

export interface Complaint {
  readonly at: string;
  readonly external_id: string;
  readonly mobile: string;
  /** The partner the caller said they were from. */
  readonly partner: string;
  readonly text: string;
}

export interface TelemarketerLeak {
  readonly telemarketer: Employee;
  readonly distributor: Partner;
  readonly receiver: PartnerStaff;
  /** His out-of-portfolio reads (and reads of the canaries in his view), in time order. */
  readonly reads: readonly WorkloadEvent[];
  readonly handedOverAt: string;
  /** The list he handed over: name, phone, company. */
  readonly list: readonly LeakedRow[];
  readonly calls: readonly ColdCall[];
  readonly complaints: readonly Complaint[];
}

/** After-hours activity: the leak's reads cluster when nobody is watching. */
const EVENING = [0.5, 0.2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 4, 6, 8, 8, 6, 2];

export interface TelemarketerLeakOptions {
  readonly org: Organisation;
  /** The first day of the reads (local day containing it). */
  readonly start: Date;
  readonly seed?: string;
  readonly days?: number;
  /** Out-of-portfolio reads per day (beyond the guarded policy's daily quota of 200 by default). */
  readonly perDay?: number;
  /** Employee external id; by default one of the telemarketers, chosen by the seed. */
  readonly telemarketer?: string;
  /** Partner external id; by default one of the distributors. */
  readonly distributor?: string;
  /** Synthetic customers placed in his view (canaries): he reads them and they go on the list. */
  readonly canaries?: readonly CustomerRecord[];
  /** Share of the people read that make it onto the list. */
  readonly listShare?: number;
  /** Share of the called customers who complain. */
  readonly complaintShare?: number;
}

/**
 * telemarketer-2019: over several days a telemarketer reads contact details of customers outside
 * his portfolio, hands a list (name, phone, company) to a distributor's staff member, who cold-calls
 * them naming the customer and the company; some complain.
 */
export function telemarketerLeak(opts: TelemarketerLeakOptions): TelemarketerLeak {
  const { org } = opts;
  const seed = opts.seed ?? org.seed;
  const days = opts.days ?? 4;
  const perDay = opts.perDay ?? 250;
  const listShare = opts.listShare ?? 0.9;
  const complaintShare = opts.complaintShare ?? 0.03;
  if (!Number.isSafeInteger(days) || days < 1) throw new RangeError('days must be ≥ 1');
  if (!Number.isSafeInteger(perDay) || perDay < 1) throw new RangeError('perDay must be ≥ 1');
  const rng = new Rng(streamKey(seed, 'scenario:telemarketer-2019'), 0);

  const telemarketers = org.byRole('telemarketing');
  const tm = opts.telemarketer
    ? org.employee(opts.telemarketer)
    : telemarketers[rng.int(telemarketers.length)];
  if (tm?.role !== 'telemarketing') throw new RangeError('telemarketer must be a telemarketing employee');
  const distributors = org.partners.filter((p) => p.kind === 'distributor');
  const dist = opts.distributor ? org.partner(opts.distributor) : distributors[rng.int(distributors.length)];
  if (!dist) throw new RangeError('distributor must be a partner');
  const receiver = dist.staff[rng.int(dist.staff.length)]!;

  const own = org.portfolioSize(tm.external_id);
  const outside = org.customerCount - own;
  const wanted = days * perDay;
  if (outside < wanted) throw new RangeError('not enough customers outside his portfolio');

  // Distinct customers in a seed-determined order, skipping his own leads.
  const order = new Permutation(org.customerCount, streamKey(seed, `scenario:telemarketer-2019:order`));
  const picked: number[] = [];
  for (let j = 0; picked.length < wanted; j++) {
    const i = order.apply(j);
    if (org.ownerOf(i) !== tm.external_id) picked.push(i);
  }

  const first = localMidnight(opts.start.getTime());
  const reads: { t: number; subject: string }[] = [];
  picked.forEach((i, k) => {
    const d = Math.floor(k / perDay);
    // Mostly working hours, and more in the evening when colleagues have gone home.
    reads.push({
      t: timeInDay(rng, first + d * DAY_MS, k % 3 === 0 ? EVENING : CALLING_HOURS),
      subject: externalId(i),
    });
  });
  const canaries = opts.canaries ?? [];
  for (const c of canaries)
    reads.push({ t: timeInDay(rng, first + rng.int(days) * DAY_MS, CALLING_HOURS), subject: c.external_id });
  reads.sort((a, b) => a.t - b.t || (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));

  // The list: most of the people he read (all canaries in his view among them), in read order.
  const canaryById = new Map(canaries.map((c) => [c.external_id, c]));
  const list: LeakedRow[] = [];
  for (const r of reads) {
    const canary = canaryById.get(r.subject);
    if (!canary && !rng.chance(listShare)) continue;
    const rec = canary ?? org.customer(customerIndex(r.subject)!).record;
    list.push({ external_id: rec.external_id, name: rec.name, mobile: rec.mobile, company: rec.company });
  }
  const handedOver = timeInDay(rng, first + days * DAY_MS, OFFICE_HOURS);

  // The distributor's staff work through the list over the next two weeks, in business hours.
  const callers = dist.staff;
  const calls: (ColdCall & { t: number })[] = list.map((row) => {
    const t = timeInDay(rng, localMidnight(handedOver) + (1 + rng.int(14)) * DAY_MS, OFFICE_HOURS);
    const caller = rng.chance(0.5) ? receiver : callers[rng.int(callers.length)]!;
    return {
      t,
      at: iso(t),
      caller: caller.id,
      partner: dist.external_id,
      external_id: row.external_id,
      mobile: row.mobile,
      mentions: row.company ? ['name', 'company'] : ['name'],
    };
  });
  calls.sort((a, b) => a.t - b.t || a.external_id.localeCompare(b.external_id));

  const complaints: (Complaint & { t: number })[] = [];
  for (const c of calls) {
    if (canaryById.has(c.external_id) || !rng.chance(complaintShare)) continue;
    const t = c.t + HOUR_MS + rng.int(3 * DAY_MS);
    complaints.push({
      t,
      at: iso(t),
      external_id: c.external_id,
      mobile: c.mobile,
      partner: dist.external_id,
      text: `A caller from ${dist.name} phoned me by name and named my company; I never agreed to be contacted by them.`,
    });
  }
  complaints.sort((a, b) => a.t - b.t || a.external_id.localeCompare(b.external_id));

  return {
    telemarketer: tm,
    distributor: dist,
    receiver,
    reads: reads.map((r) => ({
      at: iso(r.t),
      actor: tm.external_id,
      purpose: 'telemarketing',
      subject: r.subject,
      fields: ['name', 'mobile', 'company'],
      kind: 'read',
    })),
    handedOverAt: iso(handedOver),
    list,
    calls: calls.map(({ t: _, ...c }) => c),
    complaints: complaints.map(({ t: _, ...c }) => c),
  };
}

export interface BulkScrapeOptions {
  readonly org: Organisation;
  readonly start: Date;
  readonly seed?: string;
  /** How many records the script tries to pull (the 2020 insiders pulled 400k); at most every customer. */
  readonly records?: number;
  /** The account the script drives; by default a support agent chosen by the seed. */
  readonly actor?: string;
  /** Mean requests per second the script sustains (Poisson arrivals around it). */
  readonly ratePerSecond?: number;
  readonly purpose?: string;
  readonly fields?: readonly string[];
}

/**
 * bulk-scrape-2020: a script drives an employee account to pull records as fast as the API allows,
 * every customer at most once, in an order unrelated to any assignment.
 */
export function* bulkScrape(opts: BulkScrapeOptions): Generator<WorkloadEvent> {
  const { org } = opts;
  const seed = opts.seed ?? org.seed;
  const records = Math.min(opts.records ?? 400_000, org.customerCount);
  const rate = opts.ratePerSecond ?? 40;
  if (!(rate > 0)) throw new RangeError('ratePerSecond must be > 0');
  const rng = new Rng(streamKey(seed, 'scenario:bulk-scrape-2020'), 0);
  const agents = org.byRole('support');
  const actor = opts.actor ?? agents[rng.int(agents.length)]?.external_id;
  if (!actor || (!org.employee(actor) && !org.partner(actor)))
    throw new RangeError('actor must be an employee or partner');
  const purpose = opts.purpose ?? 'customer_support';
  const fields = opts.fields ?? ['name', 'mobile', 'address'];
  const order = new Permutation(org.customerCount, streamKey(seed, 'scenario:bulk-scrape-2020:order'));
  let t = opts.start.getTime();
  for (let j = 0; j < records; j++) {
    yield { at: iso(t), actor, purpose, subject: externalId(order.apply(j)), fields, kind: 'read' };
    // Exponential gaps: requests from a few parallel workers arrive like a Poisson process.
    t += (-Math.log(1 - rng.float()) * 1000) / rate;
  }
}
