/**
 * rx-kinesis: Amazon Kinesis Data Streams as a first-class RxJS sink.
 *
 * Only what a user writes against is exported here; the stages, the option resolver and the shard map are
 * internals (specs import them from src/). The emulator is `rx-kinesis/testing`.
 *
 * @example
 * ```ts
 * import { toKinesis } from 'rx-kinesis';
 * readings$.pipe(toKinesis({ client, streamName: 'sensors' })).subscribe();
 * ```
 *
 * @module rx-kinesis
 */
// The three ways in: an operator, a pull from an iterable, and a producer to push to (put/send/end).
export { toKinesis } from './to-kinesis.js';
export { putAll, type PutAllOptions } from './put-all.js';
export { KinesisProducer } from './pipeline/producer.js';
export type { ProducerStats } from './pipeline/stats.js';
export type { RecordResult } from './pipeline/outcomes.js';
// Options, and the service limits they are set against.
export {
  MAX_BATCH_BYTES,
  MAX_BATCH_RECORDS,
  DEFAULT_AGGREGATE_BYTES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_MIN_UPLOAD_BYTES_PER_SECOND,
  type AggregationOptions,
  type ItemsNeedToRecord,
  type NamedStream,
  type ProducerSettings,
  type RecordMapping,
  type SpooledOptions,
  type ToKinesisOptions,
} from './options.js';
export type { IORedisClientLike, LimiterOptions, SharedLimiterOptions } from './limits/shared-options.js';
// The durable spool.
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
// What the pipeline emits, and how it fails.
export type {
  AggregatedPutRecordsEmission,
  EmissionOf,
  KinesisEmission,
  PutRecordsEmission,
} from './pipeline/emissions.js';
export { KinesisSinkError, RecordFailedError, type KinesisSinkErrorCode } from './errors.js';
export { FATAL_ERROR_CODES, TRANSIENT_ERROR_CODES } from './kinesis/error-codes.js';
export { NO_RESULT_ERROR_CODE } from './pipeline/results.js';
export { RequestTimeoutError } from './pipeline/deadline.js';
// Records and their limits.
export {
  DEFAULT_MAX_RECORD_BYTES,
  InvalidRecordError,
  MAX_HASH_KEY,
  MAX_PARTITION_KEY_LENGTH,
  MAX_RECORD_BYTES_CEILING,
  type InvalidRecordReason,
  type KinesisRecordInput,
  type RecordData,
} from './kinesis/records.js';
export { CONNECTION_PER_REQUEST_WARNING } from './pipeline/client-check.js';
// Metrics.
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
