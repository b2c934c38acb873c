import { asyncScheduler } from 'rxjs';
import { resolveLimiterOptions, type ResolvedSharedLimiter } from './limits/shared-options.js';
import type { KinesisRecordInput } from './kinesis/records.js';
import { checkMaxRecordBytes, DEFAULT_MAX_RECORD_BYTES } from './kinesis/records.js';
import type { AggregationLimits } from './pipeline/aggregation.js';
import type { MetricsRecorder } from './observe/recorder.js';
import { resolveSpoolOptions } from './spool/options.js';
import type { SpoolOptions } from './spool/index.js';
import {
  DEFAULT_AGGREGATE_BYTES,
  DEFAULT_MIN_UPLOAD_BYTES_PER_SECOND,
  DEFAULT_REQUEST_TIMEOUT_MS,
  MAX_BATCH_BYTES,
  MAX_BATCH_RECORDS,
  type AggregationOptions,
  type ProducerSettings,
} from './options.js';

// The options' defaults and checks: what `toKinesis()`, `putAll()` and `KinesisProducer` do with the
// settings declared in options.ts before any stage reads them.

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
