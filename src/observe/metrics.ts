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
import {
  ATTR_SHARD,
  ATTR_STREAM,
  importOpenTelemetryApi,
  loadGlobalMeter,
  OpenTelemetryPublisher,
  type MeterLike,
  type MetricAttributesLike,
  type OpenTelemetryImporter,
} from './otel.js';

export type { MeterLike } from './otel.js';

const THROTTLED = 'ProvisionedThroughputExceededException';
/**
 * Distinct error codes kept per stream; any further code is counted as `OTHER_ERROR_CODE`. Kinesis has a
 * handful, but whole-request errors are reported by name, and a name must not be able to grow memory.
 */
const MAX_ERROR_CODES = 64;
/**
 * The code under which a stream counts errors once it has 63 distinct codes: memory stays bounded whatever
 * error names come up, and no error goes uncounted.
 *
 * @example
 * ```ts
 * const unnamed = metrics.snapshot().streams['sensors']?.errorsByCode[OTHER_ERROR_CODE] ?? 0;
 * ```
 */
export const OTHER_ERROR_CODE = 'Other';

/**
 * What producers call as things happen; `KinesisMetrics` implements it. Every method is a few counter
 * increments and map lookups, cheap enough to call per user record. Not meant to be called by users.
 *
 * A user record is an item as given to `toKinesis()`; a Kinesis record is an entry of a PutRecords request,
 * which may be an aggregate holding several user records.
 *
 * @internal
 * @example
 * ```ts
 * const recorder: MetricsRecorder = new KinesisMetrics();
 * recorder.received('sensors', 1);
 * recorder.userRecordPut('sensors', 'shardId-000000000000', 1, 120);
 * ```
 */
export interface MetricsRecorder {
  /** `count` user records accepted into a producer's buffer. */
  received(stream: string, count: number): void;
  /** A user record sent for the first time, `ms` after it was accepted (KPL BufferingTime). */
  buffered(stream: string, shardId: string, ms: number): void;
  /** A PutRecords request finished (response or request error) after `ms`, carrying `kinesisRecords` entries that hold `userRecords` user records. */
  request(stream: string, ms: number, kinesisRecords: number, userRecords: number): void;
  /** One Kinesis record (plain or aggregate) delivered to `shardId`, holding `userRecords` user records, `bytes` = its data + partition key bytes. */
  kinesisRecordPut(stream: string, shardId: string, userRecords: number, bytes: number): void;
  /** One user record delivered after `attempts` sends (1 = first try); `bytes` = its own data + key bytes. */
  userRecordPut(stream: string, shardId: string, attempts: number, bytes: number): void;
  /** An error: an entry's ErrorCode (shardId known) or a whole request's error name (shardId undefined), affecting `userRecords` user records. 'ProvisionedThroughputExceededException' also counts as a throttle. */
  error(stream: string, shardId: string | undefined, code: string, userRecords: number): void;
  /** `count` user records will be sent again. */
  retried(stream: string, shardId: string | undefined, count: number): void;
  /** One user record finally failed with `code` (an ErrorCode, or e.g. 'RETRIES_EXHAUSTED', 'FATAL_REQUEST_ERROR'). */
  userRecordFailed(stream: string, shardId: string | undefined, code: string): void;
  /** A producer starts reporting gauges for `stream`; returns a function that detaches it (call on end/destroy). Gauges are read only when a snapshot is taken (pull, never polled). */
  attach(stream: string, gauges: () => { pending: number; pendingBytes: number }): () => void;
}

/**
 * A distribution: how many values, their sum, least, greatest and mean. With no values yet, `min`, `max`
 * and `mean` are 0 (not `undefined` or `Infinity`), so a snapshot survives `JSON.stringify` whole.
 *
 * @example
 * ```ts
 * const { requestTime } = metrics.snapshot().streams['sensors'];
 * console.log(`${requestTime.count} requests, mean ${requestTime.mean} ms, worst ${requestTime.max} ms`);
 * ```
 */
export interface Summary {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
}

/**
 * One shard's metrics, cumulative since the `KinesisMetrics` was created. Counts of records are of user
 * records unless named `kinesisRecords…`. Bytes are data + partition key.
 *
 * @example
 * ```ts
 * for (const [shardId, shard] of Object.entries(metrics.snapshot().streams['sensors'].shards)) {
 *   console.log(shardId, shard.userRecordsPut, shard.throttles);
 * }
 * ```
 */
