/**
 * Provisioned-mode write limits of one shard. Burst defaults to one second's worth, which is what a shard
 * tolerates before it starts answering `ProvisionedThroughputExceededException`.
 *
 * @example
 * ```ts
 * const quota: QuotaOptions = { recordsPerSecond: 1_000, bytesPerSecond: 1024 * 1024, burstSeconds: 1 };
 * ```
 */
export interface QuotaOptions {
  /** Records a shard accepts per second. Default 1,000. */
  recordsPerSecond?: number;
  /** Bytes (data + partition key) a shard accepts per second. Default 1 MiB. */
  bytesPerSecond?: number;
  /** Bucket capacity in records. Default `recordsPerSecond` × `burstSeconds`. */
  recordsBurst?: number;
  /** Bucket capacity in bytes. Default `bytesPerSecond` × `burstSeconds`. */
  bytesBurst?: number;
  /** Seconds of traffic a full bucket holds when a burst is not given explicitly. Default 1. */
  burstSeconds?: number;
}

/**
 * The limits with every default filled in.
 *
 * @example
 * ```ts
 * const limits: ResolvedQuota = resolveQuota(); // { recordsPerSecond: 1000, bytesPerSecond: 1048576, ... }
 * ```
 */
export interface ResolvedQuota {
  readonly recordsPerSecond: number;
  readonly bytesPerSecond: number;
  readonly recordsBurst: number;
  readonly bytesBurst: number;
}

/**
 * Fills in the provisioned-mode defaults (1,000 records/s, 1 MiB/s, one second of burst).
 *
 * @example
 * ```ts
 * resolveQuota({ recordsPerSecond: 10 }).recordsBurst; // 10
 * ```
 */
export function resolveQuota(options: QuotaOptions = {}): ResolvedQuota {
  const recordsPerSecond = options.recordsPerSecond ?? 1_000;
  const bytesPerSecond = options.bytesPerSecond ?? 1024 * 1024;
  const burstSeconds = options.burstSeconds ?? 1;
  const resolved = {
    recordsPerSecond,
    bytesPerSecond,
    recordsBurst: options.recordsBurst ?? recordsPerSecond * burstSeconds,
    bytesBurst: options.bytesBurst ?? bytesPerSecond * burstSeconds,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!(value > 0) || !Number.isFinite(value))
      throw new RangeError(`quota ${name} must be a positive number`);
  }
  return resolved;
}

/**
 * The two token buckets (records and bytes) guarding one shard. Refill is computed lazily from the clock
 * on each take, so an idle shard costs nothing and no timers exist.
 *
 * @example
 * ```ts
 * const quota = new ShardQuota(resolveQuota(), Date.now());
 * quota.tryTake(120, Date.now()); // true until the shard runs out of tokens
 * ```
 */
export class ShardQuota {
  private records: number;
  private bytes: number;
  private last: number;

  constructor(
    private readonly limits: ResolvedQuota,
    now: number,
  ) {
    this.records = limits.recordsBurst;
    this.bytes = limits.bytesBurst;
    this.last = now;
  }

  /**
   * Takes one record of `size` bytes if both buckets can pay for it. A refused record takes nothing,
   * as AWS does not charge throttled records against the shard. A record bigger than the whole byte
   * bucket (possible once `maxRecordBytes` is raised) passes on a full bucket and leaves it in debt;
   * otherwise it could never be written.
   */
  tryTake(size: number, now: number): boolean {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      const seconds = elapsed / 1000;
      const limits = this.limits;
      this.records = Math.min(limits.recordsBurst, this.records + seconds * limits.recordsPerSecond);
      this.bytes = Math.min(limits.bytesBurst, this.bytes + seconds * limits.bytesPerSecond);
      this.last = now;
    }
    if (this.records < 1 || this.bytes < Math.min(size, this.limits.bytesBurst)) return false;
    this.records -= 1;
    this.bytes -= size;
    return true;
  }
}
