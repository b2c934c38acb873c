/**
 * The KPL aggregated-record format: magic bytes, a protobuf `AggregatedRecord`, and the MD5 of that message.
 * The KCL and the AWS de-aggregation libraries unpack it. Pure format, no pipeline: this predicts sizes
 * exactly as records are added (so limits are checked before anything is encoded) and encodes.
 */
import { createHash } from 'node:crypto';
import type { PreparedRecord } from './records.js';

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

/**
 * One aggregated record being built: its protobuf message's exact size as records are added, and its
 * encoding. Partition keys and explicit hash keys are stored once each in the tables and referenced by
 * index, as KPL does.
 *
 * @example
 * ```ts
 * const message = new AggregateMessage();
 * if (message.bytesWith(record.record) <= 50 * 1024) message.add(record.record);
 * const data = message.encode(); // magic + AggregatedRecord + MD5
 * ```
 */
export class AggregateMessage {
  private readonly records: PreparedRecord[] = [];
  private readonly keys = new Map<string, number>();
  private readonly explicitKeys = new Map<string, number>();
  /** Protobuf message bytes so far. */
  private messageBytes = 0;
  /** UTF-8 bytes of the aggregate's own partition key (its first record's). */
  private partitionKeyBytes = 0;

  /** Records added. */
  get size(): number {
    return this.records.length;
  }

  /** What the aggregate counts as a Kinesis record besides its data: its (first record's) partition key. */
  get keyBytes(): number {
    return this.partitionKeyBytes;
  }

  /** Kinesis-record bytes of the aggregate with `record` added (framing + message + partition key). */
  bytesWith(record: PreparedRecord): number {
    const added = this.growth(record);
    const keyBytes = this.records.length === 0 ? record.bytes - record.entry.Data.byteLength : 0;
    return FRAMING_BYTES + this.messageBytes + added + this.partitionKeyBytes + keyBytes;
  }

  add(record: PreparedRecord): void {
    this.messageBytes += this.growth(record);
    const { PartitionKey: key, ExplicitHashKey: explicit } = record.entry;
    if (!this.keys.has(key)) this.keys.set(key, this.keys.size);
    if (explicit !== undefined && !this.explicitKeys.has(explicit))
      this.explicitKeys.set(explicit, this.explicitKeys.size);
    if (this.records.length === 0) {
      this.partitionKeyBytes = record.bytes - record.entry.Data.byteLength;
    }
    this.records.push(record);
  }

  /** Bytes `record` adds to the message: its Record field and any table entries it needs. */
  private growth(record: PreparedRecord): number {
    const { PartitionKey: key, ExplicitHashKey: explicit, Data: data } = record.entry;
    let added = 0;
    let keyIndex = this.keys.get(key);
    if (keyIndex === undefined) {
      keyIndex = this.keys.size;
      added += fieldLength(record.bytes - data.byteLength);
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

  /** The aggregate's data: magic, the protobuf message, and the message's MD5. */
  encode(): Buffer {
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
    for (const record of this.records) {
      const { PartitionKey: key, ExplicitHashKey: explicit, Data: data } = record.entry;
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
