import { describe, expect, it } from 'vitest';
import { cnIdCheckChar, luhnCheckDigit, usccCheckChar } from '../../lib/checkdigits.js';
import {
  type CheckContext,
  checkContext,
  type FieldTypeName,
  fieldTypes,
  Invalid,
  isCnMobileUncached,
  keepMask,
  MOBILE_PREFIX_DIGITS,
} from './fieldtypes.js';

const ctx: CheckContext = { today: '20240601' };

function check(type: FieldTypeName, input: string): string {
  const t = fieldTypes[type];
  const v = t.normalise(input, ctx, t.maxLength);
  return v instanceof Invalid ? v.code : v;
}

/** A valid ID number with the given first 17 characters. */
const id = (first17: string): string => first17 + cnIdCheckChar(first17);
/** A valid card number with the given body. */
const card = (body: string): string => body + luhnCheckDigit(body);

describe('field types: validation and normalisation', () => {
  const cases: [FieldTypeName, string, string][] = [
    // cn_mobile: every accepted spelling normalises to E.164
    ['cn_mobile', '13812345678', '+8613812345678'],
    ['cn_mobile', '+86 138 1234 5678', '+8613812345678'],
    ['cn_mobile', '86-138-1234-5678', '+8613812345678'],
    ['cn_mobile', '008613812345678', '+8613812345678'],
    ['cn_mobile', '(+86) 138.1234.5678', '+8613812345678'],
    ['cn_mobile', '１３８１２３４５６７８', '+8613812345678'],
    ['cn_mobile', ' 13812345678 ', '+8613812345678'],
    ['cn_mobile', '17400012345', '+8617400012345'],
    ['cn_mobile', '1381234567', 'VAULT_PHONE_INVALID'],
    ['cn_mobile', '138123456789', 'VAULT_PHONE_INVALID'],
    ['cn_mobile', '12012345678', 'VAULT_PHONE_INVALID'],
    ['cn_mobile', '17406012345', 'VAULT_PHONE_INVALID'],
    ['cn_mobile', '+44 20 7946 0958', 'VAULT_PHONE_INVALID'],
    ['cn_mobile', '010-62345678', 'VAULT_PHONE_INVALID'],
    ['cn_mobile', '138abcd5678', 'VAULT_PHONE_INVALID'],
    ['cn_mobile', '', 'VAULT_VALUE_EMPTY'],
    ['cn_mobile', '1'.repeat(40), 'VAULT_VALUE_TOO_LONG'],
    // phone: any valid number, E.164; national numbers read as mainland
    ['phone', '+44 20 7946 0958', '+442079460958'],
    ['phone', '010-62345678', '+861062345678'],
    ['phone', '13812345678', '+8613812345678'],
    ['phone', '+1 202 555 0123x', 'VAULT_PHONE_INVALID'],
    ['phone', '12345', 'VAULT_PHONE_INVALID'],
    ['phone', 'call +44 20 7946 0958', 'VAULT_PHONE_INVALID'],
    ['phone', '  ', 'VAULT_VALUE_EMPTY'],
    // email: lower-cased, trimmed
    ['email', 'Zhang.San@Example.COM', 'zhang.san@example.com'],
    ['email', ' li+tag@mail.qq.com ', 'li+tag@mail.qq.com'],
    ['email', 'no-at-sign.example.com', 'VAULT_EMAIL_INVALID'],
    ['email', 'two@@example.com', 'VAULT_EMAIL_INVALID'],
    ['email', 'a b@example.com', 'VAULT_EMAIL_INVALID'],
    ['email', 'user@localhost', 'VAULT_EMAIL_INVALID'],
    ['email', '.dot@example.com', 'VAULT_EMAIL_INVALID'],
    ['email', `${'x'.repeat(65)}@example.com`, 'VAULT_EMAIL_INVALID'],
    ['email', '张三@example.com', 'VAULT_EMAIL_INVALID'],
    // cn_id_number: GB 11643 — region, real birth date not in the future, check character
    ['cn_id_number', '11010519491231002X', '11010519491231002X'],
    ['cn_id_number', '11010519491231002x', '11010519491231002X'],
    ['cn_id_number', '110105 19491231 002X', '11010519491231002X'],
    ['cn_id_number', id('31010120000229001'), id('31010120000229001')],
    ['cn_id_number', '110105194912310021', 'VAULT_ID_CHECK_DIGIT_INVALID'],
    ['cn_id_number', id('99010519491231002'), 'VAULT_ID_REGION_INVALID'],
    ['cn_id_number', id('11000019491231002'), 'VAULT_ID_REGION_INVALID'],
    ['cn_id_number', id('11010519490230002'), 'VAULT_ID_BIRTH_DATE_INVALID'],
    ['cn_id_number', id('11010519000229002'), 'VAULT_ID_BIRTH_DATE_INVALID'],
    ['cn_id_number', id('11010518991231002'), 'VAULT_ID_BIRTH_DATE_INVALID'],
    ['cn_id_number', id('11010520240602001'), 'VAULT_ID_BIRTH_DATE_INVALID'],
    ['cn_id_number', id('11010520240601001'), id('11010520240601001')],
    ['cn_id_number', id('11010519491331002'), 'VAULT_ID_BIRTH_DATE_INVALID'],
    ['cn_id_number', '110105491231002', 'VAULT_VALUE_MALFORMED'],
    ['cn_id_number', '1101051949123100XX', 'VAULT_VALUE_MALFORMED'],
    ['cn_id_number', '', 'VAULT_VALUE_EMPTY'],
    // uscc: GB 32100 check character
    ['uscc', '91350100M000100Y43', '91350100M000100Y43'],
    ['uscc', '91350100m000100y43', '91350100M000100Y43'],
    ['uscc', '91350100M000100Y44', 'VAULT_USCC_CHECK_INVALID'],
    ['uscc', '91350100M000100I43', 'VAULT_VALUE_MALFORMED'],
    ['uscc', '91350100M000100Y4', 'VAULT_VALUE_MALFORMED'],
    // bank_card: Luhn, 12-19 digits
    ['bank_card', '4111 1111 1111 1111', '4111111111111111'],
    ['bank_card', card('622202020011223344'), card('622202020011223344')],
    ['bank_card', '4111111111111112', 'VAULT_CARD_CHECK_INVALID'],
    ['bank_card', card('1234567890'), 'VAULT_VALUE_MALFORMED'],
    ['bank_card', card('1234567890123456789'), 'VAULT_VALUE_MALFORMED'],
    ['bank_card', '4111-1111-1111-111a', 'VAULT_VALUE_MALFORMED'],
    // person_name: letters of any script and name punctuation; whitespace collapsed; NFC
    ['person_name', '张三', '张三'],
    ['person_name', '  欧阳  娜娜 ', '欧阳 娜娜'],
    ['person_name', '买买提·艾力', '买买提·艾力'],
    ['person_name', "O'Brien-Smith", "O'Brien-Smith"],
    ['person_name', 'Jose\u0301', 'José'],
    ['person_name', '张3', 'VAULT_VALUE_MALFORMED'],
    ['person_name', 'a@b', 'VAULT_VALUE_MALFORMED'],
    ['person_name', '张\u0000三', 'VAULT_VALUE_MALFORMED'],
    ['person_name', '张'.repeat(65), 'VAULT_VALUE_TOO_LONG'],
    ['person_name', '', 'VAULT_VALUE_EMPTY'],
    // address, company: one line, bounded
    ['address', '北京市朝阳区 建国路88号\n', '北京市朝阳区 建国路88号'],
    ['address', 'x'.repeat(257), 'VAULT_VALUE_TOO_LONG'],
    ['address', 'a\u0007b', 'VAULT_VALUE_MALFORMED'],
    ['company', '北京某某科技有限公司', '北京某某科技有限公司'],
    ['company', ' ', 'VAULT_VALUE_EMPTY'],
    // date: ISO, real
    ['date', '2024-02-29', '2024-02-29'],
    ['date', '2023-02-29', 'VAULT_DATE_INVALID'],
    ['date', '2024-13-01', 'VAULT_DATE_INVALID'],
    ['date', '2024/02/01', 'VAULT_DATE_INVALID'],
    // text: newlines kept, other controls refused, bounded
    ['text', ' line one\nline two ', 'line one\nline two'],
    ['text', 'bell\u0007', 'VAULT_VALUE_MALFORMED'],
    ['text', 'x'.repeat(1001), 'VAULT_VALUE_TOO_LONG'],
  ];
  it.each(cases)('%s %j → %s', (type, input, expected) => {
    expect(check(type, input)).toBe(expected);
  });

  it('normalisation is idempotent on every accepted value', () => {
    for (const [type, input, expected] of cases) {
      if (expected.startsWith('VAULT_')) continue;
      expect(check(type, check(type, input)), `${type} ${input}`).toBe(expected);
    }
  });

  it('takes today from the clock', () => {
    expect(checkContext(new Date('2024-06-01T23:59:59Z')).today).toBe('20240601');
  });
});

