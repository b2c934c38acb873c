import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { SchedulerLike } from 'rxjs';
import type { LimiterOptions } from './limits/shared-options.js';
import type { InvalidRecordError, KinesisRecordInput } from './kinesis/records.js';
import type { KinesisMetrics } from './observe/metrics.js';
import type { SpoolOptions } from './spool/index.js';

/**
 * 5 MiB: the Kinesis limit on one PutRecords request (data + partition keys).
 *
 * @example
 * ```ts
 * toKinesis({ client, streamName: 'logs', maxBatchBytes: MAX_BATCH_BYTES / 2 });
 * ```
 */
export const MAX_BATCH_BYTES = 5 * 1024 * 1024;
/**
 * Default `requestTimeoutMs`: 6 s, as KPL's `RequestTimeout`. Kinesis answers a PutRecords in tens of
 * milliseconds; without any deadline, a half-open connection hung the pipeline for good with
 * `NodeHttpHandler` and ~5 min per request with the SDK's HTTP/2 handler (measured on 0.2.0).
 *
 * @example
 * ```ts
 * toKinesis({ client, streamName: 'logs', requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS * 2 });
 * ```
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 6_000;
/**
 * Default `minUploadBytesPerSecond`: 256 KiB/s (2 Mbit/s per request), so a full 5 MiB request gets
 * 6 s + 20 s, while 16 such requests in flight share a 32 Mbit/s uplink.
 *
 * @example
 * ```ts
 * toKinesis({ client, streamName: 'logs', minUploadBytesPerSecond: DEFAULT_MIN_UPLOAD_BYTES_PER_SECOND / 4 });
 * ```
 */
export const DEFAULT_MIN_UPLOAD_BYTES_PER_SECOND = 256 * 1024;
/** `maxBufferedBytes` default where the source is pushed (`toKinesis()`) rather than pulled. */
export const PUSHED_SOURCE_BUFFER_BYTES = 64 * 1024 * 1024;

/**
 * 500: the Kinesis limit on records in one PutRecords request.
 *
 * @example
 * ```ts
 * toKinesis({ client, streamName: 'logs', maxBatchRecords: MAX_BATCH_RECORDS / 5 });
 * ```
 */
export const MAX_BATCH_RECORDS = 500;

/**
 * KPL-format record aggregation: user records bound for the same shard are packed into one Kinesis record
 * (magic bytes, protobuf `AggregatedRecord`, MD5), which the KCL and the AWS de-aggregation libraries
 * unpack. Small records then fill a shard's bandwidth instead of its 1,000 records/s.
 *
 * @example
 * ```ts
 * const options: ToKinesisOptions<KinesisRecordInput, true> = {
 *   client,
 *   streamName: 'clicks',
 *   aggregation: { enabled: true },
 * };
 * ```
 */
export interface AggregationOptions<A extends boolean = boolean> {
  enabled: A;
  /** User records per aggregate. Default: no limit but `maxBytes`. */
  maxRecords?: number;
  /**
   * Bytes of one aggregated Kinesis record (framing, protobuf and partition key), at most
   * `maxRecordBytes`. Default 50 KiB (see README, "Aggregation", for why). Larger records go alone.
   */
  maxBytes?: number;
}

/**
 * Default `aggregation.maxBytes`: 50 KiB, as KPL (see README, "Aggregation", for the measurements).
 *
 * @example
 * ```ts
 * toKinesis({ client, streamName: 'clicks', aggregation: { enabled: true, maxBytes: DEFAULT_AGGREGATE_BYTES / 2 } });
 * ```
 */
export const DEFAULT_AGGREGATE_BYTES = 50 * 1024;

/**
 * Which stream to write to: its name, its ARN, or both (an ARN reaches a stream in another account).
 * Naming neither is a compile error.
 *
 * @example
 * ```ts
 * const byArn: NamedStream = { streamARN: 'arn:aws:kinesis:eu-west-1:123456789012:stream/sensors' };
 * ```
 */
// The name-only form last: where options fit neither, the compiler explains the mismatch against the last
// form (measured), and "streamName" is the one to suggest.
export type NamedStream =
  { streamARN: string; streamName?: string } | { streamName: string; streamARN?: string };

