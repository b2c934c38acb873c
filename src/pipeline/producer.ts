import { InvalidRecordError, type KinesisRecordInput } from '../kinesis/records.js';
import { streamFields } from '../kinesis/shard-map.js';
import { leaseLimiters } from '../limits/client-limiters.js';
import { shardLimiterOptionsOf } from '../limits/shard-limiter.js';
import type { SpooledOptions, ToKinesisOptions } from '../options.js';
import { resolveOptions } from '../resolve-options.js';
import { Admission } from './admission.js';
import type { PendingRecord } from './pending.js';
import { BatchCollector } from './batch-collector.js';
import type { EmissionOf } from './emissions.js';
import { Intake } from './intake.js';
import { KeyOrder } from './key-order.js';
import { Lifecycle } from './lifecycle.js';
import { Outcomes, type RecordResult } from './outcomes.js';
import { Retrier } from './retrier.js';
import { Router } from './router.js';
import { Sender } from './sender.js';
import { ShardLanes } from './shard-lanes.js';
import { SpoolStage } from './spool-stage.js';
import type { SpooledRecord } from './spooled-record.js';
import { statsOf, type ProducerStats } from './stats.js';
import { Teardown } from './teardown.js';

/**
 * The pipeline behind `toKinesis()`, for callers that push: `put()` resolves once the item is buffered and
 * waits while the buffer is full, so a fast cold source (an async iterable, a file) is fed with bounded
 * memory. `flush()` waits for what was put so far and keeps the producer open; `close({ deadlineMs })`
 * sends what the deadline allows (README, "Shutting down").
 *
 * This class only wires the stages; every decision lives in a stage (flush, close, failure and teardown in
 * Teardown, the state they move in Lifecycle), and each edge is one call named after the next stage:
 *
 * ```text
 *  (with a spool: intake ─► spool.offer (SpoolStage: validate, append; its pump reads back into ─────┐)
 *  put/send/offer ─► intake (Intake: take now, after room, or never; receipts, send()'s promise)
 *    ─► admission.offer (Admission: validate, buffer, back-pressure)  ◄──────────────────────────────┘
 *    ─► order.admit (KeyOrder, per-key only) ─► router.route (Router: shard map, its refresh, records waiting)
 *    ─► lanes.push (ShardLanes: a queue per shard ─► limiters.admit ─► packChunk when aggregating)
 *    ─► collector.addRuns (BatchCollector: requests) ─► sender.wake (Sender: PutRecords in flight; takes requests)
 *    ─► retrier.onResponse / onRequestError (Retrier: decides each entry's outcome)
 *         ├─► limiters.throttled / refund (a throttle charges the shard's tokens, InternalFailure refunds)
 *         ├─► emit (one emission per response)
 *         ├─► settle: outcomes.settle (Outcomes: a send()'s promise) ─► admission.settle
 *         │        ─► order.release (the key's next record goes) ─► spool.final (ack)
 *         ├─► backoff ─► router.route (retries, after jittered backoff)
 *         └─► router.holdForRefresh / refresh (misplaced aggregates, stale map)
 *  router, map refreshed ─► lanes.retire (closed shards: records routed again, their limiters dropped)
 *  flush / close / destroy ─► teardown (Teardown: linger off at the end, stop the stages in order, fail)
 *    ─► life (Lifecycle: state, the promise close() returns, the deadline, what is left at it)
 *  sender / retrier idle, spool changed ─► teardown.checkFinished; a stage's fatal error ─► teardown.fail
 * ```
 *
 * @example
 * ```ts
 * const producer = new KinesisProducer({ client, streamName: 'sensors' }, (emission) => log(emission));
 * for await (const line of lines) await producer.put({ PartitionKey: key(line), Data: line });
 * await producer.close({ deadlineMs: 10_000 }); // rejects with DRAIN_TIMEOUT and `unsent` if time ran out
 * ```
 */
