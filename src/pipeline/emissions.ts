/**
 * What a pipeline emits per PutRecords response, and how the retry stage builds it from the batch sent and
 * the per-record decisions. The types are public (exported by index.ts); the builder is the pipeline's.
 */
import type { PutRecordsInput, PutRecordsOutput } from '@aws-sdk/client-kinesis';
import { membersOf, type Outgoing } from './aggregation.js';
import type { PendingRecord } from './pending.js';

/**
 * One value of `toKinesis()`: a PutRecords call that got a response, retries included. Everything lines up
 * by index: `items[i]` is the source item behind `request.Records[i]`, whose outcome is
 * `response.Records[i]`; `attempts[i]` counts its sends (1 on the first); `retrying[i]` is true where it
 * failed and will be sent again.
 *
 * An item is finally delivered where `response.Records[i].SequenceNumber` is set, and finally failed where
 * `ErrorCode` is set and `retrying[i]` is false.
 *
 * @example
 * ```ts
 * source$.pipe(toKinesis({ client, streamName: 'sensors' })).subscribe((e) => {
 *   e.response.Records?.forEach((r, i) => {
 *     if (r.ErrorCode && !e.retrying[i]) console.warn('gave up on', e.items[i], r.ErrorCode);
 *   });
 * });
 * ```
 */
export interface PutRecordsEmission<T> {
  /** Absent (or false): each `request.Records[i]` is one item. See {@link AggregatedPutRecordsEmission}. */
  readonly aggregated?: false;
  readonly request: PutRecordsInput;
  readonly response: PutRecordsOutput;
  readonly items: readonly T[];
  readonly attempts: readonly number[];
  readonly retrying: readonly boolean[];
}

/**
 * One value of `toKinesis()` when `aggregation` is enabled: `request.Records[i]` is a Kinesis record that
 * carries the items `items[i]` (in the order a KCL consumer reads them back; one item when it went as a
 * plain record), and its outcome `response.Records[i]` applies to all of them. `attempts[i][j]` counts
 * the sends of item `items[i][j]`; `retrying[i][j]` is true where it will be sent again — re-packed with
 * whatever is queued for its shard then, so its next aggregate may differ.
 *
 * An item is finally delivered where `response.Records[i].SequenceNumber` is set and `retrying[i][j]` is
 * false; finally failed where `ErrorCode` is set and `retrying[i][j]` is false. An aggregate that landed on
 * another shard than predicted (a reshard in between) has a SequenceNumber but its items are retrying:
 * some of their keys no longer belong to that shard, and a KCL consumer would drop them there (KPL
 * resends them too).
 *
 * @example
 * ```ts
 * source$.pipe(toKinesis({ client, streamName: 'clicks', aggregation: { enabled: true } })).subscribe((e) => {
 *   const sent = e.items.reduce((n, packed, i) => n + (e.response.Records?.[i].SequenceNumber ? packed.length : 0), 0);
 *   console.log(`${sent} items in ${e.items.length} Kinesis records`);
 * });
 * ```
 */
export interface AggregatedPutRecordsEmission<T> {
  readonly aggregated: true;
  readonly request: PutRecordsInput;
  readonly response: PutRecordsOutput;
  readonly items: readonly (readonly T[])[];
  readonly attempts: readonly (readonly number[])[];
  readonly retrying: readonly (readonly boolean[])[];
}

/**
 * What a pipeline emits: {@link PutRecordsEmission} by default, {@link AggregatedPutRecordsEmission} with
 * aggregation enabled; tell them apart by `aggregated`.
 *
 * @example
 * ```ts
 * const count = (e: KinesisEmission<Item>) => (e.aggregated ? e.items.flat().length : e.items.length);
 * ```
 */
export type KinesisEmission<T> = PutRecordsEmission<T> | AggregatedPutRecordsEmission<T>;

/**
 * The emission type for an `aggregation.enabled` of type `A`: inferred from the options you pass, so
 * `{ enabled: true }` gives {@link AggregatedPutRecordsEmission}, no aggregation gives
 * {@link PutRecordsEmission}, and a `boolean` known only at run time gives their union.
 *
 * @example
 * ```ts
 * type E = EmissionOf<Reading, true>; // AggregatedPutRecordsEmission<Reading>
 * ```
 */
export type EmissionOf<T, A extends boolean> = A extends true
  ? AggregatedPutRecordsEmission<T>
  : PutRecordsEmission<T>;

/**
 * The emission for one response: `retrying[i]` is a flag per Kinesis record when not aggregated, an array
 * of flags (one per member) when aggregated.
 *
 * @example
 * ```ts
 * onEmission(buildEmission(false, batch, request, response, batch.map(() => false)));
 * ```
 */
export function buildEmission<T>(
  aggregated: boolean,
  batch: readonly Outgoing<T>[],
  request: PutRecordsInput,
  response: PutRecordsOutput,
  retrying: readonly (boolean | boolean[])[],
): KinesisEmission<T> {
  if (!aggregated) {
    const records = batch as PendingRecord<T>[];
    const emission: PutRecordsEmission<T> = {
      request,
      response,
      items: records.map((p) => p.item),
      attempts: records.map((p) => p.attempts),
      retrying: retrying as boolean[],
    };
    return emission;
  }
  const emission: AggregatedPutRecordsEmission<T> = {
    aggregated: true,
    request,
    response,
    items: batch.map((unit) => membersOf(unit).map((p) => p.item)),
    attempts: batch.map((unit) => membersOf(unit).map((p) => p.attempts)),
    retrying: retrying as boolean[][],
  };
  return emission;
}
