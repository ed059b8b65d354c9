import { describe, expect, it } from 'vitest';
import { defaultCatalog } from './catalog.js';
import { canonicalRecord, checkFields, externalIdProblem } from './records.js';

describe('external ids', () => {
  const cases: [string, string | undefined][] = [
    ['C00000001', undefined],
    ['crm:42', undefined],
    ['a.b_c-d', undefined],
    ['', 'VAULT_EXTERNAL_ID_INVALID'],
    ['-leading-dash', 'VAULT_EXTERNAL_ID_INVALID'],
    ['has space', 'VAULT_EXTERNAL_ID_INVALID'],
    ['x'.repeat(129), 'VAULT_EXTERNAL_ID_INVALID'],
    // PI must not be used as an external id: it is stored in the clear.
    ['13812345678', 'VAULT_EXTERNAL_ID_INVALID'],
    ['11010519491231002X', 'VAULT_EXTERNAL_ID_INVALID'],
    ['zhang@example.com', 'VAULT_EXTERNAL_ID_INVALID'],
    // Digits that are not a valid mobile or ID number are an ordinary customer number.
    ['10012345678', undefined],
    ['110105194912310021', undefined],
  ];
  it.each(cases)('%j → %s', (id, code) => {
    expect(externalIdProblem(id)).toBe(code);
  });
});

describe('canonical record', () => {
  it('sorts by field name and separates unambiguously', () => {
    const a = canonicalRecord(
      new Map([
        ['mobile', '+8613812345678'],
        ['email', 'a@b.cn'],
      ]),
    );
    const b = canonicalRecord(
      new Map([
        ['email', 'a@b.cn'],
        ['mobile', '+8613812345678'],
      ]),
    );
    expect(a).toBe(b);
    expect(a).toBe('email\u0000a@b.cn\u0001mobile\u0000+8613812345678\u0001');
    expect(canonicalRecord(new Map([['a', 'bc']]))).not.toBe(canonicalRecord(new Map([['ab', 'c']])));
  });
});

describe('checkFields', () => {
  const ctx = { today: '20240601' };
  it('normalises values, collects nulls, skips undefined', () => {
    const r = checkFields(defaultCatalog, ctx, { mobile: '138 1234 5678', email: null, name: undefined });
    expect(r).toEqual({ set: new Map([['mobile', '+8613812345678']]), unset: ['email'] });
  });
  it('names the first bad field and its code, never the value', () => {
    expect(checkFields(defaultCatalog, ctx, { mobile: '123' })).toEqual({
      position: 0,
      field: 'mobile',
      code: 'VAULT_PHONE_INVALID',
    });
  });
  it('gives an unknown field by its position, never its name (the caller may have sent PI as a key)', () => {
    expect(checkFields(defaultCatalog, ctx, { name: '张三', '13912345678': '42' })).toEqual({
      position: 1,
      code: 'VAULT_FIELD_UNKNOWN',
    });
  });
});
