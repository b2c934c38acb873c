import { Fifo } from './fifo.js';
import type { PendingRecord } from './pending.js';

/** The key whose order is kept: the ExplicitHashKey when given (it decides the shard), else the partition key. */
function orderKey(record: PendingRecord<unknown>): string {
  const entry = record.record.entry;
  return entry.ExplicitHashKey !== undefined ? `#${entry.ExplicitHashKey}` : entry.PartitionKey;
}

/**
 * Keeps records of one key in source order: at most one record per key is past this gate (queued for its
 * shard, in a request, or waiting to be retried); the next one of that key passes only when it is finally
 * delivered or failed. PutRecords gives no order within a request and a retry would overtake, so this is
 * the only way a failure cannot reorder a key. Records of other keys flow freely.
 *
 * The cost: each key moves at most one record per round trip (linger + request + any backoff).
 *
 * @example
 * ```ts
 * const order = new KeyOrder<Item>((r) => lanes.push(r));
 * order.admit(record); // passes now, or after the key's earlier records
 * order.release(record); // once the record is final: lets the key's next record through
 * ```
 */
export class KeyOrder<T> {
  /** Keys with a record past the gate, and the records of that key waiting behind it (null: none yet). */
  private readonly held = new Map<string, Fifo<PendingRecord<T>> | null>();
  private waitingCount = 0;

  constructor(private readonly pass: (record: PendingRecord<T>) => void) {}

  /** Records held back behind an earlier record of their key. */
  get waiting(): number {
    return this.waitingCount;
  }

  admit(record: PendingRecord<T>): void {
    const key = orderKey(record);
    if (!this.held.has(key)) {
      this.held.set(key, null);
      this.pass(record);
      return;
    }
    let queue = this.held.get(key);
    if (!queue) this.held.set(key, (queue = new Fifo()));
    queue.push(record);
    this.waitingCount++;
  }

  /** The record is final: the next record of its key, if any, goes through. */
  release(record: PendingRecord<T>): void {
    const key = orderKey(record);
    const next = this.held.get(key)?.shift();
    if (next === undefined) {
      this.held.delete(key);
      return;
    }
    this.waitingCount--;
    this.pass(next);
  }

  /** Removes every record held back (for a fatal error's report). */
  drain(): PendingRecord<T>[] {
    const all: PendingRecord<T>[] = [];
    for (const queue of this.held.values()) if (queue) all.push(...queue.drain());
    this.held.clear();
    this.waitingCount = 0;
    return all;
  }
}
