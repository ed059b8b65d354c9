import {
  email,
  type MobilePool,
  mobileWithSuffix,
  Permutation,
  PREFECTURES,
  type Prefecture,
  personName,
  Rng,
  TRADE_CHARS,
  universe,
  usccFor,
  Weighted,
  weightedPrefecture,
} from '../../lib/synthetic/index.js';
import {
  type CustomerDetail,
  type CustomerRecord,
  csvLine,
  customerCursor,
  externalId,
  generateCustomers,
  MAX_CUSTOMERS,
} from './customers.js';
import { DAY_MS, iso } from './time.js';

/**
 * The organisation around the customers: employees in roles, partners, a telephony service, the
 * notices customers consented to, portfolio assignments and consents. Employees and partners are
 * small and materialised; everything per customer is a function of (seed, options, customer index)
 * and is streamed, so ten million customers cost no more memory than ten thousand.
 */

export const EMPLOYEE_ROLES = [
  'telemarketing',
  'support',
  'billing',
  'sales_manager',
  'approver',
  'admin',
  'privacy_officer',
] as const;
export type EmployeeRole = (typeof EMPLOYEE_ROLES)[number];

const DEPARTMENTS: Record<EmployeeRole, string> = {
  telemarketing: 'telesales',
  sales_manager: 'sales',
  support: 'customer_service',
  billing: 'finance',
  approver: 'risk_control',
  admin: 'it',
  privacy_officer: 'legal',
};

/** The sales regions Chinese companies divide the country into, by province. */
export const SALES_REGIONS: readonly { readonly id: string; readonly provinces: readonly string[] }[] = [
  { id: 'east', provinces: ['上海市', '江苏省', '浙江省', '安徽省', '福建省', '江西省', '山东省'] },
  { id: 'south', provinces: ['广东省', '广西壮族自治区', '海南省'] },
  { id: 'north', provinces: ['北京市', '天津市', '河北省', '山西省', '内蒙古自治区'] },
  { id: 'central', provinces: ['河南省', '湖北省', '湖南省'] },
  { id: 'southwest', provinces: ['重庆市', '四川省', '贵州省', '云南省', '西藏自治区'] },
  { id: 'northwest', provinces: ['陕西省', '甘肃省', '青海省', '宁夏回族自治区', '新疆维吾尔自治区'] },
  { id: 'northeast', provinces: ['辽宁省', '吉林省', '黑龙江省'] },
];

export function regionOf(pref: Prefecture): string {
  const r = SALES_REGIONS.find((x) => x.provinces.includes(pref.province));
  if (!r) throw new Error(`no sales region for ${pref.province}`);
  return r.id;
}

const regions = new Weighted(
  SALES_REGIONS.map(
    (r) =>
      [
        r.id,
        PREFECTURES.filter((p) => r.provinces.includes(p.province)).reduce((s, p) => s + p.weight, 0),
      ] as const,
  ),
);

export interface Employee {
  /** Staff number, also the actor name: E + 5 digits. */
  readonly external_id: string;
  readonly name: string;
  readonly role: EmployeeRole;
  /** Actor attributes. */
  readonly department: string;
  /** A sales region for field roles, `hq` for head-office roles. */
  readonly region: string;
  readonly email: string;
  readonly mobile: string;
  /** The sales manager a telemarketer reports to. */
  readonly manager: string | null;
  readonly hired_at: string;
}

export const PARTNER_KINDS = [
  'distributor',
  'reseller',
  'marketing_agency',
  'payment',
  'logistics',
  'cloud',
] as const;
export type PartnerKind = (typeof PARTNER_KINDS)[number];

export interface PartnerStaff {
  readonly id: string;
  readonly name: string;
  readonly mobile: string;
}

export interface Partner {
  /** P + 4 digits, also the actor name and the consent's recipient_id. */
  readonly external_id: string;
  readonly name: string;
  readonly kind: PartnerKind;
  /** ISO 3166-1 alpha-2: a provision to a foreign partner is a cross-border transfer (PIPL art. 38). */
  readonly jurisdiction: string;
  readonly uscc: string | null;
  readonly region: string | null;
  readonly contact: { readonly name: string; readonly phone: string; readonly email: string };
  /** People at the partner; the 2019 list was handed to one of them. */
  readonly staff: readonly PartnerStaff[];
  readonly since: string;
}

