import type { SchedulerLike } from 'rxjs';
import { InvalidRecordError, type KinesisRecordInput } from '../kinesis/records.js';
import type { MetricsRecorder } from '../observe/recorder.js';
import { LiveRecords } from './live-records.js';
import { admitItem, type PendingRecord } from './pending.js';

/** The admission's settings, named as in the pipeline's options (its resolved options fit). */
export interface AdmissionOptions<T> {
  maxBufferedRecords: number;
  maxBufferedBytes: number;
  maxRecordBytes: number;
  toRecord: (item: T) => KinesisRecordInput;
  scheduler: SchedulerLike;
  metrics: MetricsRecorder | undefined;
}

/**
 * The producer's buffer and its back-pressure: validates each item into a pending record, keeps every
 * record accepted and not yet final (in {@link LiveRecords}), refuses one that would overrun
 * `maxBufferedRecords`/`maxBufferedBytes`, and wakes the `put()` calls waiting for room. Room is made only
 * by records becoming final, so only `settle` wakes the waiters.
 *
 * @example
 * ```ts
 * const toRecord = (i: Item) => ({ PartitionKey: i.key, Data: i.data });
 * const admission = new Admission<Item>(resolveOptions({ client, streamName: 'sensors', toRecord }), 'sensors');
 * const outcome = admission.offer(item, true);
 * if (outcome === 'full') await admission.room();
 * ```
 */
export class Admission<T> {
  readonly live = new LiveRecords<T>();
  private detach: (() => void) | undefined;
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** `flush()`es waiting, each for every record below its mark (a `LiveRecords` sequence) to be final. */
  private flushes: { mark: number; resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(
    private readonly options: AdmissionOptions<T>,
    /** The stream's name (or ARN) for metrics. */
    private readonly stream: string,
  ) {}

  /**
   * Validates `item` and takes it: the pending record, `'full'` (nothing taken: the bounds would be
   * overrun, checked only when `bounded`) or the `InvalidRecordError` (nothing taken).
   */
  offer(item: T, bounded: boolean): PendingRecord<T> | 'full' | InvalidRecordError<T> {
    const { metrics, scheduler } = this.options;
    const pending = admitItem(item, this.options, metrics ? scheduler.now() : 0);
    if (pending instanceof InvalidRecordError) return pending;
    if (bounded && this.full(pending.record.bytes)) return 'full';
    this.live.add(pending);
    metrics?.received(this.stream, 1);
    return pending;
  }

  /** Resolves when a record became final and there is room again; rejects when the producer stops. */
  room(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Flushes are waiting (requests then go out at once rather than linger). */
  get flushing(): boolean {
    return this.flushes.length > 0;
  }

  /**
   * Resolves once every record taken so far is final: once the oldest live record's sequence reaches the
   * count taken now. Later records do not hold it up, so a producer fed without pause still sees it resolve.
   */
  flushed(): Promise<void> {
    const mark = this.live.added;
    if (this.live.oldest >= mark) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.flushes.push({ mark, resolve, reject }));
  }

  /** The record is final: it leaves the buffer (and may end flushes). False if it had already left. */
  settle(record: PendingRecord<T>): boolean {
    if (!this.live.delete(record)) return false;
    // Marks only grow, so the flushes done are a prefix. The oldest live record is looked up only for them:
    // it is a read of a record accepted long ago, for every record settled.
    if (this.flushes.length > 0) {
      const oldest = this.live.oldest;
      while (this.flushes.length > 0 && this.flushes[0].mark <= oldest) this.flushes.shift()!.resolve();
    }
    const metrics = this.options.metrics;
    if (metrics && record.firstSentAt !== undefined)
      metrics.buffered(this.stream, record.shardId, record.firstSentAt - record.acceptedAt);
    if (this.waiters.length > 0 && !this.full(0)) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.resolve();
    }
    return true;
  }

  /** Empties the buffer (the pipeline failed): its items, in acceptance order, counted as failed with `code`. */
  unsent(code: string): T[] {
    const unsent = this.live.clear();
    const metrics = this.options.metrics;
    if (metrics)
      for (let i = 0; i < unsent.length; i++) metrics.userRecordFailed(this.stream, undefined, code);
    return unsent;
  }

  /** Reports the buffer's size to the metrics (if any) until {@link detachMetrics}. */
  attachMetrics(): void {
    const live = this.live;
    this.detach = this.options.metrics?.attach(this.stream, () => ({
      pending: live.size,
      pendingBytes: live.bytes,
    }));
  }

  detachMetrics(): void {
    this.detach?.();
    this.detach = undefined;
  }

  /** Wakes every waiting `put()` whether or not there is room (the producer closes: they are taken). */
  wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
  }

  /** Fails every waiting `put()`, and `flush()` unless `puts` only (the pipeline failed or was destroyed). */
  rejectWaiters(error: unknown, putsOnly = false): void {
    const waiters = putsOnly ? this.waiters : [...this.waiters, ...this.flushes];
    this.waiters = [];
    if (!putsOnly) this.flushes = [];
    for (const w of waiters) w.reject(error);
  }

  /** Whether another record of `bytes` would overrun the bounds (a lone record always fits). */
  private full(bytes: number): boolean {
    const { live, options: o } = this;
    return live.size >= o.maxBufferedRecords || (live.size > 0 && live.bytes + bytes > o.maxBufferedBytes);
  }
}
