import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { inRuns } from './ack-format.js';
import { SpoolError } from './errors.js';
import { decodeFrame, FRAME_OVERHEAD_BYTES, SEGMENT_HEADER_BYTES, type SpoolEntry } from './format.js';
import { complete, type Segment } from './recover.js';
import { Tail } from './tail.js';

/** Entries read, and the segment each lives in (acks count against it). */
export interface ReadEntries {
  readonly entries: SpoolEntry[];
  readonly segments: Segment[];
}

/**
 * Streams entries from disk in append order through one window of `windowBytes` (memory stays bounded
 * whatever the spool holds): one read cursor over the segments, skipping damage found at open and entries
 * an earlier process acknowledged. It reads only what is durable (`segment.readable`).
 */
export class SegmentReader {
  private segment: Segment | undefined;
  private offset = SEGMENT_HEADER_BYTES;
  private handle: FileHandle | undefined;
  private window = Buffer.alloc(0);
  /** File offset of `window[0]`, and how many bytes of it are valid. */
  private windowAt = 0;
  private windowLength = 0;
  /** Entries just appended, handed over without reading their frames back (see Tail). */
  readonly tail: Tail;
  /** Entries handed over from the tail, and read back from disk. */
  fromMemory = 0;
  fromDisk = 0;

  constructor(
    private readonly directory: string,
    private readonly segments: () => readonly Segment[],
    private readonly windowBytes: number,
    /** Entries below it were appended by an earlier process (`SpoolEntry.replayed`). */
    private readonly firstAppendId: number,
  ) {
    this.tail = new Tail(windowBytes);
  }

  /** Up to `maxEntries` unread entries (at least one if any, even past `maxBytes` of data). */
  async read(maxEntries: number, maxBytes: number): Promise<ReadEntries> {
    const out: SpoolEntry[] = [];
    const segments: Segment[] = [];
    let bytes = 0;
    while (out.length < maxEntries) {
      const segment = this.current();
      if (segment === undefined) break;
      if (this.offset >= segment.readable) {
        if (!complete(segment) || !(await this.advance(segment))) break;
        continue;
      }
      const skip = segment.skips.get(this.offset);
      if (skip !== undefined) {
        this.offset = skip;
        continue;
      }
      const kept = this.tail.at(segment, this.offset);
      let entry: SpoolEntry;
      if (kept !== undefined) {
        entry = kept.entry;
        this.rewind = this.offset;
        this.offset += kept.size;
      } else {
        entry = await this.frameAt(segment);
      }
      // Dropped (drop-oldest) while reading, or acknowledged by an earlier process: not to be read.
      if (segment.deleted || (segment.acked.length > 0 && inRuns(segment.acked, entry.id))) continue;
      // Key and data bytes, from the frame's size (the hash key's digits are ASCII): no UTF-8 count.
      const size = this.offset - this.rewind - FRAME_OVERHEAD_BYTES - (entry.ExplicitHashKey?.length ?? 0);
      if (out.length > 0 && bytes + size > maxBytes) {
        this.offset = this.rewind;
        break;
      }
      bytes += size;
      out.push(entry);
      segments.push(segment);
      if (kept !== undefined) this.fromMemory++;
      else this.fromDisk++;
    }
    if (this.segment !== undefined) this.tail.forget(this.segment, this.offset);
    return { entries: out, segments };
  }

  /** Whether an unread entry may be there now (cheap; `read` decides). */
  get behind(): boolean {
    const segment = this.current();
    if (segment === undefined) return false;
    return this.offset < segment.readable || (complete(segment) && this.segments().at(-1) !== segment);
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }

  /** Where the frame last returned by `frameAt` started. */
  private rewind = SEGMENT_HEADER_BYTES;

  private current(): Segment | undefined {
    const list = this.segments();
    if (this.segment === undefined || this.segment.deleted) {
      const after = this.segment?.firstId ?? -1;
      const next = list.find((s) => s.firstId > after && !s.deleted);
      if (next !== this.segment) this.moveTo(next);
    }
    return this.segment;
  }

  /** Moves past a finished segment; false when it is the last one (more may come). */
  private async advance(segment: Segment): Promise<boolean> {
    const list = this.segments();
    const next = list[list.indexOf(segment) + 1];
    if (next === undefined) return false;
    await this.close();
    this.moveTo(next);
    return true;
  }

  private moveTo(segment: Segment | undefined): void {
    if (this.handle !== undefined) {
      void this.handle.close().catch(() => undefined);
      this.handle = undefined;
    }
    this.segment = segment;
    this.offset = SEGMENT_HEADER_BYTES;
    this.windowLength = 0;
  }

  private async frameAt(segment: Segment): Promise<SpoolEntry> {
    for (let needed = this.windowBytes; ;) {
      const from = this.offset - this.windowAt;
      if (from < 0 || from >= this.windowLength) await this.load(segment, needed);
      const end = Math.min(this.windowLength, segment.readable - this.windowAt);
      const decoded = decodeFrame(this.window, this.offset - this.windowAt, end, this.firstAppendId);
      if (decoded.kind === 'frame') {
        this.rewind = this.offset;
        this.offset = this.windowAt + decoded.next;
        return decoded.entry;
      }
      // Short: the frame runs past the window (reload from it, big enough), unless it runs past what was
      // written — this process wrote these bytes or validated them at open, so that is damage.
      if (decoded.kind === 'short' && this.windowAt + end < segment.readable) {
        needed = Math.max(this.windowBytes, decoded.needed);
        this.windowLength = 0;
        continue;
      }
      throw new SpoolError(
        'SPOOL_IO',
        `segment ${segment.name} read back damaged at offset ${this.offset} after it was verified`,
      );
    }
  }

  private async load(segment: Segment, size: number): Promise<void> {
    this.handle ??= await open(join(this.directory, segment.name), 'r');
    if (this.window.length < size) this.window = Buffer.allocUnsafe(size);
    const length = Math.min(size, segment.readable - this.offset);
    const { bytesRead } = await this.handle.read(this.window, 0, length, this.offset);
    this.windowAt = this.offset;
    this.windowLength = bytesRead;
  }
}
