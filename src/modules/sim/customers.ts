import { csvField, csvLine } from '../../lib/csv.js';
import {
  address,
  bankCardNumber,
  COMPANY_POOL,
  type Company,
  type CompanyProfile,
  companyProfile,
  email,
  ID_BANDS,
  idNumberFromSlot,
  type MobilePool,
  mobileWithSuffix,
  type Prefecture,
  personAround,
  pickEmployer,
  pickIdBand,
  Rng,
  type StreamKey,
  type Universe,
  universe,
  usccFor,
  weightedPrefecture,
} from '../../lib/synthetic/index.js';

export { COMPANY_POOL, csvField, csvLine };

/** One row of `custodian import subjects`: exactly its CSV columns, in order. */
export interface CustomerRecord {
  readonly external_id: string;
  readonly name: string;
  readonly mobile: string;
  readonly email: string;
  readonly company: string;
  readonly id_number: string;
  readonly address: string;
}

export const CUSTOMER_COLUMNS = [
  'external_id',
  'name',
  'mobile',
  'email',
  'company',
  'id_number',
  'address',
] as const;

/**
 * External ids are `C` + 8 digits and mobile suffixes are a permutation of [0, 10^8), so a seed
 * yields at most 10^8 distinct customers.
 */
export const MAX_CUSTOMERS = 100_000_000;

export function externalId(index: number): string {
  return `C${String(index).padStart(8, '0')}`;
}

/** Index of the customer with this external id, or undefined when it is not one of ours. */
export function customerIndex(id: string): number | undefined {
  return /^C\d{8}$/.test(id) ? Number(id.slice(1)) : undefined;
}

function companyAt(u: Universe, rng: Rng, k: number): CompanyProfile {
  return companyProfile(rng.reseed(u.key('company'), k));
}

/** Company k of the seed's company pool (0 ≤ k < COMPANY_POOL), with its USCC. */
export function generateCompany(opts: { seed: string; index: number }): Company {
  checkIndex(opts.index, COMPANY_POOL);
  const u = universe(opts.seed);
  const profile = companyAt(u, new Rng(), opts.index);
  return { ...profile, uscc: usccFor(new Rng(u.key('company-uscc'), opts.index), profile.districtCode) };
}

/** A standalone valid USCC: the n-th code of the seed's "uscc" stream (not tied to a company). */
export function generateUscc(opts: { seed: string; index: number }): string {
  const rng = new Rng(universe(opts.seed).key('uscc'), opts.index);
  return usccFor(rng, rng.pick(weightedPrefecture(rng).districts).code);
}

/** The n-th bank card number of the seed: Luhn-valid under a real-looking BIN. */
export function generateBankCard(opts: { seed: string; index: number }): string {
  return bankCardNumber(new Rng(universe(opts.seed).key('bank-card'), opts.index));
}

function checkIndex(index: number, limit: number): void {
  if (!Number.isSafeInteger(index) || index < 0 || index >= limit)
    throw new RangeError(`index must be an integer in [0, ${limit})`);
}

interface Scratch {
  readonly u: Universe;
  readonly rng: Rng;
  readonly companyRng: Rng;
  readonly companyKey: StreamKey;
  readonly customerKey: StreamKey;
}

/**
 * Fills in everything but the identifiers that callers choose (external id, mobile, e-mail):
 * customer `index` takes slot `index` of its birth band's permutation, so no two share an ID number.
 */
function person(s: Scratch, key: StreamKey, index: number) {
  const { u, rng } = s;
  rng.reseed(key, index);
  const b = pickIdBand(rng);
  const band = ID_BANDS[b]!;
  const id = idNumberFromSlot(band.first + u.idBands[b]!.apply(index));
  let companyIndex: number | null = null;
  const p = personAround(rng, id, (r) => {
    const e = pickEmployer(r, s.companyKey, s.companyRng);
    companyIndex = e?.index ?? null;
    return e?.profile ?? null;
  });
  return {
    id,
    name: p.name,
    companyIndex: companyIndex as number | null,
    employer: p.employer,
    home: p.home,
  };
}

/** A customer record with the facts behind it that other generators need (not in the CSV). */
export interface CustomerDetail {
  readonly index: number;
  readonly record: CustomerRecord;
  /** Where the customer lives: decides the sales region that serves them. */
  readonly home: Prefecture;
  /** YYYYMMDD, as in the ID number. */
  readonly birth: string;
  readonly male: boolean;
  /** Index of the employer in the company pool, or null for an individual. */
  readonly companyIndex: number | null;
}

