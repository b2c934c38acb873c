import { createHash } from 'node:crypto';
import type { PendingRecord } from './pending.js';
import type { PreparedRecord } from '../kinesis/records.js';

/**
 * The four bytes that open every KPL aggregated record.
 *
 * @example
 * ```ts
 * const isAggregate = (data: Uint8Array) => AGGREGATION_MAGIC.every((b, i) => data[i] === b);
 * ```
 */
export const AGGREGATION_MAGIC: Readonly<Uint8Array> = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);
/** Magic + MD5 trailer: what an aggregate costs on top of its protobuf message. */
const FRAMING_BYTES = AGGREGATION_MAGIC.length + 16;

// Protobuf tags (field number << 3 | wire type 2 = length-delimited, 0 = varint) of KPL's messages:
//   AggregatedRecord { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2;
//                      repeated Record records = 3; }
//   Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
//            required bytes data = 3; }
const TAG_PARTITION_KEY_TABLE = 0x0a;
const TAG_EXPLICIT_HASH_KEY_TABLE = 0x12;
const TAG_RECORDS = 0x1a;
const TAG_PARTITION_KEY_INDEX = 0x08;
const TAG_EXPLICIT_HASH_KEY_INDEX = 0x10;
const TAG_DATA = 0x1a;

/** Bytes a protobuf varint takes for `n` (a non-negative safe integer). */
function varintLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    length++;
  }
  return length;
}

