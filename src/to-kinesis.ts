import { Observable, Subject, takeUntil, type OperatorFunction } from 'rxjs';
import { KinesisSinkError, withUnsent } from './errors.js';
import { PUSHED_SOURCE_BUFFER_BYTES, type SpooledOptions, type ToKinesisOptions } from './options.js';
import { resolveOptions } from './resolve-options.js';
import type { SpooledRecord } from './pipeline/spooled-record.js';
import type { EmissionOf } from './pipeline/emissions.js';
import { KinesisProducer } from './pipeline/producer.js';
import { InvalidRecordError, type KinesisRecordInput } from './kinesis/records.js';

/**
 * Writes an Observable's items to a Kinesis data stream and emits one {@link PutRecordsEmission} per
 * PutRecords response, retries included. Records are validated, routed to their shard by MD5 of the
 * partition key (or `ExplicitHashKey`), held under each shard's quota by token buckets, collected into
 * requests of at most 500 records / 5 MiB, and failed entries alone are retried with backoff.
 *
 * Completes after the source completes and every item is delivered or finally failed. Errors with:
 * - `InvalidRecordError` when an item can never be accepted (unless `onInvalidRecord` is set), after
 *   everything accepted before it has been sent;
 * - `KinesisSinkError` when Kinesis cannot be written to, with every undelivered item in `unsent`:
 *   `FATAL_REQUEST_ERROR` for a fatal code (unknown stream — at startup too —, access denied, KMS),
 *   `RETRIES_EXHAUSTED` / `SHARD_MAP_FAILED` once the records' budget has run out (see README, "When
 *   things go wrong");
 * - the source's own error, after everything accepted has been sent;
 * - `KinesisSinkError` `DRAIN_TIMEOUT` when `drainTimeoutMs` passed after the source ended: requests in
 *   flight are aborted and every item not delivered is in `unsent` (aborted ones may have been applied).
 *
 * To shut down gracefully, end the source — `takeUntil(fromEvent(process, 'SIGTERM'))` — and set
 * `drainTimeoutMs` (see README, "Shutting down"). Unsubscribing stops at once: it cancels requests in
 * flight, clears every timer, and reports nothing more.
 *
 * With `spool` ({@link SpooledOptions}), items are appended to a durable spool on disk and the emissions
 * carry `SpooledRecord`s; a hot source that outruns the appends past `maxBufferedRecords`/`Bytes` ends
 * with `BUFFER_OVERFLOW` as without one.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { interval, map, take } from 'rxjs';
 * import { toKinesis } from 'rx-kinesis';
 *
 * const client = new KinesisClient({});
 * interval(10)
 *   .pipe(
 *     take(1000),
 *     map((i) => ({ PartitionKey: `device-${i % 20}`, Data: JSON.stringify({ i, t: Date.now() }) })),
 *     toKinesis({ client, streamName: 'sensors' }),
 *   )
 *   .subscribe((e) => console.log(`${e.response.FailedRecordCount} of ${e.items.length} failed`));
 * ```
 */
export function toKinesis<T = KinesisRecordInput, A extends boolean = false>(
  options: SpooledOptions<T, A>,
): OperatorFunction<T, EmissionOf<SpooledRecord, A>>;
export function toKinesis<T = KinesisRecordInput, A extends boolean = false>(
  options: ToKinesisOptions<T, A>,
): OperatorFunction<T, EmissionOf<T, A>>;
export function toKinesis<T = KinesisRecordInput, A extends boolean = false>(
  options: ToKinesisOptions<T, A> | SpooledOptions<T, A>,
): OperatorFunction<T, EmissionOf<T, A>> {
  // One code path for both: with a spool, the items emitted are SpooledRecords (the overloads say so).
  const pushed: ToKinesisOptions<T, A> = {
    ...options,
    maxBufferedBytes: options.maxBufferedBytes ?? PUSHED_SOURCE_BUFFER_BYTES,
  };
  resolveOptions(pushed); // a misconfiguration fails where the pipeline is built, not at first item
  return (source) =>
    new Observable<EmissionOf<T, A>>((subscriber) => {
      // takeUntil lets us leave a synchronous source mid-emission; `stopReason` says why we left.
      const stop = new Subject<void>();
      let stopReason: unknown;
      // When the pipeline fails (a fatal request error), leave the source at once: the error is reported
      // now, not whenever a long-lived source completes, and no item arrives once `unsent` is settled.
      const producer = new KinesisProducer<T, A>(
        pushed,
        (emission) => subscriber.next(emission),
        () => stop.next(),
      );

      // The drain's deadline (`drainTimeoutMs`) starts when the source ends, however it ends.
      const finish = (error?: unknown) =>
        producer.close({ deadlineMs: options.drainTimeoutMs }).then(
          () => (error === undefined ? subscriber.complete() : subscriber.error(error)),
          // The item the source was left at (it did not fit, or was invalid) was not delivered either.
          (failure) => subscriber.error(withUnsent(failure, itemsOf<T>(error))),
        );

      const subscription = source.pipe(takeUntil(stop)).subscribe({
        next: (item) => {
          const outcome = producer.offer(item);
          if (outcome === 'accepted') return;
          if (outcome === 'full') {
            stopReason = new KinesisSinkError<T>(
              'BUFFER_OVERFLOW',
              'the source pushed more than maxBufferedRecords/maxBufferedBytes can hold; ' +
                'raise them, slow the source, or feed a cold source through putAll()',
              [item],
            );
          } else if (options.onInvalidRecord) {
            options.onInvalidRecord(outcome);
            return;
          } else {
            stopReason = outcome;
          }
          stop.next();
        },
        error: (error) => void finish(error),
        complete: () => void finish(stopReason),
      });

      return () => {
        subscription.unsubscribe();
        producer.destroy();
      };
    });
}

/** The items a stop reason carries: the one that did not fit, or the invalid one. */
function itemsOf<T>(stopReason: unknown): readonly T[] {
  if (stopReason instanceof InvalidRecordError) return [stopReason.item as T];
  if (stopReason instanceof KinesisSinkError) return stopReason.unsent as readonly T[];
  return [];
}
