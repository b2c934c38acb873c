import type { PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { RecordFailedError } from '../errors.js';
import type { PendingRecord } from './pending.js';

/**
 * Where `KinesisProducer.send()` delivered a record: its shard and sequence number (of the aggregate that
 * carried it, when aggregating), and how many sends it took — what the KPL's `UserRecordResult` holds.
 *
 * @example
 * ```ts
 * const { ShardId, SequenceNumber, attempts }: RecordResult = await producer.send({ id: 1, key: 'k', data: new Uint8Array(8) });
 * ```
 */
export interface RecordResult {
  readonly ShardId: string;
  readonly SequenceNumber: string;
  readonly attempts: number;
}

/**
 * The promises of `send()`: one per record sent that way, settled when the record is final — the KPL's
 * future per `addUserRecord`. Records put with `put()`/`offer()` are never in it, and until the first
 * `send()` there is no map at all: settling a record then costs one undefined check, nothing allocated.
 *
 * @example
 * ```ts
 * const outcomes = new Outcomes<Item>();
 * const result = outcomes.watch(record);
 * outcomes.settle(record, { ShardId: 'shardId-000000000000', SequenceNumber: seq }, '');
 * ```
 */
export class Outcomes<T> {
  private waiting:
    Map<PendingRecord<T>, { resolve: (r: RecordResult) => void; reject: (e: unknown) => void }> | undefined;

  /** A promise of `record`'s outcome. */
  watch(record: PendingRecord<T>): Promise<RecordResult> {
    const waiting = (this.waiting ??= new Map());
    return new Promise((resolve, reject) => waiting.set(record, { resolve, reject }));
  }

  /** `record` is final: delivered where `result` has a sequence number, else failed with `code`. */
  settle(record: PendingRecord<T>, result: PutRecordsResultEntry | undefined, code: string): void {
    const waiting = this.waiting;
    if (waiting === undefined || waiting.size === 0) return;
    const promise = waiting.get(record);
    if (promise === undefined) return;
    waiting.delete(record);
    if (result?.SequenceNumber !== undefined) {
      promise.resolve({
        ShardId: result.ShardId ?? record.shardId,
        SequenceNumber: result.SequenceNumber,
        attempts: record.attempts,
      });
    } else {
      promise.reject(new RecordFailedError(code, record.attempts, record.shardId, record.item));
    }
  }

  /** Every outcome still awaited fails with `error` (the pipeline failed, or was destroyed). */
  rejectAll(error: unknown): void {
    const waiting = this.waiting;
    if (waiting === undefined) return;
    this.waiting = undefined;
    for (const promise of waiting.values()) promise.reject(error);
  }
}
