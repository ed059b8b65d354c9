import type { Clock } from '../lib/clock.js';
import { commonError } from '../lib/errors.js';
import type { Principal } from '../lib/http/index.js';

/**
 * Per-actor token buckets. The 2020 courier leak was an employee account driven by a script "as
 * fast as the API allows": a person at a console needs a few requests a second, so an employee's
 * bucket is small and a scraper is slowed to a crawl long before the detector and quotas act.
 * Services (integrations) get a large bucket. In-process: each API node limits its own share.
 *
 * The unit is a subject, not a request (issue 11, item 8): a batch read of 1,000 subjects costs
 * 1,000 tokens. A request is admitted while the bucket holds at least one token and may take it
 * into debt (so one batch larger than the burst is not refused forever); the actor then waits until
 * the bucket has refilled. Over any window the actor reads at most burst + rate × seconds subjects
 * plus one request's worth.
 *
 * Limits are by actor kind, overridden per role (CUSTODIAN_RATE_LIMITS, docs/security.md). An actor
 * with several configured roles gets the most generous of them: its roles together are its job.
 */
export interface Limit {
  /** Sustained subjects per second. */
  rate: number;
  /** Subjects that may be read at once after a pause. */
  burst: number;
}

export interface RateLimits {
  employee: Limit;
  partner: Limit;
  service: Limit;
  /** Per role, overriding the kind's limit. */
  roles?: Record<string, Limit>;
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  employee: { rate: 10, burst: 40 },
  partner: { rate: 20, burst: 100 },
  service: { rate: 20_000, burst: 40_000 },
};

export function limitFor(principal: Principal, limits: RateLimits): Limit {
  let best: Limit | undefined;
  for (const r of principal.roles) {
    const l = limits.roles?.[r];
    if (l && (!best || l.rate > best.rate)) best = l;
  }
  return best ?? limits[principal.kind];
}

export interface RateLimiter {
  /**
   * Charges `cost` subjects (default 1) to the actor; throws RATE_LIMITED (details.retryAfterMs)
   * when its bucket is empty. `cost: 0` only checks.
   */
  (principal: Principal, cost?: number): void;
  /** Milliseconds until this actor may be admitted again (0: now), without charging. */
  wait(actorId: string): number;
  /** Charges an admitted request's further cost (it may take the bucket into debt). */
  charge(principal: Principal, cost: number): void;
}

export function createRateLimiter(clock: Clock, limits: RateLimits = DEFAULT_RATE_LIMITS): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number; limit: Limit }>();
  const refill = (b: { tokens: number; at: number; limit: Limit }, now: number) => {
    // A clock that steps backwards must not lock the actor out.
    b.tokens = Math.min(b.limit.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * b.limit.rate);
    b.at = now;
  };
  const retryMs = (b: { tokens: number; limit: Limit }) =>
    Math.max(1, Math.ceil(((1 - b.tokens) / b.limit.rate) * 1000));
  const limiter = ((principal: Principal, cost = 1): void => {
    const limit = limitFor(principal, limits);
    const now = clock.now().getTime();
    let b = buckets.get(principal.id);
    if (!b) {
      b = { tokens: limit.burst, at: now, limit };
      buckets.set(principal.id, b);
    }
    b.limit = limit;
    refill(b, now);
    if (b.tokens < 1) throw commonError('RATE_LIMITED', { details: { retryAfterMs: retryMs(b) } });
    b.tokens -= cost;
  }) as RateLimiter;
  limiter.charge = (principal: Principal, cost: number): void => {
    const b = buckets.get(principal.id);
    if (b) b.tokens -= cost;
  };
  limiter.wait = (actorId: string): number => {
    const b = buckets.get(actorId);
    if (!b) return 0;
    refill(b, clock.now().getTime());
    return b.tokens >= 1 ? 0 : retryMs(b);
  };
  return limiter;
}
