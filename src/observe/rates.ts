import type { MetricsSnapshot, StreamMetrics, Summary } from './snapshot.js';

/**
 * One stream's rates between two snapshots: counters per second, and the mean request and buffering time
 * of what happened in between (0 when nothing did).
 *
 * @example
 * ```ts
 * const r: StreamRates = rates(before, after).streams['sensors'];
 * console.log(`${r.userRecordsPut.toFixed(0)} records/s, ${r.requestTime.toFixed(1)} ms per request`);
 * ```
 */
export interface StreamRates {
  /** Per second. */
  userRecordsReceived: number;
  /** Per second. */
  userRecordsPut: number;
  /** Bytes per second. */
  userRecordsDataPut: number;
  /** Per second. */
  userRecordsFailed: number;
  /** Per second. */
  kinesisRecordsPut: number;
  /** Bytes per second. */
  kinesisRecordsDataPut: number;
  /** User records affected by errors, per second. */
  allErrors: number;
  /** Per second. */
  throttles: number;
  /** Per second. */
  retries: number;
  /** PutRecords requests per second. */
  requests: number;
  /** Mean milliseconds of the requests that finished in between. */
  requestTime: number;
  /** Mean milliseconds of the user records first sent in between. */
  bufferingTime: number;
}

/**
 * Rates between two snapshots of one `KinesisMetrics`, per stream of the later one.
 *
 * @example
 * ```ts
 * metrics.metrics$.pipe(pairwise(), map(([a, b]) => rates(a, b))).subscribe((r) => console.log(r));
 * ```
 */
export interface MetricsRates {
  /** Milliseconds between the two snapshots. */
  intervalMs: number;
  streams: Record<string, StreamRates>;
}

type CounterKey = {
  [K in keyof StreamMetrics & keyof StreamRates]: StreamMetrics[K] extends number ? K : never;
}[keyof StreamMetrics & keyof StreamRates];

const EMPTY_SUMMARY: Summary = { count: 0, sum: 0, min: 0, max: 0, mean: 0 };

/**
 * Per-second rates (and interval means) between two snapshots: `prev` taken before `next`. A stream new in
 * `next` counts from 0. With no time in between, every rate is 0.
 *
 * @example
 * ```ts
 * import { map, pairwise } from 'rxjs';
 * metrics.metrics$
 *   .pipe(pairwise(), map(([prev, next]) => rates(prev, next).streams['sensors']))
 *   .subscribe((r) => r && console.log(`${r.userRecordsPut.toFixed(0)} records/s put`));
 * ```
 */
export function rates(prev: MetricsSnapshot, next: MetricsSnapshot): MetricsRates {
  const intervalMs = next.time - prev.time;
  const perSecond = intervalMs > 0 ? 1000 / intervalMs : 0;
  const streams: Record<string, StreamRates> = {};
  for (const [name, b] of Object.entries(next.streams)) {
    const a: StreamMetrics | undefined = prev.streams[name];
    const rate = (k: CounterKey) => (b[k] - (a?.[k] ?? 0)) * perSecond;
    const mean = (x: Summary, y: Summary = EMPTY_SUMMARY) =>
      x.count > y.count ? (x.sum - y.sum) / (x.count - y.count) : 0;
    streams[name] = {
      userRecordsReceived: rate('userRecordsReceived'),
      userRecordsPut: rate('userRecordsPut'),
      userRecordsDataPut: rate('userRecordsDataPut'),
      userRecordsFailed: rate('userRecordsFailed'),
      kinesisRecordsPut: rate('kinesisRecordsPut'),
      kinesisRecordsDataPut: rate('kinesisRecordsDataPut'),
      allErrors: rate('allErrors'),
      throttles: rate('throttles'),
      retries: rate('retries'),
      requests: (b.requestTime.count - (a?.requestTime.count ?? 0)) * perSecond,
      requestTime: mean(b.requestTime, a?.requestTime),
      bufferingTime: mean(b.bufferingTime, a?.bufferingTime),
    };
  }
  return { intervalMs, streams };
}
