import { mkdir } from 'node:fs/promises';
import { AckLog } from './ack-log.js';
import { SpoolError, SpoolFullError } from './errors.js';
import { measureRecord, type SpoolEntry, type SpoolRecord } from './format.js';
import { InFlight } from './in-flight.js';
import { acquireLock } from './lock.js';
import { Layout } from './layout.js';
import { SegmentReader } from './reader.js';
import { complete, recover, type Segment, type SpoolCorruption } from './recover.js';
import { resolveSpoolOptions, type SpoolDefaults, type SpoolOptions, type SpoolStats } from './options.js';
import { SegmentWriter } from './writer.js';
import { Fifo } from '../pipeline/fifo.js';

interface Waiting {
  readonly records: readonly SpoolRecord[];
  readonly sizes: readonly number[];
  readonly resolve: (ids: number[]) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A durable on-disk spool of Kinesis records: a log of segment files with CRC-checked frames, an ack file
 * per segment, and one read cursor. `append` resolves once records are durable (per `fsync`); `read`
 * streams unsent entries oldest first — what an earlier process left comes first; `ack` marks entries
 * final, and a segment is deleted once all its entries are. Memory holds bookkeeping per segment, the
 * read window, and the ids read but not yet acked; the records live on disk.
 *
 * @example
 * ```ts
 * const spool = await Spool.open({ directory: '/var/spool/sensors' });
 * await spool.append([{ PartitionKey: 'device-7', Data: Buffer.from('{"t":21.5}') }]);
 * const entries = await spool.read(500);
 * // ...deliver them, then:
 * await spool.ack(entries.map((e) => e.id));
 * await spool.close();
 * ```
 */
export class Spool {
  private readonly layout: Layout;
  private readonly waiting = new Fifo<Waiting>();
  private readonly inFlight = new InFlight();
  private readonly writer: SegmentWriter;
  private readonly reader: SegmentReader;
  private readonly acks: AckLog;
  private reading: Promise<unknown> = Promise.resolve();
  private readonly wakers: (() => void)[] = [];
  private readonly timer: NodeJS.Timeout | undefined;
  private failure: SpoolError | undefined;
  private closing: Promise<void> | undefined;
  private readonly counts = {
    appendedEntries: 0,
    ackedEntries: 0,
    droppedEntries: 0,
    droppedSegments: 0,
    rejectedAppends: 0,
    corruptions: 0,
    lostEntries: 0,
  };

  /** Entries an earlier process left unacknowledged, found at open; `read` yields them first. */
  readonly recoveredEntries: number;
  /** The id this process's first append gets: entries below it were left by an earlier process. */
  readonly firstAppendId: number;

  private constructor(
    private readonly options: SpoolDefaults,
    private readonly release: () => Promise<void>,
    recovered: Awaited<ReturnType<typeof recover>>,
  ) {
    this.layout = new Layout(recovered.segments, recovered.nextId, options.segmentBytes, (s) =>
      this.delete(s),
    );
    this.recoveredEntries = recovered.entries;
    this.firstAppendId = recovered.nextId;
    this.writer = new SegmentWriter(options.directory, options.fsync, () => this.written());
    this.reader = new SegmentReader(
      options.directory,
      () => this.layout.segments,
      options.readWindowBytes,
      recovered.nextId,
    );
    this.acks = new AckLog(options.directory);
    if (options.fsync === 'interval') {
      this.timer = setInterval(() => {
        this.writer.sync().catch((e: unknown) => this.fail(e));
        this.acks.sync().catch(() => undefined);
      }, options.fsyncIntervalMs);
      // Closing clears it; it must not keep a process alive on its own.
      this.timer.unref();
    }
    for (const corruption of recovered.corruptions) this.corrupted(corruption);
  }

  /**
   * Opens (creating if needed) a spool directory: takes its lock, scans what is there (reporting damage
   * through `onCorruption`), and deletes what is fully acknowledged.
   *
   * @throws SpoolLockedError when a live process holds the directory.
   */
  static async open(options: SpoolOptions): Promise<Spool> {
    const resolved = resolveSpoolOptions(options);
    await mkdir(resolved.directory, { recursive: true });
    const release = await acquireLock(resolved.directory);
    try {
      return new Spool(resolved, release, await recover(resolved.directory));
    } catch (error) {
      await release();
      throw error;
    }
  }

