import { KinesisSinkError, type KinesisSinkErrorCode } from '../errors.js';
import { InvalidRecordError, type KinesisRecordInput } from '../kinesis/records.js';
import { streamFields } from '../kinesis/shard-map.js';
import { ShardLimiters, shardLimiterOptionsOf } from '../limits/shard-limiter.js';
import { resolveOptions, type ResolvedOptions, type ToKinesisOptions } from '../options.js';
import { Admission } from './admission.js';
import { BatchCollector } from './batch-collector.js';
import type { EmissionOf } from './emissions.js';
import { KeyOrder } from './key-order.js';
import { Retrier } from './retrier.js';
import { Router } from './router.js';
import { Sender } from './sender.js';
import { ShardLanes } from './shard-lanes.js';
import type { ProducerStats } from './stats.js';

/**
 * The pipeline behind `toKinesis()`, for callers that push: `put()` resolves once the item is buffered and
 * waits while the buffer is full, so a fast cold source (an async iterable, a file) is fed with bounded
 * memory. `end()` sends everything and resolves when every item is delivered or finally failed.
 *
 * This class only wires the stages and runs the lifecycle (admission and back-pressure, end, failure,
 * teardown); every decision lives in a stage, and each edge is one call named after the next stage:
 *
 * ```text
 *  put/offer ─► admission.offer (Admission: validate, buffer, back-pressure)
 *    ─► order.admit (KeyOrder, per-key only) ─► router.route (Router: shard map, its refresh, records waiting)
 *    ─► lanes.push (ShardLanes: a queue per shard ─► limiters.admit ─► packChunk when aggregating)
 *    ─► collector.add (BatchCollector: requests) ─► sender.enqueue (Sender: PutRecords in flight)
 *    ─► retrier.onResponse / onRequestError (Retrier: decides each entry's outcome)
 *         ├─► limiters.throttled / refund (a throttle charges the shard's tokens, InternalFailure refunds)
 *         ├─► emit (one emission per response)
 *         ├─► settle: admission.settle ─► order.release (the key's next record goes)
 *         ├─► backoff ─► router.route (retries, after jittered backoff)
 *         └─► router.holdForRefresh / refresh (misplaced aggregates, stale map)
 *  router, map refreshed ─► lanes.retire (closed shards: records routed again, their limiters dropped)
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
  private readonly admission: Admission<T>;
  private state: 'open' | 'ending' | 'failing' | 'done' | 'closed' = 'open';
  private failure: { code: KinesisSinkErrorCode; message: string; cause: unknown } | undefined;
  private readonly finished: Promise<void>;
  private settleFinished!: { resolve: () => void; reject: (e: unknown) => void };
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
    const stream = (o.streamName ?? o.streamARN)!; // metrics count under the stream's name, else its ARN
    this.finished = new Promise((resolve, reject) => (this.settleFinished = { resolve, reject }));
    this.finished.catch(() => {}); // the caller observes it through end()
    this.admission = new Admission(o, stream);

    // Built from the last stage back, so each stage is given the next one already made. The one edge that
    // points back is the pipeline's loop: a response goes to the retrier, which routes retries again.
    this.limiters = new ShardLimiters(shardLimiterOptionsOf(o));
    const sender = (this.sender = new Sender<T>(
      o.client,
      streamFields(o),
      o.maxInFlightRequests,
      () => o.scheduler.now(),
      {
        response: (batch, request, response, ms) => this.retrier.onResponse(batch, request, response, ms),
        requestError: (batch, error, ms) => this.retrier.onRequestError(batch, error, ms),
        // Called right after any outcome that leaves nothing in flight: the last record may have settled.
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
    const router = (this.router = new Router<T>(o, this.lanes, {
      onFailed: (code, message, cause) => this.fail(code, message, cause),
      onRouted: () => this.flushAtEnd(false),
    }));
    if (o.ordering === 'per-key') this.order = new KeyOrder<T>((record) => router.route(record));
    this.retrier = new Retrier<T>(o, {
      limiters: this.limiters,
      router,
      stream,
      // A final record leaves the buffer (waking waiting puts) and lets its key's next record through.
      settle: (record) => this.admission.settle(record) && this.order?.release(record),
      emit: (emission) => this.onEmission(emission as EmissionOf<T, A>),
      fail: (code, message, cause) => this.fail(code, message, cause),
    });
    this.detachMetrics = this.admission.attachMetrics();
  }

  /** False once the pipeline failed or ended: stop feeding it. */
  get accepting(): boolean {
    return this.state === 'open';
  }

  /** What the producer holds right now. */
  get stats(): ProducerStats {
    const { live } = this.admission;
    return {
      buffered: live.size,
      bufferedBytes: live.bytes,
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
    const pending = this.admission.offer(item, this.state === 'open');
    if (pending === 'full' || pending instanceof InvalidRecordError) return pending;
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
      const onInvalid = this.options.onInvalidRecord;
      if (outcome instanceof InvalidRecordError)
        return onInvalid ? onInvalid(outcome) : Promise.reject(outcome);
      await this.admission.room();
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
    this.admission.rejectWaiters(new Error('KinesisProducer destroyed'));
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
    this.admission.rejectWaiters(new KinesisSinkError(code, message, [], { cause }));
    this.checkFinished();
  }

  private checkFinished(): void {
    if (this.state === 'ending' && this.admission.live.size === 0) {
      this.state = 'done';
      this.shutdown();
      this.settleFinished.resolve();
    } else if (this.state === 'failing' && !this.sender.busy) {
      this.state = 'done';
      const { code, message, cause } = this.failure!;
      const unsent = this.admission.unsent(code);
      this.detachMetrics?.();
      this.detachMetrics = undefined;
      this.settleFinished.reject(
        new KinesisSinkError<T>(code, `${message} (${unsent.length} items unsent)`, unsent, { cause }),
      );
      this.onFailed();
    }
  }
}
