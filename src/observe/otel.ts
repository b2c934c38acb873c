/**
 * Publishing `KinesisMetrics` through OpenTelemetry. `@opentelemetry/api` is an optional peer: nothing here
 * imports it statically. A meter is either passed in or found with a dynamic `import()` that quietly comes
 * to nothing when the package is absent. The types below are structural so that the published `.d.ts` does
 * not name the package either: a real `Meter` fits them.
 *
 * Counters are observable instruments, read from the live counters when the SDK collects: pull-based, so
 * publishing adds no timer. Distributions (times, retries, records per request) are histograms recorded as
 * events happen; OpenTelemetry has no observable histogram.
 */
import type { Counts, StreamCounters } from './counters.js';

/** Attribute values rx-kinesis reports: stream names, shard ids and error codes only. */
export type MetricAttributesLike = Record<string, string>;

/** What rx-kinesis needs of an OpenTelemetry instrument's options (a subset of `MetricOptions`). */
export interface MetricOptionsLike {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}

/** An OpenTelemetry observable instrument, handed back to the batch observer as it was created. */
export type ObservableLike = object;

/** What rx-kinesis needs of `BatchObservableResult`. */
export interface BatchObservableResultLike {
  observe(observable: ObservableLike, value: number, attributes?: MetricAttributesLike): void;
}

/** What rx-kinesis needs of an OpenTelemetry `Histogram`. */
export interface HistogramLike {
  record(value: number, attributes?: MetricAttributesLike): void;
}

/**
 * The part of an OpenTelemetry `Meter` (`@opentelemetry/api` ≥ 1.3) that rx-kinesis uses. Any real `Meter`
 * fits; this type only keeps the package out of rx-kinesis's own type declarations.
 *
 * @example
 * ```ts
 * import { metrics } from '@opentelemetry/api';
 * const meter: MeterLike = metrics.getMeter('my-service');
 * const kinesisMetrics = new KinesisMetrics({ openTelemetry: meter });
 * ```
 */
export interface MeterLike {
  createHistogram(name: string, options?: MetricOptionsLike): HistogramLike;
  createObservableCounter(name: string, options?: MetricOptionsLike): ObservableLike;
  createObservableUpDownCounter(name: string, options?: MetricOptionsLike): ObservableLike;
  addBatchObservableCallback(
    callback: (observableResult: BatchObservableResultLike) => void,
    observables: ObservableLike[],
  ): void;
  removeBatchObservableCallback(
    callback: (observableResult: BatchObservableResultLike) => void,
    observables: ObservableLike[],
  ): void;
}

/** Loads `@opentelemetry/api`; a function so that specs can stand in for a missing package. */
export type OpenTelemetryImporter = () => Promise<unknown>;

/**
 * The real thing: a dynamic import of a specifier computed at run time. With a literal one, esbuild (what
 * CDK's NodejsFunction bundles Lambdas with) fails the whole build with `Could not resolve
 * "@opentelemetry/api"` when the optional peer is not installed (measured); a parameter is left alone by
 * esbuild and webpack (`webpackIgnore`), and tsup's CommonJS build keeps it an `import()`, which Node's
 * CommonJS allows.
 */
export const importOpenTelemetryApi: OpenTelemetryImporter = () => importAtRunTime('@opentelemetry/api');

const importAtRunTime = (specifier: string): Promise<unknown> => import(/* webpackIgnore: true */ specifier);

/** The instrumentation scope rx-kinesis's instruments are created under with `openTelemetry: true`. */
export const METER_NAME = 'rx-kinesis';

/** Attribute keys. Stream and error follow the semantic conventions; the shard id has no convention yet. */
export const ATTR_STREAM = 'aws.kinesis.stream_name';
export const ATTR_SHARD = 'aws.kinesis.shard_id';
export const ATTR_ERROR = 'error.type';

/**
 * The global meter `rx-kinesis` from `@opentelemetry/api`, or undefined when the package cannot be loaded.
 * The global MeterProvider must be registered by then: the API hands out a no-op meter otherwise.
 */
export async function loadGlobalMeter(importer: OpenTelemetryImporter): Promise<MeterLike | undefined> {
  let api: unknown;
  try {
    api = await importer();
  } catch {
    return undefined; // not installed: publishing to OpenTelemetry is a no-op, as documented
  }
  // ESM namespace, or a CommonJS build's interop object.
  const m = api as { metrics?: ApiMetrics; default?: { metrics?: ApiMetrics } } | undefined;
  const metrics = m?.metrics ?? m?.default?.metrics;
  return typeof metrics?.getMeter === 'function' ? metrics.getMeter(METER_NAME) : undefined;
}

interface ApiMetrics {
  getMeter(name: string): MeterLike;
}

// Durations in seconds, as OpenTelemetry's conventions ask; buckets from 5 ms (a quick request) to 60 s
// (a record's TTL by default), instead of the SDK's defaults meant for milliseconds.
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const RECORDS_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500];
const RETRIES_BUCKETS = [0, 1, 2, 3, 5, 10, 20];

/**
 * One binding of a `KinesisMetrics` to a meter: the histograms that recorder calls feed, and the batch
 * callback that reads every counter at collection time. `close()` unregisters the callback so the meter no
 * longer holds the metrics (and their producers' gauges).
 */
