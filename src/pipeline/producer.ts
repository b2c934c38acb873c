import { KinesisSinkError, type KinesisSinkErrorCode } from '../errors.js';
import { InvalidRecordError, type KinesisRecordInput } from '../kinesis/records.js';
import { streamFields } from '../kinesis/shard-map.js';
import { ShardLimiters } from '../limits/shard-limiter.js';
import { resolveOptions, type ResolvedOptions, type ToKinesisOptions } from '../options.js';
import { BatchCollector } from './batch-collector.js';
import type { EmissionOf } from './emissions.js';
import { KeyOrder } from './key-order.js';
import { LiveRecords } from './live-records.js';
import { admitItem, type PendingRecord } from './pending.js';
import { Retrier } from './retrier.js';
import { Router } from './router.js';
import { Sender } from './sender.js';
import { ShardLanes } from './shard-lanes.js';
import type { ProducerStats } from './stats.js';

export type { ProducerStats } from './stats.js';

type State = 'open' | 'ending' | 'failing' | 'done' | 'closed';

/**
 * The pipeline behind `toKinesis()`, for callers that push: `put()` resolves once the item is buffered and
 * waits while the buffer is full, so a fast cold source (an async iterable, a file) is fed with bounded
 * memory. `end()` sends everything and resolves when every item is delivered or finally failed.
 *
 * This class only wires the stages and runs the lifecycle (admission and back-pressure, end, failure,
 * teardown); every decision lives in a stage, and each edge is one call named after the next stage:
 *
 * ```text
 *  put/offer ─► admitItem (records.ts: validate) ─► live (LiveRecords: buffer, back-pressure)
 *     └─► order.admit (KeyOrder, `ordering: 'per-key'` only) ─► router.route (Router: shard map)
 *            ─► lanes.push (ShardLanes: per-shard queue ─► limiters.admit ─► packChunk when aggregating)
 *            ─► collector.add (BatchCollector: ≤ 500 records / 5 MiB / lingerMs)
 *            ─► sender.enqueue (Sender: PutRecords, ≤ maxInFlightRequests)
 *            ─► retrier.onResponse / onRequestError (Retrier: classify each entry)
 *                  ├─► limiters.throttled / refund   (feedback: a throttle charges, InternalFailure refunds)
 *                  ├─► emit                          (one emission per response)
 *                  ├─► settle ─► live.delete, order.release (the key's next record)
 *                  ├─► backoff ─► router.route       (retries, after jittered backoff)
 *                  └─► router.holdForRefresh / refresh (misplaced aggregates, stale map)
 *  router refresh ─► lanes.retire (closed shards: records routed again, their limiters dropped)
 * ```
 *
 * @example
 * ```ts
 * const producer = new KinesisProducer({ client, streamName: 'sensors' }, (emission) => log(emission));
 * for await (const line of lines) await producer.put({ PartitionKey: key(line), Data: line });
 * await producer.end();
 * ```
 */
export class KinesisProducer<T = KinesisRecordInput, A extends boolean = false> {
  private readonly options: ResolvedOptions<T>;
  private readonly live = new LiveRecords<T>();
  private state: State = 'open';
  private failure: { code: KinesisSinkErrorCode; message: string; cause: unknown } | undefined;
  private spaceWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private readonly finished: Promise<void>;
  private settleFinished!: { resolve: () => void; reject: (e: unknown) => void };
  /** Metrics go under the stream's name or ARN. */
  private readonly streamLabel: string;
  private detachMetrics: (() => void) | undefined;

  private readonly limiters: ShardLimiters;
  private readonly sender: Sender<T>;
  private readonly collector: BatchCollector<T>;
  private readonly lanes: ShardLanes<T>;
  private readonly router: Router<T>;
  private readonly order: KeyOrder<T> | undefined;
  private readonly retrier: Retrier<T>;

