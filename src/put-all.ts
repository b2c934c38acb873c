import { Observable } from 'rxjs';
import { withUnsent } from './errors.js';
import type { ToKinesisOptions } from './options.js';
import type { EmissionOf } from './pipeline/emissions.js';
import { KinesisProducer } from './pipeline/producer.js';
import type { KinesisRecordInput } from './kinesis/records.js';

/**
 * Like `from(source).pipe(toKinesis(options))`, but pulls the next item only while the buffer has room:
 * a fast cold source (a million lines of a file, a database cursor) is written with bounded memory,
 * `maxBufferedRecords` / `maxBufferedBytes`, instead of being read ahead.
 *
 * @example
 * ```ts
 * async function* readings() {
 *   for (let i = 0; i < 1_000_000; i++) yield { PartitionKey: `d${i % 100}`, Data: `{"i":${i}}` };
 * }
 * putAll(readings(), { client, streamName: 'sensors', maxBufferedRecords: 10_000 }).subscribe({
 *   complete: () => console.log('all sent'),
 * });
 * ```
 */
export function putAll<T = KinesisRecordInput, A extends boolean = false>(
  source: AsyncIterable<T> | Iterable<T>,
  options: ToKinesisOptions<T, A>,
): Observable<EmissionOf<T, A>> {
  return new Observable<EmissionOf<T, A>>((subscriber) => {
    // A fatal error must end the Observable at once, not when a slow source next yields: each wait for the
    // source's next item can also be woken by the failure. (Not Promise.race against one long-lived promise:
    // every race would leave a reaction on it holding its item, a million items never collected — measured.)
    let hasFailed = false;
    let wakeOnFailure: ((failed: 'failed') => void) | undefined;
    const producer = new KinesisProducer<T, A>(
      options,
      (emission) => subscriber.next(emission),
      () => {
        hasFailed = true;
        wakeOnFailure?.('failed');
      },
    );
    let cancelled = false;

    void (async () => {
      let stopReason: unknown;
      // Pulled from the source but not (yet) taken by the producer: if the pipeline fails, it is unsent too.
      let inHand: T[] = [];
      const iterator =
        Symbol.asyncIterator in source
          ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
          : (source as Iterable<T>)[Symbol.iterator]();
      try {
        for (;;) {
          const next = await new Promise<IteratorResult<T> | 'failed'>((resolve, reject) => {
            if (hasFailed) return resolve('failed');
            wakeOnFailure = resolve;
            Promise.resolve(iterator.next()).then(resolve, reject);
          });
          wakeOnFailure = undefined;
          if (cancelled) return;
          if (next === 'failed') break;
          if (next.done) break;
          inHand = [next.value];
          await producer.put(next.value);
          inHand = [];
        }
      } catch (error) {
        if (cancelled) return;
        stopReason = error;
      } finally {
        // Leaving early: let the source clean up (close its file, cursor...), as for-await would.
        if (cancelled || hasFailed || stopReason !== undefined) {
          void Promise.resolve(iterator.return?.()).catch(() => {});
        }
      }
      producer.end().then(
        () => (stopReason === undefined ? subscriber.complete() : subscriber.error(stopReason)),
        (failure) => subscriber.error(withUnsent(failure, inHand)),
      );
    })();

    return () => {
      cancelled = true;
      producer.destroy();
    };
  });
}
