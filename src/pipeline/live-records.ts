import type { PendingRecord } from './pending.js';

/**
 * Every record accepted and not yet final, in acceptance order, as an intrusive doubly linked list: O(1)
 * add and remove with no hashing (a Set of 200,000 records spent more time rehashing on delete than the
 * rest of settling), and a fatal error can still list every unsent item in order.
 */
export class LiveRecords<T> {
  private head: PendingRecord<T> | undefined;
  private tail: PendingRecord<T> | undefined;
  size = 0;
  bytes = 0;
  /** Records ever added: the next one's sequence number. */
  added = 0;

  /** The oldest live record's sequence number (`added` when none is live): every record below it is final. */
  get oldest(): number {
    return this.head?.seq ?? this.added;
  }

  add(record: PendingRecord<T>): void {
    record.live = true;
    record.seq = this.added++;
    record.prev = this.tail;
    record.next = undefined;
    if (this.tail) this.tail.next = record;
    else this.head = record;
    this.tail = record;
    this.size++;
    this.bytes += record.record.bytes;
  }

  /** Removes a live record; false if it was not live (already final). */
  delete(record: PendingRecord<T>): boolean {
    if (!record.live) return false;
    record.live = false;
    if (record.prev) record.prev.next = record.next;
    else this.head = record.next;
    if (record.next) record.next.prev = record.prev;
    else this.tail = record.prev;
    record.prev = record.next = undefined;
    this.size--;
    this.bytes -= record.record.bytes;
    return true;
  }

  /** Removes everything, returning the items in acceptance order. */
  clear(): T[] {
    const items: T[] = [];
    for (let r = this.head; r; r = r.next) {
      items.push(r.item);
      r.live = false;
    }
    this.head = this.tail = undefined;
    this.size = 0;
    this.bytes = 0;
    return items;
  }
}
