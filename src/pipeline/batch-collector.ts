import type { SchedulerLike, Subscription } from 'rxjs';
import type { Outgoing } from './aggregation.js';
import { Fifo } from './fifo.js';

/** When a request is full. */
export interface BatchLimits {
  maxRecords: number;
  /** Data + partition-key bytes. */
  maxBytes: number;
  /** How long the oldest collected record waits for the request to fill. */
  lingerMs: number;
}

/**
 * One admitted chunk of one shard's lane, taken from the front. A unit taken is cleared from it: with
 * `Infinity` limits a run is a whole lane (25,000 records in bench 4), and kept there, records already sent
 * and final would stay reachable until the run's last one was taken.
 */
interface Run<T> {
  readonly units: (Outgoing<T> | undefined)[];
  pos: number;
  /** When it was added (scheduler time), for `lingerMs`. */
  readonly at: number;
  /** Its place among every run ever added, for flush(). */
  readonly index: number;
}

/** A request being taken. */
interface Request<T> {
  readonly units: Outgoing<T>[];
  bytes: number;
  /** The next unit would pass `maxRecords` or `maxBytes`. */
  full: boolean;
}

/**
 * Rounds of the acceptance-order window (see take()) before a request is topped up lane by lane: each round
 * costs a pass over the lanes and takes at least one record, so this bounds a request's cost with many
 * shards and sparse sequence numbers (records of an old throttled shard among fresh ones).
 */
const WINDOW_ROUNDS = 8;

/**
 * Collects admitted Kinesis records (user records, or aggregates of them) and makes PutRecords requests of
 * them when the sender has room: `take()` returns a request once 500 records or 5 MiB are there, or once the
 * oldest has waited `lingerMs` (at once after `flush()`), and `onReady` tells the sender to ask.
 *
 * A request is made when it can be sent, not when its records arrive, so it takes the oldest records across
 * every shard, in acceptance order, as a hand-written loop over the source does. A shard's lane admits
 * chunks of up to a bucket of records, and filling requests chunk by chunk made every request one shard's
 * records: every eighth record of the source with eight shards. The SDK then serialised them 0.8 µs a record
 * slower (2.59 against 1.78 µs, 200,000 records against a client answering at once, median of 7), as their
 * objects lay spread over eight times the memory; taken oldest first and sent in acceptance order, its
 * base64 step costs what it costs the loop (270 against 470 ns a record in the emulator run). Within a
 * request, each shard's records keep their lane's order.
 *
 * @example
 * ```ts
 * const collector = new BatchCollector({ maxRecords: 500, maxBytes: 5 << 20, lingerMs: 100 },
 *   asyncScheduler, () => sender.wake());
 * collector.add(chunk, bytes); // one lane's admitted records and their bytes
 * const request = collector.take(); // undefined until full, lingered or flushed
 * ```
 */
export class BatchCollector<T> {
  /** Admitted runs per shard, oldest first; a lane with none is removed. */
  private readonly lanes = new Map<string, Fifo<Run<T>>>();
  private count = 0;
  private bytes = 0;
  private runs = 0;
  /** Runs with an index below it were collected before the last flush(): they go without lingering. */
  private flushedBelow = 0;
  private linger: Subscription | undefined;
  private closed = false;
  /** take()'s window: a record at its sequence number's offset from the oldest, empty between rounds. */
  private readonly window: (Outgoing<T> | undefined)[];

  constructor(
    private readonly limits: BatchLimits,
    private readonly scheduler: SchedulerLike,
    /** A request can be taken now (full, lingered or flushed): the sender should ask if it has room. */
    private readonly onReady: () => void,
  ) {
    // Sized once (validated options allow at most 500); an unbounded limit (stage specs) lets it grow.
    const size = Number.isFinite(limits.maxRecords) ? limits.maxRecords : 0;
    this.window = new Array<Outgoing<T> | undefined>(size).fill(undefined);
  }

  /** Records collected and not yet taken into a request. */
  get size(): number {
    return this.count;
  }

  /** One lane's admitted records, in its order (every unit of one chunk goes to one shard). */
  add(units: Outgoing<T>[], bytes: number): void {
    this.addRuns([units], bytes);
  }

  /**
   * One lane's admitted records as consecutive arrays, in its order: each array is a run, none copied. They
   * are one shard's, admitted at one time: its lane is looked up, and the time read, once.
   */
  addRuns(chunk: Outgoing<T>[][], bytes: number): void {
    if (this.closed) return;
    const at = this.scheduler.now();
    let lane: Fifo<Run<T>> | undefined;
    let added = 0;
    for (const units of chunk) {
      if (units.length === 0) continue;
      lane ??= this.laneOf(units[0].shardId);
      lane.push({ units, pos: 0, at, index: this.runs++ });
      added += units.length;
    }
    if (added === 0) return;
    this.count += added;
    this.bytes += bytes;
    this.onReady();
  }

