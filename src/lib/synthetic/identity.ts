import { cnIdCheckChar, luhnCheckDigit, USCC_ALPHABET, usccCheckChar } from '../checkdigits.js';
import { Permutation, type Random, type StreamKey, streamKey, Weighted } from './prng.js';
import {
  CARD_BINS,
  COMPANY_SUFFIXES,
  DISTRICTS,
  EMAIL_DOMAINS,
  ESTATE_SUFFIXES,
  GIVEN_FEMALE,
  GIVEN_MALE,
  HANDLE_WORDS,
  INDUSTRIES,
  MOBILE_SEGMENTS,
  PREFECTURES,
  type Prefecture,
  ROAD_SUFFIXES,
  ROADS,
  SURNAMES,
  type Syllable,
  TRADE_CHARS,
} from './tables.js';

/**
 * Generators of single Chinese identity attributes (names, numbers, companies, addresses), each a
 * function of an Rng positioned by the caller. Identifiers that must be unique (mobile numbers, ID
 * numbers) are not drawn at random: they are images of the record index under a keyed permutation,
 * so distinct records get distinct identifiers without any table of what was already issued.
 */

// --- birth dates ------------------------------------------------------------------------------

const DAY_MS = 86_400_000;
const FIRST_BIRTH = Date.UTC(1950, 0, 1);
const LAST_BIRTH = Date.UTC(2006, 11, 31);
/** Every calendar day from 1950-01-01 to 2006-12-31 as YYYYMMDD: only real dates can be drawn. */
const BIRTH_DAYS: readonly string[] = (() => {
  const out: string[] = [];
  for (let t = FIRST_BIRTH; t <= LAST_BIRTH; t += DAY_MS)
    out.push(new Date(t).toISOString().slice(0, 10).replaceAll('-', ''));
  return out;
})();

// --- resident ID numbers (GB 11643) -----------------------------------------------------------

/**
 * The ID number space: district × birth day × 3-digit sequence, numbered day-major, so the slots of
 * one range of birth dates are one contiguous range. The sequence's last digit is odd for men and
 * even for women, as in the standard.
 */
const SLOTS_PER_DAY = DISTRICTS.length * 1000;

/**
 * Birth-year bands with the share of customers born in each: adults of working age dominate, a few
 * are old or still children. Each band is a contiguous slot range with its own keyed permutation;
 * a record picks a band at random and takes the image of its index in that band's permutation, so
 * distinct indexes never share an ID number, whatever bands they land in.
 */
const BIRTH_BANDS: readonly (readonly [from: number, toExclusive: number, weight: number])[] = [
  [1950, 1955, 1],
  [1955, 1960, 2],
  [1960, 1965, 3],
  [1965, 1970, 5],
  [1970, 1975, 7],
  [1975, 1980, 11],
  [1980, 1985, 16],
  [1985, 1990, 19],
  [1990, 1995, 17],
  [1995, 2000, 12],
  [2000, 2007, 4],
];

export interface IdBand {
  readonly first: number;
  readonly size: number;
}

const dayIndex = (year: number) => Math.round((Date.UTC(year, 0, 1) - FIRST_BIRTH) / DAY_MS);
export const ID_BANDS: readonly IdBand[] = BIRTH_BANDS.map(([from, to]) => ({
  first: dayIndex(from) * SLOTS_PER_DAY,
  size: (dayIndex(to) - dayIndex(from)) * SLOTS_PER_DAY,
}));
const bandPick = new Weighted(BIRTH_BANDS.map((b, i) => [i, b[2]] as const));

/** Which birth band the next record falls in (consumes one draw). */
export function pickIdBand(rng: Random): number {
  return bandPick.pick(rng);
}

export interface IdParts {
  readonly idNumber: string;
  readonly male: boolean;
  /** YYYYMMDD */
  readonly birth: string;
  readonly birthYear: number;
  readonly prefecture: Prefecture;
}

export function idNumberFromSlot(slot: number): IdParts {
  const k = slot % DISTRICTS.length;
  const rest = (slot - k) / DISTRICTS.length;
  const seq = rest % 1000;
  const day = (rest - seq) / 1000;
  const d = DISTRICTS[k]!;
  const birth = BIRTH_DAYS[day]!;
  const first17 = d.district.code + birth + (seq < 10 ? '00' : seq < 100 ? '0' : '') + seq;
  return {
    idNumber: first17 + cnIdCheckChar(first17),
    male: seq % 2 === 1,
    birth,
    birthYear: Number(birth.slice(0, 4)),
    prefecture: d.prefecture,
  };
}

