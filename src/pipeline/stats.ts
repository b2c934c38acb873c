import type { LiveRecords } from './live-records.js';

/**
 * A snapshot of what a producer holds, for progress displays and tests.
 *
 * @example
 * ```ts
 * const { buffered, queued, shards }: ProducerStats = producer.stats;
 * console.log(`${buffered} buffered, ${queued} waiting for ${shards.length} shards`);
 * ```
 */
export interface ProducerStats {
  /** Items accepted and not yet finally delivered or failed. */
  buffered: number;
  /** Their bytes (data + partition keys). */
  bufferedBytes: number;
  /** Waiting in shard queues for tokens. */
  queued: number;
  /** Kinesis records (user records, or aggregates of them) admitted, waiting for a request (to fill, or a free slot). */
  collecting: number;
  /** Waiting for a retry backoff to end. */
  retrying: number;
  /** Held back behind an earlier record of the same key (`ordering: 'per-key'`). */
  orderWaiting: number;
  /** Shards with a lane and limiter now (the open shards written to). */
  shards: string[];
}

/**
 * The stats of a producer's stages.
 *
 * @example
 * ```ts
 * const empty = { size: 0, bytes: 0, shardIds: () => [] };
 * const stats: ProducerStats = statsOf(empty, empty, empty, empty, undefined); // buffered: 0
 * ```
 */
export function statsOf(
  live: Pick<LiveRecords<unknown>, 'size' | 'bytes'>,
  lanes: { size: number; shardIds(): string[] },
  collector: { size: number },
  retrier: { size: number },
  order: { waiting: number } | undefined,
): ProducerStats {
  return {
    buffered: live.size,
    bufferedBytes: live.bytes,
    queued: lanes.size,
    collecting: collector.size,
    retrying: retrier.size,
    orderWaiting: order?.waiting ?? 0,
    shards: lanes.shardIds(),
  };
}
