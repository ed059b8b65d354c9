import { describe, expect, it } from 'vitest';
import { localTime, parseClockTime, withinHours } from './localtime.js';

describe('local time in the policy zone', () => {
  it('Asia/Shanghai is UTC+8 all year', () => {
    const t = localTime('Asia/Shanghai');
    expect(t.minuteOfDay(new Date('2025-01-15T01:30:00Z'))).toBe(9 * 60 + 30);
    expect(t.day(new Date('2025-01-15T16:00:00Z'))).toBe('2025-01-16');
    expect(t.day(new Date('2025-01-15T15:59:59Z'))).toBe('2025-01-15');
    expect(t.minuteOfDay(new Date('2025-07-15T15:59:00Z'))).toBe(23 * 60 + 59);
  });

  it('follows daylight-saving transitions (Europe/Berlin, 2025-03-30 01:00Z)', () => {
    const t = localTime('Europe/Berlin');
    expect(t.minuteOfDay(new Date('2025-03-30T00:59:00Z'))).toBe(1 * 60 + 59); // CET, +1
    expect(t.minuteOfDay(new Date('2025-03-30T01:00:00Z'))).toBe(3 * 60); // CEST, +2
    expect(t.minuteOfDay(new Date('2025-10-26T00:59:00Z'))).toBe(2 * 60 + 59); // CEST
    expect(t.minuteOfDay(new Date('2025-10-26T01:00:00Z'))).toBe(2 * 60); // CET again
  });

  it('handles quarter-hour zones and matches Intl for many instants', () => {
    for (const zone of ['Asia/Kathmandu', 'America/St_Johns', 'Australia/Lord_Howe', 'UTC']) {
      const t = localTime(zone);
      const fmt = new Intl.DateTimeFormat('en-CA', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
      });
      for (let ms = Date.UTC(2025, 0, 1); ms < Date.UTC(2026, 0, 1); ms += 7 * 3_600_000 + 13 * 60_000) {
        const parts = Object.fromEntries(fmt.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
        expect(t.day(new Date(ms))).toBe(`${parts.year}-${parts.month}-${parts.day}`);
        expect(t.minuteOfDay(new Date(ms))).toBe(Number(parts.hour) * 60 + Number(parts.minute));
      }
    }
  });

  it('windows are [from, to) and may wrap past midnight', () => {
    expect(parseClockTime('09:30')).toBe(570);
    expect(parseClockTime('24:00')).toBe(1440);
    expect(withinHours(540, 540, 1260)).toBe(true);
    expect(withinHours(1260, 540, 1260)).toBe(false);
    expect(withinHours(1380, 1320, 360)).toBe(true);
    expect(withinHours(359, 1320, 360)).toBe(true);
    expect(withinHours(360, 1320, 360)).toBe(false);
  });
});