/** Valid GB 11643 number: 18 characters, known check char, a birth date that exists. */
export function isValidCnIdNumber(id: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  if (cnIdCheckChar(id.slice(0, 17)) !== id[17]) return false;
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

// --- names ------------------------------------------------------------------------------------

const surnames = new Weighted(SURNAMES);

export interface PersonName {
  readonly han: string;
  readonly surname: string;
  readonly given: string;
  /** First letters of the given name's syllables (xm for xiaoming). */
  readonly initials: string;
}

/** A surname by census share and a one- or two-character given name suited to sex and age. */
export function personName(rng: Random, male: boolean, birthYear: number): PersonName {
  const s = surnames.pick(rng);
  const pool = male ? GIVEN_MALE : GIVEN_FEMALE;
  // Single-character given names were far more common in older generations.
  const single = rng.chance(birthYear < 1980 ? 0.4 : birthYear < 1995 ? 0.25 : 0.12);
  const g1 = rng.pick(pool);
  if (single) return { han: s.han + g1.han, surname: s.pinyin, given: g1.pinyin, initials: g1.pinyin[0]! };
  const g2: Syllable = rng.pick(pool);
  return {
    han: s.han + g1.han + g2.han,
    surname: s.pinyin,
    given: g1.pinyin + g2.pinyin,
    initials: g1.pinyin[0]! + g2.pinyin[0]!,
  };
}

// --- mobile numbers ---------------------------------------------------------------------------

const segments = new Weighted(MOBILE_SEGMENTS.map(([p, , w]) => [p, w] as const));
const SEGMENT_SET = new Set(MOBILE_SEGMENTS.map(([p]) => p));

/** 11 digits under an allocated mainland segment (what the vault's cn_mobile type accepts). */
export function isValidCnMobile(s: string): boolean {
  return s.length === 11 && /^1\d{10}$/.test(s) && SEGMENT_SET.has(s.slice(0, 3));
}

/** A carrier segment (the first three digits) in the carriers' shares of numbers in use. */
export function mobileSegment(rng: Random): string {
  return segments.pick(rng);
}

export function mobileSegments(): readonly string[] {
  return [...SEGMENT_SET];
}

/**
 * A range of numbers the organisation monitors (calls and texts to it are canary trips): every
 * number starting with `prefix`, or the inclusive 11-digit `ranges`.
 */
export type MobilePool =
  | { readonly prefix: string }
  | { readonly ranges: readonly (readonly [string, string])[] };

export function poolContains(pool: MobilePool, mobile: string): boolean {
  if ('prefix' in pool) return mobile.startsWith(pool.prefix);
  const n = Number(mobile);
  return pool.ranges.some(([from, to]) => n >= Number(from) && n <= Number(to));
}

/** Validates a pool and returns its size (how many distinct numbers it holds). */
export function poolSize(pool: MobilePool): number {
  if ('prefix' in pool) {
    const p = pool.prefix;
    if (!/^1\d{2,9}$/.test(p) || !SEGMENT_SET.has(p.slice(0, 3)))
      throw new RangeError('mobile pool prefix must start with an allocated segment and leave digits free');
    return 10 ** (11 - p.length);
  }
  if (pool.ranges.length === 0) throw new RangeError('mobile pool has no ranges');
  let size = 0;
  for (const [from, to] of pool.ranges) {
    if (!isValidCnMobile(from) || !isValidCnMobile(to) || Number(to) < Number(from))
      throw new RangeError('mobile pool range must be two valid 11-digit numbers, from ≤ to');
    size += Number(to) - Number(from) + 1;
  }
  return size;
}

/** The j-th number of the pool, 0 ≤ j < poolSize(pool). */
export function poolAt(pool: MobilePool, j: number): string {
  if ('prefix' in pool) return pool.prefix + String(j).padStart(11 - pool.prefix.length, '0');
  for (const [from, to] of pool.ranges) {
    const span = Number(to) - Number(from) + 1;
    if (j < span) return String(Number(from) + j);
    j -= span;
  }
  throw new RangeError('mobile pool index out of range');
}

/**
 * A mobile number with a weighted segment and the given 8-digit suffix. Uniqueness comes from the
 * suffix alone (the caller passes a permutation image of the record index), so when the segment
 * lands in a reserved (monitored) range another segment can be taken without risking a duplicate.
 */
export function mobileWithSuffix(rng: Random, suffix: number, reserve?: readonly MobilePool[]): string {
  const tail = String(suffix).padStart(8, '0');
  let prefix = segments.pick(rng);
  let m = prefix + tail;
  if (reserve && reserve.length > 0) {
    const all = segments.items;
    let k = all.indexOf(prefix);
    for (let tries = 0; reserve.some((p) => poolContains(p, m)); tries++) {
      if (tries >= all.length) throw new RangeError('reserved mobile pools cover every segment');
      k = (k + 1) % all.length;
      prefix = all[k]!;
      m = prefix + tail;
    }
  }
  return m;
}

// --- e-mail -----------------------------------------------------------------------------------

const domains = new Weighted(EMAIL_DOMAINS);
const qqLengths = new Weighted<number>([
  [6, 2],
  [7, 5],
  [8, 15],
  [9, 45],
  [10, 33],
]);
const EN_MALE = 'david kevin jack tony michael eric alex jason peter leo frank steven'.split(' ');
const EN_FEMALE = 'lily grace amy cindy helen vivian emma sophia anna coco jenny sara'.split(' ');

/** n uniform decimal digits (n ≤ 9, so one 32-bit draw covers them). */
function digits(rng: Random, n: number): string {
  return String(rng.int(10 ** n)).padStart(n, '0');
}

/** A QQ number: the most common Chinese personal address is <QQ number>@qq.com. */
function qqNumber(rng: Random): string {
  const len = qqLengths.pick(rng);
  const first = len === 10 ? rng.range(1, 3) : rng.range(1, 9);
  return String(first) + digits(rng, len - 1);
}

/** The local part of a personal address, in one of the shapes Chinese users actually pick. */
export function emailLocal(rng: Random, name: PersonName, male: boolean, birthYear: number): string {
  const style = rng.float();
  if (style < 0.28) return qqNumber(rng);
  if (style < 0.68) {
    const sep = rng.chance(0.15) ? (rng.chance(0.5) ? '.' : '_') : '';
    const base = name.surname + sep + name.given;
    const tail = rng.float();
    if (tail < 0.25) return base + birthYear;
    if (tail < 0.45) return base + String(birthYear % 100).padStart(2, '0');
    if (tail < 0.7) return base + digits(rng, rng.range(2, 4));
    return base;
  }
  if (style < 0.8) {
    // Surname plus the initials of the given name: zhangxm1990.
    return name.surname + name.initials + (rng.chance(0.7) ? String(birthYear) : digits(rng, 3));
  }
  if (style < 0.92)
    return rng.pick(HANDLE_WORDS) + (rng.chance(0.3) ? '_' : '') + digits(rng, rng.range(2, 4));
  return rng.pick(male ? EN_MALE : EN_FEMALE) + (rng.chance(0.5) ? '.' : '') + name.surname;
}

export function email(rng: Random, name: PersonName, male: boolean, birthYear: number): string {
  const local = emailLocal(rng, name, male, birthYear);
  // A purely numeric local part is a QQ number, which only makes sense at qq.com.
  const domain = local.charCodeAt(0) <= 57 ? 'qq.com' : domains.pick(rng);
  return `${local}@${domain}`;
}

// --- companies and USCC (GB 32100) ------------------------------------------------------------

const industries = new Weighted(INDUSTRIES);
const companySuffixes = new Weighted(COMPANY_SUFFIXES);
const prefectures = new Weighted(PREFECTURES.map((p) => [p, p.weight] as const));

export function weightedPrefecture(rng: Random): Prefecture {
  return prefectures.pick(rng);
}

// GB 11714 organisation code: 8 characters and a mod-11 check character.
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2];
function orgCodeCheck(body: string): string {
  let sum = 0;
  for (let i = 0; i < 8; i++) {
    const c = body.charCodeAt(i);
    const v = c <= 57 ? c - 48 : c - 55; // 0–9, then A=10 … Z=35
    sum += v * ORG_WEIGHTS[i]!;
  }
  const check = 11 - (sum % 11);
  return check === 10 ? 'X' : check === 11 ? '0' : String(check);
}

