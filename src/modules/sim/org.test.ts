import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import {
  CONSENT_CSV_COLUMNS,
  consentValidAt,
  EMPLOYEE_ROLES,
  generateOrganisation,
  isValidCnMobile,
  isValidUscc,
  type Organisation,
  PROPORTIONS,
} from './index.js';

const N = 20_000;
const org = generateOrganisation({ seed: 'org-seed', customers: N });

function digest(org: Organisation): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([org.employees, org.partners, org.services, org.notices, org.since, org.asOf]));
  for (const l of org.consentsCsv()) h.update(l);
  for (const a of org.assignments()) h.update(`${a.actor},${a.external_id},${a.kind}\n`);
  for (const l of org.customers()) h.update(JSON.stringify(l));
  return h.digest('hex');
}

describe('organisation: determinism', () => {
  it(
    'the same seed gives the same organisation, consents and assignments; another seed differs',
    {
      timeout: 120_000,
    },
    () => {
      const a = digest(org);
      expect(digest(generateOrganisation({ seed: 'org-seed', customers: N }))).toBe(a);
      expect(digest(generateOrganisation({ seed: 'org-seed-2', customers: N }))).not.toBe(a);
    },
  );

  it('a range of a stream equals the same part of the whole stream', () => {
    const all = [...org.consents()];
    const part = [...org.consents({ start: 5000, count: 1000 })];
    const first = all.findIndex((c) => c.external_id >= 'C00005000');
    expect(part).toEqual(all.slice(first, first + part.length));
    expect(part.at(-1)!.external_id < 'C00006000').toBe(true);
  });
});

describe('organisation: people', () => {
  it('has every role, unique staff numbers, mail addresses and valid mobiles', () => {
    for (const role of EMPLOYEE_ROLES) expect(org.byRole(role).length).toBeGreaterThan(0);
    const ids = org.employees.map((e) => e.external_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(org.employees.map((e) => e.email)).size).toBe(ids.length);
    expect(org.employees.every((e) => isValidCnMobile(e.mobile))).toBe(true);
    // Staff numbers are never customer numbers.
    const customerMobiles = new Set([...org.customers()].map((c) => c.mobile));
    expect(org.employees.filter((e) => customerMobiles.has(e.mobile))).toEqual([]);
    const cnStaff = org.partners.filter((p) => p.jurisdiction === 'CN').flatMap((p) => p.staff);
    expect(cnStaff.filter((s) => customerMobiles.has(s.mobile) || !isValidCnMobile(s.mobile))).toEqual([]);
  });

  it('telemarketers report to sales managers; field roles have regions, head office does not', () => {
    const managers = new Set(org.byRole('sales_manager').map((m) => m.external_id));
    expect(org.byRole('telemarketing').every((t) => t.manager !== null && managers.has(t.manager))).toBe(
      true,
    );
    const regionsWithManagers = new Set(org.byRole('sales_manager').map((m) => m.region));
    for (const t of org.byRole('telemarketing'))
      if (regionsWithManagers.has(t.region)) expect(org.employee(t.manager!)!.region).toBe(t.region);
    expect(org.byRole('billing').every((e) => e.region === 'hq')).toBe(true);
    expect(org.byRole('telemarketing').every((e) => e.region !== 'hq' && e.department === 'telesales')).toBe(
      true,
    );
  });

  it('partners: domestic ones carry a valid USCC, and there are distributors', () => {
    expect(org.partners.filter((p) => p.kind === 'distributor').length).toBeGreaterThanOrEqual(3);
    for (const p of org.partners) {
      if (p.jurisdiction === 'CN') expect(p.uscc).toSatisfy((u: string) => isValidUscc(u));
      else expect(p.uscc).toBeNull();
      expect(p.staff.length).toBeGreaterThanOrEqual(2);
      expect(p.contact.name).toBe(p.staff[0]!.name);
    }
    const foreign = generateOrganisation({ seed: 'org-seed', customers: N, partners: 120 }).partners.filter(
      (p) => p.jurisdiction !== 'CN',
    );
    expect(foreign.length).toBeGreaterThan(3);
  });

  it('scales with the customer count, without materialising customers', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    const big = generateOrganisation({ seed: 'big', customers: 10_000_000 });
    expect(big.byRole('telemarketing').length).toBe(4000);
    let consents = 0;
    for (const _ of big.consents({ start: 9_900_000, count: 100_000 })) consents++;
    expect(consents).toBeGreaterThan(70_000);
    gc();
    // The organisation itself (4000 telemarketers, …) stays; no per-customer state does.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(50 * 1024 * 1024);
    expect(big.customerCount).toBe(10_000_000);
  });
});

describe('organisation: portfolios', () => {
  it('every customer in a portfolio is owned by that employee, and portfolios partition the leads', () => {
    let total = 0;
    const seen = new Set<number>();
    for (const e of [...org.byRole('telemarketing'), ...org.byRole('sales_manager')]) {
      for (const i of org.portfolio(e.external_id)) {
        expect(org.ownerOf(i)).toBe(e.external_id);
        seen.add(i);
        total++;
      }
    }
    expect(seen.size).toBe(total);
    const expected = Math.floor(N * PROPORTIONS.keyAccounts) + Math.floor(N * PROPORTIONS.leads);
    expect(total).toBe(expected);
    let owned = 0;
    for (let i = 0; i < N; i++) if (org.ownerOf(i) !== null) owned++;
    expect(owned).toBe(expected);
    expect(org.portfolioSize(org.byRole('support')[0]!.external_id)).toBe(0);
  });

  it('the assignments stream agrees with ownerOf and with the referral consents', () => {
    const consents = new Map<string, string>();
    for (const c of org.consents())
      if (c.purpose === 'partner_referral' && c.withdrawn_at === null)
        consents.set(c.external_id, c.recipient_id!);
    let referrals = 0;
    for (const a of org.assignments()) {
      const i = Number(a.external_id.slice(1));
      if (a.kind === 'referral') {
        expect(consents.get(a.external_id)).toBe(a.actor);
        referrals++;
      } else expect(org.ownerOf(i)).toBe(a.actor);
    }
    expect(referrals).toBe(consents.size);
  });
});

