import Bottleneck from 'bottleneck';
import type { SchedulerLike, Subscription } from 'rxjs';
import { stopGroupCleanup } from './bottleneck-internals.js';
import { TokenBucket, type RateAdaptation } from './token-bucket.js';

/** Changes a limiter's reservoir; a limiter stopped meanwhile has nothing left to change. */
function bump(limiter: Bottleneck, tokens: number): void {
  limiter.incrementReservoir(tokens).catch(() => {});
}

/**
 * One dimension (records or bytes) of every shard: a Bottleneck.Group and the exact bucket behind each key.
 * ShardLimiters holds two and admits through both.
 *
 * @example
 * ```ts
 * const records = new Dimension(1000, 100, asyncScheduler, undefined); // 1,000/s, a bucket of 100
 * const timers = new Set<Subscription>();
 * await records.take('shardId-000000000000', 50, timers); // resolves once 50 tokens are taken
 * await records.close();
 * ```
 */
export class Dimension {
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