  constructor(
    options: ToKinesisOptions<T, A>,
    /** Receives each response: an {@link AggregatedPutRecordsEmission} when `aggregation` is enabled. */
    private readonly onEmission: (emission: EmissionOf<T, A>) => void = () => {},
    /** Called once, synchronously, when the pipeline has failed: stop feeding it (`end()` rejects). */
    private readonly onFailed: () => void = () => {},
  ) {
    const o = (this.options = resolveOptions(options));
    this.streamLabel = (o.streamName ?? o.streamARN)!;
    this.finished = new Promise((resolve, reject) => (this.settleFinished = { resolve, reject }));
    this.finished.catch(() => {}); // the caller observes it through end()
    const fail = this.fail.bind(this);

    // Built from the last stage back, so each stage is given the next one already made. The one edge that
    // points back is the pipeline's loop: a response goes to the retrier, which routes retries again.
    this.limiters = new ShardLimiters({
      recordsPerSecond: o.shardRecordsPerSecond,
      bytesPerSecond: o.shardBytesPerSecond,
      burstMs: o.shardBurstMs,
      adaptation: o.adaptiveRate ? undefined : false,
      scheduler: o.scheduler,
      shared: o.limiter,
    });
    const sender = (this.sender = new Sender<T>(
      o.client,
      streamFields(o),
      o.maxInFlightRequests,
      () => o.scheduler.now(),
      {
        response: (batch, request, response, ms) => {
          this.retrier.onResponse(batch, request, response, ms);
          this.checkFinished();
        },
        requestError: (batch, error, ms) => {
          this.retrier.onRequestError(batch, error, ms);
          this.checkFinished();
        },
        idle: () => this.checkFinished(),
      },
    ));
    const collector = (this.collector = new BatchCollector<T>(
      { maxRecords: o.maxBatchRecords, maxBytes: o.maxBatchBytes, lingerMs: o.lingerMs },
      o.scheduler,
      (batch) => sender.enqueue(batch),
    ));
    this.lanes = new ShardLanes<T>(
      this.limiters,
      (chunk) => collector.add(chunk),
      () => this.flushAtEnd(true),
      o.aggregation,
    );
    const router = (this.router = new Router<T>(
      {
        client: o.client,
        streamName: o.streamName,
        streamARN: o.streamARN,
        scheduler: o.scheduler,
        onFailed: fail,
        onRouted: () => this.flushAtEnd(false),
      },
      this.lanes,
    ));
    if (o.ordering === 'per-key') this.order = new KeyOrder<T>((record) => router.route(record));
    this.retrier = new Retrier<T>({
      policy: {
        maxAttempts: o.maxAttempts,
        ttlMs: o.recordTtlMs,
        baseDelayMs: o.retryBaseDelayMs,
        maxDelayMs: o.retryMaxDelayMs,
      },
      scheduler: o.scheduler,
      random: o.random,
      aggregated: o.aggregation !== undefined,
      limiters: this.limiters,
      router,
      metrics: o.metrics,
      stream: this.streamLabel,
      settle: (record) => this.settle(record),
      emit: (emission) => this.onEmission(emission as EmissionOf<T, A>),
      fail,
    });
    this.detachMetrics = o.metrics?.attach(this.streamLabel, () => ({
      pending: this.live.size,
      pendingBytes: this.live.bytes,
    }));
  }

  /** False once the pipeline failed or ended: stop feeding it. */
  get accepting(): boolean {
    return this.state === 'open';
  }

  /** What the producer holds right now. */
  get stats(): ProducerStats {
    return {
      buffered: this.live.size,
      bufferedBytes: this.live.bytes,
      queued: this.lanes.size,
      collecting: this.collector.size,
      retrying: this.retrier.size,
      orderWaiting: this.order?.waiting ?? 0,
      shards: this.lanes.shardIds(),
    };
  }

  /**
   * Validates and buffers an item without waiting. Returns `'accepted'`, `'full'` (the buffer limits
   * would be overrun; nothing was taken) or the `InvalidRecordError` (nothing was taken).
   *
   * While the pipeline is failing, items are taken as they come and reported in the error's `unsent`.
   *
   * @throws Error once `end()` was called or the pipeline has ended.
   */
  offer(item: T): 'accepted' | 'full' | InvalidRecordError<T> {
    if (this.state !== 'open' && this.state !== 'failing') {
      throw new Error(`KinesisProducer: cannot put once ${this.state === 'ending' ? 'ending' : 'ended'}`);
    }
    const { options: o } = this;
    const pending = admitItem(item, o, o.metrics ? o.scheduler.now() : 0);
    if (pending instanceof InvalidRecordError) return pending;
    if (this.state === 'open' && this.full(pending.record.bytes)) return 'full';
    this.live.add(pending);
    o.metrics?.received(this.streamLabel, 1);
    if (this.order) this.order.admit(pending);
    else this.router.route(pending);
    return 'accepted';
  }

