import { describe, expect, it } from 'vitest';
import { normaliseContact, normaliseEmail, normaliseMobile } from './contact.js';

describe('contact normalisation', () => {
  it.each([
    ['13800138000', '13800138000'],
    ['+86 138-0013-8000', '13800138000'],
    ['0086 13800138000', '13800138000'],
    ['8613800138000', '13800138000'],
    ['(138) 0013 8000', '13800138000'],
  ])('mobile %s → %s', (raw, want) => expect(normaliseMobile(raw)).toBe(want));

  it.each(['1380013800', '23800138000', '+1 415 555 0100', 'abc'])('rejects %s', (raw) =>
    expect(normaliseMobile(raw)).toBeUndefined());

  it('lower-cases and trims e-mail, rejects non-addresses', () => {
    expect(normaliseEmail('  Li.Ming123@Example.COM ')).toBe('li.ming123@example.com');
    expect(normaliseEmail('no-at-sign')).toBeUndefined();
    expect(normaliseEmail('a@b')).toBeUndefined();
  });

  it('tells the kind of contact point', () => {
    expect(normaliseContact('x@canary.example.cn')).toEqual({ kind: 'email', value: 'x@canary.example.cn' });
    expect(normaliseContact('+8613800138000')).toEqual({ kind: 'mobile', value: '13800138000' });
    expect(normaliseContact('hello')).toBeUndefined();
  });
});