export interface ShardMetrics {
  /** User records delivered (KPL UserRecordsPut). */
  userRecordsPut: number;
  /** Their bytes (KPL UserRecordsDataPut). */
  userRecordsDataPut: number;
  /** User records finally failed: out of attempts or TTL, or a fatal error. */
  userRecordsFailed: number;
  /** Those, by the code they failed with (an ErrorCode, or `RETRIES_EXHAUSTED`, `FATAL_REQUEST_ERROR`, …). */
  userRecordsFailedByCode: Record<string, number>;
  /** Kinesis records delivered: plain records and aggregates (KPL KinesisRecordsPut). */
  kinesisRecordsPut: number;
  /** Their bytes (KPL KinesisRecordsDataPut). */
  kinesisRecordsDataPut: number;
  /** User records affected by an error, by code: per-entry ErrorCodes and whole-request error names. */
  errorsByCode: Record<string, number>;
  /** User records affected by any error: the sum of `errorsByCode`. */
  allErrors: number;
  /** User records refused with `ProvisionedThroughputExceededException`. */
  throttles: number;
  /** User record sends that were retries. */
  retries: number;
  /** Over delivered user records: sends − 1 (0 when delivered first time). */
  retriesPerRecord: Summary;
  /** Milliseconds from a user record being accepted to its first send (KPL BufferingTime). */
  bufferingTime: Summary;
  /** Over delivered Kinesis records: the user records each held (1 unless aggregated). */
  userRecordsPerKinesisRecord: Summary;
}

/**
 * One stream's metrics: its totals (the `ShardMetrics` fields, summed over its shards plus anything no
 * shard was known for, such as a request that failed as a whole), what is pending now, request metrics,
 * and each shard written to.
 *
 * @example
 * ```ts
 * const s = metrics.snapshot().streams['sensors'];
 * console.log(`${s.userRecordsPending} pending, ${s.userRecordsPut} put, ${s.userRecordsFailed} failed`);
 * ```
 */
export interface StreamMetrics extends ShardMetrics {
  /** User records accepted into a buffer (KPL UserRecordsReceived). */
  userRecordsReceived: number;
  /** Now: user records accepted and not yet finally delivered or failed, over the attached producers. */
  userRecordsPending: number;
  /** Now: their bytes. */
  pendingBytes: number;
  /** Milliseconds per PutRecords request, response or error; `count` is the number of requests. */
  requestTime: Summary;
  /** Kinesis records per request (KPL KinesisRecordsPerPutRecordsRequest). */
  kinesisRecordsPerRequest: Summary;
  /** User records per request. */
  userRecordsPerRequest: Summary;
  /** Per shard id, for the shards written to. */
  shards: Record<string, ShardMetrics>;
}

/**
 * Everything `KinesisMetrics` has counted, as a plain object: JSON-serialisable, and a copy (changing it
 * changes nothing else).
 *
 * @example
 * ```ts
 * const snap: MetricsSnapshot = metrics.snapshot();
 * writeFileSync('metrics.json', JSON.stringify(snap));
 * ```
 */
export interface MetricsSnapshot {
  /** When it was taken: the scheduler's `now()`, milliseconds. */
  time: number;
  /** Per stream, as the producers name it (the stream name, or the ARN when given only that). */
  streams: Record<string, StreamMetrics>;
}

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

/** A running distribution; min and max start at ±Infinity and are reported as 0 while empty. */
class Stat {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  add(value: number): void {
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  summary(): Summary {
    const n = this.count;
    return n === 0
      ? { count: 0, sum: 0, min: 0, max: 0, mean: 0 }
      : { count: n, sum: this.sum, min: this.min, max: this.max, mean: this.sum / n };
  }
}

/**
 * The counters of one shard, of a stream's records no shard was known for, or of a whole stream.
 * @internal Exported for the OpenTelemetry publisher only.
 */
export class Counts {
  userRecordsPut = 0;
  userRecordsDataPut = 0;
  userRecordsFailed = 0;
  kinesisRecordsPut = 0;
  kinesisRecordsDataPut = 0;
  allErrors = 0;
  throttles = 0;
  retries = 0;
  readonly failedByCode = new Map<string, number>();
  readonly errorsByCode = new Map<string, number>();
  readonly retriesPerRecord = new Stat();
  readonly bufferingTime = new Stat();
  readonly userRecordsPerKinesisRecord = new Stat();

  /** OpenTelemetry attributes, made once so that recording allocates nothing. */
  constructor(readonly attributes: MetricAttributesLike) {}

