import { describeError } from '../errors.js';
import {
  InvalidRecordError,
  prepareRecord,
  type KinesisRecordInput,
  type PreparedRecord,
  type RecordLimits,
} from '../kinesis/records.js';

/** A source item on its way to Kinesis: accepted, not yet finally delivered or failed. */
export interface PendingRecord<T> {
  readonly item: T;
  readonly record: PreparedRecord;
  /** When it was accepted (scheduler time), for the buffering-time metric. */
  readonly acceptedAt: number;
  /** Sends so far. */
  attempts: number;
  /** When it was first sent (scheduler time), for `recordTtlMs`. */
  firstSentAt: number | undefined;
  /** The shard it was routed to for the current attempt. */
  shardId: string;
  /** Links of the producer's list of live records (see LiveRecords), and its place in acceptance order. */
  live: boolean;
  seq: number;
  prev: PendingRecord<T> | undefined;
  next: PendingRecord<T> | undefined;
}

/**
 * Validates a source item into a pending record (not yet live), or the `InvalidRecordError` naming why not.
 *
 * @example
 * ```ts
 * const toRecord = (i: Item) => ({ PartitionKey: i.key, Data: i.data });
 * const pending = admitItem(item, resolveOptions({ client, streamName: 'sensors', toRecord }), scheduler.now());
 * if (pending instanceof InvalidRecordError) console.warn(pending.reason); // names the limit, not the data
 * ```
 */
export function admitItem<T>(
  item: T,
  options: RecordLimits & { toRecord: (item: T) => KinesisRecordInput },
  acceptedAt: number,
): PendingRecord<T> | InvalidRecordError<T> {
  let record;
  try {
    record = prepareRecord(options.toRecord(item), options);
  } catch (error) {
    return invalidItem(item, error);
  }
  return {
    item,
    record,
    acceptedAt,
    attempts: 0,
    firstSentAt: undefined,
    shardId: '',
    live: false,
    seq: 0,
    prev: undefined,
    next: undefined,
  };
}

/**
 * The `InvalidRecordError` for `item`, from what validating it (or its `toRecord`) threw.
 *
 * @example
 * ```ts
 * const error = invalidItem(item, new Error('boom')); // reason 'TO_RECORD_FAILED', the item attached
 * ```
 */
export function invalidItem<T>(item: T, error: unknown): InvalidRecordError<T> {
  if (error instanceof InvalidRecordError)
    return new InvalidRecordError<T>(error.reason, error.message, item);
  return new InvalidRecordError<T>('TO_RECORD_FAILED', `toRecord threw ${describeError(error)}`, item, {
    cause: error,
  });
}