describe('field types: default masks', () => {
  const cases: [FieldTypeName, string, string][] = [
    ['cn_mobile', '+8613812345678', '138****5678'],
    ['phone', '+442079460958', '+44 ******0958'],
    ['email', 'zhang.san@example.com', 'z***@example.com'],
    ['cn_id_number', '11010519491231002X', '1101**********002X'],
    ['uscc', '91350100M000100Y43', '9135**********0Y43'],
    ['bank_card', '4111111111111111', '411111******1111'],
    ['person_name', '张三', '张*'],
    ['person_name', '欧阳娜娜', '欧***'],
    ['person_name', 'John Smith', 'J*** *****'],
    ['address', '北京市朝阳区建国路88号', '北京市朝阳区****'],
    ['address', '北京', '北****'],
    ['company', '北京某某科技有限公司', '北京****公司'],
    ['company', '腾讯', '腾***'],
    ['date', '1990-05-17', '1990-**-**'],
    ['text', 'anything at all', '****'],
  ];
  it.each(cases)('%s %s → %s', (type, value, masked) => {
    expect(fieldTypes[type].mask(value)).toBe(masked);
  });

  it('never shows the value whole', () => {
    for (const [type, value] of cases) expect(fieldTypes[type].mask(value)).not.toBe(value);
  });

  it('keepMask stars the middle by code point and hides short values entirely', () => {
    expect(keepMask('abcdefgh', 2, 2)).toBe('ab****gh');
    expect(keepMask('张三李四王五', 1, 1)).toBe('张****五');
    expect(keepMask('abc', 2, 2)).toBe('***');
  });
});

