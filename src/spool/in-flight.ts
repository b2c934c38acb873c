import type { Segment } from './recover.js';

/** One segment's entries in flight: a bit per id from `base` (the first id read from it). */
interface Reading {
  readonly segment: Segment;
  readonly base: number;
  bits: Uint32Array;
  count: number;
}

/**
 * The entries read and not yet acknowledged, so that an ack counts once and finds its segment: a bitmap
 * per segment being read, in id order. It replaces a Map from id to segment, whose set, get and delete per
 * record were the spool's largest cost after encoding (bench scenario 13, `--cpu-prof`: `ack` 208 ms and
 * `read` 98 ms of an 8.6 s run). Reads go in id order, so the segments form a short list, and one lookup
 * per ack is a range check on the segment the previous ack hit.
 *
 * Memory: a bit per id between a segment's first read entry and its last, while any of them is in flight.
 *
 * @example
 * ```ts
 * const inFlight = new InFlight();
 * inFlight.add(segment, 7);
 * inFlight.take(7); // segment
 * inFlight.take(7); // undefined: acknowledged already
 * ```
 */
export class InFlight {
  private readonly reading: Reading[] = [];
  private last: Reading | undefined;
  /** Entries in flight. */
  size = 0;

  /** Entry `id` of `segment` was read. */
  add(segment: Segment, id: number): void {
    let r = this.last;
    if (r?.segment !== segment) {
      r = this.reading.at(-1);
      if (r?.segment !== segment) r = this.start(segment, id);
      this.last = r;
    }
    const index = id - r.base;
    if (index >>> 5 >= r.bits.length) {
      const bits = new Uint32Array(Math.max(2 * r.bits.length, (index >>> 5) + 1));
      bits.set(r.bits);
      r.bits = bits;
    }
    const mask = 1 << (index & 31);
    if ((r.bits[index >>> 5] & mask) !== 0) return;
    r.bits[index >>> 5] |= mask;
    r.count++;
    this.size++;
  }

  /** Forgets `id` if it is in flight and returns its segment; undefined when unknown or acked already. */
  take(id: number): Segment | undefined {
    let r = this.last;
    if (r === undefined || id < r.base || id > r.segment.lastId) {
      r = this.find(id);
      if (r === undefined) return undefined;
      this.last = r;
    }
    const index = id - r.base;
    const word = index >>> 5;
    const mask = 1 << (index & 31);
    if (word >= r.bits.length || (r.bits[word] & mask) === 0) return undefined;
    r.bits[word] &= ~mask;
    r.count--;
    this.size--;
    // No more reads come from a segment the reader has left (or a sealed or deleted one): forget it.
    if (r.count === 0 && (r !== this.reading.at(-1) || r.segment.sealed || r.segment.deleted)) this.remove(r);
    return r.segment;
  }

  private start(segment: Segment, id: number): Reading {
    // The reader moved on: segments before with nothing in flight get no more reads.
    for (let i = this.reading.length - 1; i >= 0; i--)
      if (this.reading[i].count === 0) this.remove(this.reading[i]);
    const r: Reading = { segment, base: id, bits: new Uint32Array(32), count: 0 };
    this.reading.push(r);
    return r;
  }

  private remove(r: Reading): void {
    this.reading.splice(this.reading.indexOf(r), 1);
    if (this.last === r) this.last = undefined;
  }

  /** The reading that holds `id`: the last one starting at or below it, if `id` is in its range. */
  private find(id: number): Reading | undefined {
    let lo = 0;
    let hi = this.reading.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.reading[mid].base <= id) lo = mid + 1;
      else hi = mid - 1;
    }
    const r = this.reading[hi] as Reading | undefined;
    return r !== undefined && id <= r.segment.lastId ? r : undefined;
  }
}
