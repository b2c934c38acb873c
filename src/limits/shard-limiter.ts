import Bottleneck from 'bottleneck';
import { stopGroupCleanup } from './bottleneck-internals.js';
import type { SchedulerLike, Subscription } from 'rxjs';
import { SharedBuckets } from './shared-buckets.js';
import type { ResolvedSharedLimiter } from './shared-options.js';
import { DEFAULT_RATE_ADAPTATION, TokenBucket, type RateAdaptation } from './token-bucket.js';

export { DEFAULT_RATE_ADAPTATION, TokenBucket, type RateAdaptation } from './token-bucket.js';

/** Changes a limiter's reservoir; a limiter stopped meanwhile has nothing left to change. */
function bump(limiter: Bottleneck, tokens: number): void {
  limiter.incrementReservoir(tokens).catch(() => {});
}

/** One dimension (records or bytes) of every shard: a Bottleneck.Group and the exact bucket behind each key. */
class Dimension {
  private readonly group: Bottleneck.Group | undefined;
  private readonly buckets = new Map<
    string,
    { limiter: Bottleneck; bucket: TokenBucket; waiting: Set<() => void> }
  >();
  readonly capacity: number;
  /** Closed: no bucket, limiter or refill timer is made any more (the pipeline that used them is gone). */
  private closed = false;

