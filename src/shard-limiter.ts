import Bottleneck from 'bottleneck';
import type { SchedulerLike, Subscription } from 'rxjs';

/**
 * A token bucket's bookkeeping, kept exact in (injectable) time: tokens accrue at `ratePerMs` up to
 * `capacity`, whatever the timer drift. Bottleneck's own local `reservoirIncrease*` adds a fixed amount per
 * heartbeat tick and so loses the time a late tick was late (measured: 930 of 1,000 records/s); this
 * bucket carries fractions and elapsed time over instead.
 *
 * `level` may go below zero: a weight larger than the whole bucket is admitted from a full bucket and the
 * rest is owed, so the long-run rate still holds.
 */
export class TokenBucket {
  level: number;
  private last: number;

  constructor(
    readonly ratePerMs: number,
    readonly capacity: number,
    now: number,
  ) {
    this.level = capacity;
    this.last = now;
  }

  /** Adds what accrued since the last refill; returns the whole tokens added. */
  refill(now: number): number {
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    const before = this.level;
    this.level = Math.min(this.capacity, this.level + elapsed * this.ratePerMs);
    return Math.floor(this.level) - Math.floor(before);
  }

  /** Milliseconds until `weight` (capped at the capacity) tokens are available. */
  msUntil(weight: number): number {
    const missing = Math.min(weight, this.capacity) - this.level;
    return missing <= 0 ? 0 : Math.ceil(missing / this.ratePerMs);
  }
}

/** Changes a limiter's reservoir; a limiter stopped meanwhile has nothing left to change. */
function bump(limiter: Bottleneck, tokens: number): void {
  limiter.incrementReservoir(tokens).catch(() => {});
}

/** One dimension (records or bytes) of every shard: a Bottleneck.Group and the exact bucket behind each key. */
class Dimension {
  private readonly group: Bottleneck.Group | undefined;
  private readonly buckets = new Map<
    string,
    { limiter: Bottleneck; bucket: TokenBucket; rearm?: () => void }
  >();
  readonly capacity: number;

  constructor(
    private readonly perSecond: number,
    burstMs: number,
    private readonly scheduler: SchedulerLike,
  ) {
    // Records larger than the bucket still pass (see TokenBucket), so the bucket stays small and writes smooth.
    this.capacity = Math.max(1, Math.ceil((perSecond * burstMs) / 1000));
    if (perSecond !== Infinity) {
      // One bucket per key; Bottleneck holds the reservoir and the waiting job, we add exactly what accrued.
      this.group = new Bottleneck.Group({ reservoir: this.capacity, maxConcurrent: null, minTime: 0 });
    }
  }

  /**
   * Resolves once `weight` tokens are taken from the shard's bucket, or with `consume` false, once they are
   * there (leaving them in the bucket).
   */
  async take(shardId: string, weight: number, timers: Set<Subscription>, consume = true): Promise<void> {
    if (!this.group) return;
    const entry = this.entry(shardId);
    const { limiter, bucket } = entry;
    const admitted = Math.min(weight, this.capacity);
    const topUp = () => {
      const added = bucket.refill(this.scheduler.now());
      if (added > 0) bump(limiter, added);
    };
    topUp();
    let timer: Subscription | undefined;
    const waitForTokens = () => {
      if (timer) {
        timer.unsubscribe();
        timers.delete(timer);
        timer = undefined;
      }
      const ms = bucket.msUntil(admitted);
      if (ms === 0) return;
      timer = this.scheduler.schedule(() => {
        timers.delete(timer!);
        timer = undefined;
        topUp();
        waitForTokens();
      }, ms);
      timers.add(timer);
    };
    waitForTokens();
    // A throttle charged while this waits (even while Bottleneck is still registering the job, after the
    // bucket looked full enough) leaves the reservoir short with no timer to top it up: owe() re-arms it.
    entry.rearm = waitForTokens;
    try {
      await limiter.schedule({ weight: admitted }, async () => {
        if (!consume) return bump(limiter, admitted); // only waited for them: hand the reservoir back
        bucket.level -= weight;
        if (weight > admitted) bump(limiter, admitted - weight);
      });
    } finally {
      if (entry.rearm === waitForTokens) entry.rearm = undefined;
      if (timer) {
        timer.unsubscribe();
        timers.delete(timer);
      }
    }
  }