function writeVarint(buffer: Buffer, offset: number, n: number): number {
  while (n >= 0x80) {
    buffer[offset++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buffer[offset++] = n;
  return offset;
}

/** A length-delimited field of `length` bytes, with its tag and length prefix. */
const fieldLength = (length: number) => 1 + varintLength(length) + length;

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
 * Packs user records of one shard into one aggregate, keeping the exact size of the protobuf message as
 * records are added, so limits are checked before anything is encoded. Partition keys and explicit hash
 * keys are stored once each in the tables and referenced by index, as KPL does.
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
  private readonly keys = new Map<string, number>();
  private readonly explicitKeys = new Map<string, number>();
  /** Protobuf message bytes so far. */
  private messageBytes = 0;
  /** UTF-8 bytes of the aggregate's own partition key (its first member's). */
  private partitionKeyBytes = 0;

  get size(): number {
    return this.members.length;
  }

  /** Kinesis-record bytes of the aggregate with `record` added (framing + message + partition key). */
  bytesWith(record: PendingRecord<T>): number {
    const added = this.growth(record);
    const keyBytes =
      this.members.length === 0 ? record.record.bytes - record.record.entry.Data.byteLength : 0;
    return FRAMING_BYTES + this.messageBytes + added + this.partitionKeyBytes + keyBytes;
  }

  add(record: PendingRecord<T>): void {
    this.messageBytes += this.growth(record);
    const { PartitionKey: key, ExplicitHashKey: explicit } = record.record.entry;
    if (!this.keys.has(key)) this.keys.set(key, this.keys.size);
    if (explicit !== undefined && !this.explicitKeys.has(explicit))
      this.explicitKeys.set(explicit, this.explicitKeys.size);
    if (this.members.length === 0) {
      this.partitionKeyBytes = record.record.bytes - record.record.entry.Data.byteLength;
    }
    this.members.push(record);
  }

  /**
   * The Kinesis record to send: a lone user record goes as it is (no framing to pay, and consumers see a
   * plain record); two or more become an {@link Aggregate}.
   */
  seal(): Outgoing<T> {
    if (this.members.length === 1) return this.members[0];
    const first = this.members[0];
    const data = this.encode();
    const record: PreparedRecord = {
      entry: {
        PartitionKey: first.record.entry.PartitionKey,
        ExplicitHashKey: first.record.hashKey.toString(),
        Data: data,
      },
      hashKey: first.record.hashKey,
      bytes: data.byteLength + this.partitionKeyBytes,
    };
    return new Aggregate(record, this.members, first.shardId);
  }

  /** Bytes `record` adds to the message: its Record field and any table entries it needs. */
  private growth(record: PendingRecord<T>): number {
    const { PartitionKey: key, ExplicitHashKey: explicit, Data: data } = record.record.entry;
    let added = 0;
    let keyIndex = this.keys.get(key);
    if (keyIndex === undefined) {
      keyIndex = this.keys.size;
      added += fieldLength(record.record.bytes - data.byteLength);
    }
    let recordBytes = 1 + varintLength(keyIndex) + fieldLength(data.byteLength);
    if (explicit !== undefined) {
      let explicitIndex = this.explicitKeys.get(explicit);
      if (explicitIndex === undefined) {
        explicitIndex = this.explicitKeys.size;
        added += fieldLength(explicit.length); // decimal digits: one byte each
      }
      recordBytes += 1 + varintLength(explicitIndex);
    }
    return added + fieldLength(recordBytes);
  }

  private encode(): Buffer {
    const out = Buffer.allocUnsafe(FRAMING_BYTES + this.messageBytes);
    out.set(AGGREGATION_MAGIC, 0);
    let at = AGGREGATION_MAGIC.length;
    for (const key of this.keys.keys()) {
      out[at++] = TAG_PARTITION_KEY_TABLE;
      at = writeVarint(out, at, Buffer.byteLength(key, 'utf8'));
      at += out.write(key, at, 'utf8');
    }
    for (const explicit of this.explicitKeys.keys()) {
      out[at++] = TAG_EXPLICIT_HASH_KEY_TABLE;
      at = writeVarint(out, at, explicit.length);
      at += out.write(explicit, at, 'latin1');
    }
    for (const member of this.members) {
      const { PartitionKey: key, ExplicitHashKey: explicit, Data: data } = member.record.entry;
      const keyIndex = this.keys.get(key)!;
      const explicitIndex = explicit === undefined ? undefined : this.explicitKeys.get(explicit)!;
      let recordBytes = 1 + varintLength(keyIndex) + fieldLength(data.byteLength);
      if (explicitIndex !== undefined) recordBytes += 1 + varintLength(explicitIndex);
      out[at++] = TAG_RECORDS;
      at = writeVarint(out, at, recordBytes);
      out[at++] = TAG_PARTITION_KEY_INDEX;
      at = writeVarint(out, at, keyIndex);
      if (explicitIndex !== undefined) {
        out[at++] = TAG_EXPLICIT_HASH_KEY_INDEX;
        at = writeVarint(out, at, explicitIndex);
      }
      out[at++] = TAG_DATA;
      at = writeVarint(out, at, data.byteLength);
      out.set(data, at);
      at += data.byteLength;
    }
    const messageEnd = at;
    createHash('md5')
      .update(out.subarray(AGGREGATION_MAGIC.length, messageEnd))
      .digest()
      .copy(out, messageEnd);
    return out;
  }
}

/**
 * Takes user records from a shard's queues (in order) and packs them into at most `maxUnits` Kinesis
 * records of at most `maxBytes` in all — one admission of the shard's buckets. A record too large to share
 * an aggregate goes alone, as it is.
 *
 * @example
 * ```ts
 * const chunk = packChunk([retries, fresh], { maxRecords: Infinity, maxBytes: 51_200 }, 100, 104_857);
 * ```
 */
export function packChunk<T>(
  queues: readonly { peek(): PendingRecord<T> | undefined; shift(): PendingRecord<T> | undefined }[],
  limits: AggregationLimits,
  maxUnits: number,
  maxBytes: number,
): Outgoing<T>[] {
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
        if (units.length >= maxUnits) return units;
      }
      if (units.length > 0 && bytes + next.record.bytes > maxBytes) return units;
      builder = new AggregateBuilder<T>();
      builder.add(queue.shift()!);
    }
  }
  if (builder) seal();
  return units;
}
