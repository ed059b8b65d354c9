import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit.js';
import { isAppError } from '../../lib/errors.js';
import { decodeEntry, encodeEntry, MAX_ENTRY_BYTES } from './entry.js';

const event = {
  kind: 'access.read',
  at: '2024-01-02T03:04:05.678Z',
  actor: 'act_1',
  subject: 'sub_1',
  purpose: 'billing',
  attrs: { view: 'masked', fields: ['mobile', 'email'], allowed: true, count: 2, reason: null },
};

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isAppError(e) ? e.code : 'not an AppError';
  }
  return undefined;
}

describe('entry encoding v1', () => {
  it('is a version byte and canonical JSON with sorted keys (known answer)', () => {
    const bytes = encodeEntry(event);
    expect(bytes[0]).toBe(1);
    expect(bytes.subarray(1).toString('utf8')).toBe(
      '{"actor":"act_1","at":"2024-01-02T03:04:05.678Z","attrs":{"allowed":true,"count":2,' +
        '"fields":["mobile","email"],"reason":null,"view":"masked"},"kind":"access.read",' +
        '"purpose":"billing","subject":"sub_1"}',
    );
  });

  it('does not depend on the order keys were written in', () => {
    const shuffled = {
      attrs: { reason: null, count: 2, allowed: true, fields: ['mobile', 'email'], view: 'masked' },
      purpose: 'billing',
      subject: 'sub_1',
      actor: 'act_1',
      at: '2024-01-02T03:04:05.678Z',
      kind: 'access.read',
    };
    expect(encodeEntry(shuffled).equals(encodeEntry(event))).toBe(true);
  });

  it('fills absent fields: at from the ledger clock, null subject/purpose, empty attrs', () => {
    const bytes = encodeEntry({ kind: 'keys.rotated', actor: null }, '2024-05-06T07:08:09.000Z');
    expect(bytes.subarray(1).toString('utf8')).toBe(
      '{"actor":null,"at":"2024-05-06T07:08:09.000Z","attrs":{},"kind":"keys.rotated","purpose":null,"subject":null}',
    );
  });

  it('round-trips through decodeEntry', () => {
    const decoded = decodeEntry(encodeEntry(event));
    expect(decoded).toEqual({ ...event, attrs: { ...event.attrs } });
    expect(encodeEntry(decoded).equals(encodeEntry(event))).toBe(true);
  });

  it('escapes strings as JSON.stringify does (non-ASCII stays UTF-8)', () => {
    const bytes = encodeEntry({ ...event, attrs: { note: 'a"b\\c\n\u0001é😀' } });
    expect(bytes.toString('utf8')).toContain('"note":"a\\"b\\\\c\\n\\u0001é😀"');
    expect(decodeEntry(bytes).attrs.note).toBe('a"b\\c\n\u0001é😀');
  });

  it('rejects bytes that are not canonical, even when they parse', () => {
    const canonical = encodeEntry(event);
    const json = canonical.subarray(1).toString('utf8');
    const variants = [
      Buffer.concat([Buffer.from([2]), canonical.subarray(1)]), // unknown version
      Buffer.concat([Buffer.from([1]), Buffer.from(` ${json}`)]), // whitespace
      Buffer.concat([
        Buffer.from([1]),
        Buffer.from(json.replace('"actor":"act_1",', '').replace('}', ',"actor":"act_1"}')),
      ]),
      Buffer.concat([Buffer.from([1]), Buffer.from(json.replace('"count":2', '"count":2.0'))]),
      Buffer.concat([
        Buffer.from([1]),
        Buffer.from(json.replace('"subject":"sub_1"', '"subject":"sub_1","extra":1')),
      ]),
      Buffer.from([1, 0xff, 0xfe]),
      Buffer.from([1]),
    ];
    for (const v of variants) expect(code(() => decodeEntry(v))).toBe('LEDGER_ENTRY_MALFORMED');
  });

  it('rejects events it cannot encode faithfully', () => {
    const bad: AuditEvent[] = [
      { ...event, kind: '' },
      { ...event, kind: 'has space' },
      { ...event, at: '2024-01-02 03:04:05' },
      { ...event, at: '2024-01-02T03:04:05+08:00' },
      { ...event, actor: '' },
      { ...event, attrs: { n: Number.NaN } },
      { ...event, attrs: { n: Number.POSITIVE_INFINITY } },
      { ...event, attrs: { 'bad key': 1 } },
      { ...event, attrs: { s: '\ud800' } },
      { ...event, attrs: { o: { nested: true } } as never },
      { ...event, attrs: { a: [1, 2] } as never },
    ];
    for (const b of bad) expect(code(() => encodeEntry(b))).toBe('LEDGER_EVENT_INVALID');
    expect(code(() => encodeEntry({ kind: 'x', actor: null }))).toBe('LEDGER_EVENT_INVALID');
  });

  it('keeps every entry small enough for a uint16 length prefix', () => {
    const attrs: Record<string, string> = {};
    for (let i = 0; i < 64; i++) attrs[`k${i}`] = 'x'.repeat(1024);
    expect(code(() => encodeEntry({ ...event, attrs }))).toBe('LEDGER_ENTRY_TOO_LARGE');
    expect(MAX_ENTRY_BYTES).toBe(65535);
  });
});