describe('organisation: consents', () => {
  const all = [...org.consents()];
  const since = Date.parse(org.since);
  const asOf = Date.parse(org.asOf);

  it('come in the configured proportions', () => {
    const tm = all.filter((c) => c.purpose === 'telemarketing').length / N;
    const ref = all.filter((c) => c.purpose === 'partner_referral').length / N;
    expect(Math.abs(tm - PROPORTIONS.telemarketingConsent)).toBeLessThan(0.02);
    expect(Math.abs(ref - PROPORTIONS.referralConsent)).toBeLessThan(0.02);
    const methods = new Set(all.map((c) => c.method));
    expect([...methods].sort()).toEqual(['app', 'paper', 'phone', 'web']);
  });

  it('are consistent: times in order, separate consent names a distributor, notices exist', () => {
    const distributors = new Map(
      org.partners.filter((p) => p.kind === 'distributor').map((p) => [p.external_id, p]),
    );
    const notices = new Map(org.notices.map((n) => [n.id, n]));
    for (const c of all) {
      const i = Number(c.external_id.slice(1));
      const given = Date.parse(c.given_at);
      expect(given).toBeGreaterThanOrEqual(Math.floor(org.registeredAt(i) / 1000) * 1000);
      expect(given).toBeLessThanOrEqual(asOf);
      expect(given).toBeGreaterThanOrEqual(since);
      if (c.withdrawn_at) expect(Date.parse(c.withdrawn_at)).toBeGreaterThanOrEqual(given);
      const notice = notices.get(c.notice);
      expect(notice?.purpose).toBe(c.purpose);
      expect(Date.parse(notice!.effective_from)).toBeLessThanOrEqual(given);
      expect(c.mobile).toBe(org.customer(i).record.mobile);
      if (c.purpose === 'partner_referral') {
        const p = distributors.get(c.recipient_id!);
        expect(p).toBeDefined();
        expect(c.third_party).toBe(true);
        expect(c.cross_border).toBe(p!.jurisdiction !== 'CN');
        expect(Date.parse(c.given_at)).toBeGreaterThanOrEqual(Math.floor(Date.parse(p!.since) / 1000) * 1000);
      } else expect(c.recipient_id).toBeNull();
    }
  });

  it('a child under 14 consents through a guardian (PIPL art. 31), adults themselves', () => {
    let guardians = 0;
    for (const c of all) {
      const birth = org.customer(Number(c.external_id.slice(1))).birth;
      const given = new Date(Date.parse(c.given_at) + 8 * 3_600_000);
      const md = (given.getUTCMonth() + 1) * 100 + given.getUTCDate();
      const age = given.getUTCFullYear() - Number(birth.slice(0, 4)) - (md < Number(birth.slice(4)) ? 1 : 0);
      expect(c.given_by).toBe(age < 14 ? 'guardian' : 'subject');
      if (c.given_by === 'guardian') guardians++;
    }
    expect(guardians).toBeGreaterThan(0);
    expect(guardians / all.length).toBeLessThan(0.05);
  });

  it('the cheap consent check agrees with the consent records', () => {
    let inForce = 0;
    let checks = 0;
    const purposes = [
      ['telemarketing', null],
      ...org.partners.map((p) => ['partner_referral', p.external_id] as const),
    ] as const;
    for (let i = 0; i < N; i += 7) {
      const records = org.consentsOf(i);
      const times = [
        since,
        asOf,
        ...records
          .flatMap((c) => [c.given_at, c.withdrawn_at, c.expires_at])
          .filter((x): x is string => x !== null)
          .flatMap((x) => [Date.parse(x) - 1000, Date.parse(x), Date.parse(x) + 1000]),
      ];
      for (const [purpose, recipient] of purposes)
        for (const t of times) {
          const a = org.consentInForce(i, purpose, recipient, t);
          expect(a).toBe(consentValidAt(records, purpose, recipient, t));
          checks++;
          if (a) inForce++;
        }
    }
    expect(inForce).toBeGreaterThan(1000);
    expect(checks - inForce).toBeGreaterThan(1000);
  });

  it('registration times grow with the index', () => {
    for (let i = 1; i < N; i += 97) expect(org.registeredAt(i)).toBeGreaterThan(org.registeredAt(i - 1));
  });

  it('the CSV has the consent import columns and one row per consent', () => {
    const text = [...org.consentsCsv({ count: 2000 })].join('');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual([...CONSENT_CSV_COLUMNS]);
    expect(rows.length).toBe([...org.consents({ count: 2000 })].length);
    expect(rows.every((r) => /^\d{11}$/.test(r.mobile!) && r.fields === 'name;mobile;company')).toBe(true);
  });
});
