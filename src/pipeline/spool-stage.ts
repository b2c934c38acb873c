import type { KinesisSinkErrorCode } from '../errors.js';
import { InvalidRecordError, validateRecord, type KinesisRecordInput } from '../kinesis/records.js';
import type { MetricsRecorder } from '../observe/recorder.js';
import { Spool, SpoolError, SpoolFullError, SpoolLockedError } from '../spool/index.js';
import type { SpoolOptions, SpoolRecord } from '../spool/index.js';
import { Fifo } from './fifo.js';
import type { Admission } from './admission.js';
import { invalidItem, type PendingRecord } from './pending.js';
import { describe, newReceipt, type Receipt, type SpooledRecord } from './spooled-record.js';

/** What the stage calls back in the producer: one call per edge, named after what it does there. */
export interface SpoolStageNext<T> {
  /** A record read back from the spool and admitted: on to KeyOrder or the router. */
  route(record: PendingRecord<T>): void;
  /** The pipeline cannot go on. */
  fail(code: KinesisSinkErrorCode, message: string, cause: unknown): void;
  /** Something the end of the pipeline waits for may have finished. */
  changed(): void;
}

/** The pipeline's settings the stage reads. */
export interface SpoolStageOptions<T> {
  toRecord: (item: T) => KinesisRecordInput;
  maxRecordBytes: number;
  maxBufferedRecords: number;
  maxBufferedBytes: number;
  metrics: MetricsRecorder | undefined;
}

/**
 * An item waiting to be appended; it is the record handed to the spool (no copy of the record per item:
 * one object instead of two, and no array of records per append — measured with `--cpu-prof`).
 */
interface Staged<T> extends SpoolRecord {
  readonly item: T;
  readonly bytes: number;
  /** The `put()` waiting for this item to be durable, if any. */
  readonly durable: Receipt | undefined;
}

/** Records per append call: big enough for group commit to pay, small enough never to be APPEND_TOO_LARGE. */
const APPEND_RECORDS = 1000;
const APPEND_BYTES = 4 * 1024 * 1024;
/** A frame's bytes beyond the record's (docs/spool-format.md), with room for its id's and hash key's. */
const FRAME_BYTES = 24 + 255;
/** Appends handed to the spool at once: encoding the next while the previous one fsyncs. */
const APPENDS_IN_FLIGHT = 4;

/**
 * The durable front of the pipeline (`spool` option). Items are validated, staged and appended to the
 * spool in arrival order (group commit: one append per ≤ 1,000 staged records, at most 4 at once); an item
 * counts as accepted once its append resolved (`put()` resolves then). A pump reads the spool oldest first —
 * what an earlier process left, then this process's records — into the in-memory window as it has room
 * (`maxBufferedRecords`/`maxBufferedBytes`), and `final` acks each record once it is delivered or finally
 * failed. Every record thus reaches the pipeline in spool-id order: with `ordering: 'per-key'`, a key's
 * replayed records go before its new ones by construction (KeyOrder keeps the order it is given).
 *
 * Memory: the staging area and the window are each bounded by `maxBufferedRecords`/`maxBufferedBytes`.
 *
 * @example
 * ```ts
 * const o = resolveOptions<Item>({ client, streamName: 'sensors', toRecord: (i) => ({ PartitionKey: i.key, Data: i.data }) });
 * const admission = new Admission<Item>(o, 'sensors');
 * const next = { route: () => {}, fail: () => {}, changed: () => {} };
 * const stage = new SpoolStage<Item>({ directory: '/var/spool/s' }, o, 'sensors', admission, next);
 * const receipt = stage.receipt();
 * if (stage.offer(item, receipt) === 'accepted') await receipt.promise; // durable now
 * ```
 */
export class SpoolStage<T> {
  private spool: Spool | undefined;
  private readonly opened: Promise<Spool | undefined>;
  private readonly staged = new Fifo<Staged<T>>();
  private stagedBytes = 0;
  private appending = 0;
  private readonly rejected: T[] = [];
  private roomWaiters: (() => void)[] = [];
  private acks: number[] = [];
  private stopped = false;
  private failed = false;
  private flushes: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** Whether the last `unsent()` found nothing outside the spool: then a drain deadline may keep it all. */
  keptAll = false;
  /** Disk bytes one append may take: half the spool, so that a group is never refused for its size alone. */
  private readonly appendBytes: number;

