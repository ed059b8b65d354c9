import { type Rng, Weighted } from '../../lib/synthetic/index.js';

/**
 * Time for the synthetic organisation. Everything happens in China Standard Time (UTC+8, no daylight
 * saving), which is where the daily rhythm lives; every timestamp is written as ISO-8601 UTC.
 */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
const CST_OFFSET_MS = 8 * HOUR_MS;

/** The instant of local (UTC+8) midnight that starts the local day containing `t`. */
export function localMidnight(t: number): number {
  return Math.floor((t + CST_OFFSET_MS) / DAY_MS) * DAY_MS - CST_OFFSET_MS;
}

/** 0 = Sunday … 6 = Saturday, in local time. */
export function localWeekday(t: number): number {
  return new Date(t + CST_OFFSET_MS).getUTCDay();
}

/** Day of the month, in local time. */
export function localDayOfMonth(t: number): number {
  return new Date(t + CST_OFFSET_MS).getUTCDate();
}

export function localHour(t: number): number {
  return Math.floor((t + CST_OFFSET_MS) / HOUR_MS) % 24;
}

/** ISO-8601 UTC to the second (the form the import files and the API use). */
export function iso(t: number): string {
  return `${new Date(Math.floor(t / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

/** Relative activity per local hour 0–23. */
export type HourProfile = readonly number[];

/** Office work: a morning and an afternoon peak, a lunch dip, little in the evening, none at night. */
export const OFFICE_HOURS: HourProfile = [
  0.05, 0.02, 0.01, 0.01, 0.01, 0.02, 0.1, 0.4, 2, 8, 10, 9, 4, 6, 9, 10, 9, 7, 3, 1.2, 0.8, 0.4, 0.2, 0.1,
];

/**
 * Outbound sales calls: office hours stretched into the evening, when people answer, and never
 * outside 09:00–21:00 (the hours the guarded policy allows telemarketing in).
 */
export const CALLING_HOURS: HourProfile = [
  0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 10, 9, 3, 5, 9, 10, 9, 7, 4, 6, 7, 0, 0, 0,
];

/** Consumers on the web and in the app: awake from morning to late evening, peaking after work. */
export const CONSUMER_HOURS: HourProfile = [
  1.5, 0.8, 0.4, 0.2, 0.2, 0.3, 0.8, 2, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6.5, 7, 8, 9, 9, 7, 4,
];

/** A partner's integration: business hours, with a nightly batch around 02:00. */
export const PARTNER_HOURS: HourProfile = [
  0.5, 1, 3, 1, 0.3, 0.1, 0.2, 0.5, 2, 6, 8, 8, 4, 6, 8, 8, 7, 5, 2, 1, 0.5, 0.3, 0.2, 0.2,
];

const profiles = new WeakMap<HourProfile, Weighted<number>>();

function hours(profile: HourProfile): Weighted<number> {
  let w = profiles.get(profile);
  if (!w) {
    w = new Weighted(profile.flatMap((weight, hour) => (weight > 0 ? [[hour, weight] as const] : [])));
    profiles.set(profile, w);
  }
  return w;
}

/** An instant in the local day starting at `midnight`, distributed by the hour profile. */
export function timeInDay(rng: Rng, midnight: number, profile: HourProfile): number {
  return midnight + hours(profile).pick(rng) * HOUR_MS + rng.int(HOUR_MS);
}

/** `n` instants in the local day, ascending. */
export function timesInDay(rng: Rng, midnight: number, profile: HourProfile, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = timeInDay(rng, midnight, profile);
  return out.sort();
}

/** A whole number drawn around `mean` (normal approximation, never negative). */
export function around(rng: Rng, mean: number, spread = 0.25): number {
  // Three uniforms summed and centred: a cheap bell shape with mean 0, deviation 1, within ±3.
  const z = (rng.float() + rng.float() + rng.float() - 1.5) * 2;
  return Math.max(0, Math.round(mean * (1 + spread * z)));
}
