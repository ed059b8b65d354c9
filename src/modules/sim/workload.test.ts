import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Rng, randomIdentity, streamKey } from '../../lib/synthetic/index.js';
import {
  bulkScrape,
  consentValidAt,
  externalId,
  generateOrganisation,
  generateWorkload,
  MAX_CUSTOMERS,
  TELEPHONY_SERVICE,
  telemarketerLeak,
  type WorkloadEvent,
} from './index.js';

const N = 20_000;
const org = generateOrganisation({ seed: 'wl-seed', customers: N });
// Monday 3 June 2019 to Sunday 9 June, China time.
const start = new Date('2019-06-03T00:00:00+08:00');
const week: WorkloadEvent[] = [...generateWorkload({ org, start, days: 7 })];

function hashOf(events: Iterable<unknown>): string {
  const h = createHash('sha256');
  for (const e of events) h.update(`${JSON.stringify(e)}\n`);
  return h.digest('hex');
}
const localHour = (at: string) => (new Date(at).getUTCHours() + 8) % 24;
const localDay = (at: string) => new Date(Date.parse(at) + 8 * 3_600_000).toISOString().slice(0, 10);
const index = (id: string) => Number(id.slice(1));

describe('workload', () => {
  it('is the same for the same seed and differs for another', () => {
    const again = hashOf(generateWorkload({ org, start, days: 7 }));
    expect(again).toBe(hashOf(week));
    expect(hashOf(generateWorkload({ org, start, days: 7, seed: 'other' }))).not.toBe(again);
  });

  it('is in time order, names known actors and customers, and has every kind of activity', () => {
    for (let k = 1; k < week.length; k++) expect(week[k]!.at >= week[k - 1]!.at).toBe(true);
    const actors = new Set([
      ...org.employees.map((e) => e.external_id),
      ...org.partners.map((p) => p.external_id),
      TELEPHONY_SERVICE,
    ]);
    expect(week.every((e) => actors.has(e.actor) && /^C\d{8}$/.test(e.subject) && index(e.subject) < N)).toBe(
      true,
    );
    const purposes = new Set(week.map((e) => `${e.purpose}/${e.kind}`));
    expect([...purposes].sort()).toEqual([
      'billing/read',
      'contact/contact',
      'customer_support/assign',
      'customer_support/read',
      'investigation/read',
      'partner_referral/read',
      'telemarketing/read',
    ]);
    expect(week[0]!.at >= start.toISOString().slice(0, 19)).toBe(true);
    expect(Date.parse(week.at(-1)!.at)).toBeLessThan(start.getTime() + 7 * 86_400_000);
  });

  it('follows the daily rhythm: busy in office hours, quiet at night', () => {
    const night = week.filter((e) => localHour(e.at) >= 23 || localHour(e.at) < 7).length;
    const office = week.filter((e) => localHour(e.at) >= 9 && localHour(e.at) < 18).length;
    expect(night / week.length).toBeLessThan(0.03);
    expect(office / week.length).toBeGreaterThan(0.6);
  });

  it('telemarketers work their own leads, within quota, in calling hours, not on Sunday', () => {
    const reads = week.filter((e) => e.purpose === 'telemarketing');
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.filter((e) => org.ownerOf(index(e.subject)) !== e.actor)).toEqual([]);
    expect(reads.filter((e) => localHour(e.at) < 9 || localHour(e.at) >= 21)).toEqual([]);
    expect(reads.filter((e) => localDay(e.at) === '2019-06-09')).toEqual([]);
    const perDay = new Map<string, number>();
    for (const e of reads)
      perDay.set(`${e.actor}/${localDay(e.at)}`, (perDay.get(`${e.actor}/${localDay(e.at)}`) ?? 0) + 1);
    expect(Math.max(...perDay.values())).toBeLessThanOrEqual(190);
    // Mostly leads who agreed to be called; the rest are what the guarded policy denies.
    const consented = reads.filter((e) =>
      consentValidAt(org.consentsOf(index(e.subject)), 'telemarketing', null, Date.parse(e.at)),
    );
    expect(consented.length / reads.length).toBeGreaterThan(0.85);
  });

  it('every call through the telephony service follows a telemarketer read of the same customer', () => {
    const lastRead = new Map<string, number>();
    for (const e of week) {
      if (e.purpose === 'telemarketing') lastRead.set(e.subject, Date.parse(e.at));
      if (e.kind === 'contact') {
        const t = lastRead.get(e.subject);
        expect(t).toBeDefined();
        expect(Date.parse(e.at) - t!).toBeLessThanOrEqual(60_000);
      }
    }
  });

  it('support reads follow the ticket that assigned the customer to the agent', () => {
    const assigned = new Set<string>();
    for (const e of week) {
      if (e.kind === 'assign') assigned.add(`${e.actor}/${e.subject}`);
      if (e.purpose === 'customer_support' && e.kind === 'read')
        expect(assigned.has(`${e.actor}/${e.subject}`)).toBe(true);
    }
  });

  it('partners read only customers referred to them', () => {
    const partnerReads = week.filter((e) => e.purpose === 'partner_referral');
    expect(partnerReads.length).toBeGreaterThan(0);
    expect(partnerReads.filter((e) => org.referralPartnerOf(index(e.subject)) !== e.actor)).toEqual([]);
  });

  it('billing runs at the start of the month', () => {
    const billing = week.filter((e) => e.purpose === 'billing');
    const july = [...generateWorkload({ org, start: new Date('2019-07-01T00:00:00+08:00'), days: 1 })].filter(
      (e) => e.purpose === 'billing',
    );
    // 3 June is still in the run; Wednesday 5 June is an ordinary day.
    const wednesday = billing.filter((e) => localDay(e.at) === '2019-06-05').length;
    const third = billing.filter((e) => localDay(e.at) === '2019-06-03').length;
    expect(july.length).toBeGreaterThan(wednesday * 3);
    expect(third).toBeGreaterThan(wednesday * 3);
  });
});