export class KinesisProducer<T = KinesisRecordInput, A extends boolean = false> {
  private readonly admission: Admission<T>;
  private readonly life: Lifecycle<T>;
  /** The promises of `send()` (nothing until the first). */
  private readonly outcomes = new Outcomes<T>();
  private readonly collector: BatchCollector<T>;
  private readonly lanes: ShardLanes<T>;
  private readonly order: KeyOrder<T> | undefined;
  private readonly retrier: Retrier<T>;
  private readonly spool: SpoolStage<T> | undefined;
  private readonly intake: Intake<T>;
  private readonly teardown: Teardown<T>;

  /** With a `spool`, emissions carry the {@link SpooledRecord}s read back from the disk, not your items. */
  constructor(
    options: SpooledOptions<T, A>,
    onEmission?: (emission: EmissionOf<SpooledRecord, A>) => void,
    onFailed?: () => void,
  );
  constructor(
    options: ToKinesisOptions<T, A>,
    onEmission?: (e: EmissionOf<T, A>) => void,
    onFailed?: () => void,
  );
  constructor(
    options: ToKinesisOptions<T, A> | SpooledOptions<T, A>,
    /** Receives each response: an {@link AggregatedPutRecordsEmission} when `aggregation` is enabled. */
    private readonly onEmission: (emission: EmissionOf<T, A>) => void = () => {},
    /** Called once, synchronously, when the pipeline has failed: stop feeding it (`end()` rejects). */
    private readonly onFailed: () => void = () => {},
  ) {
    const o = resolveOptions(options, 'KinesisProducer');
    const stream = (o.streamName ?? o.streamARN)!; // metrics count under the stream's name, else its ARN
    // With a spool, the buffer holds records read back from the disk: the item's record is made before.
    this.admission = new Admission(o.spool ? { ...o, toRecord: (r) => r as KinesisRecordInput } : o, stream);
    this.life = new Lifecycle<T>(
      o.scheduler,
      (code, message) => this.teardown.fail(code, message, undefined, true),
      // At the deadline, what a spool holds stays there for the next producer: the drain completes.
      (code) => code === 'DRAIN_TIMEOUT' && this.spool?.keptAll === true,
    );

    // Built from the last stage back, so each stage is given the next one already made. The one edge that
    // points back is the pipeline's loop: a response goes to the retrier, which routes retries again.
    // Pipelines on one client and stream share their buckets: they split the quota instead of fighting.
    const lease = leaseLimiters(o.client, stream, shardLimiterOptionsOf(o));
    const { limiters } = lease;
    const now = () => o.scheduler.now();
    const sender = new Sender<T>(
      o.client,
      streamFields(o),
      o.maxInFlightRequests,
      o,
      now,
      {
        response: (batch, request, response, ms) => this.retrier.onResponse(batch, request, response, ms),
        requestError: (batch, error, ms) => this.retrier.onRequestError(batch, error, ms),
        // Called right after any outcome that leaves nothing in flight: the last record may have settled.
        idle: () => this.teardown.checkFinished(),
      },
      () => collector.take(),
    );
    const collector = (this.collector = new BatchCollector<T>(
      { maxRecords: o.maxBatchRecords, maxBytes: o.maxBatchBytes, lingerMs: o.lingerMs },
      o.scheduler,
      () => sender.wake(),
    ));
    const lanes = (this.lanes = new ShardLanes<T>(
      limiters,
      (chunk, bytes) => collector.addRuns(chunk, bytes),
      () => this.teardown.flushAtEnd(true),
      o.aggregation,
    ));
    const router = new Router<T>(o, lanes, {
      onFailed: (code, message, cause) => this.teardown.fail(code, message, cause),
      onRouted: () => this.teardown.flushAtEnd(false),
    });
    const order = (this.order =
      o.ordering === 'per-key' ? new KeyOrder<T>((record) => router.route(record)) : undefined);
    const route = order ? (r: PendingRecord<T>) => order.admit(r) : (r: PendingRecord<T>) => router.route(r);
    this.retrier = new Retrier<T>(o, {
      limiters: limiters,
      router,
      stream,
      // A final record leaves the buffer (waking waiting puts and flushes); its key's next record goes.
      settle: (record, result, code) => {
        this.outcomes.settle(record, result, code); // a send()'s promise, if any
        if (!this.admission.settle(record)) return;
        this.order?.release(record);
        this.spool?.final(record);
      },
      emit: (emission) => this.onEmission(emission as EmissionOf<T, A>),
      idle: () => this.teardown.checkFinished(),
      fail: (code, message, cause) => this.teardown.fail(code, message, cause),
    });
    this.admission.attachMetrics();
    this.spool =
      o.spool &&
      new SpoolStage<T>(o.spool, o, stream, this.admission, {
        route,
        fail: (code, message, cause) => this.teardown.fail(code, message, cause),
        changed: () => this.teardown.checkFinished(),
      });
    const { admission, life, outcomes, spool, retrier } = this;
    this.intake = new Intake<T>({
      admission,
      life,
      outcomes,
      spool,
      route,
      onInvalidRecord: o.onInvalidRecord,
    });
    this.teardown = new Teardown<T>({
      life,
      admission,
      outcomes,
      lanes,
      collector,
      sender,
      retrier,
      router,
      order,
      spool,
      lease,
      onFailed,
    });
  }

