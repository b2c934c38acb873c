/**
 * The packer: user records queued for one shard become KPL aggregates (format in kinesis/aggregate-format.ts),
 * one bucket admission at a time.
 */
import type { PendingRecord } from './pending.js';
import { AggregateMessage } from '../kinesis/aggregate-format.js';
import { preparedRecord, type PreparedRecord } from '../kinesis/records.js';

/** How large aggregates may grow. */
export interface AggregationLimits {
  /** User records per aggregate. */
  readonly maxRecords: number;
  /** Bytes of the Kinesis record an aggregate becomes: framing, protobuf message and partition key. */
  readonly maxBytes: number;
}

/**
 * A Kinesis record that packs several user records of one shard in the KPL aggregation format. It routes
 * by an ExplicitHashKey taken from its first user record, which lies inside the range of the shard every
 * member was routed to, so each user record lands on the shard its own key maps to.
 */
export class Aggregate<T> {
  constructor(
    /** The Kinesis record sent: `bytes` counts its data and partition key, as Kinesis does. */
    readonly record: PreparedRecord,
    /** The user records inside, in the order they were packed (and are read back by the KCL). */
    readonly members: PendingRecord<T>[],
    /** The shard every member was routed to. */
    public shardId: string,
  ) {}

  /** Its place in acceptance order: its first member's (requests take the oldest records first). */
  get seq(): number {
    return this.members[0].seq;
  }
}

/** What moves past the shard lanes: a user record sent as it is, or an aggregate of several. */
export type Outgoing<T> = PendingRecord<T> | Aggregate<T>;

/** The user records an outgoing Kinesis record carries. */
export function membersOf<T>(unit: Outgoing<T>): readonly PendingRecord<T>[] {
  return unit instanceof Aggregate ? unit.members : [unit];
}

/** How many user records the outgoing Kinesis records carry, without listing them. */
export function userRecordCount<T>(units: Outgoing<T> | readonly Outgoing<T>[]): number {
  if (!Array.isArray(units)) return units instanceof Aggregate ? units.members.length : 1;
  let count = 0;
  for (const unit of units) count += unit instanceof Aggregate ? unit.members.length : 1;
  return count;
}

/**
 * Packs user records of one shard into one aggregate, with the exact size of the KPL message
 * ({@link AggregateMessage}) kept as records are added, so limits are checked before anything is encoded.
 *
 * @example
 * ```ts
 * const builder = new AggregateBuilder<Item>();
 * if (builder.bytesWith(record) <= 50 * 1024) builder.add(record);
 * const unit = builder.seal(); // the record itself when it holds one, else an Aggregate
 * ```
 */
export class AggregateBuilder<T> {
  private readonly members: PendingRecord<T>[] = [];
  private readonly message = new AggregateMessage();

  get size(): number {
    return this.members.length;
  }

  /** Kinesis-record bytes of the aggregate with `record` added (framing + message + partition key). */
  bytesWith(record: PendingRecord<T>): number {
    return this.message.bytesWith(record.record);
  }

  add(record: PendingRecord<T>): void {
    this.message.add(record.record);
    this.members.push(record);
  }

  /**
   * The Kinesis record to send: a lone user record goes as it is (no framing to pay, and consumers see a
   * plain record); two or more become an {@link Aggregate}.
   */
  seal(): Outgoing<T> {
    if (this.members.length === 1) return this.members[0];
    const first = this.members[0];
    const data = this.message.encode();
    const record = preparedRecord(
      {
        PartitionKey: first.record.entry.PartitionKey,
        ExplicitHashKey: first.record.hashKey.toString(),
        Data: data,
      },
      data.byteLength + this.message.keyBytes,
    );
    return new Aggregate(record, this.members, first.shardId);
  }
}

/**
 * Takes user records from a shard's queues (in order) and packs them into at most `maxUnits` Kinesis
 * records of at most `maxBytes` in all — one admission of the shard's buckets — and returns them with their
 * bytes (summed as they are packed). A record too large to share an aggregate goes alone, as it is.
 *
 * @example
 * ```ts
 * const { chunk, bytes } = packChunk([retries, fresh], { maxRecords: Infinity, maxBytes: 51_200 }, 100, 104_857);
 * ```
 */
export function packChunk<T>(
  queues: readonly { peek(): PendingRecord<T> | undefined; shift(): PendingRecord<T> | undefined }[],
  limits: AggregationLimits,
  maxUnits: number,
  maxBytes: number,
): { chunk: Outgoing<T>[]; bytes: number } {
  const units: Outgoing<T>[] = [];
  let bytes = 0;
  let builder: AggregateBuilder<T> | undefined;
  const seal = () => {
    const unit = builder!.seal();
    builder = undefined;
    units.push(unit);
    bytes += unit.record.bytes;
  };
  for (const queue of queues) {
    for (let next = queue.peek(); next; next = queue.peek()) {
      if (builder) {
        const grown = builder.bytesWith(next);
        // The first unit may outgrow the chunk (a full bucket lets it pass and the shard owes the rest).
        const fits = units.length === 0 || bytes + grown <= maxBytes;
        if (builder.size < limits.maxRecords && grown <= limits.maxBytes && fits) {
          builder.add(queue.shift()!);
          continue;
        }
        seal();
        if (units.length >= maxUnits) return { chunk: units, bytes };
      }
      if (units.length > 0 && bytes + next.record.bytes > maxBytes) return { chunk: units, bytes };
      builder = new AggregateBuilder<T>();
      builder.add(queue.shift()!);
    }
  }
  if (builder) seal();
  return { chunk: units, bytes };
}