  /**
   * The next request, or undefined while what is collected fits one request and may still fill (a linger
   * then wakes the sender). The request takes records in acceptance order, oldest first: each round takes,
   * from every lane's front, the records below the oldest one's sequence number plus the room left — never
   * more than the room, as sequence numbers are unique — and places each at its sequence number's offset,
   * so they are sent in acceptance order without a sort. After {@link WINDOW_ROUNDS} rounds the request is
   * topped up lane by lane.
   */
  take(): Outgoing<T>[] | undefined {
    if (this.count === 0) return undefined;
    const { maxRecords, maxBytes } = this.limits;
    if (this.count < maxRecords && this.bytes <= maxBytes && this.limits.lingerMs > 0) {
      const oldest = this.oldestRun();
      if (!this.due(oldest)) {
        this.arm(oldest);
        return undefined;
      }
    }
    const request: Request<T> = { units: [], bytes: 0, full: false };
    // Each round takes at least the oldest record; one that takes none (nothing left) ends the request.
    for (let round = 0, before = -1; !request.full && request.units.length > before; round++) {
      before = request.units.length;
      if (before === maxRecords || before === this.count) break;
      // The last round has no window: every unit counts as older than the fronts, so it goes as it fits.
      this.takeRound(request, round < WINDOW_ROUNDS ? this.oldestSeq() : Infinity);
    }
    this.count -= request.units.length;
    this.bytes -= request.bytes;
    if (this.count === 0) this.stopLinger();
    return request.units.length > 0 ? request.units : undefined; // never an empty PutRecords
  }

  /** One round of take(): the records below `first` plus the room, in acceptance order. */
  private takeRound(request: Request<T>, first: number): void {
    const room = this.limits.maxRecords - request.units.length;
    const window = this.window;
    let placed = 0;
    for (const [shardId, lane] of this.lanes) {
      for (let run = lane.peek(); run; run = lane.peek()) {
        const { units } = run;
        let pos = run.pos;
        // Indexed, not for-of: these loops run per record, and for-of allocated an iterator result for each
        // (a heap allocation profile attributed 40 B a record to it in the collector, 120 B in the pipeline).
        for (; pos < units.length; pos++) {
          const unit = units[pos]!;
          const offset = unit.seq - first;
          if (!(offset < room)) break; // past the window: the next lane
          if (offset < 0) {
            // Older than every lane's front (a lane is not always in acceptance order: a record held for
            // its key's order, or for a shard map, is routed late), or the last round: it goes now.
            if (!this.fits(request, unit, placed)) break;
            request.units.push(unit);
            units[pos] = undefined;
            continue;
          }
          // Live records' sequence numbers are unique; should two ever meet, the second waits a round.
          if (window[offset] !== undefined || !this.fits(request, unit, placed)) break;
          window[offset] = unit;
          units[pos] = undefined;
          placed++;
        }
        run.pos = pos;
        if (pos < units.length) break; // past the window, or the request is full: the next lane
        lane.shift();
      }
      if (lane.length === 0) this.lanes.delete(shardId);
      if (request.full) break;
    }
    for (let i = 0; i < room && placed > 0; i++) {
      const unit = window[i];
      if (unit === undefined) continue;
      request.units.push(unit);
      window[i] = undefined;
      placed--;
    }
  }

  /** Adds the unit's bytes if it fits beside the `pending` units not yet in the request; else marks it full. */
  private fits(request: Request<T>, unit: Outgoing<T>, pending: number): boolean {
    const count = request.units.length + pending;
    if (
      count >= this.limits.maxRecords ||
      (count > 0 && request.bytes + unit.record.bytes > this.limits.maxBytes)
    ) {
      request.full = true;
      return false;
    }
    request.bytes += unit.record.bytes;
    return true;
  }

  /** What has been collected goes without lingering (records added later linger as usual). */
  flush(): void {
    this.flushedBelow = this.runs;
    if (this.count > 0) this.onReady();
  }

  /** Drops what has been collected without sending it (a fatal error reports the producer's live records). */
  drain(): void {
    this.stopLinger();
    this.lanes.clear();
    this.count = 0;
    this.bytes = 0;
  }

  close(): void {
    this.closed = true;
    this.stopLinger();
  }

  /** The shard's lane of runs, made when it has none. */
  private laneOf(shardId: string): Fifo<Run<T>> {
    let lane = this.lanes.get(shardId);
    if (!lane) this.lanes.set(shardId, (lane = new Fifo()));
    return lane;
  }

  /** The oldest run still collected: the front run of some lane. */
  private oldestRun(): Run<T> {
    let oldest: Run<T> | undefined;
    for (const lane of this.lanes.values()) {
      const run = lane.peek()!;
      if (!oldest || run.index < oldest.index) oldest = run;
    }
    return oldest!;
  }

  private oldestSeq(): number {
    let min = Infinity;
    for (const lane of this.lanes.values()) {
      const run = lane.peek()!;
      const seq = run.units[run.pos]!.seq;
      if (seq < min) min = seq;
    }
    return min;
  }

  /** The oldest collected record (in `oldest`, the oldest run) was flushed, or has waited `lingerMs`. */
  private due(oldest: Run<T>): boolean {
    return oldest.index < this.flushedBelow || this.scheduler.now() >= oldest.at + this.limits.lingerMs;
  }

  /** Wakes the sender when the oldest collected record (in `oldest`, the oldest run) has lingered long enough. */
  private arm(oldest: Run<T>): void {
    if (this.linger || this.closed) return;
    const ms = Math.max(0, oldest.at + this.limits.lingerMs - this.scheduler.now());
    // A synchronous scheduler runs the callback before schedule() returns; then there is no timer to keep.
    let ran = false;
    const linger = this.scheduler.schedule(() => {
      ran = true;
      this.linger = undefined;
      this.onReady();
    }, ms);
    if (!ran) this.linger = linger;
  }

  private stopLinger(): void {
    this.linger?.unsubscribe();
    this.linger = undefined;
  }
}