  metrics(): ShardMetrics {
    return {
      userRecordsPut: this.userRecordsPut,
      userRecordsDataPut: this.userRecordsDataPut,
      userRecordsFailed: this.userRecordsFailed,
      userRecordsFailedByCode: Object.fromEntries(this.failedByCode),
      kinesisRecordsPut: this.kinesisRecordsPut,
      kinesisRecordsDataPut: this.kinesisRecordsDataPut,
      errorsByCode: Object.fromEntries(this.errorsByCode),
      allErrors: this.allErrors,
      throttles: this.throttles,
      retries: this.retries,
      retriesPerRecord: this.retriesPerRecord.summary(),
      bufferingTime: this.bufferingTime.summary(),
      userRecordsPerKinesisRecord: this.userRecordsPerKinesisRecord.summary(),
    };
  }
}

type Gauges = () => { pending: number; pendingBytes: number };

/**
 * One stream's counters: its total, each shard's, and those of records with no shard known.
 * @internal Exported for the OpenTelemetry publisher only.
 */
export class StreamState {
  received = 0;
  readonly total: Counts;
  readonly unsharded: Counts;
  readonly shards = new Map<string, Counts>();
  readonly requestTime = new Stat();
  readonly kinesisRecordsPerRequest = new Stat();
  readonly userRecordsPerRequest = new Stat();
  /** One entry per attach, so the same function attached twice counts twice and detaches once each. */
  private readonly attached = new Set<{ read: Gauges }>();
  // Calls come in runs for one shard (a response's entries are mostly in shard order): skip the lookup.
  private lastShardId: string | undefined;
  private lastShard: Counts | undefined;

  constructor(readonly name: string) {
    this.total = new Counts({ [ATTR_STREAM]: name });
    this.unsharded = new Counts(this.total.attributes);
  }

  shard(shardId: string | undefined): Counts {
    if (shardId === undefined) return this.unsharded;
    if (shardId === this.lastShardId) return this.lastShard!;
    let shard = this.shards.get(shardId);
    if (shard === undefined) {
      shard = new Counts({ [ATTR_STREAM]: this.name, [ATTR_SHARD]: shardId });
      this.shards.set(shardId, shard);
    }
    this.lastShardId = shardId;
    return (this.lastShard = shard);
  }

  attach(read: Gauges): () => void {
    const entry = { read };
    this.attached.add(entry);
    return () => void this.attached.delete(entry);
  }

  gauges(): { pending: number; pendingBytes: number } {
    let pending = 0;
    let pendingBytes = 0;
    for (const { read } of this.attached) {
      const g = read();
      pending += g.pending;
      pendingBytes += g.pendingBytes;
    }
    return { pending, pendingBytes };
  }

  metrics(): StreamMetrics {
    const gauges = this.gauges();
    const shards: Record<string, ShardMetrics> = {};
    for (const [id, shard] of this.shards) shards[id] = shard.metrics();
    return {
      userRecordsReceived: this.received,
      userRecordsPending: gauges.pending,
      pendingBytes: gauges.pendingBytes,
      ...this.total.metrics(),
      requestTime: this.requestTime.summary(),
      kinesisRecordsPerRequest: this.kinesisRecordsPerRequest.summary(),
      userRecordsPerRequest: this.userRecordsPerRequest.summary(),
      shards,
    };
  }
}

/** The key to count `code` under in a stream total's `byCode`: itself, unless the stream has all it may keep. */
function codeKey(code: string, byCode: Map<string, number>): string {
  return byCode.has(code) || byCode.size < MAX_ERROR_CODES - 1 ? code : OTHER_ERROR_CODE;
}

function add(byCode: Map<string, number>, key: string, n: number): void {
  byCode.set(key, (byCode.get(key) ?? 0) + n);
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

  private readonly streams = new Map<string, StreamState>();
  private readonly scheduler: SchedulerLike;
  private readonly intervalMs: number;
  private readonly closing = new Subject<void>();
  private closed = false;
  private otel: OpenTelemetryPublisher | undefined;
  // Calls come in runs for one stream (usually there is only one): skip the lookup.
  private lastStreamName: string | undefined;
  private lastStream: StreamState | undefined;

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

  private stream(name: string): StreamState {
    if (name === this.lastStreamName) return this.lastStream!;
    let stream = this.streams.get(name);
    if (stream === undefined) {
      stream = new StreamState(name);
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

  /** @internal See {@link MetricsRecorder.attach}. */
  attach(stream: string, gauges: () => { pending: number; pendingBytes: number }): () => void {
    return this.stream(stream).attach(gauges);
  }
}

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