export interface ServiceActor {
  readonly external_id: string;
  readonly roles: readonly string[];
  readonly description: string;
}

export const TELEPHONY_SERVICE = 'svc-telephony';

export interface Notice {
  /** `key@version`, as consent import files name it. */
  readonly id: string;
  readonly key: string;
  readonly version: number;
  readonly purpose: string;
  readonly fields: readonly string[];
  readonly recipient_id: string | null;
  readonly effective_from: string;
}

export const CONSENT_METHODS = ['web', 'app', 'phone', 'paper'] as const;
export type ConsentMethod = (typeof CONSENT_METHODS)[number];

/** One consent, with the columns of the consent import file (the mobile number is the lookup). */
export interface ConsentRecord {
  readonly external_id: string;
  readonly mobile: string;
  readonly purpose: 'telemarketing' | 'partner_referral';
  readonly recipient_id: string | null;
  readonly fields: readonly string[];
  readonly notice: string;
  readonly method: ConsentMethod;
  readonly given_by: 'subject' | 'guardian';
  readonly given_at: string;
  readonly expires_at: string | null;
  readonly withdrawn_at: string | null;
  readonly third_party: boolean;
  readonly cross_border: boolean;
  readonly evidence_ref: string;
}

export const CONSENT_CSV_COLUMNS = [
  'mobile',
  'purpose',
  'recipient_id',
  'fields',
  'notice',
  'method',
  'given_by',
  'given_at',
  'expires_at',
  'withdrawn_at',
  'sensitive',
  'third_party',
  'cross_border',
  'evidence_ref',
] as const;

export interface Assignment {
  /** Employee or partner external id. */
  readonly actor: string;
  readonly external_id: string;
  /** lead: a telemarketer's; key_account: a sales manager's; referral: a partner's consented referral. */
  readonly kind: 'lead' | 'key_account' | 'referral';
}

export interface OrganisationOptions {
  readonly seed: string;
  /** How many customers (indexes 0 … customers−1). */
  readonly customers: number;
  /** Head count per role; unspecified roles scale with the customer count. */
  readonly staff?: Partial<Record<EmployeeRole, number>>;
  readonly partners?: number;
  /** When the first customer registered (default 2015-01-01, China time). */
  readonly since?: Date;
  /** The present of the organisation: the last customer registers just before it (default 2019-06-01). */
  readonly asOf?: Date;
  /** Mail domain of employees (default corp.example; .example is reserved, RFC 2606). */
  readonly emailDomain?: string;
  /** Monitored canary ranges no customer, employee or partner may hold. */
  readonly reserve?: readonly MobilePool[];
}

/** Shares of customers (see docs/simulation.md). */
export const PROPORTIONS = {
  keyAccounts: 0.04,
  leads: 0.66,
  telemarketingConsent: 0.6,
  telemarketingConsentLater: 0.2,
  telemarketingWithdrawn: 0.06,
  referralConsent: 0.25,
  referralWithdrawn: 0.08,
} as const;

export interface Organisation {
  readonly seed: string;
  readonly customerCount: number;
  readonly since: string;
  readonly asOf: string;
  readonly employees: readonly Employee[];
  readonly partners: readonly Partner[];
  readonly services: readonly ServiceActor[];
  readonly notices: readonly Notice[];
  readonly reserve: readonly MobilePool[];
  employee(id: string): Employee | undefined;
  partner(id: string): Partner | undefined;
  byRole(role: EmployeeRole): readonly Employee[];
  /** The organisation's customers (or a slice): the file for `custodian import subjects`. */
  customers(range?: { start?: number; count?: number }): Generator<CustomerRecord>;
  customer(index: number): CustomerDetail;
  /** When customer `index` registered (ms since the epoch); increases with the index. */
  registeredAt(index: number): number;
  /** The employee whose portfolio holds the customer (telemarketer or sales manager), or null. */
  ownerOf(index: number): string | null;
  portfolioSize(employeeId: string): number;
  /** The k-th customer index of an employee's portfolio, 0 ≤ k < portfolioSize. */
  portfolioAt(employeeId: string, k: number): number;
  /** Customer indexes in an employee's portfolio, ascending by position (not by index). */
  portfolio(employeeId: string): Generator<number>;
  /** Every static assignment: leads, key accounts and (by consent) partners' referrals. */
  assignments(range?: { start?: number; count?: number }): Generator<Assignment>;
  /** The partner a customer agreed to be referred to (whether or not since withdrawn), or null. */
  referralPartnerOf(index: number): string | null;
  consentsOf(index: number): readonly ConsentRecord[];
  /**
   * Whether customer `index` has a consent in force at instant t for the purpose (and recipient):
   * the same answer as checking consentsOf, without generating the customer record.
   */
  consentInForce(index: number, purpose: string, recipient: string | null, t: number): boolean;
  consents(range?: { start?: number; count?: number }): Generator<ConsentRecord>;
  /** The consent import file: header and one CRLF-terminated line per consent. */
  consentsCsv(range?: { start?: number; count?: number }): Generator<string>;
}

