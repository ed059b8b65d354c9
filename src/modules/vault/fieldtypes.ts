import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { cnIdCheckChar, luhnValid, usccCheckChar } from '../../lib/checkdigits.js';

/**
 * Built-in field types: validation, normalisation (the form that is sealed and blind-indexed, so
 * every accepted spelling of a value finds the same subject), a default mask and a GB/T 35273
 * class. Pure functions of their input (and of today's date for birth dates).
 *
 * A check returns the normalised string, or one of the shared `Invalid` instances naming the
 * reason: no exception and no allocation on the import hot path.
 */
export const FIELD_TYPES = [
  'cn_mobile',
  'phone',
  'email',
  'cn_id_number',
  'uscc',
  'bank_card',
  'person_name',
  'address',
  'company',
  'date',
  'text',
] as const;

export type FieldTypeName = (typeof FIELD_TYPES)[number];

/** GB/T 35273-2020: personal sensitive information (Annex B) needs separate consent and more care. */
export type Sensitivity = 'general' | 'sensitive';
export const SENSITIVITIES: readonly Sensitivity[] = ['general', 'sensitive'];

/** Loosely the GB/T 35273 Annex A groups: basic/contact, identity, property, and the rest. */
export type Category = 'identity' | 'contact' | 'financial' | 'organisation' | 'other';
export const CATEGORIES: readonly Category[] = ['identity', 'contact', 'financial', 'organisation', 'other'];

export type ValueCode =
  | 'VAULT_VALUE_EMPTY'
  | 'VAULT_VALUE_TOO_LONG'
  | 'VAULT_VALUE_MALFORMED'
  | 'VAULT_VALUE_FORMULA'
  | 'VAULT_PHONE_INVALID'
  | 'VAULT_EMAIL_INVALID'
  | 'VAULT_ID_REGION_INVALID'
  | 'VAULT_ID_BIRTH_DATE_INVALID'
  | 'VAULT_ID_CHECK_DIGIT_INVALID'
  | 'VAULT_USCC_CHECK_INVALID'
  | 'VAULT_CARD_CHECK_INVALID'
  | 'VAULT_DATE_INVALID';

export class Invalid {
  constructor(readonly code: ValueCode) {}
}

const bad = {
  empty: new Invalid('VAULT_VALUE_EMPTY'),
  long: new Invalid('VAULT_VALUE_TOO_LONG'),
  malformed: new Invalid('VAULT_VALUE_MALFORMED'),
  formula: new Invalid('VAULT_VALUE_FORMULA'),
  phone: new Invalid('VAULT_PHONE_INVALID'),
  email: new Invalid('VAULT_EMAIL_INVALID'),
  region: new Invalid('VAULT_ID_REGION_INVALID'),
  birth: new Invalid('VAULT_ID_BIRTH_DATE_INVALID'),
  idCheck: new Invalid('VAULT_ID_CHECK_DIGIT_INVALID'),
  uscc: new Invalid('VAULT_USCC_CHECK_INVALID'),
  card: new Invalid('VAULT_CARD_CHECK_INVALID'),
  date: new Invalid('VAULT_DATE_INVALID'),
} as const;

export type Checked = string | Invalid;

export interface CheckContext {
  /** Today as YYYYMMDD (UTC): birth dates after it are rejected. */
  readonly today: string;
}

export function checkContext(now: Date): CheckContext {
  return { today: now.toISOString().slice(0, 10).replaceAll('-', '') };
}

export interface FieldType {
  readonly name: FieldTypeName;
  readonly category: Category;
  readonly sensitivity: Sensitivity;
  /** Longest accepted input in UTF-16 code units, checked before any parsing. */
  readonly maxLength: number;
  normalise(input: string, ctx: CheckContext, maxLength: number): Checked;
  /** The type's default mask, over a normalised value. */
  mask(value: string): string;
}

// --- helpers ------------------------------------------------------------------------------------

/** Full-width digits, letters, '+', '-' and the ideographic space, as typed on Chinese keyboards. */
function halfWidth(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xff01 && c <= 0xff5e) out += String.fromCharCode(c - 0xfee0);
    else if (c === 0x3000) out += ' ';
    else out += s[i];
  }
  return out;
}

