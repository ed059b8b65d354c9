import { describe, expect, it } from 'vitest';
import {
  addPeriod,
  canExtend,
  complaintDue,
  DEFAULT_RULES,
  daysLeft,
  dueDate,
  loadRules,
} from './deadlines.js';

const CN = DEFAULT_RULES.CN!;
const EU = DEFAULT_RULES.EU!;
const d = (s: string) => new Date(s);
const fresh = (receivedAt: string) => ({
  receivedAt: d(receivedAt),
  pausedMs: 0,
  pausedAt: null,
  extensions: 0,
});

describe('deadline rules (fixed clock)', () => {
  it('CN: 30 days from receipt (GB/T 35273, configurable), no extension', () => {
    const s = fresh('2026-03-01T08:00:00.000Z');
    expect(dueDate(CN, s, d('2026-03-01T08:00:00.000Z')).toISOString()).toBe('2026-03-31T08:00:00.000Z');
    expect(canExtend(CN, s)).toBe(false);
  });

  it('EU: one month, to the same date, or the last day of a shorter month', () => {
    expect(dueDate(EU, fresh('2026-03-15T10:00:00.000Z'), d('2026-03-15T10:00:00.000Z')).toISOString()).toBe(
      '2026-04-15T10:00:00.000Z',
    );
    expect(addPeriod(d('2026-01-31T00:00:00.000Z'), { months: 1 }).toISOString()).toBe(
      '2026-02-28T00:00:00.000Z',
    );
    expect(addPeriod(d('2028-01-31T00:00:00.000Z'), { months: 1 }).toISOString()).toBe(
      '2028-02-29T00:00:00.000Z',
    );
  });

  it('EU: extendable once by two further months', () => {
    const s = fresh('2026-01-10T00:00:00.000Z');
    expect(canExtend(EU, s)).toBe(true);
    const ext = { ...s, extensions: 1 };
    expect(dueDate(EU, ext, d('2026-01-20T00:00:00.000Z')).toISOString()).toBe('2026-04-10T00:00:00.000Z');
    expect(canExtend(EU, ext)).toBe(false);
  });

  it('a pause stops the clock; resuming adds the paused time', () => {
    const s = fresh('2026-03-01T00:00:00.000Z');
    // Paused on day 5, still paused on day 12: the due date moves with the clock.
    const paused = { ...s, pausedAt: d('2026-03-06T00:00:00.000Z') };
    expect(dueDate(CN, paused, d('2026-03-13T00:00:00.000Z')).toISOString()).toBe('2026-04-07T00:00:00.000Z');
    // Resumed after 7 days: 7 days later than without the pause, and fixed again.
    const resumed = { ...s, pausedMs: 7 * 86_400_000 };
    expect(dueDate(CN, resumed, d('2026-05-01T00:00:00.000Z')).toISOString()).toBe(
      '2026-04-07T00:00:00.000Z',
    );
  });

  it('complaints: 15 days in CN, 30 in the EU (configurable)', () => {
    expect(complaintDue(CN, d('2026-03-01T00:00:00.000Z')).toISOString()).toBe('2026-03-16T00:00:00.000Z');
    expect(complaintDue(EU, d('2026-03-01T00:00:00.000Z')).toISOString()).toBe('2026-03-31T00:00:00.000Z');
  });

  it('days left counts down and goes negative when overdue', () => {
    const due = d('2026-03-31T08:00:00.000Z');
    expect(daysLeft(due, d('2026-03-30T09:00:00.000Z'))).toBe(1);
    expect(daysLeft(due, d('2026-04-02T09:00:00.000Z'))).toBe(-2);
  });

  it('defaults without a rules file', () => {
    expect(loadRules()).toBe(DEFAULT_RULES);
  });
});