// Employee and partner-staff numbers come from the top of the customers' mobile suffix space, so
// they never coincide with a customer's number; customers must stay below this bound.
const STAFF_SUFFIX_BAND = 1_000_000;
export const MAX_ORG_CUSTOMERS = MAX_CUSTOMERS - STAFF_SUFFIX_BAND;
const TWO_YEARS_MS = 730 * DAY_MS;

function defaultStaff(n: number): Record<EmployeeRole, number> {
  const telemarketing = Math.min(20_000, Math.max(4, Math.round(n / 2500)));
  const salesManagers = Math.max(1, Math.ceil(telemarketing / 12));
  return {
    telemarketing,
    sales_manager: salesManagers,
    support: Math.min(20_000, Math.max(3, Math.round(n / 8000))),
    billing: Math.min(2000, Math.max(2, Math.round(n / 40_000))),
    approver: Math.max(2, Math.ceil(salesManagers / 4)),
    admin: 2 + Math.floor(n / 1_000_000),
    privacy_officer: 1 + Math.floor(n / 5_000_000),
  };
}

// Head-office roles first, so adding telemarketers does not renumber the privacy officer.
const ROLE_ORDER: readonly EmployeeRole[] = [
  'admin',
  'privacy_officer',
  'approver',
  'billing',
  'sales_manager',
  'telemarketing',
  'support',
];

const FOREIGN = new Weighted<string>([
  ['HK', 4],
  ['SG', 3],
  ['US', 2],
  ['DE', 2],
  ['JP', 1],
]);
const FOREIGN_FORMS: Record<string, string> = {
  HK: 'Limited',
  SG: 'Pte. Ltd.',
  US: 'Inc.',
  DE: 'GmbH',
  JP: 'K.K.',
};
const FOREIGN_PHONE: Record<string, string> = {
  HK: '+852 ',
  SG: '+65 ',
  US: '+1 415 ',
  DE: '+49 30 ',
  JP: '+81 3 ',
};
const FOREIGN_A = 'Pacific Harbour Golden Eastern Silkroad Bluewater Summit Meridian Lotus Jade'.split(' ');
const FOREIGN_B = 'Trading Distribution Commerce Marketing Ventures Partners Solutions Networks'.split(' ');
const PARTNER_INDUSTRY: Record<PartnerKind, string> = {
  distributor: '贸易',
  reseller: '信息技术',
  marketing_agency: '营销策划',
  payment: '支付科技',
  logistics: '供应链管理',
  cloud: '云计算',
};
const partnerKinds = new Weighted<PartnerKind>([
  ['distributor', 60],
  ['reseller', 15],
  ['marketing_agency', 10],
  ['payment', 5],
  ['logistics', 5],
  ['cloud', 5],
]);
const signupMethods = new Weighted<ConsentMethod>([
  ['web', 50],
  ['app', 42],
  ['paper', 8],
]);
const referralMethods = new Weighted<ConsentMethod>([
  ['app', 45],
  ['web', 35],
  ['phone', 12],
  ['paper', 8],
]);