export class OpenTelemetryPublisher {
  readonly requestDuration: HistogramLike;
  readonly requestKinesisRecords: HistogramLike;
  readonly requestUserRecords: HistogramLike;
  readonly bufferingDuration: HistogramLike;
  readonly userRecordRetries: HistogramLike;
  readonly kinesisRecordUserRecords: HistogramLike;

  private readonly observables: ObservableLike[];
  private readonly callback: (result: BatchObservableResultLike) => void;

  constructor(
    private readonly meter: MeterLike,
    streams: () => Iterable<StreamCounters>,
  ) {
    const histogram = (name: string, unit: string, description: string, buckets: number[]) =>
      meter.createHistogram(name, { unit, description, advice: { explicitBucketBoundaries: buckets } });
    this.requestDuration = histogram(
      'rx_kinesis.request.duration',
      's',
      'PutRecords request time, from send to response or error',
      SECONDS_BUCKETS,
    );
    this.requestKinesisRecords = histogram(
      'rx_kinesis.request.kinesis_records',
      '{record}',
      'Kinesis records per PutRecords request',
      RECORDS_BUCKETS,
    );
    this.requestUserRecords = histogram(
      'rx_kinesis.request.user_records',
      '{record}',
      'User records per PutRecords request',
      RECORDS_BUCKETS,
    );
    this.bufferingDuration = histogram(
      'rx_kinesis.user_record.buffering.duration',
      's',
      'Time from a user record being accepted to its first send',
      SECONDS_BUCKETS,
    );
    this.userRecordRetries = histogram(
      'rx_kinesis.user_record.retries',
      '{retry}',
      'Retries a delivered user record needed',
      RETRIES_BUCKETS,
    );
    this.kinesisRecordUserRecords = histogram(
      'rx_kinesis.kinesis_record.user_records',
      '{record}',
      'User records per delivered Kinesis record (more than 1 when aggregated)',
      RECORDS_BUCKETS,
    );

    const counter = (name: string, unit: string, description: string) =>
      meter.createObservableCounter(name, { unit, description });
    const upDown = (name: string, unit: string, description: string) =>
      meter.createObservableUpDownCounter(name, { unit, description });
    const received = counter(
      'rx_kinesis.user_records.received',
      '{record}',
      'User records accepted into a buffer',
    );
    const pending = upDown(
      'rx_kinesis.user_records.pending',
      '{record}',
      'User records accepted and not yet finally delivered or failed',
    );
    const pendingData = upDown(
      'rx_kinesis.user_records.pending_data',
      'By',
      'Bytes of the pending user records',
    );
    const put = counter('rx_kinesis.user_records.put', '{record}', 'User records delivered');
    const dataPut = counter('rx_kinesis.user_records.data_put', 'By', 'Bytes of the delivered user records');
    const failed = counter('rx_kinesis.user_records.failed', '{record}', 'User records finally failed');
    const kinesisPut = counter('rx_kinesis.kinesis_records.put', '{record}', 'Kinesis records delivered');
    const kinesisDataPut = counter(
      'rx_kinesis.kinesis_records.data_put',
      'By',
      'Bytes of the delivered Kinesis records',
    );
    const errors = counter(
      'rx_kinesis.errors',
      '{record}',
      'User records affected by an error, by error.type',
    );
    const throttles = counter('rx_kinesis.throttles', '{record}', 'User records throttled by their shard');
    const retries = counter('rx_kinesis.retries', '{record}', 'User records sent again');
    const requests = counter('rx_kinesis.requests', '{request}', 'PutRecords requests finished');
    this.observables = [
      ...[received, pending, pendingData, put, dataPut, failed, kinesisPut, kinesisDataPut],
      ...[errors, throttles, retries, requests],
    ];

    // Per shard, plus the stream's records no shard was known for (a whole request failed), without a shard
    // attribute; those are observed only once non-zero, so a healthy stream has no shard-less series.
    const observeCounts = (r: BatchObservableResultLike, c: Counts, sharded: boolean) => {
      const a = c.attributes;
      if (sharded) {
        r.observe(put, c.userRecordsPut, a);
        r.observe(dataPut, c.userRecordsDataPut, a);
        r.observe(kinesisPut, c.kinesisRecordsPut, a);
        r.observe(kinesisDataPut, c.kinesisRecordsDataPut, a);
      }
      if (sharded || c.throttles > 0) r.observe(throttles, c.throttles, a);
      if (sharded || c.retries > 0) r.observe(retries, c.retries, a);
      for (const [code, n] of c.errorsByCode) r.observe(errors, n, { ...a, [ATTR_ERROR]: code });
      for (const [code, n] of c.failedByCode) r.observe(failed, n, { ...a, [ATTR_ERROR]: code });
    };
    this.callback = (r) => {
      for (const s of streams()) {
        const a = s.total.attributes;
        const gauges = s.gauges();
        r.observe(received, s.received, a);
        r.observe(pending, gauges.pending, a);
        r.observe(pendingData, gauges.pendingBytes, a);
        r.observe(requests, s.requestTime.count, a);
        for (const shard of s.shards.values()) observeCounts(r, shard, true);
        observeCounts(r, s.unsharded, false);
      }
    };
    meter.addBatchObservableCallback(this.callback, this.observables);
  }

  /** Stops the meter reading the counters. The histograms stay, unfed. */
  close(): void {
    this.meter.removeBatchObservableCallback(this.callback, this.observables);
  }
}
