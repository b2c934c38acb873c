import type { SchedulerLike, Subscription } from 'rxjs';
import { Dimension } from './dimension.js';
import { SharedBuckets } from './shared-buckets.js';
import type { ResolvedSharedLimiter } from './shared-options.js';
import { DEFAULT_RATE_ADAPTATION, type RateAdaptation } from './token-bucket.js';

export { DEFAULT_RATE_ADAPTATION, TokenBucket, type RateAdaptation } from './token-bucket.js';

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