  /** Takes tokens the shard turned out not to have (it throttled): later writes wait for the refill. */
  owe(shardId: string, weight: number): void {
    if (!this.group) return;
    const { limiter, bucket, rearm } = this.entry(shardId);
    bucket.level -= weight;
    bump(limiter, -weight);
    rearm?.();
  }

  keys(): string[] {
    return [...this.buckets.keys()];
  }

  async close(): Promise<void> {
    if (!this.group) return;
    const limiters = this.group.limiters();
    // Group's idle-cleanup interval has no public stop; clear it so a closed pipeline leaves no timer.
    clearInterval((this.group as unknown as { interval?: NodeJS.Timeout }).interval);
    await Promise.all(limiters.map(({ limiter }) => limiter.stop({ dropWaitingJobs: true }).catch(() => {})));
    this.buckets.clear();
  }

  private entry(shardId: string) {
    const limiter = this.group!.key(shardId);
    let entry = this.buckets.get(shardId);
    // The group drops limiters idle for 5 minutes and makes fresh, full ones: follow it.
    if (!entry || entry.limiter !== limiter) {
      entry = {
        limiter,
        bucket: new TokenBucket(this.perSecond / 1000, this.capacity, this.scheduler.now()),
      };
      this.buckets.set(shardId, entry);
    }
    return entry;
  }
}

/** Settings of the per-shard limiter. */
export interface ShardLimiterOptions {
  recordsPerSecond: number;
  bytesPerSecond: number;
  /** Bucket capacity, as milliseconds of the rate. */
  burstMs: number;
  scheduler: SchedulerLike;
}

/**
 * Per-shard token buckets for records and bytes (Bottleneck.Group keyed by ShardId), so each shard is
 * written at most at its quota and a hot shard waits alone: other shards' admissions never queue behind it.
 *
 * @example
 * ```ts
 * const limiters = new ShardLimiters({ recordsPerSecond: 1000, bytesPerSecond: 1 << 20, burstMs: 100,
 *   scheduler: asyncScheduler });
 * await limiters.admit('shardId-000000000000', 100, 10_000);
 * await limiters.close();
 * ```
 */
export class ShardLimiters {
  private readonly records: Dimension;
  private readonly bytes: Dimension;
  private readonly timers = new Set<Subscription>();

  constructor(options: ShardLimiterOptions) {
    this.records = new Dimension(options.recordsPerSecond, options.burstMs, options.scheduler);
    this.bytes = new Dimension(options.bytesPerSecond, options.burstMs, options.scheduler);
  }

  /** The largest chunk one admission should ask for: one bucket's worth in each dimension (a bigger
   * single record still goes alone). */
  get maxChunk(): { records: number; bytes: number } {
    return { records: this.records.capacity, bytes: this.bytes.capacity };
  }

  /** Resolves once the shard's buckets have given `records` and `bytes` tokens. */
  async admit(shardId: string, records: number, bytes: number): Promise<void> {
    // Wait for the bytes before taking the records: records taken while the bytes are still short would be
    // sent only later, after their own bucket refilled meanwhile, and arrive together with the next ones.
    await this.bytes.take(shardId, bytes, this.timers, false);
    await this.records.take(shardId, records, this.timers);
    await this.bytes.take(shardId, bytes, this.timers);
  }

  /** The shard throttled `records` of `bytes` that its buckets had allowed: charge them again. */
  throttled(shardId: string, records: number, bytes: number): void {
    this.records.owe(shardId, records);
    this.bytes.owe(shardId, bytes);
  }

  /** Shards with a bucket, for inspection. */
  shardIds(): string[] {
    return this.records.keys();
  }

  /** Stops every limiter, drops waiting admissions (they reject) and clears every timer. */
  async close(): Promise<void> {
    for (const t of this.timers) t.unsubscribe();
    this.timers.clear();
    await Promise.all([this.records.close(), this.bytes.close()]);
  }
}