describe('cn_mobile prefix cache', () => {
  it(`agrees with uncached libphonenumber-js for every ${MOBILE_PREFIX_DIGITS}-digit prefix`, () => {
    // Three completions per prefix, all judged uncached: if any digit after the prefix changed the
    // verdict, they would disagree with each other or with the cached path.
    const disagreements: string[] = [];
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const rest = 11 - MOBILE_PREFIX_DIGITS;
    for (let p = 10 ** (MOBILE_PREFIX_DIGITS - 1); p < 2 * 10 ** (MOBILE_PREFIX_DIGITS - 1); p++) {
      const verdicts = new Set<boolean>();
      for (let k = 0; k < 3; k++) {
        const n = `${p}${String(rand() % 10 ** rest).padStart(rest, '0')}`;
        const uncached = isCnMobileUncached(n);
        const cached = check('cn_mobile', n) === `+86${n}`;
        verdicts.add(uncached);
        if (cached !== uncached) disagreements.push(n);
      }
      if (verdicts.size > 1) disagreements.push(String(p));
    }
    expect(disagreements).toEqual([]);
  });

  it('covers known-valid and known-invalid blocks', () => {
    expect(isCnMobileUncached('13812345678')).toBe(true);
    expect(isCnMobileUncached('10012345678')).toBe(false);
  });
});

describe('usccCheckChar sanity for the fixtures above', () => {
  it('the USCC fixture is valid', () => {
    expect(usccCheckChar('91350100M000100Y4')).toBe('3');
  });
});