  constructor(
    private readonly perSecond: number,
    burstMs: number,
    private readonly scheduler: SchedulerLike,
    private readonly adaptation: RateAdaptation | undefined,
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
  async take(
    shardId: string,
    weight: number,
    timers: Set<Subscription>,
    consume = true,
    /** No other pipeline holds these limiters: an admission nobody waits before may skip Bottleneck. */
    alone = false,
  ): Promise<void> {
    if (!this.group) return;
    // An admission can outlive close(): ShardLimiters.admit takes the bytes, then the records, then the
    // bytes again, and a shard's first admission makes its limiters only then. Made after close(), a
    // limiter was never stopped and its refill timer never cleared: the lifecycle property found such
    // timers left after an unsubscribe.
    if (this.closed) throw new Error('the shard limiters are closed');
    const entry = this.entry(shardId);
    const { limiter, bucket } = entry;
    const admitted = Math.min(weight, this.capacity);
    const topUp = (lateMs = 0) => {
      const added = bucket.refill(this.scheduler.now(), lateMs);
      if (added > 0) bump(limiter, added);
    };
    topUp();
    // A pipeline alone on these limiters, nobody waiting on the shard's bucket, and the tokens there: taken in
    // this turn, from the bucket and Bottleneck's reservoir alike, as the job below would. Through Bottleneck,
    // every admission cost three jobs (~0.4 ms of CPU each) and a few timer turns; a new shard's first one
    // held the pipeline's first request back ~14 ms (bench 4, finite limits: 77-79 ms against 64 ms with
    // Infinity limits) while the thread had nothing else to do.
    // Only alone: with 50 pipelines sharing the limiters (bench scenario 15), the first pipeline's second
    // admission then queued before the others' first, and it finished at 5.5 s instead of 7.0 s while the
    // other 49 took 10.3-10.9 s either way (completion spread 1.99x against 1.5x).
    if (alone && entry.waiting.size === 0 && bucket.level >= admitted) {
      if (consume) {
        bucket.level -= weight;
        bump(limiter, -weight);
      }
      return;
    }
    let timer: Subscription | undefined;
    const waitForTokens = () => {
      if (timer) {
        timer.unsubscribe();
        timers.delete(timer);
        timer = undefined;
      }
      const ms = bucket.msUntil(admitted);
      // Handed on (or re-armed by a throttle) after close(): its job is dropped, nothing to wait for.
      if (ms === 0 || this.closed) return;
      const due = this.scheduler.now() + ms;
      timer = this.scheduler.schedule(() => {
        timers.delete(timer!);
        timer = undefined;
        topUp(this.scheduler.now() - due); // what accrued while this ran late is the waiter's
        waitForTokens();
      }, ms);
      timers.add(timer);
    };
    // Bottleneck serves a shard's admissions in order (pipelines sharing these limiters queue several), so
    // only the first waiter keeps a refill timer; each hands it on when served. A throttle charged while it
    // waits (even while Bottleneck is still registering the job, after the bucket looked full enough) leaves
    // the reservoir short: throttled() re-arms the first waiter then.
    entry.waiting.add(waitForTokens);
    if (entry.waiting.size === 1) waitForTokens();
    const handOn = () => {
      const wasFirst = entry.waiting.values().next().value === waitForTokens;
      entry.waiting.delete(waitForTokens);
      if (wasFirst) entry.waiting.values().next().value?.();
    };
    try {
      await limiter.schedule({ weight: admitted }, async () => {
        if (!consume)
          bump(limiter, admitted); // only waited for them: hand the reservoir back
        else {
          bucket.level -= weight;
          if (weight > admitted) bump(limiter, admitted - weight);
        }
        handOn();
      });
    } finally {
      handOn();
      if (timer) {
        timer.unsubscribe();
        timers.delete(timer);
      }
    }
  }

  /**
   * The shard throttled `weight` it had allowed: charge the tokens again (later writes wait for the refill)
   * and, when adapting, slow the shard down.
   */
  throttled(shardId: string, weight: number): void {
    if (!this.group || this.closed) return;
    const { limiter, bucket, waiting } = this.entry(shardId);
    const now = this.scheduler.now();
    const change = bucket.refill(now) - weight;
    bucket.level -= weight;
    if (change !== 0) bump(limiter, change);
    bucket.slowDown(now);
    waiting.values().next().value?.();
  }

  /** Gives back tokens for writes the shard did not take (an InternalFailure costs no quota). */
  refund(shardId: string, weight: number): void {
    if (!this.group || this.closed) return;
    const { limiter, bucket, waiting } = this.entry(shardId);
    const before = Math.floor(bucket.level);
    bucket.refill(this.scheduler.now());
    // Not capped: these tokens were spent in this window on writes Kinesis did not count, so a bucket that
    // refilled meanwhile would otherwise lose them (measured: 4,200 instead of 4,400 admitted/s at 10%).
    bucket.level += weight;
    const change = Math.floor(bucket.level) - before;
    if (change !== 0) bump(limiter, change);
    // The first waiter's timer was set for the level before the refund: with the tokens back it is due
    // sooner, and waiting out the old timer let the bucket sit at its capacity, losing what accrued.
    waiting.values().next().value?.();
  }

  /** Forgets a shard (closed by a reshard): its limiter is stopped and removed from the group. */
  async remove(shardId: string): Promise<void> {
    this.buckets.delete(shardId);
    await this.group?.deleteKey(shardId).catch(() => false);
  }

  /** The shard's current rate per second (lower than configured while adapting). */
  rate(shardId: string): number {
    const entry = this.buckets.get(shardId);
    return entry ? entry.bucket.ratePerMs * 1000 : this.perSecond;
  }

  keys(): string[] {
    return [...this.buckets.keys()];
  }

  async close(): Promise<void> {
    this.closed = true;
    if (!this.group) return;
    const limiters = this.group.limiters();
    stopGroupCleanup(this.group); // so a closed pipeline leaves no timer
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
        // While admissions wait, up to one second's worth accrues (the shard's own burst in Kinesis's
        // model, and the emulator's): a late refill loses nothing the shard would not have taken.
        bucket: new TokenBucket(
          this.perSecond / 1000,
          this.capacity,
          this.scheduler.now(),
          this.adaptation,
          Math.max(this.capacity, this.perSecond),
        ),
        waiting: new Set(),
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
  /** AIMD on throttles, per shard; `false` keeps the configured rates. Default {@link DEFAULT_RATE_ADAPTATION}. */
  adaptation?: RateAdaptation | false;
  scheduler: SchedulerLike;
  /**
   * Keep the buckets in Redis, shared by every process with the same id (the shared buckets). The local
   * buckets (and their adaptation) take over if Redis is lost.
   */
  shared?: ResolvedSharedLimiter;
}

/**
 * The limiter settings from the pipeline's option names (its resolved options fit).
 *
 * @example
 * ```ts
 * const limiters = new ShardLimiters(shardLimiterOptionsOf(resolveOptions({ client, streamName: 's' })));
 * ```
 */
export function shardLimiterOptionsOf(o: {
  shardRecordsPerSecond: number;
  shardBytesPerSecond: number;
  shardBurstMs: number;
  adaptiveRate: boolean;
  scheduler: SchedulerLike;
  limiter: ResolvedSharedLimiter | undefined;
}): ShardLimiterOptions {
  return {
    recordsPerSecond: o.shardRecordsPerSecond,
    bytesPerSecond: o.shardBytesPerSecond,
    burstMs: o.shardBurstMs,
    adaptation: o.adaptiveRate ? undefined : false,
    scheduler: o.scheduler,
    shared: o.limiter,
  };
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
  /** The shared buckets in Redis, when configured; the local ones stand by in case Redis is lost. */
  private readonly shared: SharedBuckets | undefined;

  constructor(options: ShardLimiterOptions) {
    const adaptation =
      options.adaptation === false ? undefined : (options.adaptation ?? DEFAULT_RATE_ADAPTATION);
    this.records = new Dimension(options.recordsPerSecond, options.burstMs, options.scheduler, adaptation);
    this.bytes = new Dimension(options.bytesPerSecond, options.burstMs, options.scheduler, adaptation);
    if (options.shared) {
      this.shared = new SharedBuckets(
        options.shared,
        { perSecond: options.recordsPerSecond, capacity: this.records.capacity },
        { perSecond: options.bytesPerSecond, capacity: this.bytes.capacity },
      );
    }
  }

  /**
   * The largest chunk one admission should ask for: one bucket of records, half a bucket of bytes (a bigger
   * single record still goes alone). The byte tokens are waited for first and taken only after the records
   * (see admit), and a bucket stops filling at its capacity: a chunk as large as the bucket would lose the
   * time in between, every admission (measured: 0.80 of the byte quota with 100 KB chunks, as aggregates
   * make them). Half a bucket keeps it filling meanwhile.
   */
  get maxChunk(): { records: number; bytes: number } {
    if (this.shared?.healthy) return this.shared.maxChunk;
    return { records: this.records.capacity, bytes: Math.max(1, Math.floor(this.bytes.capacity / 2)) };
  }

  /** Resolves once the shard's buckets have given `records` and `bytes` tokens. */
  async admit(shardId: string, records: number, bytes: number): Promise<void> {
    // Shared: Redis admits, unless it is lost (then, and for the rest of the run, the local buckets do).
    if (this.shared && (await this.shared.admit(shardId, records, bytes))) return;
    // Wait for the bytes before taking the records: records taken while the bytes are still short would be
    // sent only later, after their own bucket refilled meanwhile, and arrive together with the next ones.
    const alone = this.holders === 1;
    await this.bytes.take(shardId, bytes, this.timers, false, alone);
    await this.records.take(shardId, records, this.timers, true, alone);
    await this.bytes.take(shardId, bytes, this.timers, true, alone);
  }

  /**
   * The shard throttled `records` of `bytes` that its buckets had allowed: charge them again and slow the
   * shard down (AIMD), leaving other shards as they are.
   */
  throttled(shardId: string, records: number, bytes: number): void {
    // Shared: the charge holds back every process's writes to the shard (no per-process AIMD: the processes
    // already split one budget, and a process that slowed down would only leave its share to the others).
    if (this.shared?.adjust(shardId, -records, -bytes)) return;
    this.records.throttled(shardId, records);
    this.bytes.throttled(shardId, bytes);
  }

  /** The shard's current records/s (lower than configured while it adapts to throttling). */
  recordRate(shardId: string): number {
    return this.records.rate(shardId);
  }

  /** The shard's writes failed without costing quota (InternalFailure): hand their tokens back. */
  refund(shardId: string, records: number, bytes: number): void {
    if (this.shared?.adjust(shardId, records, bytes)) return;
    this.records.refund(shardId, records);
    this.bytes.refund(shardId, bytes);
  }

  /**
   * Pipelines holding these limiters (see leaseLimiters). With more than one, a closed shard's buckets stay
   * until the last lets go: another pipeline may still be waiting on them, and removing them would reject
   * its admission and strand its chunk.
   */
  holders = 1;

  /** Forgets a closed shard's buckets and limiters (kept while other pipelines hold these limiters). */
  async remove(shardId: string): Promise<void> {
    if (this.holders > 1) return;
    await Promise.all([
      this.records.remove(shardId),
      this.bytes.remove(shardId),
      this.shared?.remove(shardId),
    ]);
  }

  /** Shards with a bucket, for inspection. */
  shardIds(): string[] {
    if (!this.shared) return this.records.keys();
    return [...new Set([...this.shared.keys(), ...this.records.keys()])];
  }

  /**
   * Stops every limiter, drops waiting admissions (they reject) and clears every timer; shared, also closes
   * the Redis connections (so Node can exit).
   */
  async close(): Promise<void> {
    for (const t of this.timers) t.unsubscribe();
    this.timers.clear();
    await Promise.all([this.records.close(), this.bytes.close(), this.shared?.close()]);
  }
}