/**
 * A unified social credit code for an enterprise (registration authority 9 = market regulation,
 * type 1 = enterprise) registered in `districtCode`: the organisation code is either an old
 * all-digit one or a post-2015 "MA…" one, each with its GB 11714 check, then the GB 32100 check.
 */
export function usccFor(rng: Random, districtCode: string): string {
  let org: string;
  if (rng.chance(0.65)) {
    org = 'MA';
    for (let i = 0; i < 6; i++) org += USCC_ALPHABET[rng.int(USCC_ALPHABET.length)];
  } else {
    org = digits(rng, 8);
  }
  const first17 = `91${districtCode}${org}${orgCodeCheck(org)}`;
  return first17 + usccCheckChar(first17)!;
}

export function isValidUscc(code: string): boolean {
  return code.length === 18 && usccCheckChar(code.slice(0, 17)) === code[17];
}

export interface Company {
  readonly name: string;
  readonly uscc: string;
  readonly prefecture: Prefecture;
  readonly districtCode: string;
  readonly industry: string;
}

export type CompanyProfile = Omit<Company, 'uscc'>;

/**
 * City + trade name + industry + form: 杭州华信网络科技有限公司. The USCC is drawn separately
 * (`usccFor` with the profile's district) because customer rows need only the name, and the code
 * is the costliest part to make.
 */
