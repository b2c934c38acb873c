import type { PendingRecord } from './pending.js';

/**
 * Empty slots past three times the live records plus this many make `delete` compact the slots. Records
 * mostly settle in order, so the empty slots are mostly a prefix; compacting as soon as they outnumbered the
 * live ones copied every live record about once per record settled (44 ms of 1,000 in the operator's
 * profile of 1,600,000 records); this keeps the array within about 4× the live records plus 64 Ki slots.
 */
const COMPACT_SLACK = 65_536;

/**
 * Every record accepted and not yet final, in acceptance order: an array of slots, each record knowing its
 * own. Add and delete are O(1) amortised with no hashing (a Set of 200,000 records spent more time
 * rehashing on delete than the rest of settling); a deleted record's slot is emptied at once, so it holds
 * nothing of the item. An earlier doubly linked list touched both neighbours on every delete: with 200,000
 * records live, those were cache misses on cold objects (the top lines of settling in a CPU profile) and two
 * more fields per record. The slots are compacted once the empty ones are three times the live ones and
 * more, so a record retrying for long while others flow past it keeps the array bounded.
 *
 * @example
 * ```ts
 * const live = new LiveRecords<Item>();
 * live.add(record);
 * live.delete(record); // true; false the second time
 * live.clear(); // the items still live, oldest first (a fatal error's `unsent`)
 * ```
 */
export class LiveRecords<T> {
  /** Acceptance order; empty slots where records became final. `slots[head]` is live unless none is. */
  private slots: (PendingRecord<T> | undefined)[] = [];
  private head = 0;
  size = 0;
  bytes = 0;
  /** Records ever added: the next one's sequence number. */
  added = 0;

  /** The oldest live record's sequence number (`added` when none is live): every record below it is final. */
  get oldest(): number {
    return this.slots[this.head]?.seq ?? this.added;
  }

  add(record: PendingRecord<T>): void {
    record.seq = this.added++;
    record.slot = this.slots.length;
    this.slots.push(record);
    this.size++;
    this.bytes += record.record.bytes;
  }

  /** Removes a live record; false if it was not live (already final). */
  delete(record: PendingRecord<T>): boolean {
    // A record's slot is -1 while it is not live (never added, deleted, or cleared).
    const slot = record.slot;
    if (slot < 0) return false;
    const slots = this.slots;
    slots[slot] = undefined;
    record.slot = -1;
    this.size--;
    this.bytes -= record.record.bytes;
    if (slot === this.head) {
      let head = this.head + 1;
      while (head < slots.length && slots[head] === undefined) head++;
      this.head = head;
    }
    if (slots.length - this.size > 3 * this.size + COMPACT_SLACK) this.compact();
    return true;
  }

  /** Removes everything, returning the items in acceptance order. */
  clear(): T[] {
    const items: T[] = [];
    for (let i = this.head; i < this.slots.length; i++) {
      const r = this.slots[i];
      if (r === undefined) continue;
      items.push(r.item);
      r.slot = -1;
    }
    this.slots = [];
    this.head = 0;
    this.size = 0;
    this.bytes = 0;
    return items;
  }

  /** Keeps only the live records' slots, in order: O(live), after at least as many deletes. */
  private compact(): void {
    const live: PendingRecord<T>[] = [];
    for (let i = this.head; i < this.slots.length; i++) {
      const r = this.slots[i];
      if (r === undefined) continue;
      r.slot = live.length;
      live.push(r);
    }
    this.slots = live;
    this.head = 0;
  }
}
