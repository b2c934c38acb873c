/**
 * The KPL's metrics, per stream and per shard, kept by counters that producers bump as things happen and
 * read only when asked: `snapshot()`, the `metrics$` Observable, or an OpenTelemetry collection. Nothing
 * polls; the only timer is `metrics$`'s own, and it lives exactly as long as a subscription.
 */
import {
  asyncScheduler,
  defer,
  EMPTY,
  map,
  Subject,
  takeUntil,
  timer,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { add, codeKey, StreamCounters, THROTTLED } from './counters.js';
import {
  importOpenTelemetryApi,
  loadGlobalMeter,
  OpenTelemetryPublisher,
  type MeterLike,
  type OpenTelemetryImporter,
} from './otel.js';
import type { MetricsRecorder } from './recorder.js';
import type { MetricsSnapshot, StreamMetrics } from './snapshot.js';
import type { SpoolEvent } from './recorder.js';

export type { MeterLike } from './otel.js';

/**
 * Options of `KinesisMetrics`.
 *
 * @example
 * ```ts
 * const metrics = new KinesisMetrics({ intervalMs: 10_000, openTelemetry: true });
 * ```
 */
export interface KinesisMetricsOptions {
  /** How often `metrics$` emits. Default 1,000 ms. */
  intervalMs?: number;
  /** Time source for `metrics$` and snapshot times; pass a virtual one in tests. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /**
   * Also publish through OpenTelemetry: `true` uses the global meter `rx-kinesis` of `@opentelemetry/api`
   * (an optional peer: without it this is a no-op), or pass your own `Meter`. Default false.
   */
  openTelemetry?: boolean | MeterLike;
}

/**
 * The KPL's metrics for `toKinesis()` pipelines, per stream and per shard: user records received, pending,
 * put and failed; Kinesis records and bytes put; errors by code, throttles, retries; buffering time, request
 * time, records per request. Create one, pass it as the `metrics` option of any number of pipelines (of
 * one stream or several), and read it:
 *
 * - `snapshot()` — everything so far, as a plain object;
 * - `metrics$` — a snapshot on subscribe and then every `intervalMs`, for as long as it is subscribed;
 * - OpenTelemetry — with `openTelemetry: true` (or a `Meter`), the same counters as observable instruments
 *   read when the SDK collects, and histograms of the distributions (see the table below).
 *
 * Metrics hold stream names, shard ids and error codes only: never record data or partition keys. Memory is
 * bounded by the streams and shards written to and at most 64 error codes per stream.
 *
 * | OpenTelemetry instrument                    | kind            | unit        | attributes                   |
 * | ------------------------------------------- | --------------- | ----------- | ---------------------------- |
 * | `rx_kinesis.user_records.received`          | counter         | `{record}`  | stream                       |
 * | `rx_kinesis.user_records.pending`           | up-down counter | `{record}`  | stream                       |
 * | `rx_kinesis.user_records.pending_data`      | up-down counter | `By`        | stream                       |
 * | `rx_kinesis.user_records.put`               | counter         | `{record}`  | stream, shard                |
 * | `rx_kinesis.user_records.data_put`          | counter         | `By`        | stream, shard                |
 * | `rx_kinesis.user_records.failed`            | counter         | `{record}`  | stream, shard?, `error.type` |
 * | `rx_kinesis.kinesis_records.put`            | counter         | `{record}`  | stream, shard                |
 * | `rx_kinesis.kinesis_records.data_put`       | counter         | `By`        | stream, shard                |
 * | `rx_kinesis.errors`                         | counter         | `{record}`  | stream, shard?, `error.type` |
 * | `rx_kinesis.throttles`                      | counter         | `{record}`  | stream, shard?               |
 * | `rx_kinesis.retries`                        | counter         | `{record}`  | stream, shard?               |
 * | `rx_kinesis.requests`                       | counter         | `{request}` | stream                       |
 * | `rx_kinesis.request.duration`               | histogram       | `s`         | stream                       |
 * | `rx_kinesis.request.kinesis_records`        | histogram       | `{record}`  | stream                       |
 * | `rx_kinesis.request.user_records`           | histogram       | `{record}`  | stream                       |
 * | `rx_kinesis.user_record.buffering.duration` | histogram       | `s`         | stream, shard                |
 * | `rx_kinesis.user_record.retries`            | histogram       | `{retry}`   | stream, shard                |
 * | `rx_kinesis.kinesis_record.user_records`    | histogram       | `{record}`  | stream, shard                |
 *
 * stream is `aws.kinesis.stream_name`, shard `aws.kinesis.shard_id`; "shard?" means records no shard was
 * known for (a whole request failed) are reported without it. Counters are observable (asynchronous),
 * histograms are recorded as things happen, from the moment the meter is bound.
 *
 * @example
 * ```ts
 * const metrics = new KinesisMetrics({ intervalMs: 5_000 });
 * readings$.pipe(toKinesis({ client, streamName: 'sensors', metrics })).subscribe();
 * metrics.metrics$.subscribe((m) => {
 *   const s = m.streams['sensors'];
 *   if (s) console.log(`${s.userRecordsPut} put, ${s.userRecordsPending} pending, ${s.throttles} throttled`);
 * });
 * ```
 */
export class KinesisMetrics implements MetricsRecorder {
  /**
   * A snapshot on subscribe, then one every `intervalMs` for as long as it is subscribed. Each subscription
   * has its own timer, which unsubscribing (or `close()`) removes: nothing is left to keep Node alive.
   */
  readonly metrics$: Observable<MetricsSnapshot>;
  /**
   * Resolves true once the metrics are published through OpenTelemetry; false when that was not asked for,
   * `@opentelemetry/api` could not be loaded, or `close()` came first. Never rejects.
   */
  readonly openTelemetryReady: Promise<boolean>;

  private readonly streams = new Map<string, StreamCounters>();
  private readonly scheduler: SchedulerLike;
  private readonly intervalMs: number;
  private readonly closing = new Subject<void>();
  private closed = false;
  private otel: OpenTelemetryPublisher | undefined;
  // Calls come in runs for one stream (usually there is only one): skip the lookup.
  private lastStreamName: string | undefined;
  private lastStream: StreamCounters | undefined;

  constructor(
    options: KinesisMetricsOptions = {},
    /** @internal Loads `@opentelemetry/api`; specs pass one that fails, as when the package is absent. */
    importApi: OpenTelemetryImporter = importOpenTelemetryApi,
  ) {
    const intervalMs = options.intervalMs ?? 1000;
    if (typeof intervalMs !== 'number' || !(intervalMs > 0) || intervalMs === Infinity) {
      throw new RangeError(`KinesisMetrics: intervalMs must be a positive number, got ${intervalMs}`);
    }
    this.intervalMs = intervalMs;
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.metrics$ = defer(() =>
      this.closed ? EMPTY : timer(0, this.intervalMs, this.scheduler).pipe(takeUntil(this.closing)),
    ).pipe(map(() => this.snapshot()));

    const otel = options.openTelemetry;
    if (otel === undefined || otel === false) {
      this.openTelemetryReady = Promise.resolve(false);
    } else if (otel === true) {
      this.openTelemetryReady = loadGlobalMeter(importApi).then(
        (meter) => meter !== undefined && this.bind(meter),
        () => false,
      );
    } else {
      // A meter given is bound now, so that histograms miss nothing; a broken one throws here, not later.
      this.openTelemetryReady = Promise.resolve(this.bind(otel));
    }
  }

  private bind(meter: MeterLike): boolean {
    if (this.closed) return false;
    this.otel = new OpenTelemetryPublisher(meter, () => this.streams.values());
    return true;
  }

  private stream(name: string): StreamCounters {
    if (name === this.lastStreamName) return this.lastStream!;
    let stream = this.streams.get(name);
    if (stream === undefined) {
      stream = new StreamCounters(name);
      this.streams.set(name, stream);
    }
    this.lastStreamName = name;
    return (this.lastStream = stream);
  }

  /**
   * Everything counted so far, per stream and shard, with the pending gauges read from the attached
   * producers now. A fresh copy each time.
   *
   * @example
   * ```ts
   * const { userRecordsPut, userRecordsFailed } = metrics.snapshot().streams['sensors'] ?? {};
   * ```
   */
  snapshot(): MetricsSnapshot {
    const streams: Record<string, StreamMetrics> = {};
    for (const [name, stream] of this.streams) streams[name] = stream.metrics();
    return { time: this.scheduler.now(), streams };
  }

  /**
   * Stops publishing: completes `metrics$` for every subscriber (and any later one) and unregisters from
   * OpenTelemetry, so that the meter no longer holds these metrics. Counting goes on: `snapshot()` still
   * works for pipelines that are still running.
   *
   * @example
   * ```ts
   * await lastValueFrom(source$.pipe(toKinesis({ client, streamName: 'sensors', metrics })), { defaultValue: 0 });
   * metrics.close();
   * ```
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing.next();
    this.closing.complete();
    this.otel?.close();
    this.otel = undefined;
  }

  /** @internal See {@link MetricsRecorder.received}. */
  received(stream: string, count: number): void {
    this.stream(stream).received += count;
  }

  /** @internal See {@link MetricsRecorder.buffered}. */
  buffered(stream: string, shardId: string, ms: number): void {
    const s = this.stream(stream);
    const shard = s.shard(shardId);
    s.total.bufferingTime.add(ms);
    shard.bufferingTime.add(ms);
    this.otel?.bufferingDuration.record(ms / 1000, shard.attributes);
  }

  /** @internal See {@link MetricsRecorder.request}. */
  request(stream: string, ms: number, kinesisRecords: number, userRecords: number): void {
    const s = this.stream(stream);
    s.requestTime.add(ms);
    s.kinesisRecordsPerRequest.add(kinesisRecords);
    s.userRecordsPerRequest.add(userRecords);
    const otel = this.otel;
    if (otel) {
      const a = s.total.attributes;
      otel.requestDuration.record(ms / 1000, a);
      otel.requestKinesisRecords.record(kinesisRecords, a);
      otel.requestUserRecords.record(userRecords, a);
    }
  }

  /** @internal See {@link MetricsRecorder.kinesisRecordPut}. */
  kinesisRecordPut(stream: string, shardId: string, userRecords: number, bytes: number): void {
    const s = this.stream(stream);
    const shard = s.shard(shardId);
    s.total.kinesisRecordsPut++;
    s.total.kinesisRecordsDataPut += bytes;
    s.total.userRecordsPerKinesisRecord.add(userRecords);
    shard.kinesisRecordsPut++;
    shard.kinesisRecordsDataPut += bytes;
    shard.userRecordsPerKinesisRecord.add(userRecords);
    this.otel?.kinesisRecordUserRecords.record(userRecords, shard.attributes);
  }

  /** @internal See {@link MetricsRecorder.userRecordPut}. */
  userRecordPut(stream: string, shardId: string, attempts: number, bytes: number): void {
    const s = this.stream(stream);
    const shard = s.shard(shardId);
    const retries = attempts - 1;
    s.total.userRecordsPut++;
    s.total.userRecordsDataPut += bytes;
    s.total.retriesPerRecord.add(retries);
    shard.userRecordsPut++;
    shard.userRecordsDataPut += bytes;
    shard.retriesPerRecord.add(retries);
    this.otel?.userRecordRetries.record(retries, shard.attributes);
  }

  /** @internal See {@link MetricsRecorder.error}. */
  error(stream: string, shardId: string | undefined, code: string, userRecords: number): void {
    const s = this.stream(stream);
    const shard = s.shard(shardId);
    // The stream's total decides which codes are kept, so every shard's codes are among the stream's.
    const key = codeKey(code, s.total.errorsByCode);
    add(s.total.errorsByCode, key, userRecords);
    add(shard.errorsByCode, key, userRecords);
    s.total.allErrors += userRecords;
    shard.allErrors += userRecords;
    if (code === THROTTLED) {
      s.total.throttles += userRecords;
      shard.throttles += userRecords;
    }
  }

  /** @internal See {@link MetricsRecorder.retried}. */
  retried(stream: string, shardId: string | undefined, count: number): void {
    const s = this.stream(stream);
    s.total.retries += count;
    s.shard(shardId).retries += count;
  }

  /** @internal See {@link MetricsRecorder.userRecordFailed}. */
  userRecordFailed(stream: string, shardId: string | undefined, code: string): void {
    const s = this.stream(stream);
    const shard = s.shard(shardId);
    const key = codeKey(code, s.total.failedByCode);
    add(s.total.failedByCode, key, 1);
    add(shard.failedByCode, key, 1);
    s.total.userRecordsFailed++;
    shard.userRecordsFailed++;
  }

  /** @internal See {@link MetricsRecorder.spool}. */
  spool(stream: string, event: SpoolEvent, count: number): void {
    const s = this.stream(stream);
    s.spool ??= { spooled: 0, replayed: 0, dropped: 0, rejected: 0, lost: 0, corruptions: 0 };
    s.spool[event] += count;
  }

  /** @internal See {@link MetricsRecorder.attach}. */
  attach(stream: string, gauges: () => { pending: number; pendingBytes: number }): () => void {
    return this.stream(stream).attach(gauges);
  }
}
