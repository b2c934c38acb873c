import type { PendingRecord } from './pending.js';

/**
 * Empty slots past three times the live records plus this many make `delete` compact the slots. Records
 * mostly settle in order, so the empty slots are mostly a prefix; compacting as soon as they outnumbered the
 * live ones copied every live record about once per record settled (44 ms of 1,000 in the operator's
 * profile of 1,600,000 records); this keeps the slots within about 4× the live records plus 64 Ki.
 */
const COMPACT_SLACK = 65_536;

/**
 * Slots per chunk: 8 KiB, so a chunk is allocated in the young generation and filled there, and the chunks
 * before the oldest live record go as it passes them. One array of 200,000 slots lived in the large-object
 * space, where every store of a new record is a remembered-set insert, and grew by copying (see `Fifo`'s
 * chunks for what the two measured together).
 */
const CHUNK_BITS = 10;
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;

/**
 * Every record accepted and not yet final, in acceptance order: slots in chunks, each record knowing its
 * own. Add and delete are O(1) amortised with no hashing (a Set of 200,000 records spent more time
 * rehashing on delete than the rest of settling); a deleted record's slot is emptied at once, so it holds
 * nothing of the item. An earlier doubly linked list touched both neighbours on every delete: with 200,000
 * records live, those were cache misses on cold objects (the top lines of settling in a CPU profile) and two
 * more fields per record. The slots are compacted once the empty ones are three times the live ones and
 * more, so a record retrying for long while others flow past it keeps the slots bounded.
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
  /**
   * Acceptance order, in chunks of {@link CHUNK} slots; empty slots where records became final. Slot `s` is
   * `chunks[(s - first) >> CHUNK_BITS][(s - first) & CHUNK_MASK]`, and the slot `head` is live unless none is.
   */
  private chunks: (PendingRecord<T> | undefined)[][] = [];
  /** The slot number of the first chunk's first slot. */
  private first = 0;
  /** The next slot number to fill. */
  private end = 0;
  private head = 0;
  size = 0;
  bytes = 0;
  /** Records ever added: the next one's sequence number. */
  added = 0;

  /** The oldest live record's sequence number (`added` when none is live): every record below it is final. */
  get oldest(): number {
    return this.head < this.end ? this.slot(this.head)!.seq : this.added;
  }

  /** Slots held, from the first chunk kept to the last filled: what compaction keeps bounded. */
  get span(): number {
    return this.end - this.first;
  }

  add(record: PendingRecord<T>): void {
    record.seq = this.added++;
    this.place(record);
    this.size++;
    this.bytes += record.record.bytes;
  }

  /** Removes a live record; false if it was not live (already final). */
  delete(record: PendingRecord<T>): boolean {
    // A record's slot is -1 while it is not live (never added, deleted, or cleared).
    const slot = record.slot;
    if (slot < 0) return false;
    const i = slot - this.first;
    this.chunks[i >> CHUNK_BITS][i & CHUNK_MASK] = undefined;
    record.slot = -1;
    this.size--;
    this.bytes -= record.record.bytes;
    if (slot === this.head) this.advance();
    if (this.end - this.first - this.size > 3 * this.size + COMPACT_SLACK) this.compact();
    return true;
  }

  /** Removes everything, returning the items in acceptance order. */
  clear(): T[] {
    const items: T[] = [];
    for (let s = this.head; s < this.end; s++) {
      const r = this.slot(s);
      if (r === undefined) continue;
      items.push(r.item);
      r.slot = -1;
    }
    this.reset();
    this.size = 0;
    this.bytes = 0;
    return items;
  }

  /** Files the record in the next slot. */
  private place(record: PendingRecord<T>): void {
    const i = this.end - this.first;
    if ((i & CHUNK_MASK) === 0) this.chunks.push(new Array<PendingRecord<T> | undefined>(CHUNK));
    this.chunks[i >> CHUNK_BITS][i & CHUNK_MASK] = record;
    record.slot = this.end++;
  }

  private slot(s: number): PendingRecord<T> | undefined {
    const i = s - this.first;
    return this.chunks[i >> CHUNK_BITS][i & CHUNK_MASK];
  }

  /** Moves `head` past the empty slots, dropping the chunks wholly before it. */
  private advance(): void {
    let head = this.head + 1;
    while (head < this.end && this.slot(head) === undefined) head++;
    this.head = head;
    while (head - this.first >= CHUNK) {
      this.chunks.shift();
      this.first += CHUNK;
    }
  }

  private reset(): void {
    this.chunks = [];
    this.first = this.end = this.head = 0;
  }

  /** Keeps only the live records' slots, in order: O(live), after at least as many deletes. */
  private compact(): void {
    const live: PendingRecord<T>[] = [];
    for (let s = this.head; s < this.end; s++) {
      const r = this.slot(s);
      if (r !== undefined) live.push(r);
    }
    this.reset();
    for (const r of live) this.place(r);
  }
}