  /** False once the pipeline failed or ended: stop feeding it. */
  get accepting(): boolean {
    return this.life.state === 'open';
  }

  /** What the producer holds right now. */
  get stats(): ProducerStats {
    return statsOf(this.admission.live, this.lanes, this.collector, this.retrier, this.order);
  }

  /**
   * Validates and buffers an item without waiting: `'accepted'`, `'full'` or the `InvalidRecordError` (nothing
   * taken). While failing, items are taken and reported in `unsent`. @throws once closing or ended.
   */
  offer = (item: T): 'accepted' | 'full' | InvalidRecordError<T> => this.intake.offer(item);

  /**
   * Buffers an item, waiting while the buffer is full (back-pressure for cold sources); with a `spool`,
   * resolves once the item is in the spool (durable per `spool.fsync`; `SpoolFullError` with `whenFull:
   * 'reject'`). An invalid item goes to `onInvalidRecord` when set; otherwise `put` rejects with its
   * `InvalidRecordError`. A `put()` still waiting when `close()` is called is taken: part of the drain.
   */
  put = (item: T): Promise<void> => this.intake.put(item);

  /**
   * Like `put()`, but resolves once the producer holds the item, not once it is in the spool: a pull loop
   * (`putAll()`) keeps the spool's group commit fed instead of waiting one fsync per item. True if taken.
   */
  take = (item: T): Promise<boolean> => this.intake.take(item);

  /**
   * `put()` with a promise of this item's outcome, like the KPL's future: resolves with its
   * {@link RecordResult} once delivered; rejects with a `RecordFailedError` (ErrorCode, attempts) once
   * finally failed, with its `InvalidRecordError` (`onInvalidRecord` is not called), or with the pipeline's
   * `KinesisSinkError` when it fails first. Not with a `spool` (put() there: the spool is the promise).
   */
  send = (item: T): Promise<RecordResult> => this.intake.send(item);

  /**
   * Resolves once every item put so far is final; the producer stays open. Collected records go out at once,
   * not after `lingerMs`. Rejects if the pipeline fails first.
   */
  flush(): Promise<void> {
    return this.teardown.flush();
  }

  /**
   * Takes no more items, sends what is buffered, and resolves once every item is final. With `deadlineMs`,
   * at most that long from now: then requests in flight are aborted and it rejects with a `KinesisSinkError`
   * `DRAIN_TIMEOUT`, every item not delivered in `unsent` (aborted ones may have been applied).
   */
  close({ deadlineMs }: { deadlineMs?: number } = {}): Promise<void> {
    return this.teardown.close(deadlineMs);
  }

  /** `close()` without a deadline. */
  end = (): Promise<void> => this.close();

  /** The deadline of `close({ deadlineMs })` without closing yet (putAll on `signal`: an item in hand). */
  startDeadline(deadlineMs: number): void {
    this.life.deadline(deadlineMs);
  }

  /** Stops at once: cancels requests in flight, clears every timer and limiter. Nothing more is emitted. */
  destroy(): void {
    this.teardown.destroy();
  }
}
