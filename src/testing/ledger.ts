import { hash } from 'node:crypto';
import { deaggregate } from './deaggregate.js';

/**
 * A record the emulator accepted (it got a sequence number), in arrival order. A KPL aggregated record is
 * logged as the user records inside it, as a KCL consumer reads them: same shard and sequence number, each
 * with its `subSequenceNumber`.
 *
 * @example
 * ```ts
 * const [first] = emu.records;
 * console.log(first.partitionKey, first.shardId, first.sequenceNumber, first.data?.toString());
 * ```
 */
export interface AcceptedRecord {
  readonly streamName: string;
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  /** The bytes written, unless the emulator runs with `keepData: false`. */
  readonly data: Buffer | undefined;
  /** SHA-256 of the data, lowercase hex. */
  readonly dataSha256: string;
  /** Data bytes (without the partition key). */
  readonly size: number;
  readonly shardId: string;
  /** Decimal; compare with `BigInt(...)` or as equal-length strings. */
  readonly sequenceNumber: string;
  /** Epoch milliseconds, from the emulator's clock. */
  readonly arrivedAt: number;
  /** Position inside its KPL aggregate; undefined for a plain record. */
  readonly subSequenceNumber: number | undefined;
  /**
   * The Kinesis record this user record arrived in, when it was an aggregate: its own partition key,
   * ExplicitHashKey and bytes (the bytes only with `keepData`).
   */
  readonly aggregate: AggregateRecord | undefined;
}

/**
 * A KPL aggregated Kinesis record as PutRecords received it.
 *
 * @example
 * ```ts
 * const inside = emu.records.filter((r) => r.aggregate?.sequenceNumber === seq);
 * ```
 */
export interface AggregateRecord {
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  readonly data: Buffer | undefined;
  readonly sequenceNumber: string;
  /** User records inside. */
  readonly count: number;
}

/**
 * A record the producer meant to write, for the ledger checks. String data counts as its UTF-8 bytes.
 *
 * @example
 * ```ts
 * const sent: ExpectedRecord[] = [{ partitionKey: 'a', data: 'hello' }];
 * emu.missing(sent); // [] once it landed
 * ```
 */
export interface ExpectedRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array | string;
}

/**
 * Records that landed more than once: same partition key, same data.
 *
 * @example
 * ```ts
 * for (const group of emu.duplicates().groups) console.log(group.partitionKey, group.copies);
 * ```
 */
export interface DuplicateGroup {
  readonly partitionKey: string;
  readonly dataSha256: string;
  /** How many times it landed. */
  readonly copies: number;
}

/**
 * A record that landed before a record the producer had sent earlier with the same partition key.
 *
 * @example
 * ```ts
 * const [first]: OrderViolation[] = emu.orderViolations(sent);
 * ```
 */
export interface OrderViolation {
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  /** Position of this record among its key's records, as the producer sent them. */
  readonly sentIndex: number;
  /** The highest position of the same key already seen in the stream. */
  readonly afterSentIndex: number;
}

/**
 * Options of {@link KinesisEmulator.orderViolations}.
 *
 * @example
 * ```ts
 * emu.orderViolations(sent, { streamName: 'demo', strict: true });
 * ```
 */
export interface OrderCheckOptions {
  /** Only records of this stream. Default: all streams. */
  streamName?: string;
  /**
   * Check every copy, not just the first copy of each record: a retried duplicate that lands after
   * later records then counts as a violation too. Default false (what a deduplicating consumer sees).
   */
  strict?: boolean;
}

function sha256(data: Uint8Array | string): string {
  return hash('sha256', data, 'hex');
}

function identity(partitionKey: string, dataSha256: string): string {
  return partitionKey + '\u0000' + dataSha256;
}

/**
 * What the write path hands the ledger for one accepted Kinesis record.
 *
 * @example
 * ```ts
 * ledger.add({ streamName: 'demo', partitionKey: 'k', explicitHashKey: undefined, data: Buffer.from('hi'), shardId, sequenceNumber: seq, arrivedAt: Date.now() });
 * ```
 */
export interface WrittenRecord {
  readonly streamName: string;
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  readonly data: Buffer;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly arrivedAt: number;
}

/** The fields of one logged (user) record; `data` xor `digest` is set, depending on `keepData`. */
type LoggedFields = Omit<AcceptedRecord, 'dataSha256' | 'subSequenceNumber' | 'aggregate'> &
  Partial<Pick<AcceptedRecord, 'subSequenceNumber' | 'aggregate'>> & { readonly digest?: string };

class LoggedRecord implements AcceptedRecord {
  readonly streamName: string;
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  readonly data: Buffer | undefined;
  readonly size: number;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly arrivedAt: number;
  readonly subSequenceNumber: number | undefined;
  readonly aggregate: AggregateRecord | undefined;
  private digest: string | undefined;

  constructor(fields: LoggedFields) {
    this.streamName = fields.streamName;
    this.partitionKey = fields.partitionKey;
    this.explicitHashKey = fields.explicitHashKey;
    this.data = fields.data;
    this.digest = fields.digest;
    this.size = fields.size;
    this.shardId = fields.shardId;
    this.sequenceNumber = fields.sequenceNumber;
    this.arrivedAt = fields.arrivedAt;
    this.subSequenceNumber = fields.subSequenceNumber;
    this.aggregate = fields.aggregate;
  }

  // Hashing is deferred while the bytes are kept, so the write path does not pay for it.
  get dataSha256(): string {
    return (this.digest ??= sha256(this.data as Buffer));
  }
}