export function generateOrganisation(opts: OrganisationOptions): Organisation {
  const n = opts.customers;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_ORG_CUSTOMERS)
    throw new RangeError(`customers must be an integer in [1, ${MAX_ORG_CUSTOMERS}]`);
  const seed = opts.seed;
  const u = universe(seed);
  const reserve = opts.reserve ?? [];
  const since = (opts.since ?? new Date('2014-12-31T16:00:00Z')).getTime();
  const asOf = (opts.asOf ?? new Date('2019-05-31T16:00:00Z')).getTime();
  if (!(asOf > since)) throw new RangeError('asOf must be after since');
  const domain = opts.emailDomain ?? 'corp.example';
  const rng = new Rng();

  // --- employees ---
  const counts = { ...defaultStaff(n), ...opts.staff };
  const employees: Employee[] = [];
  const usedMail = new Set<string>();
  const employeeKey = u.key('employee');
  // Sales managers come before telemarketers in ROLE_ORDER, so each telemarketer can be given a
  // manager of their own region (taking turns), or any manager when the region has none.
  const managersByRegion = new Map<string, Employee[]>();
  const allManagers: Employee[] = [];
  let turn = 0;
  for (const role of ROLE_ORDER) {
    const count = counts[role];
    if (!Number.isSafeInteger(count) || count < 0)
      throw new RangeError(`staff.${role} must be a whole number`);
    for (let k = 0; k < count; k++) {
      const j = employees.length;
      rng.reseed(employeeKey, j);
      const male = rng.chance(0.5);
      const birthYear = rng.range(1975, 1998);
      const name = personName(rng, male, birthYear);
      let local = `${name.surname}.${name.given}`;
      for (let dup = 2; usedMail.has(local); dup++) local = `${name.surname}.${name.given}${dup}`;
      usedMail.add(local);
      const field = role === 'telemarketing' || role === 'sales_manager' || role === 'support';
      const region = field ? regions.pick(rng) : 'hq';
      let manager: string | null = null;
      if (role === 'telemarketing') {
        const pool = managersByRegion.get(region) ?? allManagers;
        manager = pool.length > 0 ? pool[turn++ % pool.length]!.external_id : null;
      }
      const e: Employee = {
        external_id: `E${String(j + 1).padStart(5, '0')}`,
        name: name.han,
        role,
        department: DEPARTMENTS[role],
        region,
        email: `${local}@${domain}`,
        mobile: mobileWithSuffix(rng, u.mobileSuffixes.apply(MAX_CUSTOMERS - 1 - j), reserve),
        manager,
        hired_at: iso(
          since - 3 * 365 * DAY_MS + rng.float() * (asOf - since + 3 * 365 * DAY_MS - 60 * DAY_MS),
        ),
      };
      employees.push(e);
      if (role === 'sales_manager') {
        allManagers.push(e);
        const same = managersByRegion.get(region);
        if (same) same.push(e);
        else managersByRegion.set(region, [e]);
      }
    }
  }
  if (employees.length > STAFF_SUFFIX_BAND / 2) throw new RangeError('too many employees');
  const byRole = new Map<EmployeeRole, Employee[]>(EMPLOYEE_ROLES.map((r) => [r, []]));
  for (const e of employees) byRole.get(e.role)!.push(e);
  const managers = byRole.get('sales_manager')!;
  const telemarketers = byRole.get('telemarketing')!;

  // --- partners ---
  const partnerCount = opts.partners ?? Math.min(200, Math.max(6, Math.round(n / 10_000)));
  if (!Number.isSafeInteger(partnerCount) || partnerCount < 1 || partnerCount > 9999)
    throw new RangeError('partners must be an integer in [1, 9999]');
  const partners: Partner[] = [];
  const partnerKey = u.key('partner');
  let staffOrdinal = 0;
  for (let j = 0; j < partnerCount; j++) {
    rng.reseed(partnerKey, j);
    // The first three are domestic distributors, so every organisation has a referral programme.
    const kind: PartnerKind = j < 3 ? 'distributor' : partnerKinds.pick(rng);
    const jurisdiction = j < 3 || rng.chance(0.88) ? 'CN' : FOREIGN.pick(rng);
    const pid = `P${String(j + 1).padStart(4, '0')}`;
    const staff: PartnerStaff[] = [];
    let contactMail = '';
    const staffCount = rng.range(2, 6);
    for (let k = 0; k < staffCount; k++) {
      const male = rng.chance(0.55);
      const nm = personName(rng, male, rng.range(1970, 1998));
      const phone =
        jurisdiction === 'CN'
          ? mobileWithSuffix(
              rng,
              u.mobileSuffixes.apply(MAX_CUSTOMERS - STAFF_SUFFIX_BAND / 2 - 1 - staffOrdinal++),
              reserve,
            )
          : FOREIGN_PHONE[jurisdiction] + String(rng.range(20_000_000, 99_999_999));
      staff.push({ id: `${pid}-S${k + 1}`, name: nm.han, mobile: phone });
      if (k === 0) contactMail = email(rng, nm, male, 1985);
    }
    let name: string;
    let uscc: string | null = null;
    let region: string | null = null;
    if (jurisdiction === 'CN') {
      const pref = weightedPrefecture(rng);
      const city = pref.city.replace(/市$/, '');
      name = `${city}${rng.pick(TRADE_CHARS)}${rng.pick(TRADE_CHARS)}${PARTNER_INDUSTRY[kind]}有限公司`;
      uscc = usccFor(rng, rng.pick(pref.districts).code);
      region = regionOf(pref);
    } else {
      name = `${rng.pick(FOREIGN_A)} ${rng.pick(FOREIGN_B)} ${FOREIGN_FORMS[jurisdiction]}`;
    }
    const first = staff[0]!;
    partners.push({
      external_id: pid,
      name,
      kind,
      jurisdiction,
      uscc,
      region,
      contact: {
        name: first.name,
        phone: first.mobile,
        email: contactMail,
      },
      staff,
      since: iso(since + rng.float() * 0.6 * (asOf - since)),
    });
  }
  const distributors = partners.filter((p) => p.kind === 'distributor');
  const distributorPick = new Weighted(distributors.map((p, k) => [p, 1 + ((k * 7) % 5)] as const));

  // --- notices ---
  // GB/T 35273-2017 took effect on 2018-05-01; organisations reissued their notices then.
  const revision = Math.min(Math.max(Date.parse('2018-04-30T16:00:00Z'), since + (asOf - since) / 2), asOf);
  const notices: Notice[] = [];
  for (const version of [1, 2]) {
    notices.push({
      id: `telemarketing@${version}`,
      key: 'telemarketing',
      version,
      purpose: 'telemarketing',
      fields: ['name', 'mobile', 'company'],
      recipient_id: null,
      effective_from: iso(version === 1 ? since : revision),
    });
    for (const p of distributors)
      notices.push({
        id: `referral-${p.external_id}@${version}`,
        key: `referral-${p.external_id}`,
        version,
        purpose: 'partner_referral',
        fields: ['name', 'mobile', 'company'],
        recipient_id: p.external_id,
        effective_from: iso(Math.max(version === 1 ? since : revision, Date.parse(p.since))),
      });
  }
  const noticeFor = (key: string, at: number) => `${key}@${at < revision ? 1 : 2}`;

  // --- per-customer functions ---
  const cursor = customerCursor(seed, reserve);
  // Sign-ups grow over time: the share registered by time t rises as (t/span)², so index i
  // registered at span·√(i/n) — later indexes are later customers, as in any real id sequence.
  const registeredAt = (i: number): number => {
    rng.reseed(u.key('registered'), i);
    return Math.floor(since + (asOf - since) * Math.sqrt((i + rng.float()) / n));
  };

  const positions = new Permutation(n, u.key('portfolio'));
  const keyEnd = Math.floor(n * PROPORTIONS.keyAccounts);
  const leadEnd = keyEnd + Math.floor(n * PROPORTIONS.leads);
  const ordinal = new Map(employees.map((e) => [e.external_id, e]));
  const ownerAt = (p: number): Employee | null => {
    if (p < keyEnd && managers.length > 0) return managers[p % managers.length]!;
    if (p >= keyEnd && p < leadEnd && telemarketers.length > 0)
      return telemarketers[(p - keyEnd) % telemarketers.length]!;
    return null;
  };
  // Portfolio k of an employee is every stride-th position of the role's range, from its offset.
  const slots = new Map<string, { base: number; end: number; stride: number; offset: number }>();
  for (const [k, e] of managers.entries())
    slots.set(e.external_id, { base: 0, end: keyEnd, stride: managers.length, offset: k });
  for (const [k, e] of telemarketers.entries())
    slots.set(e.external_id, { base: keyEnd, end: leadEnd, stride: telemarketers.length, offset: k });
  const slot = (employeeId: string) => slots.get(employeeId) ?? null;
  const portfolioSize = (employeeId: string): number => {
    const s = slot(employeeId);
    if (!s || s.end - s.base <= s.offset) return 0;
    return Math.floor((s.end - s.base - s.offset - 1) / s.stride) + 1;
  };
  const portfolioAt = (employeeId: string, k: number): number => {
    const s = slot(employeeId);
    const size = portfolioSize(employeeId);
    if (!s || !Number.isSafeInteger(k) || k < 0 || k >= size)
      throw new RangeError('portfolio position out of range');
    return positions.invert(s.base + s.offset + k * s.stride);
  };

  const consentKey = u.key('consent');
  const crng = new Rng();
  /** The customer's consent draws that do not need the customer record (cheap, for sampling). */
  // Consent times are whole seconds, like the ISO strings they are written as, so the cheap check
  // below and a check on the written records always agree.
  const sec = (t: number) => Math.floor(t / 1000) * 1000;
  const plan = (i: number) => {
    const reg = registeredAt(i);
    crng.reseed(consentKey, i);
    const tm = crng.chance(PROPORTIONS.telemarketingConsent);
    const tmLater = crng.chance(PROPORTIONS.telemarketingConsentLater);
    const tmAt = sec(tmLater ? reg + crng.float() * (asOf - reg) : reg + crng.int(20 * 60_000));
    const tmMethod: ConsentMethod = tmLater ? 'phone' : signupMethods.pick(crng);
    const tmWithdrawn = crng.chance(PROPORTIONS.telemarketingWithdrawn)
      ? sec(tmAt + crng.float() * (asOf - tmAt))
      : null;
    const referral = distributors.length > 0 && crng.chance(PROPORTIONS.referralConsent);
    const partner = referral ? distributorPick.pick(crng) : null;
    const from = partner ? Math.max(reg, Date.parse(partner.since)) : reg;
    const refAt = sec(from + crng.float() * (asOf - from));
    const refMethod = referralMethods.pick(crng);
    const refWithdrawn = crng.chance(PROPORTIONS.referralWithdrawn)
      ? sec(refAt + crng.float() * (asOf - refAt))
      : null;
    const evidence = [crng.u32(), crng.u32()] as const;
    return { tm, tmAt, tmMethod, tmWithdrawn, partner, refAt, refMethod, refWithdrawn, evidence };
  };
  const inForce = (i: number, purpose: string, recipient: string | null, t: number): boolean => {
    const p = plan(i);
    if (purpose === 'telemarketing' && recipient === null)
      return p.tm && p.tmAt <= t && (p.tmWithdrawn === null || p.tmWithdrawn > t);
    if (purpose === 'partner_referral' && p.partner !== null && p.partner.external_id === recipient)
      return p.refAt <= t && t < p.refAt + TWO_YEARS_MS && (p.refWithdrawn === null || p.refWithdrawn > t);
    return false;
  };

  const ageAt = (birth: string, t: number): number => {
    const d = new Date(t + 8 * 3_600_000);
    const y = Number(birth.slice(0, 4));
    const md = Number(birth.slice(4));
    return d.getUTCFullYear() - y - ((d.getUTCMonth() + 1) * 100 + d.getUTCDate() < md ? 1 : 0);
  };
  const EVIDENCE_PREFIX: Record<ConsentMethod, string> = {
    web: 'web-form:',
    app: 'app-event:',
    phone: 'call-recording:',
    paper: 'paper-scan:',
  };

  const consentsOf = (i: number): ConsentRecord[] => {
    checkCustomer(i);
    const p = plan(i);
    if (!p.tm && !p.partner) return [];
    const c = cursor(i);
    // PIPL art. 31: a child under 14 consents through a parent or guardian.
    const givenBy = (t: number) => (ageAt(c.birth, t) < 14 ? 'guardian' : 'subject');
    const out: ConsentRecord[] = [];
    const evidence =
      p.evidence[0].toString(16).padStart(8, '0') + p.evidence[1].toString(16).padStart(8, '0');
    if (p.tm)
      out.push({
        external_id: c.record.external_id,
        mobile: c.record.mobile,
        purpose: 'telemarketing',
        recipient_id: null,
        fields: ['name', 'mobile', 'company'],
        notice: noticeFor('telemarketing', p.tmAt),
        method: p.tmMethod,
        given_by: givenBy(p.tmAt),
        given_at: iso(p.tmAt),
        expires_at: null,
        withdrawn_at: p.tmWithdrawn === null ? null : iso(p.tmWithdrawn),
        third_party: false,
        cross_border: false,
        evidence_ref: EVIDENCE_PREFIX[p.tmMethod] + evidence,
      });
    if (p.partner)
      // PIPL art. 23: separate consent naming the recipient before provision to another processor.
      out.push({
        external_id: c.record.external_id,
        mobile: c.record.mobile,
        purpose: 'partner_referral',
        recipient_id: p.partner.external_id,
        fields: ['name', 'mobile', 'company'],
        notice: noticeFor(`referral-${p.partner.external_id}`, p.refAt),
        method: p.refMethod,
        given_by: givenBy(p.refAt),
        given_at: iso(p.refAt),
        expires_at: iso(p.refAt + TWO_YEARS_MS),
        withdrawn_at: p.refWithdrawn === null ? null : iso(p.refWithdrawn),
        third_party: true,
        cross_border: p.partner.jurisdiction !== 'CN',
        evidence_ref: `${EVIDENCE_PREFIX[p.refMethod]}${evidence}r`,
      });
    return out;
  };

  function checkCustomer(i: number): void {
    if (!Number.isSafeInteger(i) || i < 0 || i >= n)
      throw new RangeError(`customer index must be in [0, ${n})`);
  }
  function bounds(range?: { start?: number; count?: number }): [number, number] {
    const start = range?.start ?? 0;
    const end = start + (range?.count ?? n - start);
    if (!Number.isSafeInteger(start) || start < 0 || end > n || end < start)
      throw new RangeError('range out of bounds');
    return [start, end];
  }

  const partnerById = new Map(partners.map((p) => [p.external_id, p]));
  const org: Organisation = {
    seed,
    customerCount: n,
    since: iso(since),
    asOf: iso(asOf),
    employees,
    partners,
    services: [
      {
        external_id: TELEPHONY_SERVICE,
        roles: ['contact_service'],
        description: 'Telephony integration: resolves contact tokens and places the call.',
      },
    ],
    notices,
    reserve,
    employee: (id) => ordinal.get(id),
    partner: (id) => partnerById.get(id),
    byRole: (role) => byRole.get(role) ?? [],
    customers(range) {
      const [start, end] = bounds(range);
      return generateCustomers({ seed, start, count: end - start, reserve });
    },
    customer(i) {
      checkCustomer(i);
      return cursor(i);
    },
    registeredAt(i) {
      checkCustomer(i);
      return registeredAt(i);
    },
    ownerOf(i) {
      checkCustomer(i);
      return ownerAt(positions.apply(i))?.external_id ?? null;
    },
    portfolioSize,
    portfolioAt,
    *portfolio(employeeId) {
      const size = portfolioSize(employeeId);
      for (let k = 0; k < size; k++) yield portfolioAt(employeeId, k);
    },
    *assignments(range) {
      const [start, end] = bounds(range);
      for (let i = start; i < end; i++) {
        const owner = ownerAt(positions.apply(i));
        if (owner)
          yield {
            actor: owner.external_id,
            external_id: externalId(i),
            kind: owner.role === 'sales_manager' ? 'key_account' : 'lead',
          };
        const p = plan(i);
        if (p.partner && p.refWithdrawn === null)
          yield { actor: p.partner.external_id, external_id: externalId(i), kind: 'referral' };
      }
    },
    referralPartnerOf(i) {
      checkCustomer(i);
      return plan(i).partner?.external_id ?? null;
    },
    consentsOf,
    consentInForce(i, purpose, recipient, t) {
      checkCustomer(i);
      return inForce(i, purpose, recipient, t);
    },
    *consents(range) {
      const [start, end] = bounds(range);
      for (let i = start; i < end; i++) yield* consentsOf(i);
    },
    *consentsCsv(range) {
      yield csvLine(CONSENT_CSV_COLUMNS);
      for (const c of org.consents(range))
        yield csvLine([
          c.mobile,
          c.purpose,
          c.recipient_id ?? '',
          c.fields.join(';'),
          c.notice,
          c.method,
          c.given_by,
          c.given_at,
          c.expires_at ?? '',
          c.withdrawn_at ?? '',
          '0',
          c.third_party ? '1' : '0',
          c.cross_border ? '1' : '0',
          c.evidence_ref,
        ]);
    },
  };
  return org;
}
