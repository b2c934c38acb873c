import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import {
  resolveLimiterOptions,
  type LimiterOptions,
  type ResolvedSharedLimiter,
} from './limits/shared-options.js';
import type { InvalidRecordError, KinesisRecordInput } from './kinesis/records.js';
import { checkMaxRecordBytes, DEFAULT_MAX_RECORD_BYTES } from './kinesis/records.js';
import type { AggregationLimits } from './pipeline/aggregation.js';
import type { KinesisMetrics } from './observe/metrics.js';
import type { MetricsRecorder } from './observe/recorder.js';
import { resolveSpoolOptions } from './spool/options.js';
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

/**
 * Options with every default filled in and checked.
 *
 * @example
 * ```ts
 * const { lingerMs, maxInFlightRequests }: ResolvedOptions<Reading> = resolveOptions({ client, streamName: 's' });
 * ```
 */
export type ResolvedOptions<T> = Required<
  Omit<ProducerSettings<T>, 'onInvalidRecord' | 'limiter' | 'aggregation' | 'metrics'>
> &
  Pick<ProducerSettings<T>, 'onInvalidRecord'> & {
    streamName?: string;
    streamARN?: string;
    toRecord: (item: T) => KinesisRecordInput;
    /** The shared (Redis) limiter's settings; undefined for local buckets. */
    limiter: ResolvedSharedLimiter | undefined;
    /** Aggregate limits; undefined when aggregation is off. */
    aggregation: AggregationLimits | undefined;
    metrics: MetricsRecorder | undefined;
    /** The spool's settings with defaults filled in; undefined without a spool. */
    spool: SpoolOptions | undefined;
  };

function positive(name: string, value: number, max = Infinity, integer = false): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || value > max) {
    throw new RangeError(`${name} must be a number in (0, ${max}], got ${value}`);
  }
  if (integer && !Number.isInteger(value) && value !== Infinity) {
    throw new RangeError(`${name} must be an integer, got ${value}`);
  }
  return value;
}

/**
 * Fills in defaults and rejects impossible settings early, with the option's name in the message.
 *
 * @example
 * ```ts
 * resolveOptions({ client, streamName: 'sensors' }).maxBatchRecords; // 500
 * ```
 */
export function resolveOptions<T>(options: UncheckedOptions<T>, api = 'toKinesis'): ResolvedOptions<T> {
  try {
    return resolve(options);
  } catch (error) {
    // Each entry point names itself (putAll's mistakes say putAll), once, in front of the option's own message.
    if (error instanceof Error && !error.message.startsWith(`${api}: `))
      error.message = `${api}: ${error.message}`;
    throw error;
  }
}

/**
 * What `resolveOptions` takes: {@link ToKinesisOptions} as JavaScript callers may pass them, with nothing
 * proven at compile time (the stream and `toRecord` are checked at run time).
 */
export type UncheckedOptions<T> = ProducerSettings<T, boolean> & {
  streamName?: string;
  streamARN?: string;
  toRecord?: (item: T) => KinesisRecordInput;
  spool?: SpoolOptions;
};