  constructor(
    private readonly spoolOptions: SpoolOptions,
    private readonly options: SpoolStageOptions<T>,
    private readonly stream: string,
    /** The in-memory window: the pipeline's buffer, filled from the spool as it has room. */
    private readonly window: Admission<T>,
    private readonly next: SpoolStageNext<T>,
  ) {
    const metrics = options.metrics;
    this.appendBytes = Math.floor((spoolOptions.maxBytes ?? 256 * 1024 * 1024) / 2);
    this.opened = Spool.open({
      ...spoolOptions,
      onCorruption: (c) => {
        metrics?.spool(stream, 'corruptions', 1);
        if (c.lostEntries) metrics?.spool(stream, 'lost', c.lostEntries);
        spoolOptions.onCorruption?.(c);
      },
      onDrop: (d) => {
        metrics?.spool(stream, 'dropped', d.entries);
        spoolOptions.onDrop?.(d);
      },
    }).then(
      (spool) => {
        this.spool = spool;
        if (spool.recoveredEntries > 0) metrics?.spool(stream, 'replayed', spool.recoveredEntries);
        if (this.stopped) return spool.close().then(() => undefined);
        void this.pump(spool);
        this.appendStaged();
        return spool;
      },
      (error: unknown) => {
        const locked = error instanceof SpoolLockedError;
        this.failWith(locked ? 'SPOOL_LOCKED' : 'SPOOL_FAILED', `spool: ${describe(error)}`, error);
        return undefined;
      },
    );
  }

  /**
   * Validates and stages an item without waiting: `'full'` when the staging area is at its bounds (nothing
   * taken), the `InvalidRecordError` (nothing taken), else `'accepted'` — appended soon, in order, and
   * `receipt` (if any) settled then. Once the pipeline failed, items are taken as unsent.
   */
  offer(item: T, receipt?: Receipt): 'accepted' | 'full' | InvalidRecordError<T> {
    let checked;
    try {
      checked = validateRecord(this.options.toRecord(item), this.options);
    } catch (error) {
      return invalidItem(item, error);
    }
    if (this.failed) {
      // Taken as unsent, as the buffer does while the pipeline fails; a waiting put() is done with it.
      this.rejected.push(item);
      receipt?.resolve();
      return 'accepted';
    }
    const { entry, bytes } = checked;
    const o = this.options;
    const n = this.staged.length;
    if (n >= o.maxBufferedRecords || (n > 0 && this.stagedBytes + bytes > o.maxBufferedBytes)) return 'full';
    // One shape whether or not there is a hash key, so the spool's encoder sees one hidden class.
    this.staged.push({
      PartitionKey: entry.PartitionKey,
      ExplicitHashKey: entry.ExplicitHashKey,
      Data: entry.Data,
      item,
      bytes,
      durable: receipt,
    });
    this.stagedBytes += bytes;
    this.appendStaged();
    return 'accepted';
  }

  /** Resolves when staging has room again (or the stage stopped). */
  room(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('the spool stage has stopped'));
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** A record of the window is final (delivered, or finally failed and emitted): ack it. */
  final(record: PendingRecord<T>): void {
    const id = (record.item as SpooledRecord).id;
    if (this.acks.push(id) === 1) queueMicrotask(() => void this.flushAcks());
  }

  /** A durability receipt for `offer`: `put()` resolves with it once the item's append resolved. */
  receipt(): Receipt {
    return newReceipt();
  }

  /**
   * Resolves once `window` (the buffer's own flush) did and everything taken so far has left the spool
   * (appended, read, final): a flush waits for the spool, records put later included. Rejects on failure.
   */
  flushed(window: Promise<void>): Promise<void> {
    return window.then(
      () =>
        new Promise<void>((resolve, reject) => {
          this.flushes.push({ resolve, reject });
          this.changed();
        }),
    );
  }

  /** Called whenever something may have become final: settles the flushes that are done. */
  changed(): void {
    if (this.flushes.length === 0 || !this.drained || this.window.live.size > 0) return;
    for (const f of this.flushes.splice(0)) f.resolve();
  }

  /**
   * The pipeline failed: append nothing more. A staged item whose `put()` waits is told by `error` (that
   * rejection reports it); the others, and what comes now, end in `unsent()`.
   */
  halt(error: unknown): void {
    this.failed = true;
    for (const f of this.flushes.splice(0)) f.reject(error);
    const staged = this.staged.drain();
    this.stagedBytes = 0;
    for (const s of staged) {
      if (s.durable) s.durable.reject(error);
      else this.rejected.push(s.item);
    }
  }

  /** No more items: what is staged is appended, and the pump reads on until the spool is empty. */
  end(): void {
    this.next.changed();
  }

  /** Whether everything taken has left the spool (appended, read and acked); only meaningful once ending. */
  get drained(): boolean {
    if (this.failed) return true;
    const spool = this.spool;
    if (spool === undefined || this.staged.length > 0 || this.appending > 0) return false;
    const { unackedEntries, inFlightEntries } = spool.stats();
    return unackedEntries === inFlightEntries;
  }

  /** Items taken but never appended (staged, or refused by a full spool): unsent when the pipeline fails. */
  unsent(): T[] {
    const items = this.rejected.splice(0);
    for (let s = this.staged.shift(); s !== undefined; s = this.staged.shift()) items.push(s.item);
    this.stagedBytes = 0;
    this.keptAll = items.length === 0;
    return items;
  }

