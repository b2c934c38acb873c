import { describeError } from '../errors.js';
import { hashKeyOf } from '../kinesis/hash-key.js';
import {
  InvalidRecordError,
  hashPrefixFor,
  prepareRecordAs,
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
  /** Its place in acceptance order among the producer's live records (see LiveRecords). */
  seq: number;
  /** Its slot there; -1 while not live (not yet added, or final). */
  slot: number;
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
  try {
    const pending = prepareRecordAs(options.toRecord(item), options, makePending<T>, item);
    pending.acceptedAt = acceptedAt;
    return pending;
  } catch (error) {
    return invalidItem(item, error);
  }
}

/** A module-level builder, not a closure per record: a closure and its context were 100 B a record. */
function makePending<T>(
  entry: PreparedRecord['entry'],
  bytes: number,
  explicit: bigint | undefined,
  item: T,
): Pending<T> {
  return new Pending(item, entry, hashPrefixFor(entry, explicit), bytes);
}

/**
 * A pending record that is its own prepared record (`record === this`), whose entry is the item itself when
 * the item already is one: one object per record where there were three, plus a BigInt and two strings
 * (measured with the prefix routing, 200,000 unique-key records against a client that answers at once:
 * 3.25 → 2.70 CPU µs per record, median of 5, machine under load).
 */
class Pending<T> implements PendingRecord<T>, PreparedRecord {
  acceptedAt = 0;
  attempts = 0;
  firstSentAt: number | undefined = undefined;
  shardId = '';
  seq = 0;
  slot = -1;

  constructor(
    readonly item: T,
    readonly entry: PreparedRecord['entry'],
    readonly hashPrefix: number,
    readonly bytes: number,
  ) {}

  get record(): PreparedRecord {
    return this;
  }

  get hashKey(): bigint {
    const explicit = this.entry.ExplicitHashKey;
    return explicit !== undefined ? BigInt(explicit) : hashKeyOf(this.entry.PartitionKey);
  }
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