/**
 * Why `toRecord` is required: the source's items are not {@link KinesisRecordInput}s (a `PartitionKey`
 * string and `Data` as a string, Uint8Array/Buffer, other ArrayBufferView or ArrayBuffer), so they must be
 * mapped to one. A compile error naming this type means: pass `toRecord`, or fix the items' shape.
 *
 * @example
 * ```ts
 * const mapping: ItemsNeedToRecord<Reading> = {
 *   toRecord: (r) => ({ PartitionKey: r.deviceId, Data: JSON.stringify(r) }),
 * };
 * ```
 */
export interface ItemsNeedToRecord<T> {
  /** Maps a source item to a record: required, because the items are not records themselves. */
  toRecord: (item: T) => KinesisRecordInput;
}

/**
 * `toRecord` is optional where the items already are records, required (see {@link ItemsNeedToRecord})
 * where they are not. Not distributive: a union of records and non-records needs `toRecord`.
 *
 * @example
 * ```ts
 * const none: RecordMapping<KinesisRecordInput> = {};
 * ```
 */
export type RecordMapping<T> = [T] extends [KinesisRecordInput]
  ? {
      /** Maps a source item to a record. Default: the item is the record. */ toRecord?: (
        item: T,
      ) => KinesisRecordInput;
    }
  : ItemsNeedToRecord<T>;

/**
 * Options of `toKinesis()`, `putAll()` and `KinesisProducer`. Only `client` and a stream (name or ARN) are
 * required, plus `toRecord` when the items are not {@link KinesisRecordInput}s; all three are checked at
 * compile time.
 *
 * @example
 * ```ts
 * const options: ToKinesisOptions<Reading> = {
 *   client,
 *   streamName: 'sensors',
 *   toRecord: (r) => ({ PartitionKey: r.deviceId, Data: JSON.stringify(r) }),
 *   lingerMs: 50,
 * };
 * ```
 */
export type ToKinesisOptions<T = KinesisRecordInput, A extends boolean = false> = ProducerSettings<T, A> &
  NamedStream &
  RecordMapping<T>;

/**
 * The settings shared by every pipeline, besides the stream and `toRecord` (see {@link ToKinesisOptions}).
 *
 * @example
 * ```ts
 * const settings: ProducerSettings<KinesisRecordInput> = { client, lingerMs: 50 };
 * ```
 */