  /** Stops reading and appending, writes the acks made so far and closes the spool: what is left stays. */
  async close(): Promise<void> {
    this.stopped = true;
    for (const wake of this.roomWaiters.splice(0)) wake();
    for (const s of this.staged.drain())
      s.durable?.reject(new SpoolError('SPOOL_CLOSED', 'the spool is closed'));
    this.stagedBytes = 0;
    const spool = await this.opened;
    if (spool === undefined) return;
    await this.flushAcks();
    await spool.close();
  }

  /** Hands staged records to the spool in order, a group per call, at most APPENDS_IN_FLIGHT calls at once. */
  private appendStaged(): void {
    const spool = this.spool;
    if (spool === undefined || this.stopped || this.failed) return;
    while (this.staged.length > 0 && this.appending < APPENDS_IN_FLIGHT) {
      const group: Staged<T>[] = [];
      let bytes = 0;
      let disk = 0; // frames' bytes: a group must never need more than maxBytes (APPEND_TOO_LARGE)
      const most = Math.min(APPEND_BYTES, this.appendBytes);
      for (
        let s = this.staged.peek();
        s !== undefined && group.length < APPEND_RECORDS;
        s = this.staged.peek()
      ) {
        if (group.length > 0 && disk + s.bytes + FRAME_BYTES > most) break;
        group.push(this.staged.shift()!);
        bytes += s.bytes;
        disk += s.bytes + FRAME_BYTES;
      }
      this.stagedBytes -= bytes;
      this.appending++;
      spool.append(group).then(
        () => this.appended(group, undefined),
        (error: unknown) => this.appended(group, error),
      );
    }
    for (const wake of this.roomWaiters.splice(0)) wake();
  }

  private appended(group: Staged<T>[], error: unknown): void {
    this.appending--;
    const metrics = this.options.metrics;
    if (error === undefined) {
      metrics?.spool(this.stream, 'spooled', group.length);
      for (const s of group) s.durable?.resolve();
    } else if (error instanceof SpoolFullError) {
      // whenFull 'reject': a put() is told; items taken without a put() end the pipeline (never silent).
      metrics?.spool(this.stream, 'rejected', group.length);
      for (const s of group) {
        if (s.durable) s.durable.reject(error);
        else this.rejected.push(s.item);
      }
      if (this.rejected.length > 0)
        this.failWith('SPOOL_FULL', `${error.message} (whenFull 'reject')`, error);
    } else {
      for (const s of group) {
        if (s.durable) s.durable.reject(error);
        else this.rejected.push(s.item);
      }
      // Closed under an append waiting for space (destroy): its put()s are told; nothing failed.
      if (!(error instanceof SpoolError && error.code === 'SPOOL_CLOSED' && this.stopped))
        this.failWith('SPOOL_FAILED', `spool: ${describe(error)}`, error);
    }
    this.appendStaged();
    this.next.changed();
  }

  /** Reads the spool into the window as it has room, oldest first, until the stage stops. */
  private async pump(spool: Spool): Promise<void> {
    try {
      while (!this.stopped && !this.failed) {
        const { live } = this.window;
        const records = this.options.maxBufferedRecords - live.size;
        const bytes = this.options.maxBufferedBytes - live.bytes;
        if (records <= 0 || bytes <= 0) {
          await this.window.room();
          continue;
        }
        const entries = await spool.read(Math.min(records, APPEND_RECORDS), bytes);
        if (this.stopped || this.failed) return;
        if (entries.length === 0) {
          this.next.changed();
          await spool.whenReadable();
          continue;
        }
        for (const entry of entries) {
          // Past the bounds if need be: the read was sized to fit (about: at least one entry comes back).
          // The entry is the SpooledRecord emitted (same fields, `replayed` set by the spool).
          const pending = this.window.offer(entry satisfies SpooledRecord as T, false);
          if (pending !== 'full' && !(pending instanceof InvalidRecordError)) {
            this.next.route(pending);
          } else {
            const invalid = pending as InvalidRecordError<T>;
            // Written under larger limits (another maxRecordBytes): it stays in the spool for a producer
            // configured to send it. Never dropped silently.
            this.failWith('SPOOL_RECORD_INVALID', `spool entry ${entry.id}: ${invalid.message}`, invalid);
            return;
          }
        }
      }
    } catch (error) {
      if (this.stopped || this.failed) return;
      this.failWith('SPOOL_FAILED', `spool: ${describe(error)}`, error);
    }
  }

  private flushAcks(): Promise<void> {
    const ids = this.acks;
    if (ids.length === 0 || this.spool === undefined) return Promise.resolve();
    this.acks = [];
    return this.spool.ack(ids).then(
      () => this.next.changed(),
      (error: unknown) => {
        if (!this.stopped) this.failWith('SPOOL_FAILED', `spool ack: ${describe(error)}`, error);
      },
    );
  }

  private failWith(code: KinesisSinkErrorCode, message: string, cause: unknown): void {
    if (this.failed) return;
    this.next.fail(code, message, cause);
  }
}
