/**
 * The one interface producers count through (metrics are optional: a producer without them holds
 * `undefined`). `KinesisMetrics` implements it.
 */
/**
 * What producers call as things happen; `KinesisMetrics` implements it. Every method is a few counter
 * increments and map lookups, cheap enough to call per user record. Not meant to be called by users.
 *
 * A user record is an item as given to `toKinesis()`; a Kinesis record is an entry of a PutRecords request,
 * which may be an aggregate holding several user records.
 *
 * @internal
 * @example
 * ```ts
 * const recorder: MetricsRecorder = new KinesisMetrics();
 * recorder.received('sensors', 1);
 * recorder.userRecordPut('sensors', 'shardId-000000000000', 1, 120);
 * ```
 */
export interface MetricsRecorder {
  /** `count` user records accepted into a producer's buffer. */
  received(stream: string, count: number): void;
  /** A user record sent for the first time, `ms` after it was accepted (KPL BufferingTime). */
  buffered(stream: string, shardId: string, ms: number): void;
  /** A PutRecords request finished (response or request error) after `ms`, carrying `kinesisRecords` entries that hold `userRecords` user records. */
  request(stream: string, ms: number, kinesisRecords: number, userRecords: number): void;
  /** One Kinesis record (plain or aggregate) delivered to `shardId`, holding `userRecords` user records, `bytes` = its data + partition key bytes. */
  kinesisRecordPut(stream: string, shardId: string, userRecords: number, bytes: number): void;
  /** One user record delivered after `attempts` sends (1 = first try); `bytes` = its own data + key bytes. */
  userRecordPut(stream: string, shardId: string, attempts: number, bytes: number): void;
  /** An error: an entry's ErrorCode (shardId known) or a whole request's error name (shardId undefined), affecting `userRecords` user records. 'ProvisionedThroughputExceededException' also counts as a throttle. */
  error(stream: string, shardId: string | undefined, code: string, userRecords: number): void;
  /** `count` user records will be sent again. */
  retried(stream: string, shardId: string | undefined, count: number): void;
  /** One user record finally failed with `code` (an ErrorCode, or e.g. 'RETRIES_EXHAUSTED', 'FATAL_REQUEST_ERROR'). */
  userRecordFailed(stream: string, shardId: string | undefined, code: string): void;
  /** Durable spool events (`spool` option): `count` entries spooled, replayed from an earlier process, dropped, rejected, or lost to damage; one corruption report. */
  spool(stream: string, event: SpoolEvent, count: number): void;
  /** A producer starts reporting gauges for `stream`; returns a function that detaches it (call on end/destroy). Gauges are read only when a snapshot is taken (pull, never polled). */
  attach(stream: string, gauges: () => { pending: number; pendingBytes: number }): () => void;
}

/**
 * What the spool counters count: entries appended (`spooled`), found at open from an earlier process
 * (`replayed`), deleted by `whenFull: 'drop-oldest'` (`dropped`), refused by `whenFull: 'reject'`
 * (`rejected`), lost to damage (`lost`), and damage reports (`corruptions`).
 *
 * @example
 * ```ts
 * const event: SpoolEvent = 'dropped';
 * ```
 */
export type SpoolEvent = 'spooled' | 'replayed' | 'dropped' | 'rejected' | 'lost' | 'corruptions';
