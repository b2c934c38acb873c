/**
 * How a shard's rate adapts when the shard throttles writes its bucket allowed (another producer writes to
 * it, or its real quota is lower): multiplicative decrease, additive increase (AIMD), per shard.
 */
export interface RateAdaptation {
  /** Factor applied to the rate on a throttle. */
  decrease: number;
  /** Rate regained per second, as a fraction of the configured rate. */
  increasePerSecond: number;
  /** Throttles within this long after a decrease count as the same event (one response, one second). */
  cooldownMs: number;
  /** The rate never drops below this fraction of the configured rate. */
  floor: number;
}

/**
 * Chosen on the bench's two-producer scenario: a gentle decrease keeps utilisation high, a slow increase
 * keeps throttles rare, and a cooldown of about one round trip (linger + request) makes the throttles of
 * one response one event. With a 1 s cooldown two producers took ~10 s to settle; with 250 ms, ~4 s.
 */
export const DEFAULT_RATE_ADAPTATION: RateAdaptation = {
  decrease: 0.85,
  increasePerSecond: 0.05,
  cooldownMs: 250,
  floor: 0.05,
};

/**
 * A token bucket's bookkeeping, kept exact in (injectable) time: tokens accrue at `ratePerMs` up to
 * `capacity`, whatever the timer drift. Bottleneck's own local `reservoirIncrease*` adds a fixed amount per
 * heartbeat tick and so loses the time a late tick was late (measured: 930 of 1,000 records/s); this
 * bucket carries fractions and elapsed time over instead.
 *
 * `level` may go below zero: a weight larger than the whole bucket is admitted from a full bucket and the
 * rest is owed, so the long-run rate still holds.
 *
 * A refill that runs late (a busy event loop) for an admission that was waiting keeps what accrued while it
 * was late, beyond the capacity, up to `ceiling` (default: the capacity): the waiter would have taken those
 * tokens on time, so capping them would lose quota for good (measured: 100 ms buckets, 1,000 records/s, the
 * loop blocked 150 ms of every 200 ms: 498 admitted/s capped at the capacity). On time, and idle, the
 * bucket fills to its capacity only, so writes stay as smooth as before.
 */
export class TokenBucket {
  level: number;
  /** The current rate: the configured one, or less while adapting to throttles. */
  ratePerMs: number;
  private last: number;
  private lastSlowDown = -Infinity;

  constructor(
    readonly maxRatePerMs: number,
    readonly capacity: number,
    now: number,
    private readonly adaptation?: RateAdaptation,
    readonly ceiling = capacity,
  ) {
    this.ratePerMs = maxRatePerMs;
    this.level = capacity;
    this.last = now;
  }

  /**
   * Adds what accrued since the last refill; `lateMs`: how late a waiting admission's refill runs, whose
   * accrual is kept past the capacity. Returns the whole tokens added.
   */
  refill(now: number, lateMs = 0): number {
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    if (this.adaptation && this.ratePerMs < this.maxRatePerMs) {
      const regained = (this.maxRatePerMs * this.adaptation.increasePerSecond * elapsed) / 1000;
      this.ratePerMs = Math.min(this.maxRatePerMs, this.ratePerMs + regained);
    }
    const before = this.level;
    // Never below where it was: a refund may have lifted it over the capacity (see refund).
    const cap = Math.min(this.ceiling, this.capacity + Math.max(0, lateMs) * this.ratePerMs);
    this.level = Math.max(this.level, Math.min(cap, this.level + elapsed * this.ratePerMs));
    return Math.floor(this.level) - Math.floor(before);
  }

  /** The shard throttled: lower the rate, once per cooldown. Call after `refill(now)`. */
  slowDown(now: number): void {
    if (!this.adaptation || now - this.lastSlowDown < this.adaptation.cooldownMs) return;
    this.lastSlowDown = now;
    this.ratePerMs = Math.max(
      this.maxRatePerMs * this.adaptation.floor,
      this.ratePerMs * this.adaptation.decrease,
    );
  }

  /** Milliseconds until `weight` (capped at the capacity) tokens are available. */
  msUntil(weight: number): number {
    const missing = Math.min(weight, this.capacity) - this.level;
    return missing <= 0 ? 0 : Math.ceil(missing / this.ratePerMs);
  }
}