function resolve<T>(options: UncheckedOptions<T>): ResolvedOptions<T> {
  if (!options || !options.client) throw new TypeError('`client` (a KinesisClient) is required');
  if (options.streamName === undefined && options.streamARN === undefined) {
    throw new TypeError('name the stream with `streamName` and/or `streamARN`');
  }
  const o = {
    maxBatchRecords: MAX_BATCH_RECORDS,
    maxBatchBytes: MAX_BATCH_BYTES,
    maxRecordBytes: DEFAULT_MAX_RECORD_BYTES,
    lingerMs: 100,
    shardRecordsPerSecond: 1000,
    shardBytesPerSecond: 1024 * 1024,
    shardBurstMs: 100,
    ordering: 'none' as 'none' | 'per-key',
    adaptiveRate: true,
    maxInFlightRequests: 16,
    // With a spool, records wait out an outage on disk, not in a retry budget: a retry budget would finally
    // fail (and ack) them after about a minute. Entry errors are only throttles and InternalFailure, both
    // passing; errors no retry fixes end the pipeline whatever these say.
    maxAttempts: 'spool' in options && options.spool ? Infinity : 10,
    recordTtlMs: 'spool' in options && options.spool ? Infinity : 60_000,
    requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
    minUploadBytesPerSecond: DEFAULT_MIN_UPLOAD_BYTES_PER_SECOND,
    retryBaseDelayMs: 100,
    retryMaxDelayMs: 5_000,
    maxBufferedRecords: 200_000,
    maxBufferedBytes: 16 * 1024 * 1024,
    drainTimeoutMs: Infinity,
    scheduler: asyncScheduler,
    random: Math.random,
    toRecord: (item: T) => item as unknown as KinesisRecordInput,
    ...withoutUndefined(options),
    client: options.client,
    limiter: resolveLimiterOptions(options.limiter, (options.streamARN ?? options.streamName)!),
    aggregation: undefined as AggregationLimits | undefined,
    metrics: options.metrics as MetricsRecorder | undefined,
    spool: spoolOf(options),
  };
  positive('maxBatchRecords', o.maxBatchRecords, MAX_BATCH_RECORDS, true);
  checkMaxRecordBytes(o.maxRecordBytes);
  // A request must hold at least one record of the largest allowed size.
  positive('maxBatchBytes', o.maxBatchBytes, Math.max(MAX_BATCH_BYTES, o.maxRecordBytes), true);
  if (o.maxBatchBytes < o.maxRecordBytes) {
    throw new RangeError(
      `maxBatchBytes (${o.maxBatchBytes}${options.maxBatchBytes === undefined ? ', the default' : ''}) must be ` +
        `at least maxRecordBytes (${o.maxRecordBytes}): a request must hold the largest record, so raise ` +
        `maxBatchBytes with it (Kinesis allows requests up to the stream's record size, at most 10 MiB)`,
    );
  }
  if (!(o.lingerMs >= 0)) throw new RangeError(`lingerMs must be ≥ 0, got ${o.lingerMs}`);
  positive('shardRecordsPerSecond', o.shardRecordsPerSecond);
  positive('shardBytesPerSecond', o.shardBytesPerSecond);
  positive('shardBurstMs', o.shardBurstMs);
  if (o.ordering !== 'none' && o.ordering !== 'per-key') {
    throw new RangeError(`ordering must be 'none' or 'per-key', got ${String(o.ordering)}`);
  }
  positive('maxInFlightRequests', o.maxInFlightRequests, Infinity, true);
  positive('maxAttempts', o.maxAttempts, Infinity, true);
  positive('recordTtlMs', o.recordTtlMs);
  positive('requestTimeoutMs', o.requestTimeoutMs);
  positive('minUploadBytesPerSecond', o.minUploadBytesPerSecond);
  positive('retryBaseDelayMs', o.retryBaseDelayMs);
  positive('retryMaxDelayMs', o.retryMaxDelayMs);
  positive('maxBufferedRecords', o.maxBufferedRecords, Infinity, true);
  positive('maxBufferedBytes', o.maxBufferedBytes);
  if (!(o.drainTimeoutMs >= 0)) throw new RangeError(`drainTimeoutMs must be ≥ 0, got ${o.drainTimeoutMs}`);
  if (o.maxBufferedBytes < o.maxRecordBytes) {
    throw new RangeError(
      `maxBufferedBytes (${o.maxBufferedBytes}) must be at least maxRecordBytes (${o.maxRecordBytes})`,
    );
  }
  o.aggregation = resolveAggregation(options.aggregation, o.maxRecordBytes);
  return o;
}

function resolveAggregation(
  options: AggregationOptions<boolean> | undefined,
  maxRecordBytes: number,
): AggregationLimits | undefined {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object' || typeof options.enabled !== 'boolean') {
    throw new TypeError('aggregation must be { enabled: boolean, maxRecords?, maxBytes? }');
  }
  if (!options.enabled) return undefined;
  const maxRecords = options.maxRecords ?? Infinity;
  const maxBytes = options.maxBytes ?? Math.min(DEFAULT_AGGREGATE_BYTES, maxRecordBytes);
  if (!(maxRecords === Infinity || Number.isInteger(maxRecords)) || !(maxRecords >= 2)) {
    throw new RangeError(`aggregation.maxRecords must be an integer ≥ 2 (or Infinity), got ${maxRecords}`);
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 64 || maxBytes > maxRecordBytes) {
    throw new RangeError(
      `aggregation.maxBytes must be an integer in 64..maxRecordBytes (${maxRecordBytes}), got ${maxBytes}`,
    );
  }
  return { maxRecords, maxBytes };
}

function spoolOf<T>(options: UncheckedOptions<T>): SpoolOptions | undefined {
  const spool = options.spool;
  return spool === undefined ? undefined : resolveSpoolOptions(spool);
}

function withoutUndefined<O extends object>(o: O): Partial<O> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<O>;
}