/**
 * Every accepted record, plus the checks tests need: nothing lost, how many duplicates, per-key order.
 * Records match by partition key + SHA-256 of the data, so give each record a distinct payload
 * (e.g. a counter) when duplicates matter.
 *
 * @example
 * ```ts
 * const ledger = new RecordLedger(true);
 * ledger.missing([{ partitionKey: 'k', data: 'x' }]); // [{ partitionKey: 'k', data: 'x' }]
 * ```
 */
export class RecordLedger {
  readonly records: AcceptedRecord[] = [];

  constructor(
    /** Keep each record's bytes (`data`); otherwise only their digest is kept. */
    readonly keepData: boolean,
    /** Log records at all; off, only the counters in `stats()` are kept. */
    readonly enabled = true,
  ) {}

  /** Logs one accepted Kinesis record: a KPL aggregate as the user records inside it. */
  add(written: WrittenRecord): void {
    if (!this.enabled) return;
    const { data, partitionKey, explicitHashKey, sequenceNumber } = written;
    const users = deaggregate(data);
    if (users === undefined) {
      this.records.push(new LoggedRecord({ ...written, ...this.bytes(data) }));
      return;
    }
    const aggregate: AggregateRecord = {
      partitionKey,
      explicitHashKey,
      data: this.keepData ? data : undefined,
      sequenceNumber,
      count: users.length,
    };
    users.forEach((user, subSequenceNumber) =>
      this.records.push(
        new LoggedRecord({
          ...written,
          partitionKey: user.partitionKey,
          explicitHashKey: user.explicitHashKey,
          ...this.bytes(user.data),
          subSequenceNumber,
          aggregate,
        }),
      ),
    );
  }

  /** The bytes, or only their digest without `keepData`. */
  private bytes(data: Buffer): { data: Buffer | undefined; digest: string | undefined; size: number } {
    return this.keepData
      ? { data, digest: undefined, size: data.length }
      : { data: undefined, digest: sha256(data), size: data.length };
  }

  clear(): void {
    this.records.length = 0;
  }

  /** The expected records that never landed (as a multiset: sending one twice expects two copies). */
  missing(expected: Iterable<ExpectedRecord>, streamName?: string): ExpectedRecord[] {
    const landed = this.countCopies(streamName);
    const missing: ExpectedRecord[] = [];
    for (const record of expected) {
      const id = identity(record.partitionKey, sha256(record.data));
      const copies = landed.get(id) ?? 0;
      if (copies === 0) missing.push(record);
      else landed.set(id, copies - 1);
    }
    return missing;
  }

  /**
   * Records that landed more than once. `count` is the number of surplus copies. With `expected`, a record
   * the producer itself sent n times is a duplicate only beyond n copies.
   */
  duplicates(
    expected?: Iterable<ExpectedRecord>,
    streamName?: string,
  ): { count: number; groups: DuplicateGroup[] } {
    const landed = this.countCopies(streamName);
    const allowed = new Map<string, number>();
    if (expected !== undefined) {
      for (const record of expected) {
        const id = identity(record.partitionKey, sha256(record.data));
        allowed.set(id, (allowed.get(id) ?? 0) + 1);
      }
    }
    let count = 0;
    const groups: DuplicateGroup[] = [];
    for (const [id, copies] of landed) {
      const surplus = copies - Math.max(1, allowed.get(id) ?? 1);
      if (surplus <= 0) continue;
      count += surplus;
      const split = id.lastIndexOf('\u0000');
      groups.push({ partitionKey: id.slice(0, split), dataSha256: id.slice(split + 1), copies });
    }
    return { count, groups };
  }

  /**
   * Checks that, for every partition key, records landed in the order the producer sent them
   * (`sent`, in send order). Records not in `sent` are ignored.
   */
  orderViolations(sent: Iterable<ExpectedRecord>, options: OrderCheckOptions = {}): OrderViolation[] {
    const position = new Map<string, number>();
    const perKey = new Map<string, number>();
    for (const record of sent) {
      const next = perKey.get(record.partitionKey) ?? 0;
      perKey.set(record.partitionKey, next + 1);
      const id = identity(record.partitionKey, sha256(record.data));
      if (!position.has(id)) position.set(id, next);
    }
    const highest = new Map<string, number>();
    const seen = new Set<string>();
    const violations: OrderViolation[] = [];
    for (const record of this.records) {
      if (options.streamName !== undefined && record.streamName !== options.streamName) continue;
      const id = identity(record.partitionKey, record.dataSha256);
      const sentIndex = position.get(id);
      if (sentIndex === undefined) continue;
      if (!options.strict) {
        if (seen.has(id)) continue;
        seen.add(id);
      }
      const before = highest.get(record.partitionKey) ?? -1;
      if (sentIndex < before) {
        violations.push({
          partitionKey: record.partitionKey,
          sequenceNumber: record.sequenceNumber,
          sentIndex,
          afterSentIndex: before,
        });
      } else {
        highest.set(record.partitionKey, sentIndex);
      }
    }
    return violations;
  }

  private countCopies(streamName: string | undefined): Map<string, number> {
    const copies = new Map<string, number>();
    for (const record of this.records) {
      if (streamName !== undefined && record.streamName !== streamName) continue;
      const id = identity(record.partitionKey, record.dataSha256);
      copies.set(id, (copies.get(id) ?? 0) + 1);
    }
    return copies;
  }
}
