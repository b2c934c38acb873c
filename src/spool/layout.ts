import { encodeFrameAt, SEGMENT_HEADER_BYTES, type SpoolRecord } from './format.js';
import { newSegment, type Segment } from './recover.js';
import type { WriteJob } from './writer.js';

/**
 * Where frames go and what they cost: the segments in id order, the one being filled, the next id, and
 * the bytes all segments take on disk. Deciding placement here, when an append is admitted, makes the
 * accounting exact before any byte is written; the writer only carries it out.
 */
export class Layout {
  /** The segment new frames go to, until it is sealed. */
  active: Segment | undefined;
  usedBytes: number;

  constructor(
    readonly segments: Segment[],
    public nextId: number,
    private readonly segmentBytes: number,
    /** A sealed segment with nothing unacknowledged left: delete it. */
    private readonly emptied: (segment: Segment) => void,
  ) {
    this.usedBytes = segments.reduce((sum, s) => sum + s.bytes, 0);
  }

  /** Bytes frames of these sizes would add, headers of new segments included (`alone`: to an empty spool). */
  needed(sizes: readonly number[], alone = false): number {
    let filled = alone ? undefined : this.active?.bytes;
    let bytes = 0;
    for (const size of sizes) {
      if (filled === undefined || this.full(filled, size)) {
        filled = SEGMENT_HEADER_BYTES;
        bytes += SEGMENT_HEADER_BYTES;
      }
      filled += size;
      bytes += size;
    }
    return bytes;
  }

  /**
   * Gives the records ids and places their frames, rolling segments at `segmentBytes`; `placed` hears
   * where each frame goes (its segment and offset), for the reader's memory of the tail. The frames going
   * to one segment are encoded into one buffer.
   */
  place(
    records: readonly SpoolRecord[],
    sizes: readonly number[],
    placed?: (segment: Segment, offset: number, size: number, id: number, record: SpoolRecord) => void,
  ): { ids: number[]; jobs: WriteJob[] } {
    const firstId = this.nextId;
    const jobs: WriteJob[] = [];
    /** Per job: the index of its first record and its bytes. */
    const spans: number[] = [];
    for (let index = 0; index < records.length; index++) {
      const size = sizes[index];
      let segment = this.active;
      if (segment === undefined || this.full(segment.bytes, size)) {
        if (segment !== undefined) this.seal(segment);
        segment = this.start();
      }
      const id = this.nextId++;
      placed?.(segment, segment.bytes, size, id, records[index]);
      segment.bytes += size;
      segment.lastId = id;
      segment.pending++;
      this.usedBytes += size;
      if (jobs[jobs.length - 1]?.segment === segment) spans[spans.length - 1] += size;
      else {
        jobs.push({ segment, frames: [] });
        spans.push(index, size);
      }
    }
    for (let j = 0; j < jobs.length; j++) {
      const from = spans[2 * j];
      const to = j + 1 < jobs.length ? spans[2 * j + 2] : records.length;
      const buf = Buffer.allocUnsafe(spans[2 * j + 1]);
      for (let index = from, at = 0; index < to; at += sizes[index], index++)
        encodeFrameAt(buf, at, firstId + index, records[index], sizes[index]);
      jobs[j].frames.push(buf);
    }
    const ids = new Array<number>(records.length);
    for (let index = 0; index < ids.length; index++) ids[index] = firstId + index;
    return { ids, jobs };
  }

  /** No more frames go to the segment; deleted at once if nothing in it is unacknowledged. */
  seal(segment: Segment): void {
    segment.sealed = true;
    if (this.active === segment) this.active = undefined;
    if (segment.pending === 0) this.emptied(segment);
  }

  /** Forgets a deleted segment and its bytes. */
  remove(segment: Segment): void {
    this.segments.splice(this.segments.indexOf(segment), 1);
    this.usedBytes -= segment.bytes;
  }

  /** A segment with frames is full when the next frame would pass `segmentBytes` (a bigger frame gets one alone). */
  private full(filled: number, size: number): boolean {
    return filled + size > this.segmentBytes && filled > SEGMENT_HEADER_BYTES;
  }

  private start(): Segment {
    const segment = newSegment(this.nextId);
    this.usedBytes += SEGMENT_HEADER_BYTES;
    this.segments.push(segment);
    this.active = segment;
    return segment;
  }
}