export function companyProfile(rng: Random): CompanyProfile {
  const pref = prefectures.pick(rng);
  const district = rng.pick(pref.districts);
  const trade = rng.pick(TRADE_CHARS) + rng.pick(TRADE_CHARS);
  const industry = industries.pick(rng);
  const city = pref.city.endsWith('市') ? pref.city.slice(0, -1) : pref.city;
  return {
    name: city + trade + industry + companySuffixes.pick(rng),
    prefecture: pref,
    districtCode: district.code,
    industry,
  };
}

// --- addresses --------------------------------------------------------------------------------

const roadSuffixes = new Weighted(ROAD_SUFFIXES);

/** province + city + district + road + number, and usually an estate, building, unit and room. */
export function address(rng: Random, pref: Prefecture): string {
  const district = rng.pick(pref.districts);
  const u = rng.float();
  const number = 1 + Math.floor(u * u * 600);
  let s = `${district.place}${rng.pick(ROADS)}${roadSuffixes.pick(rng)}${number}号`;
  if (rng.chance(0.7)) {
    const floor = rng.range(1, 33);
    s += `${rng.pick(TRADE_CHARS)}${rng.pick(TRADE_CHARS)}${rng.pick(ESTATE_SUFFIXES)}`;
    s += `${rng.range(1, 30)}栋${rng.range(1, 4)}单元${floor}0${rng.range(1, 4)}室`;
  }
  return s;
}

// --- bank cards -------------------------------------------------------------------------------

const bins = new Weighted(CARD_BINS.map((b) => [b, b[3]] as const));

/** A Luhn-valid card number under a real-looking issuer prefix. */
export function bankCardNumber(rng: Random): string {
  const [bin, length] = bins.pick(rng);
  // Up to 12 account digits: two draws, since one 32-bit draw covers only 9.
  const n = length - bin.length - 1;
  const body = bin + digits(rng, n - Math.floor(n / 2)) + digits(rng, Math.floor(n / 2));
  return body + luhnCheckDigit(body);
}

// --- per-seed state ---------------------------------------------------------------------------

/** Keys and permutations derived from a seed, built once and shared by every generator. */
export interface Universe {
  readonly seed: string;
  key(stream: string): StreamKey;
  /** One keyed permutation per birth band (ID_BANDS). */
  readonly idBands: readonly Permutation[];
  readonly mobileSuffixes: Permutation;
}

const universes = new Map<string, Universe>();

export function universe(seed: string): Universe {
  let u = universes.get(seed);
  if (!u) {
    const keys = new Map<string, StreamKey>();
    u = {
      seed,
      key(stream) {
        let k = keys.get(stream);
        if (!k) {
          k = streamKey(seed, stream);
          keys.set(stream, k);
        }
        return k;
      },
      idBands: ID_BANDS.map((b, i) => new Permutation(b.size, streamKey(seed, `id-number:${i}`))),
      mobileSuffixes: new Permutation(100_000_000, streamKey(seed, 'mobile')),
    };
    // A handful of seeds per process at most; keep the cache from growing without bound anyway.
    if (universes.size >= 16) universes.delete(universes.keys().next().value!);
    universes.set(seed, u);
  }
  return u;
}
