import { hash } from 'node:crypto';

/**
 * A user record unpacked from a KPL aggregated record.
 *
 * @example
 * ```ts
 * const [first]: UserRecord[] = deaggregate(record.data) ?? [];
 * ```
 */
export interface UserRecord {
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  /** A view into the aggregate's bytes (not a copy). */
  readonly data: Buffer;
}

const MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);
const DIGEST_BYTES = 16;

/** Reads protobuf fields: just what KPL's two messages use, skipping any field it does not know. */
class Reader {
  at: number;
  constructor(
    private readonly buffer: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.at = start;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.at >= this.end) throw new Error('truncated varint');
      const byte = this.buffer[this.at++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
      if (scale > 2 ** 63) throw new Error('varint too long');
    }
  }

  bytes(): Buffer {
    const length = this.varint();
    if (this.at + length > this.end) throw new Error('truncated field');
    const view = this.buffer.subarray(this.at, this.at + length);
    this.at += length;
    return view;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.bytes();
    else if (wireType === 1) this.at += 8;
    else if (wireType === 5) this.at += 4;
    else throw new Error(`unsupported wire type ${wireType}`);
    if (this.at > this.end) throw new Error('truncated field');
  }
}

/**
 * Unpacks a Kinesis record written in the KPL aggregation format (magic bytes, protobuf
 * `AggregatedRecord`, MD5 of the protobuf) into its user records, as the KCL does. Returns `undefined` for
 * a record that is not an aggregate — no magic, or a checksum that does not match, which the KCL also
 * reads as a plain record.
 *
 * @throws Error when the checksum matches but the message is malformed (an index out of its table).
 * @example
 * ```ts
 * const users = deaggregate(record.data) ?? [{ partitionKey: record.partitionKey, data: record.data }];
 * ```
 */
export function deaggregate(data: Uint8Array): UserRecord[] | undefined {
  // Most records are plain: tell them apart by their first bytes, before allocating anything.
  if (
    data.byteLength < MAGIC.length + DIGEST_BYTES ||
    data[0] !== MAGIC[0] ||
    data[1] !== MAGIC[1] ||
    data[2] !== MAGIC[2] ||
    data[3] !== MAGIC[3]
  ) {
    return undefined;
  }
  const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const messageEnd = buffer.length - DIGEST_BYTES;
  const message = buffer.subarray(MAGIC.length, messageEnd);
  if (!hash('md5', message, 'buffer').equals(buffer.subarray(messageEnd))) return undefined;

  const keys: string[] = [];
  const explicitKeys: string[] = [];
  const records: { key: number; explicit: number | undefined; data: Buffer }[] = [];
  const reader = new Reader(buffer, MAGIC.length, messageEnd);
  while (reader.at < reader.end) {
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 1 && wireType === 2) keys.push(reader.bytes().toString('utf8'));
    else if (field === 2 && wireType === 2) explicitKeys.push(reader.bytes().toString('latin1'));
    else if (field === 3 && wireType === 2) {
      const bytes = reader.bytes();
      const inner = new Reader(
        buffer,
        bytes.byteOffset - buffer.byteOffset,
        bytes.byteOffset - buffer.byteOffset + bytes.length,
      );
      let key: number | undefined;
      let explicit: number | undefined;
      let payload: Buffer | undefined;
      while (inner.at < inner.end) {
        const innerTag = inner.varint();
        const innerField = Math.floor(innerTag / 8);
        const innerWire = innerTag % 8;
        if (innerField === 1 && innerWire === 0) key = inner.varint();
        else if (innerField === 2 && innerWire === 0) explicit = inner.varint();
        else if (innerField === 3 && innerWire === 2) payload = inner.bytes();
        else inner.skip(innerWire);
      }
      if (key === undefined || payload === undefined)
        throw new Error('aggregated record lacks a key or data');
      records.push({ key, explicit, data: payload });
    } else reader.skip(wireType);
  }
  return records.map(({ key, explicit, data: payload }) => {
    if (key >= keys.length) throw new Error(`partition key index ${key} is out of its table`);
    if (explicit !== undefined && explicit >= explicitKeys.length) {
      throw new Error(`explicit hash key index ${explicit} is out of its table`);
    }
    return {
      partitionKey: keys[key],
      explicitHashKey: explicit === undefined ? undefined : explicitKeys[explicit],
      data: payload,
    };
  });
}
