import type { ReadQuota } from './read-quota.js';
import type { Shard } from './stream-state.js';

/**
 * A Kinesis record as a shard holds it for GetRecords: the record written, not the KPL user records inside.
 *
 * @example
 * ```ts
 * const { sequenceNumber, arrivedAt, partitionKey, data }: StoredRecord = logs.of(shard).records[0];
 * ```
 */
export interface StoredRecord {
  /** Decimal, zero-padded: string order is numeric order. */
  readonly sequenceNumber: string;
  /** Epoch milliseconds, from the emulator's clock. */
  readonly arrivedAt: number;
  readonly partitionKey: string;
  readonly data: Buffer;
}

/**
 * One shard's read side: its records in sequence-number order, and its read quota.
 *
 * @example
 * ```ts
 * const log = logs.of(shard);
 * log.records.length; // records written to the shard so far
 * ```
 */
export interface ShardLog {
  readonly records: StoredRecord[];
  readonly quota: ReadQuota | undefined;
}

/**
 * What the write path hands the read side: every accepted record, per shard. Logs hang off the `Shard`
 * objects (a WeakMap), so a deleted stream's records go with it and a recreated one starts empty. Records
 * are kept only while `enabled` (the emulator's `keepRecords` and `keepData`); the `Buffer`s are the
 * ledger's own, so keeping both costs one small object per record.
 *
 * @example
 * ```ts
 * const logs = new ShardLogs(true, () => new ReadQuota({}, clock()));
 * logs.append(shard, '4900…01', clock(), 'key', Buffer.from('hi'));
 * ```
 */
export class ShardLogs {
  private readonly logs = new WeakMap<Shard, ShardLog>();

  constructor(
    readonly enabled: boolean,
    private readonly makeQuota: () => ReadQuota | undefined,
  ) {}

  of(shard: Shard): ShardLog {
    let log = this.logs.get(shard);
    if (log === undefined) {
      log = { records: [], quota: this.makeQuota() };
      this.logs.set(shard, log);
    }
    return log;
  }

  /** Called by the write path once per accepted record, in sequence-number order. */
  append(shard: Shard, sequenceNumber: string, arrivedAt: number, partitionKey: string, data: Buffer): void {
    if (this.enabled) this.of(shard).records.push({ sequenceNumber, arrivedAt, partitionKey, data });
  }
}
