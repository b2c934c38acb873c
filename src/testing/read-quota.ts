const MiB = 1024 * 1024;

/**
 * Per-shard read limits of a provisioned stream. AWS: 5 GetRecords calls per second and 2 MiB/s per shard;
 * one call may return up to 10 MiB, after which the shard refuses reads until the bytes are paid back.
 *
 * @example
 * ```ts
 * const limits: ReadQuotaOptions = { callsPerSecond: 5, bytesPerSecond: 2 * 1024 * 1024 };
 * ```
 */
export interface ReadQuotaOptions {
  /** GetRecords calls a shard answers per second. Default 5. */
  callsPerSecond?: number;
  /** Bytes (data + partition key) a shard returns per second. Default 2 MiB. */
  bytesPerSecond?: number;
}

/**
 * Two lazily refilled buckets for one shard's reads: calls, and bytes. A call needs a whole call token and a
 * positive byte balance; what it returns is charged afterwards and may leave the balance in debt, so a 10 MiB
 * read from a full bucket (2 MiB) blocks the shard for 4 s, as AWS's "subsequent calls made within the next
 * 5 seconds throw ProvisionedThroughputExceededException" describes. Refused calls cost nothing.
 *
 * @example
 * ```ts
 * const quota = new ReadQuota({}, clock());
 * if (!quota.tryCall(clock())) throw new KinesisError('ProvisionedThroughputExceededException', 'Rate exceeded for shard');
 * quota.charge(2 * 1024 * 1024); // the bytes this GetRecords returned
 * ```
 */
export class ReadQuota {
  private readonly callsPerSecond: number;
  private readonly bytesPerSecond: number;
  private calls: number;
  private bytes: number;
  private last: number;

  constructor(options: ReadQuotaOptions, now: number) {
    this.callsPerSecond = options.callsPerSecond ?? 5;
    this.bytesPerSecond = options.bytesPerSecond ?? 2 * MiB;
    for (const [name, value] of [
      ['callsPerSecond', this.callsPerSecond],
      ['bytesPerSecond', this.bytesPerSecond],
    ] as const) {
      if (!(value > 0) || !Number.isFinite(value))
        throw new RangeError(`read quota ${name} must be a positive number`);
    }
    this.calls = this.callsPerSecond;
    this.bytes = this.bytesPerSecond;
    this.last = now;
  }

  /** Takes one call if the shard can answer one now. */
  tryCall(now: number): boolean {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      const seconds = elapsed / 1000;
      this.calls = Math.min(this.callsPerSecond, this.calls + seconds * this.callsPerSecond);
      this.bytes = Math.min(this.bytesPerSecond, this.bytes + seconds * this.bytesPerSecond);
      this.last = now;
    }
    if (this.calls < 1 || this.bytes <= 0) return false;
    this.calls -= 1;
    return true;
  }

  /** Charges the bytes a call returned. */
  charge(bytes: number): void {
    this.bytes -= bytes;
  }
}
