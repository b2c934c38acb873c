import { describeCause, fatalReason } from './kinesis/error-codes.js';

/**
 * Why a `toKinesis()` pipeline ended in error (besides an `InvalidRecordError` or the source's own error).
 *
 * @example
 * ```ts
 * const retryLater = (code: KinesisSinkErrorCode) => code === 'RETRIES_EXHAUSTED' || code === 'BUFFER_OVERFLOW';
 * ```
 */
export type KinesisSinkErrorCode =
  /**
   * Kinesis refused a request (PutRecords, or ListShards at startup) with an AWS error code retrying cannot
   * fix: unknown stream, access denied, invalid argument, validation, KMS or credential refusals (see
   * README, "When things go wrong").
   */
  | 'FATAL_REQUEST_ERROR'
  /**
   * Requests kept failing without a response (network, timeouts, 5xx, throttling, unparseable answers) until
   * an item's budget (`maxAttempts`, `recordTtlMs`) ran out.
   */
  | 'RETRIES_EXHAUSTED'
  /**
   * The shard map could not be loaded, or records waited for a map covering their key, for longer than the
   * records' `recordTtlMs` (ListShards kept failing or timing out; a hash range stayed uncovered). The
   * message names the last cause.
   */
  | 'SHARD_MAP_FAILED'
  /** A hot source pushed more than `maxBufferedRecords`/`maxBufferedBytes` can hold. */
  | 'BUFFER_OVERFLOW'
  /**
   * The drain deadline (`close({ deadlineMs })`, `drainTimeoutMs`) passed before every item was final.
   * `unsent` also holds the items of requests aborted in flight: Kinesis may have applied those.
   */
  | 'DRAIN_TIMEOUT'
  /** `spool.directory` is held by another live process (the cause is the `SpoolLockedError`, with its pid). */
  | 'SPOOL_LOCKED'
  /** `spool.whenFull: 'reject'` refused items the source had handed over (they are in `unsent`). */
  | 'SPOOL_FULL'
  /** The spool could not be opened, written or read (the cause is the `SpoolError`). */
  | 'SPOOL_FAILED'
  /** A spooled record breaks this producer's limits (it was written under a larger `maxRecordBytes`). */
  | 'SPOOL_RECORD_INVALID';

/**
 * Ends a pipeline that cannot go on. `unsent` holds every source item that was accepted but neither
 * delivered nor reported finally failed in an emission (plus, for `BUFFER_OVERFLOW`, the item that did not
 * fit), so nothing is lost: resend or store them. Requests already in flight when the error strikes are
 * still answered and emitted first; entries that fail in those answers are final there (`retrying` false).
 * The message names the cause's code, never record data or credentials.
 *
 * @example
 * ```ts
 * source$.pipe(toKinesis({ client, streamName: 'sensors' })).subscribe({
 *   error: (e) => {
 *     if (e instanceof KinesisSinkError) deadLetter(e.unsent);
 *   },
 * });
 * ```
 */
export class KinesisSinkError<T = unknown> extends Error {
  override readonly name = 'KinesisSinkError';
  declare readonly unsent: readonly T[];
  constructor(
    readonly code: KinesisSinkErrorCode,
    message: string,
    unsent: readonly T[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    // Not enumerable, so logging the error (util.inspect, JSON.stringify) never dumps record data.
    Object.defineProperty(this, 'unsent', { value: unsent, enumerable: false });
  }
}

interface SdkErrorLike {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

/**
 * Whether a whole-request error is worth retrying: everything but the documented fatal AWS error codes
 * (`FATAL_ERROR_CODES`: unknown stream, access denied, invalid argument, validation, KMS and credential
 * refusals). Decided by the error's code, never its HTTP status: transport errors, timeouts and
 * unparseable bodies can carry a 200, and are retried; so are throttles, `ResourceInUseException` and 5xx.
 *
 * @example
 * ```ts
 * isRetryableRequestError(Object.assign(new Error('x'), { name: 'ResourceNotFoundException' })); // false
 * isRetryableRequestError(Object.assign(new Error('x'), { name: 'SyntaxError', $metadata: { httpStatusCode: 200 } })); // true
 * ```
 */
export function isRetryableRequestError(error: unknown): boolean {
  return fatalReason(error) === undefined;
}

/** A short, data-free description of an error: its name and HTTP status (for errors of the caller's code). */
export function describeError(error: unknown): string {
  const e = (error ?? {}) as SdkErrorLike;
  const status = e.$metadata?.httpStatusCode;
  return `${e.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}`;
}

/**
 * A request error for a `KinesisSinkError`'s message: its code, HTTP status and sanitised, length-capped
 * message (quoted values and opaque tokens removed), and for a fatal code why retrying cannot help.
 */
export function describeRequestError(error: unknown): string {
  const reason = fatalReason(error);
  return `${describeCause(error)}${reason ? ` — ${reason}` : ''}`;
}

/**
 * A pipeline failure with more items in its `unsent`: items its caller held but the producer never took
 * (the one the source was left at, or the one a cold source had in hand), so that none goes missing.
 * Anything but a `KinesisSinkError`, and an empty `items`, come back unchanged.
 */
export function withUnsent<T>(failure: unknown, items: readonly T[]): unknown {
  if (!(failure instanceof KinesisSinkError) || items.length === 0) return failure;
  const unsent = [...(failure.unsent as readonly T[]), ...items];
  const message = failure.message.replace(/\(\d+ items unsent\)$/, `(${unsent.length} items unsent)`);
  return new KinesisSinkError<T>(failure.code, message, unsent, { cause: failure.cause });
}

/**
 * A record Kinesis finally refused: every attempt failed (throttled, InternalFailure, or no result for it)
 * until `maxAttempts` or `recordTtlMs` ran out, or the pipeline stopped retrying because it failed. What
 * `KinesisProducer.send()` rejects with; `code` is the last attempt's ErrorCode (`NoResult` when the
 * response left the entry out). The item is kept, not shown: it never appears in the message or a log.
 *
 * @example
 * ```ts
 * producer.send({ id: 1, key: 'k', data: new Uint8Array(8) }).catch((e) => {
 *   if (e instanceof RecordFailedError) console.warn(`gave up after ${e.attempts}: ${e.code}`);
 * });
 * ```
 */
export class RecordFailedError<T = unknown> extends Error {
  override readonly name = 'RecordFailedError';
  declare readonly item: T;
  constructor(
    /** The last attempt's ErrorCode, e.g. `ProvisionedThroughputExceededException` or `InternalFailure`. */
    readonly code: string,
    /** Sends made, the last one included. */
    readonly attempts: number,
    /** The shard the last attempt went to. */
    readonly shardId: string,
    item: T,
  ) {
    super(
      `record finally failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${code} (${shardId})`,
    );
    Object.defineProperty(this, 'item', { value: item, enumerable: false });
  }
}
