import type { PutRecordsInput, PutRecordsOutput } from '@aws-sdk/client-kinesis';
import type { Subscription } from 'rxjs';
import { Aggregate, membersOf, userRecordCount, type Outgoing } from './aggregation.js';
import { BatchCollector } from './batch-collector.js';
import {
  describeError,
  isRetryableRequestError,
  KinesisSinkError,
  type KinesisSinkErrorCode,
} from '../errors.js';
import {
  resolveOptions,
  type AggregatedPutRecordsEmission,
  type EmissionOf,
  type PutRecordsEmission,
  type ResolvedOptions,
  type ToKinesisOptions,
} from '../options.js';
import type { PendingRecord } from './pending.js';
import { KeyOrder } from './key-order.js';
import { LiveRecords } from './live-records.js';
import type { MetricsRecorder } from '../observe/metrics.js';
import { InvalidRecordError, prepareRecord, type KinesisRecordInput } from '../kinesis/records.js';
import { Retrier } from './retrier.js';
import { Sender } from './sender.js';
import { ShardLanes } from './shard-lanes.js';
import { ShardLimiters } from '../limits/shard-limiter.js';
import { ShardMap, streamFields } from '../kinesis/shard-map.js';

const THROTTLED = 'ProvisionedThroughputExceededException';
const INTERNAL_FAILURE = 'InternalFailure';
/** Metrics' error code for an aggregate that landed on another shard than predicted (KPL: "Wrong Shard"). */
const WRONG_SHARD = 'WrongShard';
/** Metrics' error code for an entry the response left out (a malformed response). */
const NO_RESULT = 'NoResult';

/** A request error's name for the errors-by-code metric (never its message: it may quote input). */
function errorName(error: unknown): string {
  const name = (error as { name?: unknown })?.name;
  return typeof name === 'string' && name.length > 0 ? name : 'UnknownError';
}
/** Shard-map refreshes: at most one a second, backing off ×1.5 to 30 s while ListShards fails (as KPL). */
const MAP_REFRESH_MIN_INTERVAL_MS = 1000;
const MAP_REFRESH_MAX_INTERVAL_MS = 30_000;

/**
 * A snapshot of what a producer holds, for progress displays and tests.
 *
 * @example
 * ```ts
 * const { buffered, queued, shards }: ProducerStats = producer.stats;
 * console.log(`${buffered} buffered, ${queued} waiting for ${shards.length} shards`);
 * ```
 */
export interface ProducerStats {
  /** Items accepted and not yet finally delivered or failed. */
  buffered: number;
  /** Their bytes (data + partition keys). */
  bufferedBytes: number;
  /** Waiting in shard queues for tokens. */
  queued: number;
  /** Kinesis records (user records, or aggregates of them) admitted, waiting for a request to fill. */
  collecting: number;
  /** Waiting for a retry backoff to end. */
  retrying: number;
  /** Held back behind an earlier record of the same key (`ordering: 'per-key'`). */
  orderWaiting: number;
  /** Shards with a lane and limiter now (the open shards written to). */
  shards: string[];
}

type State = 'open' | 'ending' | 'failing' | 'done' | 'closed';

