import { Observable } from 'rxjs';
import { withUnsent } from './errors.js';
import type { ToKinesisOptions } from './options.js';
import { resolveOptions } from './resolve-options.js';
import type { SpooledRecord } from './pipeline/spooled-record.js';
import type { SpoolOptions } from './spool/index.js';
import type { EmissionOf } from './pipeline/emissions.js';
import { KinesisProducer } from './pipeline/producer.js';
import type { KinesisRecordInput } from './kinesis/records.js';

/**
 * Options of `putAll()`: those of `toKinesis()`, and a `signal` to stop pulling.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * process.once('SIGTERM', () => stop.abort());
 * const options: PutAllOptions = { client, streamName: 'sensors', signal: stop.signal, drainTimeoutMs: 10_000 };
 * ```
 */
export type PutAllOptions<T = KinesisRecordInput, A extends boolean = false> = ToKinesisOptions<T, A> & {
  /**
   * Stops pulling the source when aborted (a SIGTERM handler, a request's end): no `next()` is called on it
   * again and its `return()` is called; an item already pulled is still taken. What was taken then drains
   * within `drainTimeoutMs`, which starts at the abort, and the Observable completes, or errors with
   * `DRAIN_TIMEOUT` and the items not delivered in `unsent`. Unlike unsubscribing, nothing is dropped.
   */
  signal?: AbortSignal;
};

/**
 * Like `from(source).pipe(toKinesis(options))`, but pulls the next item only while the buffer has room:
 * a fast cold source (a million lines of a file, a database cursor) is written with bounded memory,
 * `maxBufferedRecords` / `maxBufferedBytes`, instead of being read ahead.
 *
 * With `spool` ({@link SpooledOptions}), each item pulled is appended to a durable spool on disk (the
 * source is pulled ahead by at most `maxBufferedRecords`/`Bytes` waiting for their append), a previous
 * process's leftovers are sent first, and the emissions carry `SpooledRecord`s. A drain deadline then
 * leaves what is undelivered in the spool and completes.
 *
 * Stopping: abort `signal` to stop pulling and drain (bounded by `drainTimeoutMs`, from the abort); the
 * source's own end also starts the drain. Unsubscribing stops at once: requests in flight are cancelled
 * and nothing more is reported.
 *
 * If the pipeline fails while the source's `next()` is pending, the error waits for that `next()` to
 * settle, so its item is in the error's `unsent` rather than lost (a source that never yields again holds
 * the error until you unsubscribe).
 *
 * @example
 * ```ts
 * async function* readings() {
 *   for (let i = 0; i < 1_000_000; i++) yield { PartitionKey: `d${i % 100}`, Data: `{"i":${i}}` };
 * }
 * const stop = new AbortController();
 * process.once('SIGTERM', () => stop.abort());
 * putAll(readings(), { client, streamName: 'sensors', signal: stop.signal, drainTimeoutMs: 10_000 }).subscribe({
 *   complete: () => console.log('all sent'),
 *   error: (e) => console.error(`${e.unsent?.length ?? 0} not delivered`),
 * });
 * ```
 */
export function putAll<T = KinesisRecordInput, A extends boolean = false>(
  source: AsyncIterable<T> | Iterable<T>,
  options: PutAllOptions<T, A> & { spool: SpoolOptions },
): Observable<EmissionOf<SpooledRecord, A>>;
export function putAll<T = KinesisRecordInput, A extends boolean = false>(
  source: AsyncIterable<T> | Iterable<T>,
  options: PutAllOptions<T, A>,
): Observable<EmissionOf<T, A>>;
export function putAll<T = KinesisRecordInput, A extends boolean = false>(
  source: AsyncIterable<T> | Iterable<T>,
  options: PutAllOptions<T, A> | (PutAllOptions<T, A> & { spool: SpoolOptions }),
): Observable<EmissionOf<T, A>> {
  resolveOptions(options, 'putAll'); // a misconfiguration fails here, named putAll, not at subscribe
  const { signal, ...producerOptions } = options;
  return new Observable<EmissionOf<T, A>>((subscriber) => {
    // A fatal error must not wait for the buffer or a producer.put(): each wait for the source's next item
    // can also be woken by the failure. (Not Promise.race against one long-lived promise: every race would
    // leave a reaction on it holding its item, a million items never collected — measured.) It does wait for
    // a next() already asked for, whose item belongs in `unsent`: every item ends exactly once.
    // Unsubscribing stops that wait too.
    let hasFailed = false;
    let wakeOnFailure: ((failed: 'failed') => void) | undefined;
    // One code path for both: with a spool, the items emitted are SpooledRecords (the overloads say so).
    const producer = new KinesisProducer<T, A>(
      producerOptions as ToKinesisOptions<T, A>,
      (emission) => subscriber.next(emission),
      () => {
        hasFailed = true;
        wakeOnFailure?.('failed');
      },
    );
    const drainTimeoutMs = options.drainTimeoutMs ?? Infinity;
    let cancelled = false;
    const iterator =
      Symbol.asyncIterator in source
        ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
        : (source as Iterable<T>)[Symbol.iterator]();
    let returned = false;
    // Leaving early: let the source clean up (close its file, cursor...), as for-await would.
    const leave = () => {
      if (returned) return;
      returned = true;
      void Promise.resolve()
        .then(() => iterator.return?.())
        .catch(() => {});
    };
    // The signal: no more pulls; the drain's deadline starts now. A pull under way is still awaited (its
    // item is taken), but `return()` asks the source to end it: a socket or stream iterator answers done
    // at once, and a source that ignores it holds the drain at most until the deadline.
    const onAbort = () => {
      producer.startDeadline(drainTimeoutMs);
      leave();
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    void (async () => {
      let stopReason: unknown;
      // Pulled from the source but not (yet) taken by the producer: if the pipeline fails, it is unsent too.
      let inHand: T[] = [];
      // A next() the failure woke us from: the source may still hand its value over (an async generator
      // mid-step). That value was pulled, so it must end up in `unsent`, never dropped (0.2.0 lost it).
      let pendingNext: Promise<IteratorResult<T>> | undefined;
      try {
        while (!signal?.aborted) {
          const next = await new Promise<IteratorResult<T> | 'failed'>((resolve, reject) => {
            if (hasFailed) return resolve('failed');
            wakeOnFailure = resolve;
            const pulled = Promise.resolve(iterator.next());
            pendingNext = pulled;
            pulled.then(resolve, reject);
          });
          wakeOnFailure = undefined;
          if (cancelled) return;
          if (next === 'failed') {
            const late = await pendingNext?.then(
              (r) => r,
              () => undefined,
            );
            if (cancelled) return;
            if (late && !late.done) inHand = [late.value];
            break;
          }
          pendingNext = undefined;
          if (next.done) break;
          inHand = [next.value];
          // Taken, not yet durable: with a spool, waiting for each append would cost an fsync per item.
          await producer.take(next.value);
          inHand = [];
        }
      } catch (error) {
        if (cancelled) return;
        stopReason = error;
      } finally {
        if (cancelled || hasFailed || stopReason !== undefined || signal?.aborted) leave();
      }
      signal?.removeEventListener('abort', onAbort);
      producer.close({ deadlineMs: drainTimeoutMs }).then(
        () => (stopReason === undefined ? subscriber.complete() : subscriber.error(stopReason)),
        (failure) => subscriber.error(withUnsent(failure, inHand)),
      );
    })();

    return () => {
      cancelled = true;
      signal?.removeEventListener('abort', onAbort);
      producer.destroy();
    };
  });
}