function ascii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7e) return false;
  return true;
}

/** Separators people put in numbers: spaces, hyphens, dots, parentheses, slashes. */
const SEPARATORS = /[\s\-.()/]/g;

function stars(n: number): string {
  return n > 0 ? '*'.repeat(n) : '';
}

/** Keeps the first and last code points and stars the middle; all stars when too short. */
export function keepMask(value: string, first: number, last: number): string {
  const cps = ascii(value) ? null : Array.from(value);
  const len = cps ? cps.length : value.length;
  if (len <= first + last) return stars(len);
  if (!cps) return value.slice(0, first) + stars(len - first - last) + value.slice(len - last);
  return cps.slice(0, first).join('') + stars(len - first - last) + cps.slice(len - last).join('');
}

export const FULL_MASK = '****';

// Control characters are never part of PI; they are how injection and log forging start.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const CONTROL_EXCEPT_NEWLINE_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

function cleanText(input: string, maxLength: number, allowNewlines: boolean): Checked {
  if (input.length > maxLength * 4) return bad.long;
  let v = input.normalize('NFC').trim();
  if (!allowNewlines) v = v.replace(/\s+/g, ' ');
  if (v.length === 0) return bad.empty;
  if ((allowNewlines ? CONTROL_EXCEPT_NEWLINE_TAB : CONTROL).test(v)) return bad.malformed;
  const n = ascii(v) ? v.length : Array.from(v).length;
  return n > maxLength ? bad.long : v;
}

// --- phones -------------------------------------------------------------------------------------

/**
 * Mainland mobile numbers: libphonenumber-js (full metadata) decides validity and type. Its
 * verdict for an 11-digit number depends on the first five digits only (the CN mobile pattern's
 * longest fixed prefix is five digits, e.g. 17400-17405 and 1610x), so it is cached per 5-digit
 * prefix: a bulk import parses a few thousand numbers instead of every one (a parse is ~10 µs).
 * A unit test checks every 5-digit prefix against uncached parsing, so a metadata update that
 * made a sixth digit matter would fail it.
 */
export const MOBILE_PREFIX_DIGITS = 5;
const mobilePrefixVerdict = new Map<string, boolean>();
const MOBILE_CACHE_LIMIT = 100_000;

export function isCnMobileUncached(national11: string): boolean {
  const p = parsePhoneNumberFromString(`+86${national11}`);
  return !!p && p.isValid() && p.getType() === 'MOBILE';
}

function cnMobileValid(national11: string): boolean {
  const prefix = national11.slice(0, MOBILE_PREFIX_DIGITS);
  let v = mobilePrefixVerdict.get(prefix);
  if (v === undefined) {
    v = isCnMobileUncached(national11);
    if (mobilePrefixVerdict.size >= MOBILE_CACHE_LIMIT) mobilePrefixVerdict.clear();
    mobilePrefixVerdict.set(prefix, v);
  }
  return v;
}

const ELEVEN_DIGITS = /^1\d{10}$/;
const PHONE_CHARS = /^[+\d\s\-.()/]+$/;

function normaliseCnMobile(input: string, _ctx: CheckContext, maxLength: number): Checked {
  if (input.length > maxLength) return bad.long;
  let s = ascii(input) ? input : halfWidth(input);
  s = s.replace(SEPARATORS, '');
  if (s.length === 0) return bad.empty;
  if (s.startsWith('+86')) s = s.slice(3);
  else if (s.startsWith('0086')) s = s.slice(4);
  else if (s.length === 13 && s.startsWith('86')) s = s.slice(2);
  if (!ELEVEN_DIGITS.test(s)) return bad.phone;
  return cnMobileValid(s) ? `+86${s}` : bad.phone;
}

