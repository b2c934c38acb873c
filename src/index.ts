/**
 * rx-kinesis: Amazon Kinesis Data Streams as a first-class RxJS sink.
 *
 * @example
 * ```ts
 * import { toKinesis } from 'rx-kinesis';
 * readings$.pipe(toKinesis({ client, streamName: 'sensors' })).subscribe();
 * ```
 *
 * @module rx-kinesis
 */
export { toKinesis } from './to-kinesis.js';
export { putAll, type PutAllOptions } from './put-all.js';
export { KinesisProducer } from './pipeline/producer.js';
export type { ProducerStats } from './pipeline/stats.js';
export {
  MAX_BATCH_BYTES,
  MAX_BATCH_RECORDS,
  DEFAULT_AGGREGATE_BYTES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_MIN_UPLOAD_BYTES_PER_SECOND,
  resolveOptions,
  type AggregationOptions,
  type ResolvedOptions,
  type SpooledOptions,
  type ToKinesisOptions,
} from './options.js';
export type { SpooledRecord } from './pipeline/spooled-record.js';
export {
  SpoolError,
  SpoolFullError,
  SpoolLockedError,
  SPOOL_FORMAT_VERSION,
  type SpoolCorruption,
  type SpoolDrop,
  type SpoolErrorCode,
  type SpoolFsync,
  type SpoolOptions,
  type SpoolWhenFull,
} from './spool/index.js';
export type {
  AggregatedPutRecordsEmission,
  EmissionOf,
  KinesisEmission,
  PutRecordsEmission,
} from './pipeline/emissions.js';
export { KinesisSinkError, isRetryableRequestError, type KinesisSinkErrorCode } from './errors.js';
export { FATAL_ERROR_CODES, TRANSIENT_ERROR_CODES } from './kinesis/error-codes.js';
export { NO_RESULT_ERROR_CODE } from './pipeline/results.js';
export { RequestTimeoutError } from './pipeline/deadline.js';
export {
  DEFAULT_MAX_RECORD_BYTES,
  InvalidRecordError,
  MAX_HASH_KEY,
  MAX_PARTITION_KEY_LENGTH,
  MAX_RECORD_BYTES_CEILING,
  prepareRecord,
  type InvalidRecordReason,
  type KinesisRecordInput,
  type PreparedRecord,
  type RecordLimits,
} from './kinesis/records.js';
export { hashKeyOf } from './kinesis/hash-key.js';
export { CONNECTION_PER_REQUEST_WARNING } from './pipeline/client-check.js';
export { AGGREGATION_MAGIC } from './kinesis/aggregate-format.js';
export { KinesisMetrics, type KinesisMetricsOptions, type MeterLike } from './observe/metrics.js';
export { OTHER_ERROR_CODE } from './observe/counters.js';
export { rates, type MetricsRates, type StreamRates } from './observe/rates.js';
export type {
  MetricsSnapshot,
  ShardMetrics,
  SpoolMetrics,
  StreamMetrics,
  Summary,
} from './observe/snapshot.js';
export { listOpenShards, ShardMap, type ShardRange, type StreamRef } from './kinesis/shard-map.js';
export type { IORedisClientLike, LimiterOptions, SharedLimiterOptions } from './limits/shared-options.js';
