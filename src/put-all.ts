import { Observable } from 'rxjs';
import { withUnsent } from './errors.js';
import type { PutRecordsEmission, ToKinesisOptions } from './options.js';
import { KinesisProducer } from './producer.js';
import type { KinesisRecordInput } from './records.js';

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
export function putAll<T = KinesisRecordInput>(
  source: AsyncIterable<T> | Iterable<T>,
  options: ToKinesisOptions<T>,
): Observable<PutRecordsEmission<T>> {
  return new Observable<PutRecordsEmission<T>>((subscriber) => {
    const producer = new KinesisProducer<T>(options, (emission) => subscriber.next(emission));
    let cancelled = false;

    void (async () => {
      let stopReason: unknown;
      // Pulled from the source but not (yet) taken by the producer: if the pipeline fails, it is unsent too.
      let inHand: T[] = [];
      try {
        for await (const item of source) {
          if (cancelled) return;
          inHand = [item];
          await producer.put(item);
          inHand = [];
        }
      } catch (error) {
        if (cancelled) return;
        stopReason = error;
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