function customer(s: Scratch, index: number, reserve: readonly MobilePool[] | undefined): CustomerDetail {
  const p = person(s, s.customerKey, index);
  const { rng } = s;
  const mobile = mobileWithSuffix(rng, s.u.mobileSuffixes.apply(index), reserve);
  const record: CustomerRecord = {
    external_id: externalId(index),
    name: p.name.han,
    mobile,
    email: email(rng, p.name, p.id.male, p.id.birthYear),
    company: p.employer?.name ?? '',
    id_number: p.id.idNumber,
    address: address(rng, p.home),
  };
  return { index, record, home: p.home, birth: p.id.birth, male: p.id.male, companyIndex: p.companyIndex };
}

/** Random access to one seed's customers, reusing its generator state between calls. */
export function customerCursor(
  seed: string,
  reserve?: readonly MobilePool[],
): (index: number) => CustomerDetail {
  const s = scratch(seed);
  return (index) => {
    checkIndex(index, MAX_CUSTOMERS);
    return customer(s, index, reserve);
  };
}

function scratch(seed: string): Scratch {
  const u = universe(seed);
  return {
    u,
    rng: new Rng(),
    companyRng: new Rng(),
    companyKey: u.key('company'),
    customerKey: u.key('customer'),
  };
}

export interface CustomerOptions {
  readonly seed: string;
  readonly count: number;
  /** First index to generate: record i is the same whatever `start`, so workers can split a run. */
  readonly start?: number;
  /**
   * Monitored canary ranges that real customers must never hold. A customer whose number would
   * fall in one takes another carrier segment (the 8-digit suffix, which makes it unique, stays).
   */
  readonly reserve?: readonly MobilePool[];
}

/** The customers with indexes [start, start + count) of the seed's organisation. */
export function* generateCustomers(opts: CustomerOptions): Generator<CustomerRecord> {
  const start = opts.start ?? 0;
  const end = start + opts.count;
  checkIndex(start, MAX_CUSTOMERS);
  if (!Number.isSafeInteger(opts.count) || opts.count < 0 || end > MAX_CUSTOMERS)
    throw new RangeError(`count must keep indexes below ${MAX_CUSTOMERS}`);
  const s = scratch(opts.seed);
  for (let i = start; i < end; i++) yield customer(s, i, opts.reserve).record;
}

/** Customer `index` alone (the same record `generateCustomers` yields at that position). */
export function customerAt(opts: {
  seed: string;
  index: number;
  reserve?: readonly MobilePool[];
}): CustomerRecord {
  checkIndex(opts.index, MAX_CUSTOMERS);
  return customer(scratch(opts.seed), opts.index, opts.reserve).record;
}

// --- CSV --------------------------------------------------------------------------------------

export function customerCsvLine(r: CustomerRecord): string {
  // Unrolled (no array per row): this is the hot path of writing millions of rows.
  const f = csvField;
  return `${f(r.external_id)},${f(r.name)},${f(r.mobile)},${f(r.email)},${f(r.company)},${f(r.id_number)},${f(r.address)}\r\n`;
}

/**
 * The header line and then one line per customer, each ending in CRLF (RFC 4180), ready to be
 * written as they come: the file for `custodian import subjects`.
 */
export function* customersCsv(opts: CustomerOptions & { header?: boolean }): Generator<string> {
  if (opts.header ?? true) yield csvLine(CUSTOMER_COLUMNS);
  for (const r of generateCustomers(opts)) yield customerCsvLine(r);
}

/**
 * customersCsv as UTF-8 buffers of about `chunkBytes` each (default 64 KiB), for streaming into an
 * import without one stream chunk (and, with a worker, one message) per line.
 */
export function* customersCsvChunks(
  opts: CustomerOptions & { header?: boolean; chunkBytes?: number },
): Generator<Buffer> {
  const limit = opts.chunkBytes ?? 64 * 1024;
  let pending = '';
  for (const line of customersCsv(opts)) {
    pending += line;
    // Counted in UTF-16 units; a chunk's UTF-8 bytes are at most three times that.
    if (pending.length >= limit) {
      yield Buffer.from(pending, 'utf8');
      pending = '';
    }
  }
  if (pending.length > 0) yield Buffer.from(pending, 'utf8');
}
