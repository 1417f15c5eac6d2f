/**
 * A request rate limit per client address: a token bucket of `burst` requests refilled at
 * `perSecond`. A client that finds its bucket empty gets 429 with `Retry-After` (whole seconds)
 * until a token is back. Buckets full again are forgotten, so the table holds only clients that
 * were busy lately.
 */

/** How many requests a client may make. */
export interface RateLimit {
  /** Sustained requests per second per client address. */
  readonly perSecond: number;
  /** Requests a client may make at once after being quiet. Default: `perSecond`. */
  readonly burst?: number;
}

/** Buckets of request tokens, per client address. */
export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(limit: RateLimit) {
    if (!(limit.perSecond > 0)) throw new RangeError('rateLimit.perSecond must be above 0');
    this.#perMs = limit.perSecond / 1000;
    this.#burst = Math.max(1, limit.burst ?? limit.perSecond);
  }

  /** Takes a token for `client` at time `now` (ms): 0 when allowed, else the seconds to wait. */
  take(client: string, now: number): number {
    let bucket = this.#buckets.get(client);
    if (bucket === undefined) {
      if (this.#buckets.size >= 10_000) this.#forgetFull(now);
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(client, bucket);
    }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000));
  }

  /** Drops the buckets that have refilled: their clients start afresh, as they would. */
  #forgetFull(now: number): void {
    for (const [client, b] of this.#buckets)
      if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(client);
  }
}