/**
 * The pipeline behind `toKinesis()`, for callers that push: `put()` resolves once the item is buffered and
 * waits while the buffer is full, so a fast cold source (an async iterable, a file) is fed with bounded
 * memory. `end()` sends everything and resolves when every item is delivered or finally failed.
 *
 * Stages, each in its own file: records (validation) → shard map (routing) → shard lanes and limiters
 * (per-shard token buckets) → batch collector (requests) → sender → retrier (back to the lanes).
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
  private map: ShardMap | undefined;
  private unrouted: PendingRecord<T>[] = [];
  private lastMapRefresh = -Infinity;
  private refreshing = false;
  private mapRefreshDelay = MAP_REFRESH_MIN_INTERVAL_MS;
  private mapTimer: Subscription | undefined;
  private failure: { code: KinesisSinkErrorCode; message: string; cause: unknown } | undefined;
  private spaceWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private readonly finished: Promise<void>;
  private settleFinished!: { resolve: () => void; reject: (e: unknown) => void };
  private readonly mapAbort = new AbortController();
  /** Where metrics go (undefined: not counted), under the stream's name or ARN. */
  private readonly metrics: MetricsRecorder | undefined;
  private readonly streamLabel: string;
  private detachMetrics: (() => void) | undefined;

  private readonly limiters: ShardLimiters;
  private readonly lanes: ShardLanes<T>;
  private readonly collector: BatchCollector<T>;
  private readonly sender: Sender<T>;
  private readonly retrier: Retrier<T>;
  private readonly order: KeyOrder<T> | undefined;

  constructor(
    options: ToKinesisOptions<T, A>,
    /** Receives each response: an {@link AggregatedPutRecordsEmission} when `aggregation` is enabled. */
    private readonly onEmission: (emission: EmissionOf<T, A>) => void = () => {},
    /** Called once, synchronously, when the pipeline has failed: stop feeding it (`end()` rejects). */
    private readonly onFailed: () => void = () => {},
  ) {
    const o = (this.options = resolveOptions(options));
    const stream = streamFields(o);
    this.finished = new Promise((resolve, reject) => (this.settleFinished = { resolve, reject }));
    this.finished.catch(() => {}); // the caller observes it through end()

    this.limiters = new ShardLimiters({
      recordsPerSecond: o.shardRecordsPerSecond,
      bytesPerSecond: o.shardBytesPerSecond,
      burstMs: o.shardBurstMs,
      adaptation: o.adaptiveRate ? undefined : false,
      scheduler: o.scheduler,
      shared: o.limiter,
    });
    this.collector = new BatchCollector<T>(
      { maxRecords: o.maxBatchRecords, maxBytes: o.maxBatchBytes, lingerMs: o.lingerMs },
      o.scheduler,
      (batch) => this.sender.enqueue(batch),
    );
    this.lanes = new ShardLanes<T>(
      this.limiters,
      (chunk) => this.collector.add(chunk),
      // Once the source is done, an idle pipeline need not linger — unless records are held back for per-key
      // order: each release would then go out alone, thousands of one-record requests (measured).
      () => this.state === 'ending' && !this.order?.waiting && this.collector.flush(),
      (shardId) => void this.limiters.remove(shardId),
      o.aggregation,
    );
    this.sender = new Sender<T>(o.client, stream, o.maxInFlightRequests, () => o.scheduler.now(), {
      response: (batch, request, response, ms) => this.onResponse(batch, request, response, ms),
      requestError: (batch, error, ms) => this.onRequestError(batch, error, ms),
      idle: () => this.checkFinished(),
    });
    this.retrier = new Retrier<T>(
      {
        maxAttempts: o.maxAttempts,
        ttlMs: o.recordTtlMs,
        baseDelayMs: o.retryBaseDelayMs,
        maxDelayMs: o.retryMaxDelayMs,
      },
      o.scheduler,
      o.random,
      (record) => this.route(record, true),
    );
    if (o.ordering === 'per-key') this.order = new KeyOrder<T>((record) => this.route(record, false));
    this.metrics = o.metrics;
    this.streamLabel = (o.streamName ?? o.streamARN)!;
    this.detachMetrics = this.metrics?.attach(this.streamLabel, () => ({
      pending: this.live.size,
      pendingBytes: this.live.bytes,
    }));
    void this.loadMap();
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

  /** Whether another record of `bytes` would overrun `maxBufferedRecords`/`maxBufferedBytes`. */
  private full(bytes: number): boolean {
    return (
      this.live.size >= this.options.maxBufferedRecords ||
      (this.live.size > 0 && this.live.bytes + bytes > this.options.maxBufferedBytes)
    );
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
    let record;
    try {
      record = prepareRecord(this.options.toRecord(item), this.options);
    } catch (error) {
      if (error instanceof InvalidRecordError) {
        return new InvalidRecordError<T>(error.reason, error.message, item);
      }
      return new InvalidRecordError<T>('TO_RECORD_FAILED', `toRecord threw ${describeError(error)}`, item, {
        cause: error,
      });
    }
    if (this.state === 'open' && this.full(record.bytes)) return 'full';
    const pending: PendingRecord<T> = {
      item,
      record,
      acceptedAt: this.metrics ? this.options.scheduler.now() : 0,
      attempts: 0,
      firstSentAt: undefined,
      shardId: '',
      live: false,
      prev: undefined,
      next: undefined,
    };
    this.live.add(pending);
    this.metrics?.received(this.streamLabel, 1);
    if (this.order) this.order.admit(pending);
    else this.route(pending, false);
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
      if (this.lanes.size === 0) this.collector.flush();
      this.checkFinished();
    }
    return this.finished;
  }

  /** Stops at once: cancels requests in flight, clears every timer and limiter. Nothing more is emitted. */
  destroy(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.shutdown();
    this.sender.cancel();
    this.mapAbort.abort();
    this.rejectWaiters(new Error('KinesisProducer destroyed'));
  }

  private shutdown(): void {
    this.lanes.close();
    this.collector.close();
    this.retrier.drain();
    this.order?.drain();
    this.mapTimer?.unsubscribe();
    this.mapTimer = undefined;
    void this.limiters.close();
    this.detachMetrics?.();
    this.detachMetrics = undefined;
  }

  private route(record: PendingRecord<T>, retry: boolean): void {
    if (this.state === 'failing' || this.state === 'closed') return;
    if (!this.map) {
      this.unrouted.push(record);
      return;
    }
    try {
      record.shardId = this.map.shardFor(record.record.hashKey).shardId;
    } catch {
      // A gap in the map means it was read mid-reshard: hold the record until a refresh fills the gap.
      this.unrouted.push(record);
      this.refreshMap();
      return;
    }
    this.lanes.push(record, retry);
  }

  private async loadMap(): Promise<void> {
    try {
      this.map = await ShardMap.load(this.options.client, this.options, {
        abortSignal: this.mapAbort.signal,
      });
    } catch (error) {
      this.fail('SHARD_MAP_FAILED', `could not list the stream's shards: ${describeError(error)}`, error);
      return;
    }
    this.lastMapRefresh = this.options.scheduler.now();
    this.routeUnrouted();
  }

  private routeUnrouted(): void {
    const waiting = this.unrouted;
    this.unrouted = [];
    for (const record of waiting) this.route(record, record.attempts > 0);
    if (this.state === 'ending' && this.lanes.size === 0) this.collector.flush();
  }

  /**
   * Reloads the shard map when it proved stale (a record landed on a shard the map did not predict, or
   * a key fell in a gap): at most once a second, backing off while ListShards fails. A signal that comes
   * too soon is kept as a scheduled refresh, never dropped.
   */
  private refreshMap(): void {
    if (!this.map || this.refreshing || this.mapTimer || this.state === 'closed' || this.state === 'done')
      return;
    const wait = this.lastMapRefresh + this.mapRefreshDelay - this.options.scheduler.now();
    if (wait > 0) {
      this.mapTimer = this.options.scheduler.schedule(() => {
        this.mapTimer = undefined;
        this.refreshMap();
      }, wait);
      return;
    }
    this.refreshing = true;
    this.lastMapRefresh = this.options.scheduler.now();
    this.map.refresh().then(
      () => {
        this.refreshing = false;
        this.mapRefreshDelay = MAP_REFRESH_MIN_INTERVAL_MS;
        this.onMapChanged();
      },
      (error) => {
        this.refreshing = false;
        if (!isRetryableRequestError(error) && this.unrouted.length > 0) {
          this.fail('SHARD_MAP_FAILED', `could not refresh the shard map: ${describeError(error)}`, error);
          return;
        }
        this.mapRefreshDelay = Math.min(MAP_REFRESH_MAX_INTERVAL_MS, this.mapRefreshDelay * 1.5);
        this.refreshMap();
      },
    );
  }

  /** Closed shards' lanes hand their records back for routing on the new map; their limiters go. */
  private onMapChanged(): void {
    if (this.state === 'closed' || this.state === 'done') return;
    const closed = this.lanes.shardIds().filter((id) => !this.map!.has(id));
    this.lanes.retire(closed, (record, retry) => this.route(record, retry));
    this.routeUnrouted();
  }

  private onResponse(
    batch: Outgoing<T>[],
    request: PutRecordsInput,
    response: PutRecordsOutput,
    ms: number,
  ): void {
    if (this.state === 'closed') return;
    const aggregated = this.options.aggregation !== undefined;
    const metrics = this.metrics;
    metrics?.request(this.streamLabel, ms, batch.length, userRecordCount(batch));
    const retrying: (boolean | boolean[])[] = new Array(batch.length);
    const again: PendingRecord<T>[] = [];
    const misplaced: PendingRecord<T>[] = [];
    let stale = false;
    for (let i = 0; i < batch.length; i++) {
      const unit = batch[i];
      const result = response.Records?.[i];
      const delivered = result?.SequenceNumber !== undefined;
      let wrongShard = false;
      if (delivered) {
        if (result.ShardId !== undefined && result.ShardId !== unit.shardId) {
          stale = true;
          // Members were packed for the predicted shard; on another one some keys are out of its range.
          wrongShard = unit instanceof Aggregate;
        }
      } else if (this.map?.has(unit.shardId)) {
        if (result?.ErrorCode === THROTTLED) this.limiters.throttled(unit.shardId, 1, unit.record.bytes);
        // The shard did not take the write, so it cost no quota: the retry should not pay twice.
        else if (result?.ErrorCode === INTERNAL_FAILURE)
          this.limiters.refund(unit.shardId, 1, unit.record.bytes);
      }
      const code = delivered ? WRONG_SHARD : (result?.ErrorCode ?? NO_RESULT);
      if (metrics) {
        const count = userRecordCount(unit);
        if (delivered && !wrongShard) {
          metrics.kinesisRecordPut(
            this.streamLabel,
            result.ShardId ?? unit.shardId,
            count,
            unit.record.bytes,
          );
        } else {
          metrics.error(this.streamLabel, unit.shardId, code, count);
        }
      }
      if (!aggregated) {
        retrying[i] = this.decide(unit as PendingRecord<T>, delivered, false, code, again, misplaced);
      } else {
        const members = membersOf(unit);
        const flags: boolean[] = new Array(members.length);
        for (let j = 0; j < members.length; j++) {
          flags[j] = this.decide(members[j], delivered, wrongShard, code, again, misplaced);
        }
        retrying[i] = flags;
      }
    }
    this.onEmission(this.emission(batch, request, response, retrying));
    // The subscriber may have unsubscribed inside that emission (take(1), first()): destroy() has run, and
    // scheduling the retries now would leave their timers behind, keeping Node alive up to retryMaxDelayMs.
    if ((this.state as State) === 'closed') return;
    if (again.length > 0) this.retrier.retry(again);
    // Resent once the map is refreshed, so they are re-packed for the shards their keys map to now.
    for (const record of misplaced) this.unrouted.push(record);
    if (stale) this.refreshMap();
    this.checkFinished();
  }

  /**
   * One user record's outcome in a response: settled (delivered, or finally failed), or queued to be sent
   * again (`again` after backoff; `misplaced` after a map refresh). Returns whether it will be sent again.
   */
  private decide(
    record: PendingRecord<T>,
    delivered: boolean,
    wrongShard: boolean,
    code: string,
    again: PendingRecord<T>[],
    misplaced: PendingRecord<T>[],
  ): boolean {
    if (delivered && !wrongShard) {
      this.metrics?.userRecordPut(this.streamLabel, record.shardId, record.attempts, record.record.bytes);
      this.settle(record);
      return false;
    }
    if (this.state !== 'failing' && this.retrier.canRetry(record)) {
      (wrongShard ? misplaced : again).push(record);
      this.metrics?.retried(this.streamLabel, record.shardId, 1);
      return true;
    }
    // Out of attempts: a misplaced record still landed (a consumer reading that shard may keep it).
    if (delivered)
      this.metrics?.userRecordPut(this.streamLabel, record.shardId, record.attempts, record.record.bytes);
    else this.metrics?.userRecordFailed(this.streamLabel, record.shardId, code);
    this.settle(record);
    return false;
  }

  private emission(
    batch: Outgoing<T>[],
    request: PutRecordsInput,
    response: PutRecordsOutput,
    retrying: (boolean | boolean[])[],
  ): EmissionOf<T, A> {
    if (this.options.aggregation === undefined) {
      const records = batch as PendingRecord<T>[];
      const emission: PutRecordsEmission<T> = {
        request,
        response,
        items: records.map((p) => p.item),
        attempts: records.map((p) => p.attempts),
        retrying: retrying as boolean[],
      };
      return emission as EmissionOf<T, A>;
    }
    const emission: AggregatedPutRecordsEmission<T> = {
      aggregated: true,
      request,
      response,
      items: batch.map((unit) => membersOf(unit).map((p) => p.item)),
      attempts: batch.map((unit) => membersOf(unit).map((p) => p.attempts)),
      retrying: retrying as boolean[][],
    };
    return emission as EmissionOf<T, A>;
  }

  private onRequestError(batch: Outgoing<T>[], error: unknown, ms: number): void {
    if (this.state === 'closed') return;
    const metrics = this.metrics;
    if (metrics) {
      const userRecords = userRecordCount(batch);
      metrics.request(this.streamLabel, ms, batch.length, userRecords);
      metrics.error(this.streamLabel, undefined, errorName(error), userRecords);
    }
    if (!isRetryableRequestError(error)) {
      this.fail('FATAL_REQUEST_ERROR', `Kinesis refused PutRecords: ${describeError(error)}`, error);
    } else if (this.state !== 'failing') {
      if ((error as { name?: string })?.name === THROTTLED) {
        for (const unit of batch)
          if (this.map?.has(unit.shardId)) this.limiters.throttled(unit.shardId, 1, unit.record.bytes);
      }
      const records = batch.flatMap((unit) => membersOf(unit));
      if (records.every((p) => this.retrier.canRetry(p))) {
        this.retrier.retry(records);
        metrics?.retried(this.streamLabel, undefined, records.length);
      } else {
        this.fail(
          'RETRIES_EXHAUSTED',
          `PutRecords kept failing without a response until records ran out of attempts: ${describeError(error)}`,
          error,
        );
      }
    }
    this.checkFinished();
  }

  private settle(record: PendingRecord<T>): void {
    if (!this.live.delete(record)) return;
    if (this.metrics && record.firstSentAt !== undefined) {
      this.metrics.buffered(this.streamLabel, record.shardId, record.firstSentAt - record.acceptedAt);
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
      if (this.metrics)
        for (let i = 0; i < unsent.length; i++)
          this.metrics.userRecordFailed(this.streamLabel, undefined, code);
      this.detachMetrics?.();
      this.detachMetrics = undefined;
      this.settleFinished.reject(
        new KinesisSinkError<T>(code, `${message} (${unsent.length} items unsent)`, unsent, { cause }),
      );
      this.onFailed();
    }
  }
}