function normalisePhone(input: string, _ctx: CheckContext, maxLength: number): Checked {
  if (input.length > maxLength) return bad.long;
  const s = (ascii(input) ? input : halfWidth(input)).trim();
  if (s.length === 0) return bad.empty;
  // libphonenumber extracts a number from surrounding text; a stored value must be only a number
  // (no extension, no words), so anything but digits, '+' and separators is refused first.
  if (!PHONE_CHARS.test(s)) return bad.phone;
  // Mainland numbers may be written without a country code; others need their +CC.
  const p = parsePhoneNumberFromString(s, 'CN');
  return p?.isValid() ? p.number : bad.phone;
}

function maskCnMobile(v: string): string {
  const n = v.startsWith('+86') ? v.slice(3) : v;
  return keepMask(n, 3, 4);
}

function maskPhone(v: string): string {
  const p = parsePhoneNumberFromString(v);
  if (!p) return FULL_MASK;
  return `+${p.countryCallingCode} ${keepMask(p.nationalNumber, 0, 4)}`;
}

// --- e-mail -------------------------------------------------------------------------------------

// Pragmatic RFC 5321 subset: dot-atom local part, LDH domain labels, alphabetic TLD.
const EMAIL =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

function normaliseEmail(input: string, _ctx: CheckContext, maxLength: number): Checked {
  if (input.length > maxLength) return bad.long;
  const s = input.trim().toLowerCase();
  if (s.length === 0) return bad.empty;
  if (s.length > 254 || !EMAIL.test(s) || s.indexOf('@') > 64) return bad.email;
  return s;
}

function maskEmail(v: string): string {
  const at = v.lastIndexOf('@');
  if (at < 1) return FULL_MASK;
  return `${v[0]}***${v.slice(at)}`;
}

// --- Chinese identifiers --------------------------------------------------------------------------

/** GB/T 2260 province-level codes (the first two digits), plus 71/81/82 and 83 (residence permits). */
const PROVINCES = new Set([
  '11',
  '12',
  '13',
  '14',
  '15',
  '21',
  '22',
  '23',
  '31',
  '32',
  '33',
  '34',
  '35',
  '36',
  '37',
  '41',
  '42',
  '43',
  '44',
  '45',
  '46',
  '50',
  '51',
  '52',
  '53',
  '54',
  '61',
  '62',
  '63',
  '64',
  '65',
  '71',
  '81',
  '82',
  '83',
]);

const ID_FORM = /^\d{17}[\dX]$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** A real Gregorian date YYYYMMDD from 1900-01-01 on. */
function realDate(y: number, m: number, d: number): boolean {
  if (y < 1900 || m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= (m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1]!);
}

function normaliseCnId(input: string, ctx: CheckContext, maxLength: number): Checked {
  if (input.length > maxLength) return bad.long;
  const s = (ascii(input) ? input : halfWidth(input)).replace(/\s/g, '').toUpperCase();
  if (s.length === 0) return bad.empty;
  // GB 11643-1999 18-character numbers only; the 15-digit 1984 form is no longer issued.
  if (!ID_FORM.test(s)) return bad.malformed;
  if (!PROVINCES.has(s.slice(0, 2)) || s.slice(2, 6) === '0000') return bad.region;
  const birth = s.slice(6, 14);
  if (!realDate(Number(birth.slice(0, 4)), Number(birth.slice(4, 6)), Number(birth.slice(6, 8))))
    return bad.birth;
  if (birth > ctx.today) return bad.birth;
  return cnIdCheckChar(s) === s[17] ? s : bad.idCheck;
}

const USCC_FORM = /^[0-9A-HJ-NPQRTUWXY]{18}$/;

function normaliseUscc(input: string, _ctx: CheckContext, maxLength: number): Checked {
  if (input.length > maxLength) return bad.long;
  const s = (ascii(input) ? input : halfWidth(input)).replace(/\s/g, '').toUpperCase();
  if (s.length === 0) return bad.empty;
  if (!USCC_FORM.test(s)) return bad.malformed;
  return usccCheckChar(s) === s[17] ? s : bad.uscc;
}

const CARD_FORM = /^\d{12,19}$/;

function normaliseCard(input: string, _ctx: CheckContext, maxLength: number): Checked {
  if (input.length > maxLength) return bad.long;
  const s = (ascii(input) ? input : halfWidth(input)).replace(/[\s-]/g, '');
  if (s.length === 0) return bad.empty;
  if (!CARD_FORM.test(s)) return bad.malformed;
  return luhnValid(s) ? s : bad.card;
}

