import { encodeFrame, SEGMENT_HEADER_BYTES, segmentName, type SpoolRecord } from './format.js';
import type { Segment } from './recover.js';
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
   * where each frame goes (its segment and offset), for the reader's memory of the tail.
   */
  place(
    records: readonly SpoolRecord[],
    sizes: readonly number[],
    placed?: (segment: Segment, offset: number, size: number, id: number, record: SpoolRecord) => void,
  ): { ids: number[]; jobs: WriteJob[] } {
    const ids: number[] = [];
    const jobs: WriteJob[] = [];
    records.forEach((record, index) => {
      const size = sizes[index];
      let segment = this.active;
      if (segment === undefined || this.full(segment.bytes, size)) {
        if (segment !== undefined) this.seal(segment);
        segment = this.start();
      }
      const id = this.nextId++;
      placed?.(segment, segment.bytes, size, id, record);
      segment.bytes += size;
      segment.lastId = id;
      segment.pending++;
      this.usedBytes += size;
      const frame = encodeFrame(id, record);
      const job = jobs[jobs.length - 1];
      if (job?.segment === segment) job.frames.push(frame);
      else jobs.push({ segment, frames: [frame] });
      ids.push(id);
    });
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
    const segment: Segment = {
      name: segmentName(this.nextId),
      firstId: this.nextId,
      lastId: this.nextId - 1,
      bytes: SEGMENT_HEADER_BYTES,
      written: 0,
      readable: 0,
      pending: 0,
      sealed: false,
      skips: new Map(),
      acked: [],
      hasAckFile: false,
      recovered: false,
      deleted: false,
    };
    this.usedBytes += SEGMENT_HEADER_BYTES;
    this.segments.push(segment);
    this.active = segment;
    return segment;
  }
}
