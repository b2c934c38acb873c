import type { SpoolEntry, SpoolRecord } from './format.js';
import type { Segment } from './recover.js';
import { Fifo } from '../pipeline/fifo.js';

interface Kept {
  readonly segment: Segment;
  readonly offset: number;
  readonly size: number;
  readonly entry: SpoolEntry;
}

/**
 * Entries just appended, kept in memory until the reader reaches their frames, so that it hands them over
 * instead of reading them back from disk. With an unthrottled sink the read-back (a read syscall, CRC-32,
 * decoding, copying `Data`) was a sixth of a spooled run's CPU, and its garbage more (bench scenario 13,
 * `--cpu-prof`); the reader mostly reads what it was given a moment ago.
 *
 * Nothing else changes: the reader takes a kept entry only when its cursor reaches exactly that frame and
 * the frame is durable (`segment.readable`), so log order and "accepted once durable" hold; the entry is in
 * flight until acked like any other, and after a crash it is read from disk. At most `maxBytes` of frames
 * (`readWindowBytes`, what the reader's disk window holds anyway) are kept: an append arriving when they are
 * taken is not kept, and is read from disk in its turn — the spool's memory stays bounded whatever it holds.
 * A reader that lags (an outage, a full window) thus finds at most `maxBytes` of it in memory.
 */
export class Tail {
  private readonly kept = new Fifo<Kept>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /**
   * A frame was placed at `segment`/`offset`: keep its entry while there is room. The reader takes a kept
   * entry only when it reaches exactly that frame, so a frame not kept (no room) is read from disk in its
   * turn, and the ones kept after it are taken from memory again.
   */
  placed(segment: Segment, offset: number, size: number, id: number, record: SpoolRecord): void {
    if (this.bytes + size > this.maxBytes) return;
    const { PartitionKey, ExplicitHashKey, Data } = record;
    const entry: SpoolEntry =
      ExplicitHashKey === undefined
        ? { id, PartitionKey, Data, replayed: false }
        : { id, PartitionKey, ExplicitHashKey, Data, replayed: false };
    this.kept.push({ segment, offset, size, entry });
    this.bytes += size;
  }

  /** The kept entry whose frame starts at the reader's position, with its frame size; forgets those before it. */
  at(segment: Segment, offset: number): Kept | undefined {
    this.forget(segment, offset);
    const head = this.kept.peek();
    return head?.segment === segment && head.offset === offset ? head : undefined;
  }

  /** Forgets kept entries the reader is past (or whose segment was deleted). */
  forget(segment: Segment, offset: number): void {
    for (let head = this.kept.peek(); head !== undefined; head = this.kept.peek()) {
      const passed =
        head.segment.deleted ||
        head.segment.firstId < segment.firstId ||
        (head.segment === segment && head.offset < offset);
      if (!passed) return;
      this.kept.shift();
      this.bytes -= head.size;
    }
  }

  clear(): void {
    this.kept.drain();
    this.bytes = 0;
  }
}