// --- names, addresses, free text ----------------------------------------------------------------

// Letters and marks of any script, with the separators names use: space, middle dots (维吾尔族
// names such as 买买提·艾力), apostrophes, hyphens and periods. No digits, no symbols.
const NAME = /^[\p{L}\p{M}][\p{L}\p{M} ·・.'’-]*$/u;

function normaliseName(input: string, _ctx: CheckContext, maxLength: number): Checked {
  const v = cleanText(input, maxLength, false);
  if (typeof v !== 'string') return v;
  return NAME.test(v) ? v : bad.malformed;
}

function maskName(v: string): string {
  const cps = Array.from(v);
  let out = cps[0] ?? '';
  for (let i = 1; i < cps.length; i++) out += cps[i] === ' ' ? ' ' : '*';
  return out;
}

/**
 * Company names and addresses: one line of text. A leading '=' is refused: no real company or
 * address starts with one, and such a value is a spreadsheet formula waiting for an export
 * (exports also escape every cell, see disclosure/exportfile.ts; this keeps it out of the vault).
 */
function normaliseLine(input: string, _ctx: CheckContext, maxLength: number): Checked {
  const v = cleanText(input, maxLength, false);
  if (typeof v !== 'string') return v;
  return v.startsWith('=') || v.startsWith('＝') ? bad.formula : v;
}

function normaliseText(input: string, _ctx: CheckContext, maxLength: number): Checked {
  return cleanText(input, maxLength, true);
}

function maskAddress(v: string): string {
  const cps = Array.from(v);
  return cps.length > 8 ? `${cps.slice(0, 6).join('')}****` : `${cps[0] ?? ''}****`;
}

function maskCompany(v: string): string {
  const cps = Array.from(v);
  if (cps.length <= 4) return `${cps[0] ?? ''}***`;
  return `${cps.slice(0, 2).join('')}****${cps.slice(-2).join('')}`;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function normaliseDate(input: string, _ctx: CheckContext, maxLength: number): Checked {
  if (input.length > maxLength) return bad.long;
  const s = input.trim();
  if (s.length === 0) return bad.empty;
  const m = ISO_DATE.exec(s);
  if (!m || !realDate(Number(m[1]), Number(m[2]), Number(m[3]))) return bad.date;
  return s;
}

// --- the table ------------------------------------------------------------------------------------

function type(
  name: FieldTypeName,
  category: Category,
  sensitivity: Sensitivity,
  maxLength: number,
  normalise: FieldType['normalise'],
  mask: FieldType['mask'],
): FieldType {
  return { name, category, sensitivity, maxLength, normalise, mask };
}

export const fieldTypes: Readonly<Record<FieldTypeName, FieldType>> = {
  cn_mobile: type('cn_mobile', 'contact', 'general', 32, normaliseCnMobile, maskCnMobile),
  phone: type('phone', 'contact', 'general', 40, normalisePhone, maskPhone),
  email: type('email', 'contact', 'general', 254, normaliseEmail, maskEmail),
  cn_id_number: type('cn_id_number', 'identity', 'sensitive', 32, normaliseCnId, (v) => keepMask(v, 4, 4)),
  uscc: type('uscc', 'organisation', 'general', 32, normaliseUscc, (v) => keepMask(v, 4, 4)),
  bank_card: type('bank_card', 'financial', 'sensitive', 32, normaliseCard, (v) => keepMask(v, 6, 4)),
  person_name: type('person_name', 'identity', 'general', 64, normaliseName, maskName),
  address: type('address', 'contact', 'general', 256, normaliseLine, maskAddress),
  company: type('company', 'organisation', 'general', 128, normaliseLine, maskCompany),
  date: type('date', 'other', 'general', 10, normaliseDate, (v) => `${v.slice(0, 4)}-**-**`),
  text: type('text', 'other', 'general', 1000, normaliseText, () => FULL_MASK),
};

export function isFieldType(name: string): name is FieldTypeName {
  return (FIELD_TYPES as readonly string[]).includes(name);
}
