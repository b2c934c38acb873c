/**
 * What `KinesisMetrics.snapshot()` returns: plain, JSON-serialisable objects (public types).
 */
/**
 * A distribution: how many values, their sum, least, greatest and mean. With no values yet, `min`, `max`
 * and `mean` are 0 (not `undefined` or `Infinity`), so a snapshot survives `JSON.stringify` whole.
 *
 * @example
 * ```ts
 * const { requestTime } = metrics.snapshot().streams['sensors'];
 * console.log(`${requestTime.count} requests, mean ${requestTime.mean} ms, worst ${requestTime.max} ms`);
 * ```
 */
export interface Summary {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
}

/**
 * One shard's metrics, cumulative since the `KinesisMetrics` was created. Counts of records are of user
 * records unless named `kinesisRecords…`. Bytes are data + partition key.
 *
 * @example
 * ```ts
 * for (const [shardId, shard] of Object.entries(metrics.snapshot().streams['sensors'].shards)) {
 *   console.log(shardId, shard.userRecordsPut, shard.throttles);
 * }
 * ```
 */
export interface ShardMetrics {
  /** User records delivered (KPL UserRecordsPut). */
  userRecordsPut: number;
  /** Their bytes (KPL UserRecordsDataPut). */
  userRecordsDataPut: number;
  /** User records finally failed: out of attempts or TTL, or a fatal error. */
  userRecordsFailed: number;
  /** Those, by the code they failed with (an ErrorCode, or `RETRIES_EXHAUSTED`, `FATAL_REQUEST_ERROR`, …). */
  userRecordsFailedByCode: Record<string, number>;
  /** Kinesis records delivered: plain records and aggregates (KPL KinesisRecordsPut). */
  kinesisRecordsPut: number;
  /** Their bytes (KPL KinesisRecordsDataPut). */
  kinesisRecordsDataPut: number;
  /** User records affected by an error, by code: per-entry ErrorCodes and whole-request error names. */
  errorsByCode: Record<string, number>;
  /** User records affected by any error: the sum of `errorsByCode`. */
  allErrors: number;
  /** User records refused with `ProvisionedThroughputExceededException`. */
  throttles: number;
  /** User record sends that were retries. */
  retries: number;
  /** Over delivered user records: sends − 1 (0 when delivered first time). */
  retriesPerRecord: Summary;
  /** Milliseconds from a user record being accepted to its first send (KPL BufferingTime). */
  bufferingTime: Summary;
  /** Over delivered Kinesis records: the user records each held (1 unless aggregated). */
  userRecordsPerKinesisRecord: Summary;
}

/**
 * One stream's metrics: its totals (the `ShardMetrics` fields, summed over its shards plus anything no
 * shard was known for, such as a request that failed as a whole), what is pending now, request metrics,
 * and each shard written to.
 *
 * @example
 * ```ts
 * const s = metrics.snapshot().streams['sensors'];
 * console.log(`${s.userRecordsPending} pending, ${s.userRecordsPut} put, ${s.userRecordsFailed} failed`);
 * ```
 */
export interface StreamMetrics extends ShardMetrics {
  /** User records accepted into a buffer (KPL UserRecordsReceived). */
  userRecordsReceived: number;
  /** Now: user records accepted and not yet finally delivered or failed, over the attached producers. */
  userRecordsPending: number;
  /** Now: their bytes. */
  pendingBytes: number;
  /** Milliseconds per PutRecords request, response or error; `count` is the number of requests. */
  requestTime: Summary;
  /** Kinesis records per request (KPL KinesisRecordsPerPutRecordsRequest). */
  kinesisRecordsPerRequest: Summary;
  /** User records per request. */
  userRecordsPerRequest: Summary;
  /** Per shard id, for the shards written to. */
  shards: Record<string, ShardMetrics>;
  /** Durable spool counters, present once a pipeline with a `spool` counted something for the stream. */
  spool?: SpoolMetrics;
}

/**
 * A stream's durable-spool counters (pipelines with the `spool` option), cumulative. Nothing the spool
 * does to an entry is silent: each way an entry can leave it other than being sent is counted here.
 *
 * @example
 * ```ts
 * const s = metrics.snapshot().streams['sensors']?.spool;
 * if (s && (s.dropped > 0 || s.lost > 0)) console.warn(`spool dropped ${s.dropped}, lost ${s.lost}`);
 * ```
 */
export interface SpoolMetrics {
  /** Entries appended to the spool (items accepted). */
  spooled: number;
  /** Entries an earlier process left unsent, found when the spool was opened (sent first). */
  replayed: number;
  /** Unsent entries deleted by `whenFull: 'drop-oldest'`. */
  dropped: number;
  /** Items refused by `whenFull: 'reject'` (each a `SpoolFullError`, or in a `SPOOL_FULL` error's `unsent`). */
  rejected: number;
  /** Entries lost to damage found at open (checksums: never sent as data). */
  lost: number;
  /** Damage reports (torn tails, corrupt frames, headers or acks), as given to `spool.onCorruption`. */
  corruptions: number;
}

/**
 * Everything `KinesisMetrics` has counted, as a plain object: JSON-serialisable, and a copy (changing it
 * changes nothing else).
 *
 * @example
 * ```ts
 * const snap: MetricsSnapshot = metrics.snapshot();
 * writeFileSync('metrics.json', JSON.stringify(snap));
 * ```
 */
export interface MetricsSnapshot {
  /** When it was taken: the scheduler's `now()`, milliseconds. */
  time: number;
  /** Per stream, as the producers name it (the stream name, or the ARN when given only that). */
  streams: Record<string, StreamMetrics>;
}