  /**
   * Buffers an item, waiting while the buffer is full (back-pressure for cold sources).
   * An invalid item goes to `onInvalidRecord` when set; otherwise `put` rejects with its
   * `InvalidRecordError` and the producer carries on.
   */
  async put(item: T): Promise<void> {
    for (;;) {
      const outcome = this.offer(item);
      if (outcome === 'accepted') return;
      if (outcome instanceof InvalidRecordError) {
        if (this.options.onInvalidRecord) return this.options.onInvalidRecord(outcome);
        throw outcome;
      }
      await new Promise<void>((resolve, reject) => this.spaceWaiters.push({ resolve, reject }));
    }
  }

  /**
   * Takes no more items, sends everything buffered and resolves once every item is delivered or finally
   * failed; rejects with a `KinesisSinkError` (carrying the undelivered items) if the pipeline failed.
   */
  end(): Promise<void> {
    if (this.state === 'open') {
      this.state = 'ending';
      this.flushAtEnd(false);
      this.checkFinished();
    }
    return this.finished;
  }

  /** Stops at once: cancels requests in flight, clears every timer and limiter. Nothing more is emitted. */
  destroy(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.retrier.close();
    this.shutdown();
    this.sender.cancel();
    this.router.cancel();
    this.rejectWaiters(new Error('KinesisProducer destroyed'));
  }

  /** Whether another record of `bytes` would overrun `maxBufferedRecords`/`maxBufferedBytes`. */
  private full(bytes: number): boolean {
    const { live, options } = this;
    return (
      live.size >= options.maxBufferedRecords ||
      (live.size > 0 && live.bytes + bytes > options.maxBufferedBytes)
    );
  }

  /**
   * The one end-of-stream decision: once the source is done and nothing waits for tokens, the request being
   * collected goes now instead of lingering. Not on each idle while records are held for per-key order: each
   * release would then go out alone, thousands of one-record requests (measured).
   */
  private flushAtEnd(lanesIdle: boolean): void {
    if (this.state !== 'ending' || this.lanes.size > 0) return;
    if (lanesIdle && this.order?.waiting) return;
    this.collector.flush();
  }

  private shutdown(): void {
    this.lanes.close();
    this.collector.close();
    this.retrier.stopRetrying();
    this.order?.drain();
    this.router.close();
    void this.limiters.close();
    this.detachMetrics?.();
    this.detachMetrics = undefined;
  }

  /** A record is final: it leaves the buffer, its key's next record goes, and waiting puts may go on. */
  private settle(record: PendingRecord<T>): void {
    if (!this.live.delete(record)) return;
    if (this.options.metrics && record.firstSentAt !== undefined) {
      this.options.metrics.buffered(this.streamLabel, record.shardId, record.firstSentAt - record.acceptedAt);
    }
    this.order?.release(record);
    if (this.spaceWaiters.length > 0 && !this.full(0)) {
      const waiters = this.spaceWaiters;
      this.spaceWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  /**
   * Stops taking and retrying records; once requests in flight have answered, the pipeline ends with a
   * `KinesisSinkError` holding every item not delivered.
   */
  private fail(code: KinesisSinkErrorCode, message: string, cause: unknown): void {
    if (this.state === 'failing' || this.state === 'done' || this.state === 'closed') return;
    this.state = 'failing';
    this.failure = { code, message, cause };
    this.lanes.drain();
    this.collector.drain();
    this.sender.drain();
    this.shutdown();
    this.rejectWaiters(new KinesisSinkError(code, message, [], { cause }));
    this.checkFinished();
  }

  private rejectWaiters(error: unknown): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of waiters) w.reject(error);
  }

  private checkFinished(): void {
    if (this.state === 'ending' && this.live.size === 0) {
      this.state = 'done';
      this.shutdown();
      this.settleFinished.resolve();
    } else if (this.state === 'failing' && !this.sender.busy) {
      this.state = 'done';
      const { code, message, cause } = this.failure!;
      const unsent = this.live.clear();
      for (let i = 0; i < unsent.length; i++)
        this.options.metrics?.userRecordFailed(this.streamLabel, undefined, code);
      this.detachMetrics?.();
      this.detachMetrics = undefined;
      this.settleFinished.reject(
        new KinesisSinkError<T>(code, `${message} (${unsent.length} items unsent)`, unsent, { cause }),
      );
      this.onFailed();
    }
  }
}