export interface ProducerSettings<T = KinesisRecordInput, A extends boolean = false> {
  /** Your `KinesisClient`; its own retry settings apply to each request (see README, "two retry layers"). */
  client: KinesisClient;
  /**
   * Receives records that can never be accepted (wrong shape, key or size); the pipeline carries on.
   * Without it, an invalid record ends the Observable with the `InvalidRecordError` once everything
   * accepted before it has been sent.
   */
  onInvalidRecord?: (error: InvalidRecordError<T>) => void;
  /** Records per PutRecords request, 1..500. Default 500. */
  maxBatchRecords?: number;
  /** Bytes (data + partition keys) per request, up to 5 MiB. Default 5 MiB. */
  maxBatchBytes?: number;
  /** Bytes (data + partition key) per record, up to 10 MiB. Default 1 MiB. */
  maxRecordBytes?: number;
  /** How long the oldest collected record may wait for a request to fill. Default 100 ms. */
  lingerMs?: number;
  /** Per-shard records/s admitted (`Infinity` turns the limit off). Default 1,000. */
  shardRecordsPerSecond?: number;
  /** Per-shard bytes/s admitted (`Infinity` turns the limit off). Default 1 MiB. */
  shardBytesPerSecond?: number;
  /** How much a quiet shard may burst, as milliseconds of its rate. Default 100 ms. */
  shardBurstMs?: number;
  /**
   * `'per-key'` keeps records of one partition key (or ExplicitHashKey) in source order even across
   * failures and retries: a record waits while an earlier one of its key is in flight or waiting to be
   * retried. Costs: each key moves one record per round trip. Default `'none'`.
   */
  ordering?: 'none' | 'per-key';
  /**
   * Lower a shard's rate when it throttles writes its bucket allowed (another producer shares the stream,
   * or the quota is lower than configured), then regain it slowly (AIMD, per shard). Default true.
   */
  adaptiveRate?: boolean;
  /**
   * Where the per-shard buckets live. Default `{ datastore: 'local' }`: in this process, which assumes it
   * writes alone. `{ datastore: 'ioredis', clientOptions: { host, port } }` (or `client: yourIORedis`): in
   * Redis, shared by every process writing to the stream, so together they stay within each shard's quota
   * (needs the optional peer `ioredis`). See README, "Sharing shard quotas across a fleet".
   */
  limiter?: LimiterOptions;
  /**
   * Pack small records of one shard into KPL-format aggregates (off by default): see
   * {@link AggregationOptions}. Limits, buckets and requests then count aggregates, not user records,
   * and the pipeline emits `AggregatedPutRecordsEmission`s. (Annotating options with a type? Use
   * `ToKinesisOptions<Item, true>` for aggregated ones.)
   */
  aggregation?: AggregationOptions<A>;
  /**
   * Where to count the KPL's metrics (records received/pending/put/failed, errors by code, retries,
   * throttles, buffering and request times), per stream and shard. One `KinesisMetrics` may serve many
   * pipelines. Default: none (nothing is counted).
   */
  metrics?: KinesisMetrics;
  /** Concurrent PutRecords requests. Default 16. */
  maxInFlightRequests?: number;
  /**
   * How long one request (PutRecords, or a ListShards listing) may take before rx-kinesis aborts it through
   * its abort signal, whatever `requestHandler` the client has: the base of the deadline, to which a
   * PutRecords request adds its bytes at `minUploadBytesPerSecond`. A timed-out request counts one attempt
   * for its records, which are retried; Kinesis may have applied it, so a retry can write duplicates.
   * Default 6,000 ms (as KPL's `RequestTimeout`); `Infinity` turns deadlines off. See README, "When things
   * go wrong".
   */
  requestTimeoutMs?: number;
  /**
   * The slowest upload a request is given time for: its deadline is `requestTimeoutMs + bytes /
   * minUploadBytesPerSecond`, so a full 5 MiB request on a slow uplink is not cut off while still sending.
   * Default 256 KiB/s (2 Mbit/s per request: a 5 MiB request gets 26 s, a 50 KiB one 6.2 s); `Infinity`
   * makes the deadline a flat `requestTimeoutMs`.
   */
  minUploadBytesPerSecond?: number;
  /** Sends per record before it is finally failed. Default 10 (`Infinity` with a `spool`). */
  maxAttempts?: number;
  /** How long after its first send a record may still be retried. Default 60,000 ms (`Infinity` with a `spool`). */
  recordTtlMs?: number;
  /** First retry delay cap; doubled per attempt, with full jitter. Default 100 ms. */
  retryBaseDelayMs?: number;
  /** Largest retry delay. Default 5,000 ms. */
  retryMaxDelayMs?: number;
  /** Items accepted but not yet finally delivered or failed. Default 200,000. */
  maxBufferedRecords?: number;
  /**
   * Bytes of those items. Default 64 MiB for `toKinesis()` (a pushed source cannot be made to wait), 16 MiB
   * for `putAll()` and `KinesisProducer` (they take only what fits, so more buffer only costs memory).
   */
  maxBufferedBytes?: number;
  /**
   * `toKinesis()`/`putAll()`: how long the pipeline may drain once its source has ended (`putAll`: or its
   * `signal` aborted). Then requests in flight are aborted and it errors with a `KinesisSinkError`
   * `DRAIN_TIMEOUT` holding every item not delivered in `unsent` (see README, "Shutting down"). Default
   * `Infinity`: drain until every item is final (each is bounded by `recordTtlMs`/`maxAttempts`).
   */
  drainTimeoutMs?: number;
  /** Time source for linger, backoff and refills; pass a virtual one in tests. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Random source in [0, 1) for jitter. Default `Math.random`. */
  random?: () => number;
}

/**
 * Options of a pipeline with a durable spool: {@link ToKinesisOptions} plus `spool`. Each item is appended
 * to a spool in `spool.directory` before it counts as accepted; memory holds only a window of
 * `maxBufferedRecords`/`maxBufferedBytes` read back from the disk; records leave the spool once delivered
 * or finally failed; a producer started on the directory first sends what an earlier process left there.
 * Emissions then carry `SpooledRecord`s (what the disk holds) instead of your items, which are gone from
 * memory once appended. See README, "Durable spool", and docs/spool-format.md.
 *
 * @example
 * ```ts
 * const options: SpooledOptions<Reading> = {
 *   client,
 *   streamName: 'sensors',
 *   toRecord: (r) => ({ PartitionKey: r.deviceId, Data: JSON.stringify(r) }),
 *   spool: { directory: '/var/spool/sensors', fsync: 'batch', whenFull: 'block' },
 * };
 * ```
 */
export type SpooledOptions<T = KinesisRecordInput, A extends boolean = false> = ToKinesisOptions<T, A> & {
  /** The spool: `directory` (one process at a time), and its size, segment, fsync and when-full settings. */
  spool: SpoolOptions;
};