describe('scenario: telemarketer-2019', () => {
  // Canary-shaped records: the canaries' own generator, seeded here so the test is repeatable.
  const canaries = [0, 1, 2].map((index) => ({
    external_id: externalId(MAX_CUSTOMERS - 1 - index),
    ...randomIdentity(new Rng(streamKey('wl-seed', 'canary'), index), streamKey('wl-seed', 'company')),
  }));
  const leak = telemarketerLeak({ org, start: new Date('2019-06-10T00:00:00+08:00'), canaries });

  it('reads only outside his portfolio (and the canaries in his view), over several days', () => {
    const canaryIds = new Set(canaries.map((c) => c.external_id));
    const real = leak.reads.filter((r) => !canaryIds.has(r.subject));
    expect(real.length).toBe(4 * 250);
    expect(real.filter((r) => org.ownerOf(index(r.subject)) === leak.telemarketer.external_id)).toEqual([]);
    expect(new Set(real.map((r) => r.subject)).size).toBe(real.length);
    expect(new Set(leak.reads.map((r) => localDay(r.at))).size).toBe(4);
    expect(leak.reads.every((r) => r.actor === leak.telemarketer.external_id)).toBe(true);
  });

  it('hands over a list of people he read, canaries included, with their real contact details', () => {
    const read = new Set(leak.reads.map((r) => r.subject));
    expect(leak.list.every((row) => read.has(row.external_id))).toBe(true);
    for (const c of canaries) expect(leak.list.map((r) => r.mobile)).toContain(c.mobile);
    for (const row of leak.list.filter((r) => !r.external_id.startsWith('C999'))) {
      const rec = org.customer(index(row.external_id)).record;
      expect([row.name, row.mobile, row.company]).toEqual([rec.name, rec.mobile, rec.company]);
    }
    expect(leak.handedOverAt > leak.reads.at(-1)!.at).toBe(true);
    expect(leak.distributor.staff).toContain(leak.receiver);
  });

  it('the distributor calls everyone on the list after the handover, and some complain', () => {
    expect(leak.calls.length).toBe(leak.list.length);
    expect(leak.calls.every((c) => c.at > leak.handedOverAt)).toBe(true);
    const called = new Map(leak.calls.map((c) => [c.external_id, c.at]));
    expect(leak.complaints.length).toBeGreaterThan(0);
    for (const c of leak.complaints) expect(c.at > called.get(c.external_id)!).toBe(true);
  });

  it('is deterministic', () => {
    const again = telemarketerLeak({ org, start: new Date('2019-06-10T00:00:00+08:00'), canaries });
    expect(hashOf([again])).toBe(hashOf([leak]));
    const other = telemarketerLeak({
      org,
      start: new Date('2019-06-10T00:00:00+08:00'),
      canaries,
      seed: 'x',
    });
    expect(hashOf([other])).not.toBe(hashOf([leak]));
  });
});

describe('scenario: bulk-scrape-2020', () => {
  it('pulls distinct records from one account at the configured rate', () => {
    const events = [
      ...bulkScrape({
        org,
        start: new Date('2020-03-01T02:00:00+08:00'),
        records: 15_000,
        ratePerSecond: 50,
      }),
    ];
    expect(events.length).toBe(15_000);
    expect(new Set(events.map((e) => e.subject)).size).toBe(15_000);
    expect(new Set(events.map((e) => e.actor)).size).toBe(1);
    expect(org.employee(events[0]!.actor)?.role).toBe('support');
    const seconds = (Date.parse(events.at(-1)!.at) - Date.parse(events[0]!.at)) / 1000;
    expect(seconds).toBeGreaterThan(15_000 / 50 / 1.1);
    expect(seconds).toBeLessThan(15_000 / 50 / 0.9);
    for (let k = 1; k < events.length; k++) expect(events[k]!.at >= events[k - 1]!.at).toBe(true);
    // Never more than every customer.
    expect([...bulkScrape({ org, start: new Date(), records: 400_000 })].length).toBe(N);
  });
});
