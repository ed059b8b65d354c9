import { describe, expect, it } from 'vitest';
import { decodeEntries, encodeEntries } from './entries.js';

const b = (hex: string) => Buffer.from(hex, 'hex');

describe('entry lists', () => {
  it('encode sorted by name, with one-byte name and four-byte value lengths', () => {
    const bytes = encodeEntries([
      { name: 'mobile', value: b('0102') },
      { name: 'email', value: b('') },
    ]);
    expect(bytes.toString('hex')).toBe(
      `05${Buffer.from('email').toString('hex')}00000000` +
        `06${Buffer.from('mobile').toString('hex')}000000020102`,
    );
    expect(decodeEntries(bytes)).toEqual([
      { name: 'email', value: b('') },
      { name: 'mobile', value: b('0102') },
    ]);
    expect(decodeEntries(bytes)?.map((e) => e.name)).toEqual(['email', 'mobile']);
    expect(decodeEntries(encodeEntries([]))).toEqual([]);
  });

  it('round-trip values of any size and names in UTF-8', () => {
    const big = Buffer.alloc(70_000, 7);
    const list = [
      { name: 'address', value: big },
      { name: 'név', value: b('ff') },
    ];
    expect(decodeEntries(encodeEntries(list))).toEqual(list);
  });

  it('refuse duplicate, empty and over-long names', () => {
    expect(() =>
      encodeEntries([
        { name: 'a', value: b('') },
        { name: 'a', value: b('') },
      ]),
    ).toThrow(/duplicate/);
    expect(() => encodeEntries([{ name: '', value: b('') }])).toThrow(RangeError);
    expect(() => encodeEntries([{ name: 'x'.repeat(256), value: b('') }])).toThrow(RangeError);
  });

  /** Threat: a damaged or tampered row read as other fields' values instead of failing. */
  it('report a truncated or malformed list as undefined', () => {
    const bytes = encodeEntries([{ name: 'name', value: b('aabbcc') }]);
    for (let cut = 1; cut < bytes.length; cut++)
      expect(decodeEntries(bytes.subarray(0, cut))).toBeUndefined();
    expect(decodeEntries(b('00'))).toBeUndefined();
    expect(decodeEntries(Buffer.concat([bytes, b('05')]))).toBeUndefined();
  });
});
