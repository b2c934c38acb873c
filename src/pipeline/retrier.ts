import type { PutRecordsInput, PutRecordsOutput, PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import type { SchedulerLike } from 'rxjs';
import { describeRequestError, isRetryableRequestError, type KinesisSinkErrorCode } from '../errors.js';
import type { ShardLimiters } from '../limits/shard-limiter.js';
import type { MetricsRecorder } from '../observe/recorder.js';
import { Aggregate, membersOf, userRecordCount, type Outgoing } from './aggregation.js';
import { Backoff, retryPolicyOf, type RetryOptions } from './backoff.js';
import { buildEmission, type KinesisEmission } from './emissions.js';
import { ShardFeedback } from './feedback.js';
import type { PendingRecord } from './pending.js';
import { completeResults, NO_RESULT_ERROR_CODE } from './results.js';
import type { Router } from './router.js';

const THROTTLED = 'ProvisionedThroughputExceededException';
const INTERNAL_FAILURE = 'InternalFailure';
/** Metrics' error code for an aggregate that landed on another shard than predicted (KPL: "Wrong Shard"). */
const WRONG_SHARD = 'WrongShard';

/** A request error's name for the errors-by-code metric (never its message: it may quote input). */
function errorName(error: unknown): string {
  const name = (error as { name?: unknown })?.name;
  return typeof name === 'string' && name.length > 0 ? name : 'UnknownError';
}

/** The retry stage's settings, named as in the pipeline's options (its resolved options fit). */
export interface RetrierOptions extends RetryOptions {
  scheduler: SchedulerLike;
  /** Random source in [0, 1) for the backoff's jitter. */
  random: () => number;
  /** Set when batches hold aggregates (emissions then list each aggregate's items). */
  aggregation: object | undefined;
  /** Counts outcomes (undefined: nothing is counted). */
  metrics: MetricsRecorder | undefined;
}

/** What the retry stage is wired to. */
export interface RetrierStages<T> {
  /** Fed back what each shard did: throttles charge its buckets again, InternalFailures refund them. */
  limiters: Pick<ShardLimiters, 'throttled' | 'refund'>;
  /** Where retries go after their backoff, and misplaced records after a map refresh. */
  router: Pick<Router<T>, 'route' | 'knows' | 'holdForRefresh' | 'refresh' | 'rangeOf' | 'refreshThen'>;
  /** The stream's name (or ARN) for metrics. */
  stream: string;
  /** A user record is final (delivered, or failed for good). */
  /**
   * A user record is final: delivered where `result` has a sequence number, else failed for good with
   * `code` (its last ErrorCode, or `NoResult`).
   */
  settle: (record: PendingRecord<T>, result: PutRecordsResultEntry | undefined, code: string) => void;
  /** One emission per response. */
  emit: (emission: KinesisEmission<T>) => void;
  /** A response waited for a map refresh and was then decided: the last record may have settled. */
  idle: () => void;
  /** The pipeline cannot go on (a fatal request error, or records out of attempts without any response). */
  fail: (code: KinesisSinkErrorCode, message: string, cause: unknown) => void;
}

/**
 * The KPL's Retrier: decides what each PutRecords outcome means. Per entry it classifies the result
 * (delivered; delivered to another shard than predicted; throttled; InternalFailure; missing or empty,
 * which becomes a failed `NoResult` entry), feeds the
 * shard's limiter back (a throttle charges the tokens again, an InternalFailure cost no quota and refunds
 * them), counts the metrics, settles final records, schedules the rest for another attempt (after backoff,
 * or after a map refresh when an aggregate was misplaced) and builds the emission. A request that got no
 * response retries the whole batch, or fails the pipeline when that cannot help.
 *
 * @example
 * ```ts
 * const retrier = new Retrier<unknown>({ ...resolveOptions({ client, streamName: 'sensors' }), random: Math.random }, {
 *   limiters, router, stream: 'sensors', settle: () => {}, emit: log, idle: () => {},
 *   fail: (code, message) => console.error(code, message),
 * });
 * retrier.onResponse(batch, request, response, 42);
 * ```
 */
export class Retrier<T> {
  private readonly backoff: Backoff<T>;
  /** Stopped retrying: the pipeline is failing (records still in flight are reported, not resent). */
  private failing = false;
  private closed = false;

  private readonly aggregated: boolean;
  private readonly metrics: MetricsRecorder | undefined;

  constructor(
    options: RetrierOptions,
    private readonly o: RetrierStages<T>,
  ) {
    const { scheduler, random } = options;
    this.backoff = new Backoff<T>(retryPolicyOf(options), scheduler, random, (r) => o.router.route(r));
    this.aggregated = options.aggregation !== undefined;
    this.metrics = options.metrics;
  }

  /** Records waiting for their backoff to end. */
  get size(): number {
    return this.backoff.size;
  }

  /** No more retries: cancels those waiting (the pipeline fails, or has ended). */
  stopRetrying(): void {
    this.failing = true;
    this.backoff.drain();
  }

  /** Ignores any later outcome (the pipeline was destroyed: nothing more is emitted). */
  close(): void {
    this.closed = true;
    this.backoff.drain();
  }

  /**
   * A response: each entry decided, one emission, then the retries scheduled. An aggregate that landed on
   * a shard the map does not know yet (a reshard) waits for a map refresh first (`refreshed`: it did), so
   * only its members whose hash key is outside the landed shard's range are sent again.
   */
  onResponse(
    batch: Outgoing<T>[],
    request: PutRecordsInput,
    answer: PutRecordsOutput,
    ms: number,
    refreshed = false,
  ): void {
    if (this.closed) return;
    const { aggregated, metrics } = this;
    const { limiters, router, stream } = this.o;
    const response = completeResults(batch.length, answer);
    if (aggregated && !refreshed && !this.failing && this.landedUnknown(batch, response)) {
      router.refreshThen(() => {
        this.onResponse(batch, request, answer, ms, true);
        this.o.idle();
      });
      return;
    }
    metrics?.request(stream, ms, batch.length, userRecordCount(batch));
    const retrying: (boolean | boolean[])[] = new Array(batch.length);
    const again: PendingRecord<T>[] = [];
    const misplaced: PendingRecord<T>[] = [];
    const feedback = new ShardFeedback();
    let stale = false;
    for (let i = 0; i < batch.length; i++) {
      const unit = batch[i];
      const result = response.Records![i];
      const delivered = result.SequenceNumber !== undefined;
      let wrongShard = false;
      let landed: { startingHashKey: bigint; endingHashKey: bigint } | undefined;
      if (delivered) {
        if (result.ShardId !== undefined && result.ShardId !== unit.shardId) {
          stale = true;
          // Members were packed for the predicted shard; on another one some keys may be out of its range.
          wrongShard = unit instanceof Aggregate;
          if (wrongShard) landed = router.rangeOf(result.ShardId);
        }
      } else if (router.knows(unit.shardId)) {
        if (result.ErrorCode === THROTTLED) feedback.throttled(unit.shardId, unit.record.bytes);
        // The shard did not take the write, so it cost no quota: the retry should not pay twice.
        else if (result.ErrorCode === INTERNAL_FAILURE) feedback.refund(unit.shardId, unit.record.bytes);
      }
      const code = delivered ? WRONG_SHARD : (result.ErrorCode ?? NO_RESULT_ERROR_CODE);
      if (metrics) {
        const count = userRecordCount(unit);
        if (delivered && !wrongShard) {
          metrics.kinesisRecordPut(stream, result.ShardId ?? unit.shardId, count, unit.record.bytes);
        } else {
          metrics.error(stream, unit.shardId, code, count);
        }
      }
      if (!aggregated) {
        retrying[i] = this.decide(unit as PendingRecord<T>, delivered, false, code, again, misplaced, result);
      } else {
        const members = membersOf(unit);
        const flags: boolean[] = new Array(members.length);
        for (let j = 0; j < members.length; j++) {
          const member = members[j];
          // A KCL consumer keeps the members whose key the landed shard owns: those are delivered, and
          // resending them would only make duplicates. Without the range (no refresh), all go again.
          const hash = member.record.hashKey;
          const kept = landed !== undefined && hash >= landed.startingHashKey && hash <= landed.endingHashKey;
          flags[j] = kept
            ? this.decide(member, true, false, code, again, misplaced, result)
            : this.decide(member, delivered, wrongShard, code, again, landed ? again : misplaced, result);
        }
        retrying[i] = flags;
      }
    }
    feedback.applyTo(limiters);
    this.o.emit(buildEmission(aggregated, batch, request, response, retrying));
    // The subscriber may have unsubscribed inside that emission (take(1), first()): destroy() has run, and
    // scheduling the retries now would leave their timers behind, keeping Node alive up to retryMaxDelayMs.
    if (this.closed) return;
    if (again.length > 0) this.backoff.retry(again);
    // Resent once the map is refreshed, so they are re-packed for the shards their keys map to now.
    if (misplaced.length > 0) router.holdForRefresh(misplaced);
    if (stale) router.refresh();
  }

  /** Whether an aggregate in the response was delivered to a shard the map has no range for. */
  private landedUnknown(batch: Outgoing<T>[], response: PutRecordsOutput): boolean {
    const results = response.Records!;
    for (let i = 0; i < batch.length; i++) {
      const { ShardId, SequenceNumber } = results[i];
      const unit = batch[i];
      if (SequenceNumber === undefined || ShardId === undefined || ShardId === unit.shardId) continue;
      if (unit instanceof Aggregate && this.o.router.rangeOf(ShardId) === undefined) return true;
    }
    return false;
  }

  /**
   * No response (after the SDK's own retries, or none before the request's deadline): the whole batch
   * again, or the pipeline fails when the error's code is fatal or the records are out of budget.
   */
  onRequestError(batch: Outgoing<T>[], error: unknown, ms: number): void {
    if (this.closed) return;
    const { metrics } = this;
    const { limiters, router, stream } = this.o;
    if (metrics) {
      const userRecords = userRecordCount(batch);
      metrics.request(stream, ms, batch.length, userRecords);
      metrics.error(stream, undefined, errorName(error), userRecords);
    }
    if (!isRetryableRequestError(error)) {
      this.o.fail('FATAL_REQUEST_ERROR', `Kinesis refused PutRecords: ${describeRequestError(error)}`, error);
    } else if (!this.failing) {
      if ((error as { name?: string })?.name === THROTTLED) {
        const feedback = new ShardFeedback();
        for (const unit of batch)
          if (router.knows(unit.shardId)) feedback.throttled(unit.shardId, unit.record.bytes);
        feedback.applyTo(limiters);
      }
      const records = batch.flatMap((unit) => membersOf(unit));
      if (records.every((p) => this.backoff.canRetry(p))) {
        this.backoff.retry(records);
        metrics?.retried(stream, undefined, records.length);
      } else {
        this.o.fail(
          'RETRIES_EXHAUSTED',
          `PutRecords kept failing without a response until records ran out of attempts: ${describeRequestError(error)}`,
          error,
        );
      }
    }
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
    /** The entry's result, for a send()'s promise (the aggregate's, for its members). */
    result: PutRecordsResultEntry | undefined,
  ): boolean {
    const { metrics } = this;
    const { stream } = this.o;
    if (delivered && !wrongShard) {
      metrics?.userRecordPut(stream, record.shardId, record.attempts, record.record.bytes);
      this.o.settle(record, result, code);
      return false;
    }
    if (!this.failing && this.backoff.canRetry(record)) {
      (wrongShard ? misplaced : again).push(record);
      metrics?.retried(stream, record.shardId, 1);
      return true;
    }
    // Out of attempts: a misplaced record still landed (a consumer reading that shard may keep it).
    if (delivered) metrics?.userRecordPut(stream, record.shardId, record.attempts, record.record.bytes);
    else metrics?.userRecordFailed(stream, record.shardId, code);
    this.o.settle(record, result, code);
    return false;
  }
}
