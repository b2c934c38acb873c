import type { FaultCounts } from './faults.js';

/**
 * Counters of one shard, as `emu.stats()` reports them.
 *
 * @example
 * ```ts
 * for (const s of emu.stats().shards) console.log(s.shardId, s.accepted, s.throttled, s.peakPerSecond);
 * ```
 */
export interface ShardStats {
  readonly shardId: string;
  readonly open: boolean;
  readonly parentShardId: string | undefined;
  readonly adjacentParentShardId: string | undefined;
  readonly startingHashKey: bigint;
  readonly endingHashKey: bigint;
  /** Records written. */
  readonly accepted: number;
  /** Records refused with ProvisionedThroughputExceededException. */
  readonly throttled: number;
  /** Records failed by injected InternalFailure. */
  readonly failed: number;
  /** Bytes written, data + partition keys. */
  readonly bytes: number;
  /** Most records accepted in one whole second of the timeline. */
  readonly peakPerSecond: number;
  /** Accepted records per second; index = whole seconds since the emulator started. */
  readonly timeline: readonly number[];
}

/**
 * What `emu.stats()` returns: one stream's counters plus the server-wide request and fault counts.
 *
 * @example
 * ```ts
 * const { accepted, timeline, requests, faults }: EmulatorStats = emu.stats();
 * ```
 */
export interface EmulatorStats {
  readonly streamName: string;
  readonly accepted: number;
  readonly throttled: number;
  readonly failed: number;
  readonly bytes: number;
  /** Accepted records per second over all shards of the stream. */
  readonly timeline: readonly number[];
  readonly peakPerSecond: number;
  readonly shards: readonly ShardStats[];
  readonly requests: {
    readonly total: number;
    /** By operation name (`PutRecords`, `ListShards`, …). */
    readonly byOperation: Readonly<Record<string, number>>;
    /** Request-level error responses by error code, injected or not. */
    readonly errors: Readonly<Record<string, number>>;
  };
  readonly faults: Readonly<FaultCounts>;
}

/**
 * The largest count of a timeline (0 for an empty one).
 *
 * @example
 * ```ts
 * peak([3, 9, 4]); // 9
 * ```
 */
export function peak(timeline: readonly number[]): number {
  let max = 0;
  for (const n of timeline) if (n > max) max = n;
  return max;
}
