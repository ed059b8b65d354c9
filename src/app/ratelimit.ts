import type { Clock } from '../lib/clock.js';
import { commonError } from '../lib/errors.js';
import type { Principal } from '../lib/http/index.js';

/**
 * Per-actor token buckets. The 2020 courier leak was an employee account driven by a script "as
 * fast as the API allows": a person at a console needs a few requests a second, so an employee's
 * bucket is small and a scraper is slowed to a crawl long before the detector and quotas act.
 * Services (integrations) get a large bucket. In-process: each API node limits its own share.
 */
export interface RateLimits {
  /** Sustained requests per second and burst, by actor kind. */
  employee: { rate: number; burst: number };
  partner: { rate: number; burst: number };
  service: { rate: number; burst: number };
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  employee: { rate: 10, burst: 40 },
  partner: { rate: 20, burst: 100 },
  service: { rate: 20_000, burst: 40_000 },
};

export function createRateLimiter(clock: Clock, limits: RateLimits = DEFAULT_RATE_LIMITS) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (principal: Principal): void => {
    const { rate, burst } = limits[principal.kind];
    const now = clock.now().getTime();
    const b = buckets.get(principal.id) ?? { tokens: burst, at: now };
    // A clock that steps backwards must not lock the actor out.
    b.tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.at) / 1000) * rate);
    b.at = now;
    if (b.tokens < 1) {
      buckets.set(principal.id, b);
      throw commonError('RATE_LIMITED', {
        details: { retryAfterMs: Math.ceil(((1 - b.tokens) / rate) * 1000) },
      });
    }
    b.tokens -= 1;
    buckets.set(principal.id, b);
  };
}
