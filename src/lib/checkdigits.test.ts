import { describe, expect, it } from 'vitest';
import { cnIdCheckChar, luhnCheckDigit, luhnValid, usccCheckChar } from './checkdigits.js';

describe('check digits (known answers)', () => {
  it('GB 11643 identity number', () => {
    // The standard's own example: 11010519491231002X.
    expect(cnIdCheckChar('11010519491231002')).toBe('X');
    expect(cnIdCheckChar('44052418800101001')).toBe('4');
  });
  it('GB 32100 unified social credit code', () => {
    // Published codes of real companies (public registry data).
    expect(usccCheckChar('91350100M000100Y4')).toBe('3');
    expect(usccCheckChar('91110000802100433')).toBe('B');
    expect(usccCheckChar('9111000080210043I')).toBeUndefined();
  });
  it('Luhn', () => {
    expect(luhnCheckDigit('7992739871')).toBe('3');
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
  });
});
