/**
 * Local wall-clock time in the policy's time zone, for hours-of-day rules and quota days.
 *
 * Intl formatting costs microseconds, too much for a decision on every read, so the zone's UTC
 * offset is cached per 15-minute slot of UTC time: every zone's offset is a multiple of 15 minutes
 * and every transition falls on a 15-minute boundary of UTC, so an offset is constant within a slot.
 */
export interface LocalTime {
  readonly timeZone: string;
  /** Minutes since local midnight, 0..1439. */
  minuteOfDay(at: Date): number;
  /** Local calendar day, YYYY-MM-DD. */
  day(at: Date): string;
}

const SLOT_MS = 15 * 60 * 1000;
const MAX_CACHED_SLOTS = 4096;

export function localTime(timeZone: string): LocalTime {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  });
  const offsets = new Map<number, number>();

  function offsetMs(ms: number): number {
    const slot = Math.floor(ms / SLOT_MS);
    const cached = offsets.get(slot);
    if (cached !== undefined) return cached;
    const probe = slot * SLOT_MS;
    const parts: Record<string, number> = {};
    for (const p of fmt.formatToParts(new Date(probe))) {
      if (p.type !== 'literal') parts[p.type] = Number(p.value);
    }
    const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!);
    const off = wall - probe;
    if (offsets.size >= MAX_CACHED_SLOTS) offsets.clear();
    offsets.set(slot, off);
    return off;
  }

  return {
    timeZone,
    minuteOfDay(at) {
      const ms = at.getTime();
      const local = ms + offsetMs(ms);
      const m = Math.floor(local / 60_000) % 1440;
      return m < 0 ? m + 1440 : m;
    },
    day(at) {
      const ms = at.getTime();
      return new Date(ms + offsetMs(ms)).toISOString().slice(0, 10);
    },
  };
}

/** "HH:MM" → minutes since midnight ("24:00" → 1440). */
export function parseClockTime(s: string): number {
  const [h, m] = s.split(':');
  return Number(h) * 60 + Number(m);
}

/** Whether a local minute falls in [from, to); a window with from > to wraps past midnight. */
export function withinHours(minute: number, from: number, to: number): boolean {
  return from < to ? minute >= from && minute < to : minute >= from || minute < to;
}