  /**
   * Stores records, giving each the next id. Resolves with their ids once they are durable per `fsync`;
   * appends made meanwhile share the write (group commit). Appends are stored in call order. When the
   * spool is full: `block` waits for acks to free whole segments, `reject` fails with `SpoolFullError`
   * (nothing stored), `drop-oldest` deletes the oldest segments (reported through `onDrop`). The records
   * are encoded once the append is admitted, and up to `readWindowBytes` of them are kept in memory (`read`
   * then hands them over without reading them back from disk): do not change them before they are read.
   */
  append(records: readonly SpoolRecord[]): Promise<number[]> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closing !== undefined) return Promise.reject(closedError());
    const sizes = new Array<number>(records.length);
    for (let index = 0; index < records.length; index++) {
      const size = measureRecord(records[index]);
      if (typeof size === 'string')
        return Promise.reject(new SpoolError('INVALID_RECORD', `record ${index}: ${size}`));
      sizes[index] = size;
    }
    if (records.length === 0) return Promise.resolve([]);
    const alone = this.layout.needed(sizes, true);
    if (alone > this.options.maxBytes)
      return Promise.reject(
        new SpoolError(
          'APPEND_TOO_LARGE',
          `append needs ${alone} bytes on disk, more than maxBytes ${this.options.maxBytes}`,
        ),
      );
    return new Promise((resolve, reject) => {
      this.waiting.push({ records, sizes, resolve, reject });
      this.admitWaiting();
    });
  }

  /**
   * The next unread entries, oldest first, at most `maxEntries` and about `maxBytes` of data (always at
   * least one entry when any is there); empty when none is durable yet (see `whenReadable`). Every entry
   * read stays unacknowledged until `ack`: after a crash it is read again.
   */
  read(maxEntries = 500, maxBytes = 5 * 1024 * 1024): Promise<SpoolEntry[]> {
    const read = this.reading.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      if (this.closing !== undefined) throw closedError();
      const { entries, segments } = await this.reader.read(maxEntries, maxBytes);
      for (let i = 0; i < entries.length; i++) this.inFlight.add(segments[i], entries[i].id);
      return entries;
    });
    this.reading = read.catch((e: unknown) => {
      if (!(e instanceof SpoolError && e.code === 'SPOOL_CLOSED')) this.fail(e);
    });
    return read;
  }

  /** Resolves when `read` may find entries (or the spool closes). */
  whenReadable(): Promise<void> {
    if (this.reader.behind || this.closing !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.wakers.push(resolve));
  }

  /**
   * Marks read entries final (delivered, or finally failed and reported). Unknown ids and ids already
   * acked are ignored. Segments whose entries are all acked are deleted. Resolves once the acks are
   * written (page cache; fsynced on close and by 'interval'): a crash after that never resends them.
   */
  ack(ids: Iterable<number>): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(closedError());
    const emptied = new Set<Segment>();
    for (const id of ids) {
      const segment = this.inFlight.take(id);
      if (segment === undefined || segment.deleted) continue;
      segment.pending--;
      this.counts.ackedEntries++;
      this.acks.add(segment, id);
      if (segment.pending === 0 && segment.sealed) emptied.add(segment);
    }
    for (const segment of emptied) this.delete(segment);
    return this.acks.flush().catch((e: unknown) => {
      throw ioError(e);
    });
  }

  /** Counters and sizes, for metrics. */
  stats(): SpoolStats {
    let unackedEntries = 0;
    for (const segment of this.layout.segments) unackedEntries += segment.pending;
    return {
      ...this.counts,
      usedBytes: this.layout.usedBytes,
      maxBytes: this.options.maxBytes,
      segments: this.layout.segments.length,
      unackedEntries,
      inFlightEntries: this.inFlight.size,
      waitingAppends: this.waiting.length,
      recoveredEntries: this.recoveredEntries,
      syncs: this.writer.syncs,
      readFromMemory: this.reader.fromMemory,
      readFromDisk: this.reader.fromDisk,
    };
  }

  /**
   * Writes and syncs what was appended (appends still waiting for space fail with `SPOOL_CLOSED`), closes
   * every file and releases the lock. Unacknowledged entries stay for the next process.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (let w = this.waiting.shift(); w !== undefined; w = this.waiting.shift()) w.reject(closedError());
      clearInterval(this.timer);
      this.wake();
      try {
        await this.writer.close();
        await this.reading;
        await this.reader.close();
        this.reader.tail.clear();
        await this.acks.close(this.options.fsync !== 'never');
      } finally {
        await this.release();
      }
    })();
    return this.closing;
  }

  private admitWaiting(): void {
    for (let next = this.waiting.peek(); next !== undefined; next = this.waiting.peek()) {
      if (!this.admit(next)) return;
      this.waiting.shift();
    }
  }

  /** Stores an append if it fits (or is rejected); false: it waits for space. */
  private admit(append: Waiting): boolean {
    const { maxBytes, whenFull } = this.options;
    for (;;) {
      const needed = this.layout.needed(append.sizes);
      if (this.layout.usedBytes + needed <= maxBytes) {
        this.place(append);
        return true;
      }
      if (whenFull === 'reject') {
        this.counts.rejectedAppends++;
        append.reject(new SpoolFullError(maxBytes, this.layout.usedBytes, needed));
        return true;
      }
      const oldest = this.layout.segments[0];
      if (whenFull === 'block') {
        // Only sealed segments are ever deleted: seal the active one when waiting for the others cannot
        // make room, or a spool whose data all sits in the active segment would wait forever.
        const active = this.layout.active;
        if (active === undefined || active.bytes + needed <= maxBytes) return false;
        this.layout.seal(active);
        continue;
      }
      if (oldest === undefined) return false;
      if (oldest === this.layout.active) {
        this.layout.seal(oldest);
        continue;
      }
      // drop-oldest: the oldest segment goes once its writes have landed (a drop never races a write).
      if (!complete(oldest)) return false;
      this.drop(oldest);
    }
  }

  private place(append: Waiting): void {
    const tail = this.reader.tail;
    let placed;
    try {
      placed = this.layout.place(append.records, append.sizes, (segment, offset, size, id, record) =>
        tail.placed(segment, offset, size, id, record),
      );
    } catch (error) {
      // A record changed between append() and now (the sizes are off): the layout cannot be trusted.
      append.reject(this.fail(error));
      return;
    }
    const { ids, jobs } = placed;
    this.counts.appendedEntries += ids.length;
    this.writer.enqueue({
      jobs,
      done: () => append.resolve(ids),
      fail: (error) => append.reject(this.fail(error)),
    });
  }

  private drop(segment: Segment): void {
    this.counts.droppedEntries += segment.pending;
    this.counts.droppedSegments++;
    const event = {
      file: segment.name,
      firstId: segment.firstId,
      lastId: segment.lastId,
      entries: segment.pending,
    };
    this.delete(segment);
    this.options.onDrop?.(event);
  }

  private delete(segment: Segment): void {
    if (segment.deleted) return;
    segment.deleted = true;
    this.layout.remove(segment);
    this.acks.remove(segment).catch((e: unknown) => this.fail(e));
    queueMicrotask(() => this.admitWaiting());
  }

  /** After each group commit: new entries are readable, and drop-oldest may have a segment to drop. */
  private written(): void {
    this.wake();
    this.admitWaiting();
  }

  private wake(): void {
    for (const wake of this.wakers.splice(0)) wake();
  }

  private corrupted(corruption: SpoolCorruption): void {
    this.counts.corruptions++;
    this.counts.lostEntries += corruption.lostEntries ?? 0;
    this.options.onCorruption?.(corruption);
  }

  /** Stops the spool after an I/O failure: every append waiting or to come fails with it. */
  private fail(error: unknown): SpoolError {
    this.failure ??= ioError(error);
    for (let w = this.waiting.shift(); w !== undefined; w = this.waiting.shift()) w.reject(this.failure);
    this.wake();
    return this.failure;
  }
}

function ioError(error: unknown): SpoolError {
  if (error instanceof SpoolError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'unknown';
  return new SpoolError('SPOOL_IO', `spool I/O failed (${code})`, { cause: error });
}

function closedError(): SpoolError {
  return new SpoolError('SPOOL_CLOSED', 'the spool is closed');
}
